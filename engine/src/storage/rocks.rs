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
//!
//! A batch with many fresh puts (a bulk load's new edges, see [`WriteBatch::put_fresh`]) skips
//! the write-ahead log and memtable for them: they are written as sorted table files into
//! `ingest/` and linked into their column families. To keep the batch atomic, the rest of the
//! batch is committed together with a `pending_ingest` meta entry naming those files, and the
//! entry is deleted once every file is linked; opening a store links whatever files an
//! interrupted commit left named there. Linking is idempotent (the files hold puts of keys no
//! other write touches), so a file linked twice after a crash changes nothing.
//!
//! A link that fails in a running process is retried a few times. If it still fails, the rest
//! of the batch is already committed without all of its files, so the backend marks itself
//! failed: every later read and write of this handle returns an error saying so (a later bulk
//! commit must not replace the `pending_ingest` entry, and readers must not see degree counters
//! of edges that are missing). Opening the store again links the remaining files.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType,
    IngestExternalFileOptions, Options, ReadOptions, SliceTransform, SstFileWriter, DB,
};

use super::{
    Backend, Durability, KvIter, KvVisit, LinkHook, Op, ReadView, StoreOptions, WriteBatch,
};
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
    path: PathBuf,
    /// The options of the table files an ingesting commit writes for each keyspace: its
    /// column family's, except that `adjacency` files are not compressed. They land in level 0
    /// overlapping every earlier batch's file, so compaction soon reads and rewrites them, and
    /// compresses them then.
    table_file_options: Vec<(Keyspace, Options)>,
    ingest_min_fresh: usize,
    /// Numbers the table files of ingesting commits.
    next_file: AtomicU64,
    /// Held for writing while an ingesting commit links its files, so that no snapshot sees
    /// part of that batch.
    linking: RwLock<()>,
    /// Set once a committed batch's files could not all be linked (see the module
    /// documentation); `failure` then says why.
    failed: AtomicBool,
    failure: Mutex<String>,
    before_link: Option<LinkHook>,
    /// A read-only follower of another process's store (RocksDB's secondary instance): it
    /// refuses writes and sees new commits after [`Backend::catch_up`].
    follower: bool,
}

/// Attempts at linking one table file before the commit gives up, and the pause before the
/// first retry (doubled before each further one): enough to ride out a short-lived failure
/// such as a full disk that a compaction is about to free.
const LINK_ATTEMPTS: u32 = 3;
const LINK_RETRY_PAUSE: Duration = Duration::from_millis(100);

/// Where ingesting commits write their table files, inside the store's directory (hard links
/// into the store need the same file system).
const STAGING_DIR: &str = "ingest";

fn pending_ingest_key() -> Vec<u8> {
    crate::keys::meta_key(b"pending_ingest")
}

/// The `pending_ingest` value: one `column family \t file name` line per file still to link.
fn encode_pending(files: &[(Keyspace, String)]) -> Vec<u8> {
    let mut out = String::new();
    for (ks, name) in files {
        out.push_str(ks.name());
        out.push('\t');
        out.push_str(name);
        out.push('\n');
    }
    out.into_bytes()
}

fn decode_pending(bytes: &[u8]) -> Result<Vec<(Keyspace, String)>> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Error::Corrupt("pending_ingest entry is not UTF-8".into()))?;
    text.lines()
        .map(|line| {
            let (cf, name) = line.split_once('\t').ok_or_else(|| {
                Error::Corrupt(format!(
                    "pending_ingest entry has a malformed line '{line}'"
                ))
            })?;
            let ks = Keyspace::ALL
                .into_iter()
                .find(|ks| ks.name() == cf)
                .ok_or_else(|| {
                    Error::Corrupt(format!("pending_ingest names unknown column family '{cf}'"))
                })?;
            Ok((ks, name.to_string()))
        })
        .collect()
}

/// Make the directory's entries (new files, removals) durable.
fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::Backend(format!("{}: {e}", dir.display())))
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

/// Each keyspace's column family options, sharing one block cache.
fn keyspace_options(options: &StoreOptions) -> Vec<(Keyspace, Options)> {
    let cache = Cache::new_lru_cache(options.block_cache_bytes);
    Keyspace::ALL
        .into_iter()
        .map(|ks| (ks, cf_options(ks, &cache, options)))
        .collect()
}

/// The column families to open: the default one and one per keyspace.
fn descriptors(cf_options: &[(Keyspace, Options)]) -> Vec<ColumnFamilyDescriptor> {
    let mut out = vec![ColumnFamilyDescriptor::new("default", Options::default())];
    for (ks, cf) in cf_options {
        out.push(ColumnFamilyDescriptor::new(ks.name(), cf.clone()));
    }
    out
}

