//! The RocksDB backend: one column family per keyspace, each tuned for how it is read.
//!
//! - `adjacency`: a fixed 14-byte prefix extractor over `(label, node, edge type, direction)`
//!   with prefix bloom filters (in SST files and in the memtable), since every read of it is a
//!   range scan inside one such prefix; whole-key filtering is off there because nobody looks up
//!   one adjacency key.
//! - `key_to_id`, `nodes`, `edges`, `degree`: whole-key bloom filters (10 bits/key, ~1 % false
//!   positives), since they are read by point lookups (key resolution during loads hits many
//!   absent keys).
//! - One LRU block cache shared by all column families, with index and filter blocks charged to
//!   it (so memory stays bounded by the cache size) and L0 filters pinned.
//! - LZ4 compression, level compaction with dynamic level sizes.

use std::path::Path;
use std::sync::Arc;

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, Options,
    ReadOptions, SliceTransform, DB,
};

use super::{Backend, Durability, KvIter, Op, ReadView, StoreOptions, WriteBatch};
use crate::error::{Error, Result};
use crate::keys::{decode_counter, encode_counter, prefix_successor, Keyspace, ADJ_PREFIX_LEN};

type RocksSnapshot<'a> = rocksdb::SnapshotWithThreadMode<'a, DB>;

self_cell::self_cell!(
    /// A RocksDB snapshot that owns a handle on its database, so it can outlive the borrow.
    struct OwnedSnapshot {
        owner: Arc<DB>,
        #[covariant]
        dependent: RocksSnapshot,
    }
);

/// The RocksDB backend.
pub struct RocksBackend {
    db: Arc<DB>,
    path: std::path::PathBuf,
}

fn backend_err(e: rocksdb::Error) -> Error {
    Error::Backend(e.into_string())
}

fn cf_options(ks: Keyspace, cache: &Cache, opts: &StoreOptions) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    table.set_bloom_filter(10.0, false);
    table.set_format_version(5);
    let mut cf = Options::default();
    cf.set_compression_type(DBCompressionType::Lz4);
    cf.set_level_compaction_dynamic_level_bytes(true);
    cf.set_write_buffer_size(opts.write_buffer_bytes);
    if matches!(ks, Keyspace::Degree | Keyspace::Meta) {
        cf.set_merge_operator_associative("argus_counter_add", add_counters);
    }
    if ks == Keyspace::Adjacency {
        cf.set_prefix_extractor(SliceTransform::create_fixed_prefix(ADJ_PREFIX_LEN));
        cf.set_memtable_prefix_bloom_ratio(0.1);
        table.set_whole_key_filtering(false);
    }
    cf.set_block_based_table_factory(&table);
    cf
}

/// Merge operator of counters: the sum of the existing value and every operand, all 8-byte
/// big-endian `i64`. A malformed operand is treated as 0 rather than failing the whole read.
fn add_counters(
    _key: &[u8],
    existing: Option<&[u8]>,
    operands: &rocksdb::MergeOperands,
) -> Option<Vec<u8>> {
    let parse = |b: &[u8]| decode_counter(b).unwrap_or(0);
    let mut total = existing.map(parse).unwrap_or(0);
    for op in operands {
        total = total.wrapping_add(parse(op));
    }
    Some(encode_counter(total).to_vec())
}

fn read_options_for(lower: &[u8], upper: &[u8], reverse: bool) -> ReadOptions {
    let mut ro = ReadOptions::default();
    ro.set_iterate_lower_bound(lower.to_vec());
    ro.set_iterate_upper_bound(upper.to_vec());
    // Prefix mode (and so the prefix bloom filter) is only safe when the whole scan stays inside
    // one adjacency prefix; every other scan must see keys in total order.
    let in_one_prefix = !reverse
        && lower.first() == Some(&Keyspace::Adjacency.prefix())
        && lower.len() >= ADJ_PREFIX_LEN
        && upper <= prefix_successor(&lower[..ADJ_PREFIX_LEN]).as_slice();
    if in_one_prefix {
        ro.set_prefix_same_as_start(true);
    } else {
        ro.set_total_order_seek(true);
    }
    ro
}

impl RocksBackend {
    /// Open or create the database in `dir`.
    pub fn open(dir: &Path, options: &StoreOptions) -> Result<RocksBackend> {
        let cache = Cache::new_lru_cache(options.block_cache_bytes);
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.increase_parallelism(2);
        db_opts.set_max_background_jobs(2);
        db_opts.set_bytes_per_sync(1 << 20);
        let mut descriptors = vec![ColumnFamilyDescriptor::new("default", Options::default())];
        for ks in Keyspace::ALL {
            descriptors.push(ColumnFamilyDescriptor::new(
                ks.name(),
                cf_options(ks, &cache, options),
            ));
        }
        let db = DB::open_cf_descriptors(&db_opts, dir, descriptors).map_err(|e| {
            let msg = e.into_string();
            if msg.contains("lock") {
                Error::Backend(format!(
                    "{}: the data directory is in use by another process ({msg})",
                    dir.display()
                ))
            } else {
                Error::Backend(format!("{}: {msg}", dir.display()))
            }
        })?;
        Ok(RocksBackend {
            db: Arc::new(db),
            path: dir.to_path_buf(),
        })
    }
}

