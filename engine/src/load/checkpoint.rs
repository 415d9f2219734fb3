//! Edge-load checkpoints: how many rows of a file a load committed, which file that was, and a
//! digest of those rows.
//!
//! A checkpoint is stored under the edge type and a digest of the file's header and first row
//! (its *opening*), in the same transaction as each batch; so a file is found by what it holds,
//! not by its name: the same rows under another name or in another folder meet the checkpoint
//! their first load wrote. Resuming skips the rows it counts; before it does, it checks that the
//! file still begins with exactly those rows (the digest over their parsed fields), so that a
//! file replaced or edited in its loaded part is refused instead of having rows skipped that
//! were never loaded. A file fixed or extended after its loaded rows resumes. Loading a file
//! again without resuming is refused when it begins with rows already loaded, since that would
//! add them a second time as parallel edges.

use std::io::Read;
use std::path::Path;
use std::time::UNIX_EPOCH;

use twox_hash::XxHash64;

use super::{Cell, SourceRow};
use crate::catalog::Value;
use crate::error::{Error, Result};

/// Bytes at the start of a file hashed into its identity.
const HEAD_BYTES: u64 = 64 << 10;

/// Version tags of the checkpoint encodings. Version 1 is a bare row count (stored under the
/// file's path), version 2 adds the file's identity and row digest (under the path too),
/// version 3 the opening digest and the path it was loaded from (stored under the opening).
const CHECKPOINT_V2: u8 = 2;
const CHECKPOINT_V2_LEN: usize = 1 + 5 * 8;
const CHECKPOINT_V3: u8 = 3;
const CHECKPOINT_V3_FIXED_LEN: usize = 1 + 6 * 8;

/// What a file looked like when a load read it: size, modification time and a hash of its first
/// 64 KiB. Equal identities mean the same file without reading it; different ones only mean it
/// may have changed (the row digest decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileIdentity {
    pub(crate) size: u64,
    /// Nanoseconds since the Unix epoch (0 where the file system keeps no time).
    pub(crate) modified_nanos: u64,
    pub(crate) head_hash: u64,
}

impl FileIdentity {
    pub(crate) fn of(path: &Path) -> Result<FileIdentity> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let modified_nanos = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        let mut head = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(HEAD_BYTES).read_to_end(&mut head))
            .map_err(|e| Error::io(path, e))?;
        Ok(FileIdentity {
            size: meta.len(),
            modified_nanos,
            head_hash: XxHash64::oneshot(0, &head),
        })
    }
}

/// A stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    /// Data rows of the file committed.
    pub(crate) rows: u64,
    /// The file as the load that wrote this saw it (absent in checkpoints of older versions).
    pub(crate) file: Option<FileIdentity>,
    /// [`RowDigest`] of the header and the committed rows (absent in older checkpoints).
    pub(crate) digest: Option<u64>,
    /// [`RowDigest`] of the header and the first row, the key the checkpoint is found by
    /// (absent in older checkpoints, which are found by their path).
    pub(crate) opening: Option<u64>,
    /// The file's canonical path as the load that wrote this named it (older checkpoints keep
    /// it in their key).
    pub(crate) path: Option<String>,
}

impl Checkpoint {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let file = self.file.unwrap_or(FileIdentity {
            size: 0,
            modified_nanos: 0,
            head_hash: 0,
        });
        let path = self.path.as_deref().unwrap_or_default();
        let mut out = Vec::with_capacity(CHECKPOINT_V3_FIXED_LEN + path.len());
        out.push(CHECKPOINT_V3);
        for v in [
            self.rows,
            file.size,
            file.modified_nanos,
            file.head_hash,
            self.digest.unwrap_or(0),
            self.opening.unwrap_or(0),
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(path.as_bytes());
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Checkpoint> {
        if bytes.len() == 8 {
            return Ok(Checkpoint {
                rows: crate::keys::decode_u64(bytes)?,
                file: None,
                digest: None,
                opening: None,
                path: None,
            });
        }
        let well_formed = match bytes.first() {
            Some(&CHECKPOINT_V2) => bytes.len() == CHECKPOINT_V2_LEN,
            Some(&CHECKPOINT_V3) => bytes.len() >= CHECKPOINT_V3_FIXED_LEN,
            _ => false,
        };
        if !well_formed {
            return Err(Error::Corrupt(format!(
                "edge-load checkpoint of {} bytes with tag {:?}, expected {CHECKPOINT_V2_LEN} bytes with tag {CHECKPOINT_V2} or at least {CHECKPOINT_V3_FIXED_LEN} with tag {CHECKPOINT_V3}",
                bytes.len(),
                bytes.first()
            )));
        }
        let field = |i: usize| {
            let start = 1 + 8 * i;
            u64::from_be_bytes(bytes[start..start + 8].try_into().expect("8 bytes"))
        };
        let v3 = bytes[0] == CHECKPOINT_V3;
        let path = if v3 {
            let raw = &bytes[CHECKPOINT_V3_FIXED_LEN..];
            let path = std::str::from_utf8(raw).map_err(|_| {
                Error::Corrupt("edge-load checkpoint whose path is not UTF-8".into())
            })?;
            Some(path.to_string())
        } else {
            None
        };
        Ok(Checkpoint {
            rows: field(0),
            file: Some(FileIdentity {
                size: field(1),
                modified_nanos: field(2),
                head_hash: field(3),
            }),
            digest: Some(field(4)),
            opening: v3.then(|| field(5)),
            path,
        })
    }
}

/// A running hash of a file's column names and rows, as parsed. Each field is hashed with the
/// hash so far as its seed, so that field boundaries and order count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RowDigest(pub(crate) u64);

impl RowDigest {
    pub(crate) fn of_columns(columns: &[String]) -> RowDigest {
        let mut digest = RowDigest(columns.len() as u64);
        for c in columns {
            digest.fold(1, c.as_bytes());
        }
        digest
    }