impl RocksBackend {
    /// Open the store in `dir` as a read-only follower of the process that has it open for
    /// writing: RocksDB's secondary instance, keeping its own log files in `follower_dir`.
    /// Nothing is repaired or created in `dir`.
    pub fn open_follower(
        dir: &Path,
        follower_dir: &Path,
        options: &StoreOptions,
    ) -> Result<RocksBackend> {
        let cf_options = keyspace_options(options);
        let mut db_opts = Options::default();
        // A secondary instance must keep every table file open: the primary may delete files
        // the secondary still reads until its next catch-up.
        db_opts.set_max_open_files(-1);
        // Each catch-up loads the handlers of new table files; with the default 16 opening
        // threads it starts (and ends) that many threads every time, which costs milliseconds
        // per call in a process that catches up before every read.
        db_opts.set_max_file_opening_threads(1);
        let descriptors = descriptors(&cf_options);
        std::fs::create_dir_all(follower_dir).map_err(|e| Error::io(follower_dir, e))?;
        let db = DB::open_cf_descriptors_as_secondary(&db_opts, dir, follower_dir, descriptors)
            .map_err(|e| {
                Error::Backend(format!(
                    "{}: cannot follow the store: {}",
                    dir.display(),
                    e.into_string()
                ))
            })?;
        Ok(RocksBackend {
            db: Arc::new(db),
            path: dir.to_path_buf(),
            table_file_options: Vec::new(),
            ingest_min_fresh: usize::MAX,
            next_file: AtomicU64::new(0),
            linking: RwLock::new(()),
            failed: AtomicBool::new(false),
            failure: Mutex::new(String::new()),
            before_link: None,
            follower: true,
        })
    }

    /// Open or create the database in `dir`.
    pub fn open(dir: &Path, options: &StoreOptions) -> Result<RocksBackend> {
        let cf_options = keyspace_options(options);
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.increase_parallelism(2);
        db_opts.set_max_background_jobs(2);
        // A compaction that merges a bulk load's level-0 files into the bottom level can split
        // by key range and use both cores once the load has stopped competing for them.
        db_opts.set_max_subcompactions(2);
        db_opts.set_bytes_per_sync(1 << 20);
        let descriptors = descriptors(&cf_options);
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
        let table_file_options = cf_options
            .into_iter()
            .map(|(ks, mut opts)| {
                if ks == Keyspace::Adjacency {
                    opts.set_compression_type(DBCompressionType::None);
                }
                (ks, opts)
            })
            .collect();
        let backend = RocksBackend {
            db: Arc::new(db),
            path: dir.to_path_buf(),
            table_file_options,
            ingest_min_fresh: options.ingest_min_fresh,
            next_file: AtomicU64::new(0),
            linking: RwLock::new(()),
            failed: AtomicBool::new(false),
            failure: Mutex::new(String::new()),
            before_link: options.before_link.clone(),
            follower: false,
        };
        backend.finish_interrupted_ingest()?;
        Ok(backend)
    }

    fn staging(&self) -> PathBuf {
        self.path.join(STAGING_DIR)
    }

    fn handle(&self, ks: Keyspace) -> Result<&ColumnFamily> {
        self.db
            .cf_handle(ks.name())
            .ok_or_else(|| Error::Corrupt(format!("missing column family {}", ks.name())))
    }

    /// Link one file, retrying a failed attempt; `position` is its place among its commit's
    /// files.
    fn link_with_retries(&self, ks: Keyspace, file: &Path, position: usize) -> Result<()> {
        let mut pause = LINK_RETRY_PAUSE;
        let mut attempt = 1;
        loop {
            if let Some(hook) = &self.before_link {
                (hook.0)(file, position);
            }
            match self.link(ks, file) {
                Ok(()) => return Ok(()),
                Err(Error::Backend(message)) if attempt >= LINK_ATTEMPTS => {
                    return Err(Error::Backend(format!("{message} (tried {attempt} times)")))
                }
                Err(e) if attempt >= LINK_ATTEMPTS => return Err(e),
                Err(_) => {
                    std::thread::sleep(pause);
                    pause *= 2;
                    attempt += 1;
                }
            }
        }
    }

    /// The error every access returns once the backend is marked failed.
    fn check_not_failed(&self) -> Result<()> {
        match self.failed.load(Ordering::Acquire) {
            false => Ok(()),
            true => Err(Error::Backend(self.failed_message())),
        }
    }

