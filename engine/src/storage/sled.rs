//! The sled backend: point-in-time snapshots built from multi-version keys.
//!
//! sled 0.34 applies a batch atomically but has no snapshots, so this module keeps versions
//! itself. Every committed batch gets the next sequence number, and each key of the batch is
//! stored as `escape(key) ++ (u64::MAX - seq)` (big-endian) with a value of one tag byte (put or
//! tombstone) followed by the user value. The escaping is memcomparable and prefix-free (see
//! `escape_into`), so all versions of one key are adjacent, newest first, and escaped keys sort
//! like user keys. The last committed sequence lives under a reserved key in the same batch, so
//! a crash never leaves data newer than the counter.
//!
//! A read at sequence `S` sees, for each key, its newest version with `seq <= S` unless that is a
//! tombstone. Versions newer than `S` may be half-applied while a read runs; they are skipped, so
//! a read never sees a batch partially. Every reader registers its sequence in a shared set while
//! it runs: a snapshot for its lifetime, and a live `get` or scan (which reads at the latest
//! committed sequence) until it returns or its iterator is dropped. Registering and publishing a
//! new sequence happen under the same lock, so a reader registers either an old sequence that
//! garbage collection then sees, or the new one.
//!
//! Garbage collection runs after each commit, in a second batch, for the keys just written: it
//! keeps the newest version and, for every registered sequence, the newest version at or below
//! it, and deletes the rest. Doing it after the new sequence is published (rather than in the
//! commit's own batch) is what makes it safe for a live read that started just before the commit:
//! that read is registered by then. A tombstone that is the only version left is removed in a
//! third batch, and only when no reader was registered before or after the older versions went,
//! because a reverse scan meets older versions before the tombstone and would otherwise bring a
//! deleted value back. Old versions of a key that is not written again after its last snapshot
//! closes stay until its next write. Losing a collection batch in a crash only leaves garbage.
//!
//! All keyspaces share one sled tree: `apply_batch` is atomic only within a tree (atomic writes
//! across trees need sled transactions, which are slower and retry on conflict), and the keyspace
//! prefix byte, which escaping keeps as the first byte, already keeps keyspaces apart in scans.
//! Commits are serialized so that sequence numbers follow commit order; that also lets a counter
//! increment ([`Op::Add`]) read the latest value and store the sum as a plain put, since sled has
//! no merge operator. A `Sync` write flushes sled before it becomes visible or returns; a
//! `Buffered` one reaches disk with sled's background flush (every 500 ms) or the next flush.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use super::{Backend, Durability, KvIter, KvPair, Op, ReadView, WriteBatch};
use crate::error::{Error, Result};
use crate::keys::{decode_counter, encode_counter, Keyspace};

/// The reserved key of the last committed sequence number. Escaped keys never contain `0x00`
/// followed by anything but `0x00` or `0xFF`, so `0x00 's'` cannot collide with one.
const SEQ_KEY: &[u8] = b"\x00seq";
/// Name of the sled tree holding every version.
const TREE_NAME: &str = "versions";
/// Tag byte of a version holding a value.
const TAG_PUT: u8 = 1;
/// Tag byte of a version marking a deletion.
const TAG_TOMBSTONE: u8 = 0;
/// Length of the version suffix of a stored key.
const SUFFIX_LEN: usize = 8;

fn sled_err(e: sled::Error) -> Error {
    Error::Backend(format!("sled: {e}"))
}

