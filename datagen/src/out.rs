//! A minimal CSV row writer: every value this crate emits is generated here and never needs
//! quoting, so rows are formatted straight into one reused byte buffer without per-row
//! allocation, which keeps multi-million-row files fast.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{GenError, Progress};

/// Flush threshold of the row buffer.
const FLUSH_AT: usize = 1 << 20;

/// Rows between two progress reports on the large files.
pub(crate) const PROGRESS_EVERY: u64 = 100_000;

pub(crate) struct CsvOut {
    name: &'static str,
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
    rows: u64,
}

impl CsvOut {
    /// Creates (truncates) `dir/name` and queues the header row.
    pub(crate) fn create(dir: &Path, name: &'static str, header: &str) -> Result<Self, GenError> {
        let path = dir.join(name);
        let file = File::create(&path).map_err(|source| GenError::Io {
            path: path.clone(),
            source,
        })?;
        let mut buf = Vec::with_capacity(FLUSH_AT + 4096);
        buf.extend_from_slice(header.as_bytes());
        buf.push(b'\n');
        Ok(Self {
            name,
            path,
            file,
            buf,
            rows: 0,
        })
    }

    /// Field separator.
    #[inline]
    pub(crate) fn c(&mut self) -> &mut Self {
        self.buf.push(b',');
        self
    }

    #[inline]
    pub(crate) fn text(&mut self, s: &str) -> &mut Self {
        debug_assert!(
            !s.contains([',', '"', '\n']),
            "field would need quoting: {s}"
        );
        self.buf.extend_from_slice(s.as_bytes());
        self
    }

    #[inline]
    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        push_u64(&mut self.buf, v);
        self
    }

    #[inline]
    pub(crate) fn i64(&mut self, v: i64) -> &mut Self {
        if v < 0 {
            self.buf.push(b'-');
        }
        push_u64(&mut self.buf, v.unsigned_abs());
        self
    }

    /// A money amount given in cents, written with exactly two decimals.
    #[inline]
    pub(crate) fn cents(&mut self, cents: u64) -> &mut Self {
        push_u64(&mut self.buf, cents / 100);
        let c = (cents % 100) as u8;
        self.buf
            .extend_from_slice(&[b'.', b'0' + c / 10, b'0' + c % 10]);
        self
    }

    /// A dotted IPv4 address.
    #[inline]
    pub(crate) fn ip(&mut self, ip: u32) -> &mut Self {
        let o = ip.to_be_bytes();
        for (i, b) in o.iter().enumerate() {
            if i > 0 {
                self.buf.push(b'.');
            }
            push_u64(&mut self.buf, u64::from(*b));
        }
        self
    }

    /// Ends the current row, flushing the buffer when it is full.
    #[inline]
    pub(crate) fn end_row(&mut self) -> Result<(), GenError> {
        self.buf.push(b'\n');
        self.rows += 1;
        if self.buf.len() >= FLUSH_AT {
            self.flush_buf()?;
        }
        Ok(())
    }

    /// Reports progress every [`PROGRESS_EVERY`] rows.
    #[inline]
    pub(crate) fn tick(&self, phase: &'static str, total: u64, progress: &mut dyn FnMut(Progress)) {
        if self.rows.is_multiple_of(PROGRESS_EVERY) {
            progress(Progress {
                phase,
                done: self.rows,
                total,
            });
        }
    }

    fn flush_buf(&mut self) -> Result<(), GenError> {
        self.file
            .write_all(&self.buf)
            .map_err(|source| GenError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.buf.clear();
        Ok(())
    }

    /// Writes what is buffered and returns the file name and its number of data rows.
    pub(crate) fn finish(mut self) -> Result<(String, u64), GenError> {
        self.flush_buf()?;
        self.file.flush().map_err(|source| GenError::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok((self.name.to_string(), self.rows))
    }
}

/// Appends the decimal digits of `v`.
#[inline]
pub(crate) fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_like_display() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = CsvOut::create(dir.path(), "x.csv", "a,b,c,d,e").unwrap();
        w.u64(0)
            .c()
            .i64(-42)
            .c()
            .cents(5)
            .c()
            .cents(123_456)
            .c()
            .ip(0x0A00_01FF);
        w.end_row().unwrap();
        w.u64(u64::MAX)
            .c()
            .i64(i64::MIN)
            .c()
            .cents(100)
            .c()
            .text("x")
            .c()
            .ip(0);
        w.end_row().unwrap();
        let (name, rows) = w.finish().unwrap();
        assert_eq!((name.as_str(), rows), ("x.csv", 2));
        let text = std::fs::read_to_string(dir.path().join("x.csv")).unwrap();
        assert_eq!(
            text,
            format!(
                "a,b,c,d,e\n0,-42,0.05,1234.56,10.0.1.255\n{},{},1.00,x,0.0.0.0\n",
                u64::MAX,
                i64::MIN
            )
        );
    }
}