    fn failed_message(&self) -> String {
        format!(
            "{}: this store handle stopped after a failed bulk commit ({}); open the store again to complete that commit",
            self.path.display(),
            self.failure.lock()
        )
    }

    fn link(&self, ks: Keyspace, file: &Path) -> Result<()> {
        let mut opts = IngestExternalFileOptions::default();
        // A hard link, not a copy: the file was written for this store.
        opts.set_move_files(true);
        self.db
            .ingest_external_file_cf_opts(self.handle(ks)?, &opts, vec![file])
            .map_err(|e| {
                Error::Backend(format!("linking {}: {}", file.display(), e.into_string()))
            })?;
        // RocksDB removes the moved file's old name itself on success; this covers versions
        // that keep it.
        let _ = std::fs::remove_file(file);
        Ok(())
    }

    /// Complete a commit that was interrupted while linking its files, then remove any files a
    /// commit wrote but never committed.
    fn finish_interrupted_ingest(&self) -> Result<()> {
        let key = pending_ingest_key();
        let meta = self.handle(Keyspace::Meta)?;
        let staging = self.staging();
        if let Some(pending) = self.db.get_cf(meta, &key).map_err(backend_err)? {
            for (position, (ks, name)) in decode_pending(&pending)?.into_iter().enumerate() {
                let file = staging.join(&name);
                // A file already linked is gone from the staging directory.
                if file.exists() {
                    self.link_with_retries(ks, &file, position)?;
                }
            }
            let mut wo = rocksdb::WriteOptions::default();
            wo.set_sync(true);
            self.db
                .delete_cf_opt(meta, &key, &wo)
                .map_err(backend_err)?;
        }
        if let Ok(entries) = std::fs::read_dir(&staging) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(())
    }

    /// Column-family handles by keyspace prefix, looked up once per batch rather than per key.
    fn handles(&self) -> Result<Vec<(u8, &ColumnFamily)>> {
        Keyspace::ALL
            .into_iter()
            .map(|ks| Ok((ks.prefix(), self.handle(ks)?)))
            .collect()
    }