/// Append the memcomparable escaping of `key`: every `0x00` becomes `0x00 0xFF`, and the result
/// ends with `0x00 0x00`.
///
/// Why this preserves order and is prefix-free: take user keys `a != b`, with common prefix `p`,
/// whose escapings share `E(p)`. If they differ at the next byte and neither byte is `0x00`,
/// the escapings differ at that byte the same way. If the smaller byte is `0x00`, its escaping
/// has `0x00` there while the other has a nonzero byte: same order. If `a` is a proper prefix
/// of `b`, `E(a)` continues with the terminator `0x00 0x00` while `E(b)` continues with
/// `b`'s next byte `x`: if `x != 0`, `0x00 < x`; if `x == 0`, `0x00 0x00 < 0x00 0xFF`. In every
/// case the first difference lies inside both escapings, so neither is a prefix of the other and
/// anything appended (the version suffix) cannot change the order. For the same reason the bound
/// `E(lower)` is `<=` every stored `E(k) ++ suffix` with `k >= lower` and `>` every one with
/// `k < lower`, so a user range `[lower, upper)` is exactly the stored range
/// `[E(lower), E(upper))`.
fn escape_into(out: &mut Vec<u8>, key: &[u8]) {
    for &b in key {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

fn escape(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 2 + SUFFIX_LEN);
    escape_into(&mut out, key);
    out
}

/// Inverse of [`escape_into`]; `escaped` must be exactly one escaped key, terminator included.
fn unescape(escaped: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(escaped.len());
    let mut bytes = escaped.iter().copied();
    while let Some(b) = bytes.next() {
        if b != 0 {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(0xFF) => out.push(0),
            Some(0) if bytes.next().is_none() => return Ok(out),
            _ => break,
        }
    }
    Err(Error::Corrupt("sled: badly escaped key".into()))
}

/// The stored key of version `seq` of the key whose escaping is `escaped`.
fn versioned(escaped: &[u8], seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(escaped.len() + SUFFIX_LEN);
    k.extend_from_slice(escaped);
    k.extend_from_slice(&(u64::MAX - seq).to_be_bytes());
    k
}

/// Split a stored key into the escaped user key and the version's sequence number.
fn split_stored(raw: &[u8]) -> Result<(&[u8], u64)> {
    if raw.len() < 2 + SUFFIX_LEN {
        return Err(Error::Corrupt(format!(
            "sled: stored key of {} bytes is too short",
            raw.len()
        )));
    }
    let (escaped, suffix) = raw.split_at(raw.len() - SUFFIX_LEN);
    let inverted = u64::from_be_bytes(suffix.try_into().expect("suffix length checked"));
    Ok((escaped, u64::MAX - inverted))
}

/// The user value of a stored version, or `None` for a tombstone.
fn stored_value(stored: &[u8]) -> Result<Option<&[u8]>> {
    match stored.split_first() {
        Some((&TAG_PUT, value)) => Ok(Some(value)),
        Some((&TAG_TOMBSTONE, [])) => Ok(None),
        _ => Err(Error::Corrupt("sled: stored version has a bad tag".into())),
    }
}

/// The committed sequence and the sequences that readers currently read at.
#[derive(Default)]
struct VersionState {
    /// Last committed (and visible) sequence number.
    committed: u64,
    /// Registered read sequences with their number of readers.
    readers: BTreeMap<u64, usize>,
}

type Versions = Arc<Mutex<VersionState>>;

/// A registered reader: while it lives, the versions it can see are not collected.
struct ReadGuard {
    versions: Versions,
    seq: u64,
}

impl ReadGuard {
    fn register(versions: &Versions) -> ReadGuard {
        let mut state = versions.lock();
        let seq = state.committed;
        *state.readers.entry(seq).or_insert(0) += 1;
        ReadGuard {
            versions: versions.clone(),
            seq,
        }
    }
}

impl Drop for ReadGuard {
    fn drop(&mut self) {
        let mut state = self.versions.lock();
        if let Some(count) = state.readers.get_mut(&self.seq) {
            *count -= 1;
            if *count == 0 {
                state.readers.remove(&self.seq);
            }
        }
    }
}

/// The user value of `key` as of sequence `seq`.
fn get_at(tree: &sled::Tree, key: &[u8], seq: u64) -> Result<Option<Vec<u8>>> {
    Keyspace::of_key(key)?;
    newest_at(tree, &escape(key), seq)
}

/// The user value of the key escaped as `escaped` as of sequence `seq`.
fn newest_at(tree: &sled::Tree, escaped: &[u8], seq: u64) -> Result<Option<Vec<u8>>> {
    // Versions with `seq' <= seq` have suffixes `>= u64::MAX - seq`; the newest comes first.
    let lower = versioned(escaped, seq);
    let upper = versioned(escaped, 0);
    match tree.range(lower..=upper).next() {
        None => Ok(None),
        Some(entry) => {
            let (_, stored) = entry.map_err(sled_err)?;
            Ok(stored_value(&stored)?.map(<[u8]>::to_vec))
        }
    }
}

/// A counter's value as the RocksDB merge operator reads it: absent or malformed counts as 0.
fn counter_value(stored: Option<&[u8]>) -> i64 {
    stored.map_or(0, |v| decode_counter(v).unwrap_or(0))
}

/// Visible key-value pairs of `[lower, upper)` as of sequence `seq`.
fn scan_at(
    tree: &sled::Tree,
    lower: &[u8],
    upper: &[u8],
    reverse: bool,
    seq: u64,
    guard: Option<ReadGuard>,
) -> KvIter<'static> {
    if let Err(e) = Keyspace::of_key(lower) {
        return Box::new(std::iter::once(Err(e)));
    }
    if lower >= upper {
        return Box::new(std::iter::empty());
    }
    let iter = tree.range(escape(lower)..escape(upper));
    Box::new(VersionedScan {
        iter,
        seq,
        reverse,
        last: None,
        best: None,
        done: false,
        _guard: guard,
    })
}