    fn fold(&mut self, tag: u64, bytes: &[u8]) {
        self.0 = XxHash64::oneshot(self.0 ^ tag, bytes);
    }

    pub(crate) fn add_row(&mut self, row: &SourceRow) {
        for cell in &row.cells {
            match cell {
                Cell::Null => self.fold(0, &[]),
                Cell::Text(t) => self.fold(1, t.as_bytes()),
                Cell::Typed(v) => self.add_value(v),
            }
        }
    }

    fn add_value(&mut self, value: &Value) {
        match value {
            Value::Int(i) => self.fold(2, &i.to_le_bytes()),
            Value::Float(f) => self.fold(3, &f.to_bits().to_le_bytes()),
            Value::Bool(b) => self.fold(4, &[u8::from(*b)]),
            Value::String(s) => self.fold(5, s.as_bytes()),
            Value::Timestamp(t) => self.fold(6, &t.to_le_bytes()),
            Value::Vector(v) => {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_bits().to_le_bytes()).collect();
                self.fold(7, &bytes)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> SourceRow {
        SourceRow {
            line: 2,
            cells: cells.iter().map(|c| Cell::Text(c.to_string())).collect(),
        }
    }

    #[test]
    fn checkpoints_round_trip_and_old_ones_are_a_row_count() {
        let c = Checkpoint {
            rows: 700,
            file: Some(FileIdentity {
                size: 12_345,
                modified_nanos: 1_767_225_600_000_000_123,
                head_hash: 0xDEAD_BEEF,
            }),
            digest: Some(42),
            opening: Some(7),
            path: Some("/data/pay.csv".into()),
        };
        assert_eq!(Checkpoint::decode(&c.encode()).unwrap(), c);
        let old = Checkpoint::decode(&700u64.to_be_bytes()).unwrap();
        assert_eq!((old.rows, old.file, old.digest), (700, None, None));
        // A version-2 checkpoint: identity and digest, no opening or path.
        let mut v2 = vec![CHECKPOINT_V2];
        for v in [700u64, 12_345, 1, 0xDEAD_BEEF, 42] {
            v2.extend_from_slice(&v.to_be_bytes());
        }
        let v2 = Checkpoint::decode(&v2).unwrap();
        assert_eq!(
            (v2.rows, v2.digest, v2.opening, v2.path),
            (700, Some(42), None, None)
        );
        assert!(Checkpoint::decode(&[9; 41]).is_err());
        assert!(Checkpoint::decode(&[CHECKPOINT_V3; 20]).is_err());
        assert!(Checkpoint::decode(b"short").is_err());
    }

    #[test]
    fn the_digest_sees_field_boundaries_order_and_nulls() {
        let digest = |rows: &[SourceRow]| {
            let mut d = RowDigest::of_columns(&["a".into(), "b".into()]);
            rows.iter().for_each(|r| d.add_row(r));
            d
        };
        let base = digest(&[row(&["ab", ""]), row(&["c", "d"])]);
        assert_eq!(base, digest(&[row(&["ab", ""]), row(&["c", "d"])]));
        assert_ne!(base, digest(&[row(&["a", "b"]), row(&["c", "d"])]));
        assert_ne!(base, digest(&[row(&["c", "d"]), row(&["ab", ""])]));
        let null = SourceRow {
            line: 2,
            cells: vec![Cell::Text("ab".into()), Cell::Null],
        };
        assert_ne!(base, digest(&[null, row(&["c", "d"])]));
        let mut other_header = RowDigest::of_columns(&["a".into(), "c".into()]);
        other_header.add_row(&row(&["ab", ""]));
        other_header.add_row(&row(&["c", "d"]));
        assert_ne!(base, other_header);
    }
}