    /// Commit a batch whose fresh puts go into table files (see the module documentation).
    /// With `link` false it stops where a crash after the commit would, before any file is
    /// linked (for tests of recovery).
    fn write_ingesting(
        &self,
        batch: &WriteBatch,
        durability: Durability,
        link: bool,
    ) -> Result<()> {
        self.check_not_failed()?;
        let handles = self.handles()?;
        // Where each keyspace's fresh puts lie: a graph commit queues them as one stretch per
        // keyspace in key order, which is written as it lies; otherwise they are gathered
        // (into a list sized by this pass) and sorted.
        let mut spans: Vec<(Keyspace, FreshSpan<'_>)> = Vec::new();
        for (i, (op, fresh)) in batch.iter_marked().enumerate() {
            if let (Op::Put(k, _), true) = (op, fresh) {
                let ks = Keyspace::of_key(k)?;
                match spans.iter_mut().find(|(r, _)| *r == ks) {
                    Some((_, span)) => span.extend(i, k),
                    None => spans.push((ks, FreshSpan::new(i, k))),
                }
            }
        }
        let mut runs: Vec<(Keyspace, Run<'_>)> = spans
            .iter()
            .map(|(ks, span)| {
                let run = if span.in_order() {
                    Run::Stretch(span.first..span.first + span.count)
                } else {
                    Run::Gathered(Vec::with_capacity(span.count))
                };
                (*ks, run)
            })
            .collect();
        let gathering = runs.iter().any(|(_, run)| matches!(run, Run::Gathered(_)));
        let mut rest = rocksdb::WriteBatch::with_capacity_bytes(
            batch.byte_len() / 4 + 16 * (batch.len() - batch.fresh_len()) + 256,
        );
        for (op, fresh) in batch.iter_marked() {
            match (op, fresh) {
                // Stretches are written from the batch itself: nothing to collect for them.
                (Op::Put(_, _), true) if !gathering => {}
                (Op::Put(k, v), true) => {
                    let ks = Keyspace::of_key(k)?;
                    let run = runs.iter_mut().find(|(r, _)| *r == ks).expect("spanned");
                    if let Run::Gathered(puts) = &mut run.1 {
                        puts.push((k, v));
                    }
                }
                (op, _) => queue(&mut rest, &handles, op)?,
            }
        }
        let staging = self.staging();
        std::fs::create_dir_all(&staging)
            .map_err(|e| Error::Backend(format!("{}: {e}", staging.display())))?;
        let mut files: Vec<(Keyspace, String)> = Vec::with_capacity(runs.len());
        for (ks, _) in &runs {
            let name = format!(
                "{}-{}.sst",
                self.next_file.fetch_add(1, Ordering::Relaxed),
                ks.name()
            );
            files.push((*ks, name));
        }
        // One thread per file: a bulk load's committer is its slowest stage, and the other
        // core is otherwise partly idle while it writes.
        let written = std::thread::scope(|scope| -> Result<()> {
            let writers: Vec<_> = runs
                .iter_mut()
                .zip(&files)
                .map(|((ks, run), (_, name))| {
                    let file = staging.join(name);
                    let opts = &self
                        .table_file_options
                        .iter()
                        .find(|(k, _)| k == ks)
                        .expect("every keyspace")
                        .1;
                    scope.spawn(move || write_table_file(opts, &file, run, batch))
                })
                .collect();
            for writer in writers {
                writer
                    .join()
                    .map_err(|_| Error::Backend("a table-file writer panicked".into()))??;
            }
            sync_dir(&staging)
        });
        let remove_files = |files: &[(Keyspace, String)]| {
            for (_, name) in files {
                let _ = std::fs::remove_file(staging.join(name));
            }
        };
        if let Err(e) = written {
            remove_files(&files);
            return Err(e);
        }
        drop(runs);
        let meta = self.handle(Keyspace::Meta)?;
        let key = pending_ingest_key();
        rest.put_cf(meta, &key, encode_pending(&files));
        let _linking = self.linking.write();
        // Synced whatever the durability asked: once the files may be linked, the rest of the
        // batch (degree counters, id allocators) must not be lost behind them.
        let mut synced = rocksdb::WriteOptions::default();
        synced.set_sync(true);
        if let Err(e) = self.db.write_opt(rest, &synced) {
            remove_files(&files);
            return Err(backend_err(e));
        }
        if !link {
            return Ok(());
        }
        for (position, (ks, name)) in files.iter().enumerate() {
            if let Err(e) = self.link_with_retries(*ks, &staging.join(name), position) {
                let cause = match e {
                    Error::Backend(message) => message,
                    other => other.to_string(),
                };
                let message = format!(
                    "{cause}; the rest of the batch is committed, so this store handle refuses further reads and writes: open the store again, which links the batch's remaining files"
                );
                *self.failure.lock() = cause;
                self.failed.store(true, Ordering::Release);
                return Err(Error::Backend(message));
            }
        }
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(durability == Durability::Sync);
        self.db.delete_cf_opt(meta, &key, &wo).map_err(backend_err)
    }
}

/// One keyspace's fresh puts of a batch, borrowed from it.
enum Run<'a> {
    /// The batch's operations in this range, every one a fresh put of the keyspace, in
    /// strictly increasing key order.
    Stretch(std::ops::Range<usize>),
    /// Fresh puts gathered from across the batch, in batch order.
    Gathered(Vec<(&'a [u8], &'a [u8])>),
}

/// Where one keyspace's fresh puts lie in a batch, found in one pass over it.
struct FreshSpan<'a> {
    first: usize,
    last: usize,
    count: usize,
    last_key: &'a [u8],
    increasing: bool,
}

impl<'a> FreshSpan<'a> {
    fn new(index: usize, key: &'a [u8]) -> Self {
        FreshSpan {
            first: index,
            last: index,
            count: 1,
            last_key: key,
            increasing: true,
        }
    }

    fn extend(&mut self, index: usize, key: &'a [u8]) {
        self.increasing &= key > self.last_key;
        self.last = index;
        self.last_key = key;
        self.count += 1;
    }

    /// Adjacent operations with strictly increasing keys.
    fn in_order(&self) -> bool {
        self.increasing && self.last - self.first + 1 == self.count
    }
}

/// Write one run of `batch`'s fresh puts as a table file for the column family with `opts`.
fn write_table_file(
    opts: &Options,
    file: &Path,
    run: &mut Run<'_>,
    batch: &WriteBatch,
) -> Result<()> {
    let mut writer = SstFileWriter::create(opts);
    writer.open(file).map_err(backend_err)?;
    match run {
        Run::Stretch(range) => {
            for (op, _) in batch.iter_marked_in(range.clone()) {
                if let Op::Put(k, v) = op {
                    writer.put(k, v).map_err(backend_err)?;
                }
            }
        }
        Run::Gathered(puts) => {
            puts.sort_unstable_by(|a, b| a.0.cmp(b.0));
            if let Some(w) = puts.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(Error::InvalidArgument(format!(
                    "fresh put of key {:02x?} twice in one batch",
                    w[0].0
                )));
            }
            for (k, v) in puts.iter() {
                writer.put(k, v).map_err(backend_err)?;
            }
        }
    }
    // Finishing syncs the file, so it is durable before the commit names it.
    writer.finish().map_err(backend_err)
}

