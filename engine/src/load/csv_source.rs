//! CSV rows: any one-byte delimiter, optional header, quoted fields, UTF-8 or Latin-1.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{Cell, RowSource, SourceRow};
use crate::catalog::PropType;
use crate::error::{Error, Location, Result};

/// Text encoding of a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextEncoding {
    /// UTF-8 (the default); invalid bytes are an error naming the field.
    #[default]
    Utf8,
    /// ISO-8859-1: every byte is the code point of the same value.
    Latin1,
}

impl TextEncoding {
    /// Parse `utf8`/`utf-8` or `latin1`/`iso-8859-1`.
    pub fn parse(name: &str) -> Result<TextEncoding> {
        match name.to_ascii_lowercase().as_str() {
            "utf8" | "utf-8" => Ok(TextEncoding::Utf8),
            "latin1" | "latin-1" | "iso-8859-1" | "iso8859-1" => Ok(TextEncoding::Latin1),
            other => Err(Error::InvalidArgument(format!(
                "unknown encoding '{other}': expected utf8 or latin1"
            ))),
        }
    }
}

/// CSV dialect.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// Field delimiter.
    pub delimiter: u8,
    /// First line names the columns; without it columns are named `0`, `1`, ...
    pub has_header: bool,
    /// Text encoding.
    pub encoding: TextEncoding,
    /// Names for the columns of a file without a header (one per column), instead of `0`,
    /// `1`, ...
    pub column_names: Option<Vec<String>>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: b',',
            has_header: true,
            encoding: TextEncoding::Utf8,
            column_names: None,
        }
    }
}

/// Counts bytes as the CSV parser pulls them, for progress.
struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

pub(crate) struct CsvSource {
    path: PathBuf,
    reader: csv::Reader<CountingReader<BufReader<File>>>,
    columns: Vec<String>,
    encoding: TextEncoding,
    record: csv::ByteRecord,
    /// Without a header the first line is data, read while finding the column count.
    first: Option<csv::ByteRecord>,
    bytes_read: Arc<AtomicU64>,
    total_bytes: u64,
}

fn decode(bytes: &[u8], encoding: TextEncoding) -> std::result::Result<String, usize> {
    match encoding {
        TextEncoding::Utf8 => std::str::from_utf8(bytes)
            .map(str::to_string)
            .map_err(|e| e.valid_up_to()),
        TextEncoding::Latin1 => Ok(bytes.iter().map(|&b| b as char).collect()),
    }
}

impl CsvSource {
    pub(crate) fn open(path: &Path, options: &CsvOptions) -> Result<CsvSource> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let total_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        let bytes_read = Arc::new(AtomicU64::new(0));
        let counting = CountingReader {
            inner: BufReader::with_capacity(1 << 20, file),
            count: bytes_read.clone(),
        };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(options.delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(counting);
        let mut record = csv::ByteRecord::new();
        let mut columns = Vec::new();
        let mut first_row = None;
        let has_first = reader
            .read_byte_record(&mut record)
            .map_err(|e| csv_error(path, e))?;
        if has_first {
            if options.has_header {
                for (i, field) in record.iter().enumerate() {
                    let name = decode(field, options.encoding).map_err(|_| Error::Input {
                        location: Box::new(Location {
                            file: path.to_path_buf(),
                            line: 1,
                            column: Some(i + 1),
                            column_name: None,
                        }),
                        message:
                            "header is not valid UTF-8 (pass --encoding latin1 for Latin-1 files)"
                                .into(),
                    })?;
                    let name = name.trim_start_matches('\u{feff}').trim().to_string();
                    if columns.contains(&name) {
                        return Err(Error::Input {
                            location: Box::new(Location {
                                file: path.to_path_buf(),
                                line: 1,
                                column: Some(i + 1),
                                column_name: Some(name.clone()),
                            }),
                            message: format!("duplicate column name '{name}'"),
                        });
                    }
                    columns.push(name);
                }
            } else {
                columns = match &options.column_names {
                    Some(names) => {
                        if names.len() != record.len() {
                            return Err(Error::Input {
                                location: Box::new(Location {
                                    file: path.to_path_buf(),
                                    line: 1,
                                    column: None,
                                    column_name: None,
                                }),
                                message: format!(
                                    "the first line has {} columns but {} column names were given",
                                    record.len(),
                                    names.len()
                                ),
                            });
                        }
                        if let Some(d) = names
                            .iter()
                            .enumerate()
                            .find_map(|(i, n)| names[..i].contains(n).then_some(n))
                        {
                            return Err(Error::InvalidArgument(format!(
                                "column name '{d}' is given twice"
                            )));
                        }
                        names.clone()
                    }
                    None => (0..record.len()).map(|i| i.to_string()).collect(),
                };
                first_row = Some(record.clone());
            }
        }
        Ok(CsvSource {
            path: path.to_path_buf(),
            reader,
            columns,
            encoding: options.encoding,
            record: csv::ByteRecord::new(),
            first: first_row,
            bytes_read,
            total_bytes,
        })
    }
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::io(path, io),
        other => Error::Input {
            location: Box::new(Location {
                file: path.to_path_buf(),
                line,
                column: None,
                column_name: None,
            }),
            message: format!("malformed CSV: {other:?}"),
        },
    }
}

impl RowSource for CsvSource {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn known_types(&self) -> Vec<Option<PropType>> {
        vec![None; self.columns.len()]
    }

    fn next_row(&mut self) -> Result<Option<SourceRow>> {
        // A lone empty field (an empty line, or `""`) is skipped, like most CSV readers do. Skipped
        // in a loop: a file may hold millions of such lines in a row.
        let (record, line) = loop {
            let (record, line) = match self.first.take() {
                Some(r) => (r, 1),
                None => {
                    if !self
                        .reader
                        .read_byte_record(&mut self.record)
                        .map_err(|e| csv_error(&self.path, e))?
                    {
                        return Ok(None);
                    }
                    let line = self.record.position().map(|p| p.line()).unwrap_or(0);
                    (std::mem::take(&mut self.record), line)
                }
            };
            let lone_empty_field = record.len() == 1 && record[0].is_empty();
            if !(lone_empty_field && self.columns.len() != 1) {
                break (record, line);
            }
            self.record = record;
        };
        if record.len() != self.columns.len() {
            return Err(Error::Input {
                location: Box::new(Location {
                    file: self.path.clone(),
                    line,
                    column: None,
                    column_name: None,
                }),
                message: format!(
                    "expected {} fields, found {}",
                    self.columns.len(),
                    record.len()
                ),
            });
        }
        let mut cells = Vec::with_capacity(record.len());
        for (i, field) in record.iter().enumerate() {
            if field.is_empty() {
                cells.push(Cell::Null);
                continue;
            }
            let text = decode(field, self.encoding).map_err(|valid| Error::Input {
                location: Box::new(Location {
                    file: self.path.clone(),
                    line,
                    column: Some(i + 1),
                    column_name: self.columns.get(i).cloned(),
                }),
                message: format!(
                    "invalid UTF-8 after byte {valid} of the field (pass --encoding latin1 for Latin-1 files)"
                ),
            })?;
            cells.push(Cell::Text(text));
        }
        self.record = record;
        Ok(Some(SourceRow { line, cells }))
    }

    fn progress(&self) -> (u64, u64) {
        (self.bytes_read.load(Ordering::Relaxed), self.total_bytes)
    }

    fn path(&self) -> &Path {
        &self.path
    }
}