/// Collapses the versions met by a sled range iterator into the visible pairs.
struct VersionedScan {
    iter: sled::Iter,
    seq: u64,
    reverse: bool,
    /// Stored key of the group being read: forward, the key already decided; in reverse, the
    /// key whose versions are still arriving (oldest first).
    last: Option<sled::IVec>,
    /// In reverse, the newest version of `last` visible at `seq` seen so far.
    best: Option<sled::IVec>,
    done: bool,
    /// Keeps the versions this scan reads from being collected (live scans only).
    _guard: Option<ReadGuard>,
}

fn same_user_key(stored_a: &[u8], escaped_b: &[u8]) -> bool {
    stored_a.len() >= SUFFIX_LEN && &stored_a[..stored_a.len() - SUFFIX_LEN] == escaped_b
}

fn visible_pair(stored_key: &[u8], stored: &[u8]) -> Result<Option<KvPair>> {
    let Some(value) = stored_value(stored)? else {
        return Ok(None);
    };
    let (escaped, _) = split_stored(stored_key)?;
    Ok(Some((
        unescape(escaped)?.into_boxed_slice(),
        Box::from(value),
    )))
}

impl VersionedScan {
    fn next_forward(&mut self) -> Option<Result<KvPair>> {
        for entry in self.iter.by_ref() {
            let (key, stored) = match entry {
                Ok(kv) => kv,
                Err(e) => return Some(Err(sled_err(e))),
            };
            let (escaped, seq) = match split_stored(&key) {
                Ok(parts) => parts,
                Err(e) => return Some(Err(e)),
            };
            if seq > self.seq
                || self
                    .last
                    .as_ref()
                    .is_some_and(|l| same_user_key(l, escaped))
            {
                continue;
            }
            // Newest first: the first version at or below `seq` decides this key.
            self.last = Some(key.clone());
            match visible_pair(&key, &stored) {
                Ok(None) => continue,
                Ok(Some(pair)) => return Some(Ok(pair)),
                Err(e) => return Some(Err(e)),
            }
        }
        None
    }

    /// The pair of the finished reverse group, if its chosen version holds a value.
    fn finish_group(&mut self) -> Option<Result<KvPair>> {
        let key = self.last.take()?;
        let stored = self.best.take()?;
        visible_pair(&key, &stored).transpose()
    }