/// Add one operation to a RocksDB batch, in its keyspace's column family.
fn queue(wb: &mut rocksdb::WriteBatch, handles: &[(u8, &ColumnFamily)], op: Op<'_>) -> Result<()> {
    match op {
        Op::Put(k, v) => wb.put_cf(cf_for(handles, k)?, k, v),
        Op::Delete(k) => wb.delete_cf(cf_for(handles, k)?, k),
        Op::Add(k, delta) => wb.merge_cf(cf_for(handles, k)?, k, encode_counter(delta)),
    }
    Ok(())
}

fn cf_for<'h>(handles: &[(u8, &'h ColumnFamily)], key: &[u8]) -> Result<&'h ColumnFamily> {
    let first = key.first().copied();
    handles
        .iter()
        .find(|(prefix, _)| Some(*prefix) == first)
        .map(|(_, h)| *h)
        .ok_or_else(|| Error::Corrupt(format!("key with unknown keyspace: {key:02x?}")))
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

/// Ascending visit of a raw iterator's range, lending its key and value buffers.
fn visit_each(
    mut raw: rocksdb::DBRawIteratorWithThreadMode<'_, DB>,
    visit: &mut KvVisit<'_>,
) -> Result<()> {
    raw.seek_to_first();
    while raw.valid() {
        let (key, value) = (raw.key().expect("valid"), raw.value().expect("valid"));
        if !visit(key, value)? {
            return Ok(());
        }
        raw.next();
    }
    raw.status().map_err(backend_err)
}

impl ReadView for RocksBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check_not_failed()?;
        self.db.get_cf(cf(&self.db, key)?, key).map_err(backend_err)
    }

    fn scan<'a>(&'a self, lower: &[u8], upper: &[u8], reverse: bool) -> KvIter<'a> {
        if let Err(e) = self.check_not_failed() {
            return Box::new(std::iter::once(Err(e)));
        }
        let handle = match cf(&self.db, lower) {
            Ok(h) => h,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let raw = self
            .db
            .raw_iterator_cf_opt(handle, read_options_for(lower, upper, reverse));
        iterate(raw, reverse)
    }

    fn scan_each(&self, lower: &[u8], upper: &[u8], visit: &mut KvVisit<'_>) -> Result<()> {
        self.check_not_failed()?;
        let handle = cf(&self.db, lower)?;
        let options = read_options_for(lower, upper, false);
        visit_each(self.db.raw_iterator_cf_opt(handle, options), visit)
    }
}

struct RocksSnapshotView(OwnedSnapshot);

/// A follower's view: RocksDB's secondary instances have no snapshots, but a follower's data
/// only changes when it catches up, so between catch-ups the live database is a fixed view.
struct FollowerView(Arc<DB>);

impl ReadView for FollowerView {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.0.get_cf(cf(&self.0, key)?, key).map_err(backend_err)
    }

    fn scan<'a>(&'a self, lower: &[u8], upper: &[u8], reverse: bool) -> KvIter<'a> {
        let handle = match cf(&self.0, lower) {
            Ok(h) => h,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let raw = self
            .0
            .raw_iterator_cf_opt(handle, read_options_for(lower, upper, reverse));
        iterate(raw, reverse)
    }

    fn scan_each(&self, lower: &[u8], upper: &[u8], visit: &mut KvVisit<'_>) -> Result<()> {
        let handle = cf(&self.0, lower)?;
        let options = read_options_for(lower, upper, false);
        visit_each(self.0.raw_iterator_cf_opt(handle, options), visit)
    }
}

/// The snapshot of a backend marked failed: every read returns the failure.
struct FailedView(String);

impl ReadView for FailedView {
    fn get(&self, _key: &[u8]) -> Result<Option<Vec<u8>>> {
        Err(Error::Backend(self.0.clone()))
    }

    fn scan<'a>(&'a self, _lower: &[u8], _upper: &[u8], _reverse: bool) -> KvIter<'a> {
        Box::new(std::iter::once(Err(Error::Backend(self.0.clone()))))
    }
}

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

    fn scan_each(&self, lower: &[u8], upper: &[u8], visit: &mut KvVisit<'_>) -> Result<()> {
        let handle = cf(self.0.borrow_owner(), lower)?;
        let options = read_options_for(lower, upper, false);
        let raw = self
            .0
            .borrow_dependent()
            .raw_iterator_cf_opt(handle, options);
        visit_each(raw, visit)
    }
}

