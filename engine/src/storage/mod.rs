//! The storage trait: an ordered key-value store with atomic batches and snapshots.
//!
//! Nothing here knows RocksDB or sled; each backend lives in its own module and is checked by
//! the same conformance suite (`tests/conformance.rs`). Every key starts with its keyspace's
//! prefix byte (see [`crate::keys`]), so a backend can route a key to a column family or tree
//! from its first byte.

use std::path::Path;
use std::sync::Arc;

use crate::error::Result;

pub mod rocks;
#[cfg(feature = "sled")]
pub mod sled;

/// How hard a commit tries to reach the disk before it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// The write-ahead log is synced to disk before the commit returns: survives power loss.
    #[default]
    Sync,
    /// The log is written but not synced: survives a killed process, not a lost machine.
    Buffered,
}

/// One operation of a batch, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op<'a> {
    /// Insert or overwrite a key.
    Put(&'a [u8], &'a [u8]),
    /// Remove a key (absent keys are fine).
    Delete(&'a [u8]),
    /// Add a signed delta to a counter (an absent key counts as 0). Counters are stored as
    /// 8-byte big-endian `i64` ([`crate::keys::encode_counter`]). Backends apply this without a
    /// read on the write path where they can (RocksDB: a merge operator), so that degree counts
    /// cost no lookups during bulk loads.
    Add(&'a [u8], i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Put,
    /// A put of a key that cannot exist yet (see [`WriteBatch::put_fresh`]).
    FreshPut,
    Delete,
    Add,
}

/// Where one operation's key and value lie in the batch's byte buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PackedOp {
    kind: OpKind,
    start: usize,
    key_len: u32,
    value_len: u32,
}

/// Operations applied all together or not at all.
///
/// Keys and values are packed into one buffer rather than owned one by one: a bulk-load batch
/// holds hundreds of thousands of them, and is built on one thread and dropped on another, where
/// freeing each small allocation would cost more than copying it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    bytes: Vec<u8>,
    ops: Vec<PackedOp>,
    fresh: usize,
}

impl WriteBatch {
    /// An empty batch with room for `ops` operations and `bytes` bytes of keys and values.
    pub fn with_capacity(ops: usize, bytes: usize) -> WriteBatch {
        WriteBatch {
            bytes: Vec::with_capacity(bytes),
            ops: Vec::with_capacity(ops),
            fresh: 0,
        }
    }

    fn push(&mut self, kind: OpKind, key: &[u8], value: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(key);
        self.bytes.extend_from_slice(value);
        self.ops.push(PackedOp {
            kind,
            start,
            key_len: u32::try_from(key.len()).expect("key under 4 GiB"),
            value_len: u32::try_from(value.len()).expect("value under 4 GiB"),
        });
    }

    /// Queue a put.
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.push(OpKind::Put, key.as_ref(), value.as_ref());
    }
    /// Queue a put of a key that no committed state holds and no other operation of this batch
    /// touches: the record or adjacency entry of a newly allocated id. A backend may write such
    /// puts as sorted files and link them into the store instead of passing them through its
    /// log and memtable (RocksDB does for large batches); to every reader it is a put.
    pub fn put_fresh(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.push(OpKind::FreshPut, key.as_ref(), value.as_ref());
        self.fresh += 1;
    }
    /// Queue a counter increment (see [`Op::Add`]).
    pub fn add(&mut self, key: impl AsRef<[u8]>, delta: i64) {
        self.push(OpKind::Add, key.as_ref(), &delta.to_be_bytes());
    }
    /// Queue a delete.
    pub fn delete(&mut self, key: impl AsRef<[u8]>) {
        self.push(OpKind::Delete, key.as_ref(), &[]);
    }
    /// Empty the batch, keeping its buffers: a writer that commits batch after batch refills
    /// the same pages instead of having new ones zeroed for each.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ops.clear();
        self.fresh = 0;
    }
    /// Make room for `ops` more operations and `bytes` more bytes of keys and values.
    pub fn reserve(&mut self, ops: usize, bytes: usize) {
        self.ops.reserve(ops);
        self.bytes.reserve(bytes);
    }
    /// Number of queued operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }
    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
    /// Number of queued [`put_fresh`](Self::put_fresh) operations.
    pub fn fresh_len(&self) -> usize {
        self.fresh
    }
    /// Bytes of keys and values queued.
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }
    /// The operations, in the order they are applied (fresh puts are puts).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Op<'_>> + '_ {
        self.iter_marked().map(|(op, _)| op)
    }
    /// The operations with whether each is a fresh put.
    pub fn iter_marked(&self) -> impl ExactSizeIterator<Item = (Op<'_>, bool)> + '_ {
        self.iter_marked_in(0..self.ops.len())
    }
    /// [`WriteBatch::iter_marked`] for the operations at positions `range` only.
    pub fn iter_marked_in(
        &self,
        range: std::ops::Range<usize>,
    ) -> impl ExactSizeIterator<Item = (Op<'_>, bool)> + '_ {
        self.ops[range].iter().map(|op| {
            let key_end = op.start + op.key_len as usize;
            let key = &self.bytes[op.start..key_end];
            let value = &self.bytes[key_end..key_end + op.value_len as usize];
            match op.kind {
                OpKind::Put => (Op::Put(key, value), false),
                OpKind::FreshPut => (Op::Put(key, value), true),
                OpKind::Delete => (Op::Delete(key), false),
                OpKind::Add => (
                    Op::Add(
                        key,
                        i64::from_be_bytes(value.try_into().expect("8-byte delta")),
                    ),
                    false,
                ),
            }
        })
    }
}

/// A key and its value from a scan.
pub type KvPair = (Box<[u8]>, Box<[u8]>);
/// Iterator over a key range.
pub type KvIter<'a> = Box<dyn Iterator<Item = Result<KvPair>> + 'a>;
/// What [`ReadView::scan_each`] calls with each key and value; `false` stops the scan.
pub type KvVisit<'v> = dyn FnMut(&[u8], &[u8]) -> Result<bool> + 'v;

/// Reads: the live store or a snapshot of it.
pub trait ReadView: Send + Sync {
    /// The value of a key.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Keys in `[lower, upper)`, ascending, or descending when `reverse`. Both bounds lie in the
    /// same keyspace.
    fn scan<'a>(&'a self, lower: &[u8], upper: &[u8], reverse: bool) -> KvIter<'a>;

    /// Visit the keys in `[lower, upper)` in ascending order with their values, borrowed from
    /// the backend rather than copied, until `visit` returns `false`. The same entries as an
    /// ascending [`ReadView::scan`]; backends that can lend their buffers override this, for
    /// long scans whose entries are consumed on the spot.
    fn scan_each(&self, lower: &[u8], upper: &[u8], visit: &mut KvVisit<'_>) -> Result<()> {
        for pair in self.scan(lower, upper, false) {
            let (key, value) = pair?;
            if !visit(&key, &value)? {
                break;
            }
        }
        Ok(())
    }
}

