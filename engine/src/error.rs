//! The engine's error type: every failure names what is wrong and where.

use std::path::PathBuf;

/// Result alias of the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where in an input file a problem was found (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The input file.
    pub file: PathBuf,
    /// 1-based line (for CSV) or row (for Parquet, counting from the first data row).
    pub line: u64,
    /// 1-based column, when the problem is in one field.
    pub column: Option<usize>,
    /// Name of that column, when known.
    pub column_name: Option<String>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)?;
        if let Some(col) = self.column {
            write!(f, ":{col}")?;
        }
        if let Some(name) = &self.column_name {
            write!(f, " (column '{name}')")?;
        }
        Ok(())
    }
}

/// Errors of the storage engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The backend (RocksDB or sled) failed.
    #[error("storage backend error: {0}")]
    Backend(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Stored bytes do not decode: the store is damaged or was written by another version.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// A label, edge type or property that the catalog does not have.
    #[error("{0}")]
    NotFound(String),
    /// A request that contradicts the catalog (wrong type, duplicate name, ...).
    #[error("{0}")]
    Schema(String),
    /// A caller's argument is invalid.
    #[error("{0}")]
    InvalidArgument(String),
    /// Bad input data, with the place it was found.
    #[error("{location}: {message}")]
    Input {
        /// File, line and column.
        location: Box<Location>,
        /// What is wrong.
        message: String,
    },
    /// A Parquet or Arrow reader failed.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What the reader said.
        message: String,
    },
}

impl Error {
    /// Attach a file path to an I/O error.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