    fn next_reverse(&mut self) -> Option<Result<KvPair>> {
        while let Some(entry) = self.iter.next_back() {
            let (key, stored) = match entry {
                Ok(kv) => kv,
                Err(e) => return Some(Err(sled_err(e))),
            };
            let (escaped, seq) = match split_stored(&key) {
                Ok(parts) => parts,
                Err(e) => return Some(Err(e)),
            };
            let visible = seq <= self.seq;
            if self
                .last
                .as_ref()
                .is_some_and(|l| same_user_key(l, escaped))
            {
                // Oldest first: a later visible version of the same key is newer.
                if visible {
                    self.best = Some(stored);
                }
                continue;
            }
            let finished = self.finish_group();
            self.last = Some(key);
            self.best = visible.then_some(stored);
            if finished.is_some() {
                return finished;
            }
        }
        self.finish_group()
    }
}

impl Iterator for VersionedScan {
    type Item = Result<KvPair>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = if self.reverse {
            self.next_reverse()
        } else {
            self.next_forward()
        };
        // Stop after the end or an error, like the RocksDB backend does.
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}

/// A point-in-time view: reads at the sequence it registered when taken.
struct SledSnapshot {
    tree: sled::Tree,
    guard: ReadGuard,
}

impl ReadView for SledSnapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        get_at(&self.tree, key, self.guard.seq)
    }

    fn scan<'a>(&'a self, lower: &[u8], upper: &[u8], reverse: bool) -> KvIter<'a> {
        scan_at(&self.tree, lower, upper, reverse, self.guard.seq, None)
    }
}

/// The sled backend.
pub struct SledBackend {
    db: sled::Db,
    tree: sled::Tree,
    versions: Versions,
    /// Serializes commits, so sequence numbers are assigned and published in commit order.
    commit: Mutex<()>,
}

impl SledBackend {
    /// Open or create the database in `dir`.
    pub fn open(dir: &Path) -> Result<SledBackend> {
        // sled's flusher thread lets go of the directory lock shortly after the last handle in
        // this process is dropped: a reopen right after a close waits for it before calling the
        // directory busy.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        let opened = loop {
            match sled::Config::new().path(dir).open() {
                Err(e)
                    if e.to_string().contains("could not acquire lock")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => break other,
            }
        };
        let db = opened.map_err(|e| {
            let msg = e.to_string();
            if msg.contains("could not acquire lock") {
                Error::Backend(format!(
                    "{}: the data directory is in use by another process ({msg})",
                    dir.display()
                ))
            } else {
                Error::Backend(format!("{}: sled: {msg}", dir.display()))
            }
        })?;
        let tree = db.open_tree(TREE_NAME).map_err(sled_err)?;
        let committed = match tree.get(SEQ_KEY).map_err(sled_err)? {
            None => 0,
            Some(bytes) => u64::from_be_bytes(bytes.as_ref().try_into().map_err(|_| {
                Error::Corrupt(format!(
                    "sled: sequence number of {} bytes, expected 8",
                    bytes.len()
                ))
            })?),
        };
        let versions = Arc::new(Mutex::new(VersionState {
            committed,
            readers: BTreeMap::new(),
        }));
        Ok(SledBackend {
            db,
            tree,
            versions,
            commit: Mutex::new(()),
        })
    }

    /// Delete the versions of the just-written keys that no reader can see any more.
    ///
    /// Runs under the commit lock, after `seq` is published, so those keys have no newer
    /// versions and every reader that registers from now on reads at `seq` or later.
    fn collect_garbage(&self, written: &BTreeSet<Vec<u8>>, readers: &[u64]) -> Result<()> {
        let mut obsolete = sled::Batch::default();
        let mut obsolete_count = 0usize;
        let mut lone_tombstones = Vec::new();
        for escaped in written {
            let mut newer: Option<u64> = None;
            let mut newest_is_tombstone = false;
            for entry in self.tree.scan_prefix(escaped) {
                let (key, stored) = entry.map_err(sled_err)?;
                let (_, seq) = split_stored(&key)?;
                let keep = match newer {
                    // The newest version is what readers from now on see.
                    None => {
                        newest_is_tombstone = stored_value(&stored)?.is_none();
                        true
                    }
                    // Otherwise a version is needed iff some reader reads at `s` with
                    // `seq <= s < newer`: for that reader it is the newest visible one.
                    Some(newer) => {
                        let i = readers.partition_point(|&s| s < seq);
                        i < readers.len() && readers[i] < newer
                    }
                };
                if !keep {
                    obsolete.remove(key);
                    obsolete_count += 1;
                }
                newer = Some(seq);
            }
            if readers.is_empty() && newest_is_tombstone {
                lone_tombstones.push(escaped);
            }
        }
        if obsolete_count > 0 {
            self.tree.apply_batch(obsolete).map_err(sled_err)?;
        }
        // A reverse scan that met a now-deleted older version before the batch above could
        // still be running; removing the tombstone under it would revive that version.
        if lone_tombstones.is_empty() || !self.versions.lock().readers.is_empty() {
            return Ok(());
        }
        let mut tombstones = sled::Batch::default();
        for escaped in lone_tombstones {
            let versions = self
                .tree
                .scan_prefix(escaped)
                .take(2)
                .collect::<Result<Vec<_>, _>>()
                .map_err(sled_err)?;
            if let [(key, stored)] = versions.as_slice() {
                if stored_value(stored)?.is_none() {
                    tombstones.remove(key.clone());
                }
            }
        }
        self.tree.apply_batch(tombstones).map_err(sled_err)
    }
}