fn cf<'a>(db: &'a DB, key: &[u8]) -> Result<&'a ColumnFamily> {
    let ks = Keyspace::of_key(key)?;
    db.cf_handle(ks.name())
        .ok_or_else(|| Error::Corrupt(format!("missing column family {}", ks.name())))
}

fn iterate<'a>(raw: rocksdb::DBRawIteratorWithThreadMode<'a, DB>, reverse: bool) -> KvIter<'a> {
    let mut raw = raw;
    if reverse {
        raw.seek_to_last();
    } else {
        raw.seek_to_first();
    }
    let mut done = false;
    Box::new(std::iter::from_fn(move || {
        if done {
            return None;
        }
        if !raw.valid() {
            done = true;
            return raw.status().err().map(|e| Err(backend_err(e)));
        }
        let item = (
            Box::from(raw.key().expect("valid")),
            Box::from(raw.value().expect("valid")),
        );
        if reverse {
            raw.prev();
        } else {
            raw.next();
        }
        Some(Ok(item))
    }))
}

impl ReadView for RocksBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db.get_cf(cf(&self.db, key)?, key).map_err(backend_err)
    }

    fn scan<'a>(&'a self, lower: &[u8], upper: &[u8], reverse: bool) -> KvIter<'a> {
        let handle = match cf(&self.db, lower) {
            Ok(h) => h,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let raw = self
            .db
            .raw_iterator_cf_opt(handle, read_options_for(lower, upper, reverse));
        iterate(raw, reverse)
    }
}

struct RocksSnapshotView(OwnedSnapshot);

impl ReadView for RocksSnapshotView {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let db = self.0.borrow_owner();
        let handle = cf(db, key)?;
        self.0
            .borrow_dependent()
            .get_cf(handle, key)
            .map_err(backend_err)
    }

    fn scan<'a>(&'a self, lower: &[u8], upper: &[u8], reverse: bool) -> KvIter<'a> {
        let db = self.0.borrow_owner();
        let handle = match cf(db, lower) {
            Ok(h) => h,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let raw = self
            .0
            .borrow_dependent()
            .raw_iterator_cf_opt(handle, read_options_for(lower, upper, reverse));
        iterate(raw, reverse)
    }
}

impl Backend for RocksBackend {
    fn name(&self) -> &'static str {
        "rocksdb"
    }

    fn write(&self, batch: WriteBatch, durability: Durability) -> Result<()> {
        // Handles looked up once per batch, not per key; the batch buffer sized up front (key,
        // value and ~8 bytes of framing per operation) so it is never regrown.
        let mut handles = Vec::with_capacity(Keyspace::ALL.len());
        for ks in Keyspace::ALL {
            let handle = self
                .db
                .cf_handle(ks.name())
                .ok_or_else(|| Error::Corrupt(format!("missing column family {}", ks.name())))?;
            handles.push((ks.prefix(), handle));
        }
        let handle = |key: &[u8]| -> Result<&ColumnFamily> {
            let first = key.first().copied();
            handles
                .iter()
                .find(|(prefix, _)| Some(*prefix) == first)
                .map(|(_, h)| *h)
                .ok_or_else(|| Error::Corrupt(format!("key with unknown keyspace: {key:02x?}")))
        };
        // RocksDB's record adds a tag, a column family id and two lengths to each operation.
        let mut wb =
            rocksdb::WriteBatch::with_capacity_bytes(batch.byte_len() + 16 * batch.len() + 64);
        for op in batch.iter() {
            match op {
                Op::Put(k, v) => wb.put_cf(handle(k)?, k, v),
                Op::Delete(k) => wb.delete_cf(handle(k)?, k),
                Op::Add(k, delta) => wb.merge_cf(handle(k)?, k, encode_counter(delta)),
            }
        }
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(durability == Durability::Sync);
        self.db.write_opt(wb, &wo).map_err(backend_err)
    }

    fn snapshot(&self) -> Arc<dyn ReadView> {
        Arc::new(RocksSnapshotView(OwnedSnapshot::new(
            self.db.clone(),
            |db| db.snapshot(),
        )))
    }

    fn flush(&self) -> Result<()> {
        self.db.flush_wal(true).map_err(backend_err)?;
        for ks in Keyspace::ALL {
            if let Some(h) = self.db.cf_handle(ks.name()) {
                self.db.flush_cf(h).map_err(backend_err)?;
            }
        }
        Ok(())
    }

    fn disk_usage(&self) -> u64 {
        dir_size(&self.path)
    }
}

/// Total size of the files under `dir`.
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