impl Backend for RocksBackend {
    fn name(&self) -> &'static str {
        "rocksdb"
    }

    fn write(&self, batch: &WriteBatch, durability: Durability) -> Result<()> {
        self.check_not_failed()?;
        if self.follower {
            return Err(Error::InvalidArgument(format!(
                "{}: this handle follows the store read-only; writes go through the process that owns it",
                self.path.display()
            )));
        }
        if batch.fresh_len() >= self.ingest_min_fresh {
            return self.write_ingesting(batch, durability, true);
        }
        let handles = self.handles()?;
        // The batch buffer is sized up front (key, value and framing per operation) so it is
        // never regrown. RocksDB's record adds a tag, a column family id and two lengths to
        // each operation.
        let mut wb =
            rocksdb::WriteBatch::with_capacity_bytes(batch.byte_len() + 16 * batch.len() + 64);
        for op in batch.iter() {
            queue(&mut wb, &handles, op)?;
        }
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(durability == Durability::Sync);
        self.db.write_opt(wb, &wo).map_err(backend_err)
    }

    fn snapshot(&self) -> Arc<dyn ReadView> {
        if self.follower {
            return Arc::new(FollowerView(self.db.clone()));
        }
        let _linking = self.linking.read();
        if self.failed.load(Ordering::Acquire) {
            return Arc::new(FailedView(self.failed_message()));
        }
        Arc::new(RocksSnapshotView(OwnedSnapshot::new(
            self.db.clone(),
            |db| db.snapshot(),
        )))
    }

    fn catch_up(&self) -> Result<bool> {
        if !self.follower {
            return Ok(false);
        }
        let before = self.db.latest_sequence_number();
        self.db.try_catch_up_with_primary().map_err(backend_err)?;
        Ok(self.db.latest_sequence_number() != before)
    }

    fn flush(&self) -> Result<()> {
        if self.follower {
            return Ok(()); // nothing of its own to persist
        }
        self.db.flush_wal(true).map_err(backend_err)?;
        for ks in Keyspace::ALL {
            if let Some(h) = self.db.cf_handle(ks.name()) {
                self.db.flush_cf(h).map_err(backend_err)?;
            }
        }
        Ok(())
    }

    fn wait_for_background_work(&self) -> Result<()> {
        self.db
            .wait_for_compact(&rocksdb::WaitForCompactOptions::default())
            .map_err(backend_err)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{adj_prefix, degree_key, edge_key, AdjKey, Dir};

    fn options(ingest_min_fresh: usize) -> StoreOptions {
        StoreOptions {
            ingest_min_fresh,
            ..StoreOptions::default()
        }
    }

    /// Outbound adjacency key of test edge `e`: label 1, node `e % 7`, edge type 2, time `e`.
    fn adjacency_key(e: u64) -> [u8; crate::keys::ADJ_KEY_LEN] {
        AdjKey {
            label: 1,
            node: e % 7,
            edge_type: 2,
            dir: Dir::Out,
            time: e as i64,
            edge: e,
        }
        .encode()
    }

    /// A batch like an edge load's: fresh adjacency entries and edge records, degree deltas.
    fn edge_batch(edges: std::ops::Range<u64>) -> WriteBatch {
        let mut batch = WriteBatch::default();
        let mut adjacency: Vec<_> = edges
            .clone()
            .map(|e| (adjacency_key(e), e.to_be_bytes()))
            .collect();
        adjacency.sort();
        for (k, v) in &adjacency {
            batch.put_fresh(k, v);
        }
        for e in edges.clone() {
            batch.put_fresh(edge_key(2, e), e.to_le_bytes());
        }
        for e in edges {
            batch.add(degree_key(1, e % 7, 2, Dir::Out), 1);
        }
        batch
    }

    fn count(view: &dyn ReadView, prefix: &[u8]) -> usize {
        view.scan(prefix, &prefix_successor(prefix), false).count()
    }

    fn staged_files(dir: &Path) -> usize {
        std::fs::read_dir(dir.join(STAGING_DIR))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    #[test]
    fn large_batches_are_linked_as_files() {
        let dir = tempfile::tempdir().unwrap();
        let db = RocksBackend::open(dir.path(), &options(100)).unwrap();
        db.write(&edge_batch(0..1000), Durability::Sync).unwrap();
        db.write(&edge_batch(1000..1050), Durability::Sync).unwrap();
        let total: usize = (0..7)
            .map(|n| count(&db, &adj_prefix(1, n, 2, Dir::Out)))
            .sum();
        assert_eq!(total, 1050);
        assert_eq!(count(&db, &[Keyspace::Edges.prefix()]), 1050);
        let degree = db.get(&degree_key(1, 3, 2, Dir::Out)).unwrap().unwrap();
        assert_eq!(decode_counter(&degree).unwrap(), 150);
        assert!(db.get(&pending_ingest_key()).unwrap().is_none());
        assert_eq!(staged_files(dir.path()), 0);
    }

    #[test]
    fn fresh_puts_interleaved_or_unordered_are_sorted_and_repeats_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = RocksBackend::open(dir.path(), &options(100)).unwrap();
        // Edge records and adjacency entries alternate, each keyspace in descending key order.
        let mut batch = WriteBatch::default();
        for e in (0..500u64).rev() {
            batch.put_fresh(edge_key(2, e), e.to_le_bytes());
            batch.put_fresh(adjacency_key(e), e.to_be_bytes());
        }
        db.write(&batch, Durability::Sync).unwrap();
        let adjacency: Vec<u64> = (0..7)
            .flat_map(|n| {
                let prefix = adj_prefix(1, n, 2, Dir::Out);
                db.scan(&prefix, &prefix_successor(&prefix), false)
                    .map(|kv| u64::from_be_bytes(kv.unwrap().1[..8].try_into().unwrap()))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(adjacency.len(), 500);
        // Within a node, entries come back in time order.
        assert!(adjacency.iter().filter(|e| *e % 7 == 3).is_sorted());
        let edges: Vec<Box<[u8]>> = db
            .scan(
                &[Keyspace::Edges.prefix()],
                &[Keyspace::Edges.prefix() + 1],
                false,
            )
            .map(|kv| kv.unwrap().0)
            .collect();
        assert_eq!(edges.len(), 500);
        assert!(edges.is_sorted());

        let mut repeated = WriteBatch::default();
        for e in 1000..1200u64 {
            repeated.put_fresh(edge_key(2, e), e.to_le_bytes());
        }
        repeated.put_fresh(edge_key(2, 1100), 0u64.to_le_bytes());
        let err = db.write(&repeated, Durability::Sync).unwrap_err();
        assert!(err.to_string().contains("twice in one batch"), "{err}");
        assert!(db.get(&edge_key(2, 1000)).unwrap().is_none());
        assert_eq!(staged_files(dir.path()), 0);
    }

    #[test]
    fn a_commit_interrupted_before_linking_is_completed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = RocksBackend::open(dir.path(), &options(100)).unwrap();
            db.write_ingesting(&edge_batch(0..700), Durability::Sync, false)
                .unwrap();
            assert!(db.get(&pending_ingest_key()).unwrap().is_some());
            assert_eq!(staged_files(dir.path()), 2);
        }
        let db = RocksBackend::open(dir.path(), &options(100)).unwrap();
        assert_eq!(count(&db, &[Keyspace::Edges.prefix()]), 700);
        assert_eq!(count(&db, &adj_prefix(1, 0, 2, Dir::Out)), 100);
        let degree = db.get(&degree_key(1, 0, 2, Dir::Out)).unwrap().unwrap();
        assert_eq!(decode_counter(&degree).unwrap(), 100);
        assert!(db.get(&pending_ingest_key()).unwrap().is_none());
        assert_eq!(staged_files(dir.path()), 0);
    }

    #[test]
    fn files_of_an_uncommitted_batch_are_removed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let _db = RocksBackend::open(dir.path(), &options(100)).unwrap();
            // What a crash between writing the files and committing leaves.
            std::fs::create_dir_all(dir.path().join(STAGING_DIR)).unwrap();
            std::fs::write(dir.path().join(STAGING_DIR).join("0-edges.sst"), b"partial").unwrap();
        }
        let db = RocksBackend::open(dir.path(), &options(100)).unwrap();
        assert_eq!(staged_files(dir.path()), 0);
        assert_eq!(count(&db, &[Keyspace::Edges.prefix()]), 0);
    }

    /// Options whose link hook moves the second file of the `batch`-th ingesting commit out of
    /// the staging directory before the first `failures` attempts to link it (and back before the
    /// next), so that RocksDB's ingestion fails for real. Returns where the file is parked.
    fn failing_link(batch: usize, failures: usize) -> (StoreOptions, Arc<Mutex<Option<PathBuf>>>) {
        let parked = Arc::new(Mutex::new(None::<PathBuf>));
        let commits = Arc::new(AtomicU64::new(0));
        let attempts = Arc::new(AtomicU64::new(0));
        let hook_parked = parked.clone();
        let hook = move |file: &Path, position: usize| {
            if position == 0 {
                commits.fetch_add(1, Ordering::SeqCst);
            }
            if position != 1 || commits.load(Ordering::SeqCst) != batch as u64 {
                return;
            }
            let away = file.with_extension("parked");
            if attempts.fetch_add(1, Ordering::SeqCst) < failures as u64 {
                if file.exists() {
                    std::fs::rename(file, &away).unwrap();
                    *hook_parked.lock() = Some(away);
                }
            } else if let Some(away) = hook_parked.lock().take() {
                std::fs::rename(away, file).unwrap();
            }
        };
        let failing = StoreOptions {
            before_link: Some(LinkHook(Arc::new(hook))),
            ..options(100)
        };
        (failing, parked)
    }

    #[test]
    fn a_link_that_fails_once_is_retried() {
        let dir = tempfile::tempdir().unwrap();
        let (failing, parked) = failing_link(2, 1);
        let db = RocksBackend::open(dir.path(), &failing).unwrap();
        db.write(&edge_batch(0..700), Durability::Sync).unwrap();
        db.write(&edge_batch(700..1400), Durability::Sync).unwrap();
        assert!(parked.lock().is_none(), "the file was put back and linked");
        assert_eq!(count(&db, &[Keyspace::Edges.prefix()]), 1400);
        let degree = db.get(&degree_key(1, 0, 2, Dir::Out)).unwrap().unwrap();
        assert_eq!(decode_counter(&degree).unwrap(), 200);
        assert!(db.get(&pending_ingest_key()).unwrap().is_none());
        assert_eq!(staged_files(dir.path()), 0);
    }

    #[test]
    fn a_link_that_keeps_failing_stops_the_handle_and_reopening_completes_the_batch() {
        let dir = tempfile::tempdir().unwrap();
        let (failing, parked) = failing_link(2, usize::MAX);
        {
            let db = RocksBackend::open(dir.path(), &failing).unwrap();
            db.write(&edge_batch(0..700), Durability::Sync).unwrap();
            let err = db
                .write(&edge_batch(700..1400), Durability::Sync)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("tried 3 times") && err.contains("open the store again"),
                "{err}"
            );
            // Nothing more gets in, and nobody reads counters of edges that are not there.
            let err = db
                .write(&edge_batch(1400..2100), Durability::Sync)
                .unwrap_err()
                .to_string();
            assert!(err.contains("stopped after a failed bulk commit"), "{err}");
            let small = db.write(&edge_batch(2100..2101), Durability::Sync);
            assert!(small.is_err());
            assert!(db.get(&degree_key(1, 0, 2, Dir::Out)).is_err());
            let snapshot = db.snapshot();
            assert!(snapshot.get(&degree_key(1, 0, 2, Dir::Out)).is_err());
            assert!(snapshot
                .scan(
                    &[Keyspace::Edges.prefix()],
                    &[Keyspace::Edges.prefix() + 1],
                    false
                )
                .any(|item| item.is_err()));
        }
        // The cause goes away (the file is back), and opening links it.
        let away = parked.lock().take().expect("the file was parked");
        std::fs::rename(&away, away.with_extension("sst")).unwrap();
        let db = RocksBackend::open(dir.path(), &options(100)).unwrap();
        assert_eq!(count(&db, &[Keyspace::Edges.prefix()]), 1400);
        let adjacency: usize = (0..7)
            .map(|n| count(&db, &adj_prefix(1, n, 2, Dir::Out)))
            .sum();
        assert_eq!(adjacency, 1400);
        let degree = db.get(&degree_key(1, 0, 2, Dir::Out)).unwrap().unwrap();
        assert_eq!(decode_counter(&degree).unwrap(), 200);
        assert!(db.get(&pending_ingest_key()).unwrap().is_none());
        assert_eq!(staged_files(dir.path()), 0);
        db.write(&edge_batch(1400..2100), Durability::Sync).unwrap();
        assert_eq!(count(&db, &[Keyspace::Edges.prefix()]), 2100);
    }

    #[test]
    fn pending_entries_round_trip_and_reject_garbage() {
        let files = vec![
            (Keyspace::Adjacency, "3-adjacency.sst".to_string()),
            (Keyspace::Edges, "4-edges.sst".to_string()),
        ];
        assert_eq!(decode_pending(&encode_pending(&files)).unwrap(), files);
        assert!(decode_pending(b"nowhere\tx.sst\n").is_err());
        assert!(decode_pending(b"no tab\n").is_err());
    }
}