impl ReadView for SledBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let guard = ReadGuard::register(&self.versions);
        get_at(&self.tree, key, guard.seq)
    }

    fn scan<'a>(&'a self, lower: &[u8], upper: &[u8], reverse: bool) -> KvIter<'a> {
        let guard = ReadGuard::register(&self.versions);
        let seq = guard.seq;
        scan_at(&self.tree, lower, upper, reverse, seq, Some(guard))
    }
}

impl Backend for SledBackend {
    fn name(&self) -> &'static str {
        "sled"
    }

    fn write(&self, batch: &WriteBatch, durability: Durability) -> Result<()> {
        for op in batch.iter() {
            let (Op::Put(key, _) | Op::Delete(key) | Op::Add(key, _)) = op;
            Keyspace::of_key(key)?;
        }
        if batch.is_empty() {
            return match durability {
                Durability::Sync => self.flush(),
                Durability::Buffered => Ok(()),
            };
        }
        let _commit = self.commit.lock();
        let committed = self.versions.lock().committed;
        let seq = committed + 1;
        // The batch's outcome per escaped key (`None`: deleted), applying operations in order.
        let mut outcome: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        for op in batch.iter() {
            match op {
                Op::Put(key, value) => {
                    outcome.insert(escape(key), Some(value.to_vec()));
                }
                Op::Delete(key) => {
                    outcome.insert(escape(key), None);
                }
                Op::Add(key, delta) => {
                    // sled has no merge operator: read the counter. Commits are serialized, so
                    // the latest committed value cannot change before this batch lands.
                    let escaped = escape(key);
                    let base = match outcome.get(&escaped) {
                        Some(pending) => counter_value(pending.as_deref()),
                        None => {
                            counter_value(newest_at(&self.tree, &escaped, committed)?.as_deref())
                        }
                    };
                    outcome.insert(
                        escaped,
                        Some(encode_counter(base.wrapping_add(delta)).to_vec()),
                    );
                }
            }
        }
        let mut sled_batch = sled::Batch::default();
        let mut written = BTreeSet::new();
        for (escaped, value) in outcome {
            let stored = match value {
                Some(value) => {
                    let mut stored = Vec::with_capacity(1 + value.len());
                    stored.push(TAG_PUT);
                    stored.extend_from_slice(&value);
                    stored
                }
                None => vec![TAG_TOMBSTONE],
            };
            sled_batch.insert(versioned(&escaped, seq), stored);
            written.insert(escaped);
        }
        sled_batch.insert(SEQ_KEY, &seq.to_be_bytes()[..]);
        self.tree.apply_batch(sled_batch).map_err(sled_err)?;
        // The batch is in the tree and its sequence is taken: publish it even if the flush
        // fails, so the next commit does not reuse the sequence.
        let flushed = match durability {
            Durability::Sync => self.flush(),
            Durability::Buffered => Ok(()),
        };
        let readers: Vec<u64> = {
            let mut state = self.versions.lock();
            state.committed = seq;
            state.readers.keys().copied().collect()
        };
        flushed?;
        self.collect_garbage(&written, &readers).map_err(|e| {
            Error::Backend(format!(
                "sled: the batch is committed, but removing old versions failed: {e}"
            ))
        })
    }

    fn snapshot(&self) -> Arc<dyn ReadView> {
        let guard = ReadGuard::register(&self.versions);
        Arc::new(SledSnapshot {
            tree: self.tree.clone(),
            guard,
        })
    }

    fn flush(&self) -> Result<()> {
        self.db.flush().map(drop).map_err(sled_err)
    }

    fn disk_usage(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{meta_key, node_key};
    use proptest::prelude::*;

    /// Byte strings rich in `0x00` and `0xFF`, the bytes escaping cares about.
    fn key_bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![Just(0u8), Just(0xFFu8), Just(1u8), any::<u8>()],
            0..12,
        )
    }

    proptest! {
        #[test]
        fn escaping_preserves_order_and_round_trips(a in key_bytes(), b in key_bytes(),
                                                    sa in any::<u64>(), sb in any::<u64>()) {
            let (ea, eb) = (escape(&a), escape(&b));
            prop_assert_eq!(unescape(&ea).unwrap(), a.clone());
            prop_assert_eq!(a.cmp(&b), ea.cmp(&eb));
            if a != b {
                // Prefix-free: the version suffix never changes the order of different keys.
                prop_assert!(!eb.starts_with(&ea) && !ea.starts_with(&eb));
                prop_assert_eq!(a.cmp(&b), versioned(&ea, sa).cmp(&versioned(&eb, sb)));
            } else {
                // Versions of one key: newest first.
                prop_assert_eq!(sb.cmp(&sa), versioned(&ea, sa).cmp(&versioned(&eb, sb)));
            }
        }

        #[test]
        fn escaped_bounds_select_the_user_range(k in key_bytes(), lo in key_bytes(), s in any::<u64>()) {
            let stored = versioned(&escape(&k), s);
            prop_assert_eq!(k >= lo, stored.as_slice() >= escape(&lo).as_slice());
            prop_assert_eq!(k < lo, stored.as_slice() < escape(&lo).as_slice());
        }
    }

    fn open() -> (tempfile::TempDir, SledBackend) {
        let dir = tempfile::tempdir().unwrap();
        let backend = SledBackend::open(dir.path()).unwrap();
        (dir, backend)
    }

    fn put(backend: &SledBackend, key: &[u8], value: &[u8]) {
        let mut batch = WriteBatch::default();
        batch.put(key, value);
        backend.write(&batch, Durability::Buffered).unwrap();
    }

    fn delete(backend: &SledBackend, key: &[u8]) {
        let mut batch = WriteBatch::default();
        batch.delete(key);
        backend.write(&batch, Durability::Buffered).unwrap();
    }

    fn stored_versions(backend: &SledBackend, key: &[u8]) -> usize {
        backend.tree.scan_prefix(escape(key)).count()
    }

    fn collect(iter: KvIter<'_>) -> Vec<(Vec<u8>, Vec<u8>)> {
        iter.map(|kv| kv.map(|(k, v)| (k.into_vec(), v.into_vec())))
            .collect::<Result<_>>()
            .unwrap()
    }

    #[test]
    fn snapshot_survives_overwrite_and_delete() {
        let (_dir, backend) = open();
        let (a, b, c) = (meta_key(b"a"), meta_key(b"b"), meta_key(b"c"));
        put(&backend, &a, b"1");
        put(&backend, &b, b"2");
        let snap = backend.snapshot();
        put(&backend, &a, b"10");
        delete(&backend, &b);
        put(&backend, &c, b"3");
        assert_eq!(snap.get(&a).unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(snap.get(&b).unwrap().as_deref(), Some(&b"2"[..]));
        assert_eq!(snap.get(&c).unwrap(), None);
        assert_eq!(backend.get(&a).unwrap().as_deref(), Some(&b"10"[..]));
        assert_eq!(backend.get(&b).unwrap(), None);
        let (lo, hi) = (Keyspace::Meta.lower(), Keyspace::Meta.upper());
        let old = vec![(a.clone(), b"1".to_vec()), (b.clone(), b"2".to_vec())];
        assert_eq!(collect(snap.scan(&lo, &hi, false)), old);
        assert_eq!(
            collect(snap.scan(&lo, &hi, true)),
            old.into_iter().rev().collect::<Vec<_>>()
        );
        let new = vec![(a.clone(), b"10".to_vec()), (c.clone(), b"3".to_vec())];
        assert_eq!(collect(backend.scan(&lo, &hi, false)), new);
        assert_eq!(
            collect(backend.scan(&lo, &hi, true)),
            new.into_iter().rev().collect::<Vec<_>>()
        );
    }

    #[test]
    fn old_versions_are_collected_once_no_reader_needs_them() {
        let (_dir, backend) = open();
        let k = node_key(1, 7);
        for i in 0..10u8 {
            put(&backend, &k, &[i]);
        }
        assert_eq!(stored_versions(&backend, &k), 1);

        let snap = backend.snapshot();
        for i in 10..20u8 {
            put(&backend, &k, &[i]);
        }
        // The snapshot's version and the newest one.
        assert_eq!(stored_versions(&backend, &k), 2);
        assert_eq!(snap.get(&k).unwrap(), Some(vec![9]));
        drop(snap);
        put(&backend, &k, &[20]);
        assert_eq!(stored_versions(&backend, &k), 1);

        // A delete with no reader leaves nothing behind, not even the tombstone.
        delete(&backend, &k);
        assert_eq!(stored_versions(&backend, &k), 0);
        assert_eq!(backend.get(&k).unwrap(), None);

        // A delete under a snapshot keeps what the snapshot sees, then goes on the next write.
        put(&backend, &k, b"x");
        let snap = backend.snapshot();
        delete(&backend, &k);
        assert_eq!(stored_versions(&backend, &k), 2);
        assert_eq!(snap.get(&k).unwrap(), Some(b"x".to_vec()));
        drop(snap);
        put(&backend, &k, b"y");
        assert_eq!(stored_versions(&backend, &k), 1);
    }

    #[test]
    fn versions_between_snapshots_are_collected() {
        let (_dir, backend) = open();
        let k = node_key(2, 1);
        put(&backend, &k, b"1");
        let s1 = backend.snapshot();
        put(&backend, &k, b"2");
        put(&backend, &k, b"3");
        let s3 = backend.snapshot();
        put(&backend, &k, b"4");
        put(&backend, &k, b"5");
        // "2" and "4" are nobody's newest visible version.
        assert_eq!(stored_versions(&backend, &k), 3);
        assert_eq!(s1.get(&k).unwrap(), Some(b"1".to_vec()));
        assert_eq!(s3.get(&k).unwrap(), Some(b"3".to_vec()));
        assert_eq!(backend.get(&k).unwrap(), Some(b"5".to_vec()));
    }

    #[test]
    fn reverse_scans_pick_the_visible_version() {
        let (_dir, backend) = open();
        let keys: Vec<Vec<u8>> = [
            &b""[..],
            b"\x00",
            b"\x00\x00",
            b"\x00\xff",
            b"a",
            b"a\x00",
            b"b\xff\xff",
        ]
        .iter()
        .map(|k| meta_key(k))
        .collect();
        for (i, k) in keys.iter().enumerate() {
            put(&backend, k, &[i as u8]);
        }
        let snap = backend.snapshot();
        for (i, k) in keys.iter().enumerate() {
            if i % 2 == 0 {
                delete(&backend, k);
            } else {
                put(&backend, k, &[100 + i as u8]);
            }
        }
        let (lo, hi) = (Keyspace::Meta.lower(), Keyspace::Meta.upper());
        let old: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), vec![i as u8]))
            .collect();
        let new: Vec<_> = keys
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == 1)
            .map(|(i, k)| (k.clone(), vec![100 + i as u8]))
            .collect();
        assert_eq!(collect(snap.scan(&lo, &hi, false)), old);
        assert_eq!(
            collect(snap.scan(&lo, &hi, true)),
            old.iter().rev().cloned().collect::<Vec<_>>()
        );
        assert_eq!(collect(backend.scan(&lo, &hi, false)), new);
        assert_eq!(
            collect(backend.scan(&lo, &hi, true)),
            new.iter().rev().cloned().collect::<Vec<_>>()
        );
        // Bounds between versioned keys: `[keys[1], keys[5])`, in reverse.
        let window: Vec<_> = old[1..5].iter().rev().cloned().collect();
        assert_eq!(collect(snap.scan(&keys[1], &keys[5], true)), window);
    }

    #[test]
    fn counters_read_the_latest_value() {
        let (_dir, backend) = open();
        let k = meta_key(b"count");
        let add = |delta: i64| {
            let mut batch = WriteBatch::default();
            batch.add(&k, delta);
            backend.write(&batch, Durability::Buffered).unwrap();
        };
        add(5);
        let snap = backend.snapshot();
        add(-2);
        add(10);
        assert_eq!(backend.get(&k).unwrap(), Some(encode_counter(13).to_vec()));
        assert_eq!(snap.get(&k).unwrap(), Some(encode_counter(5).to_vec()));
        // A malformed value counts as 0, as in the RocksDB merge operator.
        put(&backend, &k, b"bad");
        add(1);
        assert_eq!(backend.get(&k).unwrap(), Some(encode_counter(1).to_vec()));
    }

    #[test]
    fn sequence_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let k = meta_key(b"k");
        {
            let backend = SledBackend::open(dir.path()).unwrap();
            put(&backend, &k, b"old");
            put(&backend, &meta_key(b"other"), b"x");
        }
        let backend = SledBackend::open(dir.path()).unwrap();
        assert_eq!(backend.versions.lock().committed, 2);
        put(&backend, &k, b"new");
        assert_eq!(backend.get(&k).unwrap(), Some(b"new".to_vec()));
        assert_eq!(stored_versions(&backend, &k), 1);
    }

    #[test]
    fn locked_directory_is_reported() {
        let (dir, _backend) = open();
        let Err(err) = SledBackend::open(dir.path()) else {
            panic!("second open succeeded")
        };
        assert!(
            err.to_string().contains("in use by another process"),
            "{err}"
        );
    }

    #[test]
    fn keys_outside_every_keyspace_are_rejected() {
        let (_dir, backend) = open();
        let mut batch = WriteBatch::default();
        batch.put(vec![0x7f, 1], b"v");
        assert!(backend.write(&batch, Durability::Sync).is_err());
        assert!(backend.get(&[]).is_err());
        assert!(backend
            .scan(&[0x00], &[0x01], false)
            .next()
            .unwrap()
            .is_err());
    }
}