/// A storage backend.
pub trait Backend: ReadView {
    /// Short name (`rocksdb`, `sled`).
    fn name(&self) -> &'static str;

    /// Apply a batch atomically: after a crash either every operation is there or none is.
    fn write(&self, batch: &WriteBatch, durability: Durability) -> Result<()>;

    /// A consistent, point-in-time view that later writes do not change.
    fn snapshot(&self) -> Arc<dyn ReadView>;

    /// A follower (see [`rocks::RocksBackend::open_follower`]) reads what the owning process
    /// committed since the last call; returns whether anything changed. Others return `false`.
    fn catch_up(&self) -> Result<bool> {
        Ok(false)
    }

    /// Persist everything written so far (memtables and logs).
    fn flush(&self) -> Result<()>;

    /// Wait until the background work that earlier writes started (compaction) has finished.
    /// Backends without background work return at once.
    fn wait_for_background_work(&self) -> Result<()> {
        Ok(())
    }

    /// Rough on-disk size in bytes, for `argus stats`.
    fn disk_usage(&self) -> u64;
}

/// Which backend a data directory uses; recorded in the directory at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendKind {
    /// RocksDB (the default).
    #[default]
    RocksDb,
    /// sled (pure Rust; needs the `sled` cargo feature).
    Sled,
}

impl BackendKind {
    /// Name as written in the directory marker and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::RocksDb => "rocksdb",
            BackendKind::Sled => "sled",
        }
    }

    /// Parse a backend name.
    pub fn parse(name: &str) -> Result<BackendKind> {
        match name.trim() {
            "rocksdb" => Ok(BackendKind::RocksDb),
            "sled" => Ok(BackendKind::Sled),
            other => Err(crate::Error::InvalidArgument(format!(
                "unknown storage backend '{other}': expected rocksdb or sled"
            ))),
        }
    }
}

/// Open (creating if needed) a backend of the given kind in `dir`.
pub fn open_backend(
    kind: BackendKind,
    dir: &Path,
    options: &StoreOptions,
) -> Result<Arc<dyn Backend>> {
    match kind {
        BackendKind::RocksDb => Ok(Arc::new(rocks::RocksBackend::open(dir, options)?)),
        #[cfg(feature = "sled")]
        BackendKind::Sled => Ok(Arc::new(sled::SledBackend::open(dir)?)),
        #[cfg(not(feature = "sled"))]
        BackendKind::Sled => Err(crate::Error::InvalidArgument(
            "this build of Argus has no sled backend: rebuild with the 'sled' cargo feature".into(),
        )),
    }
}

/// Tuning of a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Shared block cache for all column families, in bytes.
    pub block_cache_bytes: usize,
    /// Memtable size per column family, in bytes.
    pub write_buffer_bytes: usize,
    /// Default durability of commits.
    pub durability: Durability,
    /// Memory for in-memory copies of whole tables used by analytical scans
    /// (see [`crate::table_cache`]); 0 disables them.
    pub table_cache_bytes: usize,
    /// A batch with at least this many fresh puts ([`WriteBatch::put_fresh`]: a bulk load's new
    /// edges) writes them as sorted files linked into the store rather than through the log and
    /// memtable (RocksDB only; `usize::MAX` never does). Below it, the fixed cost of linking
    /// files (syncs, a manifest write) outweighs what it saves.
    pub ingest_min_fresh: usize,
    /// Called before each attempt to link one of a bulk commit's table files. Only tests set
    /// it: to make a link fail for real (by moving the file away) or to stop a process between
    /// two links.
    #[doc(hidden)]
    pub before_link: Option<LinkHook>,
}

/// See [`StoreOptions::before_link`]: called with the table file about to be linked and its
/// position among its commit's files (0 for the first).
#[derive(Clone)]
pub struct LinkHook(pub Arc<LinkHookFn>);

/// The function a [`LinkHook`] calls.
pub type LinkHookFn = dyn Fn(&Path, usize) + Send + Sync;

impl std::fmt::Debug for LinkHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkHook")
    }
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            block_cache_bytes: 256 << 20,
            write_buffer_bytes: 64 << 20,
            durability: Durability::Sync,
            table_cache_bytes: 1 << 30,
            ingest_min_fresh: 50_000,
            before_link: None,
        }
    }
}
