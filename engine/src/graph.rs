//! The graph store: catalog, keyed nodes, timestamped edges with adjacency in both directions,
//! atomic write transactions and consistent snapshots, over any [`Backend`].
//!
//! Writes go through [`GraphStore::write`]: one writer at a time builds a transaction that sees
//! its own pending changes; on success everything (data, id counters, degrees, catalog) is
//! committed as one atomic backend batch, on error nothing is. Reads go through
//! [`GraphStore::snapshot`], which pins one consistent state (data and catalog together).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use rustc_hash::FxHashMap as HashMap;

use crate::catalog::{Catalog, HasProperties, PropType, PropertyDef, Value};
use crate::error::{Error, Result};
use crate::keys::{self, AdjKey, CatalogId, Dir, EdgeId, Micros, NodeId, NO_TIME};
use crate::record::{
    adjacency_other, adjacency_props_section, decode_props, edge_record_props, normalize_props,
    EdgeRecord, NodeRecord, Props,
};
use crate::storage::{
    open_backend, Backend, BackendKind, Durability, ReadView, StoreOptions, WriteBatch,
};
use crate::table_cache::TableCache;

const MARKER_FILE: &str = "ARGUS";
const STORE_DIR: &str = "store";
/// Version 2: out-adjacency values carry the edge's properties.
const FORMAT_VERSION: u32 = 2;

/// An Argus data directory, open for reads and writes.
pub struct GraphStore {
    dir: PathBuf,
    backend: Arc<dyn Backend>,
    /// The committed catalog. Held for writing across a commit so that a snapshot never pairs
    /// new data with an old catalog.
    catalog: RwLock<Arc<Catalog>>,
    writer: Mutex<()>,
    options: StoreOptions,
    /// Bumped by every commit that deletes nodes, so caches of key → id know to drop entries.
    deletion_epoch: std::sync::atomic::AtomicU64,
    /// Bumped by every commit; snapshots carry it so cached table copies match their state.
    generation: std::sync::atomic::AtomicU64,
    table_cache: Arc<TableCache>,
}

/// Which traversal directions a neighbour query follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Edges leaving the node.
    #[default]
    Out,
    /// Edges arriving at the node.
    In,
    /// Both.
    Both,
}

impl Direction {
    /// Parse `out`, `in` or `both`.
    pub fn parse(s: &str) -> Result<Direction> {
        match s {
            "out" => Ok(Direction::Out),
            "in" => Ok(Direction::In),
            "both" => Ok(Direction::Both),
            other => Err(Error::InvalidArgument(format!(
                "direction '{other}': expected out, in or both"
            ))),
        }
    }
}

/// Largest `limit` a neighbour query accepts: a result is built in memory, and a million edges
/// of one node is already more than anyone reads.
pub const MAX_NEIGHBOR_LIMIT: usize = 1_000_000;

/// What [`Snapshot::neighbors`] returns.
#[derive(Debug, Clone, Default)]
pub struct NeighborQuery {
    /// Only this edge type; `None` means every edge type touching the node's label.
    pub edge_type: Option<String>,
    /// Directions to follow.
    pub direction: Direction,
    /// Earliest edge time (inclusive).
    pub since: Option<Micros>,
    /// Latest edge time (inclusive).
    pub until: Option<Micros>,
    /// At most this many edges; at most [`MAX_NEIGHBOR_LIMIT`] (a larger one is refused).
    /// `None` reads them all.
    pub limit: Option<usize>,
    /// Oldest first instead of newest first.
    pub oldest_first: bool,
}

/// One edge seen from a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbor {
    /// Edge type id.
    pub edge_type: CatalogId,
    /// Edge id within the type.
    pub edge_id: EdgeId,
    /// Direction seen from the queried node.
    pub dir: Dir,
    /// Edge time, if it has one.
    pub time: Option<Micros>,
    /// Label of the node at the other end.
    pub label: CatalogId,
    /// The node at the other end.
    pub node: NodeId,
}

/// A node with its key and named properties.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Label id.
    pub label: CatalogId,
    /// Internal id.
    pub id: NodeId,
    /// External key.
    pub key: String,
    /// Properties present on the node, in catalog order.
    pub props: Vec<(String, Value)>,
}

/// An edge with its endpoints and named properties.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// Edge type id.
    pub edge_type: CatalogId,
    /// Edge id.
    pub id: EdgeId,
    /// Source node id.
    pub src: NodeId,
    /// Destination node id.
    pub dst: NodeId,
    /// Time, if it has one.
    pub time: Option<Micros>,
    /// Properties present on the edge, in catalog order.
    pub props: Vec<(String, Value)>,
}

fn name_props(def: &impl HasProperties, props: Props) -> Result<Vec<(String, Value)>> {
    props
        .into_iter()
        .map(|(i, v)| {
            let p = def.properties().get(i as usize).ok_or_else(|| {
                Error::Corrupt(format!(
                    "{} '{}': stored property #{i} is not in the catalog",
                    def.kind(),
                    def.name()
                ))
            })?;
            Ok((p.name.clone(), v))
        })
        .collect()
}

/// The catalog a backend holds (empty for a new store).
fn stored_catalog(backend: &dyn Backend) -> Result<Catalog> {
    match backend.get(&keys::catalog_key())? {
        Some(bytes) => Catalog::from_json(&bytes),
        None => Ok(Catalog::default()),
    }
}

fn opt_time(t: Micros) -> Option<Micros> {
    (t != NO_TIME).then_some(t)
}

impl GraphStore {
    /// Open (or create, with RocksDB) the data directory `dir` with default options.
    pub fn open(dir: impl AsRef<Path>) -> Result<GraphStore> {
        GraphStore::open_with(dir, None, StoreOptions::default())
    }

    /// Open or create `dir`. `backend` picks the backend of a new directory; for an existing one
    /// it must match what the directory was created with (or be `None`).
    pub fn open_with(
        dir: impl AsRef<Path>,
        backend: Option<BackendKind>,
        options: StoreOptions,
    ) -> Result<GraphStore> {
        let dir = dir.as_ref().to_path_buf();
        let marker = dir.join(MARKER_FILE);
        let kind = if marker.exists() {
            let text = std::fs::read_to_string(&marker).map_err(|e| Error::io(&marker, e))?;
            let mut kind = None;
            for line in text.lines() {
                if let Some(v) = line.strip_prefix("backend=") {
                    kind = Some(BackendKind::parse(v)?);
                }
                if let Some(v) = line.strip_prefix("format=") {
                    if v.trim() != FORMAT_VERSION.to_string() {
                        return Err(Error::Corrupt(format!(
                            "{}: data format {v} is not supported by this version (expects {FORMAT_VERSION}); load the data into a new directory",
                            marker.display()
                        )));
                    }
                }
            }
            let kind = kind
                .ok_or_else(|| Error::Corrupt(format!("{}: no backend line", marker.display())))?;
            if let Some(asked) = backend {
                if asked != kind {
                    return Err(Error::InvalidArgument(format!(
                        "{} was created with the {} backend, not {}",
                        dir.display(),
                        kind.name(),
                        asked.name()
                    )));
                }
            }
            kind
        } else {
            if dir.exists()
                && std::fs::read_dir(&dir)
                    .map_err(|e| Error::io(&dir, e))?
                    .next()
                    .is_some()
            {
                return Err(Error::InvalidArgument(format!(
                    "{} exists, is not empty and is not an Argus data directory (no {MARKER_FILE} file)",
                    dir.display()
                )));
            }
            let kind = backend.unwrap_or_default();
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            let tmp = dir.join(format!("{MARKER_FILE}.tmp"));
            std::fs::write(
                &tmp,
                format!("backend={}\nformat={FORMAT_VERSION}\n", kind.name()),
            )
            .map_err(|e| Error::io(&tmp, e))?;
            std::fs::rename(&tmp, &marker).map_err(|e| Error::io(&marker, e))?;
            kind
        };
        let backend = open_backend(kind, &dir.join(STORE_DIR), &options)?;
        GraphStore::over(dir, backend, options)
    }

    /// A store over an opened backend, with the catalog it holds.
    fn over(dir: PathBuf, backend: Arc<dyn Backend>, options: StoreOptions) -> Result<GraphStore> {
        let catalog = stored_catalog(backend.as_ref())?;
        Ok(GraphStore {
            dir,
            backend,
            catalog: RwLock::new(Arc::new(catalog)),
            writer: Mutex::new(()),
            table_cache: Arc::new(TableCache::new(options.table_cache_bytes)),
            options,
            deletion_epoch: std::sync::atomic::AtomicU64::new(0),
            generation: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Open the existing RocksDB store in `dir` as a read-only follower of the process that
    /// owns it (which may be writing): reads see the owner's commits up to the last
    /// [`GraphStore::catch_up`]; writes are refused. A follower's snapshots are views of its
    /// data as of the last catch-up: take them and catch up on one thread (as a Postgres
    /// backend does), or a snapshot held across a catch-up sees the newer data. `follower_dir` holds the follower's own
    /// files (one directory per follower). Many processes can follow one store.
    pub fn open_follower(
        dir: impl AsRef<Path>,
        follower_dir: impl AsRef<Path>,
        options: StoreOptions,
    ) -> Result<GraphStore> {
        let dir = dir.as_ref().to_path_buf();
        let marker = dir.join(MARKER_FILE);
        let text = std::fs::read_to_string(&marker).map_err(|e| Error::io(&marker, e))?;
        if !text.lines().any(|l| l.trim() == "backend=rocksdb") {
            return Err(Error::InvalidArgument(format!(
                "{}: only a RocksDB store can be followed by other processes",
                dir.display()
            )));
        }
        if !text
            .lines()
            .any(|l| l.strip_prefix("format=").map(str::trim) == Some(&FORMAT_VERSION.to_string()))
        {
            return Err(Error::Corrupt(format!(
                "{}: data format is not supported by this version (expects {FORMAT_VERSION})",
                marker.display()
            )));
        }
        let backend: Arc<dyn Backend> =
            Arc::new(crate::storage::rocks::RocksBackend::open_follower(
                &dir.join(STORE_DIR),
                follower_dir.as_ref(),
                &options,
            )?);
        GraphStore::over(dir, backend, options)
    }

    /// For a follower ([`GraphStore::open_follower`]): read the owner's commits since the last
    /// call, with the catalog they committed. Returns whether anything changed (and then the
    /// commit generation moves, so caches keyed by it rebuild). A no-op for an owner.
    pub fn catch_up(&self) -> Result<bool> {
        let mut committed = self.catalog.write();
        if !self.backend.catch_up()? {
            return Ok(false);
        }
        *committed = Arc::new(stored_catalog(self.backend.as_ref())?);
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // Node deletions may have happened: caches keyed by the deletion epoch rebuild too.
        self.deletion_epoch
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(true)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// The committed catalog.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().clone()
    }

    /// A consistent view of the committed state; later writes do not change it.
    pub fn snapshot(&self) -> Snapshot {
        // Commits hold the catalog lock for writing while they write and bump the generation,
        // so the view and the generation read here belong together.
        let catalog = self.catalog.read();
        Snapshot {
            view: self.backend.snapshot(),
            catalog: catalog.clone(),
            generation: self.generation.load(std::sync::atomic::Ordering::SeqCst),
            table_cache: self.table_cache.clone(),
        }
    }

    /// Run `f` as one atomic write transaction with the store's default durability.
    pub fn write<T>(&self, f: impl FnOnce(&mut WriteTxn<'_>) -> Result<T>) -> Result<T> {
        self.write_with(self.options.durability, f)
    }

    /// Run `f` as one atomic write transaction: if it returns `Ok`, all its changes are committed
    /// together (and durable per `durability`) before this returns; if it returns `Err`, nothing
    /// is changed.
    pub fn write_with<T>(
        &self,
        durability: Durability,
        f: impl FnOnce(&mut WriteTxn<'_>) -> Result<T>,
    ) -> Result<T> {
        let _guard = self.writer.lock();
        let mut txn = self.begin(None);
        let out = f(&mut txn)?;
        self.commit(txn.into_prepared(), durability)?;
        Ok(out)
    }

    fn begin(&self, carry: Option<Carry>) -> WriteTxn<'_> {
        let carry = carry.unwrap_or_else(|| Carry {
            catalog: (*self.catalog()).clone(),
            next_node: HashMap::default(),
            next_edge: HashMap::default(),
            fresh_sizes: [(0, 0); 2],
        });
        let [fresh, fresh_adjacency] = carry.fresh_sizes;
        WriteTxn {
            live: self.backend.as_ref(),
            catalog: carry.catalog,
            catalog_dirty: false,
            changes: Changes {
                pending: BTreeMap::new(),
                pending_bytes: 0,
                fresh: FreshPuts::with_capacity(fresh),
                fresh_adjacency: FreshPuts::with_capacity(fresh_adjacency),
                counters: HashMap::default(),
                degrees: HashMap::default(),
                next_node: carry.next_node,
                next_edge: carry.next_edge,
            },
            deleted_nodes: false,
        }
    }

    /// Apply a built transaction. The catalog lock is held across the backend write so that no
    /// snapshot pairs the new data with the old catalog.
    fn commit(&self, prepared: Prepared, durability: Durability) -> Result<()> {
        self.commit_in(prepared, durability, &mut WriteBatch::default())
    }

    /// [`GraphStore::commit`], packing the writes into `batch` (emptied first, its buffers
    /// reused).
    fn commit_in(
        &self,
        prepared: Prepared,
        durability: Durability,
        batch: &mut WriteBatch,
    ) -> Result<()> {
        batch.clear();
        prepared.changes.pack_into(batch, prepared.catalog.as_ref());
        let mut committed = self.catalog.write();
        self.backend.write(batch, durability)?;
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if prepared.deleted_nodes {
            self.deletion_epoch
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        if let Some(catalog) = prepared.catalog {
            *committed = Arc::new(catalog);
        }
        Ok(())
    }

    /// Start a pipeline: a sequence of transactions where each one is built while the one
    /// before it is still being committed (by [`Committer::commit`], typically on another
    /// thread). Other writers wait until the pipeline is dropped.
    ///
    /// A transaction in a pipeline continues the catalog and id counters of the one before it,
    /// but its reads do not see that one's writes until its commit has finished: only callers
    /// that remember what they wrote (the edge loader caches the nodes it creates) may use it.
    pub(crate) fn pipeline(&self) -> Pipeline<'_> {
        Pipeline {
            store: self,
            _writer: self.writer.lock(),
            carry: None,
        }
    }

    /// A counter that changes whenever a commit deletes nodes.
    pub fn deletion_epoch(&self) -> u64 {
        self.deletion_epoch
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Persist memtables and logs (a clean point for backups and benchmarks).
    pub fn flush(&self) -> Result<()> {
        self.backend.flush()
    }

    /// Wait until the backend's background compaction has caught up with the writes so far: a
    /// bulk load returns once its rows are durable and readable, while merging its table files
    /// goes on behind it (benchmarks time that part separately).
    pub fn wait_for_compaction(&self) -> Result<()> {
        self.backend.wait_for_background_work()
    }
}

/// What a pipelined transaction continues from the one built before it.
struct Carry {
    catalog: Catalog,
    next_node: HashMap<CatalogId, NodeId>,
    next_edge: HashMap<CatalogId, EdgeId>,
    /// How large the previous transaction's fresh puts grew: the next one of a bulk load
    /// reserves as much up front instead of doubling its buffers (each regrowth copies them and
    /// touches new pages, a large share of a load's time).
    fresh_sizes: [(usize, usize); 2],
}

/// A transaction built and not yet committed.
pub(crate) struct Prepared {
    changes: Changes,
    /// The new catalog, when the transaction changed it.
    catalog: Option<Catalog>,
    deleted_nodes: bool,
}

/// See [`GraphStore::pipeline`].
pub(crate) struct Pipeline<'s> {
    store: &'s GraphStore,
    _writer: parking_lot::MutexGuard<'s, ()>,
    carry: Option<Carry>,
}

impl<'s> Pipeline<'s> {
    /// Build the next transaction with `f`; nothing is written until [`Committer::commit`]. If
    /// `f` fails, the pipeline must not be used further (its counters may be ahead).
    pub(crate) fn build<T>(
        &mut self,
        f: impl FnOnce(&mut WriteTxn<'_>) -> Result<T>,
    ) -> Result<(T, Prepared)> {
        let mut txn = self.store.begin(self.carry.take());
        let out = f(&mut txn)?;
        self.carry = Some(Carry {
            catalog: txn.catalog.clone(),
            next_node: txn.changes.next_node.clone(),
            next_edge: txn.changes.next_edge.clone(),
            fresh_sizes: [
                txn.changes.fresh.sizes(),
                txn.changes.fresh_adjacency.sizes(),
            ],
        });
        Ok((out, txn.into_prepared()))
    }

    /// The store, for committing from another thread.
    pub(crate) fn committer(&self) -> Committer<'s> {
        Committer {
            store: self.store,
            batch: WriteBatch::default(),
        }
    }
}

/// Commits a pipeline's transactions, in the order they were built.
pub(crate) struct Committer<'s> {
    store: &'s GraphStore,
    /// The storage batch each commit is packed into: kept across commits, so that a bulk
    /// load's batches refill the same pages rather than have the kernel zero new ones for each.
    batch: WriteBatch,
}

impl Committer<'_> {
    /// Apply one built transaction, durable per the store's default durability when this
    /// returns `Ok`.
    pub(crate) fn commit(&mut self, prepared: Prepared) -> Result<()> {
        let durability = self.store.options.durability;
        self.store.commit_in(prepared, durability, &mut self.batch)
    }
}

/// A write transaction; see [`GraphStore::write_with`].
pub struct WriteTxn<'s> {
    live: &'s dyn Backend,
    catalog: Catalog,
    catalog_dirty: bool,
    changes: Changes,
    deleted_nodes: bool,
}

impl WriteTxn<'_> {
    /// The catalog as changed so far by this transaction.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.changes.pending.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.live.get(key),
        }
    }

    fn put(&mut self, key: impl Into<Vec<u8>>, value: Vec<u8>) {
        let key = key.into();
        self.changes.pending_bytes += key.len() + value.len();
        self.changes.pending.insert(key, Some(value));
    }

    fn delete(&mut self, key: impl Into<Vec<u8>>) {
        let key = key.into();
        self.changes.pending_bytes += key.len();
        self.changes.pending.insert(key, None);
    }

    /// Make room in the fresh-put buffers for `expected` rows of a bulk load, in proportion to
    /// what the first `seen` rows took: the first batch of a load has no earlier one to size its
    /// buffers from (see [`Carry`]), and doubling them copies and pages them in several times.
    pub(crate) fn reserve_fresh_for(&mut self, seen: usize, expected: usize) {
        self.changes.fresh.reserve_scaled(seen, expected);
        self.changes.fresh_adjacency.reserve_scaled(seen, expected);
    }

    /// Roughly how many bytes this transaction's changes take when encoded (keys rewritten
    /// within the transaction count once per write).
    pub(crate) fn approx_bytes(&self) -> usize {
        const COUNTER_BYTES: usize = keys::ADJ_PREFIX_LEN + 8;
        self.changes.pending_bytes
            + self.changes.fresh.byte_len()
            + self.changes.fresh_adjacency.byte_len()
            + (self.changes.degrees.len() + self.changes.counters.len()) * COUNTER_BYTES
    }

    fn add(&mut self, key: impl AsRef<[u8]>, delta: i64) {
        let key = key.as_ref();
        // Looked up borrowed first: a bulk load adds to the same few counters for every edge.
        match self.changes.counters.get_mut(key) {
            Some(total) => *total += delta,
            None => {
                self.changes.counters.insert(key.to_vec(), delta);
            }
        }
    }

    fn add_degree(&mut self, key: [u8; keys::ADJ_PREFIX_LEN], delta: i64) {
        *self.changes.degrees.entry(key).or_insert(0) += delta;
    }

    /// Make the fast-path puts visible to this transaction's reads.
    fn materialize(&mut self) {
        self.changes.pending_bytes +=
            self.changes.fresh.byte_len() + self.changes.fresh_adjacency.byte_len();
        // Moved into `pending`, fresh puts are no longer counted when the batch is packed.
        let changes = &mut self.changes;
        for k in changes.fresh_adjacency.keys() {
            *changes
                .degrees
                .entry(keys::degree_key_of_adjacency(&k))
                .or_insert(0) += 1;
        }
        for k in changes.fresh.keys() {
            let key = keys::edge_count_key(keys::edge_type_of_edge_key(&k));
            *changes.counters.entry(key).or_insert(0) += 1;
        }
        self.changes.fresh.drain_into(&mut self.changes.pending);
        self.changes
            .fresh_adjacency
            .drain_into(&mut self.changes.pending);
    }

    /// Committed keys in `[lower, upper)` merged with this transaction's pending changes.
    fn scan_merged(&self, lower: &[u8], upper: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for item in self.live.scan(lower, upper, false) {
            let (k, v) = item?;
            merged.insert(k.into_vec(), v.into_vec());
        }
        for (k, v) in self.changes.pending.range(lower.to_vec()..upper.to_vec()) {
            match v {
                Some(v) => merged.insert(k.clone(), v.clone()),
                None => merged.remove(k),
            };
        }
        Ok(merged.into_iter().collect())
    }

    /// Read a meta value (load checkpoints and the like), seeing this transaction's writes.
    pub fn meta(&self, name: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get(&keys::meta_key(name))
    }

    /// Write a meta value in this transaction.
    pub fn set_meta(&mut self, name: &[u8], value: Vec<u8>) {
        self.put(keys::meta_key(name), value);
    }

    fn touch_catalog(&mut self) {
        self.catalog_dirty = true;
    }

    /// Declare a node label.
    pub fn create_label(
        &mut self,
        name: &str,
        key_name: &str,
        properties: Vec<PropertyDef>,
    ) -> Result<CatalogId> {
        check_reserved_node_props(key_name, &properties)?;
        let id = self.catalog.create_label(name, key_name, properties)?;
        self.touch_catalog();
        Ok(id)
    }

    /// Declare an edge type between two labels.
    pub fn create_edge_type(
        &mut self,
        name: &str,
        src_label: &str,
        dst_label: &str,
        undirected: bool,
        properties: Vec<PropertyDef>,
    ) -> Result<CatalogId> {
        for p in &properties {
            check_reserved_edge_prop(&p.name)?;
        }
        let id = self
            .catalog
            .create_edge_type(name, src_label, dst_label, undirected, properties)?;
        self.touch_catalog();
        Ok(id)
    }

    /// Add a property to a label (a no-op if it exists with that type).
    pub fn add_label_property(&mut self, label: &str, prop: PropertyDef) -> Result<usize> {
        let def = self.catalog.label(label)?;
        if def.property_index(&prop.name).is_none() {
            check_reserved_node_props(&def.key_name, std::slice::from_ref(&prop))?;
        }
        let before = self.catalog.label(label)?.properties.len();
        let idx = self.catalog.add_label_property(label, prop)?;
        if self.catalog.label(label)?.properties.len() != before {
            self.touch_catalog();
        }
        Ok(idx)
    }

    /// Add a property to an edge type (a no-op if it exists with that type).
    pub fn add_edge_property(&mut self, edge_type: &str, prop: PropertyDef) -> Result<usize> {
        check_reserved_edge_prop(&prop.name)?;
        let before = self.catalog.edge_type(edge_type)?.properties.len();
        let idx = self.catalog.add_edge_property(edge_type, prop)?;
        if self.catalog.edge_type(edge_type)?.properties.len() != before {
            self.touch_catalog();
        }
        Ok(idx)
    }

    /// Internal id of a node, if it exists (seeing this transaction's writes).
    pub fn node_id(&self, label: CatalogId, key: &str) -> Result<Option<NodeId>> {
        self.get(&keys::key_to_id_key(label, key.as_bytes()))?
            .map(|b| keys::decode_u64(&b))
            .transpose()
    }

    fn allocate_node_id(&mut self, label: CatalogId) -> Result<NodeId> {
        let next = match self.changes.next_node.get(&label) {
            Some(n) => *n,
            None => match self.live.get(&keys::next_node_id_key(label))? {
                Some(b) => keys::decode_u64(&b)?,
                None => 0,
            },
        };
        self.changes.next_node.insert(label, next + 1);
        Ok(next)
    }

    fn allocate_edge_id(&mut self, edge_type: CatalogId) -> Result<EdgeId> {
        let next = match self.changes.next_edge.get(&edge_type) {
            Some(n) => *n,
            None => match self.live.get(&keys::next_edge_id_key(edge_type))? {
                Some(b) => keys::decode_u64(&b)?,
                None => 0,
            },
        };
        self.changes.next_edge.insert(edge_type, next + 1);
        Ok(next)
    }

    /// Resolve named properties against a label or edge type's catalog entry, checking types.
    fn resolve_props(def: &impl HasProperties, props: &[(&str, Value)]) -> Result<Props> {
        let mut out = Vec::with_capacity(props.len());
        for (name, value) in props {
            let idx = def.property_index(name).ok_or_else(|| {
                Error::Schema(format!(
                    "{} '{}' has no property '{name}' (add it first)",
                    def.kind(),
                    def.name()
                ))
            })?;
            let ty = def.properties()[idx].ty;
            let v = value.clone().coerce(ty).map_err(|m| {
                Error::Schema(format!(
                    "{} '{}', property '{name}': {m}",
                    def.kind(),
                    def.name()
                ))
            })?;
            out.push((idx as u16, v));
        }
        Ok(normalize_props(out))
    }

    /// Insert a node, or merge `props` into the existing node with that key. Returns its id.
    pub fn upsert_node(
        &mut self,
        label: &str,
        key: &str,
        props: &[(&str, Value)],
    ) -> Result<NodeId> {
        let def = self.catalog.label(label)?;
        let id = def.id;
        let props = Self::resolve_props(def, props)?;
        Ok(self.upsert_node_resolved(id, key, props)?.0)
    }

    /// [`WriteTxn::upsert_node`] with properties already resolved to catalog indexes and types
    /// (the bulk-load path). Returns the id and whether the node was created.
    pub fn upsert_node_resolved(
        &mut self,
        label: CatalogId,
        key: &str,
        props: Props,
    ) -> Result<(NodeId, bool)> {
        if key.is_empty() {
            return Err(Error::InvalidArgument("empty node key".into()));
        }
        self.catalog.label_by_id(label)?;
        match self.node_id(label, key)? {
            Some(id) => {
                if !props.is_empty() {
                    let nk = keys::node_key(label, id);
                    let bytes = self.get(&nk)?.ok_or_else(|| {
                        Error::Corrupt(format!(
                            "key '{key}' maps to id {id} but the node record is missing"
                        ))
                    })?;
                    let mut rec = NodeRecord::decode(&bytes)?;
                    rec.merge(props);
                    self.put(nk, rec.encode());
                }
                Ok((id, false))
            }
            None => {
                let id = self.allocate_node_id(label)?;
                self.put(
                    keys::key_to_id_key(label, key.as_bytes()),
                    keys::encode_u64(id).to_vec(),
                );
                let rec = NodeRecord {
                    key: key.to_string(),
                    props,
                };
                self.put(keys::node_key(label, id), rec.encode());
                self.add(keys::node_count_key(label), 1);
                Ok((id, true))
            }
        }
    }

    /// Insert an edge between two existing nodes named by key. Parallel edges are kept.
    pub fn insert_edge(
        &mut self,
        edge_type: &str,
        src_key: &str,
        dst_key: &str,
        time: Option<Micros>,
        props: &[(&str, Value)],
    ) -> Result<EdgeId> {
        let def = self.catalog.edge_type(edge_type)?;
        let (tid, sl, dl) = (def.id, def.src_label, def.dst_label);
        let props = Self::resolve_props(def, props)?;
        let src = self.require_node(sl, src_key)?;
        let dst = self.require_node(dl, dst_key)?;
        self.insert_edge_resolved(tid, src, dst, time, props)
    }

    fn require_node(&self, label: CatalogId, key: &str) -> Result<NodeId> {
        self.node_id(label, key)?.ok_or_else(|| {
            let name = self
                .catalog
                .label_by_id(label)
                .map(|l| l.name.clone())
                .unwrap_or_default();
            Error::NotFound(format!("no node {name}:{key}"))
        })
    }

    /// [`WriteTxn::insert_edge`] with endpoints as ids and resolved properties (the bulk-load
    /// path). The caller guarantees both endpoints exist.
    pub fn insert_edge_resolved(
        &mut self,
        edge_type: CatalogId,
        src: NodeId,
        dst: NodeId,
        time: Option<Micros>,
        props: Props,
    ) -> Result<EdgeId> {
        let def = self.catalog.edge_type_by_id(edge_type)?;
        let (sl, dl, undirected) = (def.src_label, def.dst_label, def.undirected);
        let time = match time {
            Some(NO_TIME) => {
                return Err(Error::InvalidArgument("edge time is out of range".into()));
            }
            Some(t) => t,
            None => NO_TIME,
        };
        let id = self.allocate_edge_id(edge_type)?;
        let record = EdgeRecord {
            src,
            dst,
            time,
            props,
        };
        let record = self
            .changes
            .fresh
            .push(keys::edge_key(edge_type, id), |out| record.encode_into(out));
        for (label, node, dir, other) in adjacency_entries(sl, dl, undirected, src, dst) {
            let k = AdjKey {
                label,
                node,
                edge_type,
                dir,
                time,
                edge: id,
            }
            .encode();
            let record = self.changes.fresh.value(record.clone());
            let props = match dir {
                Dir::Out => edge_record_props(record)?,
                Dir::In => &[],
            };
            // Its degree counter and the type's edge count are counted from the sorted fresh
            // puts when the batch is packed (`Changes::into_batch`), not here per edge.
            self.changes.fresh_adjacency.push(k, |out| {
                out.extend_from_slice(&other.to_be_bytes());
                out.extend_from_slice(props);
            });
        }
        Ok(id)
    }

    /// Delete one edge by id. Returns whether it existed.
    pub fn delete_edge(&mut self, edge_type: &str, edge: EdgeId) -> Result<bool> {
        let tid = self.catalog.edge_type(edge_type)?.id;
        self.delete_edge_by_id(tid, edge)
    }

    fn delete_edge_by_id(&mut self, edge_type: CatalogId, edge: EdgeId) -> Result<bool> {
        self.materialize();
        let def = self.catalog.edge_type_by_id(edge_type)?;
        let (sl, dl, undirected) = (def.src_label, def.dst_label, def.undirected);
        let ek = keys::edge_key(edge_type, edge);
        let Some(bytes) = self.get(&ek)? else {
            return Ok(false);
        };
        let rec = EdgeRecord::decode(&bytes)?;
        self.delete(ek);
        for (label, node, dir, _) in adjacency_entries(sl, dl, undirected, rec.src, rec.dst) {
            self.delete(
                AdjKey {
                    label,
                    node,
                    edge_type,
                    dir,
                    time: rec.time,
                    edge,
                }
                .encode(),
            );
            self.add_degree(keys::degree_key(label, node, edge_type, dir), -1);
        }
        self.add(keys::edge_count_key(edge_type), -1);
        Ok(true)
    }

    /// Delete every edge of a type from `src_key` to `dst_key` (parallel edges included; either
    /// way round for undirected types). Returns how many were deleted.
    pub fn delete_edges_between(
        &mut self,
        edge_type: &str,
        src_key: &str,
        dst_key: &str,
    ) -> Result<u64> {
        self.materialize();
        let def = self.catalog.edge_type(edge_type)?;
        let (tid, sl, dl) = (def.id, def.src_label, def.dst_label);
        let (Some(src), Some(dst)) = (self.node_id(sl, src_key)?, self.node_id(dl, dst_key)?)
        else {
            return Ok(0);
        };
        let prefix = keys::adj_prefix(sl, src, tid, Dir::Out);
        let entries = self.scan_merged(&prefix, &keys::prefix_successor(&prefix))?;
        let mut deleted = 0;
        for (k, v) in entries {
            if adjacency_other(&v)? == dst
                && self.delete_edge_by_id(tid, AdjKey::decode(&k)?.edge)?
            {
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    /// Delete a node and every edge touching it, in both directions. Returns whether it existed.
    pub fn delete_node(&mut self, label: &str, key: &str) -> Result<bool> {
        self.materialize();
        let lid = self.catalog.label(label)?.id;
        let Some(id) = self.node_id(lid, key)? else {
            return Ok(false);
        };
        let prefix = keys::adj_node_prefix(lid, id);
        let entries = self.scan_merged(&prefix, &keys::prefix_successor(&prefix))?;
        for (k, _) in entries {
            let adj = AdjKey::decode(&k)?;
            self.delete_edge_by_id(adj.edge_type, adj.edge)?;
        }
        self.delete(keys::key_to_id_key(lid, key.as_bytes()));
        self.delete(keys::node_key(lid, id));
        self.add(keys::node_count_key(lid), -1);
        self.deleted_nodes = true;
        Ok(true)
    }

    fn into_prepared(self) -> Prepared {
        Prepared {
            changes: self.changes,
            catalog: self.catalog_dirty.then_some(self.catalog),
            deleted_nodes: self.deleted_nodes,
        }
    }
}

/// A transaction's writes, not yet turned into a storage batch: a pipeline sorts and packs them
/// on its commit thread, so the thread building the next transaction does not.
struct Changes {
    /// Pending puts (`Some`) and deletes (`None`), read back by the transaction's own reads.
    pending: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Bytes written into `pending`, overwrites included.
    pending_bytes: usize,
    /// Puts of keys that cannot exist yet (records of newly allocated edge ids): appended
    /// without ordering or lookup, the bulk-load fast path. Moved into `pending` before anything
    /// that could read them back (deletes).
    fresh: FreshPuts<{ keys::EDGE_KEY_LEN }>,
    /// Fast-path adjacency puts, kept apart because they arrive in random order and are sorted
    /// before the commit.
    fresh_adjacency: FreshPuts<{ keys::ADJ_KEY_LEN }>,
    counters: HashMap<Vec<u8>, i64>,
    degrees: HashMap<[u8; keys::ADJ_PREFIX_LEN], i64>,
    next_node: HashMap<CatalogId, NodeId>,
    next_edge: HashMap<CatalogId, EdgeId>,
}

/// Puts of fresh keys of one fixed length, with every value packed into one buffer: a bulk load
/// adds three per edge, and an allocation for each (made on the building thread, freed on the
/// committing one) was a large share of its cost.
struct FreshPuts<const K: usize> {
    /// Key, and where its value lies in `values`.
    entries: Vec<([u8; K], std::ops::Range<usize>)>,
    values: Vec<u8>,
}

impl<const K: usize> FreshPuts<K> {
    /// Room for `entries` puts whose values take `value_bytes`, with a little slack.
    fn with_capacity((entries, value_bytes): (usize, usize)) -> Self {
        FreshPuts {
            entries: Vec::with_capacity(entries + entries / 16),
            values: Vec::with_capacity(value_bytes + value_bytes / 16),
        }
    }

    /// Room for what the puts so far take, scaled from `seen` rows to `expected`.
    fn reserve_scaled(&mut self, seen: usize, expected: usize) {
        // With a sixteenth of slack, as `with_capacity` gives, for rows a little wider later.
        let scaled = |n: usize| (n as f64 * expected as f64 / seen.max(1) as f64 * 1.0625) as usize;
        let (entries, values) = (scaled(self.entries.len()), scaled(self.values.len()));
        self.entries
            .reserve(entries.saturating_sub(self.entries.len()));
        self.values
            .reserve(values.saturating_sub(self.values.len()));
    }

    /// Puts and value bytes held, for [`FreshPuts::with_capacity`].
    fn sizes(&self) -> (usize, usize) {
        (self.entries.len(), self.values.len())
    }

    /// Append a put whose value `write` appends to the buffer; returns the value's place.
    fn push(&mut self, key: [u8; K], write: impl FnOnce(&mut Vec<u8>)) -> std::ops::Range<usize> {
        let start = self.values.len();
        write(&mut self.values);
        let range = start..self.values.len();
        self.entries.push((key, range.clone()));
        range
    }

    fn value(&self, range: std::ops::Range<usize>) -> &[u8] {
        &self.values[range]
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn byte_len(&self) -> usize {
        self.entries.len() * K + self.values.len()
    }

    fn drain_into(&mut self, pending: &mut BTreeMap<Vec<u8>, Option<Vec<u8>>>) {
        for (k, range) in self.entries.drain(..) {
            pending.insert(k.to_vec(), Some(self.values[range].to_vec()));
        }
        self.values.clear();
    }

    fn keys(&self) -> impl Iterator<Item = [u8; K]> + '_ {
        self.entries.iter().map(|(k, _)| *k)
    }

    /// Queue every put into `batch` in key order, showing each key to `visit`.
    fn put_sorted(mut self, batch: &mut WriteBatch, mut visit: impl FnMut(&[u8; K])) {
        self.entries
            .sort_unstable_by(|a, b| keys::compare_fixed(&a.0, &b.0));
        for (k, range) in self.entries {
            visit(&k);
            batch.put_fresh(k, &self.values[range]);
        }
    }
}

/// Count `item` into `runs`, the lengths of the runs of equal items seen so far in order.
fn count_run<T: PartialEq>(runs: &mut Vec<(T, i64)>, item: T) {
    match runs.last_mut() {
        Some((last, n)) if *last == item => *n += 1,
        _ => runs.push((item, 1)),
    }
}

impl Changes {
    /// Queue these writes into `batch`, with the catalog when it changed.
    fn pack_into(self, batch: &mut WriteBatch, catalog: Option<&Catalog>) {
        let sized = |k: &[u8], v: &[u8]| k.len() + v.len();
        let bytes = self
            .pending
            .iter()
            .map(|(k, v)| sized(k, v.as_deref().unwrap_or_default()))
            .sum::<usize>()
            + self.fresh.byte_len()
            + self.fresh_adjacency.byte_len()
            // Fresh adjacency entries add at most one degree counter each (see below).
            + (self.degrees.len() + self.fresh_adjacency.len() + self.counters.len())
                * (keys::ADJ_PREFIX_LEN + 8);
        batch.reserve(
            self.pending.len()
                + self.fresh.len()
                + 2 * self.fresh_adjacency.len()
                + self.degrees.len(),
            bytes,
        );
        for (k, v) in self.pending {
            match v {
                Some(v) => batch.put(k, v),
                None => batch.delete(k),
            }
        }
        // Disjoint from `pending`: fresh keys were never read, deleted or written before. Sorted,
        // because a large batch writes them straight into sorted table files, and in a small
        // one a memtable insert next to the previous one is several times cheaper than one at a
        // random place (the skip list keeps its last position).
        //
        // Each fresh adjacency entry adds one to its node's degree and each fresh record one to
        // its type's edge count. Counting them here, as runs of equal prefixes in sorted order,
        // is a sequential pass; a hash-map update per edge while building missed the cache for
        // nearly every node of a large load.
        let mut fresh_degrees = Vec::new();
        self.fresh_adjacency.put_sorted(batch, |k| {
            count_run(&mut fresh_degrees, keys::degree_key_of_adjacency(k))
        });
        let mut fresh_edges = Vec::new();
        self.fresh.put_sorted(batch, |k| {
            count_run(&mut fresh_edges, keys::edge_type_of_edge_key(k))
        });
        let mut counters = self.counters;
        for (edge_type, n) in fresh_edges {
            *counters.entry(keys::edge_count_key(edge_type)).or_insert(0) += n;
        }
        let degrees = if self.degrees.is_empty() {
            fresh_degrees
        } else {
            let mut all = self.degrees;
            for (k, n) in fresh_degrees {
                *all.entry(k).or_insert(0) += n;
            }
            let mut all: Vec<_> = all.into_iter().filter(|(_, d)| *d != 0).collect();
            all.sort_unstable_by_key(|(k, _)| *k);
            all
        };
        for (k, d) in degrees {
            batch.add(k, d);
        }
        let mut counters: Vec<_> = counters.into_iter().filter(|(_, d)| *d != 0).collect();
        counters.sort();
        for (k, d) in counters {
            batch.add(k, d);
        }
        for (label, next) in self.next_node {
            batch.put(keys::next_node_id_key(label), keys::encode_u64(next));
        }
        for (t, next) in self.next_edge {
            batch.put(keys::next_edge_id_key(t), keys::encode_u64(next));
        }
        if let Some(catalog) = catalog {
            batch.put(keys::catalog_key(), catalog.to_json());
        }
    }
}

/// Names the engine gives its own node columns; properties may not take them.
fn check_reserved_node_props(key_name: &str, props: &[PropertyDef]) -> Result<()> {
    for p in props {
        if p.name == key_name || p.name == "_id" {
            return Err(Error::Schema(format!(
                "property name '{}' is reserved (the node key is shown as '{key_name}', the internal id as '_id')",
                p.name
            )));
        }
    }
    Ok(())
}

/// Columns every edge table has; properties may not take these names.
pub const EDGE_COLUMNS: [&str; 6] = ["edge_id", "src", "dst", "src_id", "dst_id", "time"];

fn check_reserved_edge_prop(name: &str) -> Result<()> {
    if EDGE_COLUMNS.contains(&name) {
        return Err(Error::Schema(format!(
            "property name '{name}' is reserved for edges (reserved: {})",
            EDGE_COLUMNS.join(", ")
        )));
    }
    Ok(())
}

/// The adjacency entries `(label, node, direction, other end)` of one edge. Directed edges get an
/// out-entry at the source and an in-entry at the destination; undirected ones an out-entry at
/// both ends (one for a self-loop).
pub fn adjacency_entries(
    src_label: CatalogId,
    dst_label: CatalogId,
    undirected: bool,
    src: NodeId,
    dst: NodeId,
) -> Vec<(CatalogId, NodeId, Dir, NodeId)> {
    if undirected {
        if src_label == dst_label && src == dst {
            vec![(src_label, src, Dir::Out, dst)]
        } else {
            vec![
                (src_label, src, Dir::Out, dst),
                (dst_label, dst, Dir::Out, src),
            ]
        }
    } else {
        vec![
            (src_label, src, Dir::Out, dst),
            (dst_label, dst, Dir::In, src),
        ]
    }
}

/// A consistent, read-only view of the store at one moment.
#[derive(Clone)]
pub struct Snapshot {
    view: Arc<dyn ReadView>,
    catalog: Arc<Catalog>,
    generation: u64,
    table_cache: Arc<TableCache>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("labels", &self.catalog.labels.len())
            .field("edge_types", &self.catalog.edge_types.len())
            .finish()
    }
}

impl Snapshot {
    /// The catalog as of this snapshot.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The store's commit count when this snapshot was taken (within this process).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The store's cache of in-memory table copies.
    pub fn table_cache(&self) -> &Arc<TableCache> {
        &self.table_cache
    }

    /// The raw key-value view (for consistency checks and scans).
    pub fn view(&self) -> &Arc<dyn ReadView> {
        &self.view
    }

    /// Internal id of the node with this key.
    pub fn node_id(&self, label: &str, key: &str) -> Result<Option<NodeId>> {
        let lid = self.catalog.label(label)?.id;
        self.node_id_in(lid, key)
    }

    /// Internal id of a node by label id.
    pub fn node_id_in(&self, label: CatalogId, key: &str) -> Result<Option<NodeId>> {
        self.view
            .get(&keys::key_to_id_key(label, key.as_bytes()))?
            .map(|b| keys::decode_u64(&b))
            .transpose()
    }

    /// A node by key.
    pub fn node(&self, label: &str, key: &str) -> Result<Option<Node>> {
        let lid = self.catalog.label(label)?.id;
        match self.node_id_in(lid, key)? {
            Some(id) => self.node_by_id(lid, id),
            None => Ok(None),
        }
    }

    /// A node by id.
    pub fn node_by_id(&self, label: CatalogId, id: NodeId) -> Result<Option<Node>> {
        let def = self.catalog.label_by_id(label)?;
        let Some(bytes) = self.view.get(&keys::node_key(label, id))? else {
            return Ok(None);
        };
        let rec = NodeRecord::decode(&bytes)?;
        Ok(Some(Node {
            label,
            id,
            key: rec.key,
            props: name_props(def, rec.props)?,
        }))
    }

    /// The external key of a node id.
    pub fn node_key(&self, label: CatalogId, id: NodeId) -> Result<Option<String>> {
        self.view
            .get(&keys::node_key(label, id))?
            .map(|b| NodeRecord::decode_key(&b))
            .transpose()
    }

    /// An edge by id.
    pub fn edge(&self, edge_type: CatalogId, id: EdgeId) -> Result<Option<Edge>> {
        let def = self.catalog.edge_type_by_id(edge_type)?;
        let Some(bytes) = self.view.get(&keys::edge_key(edge_type, id))? else {
            return Ok(None);
        };
        let rec = EdgeRecord::decode(&bytes)?;
        Ok(Some(Edge {
            edge_type,
            id,
            src: rec.src,
            dst: rec.dst,
            time: opt_time(rec.time),
            props: name_props(def, rec.props)?,
        }))
    }

    /// Stored degree of a node for one edge type and direction (no scan).
    pub fn degree(
        &self,
        label: CatalogId,
        node: NodeId,
        edge_type: CatalogId,
        dir: Dir,
    ) -> Result<u64> {
        self.counter(&keys::degree_key(label, node, edge_type, dir))
    }

    fn counter(&self, key: &[u8]) -> Result<u64> {
        Ok(match self.view.get(key)? {
            Some(b) => keys::decode_counter(&b)?.max(0) as u64,
            None => 0,
        })
    }

    /// Number of live nodes of a label.
    pub fn node_count(&self, label: CatalogId) -> Result<u64> {
        self.counter(&keys::node_count_key(label))
    }

    /// Number of live edges of a type.
    pub fn edge_count(&self, edge_type: CatalogId) -> Result<u64> {
        self.counter(&keys::edge_count_key(edge_type))
    }

    /// The (edge type, direction) pairs a node of `label` can have entries under.
    fn adjacency_slots(
        &self,
        label: CatalogId,
        q: &NeighborQuery,
    ) -> Result<Vec<(CatalogId, Dir)>> {
        let types: Vec<_> = match &q.edge_type {
            Some(name) => vec![self.catalog.edge_type(name)?],
            None => self.catalog.edge_types.iter().collect(),
        };
        let mut slots = Vec::new();
        for t in types {
            if t.undirected {
                if t.src_label == label || t.dst_label == label {
                    slots.push((t.id, Dir::Out));
                }
                continue;
            }
            if t.src_label == label && matches!(q.direction, Direction::Out | Direction::Both) {
                slots.push((t.id, Dir::Out));
            }
            if t.dst_label == label && matches!(q.direction, Direction::In | Direction::Both) {
                slots.push((t.id, Dir::In));
            }
        }
        if slots.is_empty() {
            if let Some(name) = &q.edge_type {
                let t = self.catalog.edge_type(name)?;
                let lname = &self.catalog.label_by_id(label)?.name;
                return Err(Error::InvalidArgument(format!(
                    "edge type '{name}' goes from '{}' to '{}': a '{lname}' node has no {} edges of it",
                    self.catalog.label_by_id(t.src_label)?.name,
                    self.catalog.label_by_id(t.dst_label)?.name,
                    match q.direction {
                        Direction::Out => "outgoing",
                        Direction::In => "incoming",
                        Direction::Both => "",
                    }
                )));
            }
        }
        Ok(slots)
    }

    /// Edges of a node (by key) matching `q`, newest first unless `q.oldest_first`.
    pub fn neighbors(&self, label: &str, key: &str, q: &NeighborQuery) -> Result<Vec<Neighbor>> {
        let (lid, id) = self.existing_node(label, key)?;
        self.neighbors_by_id(lid, id, q)
    }

    /// Label id and node id of `label:key`, or a not-found error naming it.
    fn existing_node(&self, label: &str, key: &str) -> Result<(CatalogId, NodeId)> {
        let lid = self.catalog.label(label)?.id;
        let id = self
            .node_id_in(lid, key)?
            .ok_or_else(|| Error::NotFound(format!("no node {label}:{key}")))?;
        Ok((lid, id))
    }

    /// Edges of a node (by id) matching `q`: one range scan per (edge type, direction).
    pub fn neighbors_by_id(
        &self,
        label: CatalogId,
        node: NodeId,
        q: &NeighborQuery,
    ) -> Result<Vec<Neighbor>> {
        self.scan_adjacency(label, node, q, |_, _| Ok(()))
            .map(|found| found.into_iter().map(|(n, ())| n).collect())
    }

    /// Edges of a node (by key) matching `q` with each edge's properties (indexes into the edge
    /// type's catalog entry), newest first unless `q.oldest_first`.
    pub fn neighbor_edges(
        &self,
        label: &str,
        key: &str,
        q: &NeighborQuery,
    ) -> Result<Vec<(Neighbor, Props)>> {
        let (lid, id) = self.existing_node(label, key)?;
        self.neighbor_edges_by_id(lid, id, q)
    }

    /// [`Snapshot::neighbor_edges`] by node id. Out-entries (and undirected ones) carry their
    /// edge's properties, so outgoing edges cost the same range scans as
    /// [`Snapshot::neighbors_by_id`]; incoming edges add one lookup per edge.
    pub fn neighbor_edges_by_id(
        &self,
        label: CatalogId,
        node: NodeId,
        q: &NeighborQuery,
    ) -> Result<Vec<(Neighbor, Props)>> {
        self.scan_adjacency(label, node, q, |n, value| {
            match adjacency_props_section(value) {
                Some(section) => decode_props(section),
                // In-entries carry no properties: read the edge record.
                None => match self.view.get(&keys::edge_key(n.edge_type, n.edge_id))? {
                    Some(bytes) => Ok(EdgeRecord::decode(&bytes)?.props),
                    None => Err(Error::Corrupt(format!(
                        "adjacency entry names edge type#{} edge {}, which does not exist",
                        n.edge_type, n.edge_id
                    ))),
                },
            }
        })
    }

    /// One range scan per (edge type, direction) slot of the node, `extract` reading what the
    /// caller wants from each entry's value; merged across slots in time order, reading no
    /// further than `q.limit` entries need.
    fn scan_adjacency<T>(
        &self,
        label: CatalogId,
        node: NodeId,
        q: &NeighborQuery,
        mut extract: impl FnMut(&Neighbor, &[u8]) -> Result<T>,
    ) -> Result<Vec<(Neighbor, T)>> {
        let limit = match q.limit {
            Some(n) if n > MAX_NEIGHBOR_LIMIT => {
                return Err(Error::InvalidArgument(format!(
                    "neighbour limit {n} is above the largest allowed, {MAX_NEIGHBOR_LIMIT}"
                )))
            }
            Some(n) => n,
            None => usize::MAX,
        };
        let mut out = Vec::new();
        for entry in self.adjacency(label, node, q)?.take(limit) {
            let (neighbor, value) = entry?;
            let extracted = extract(&neighbor, &value[..])?;
            out.push((neighbor, extracted));
        }
        Ok(out)
    }

    /// Edges of a node (by id) matching `q`, read lazily: newest first unless
    /// `q.oldest_first`, ties in (time, edge type, edge id) order, `q.limit` ignored. Each
    /// (edge type, direction) slot is one range scan in time order, and the slots are merged as
    /// they are read, so a caller that stops after `n` entries has read about `n` entries per
    /// slot however long the node's adjacency is.
    pub fn neighbors_iter(
        &self,
        label: CatalogId,
        node: NodeId,
        q: &NeighborQuery,
    ) -> Result<NeighborIter<'_>> {
        Ok(NeighborIter(self.adjacency(label, node, q)?))
    }

    /// Visit the edges of a node (by id) matching `q` as they lie in storage: one slot (edge
    /// type, direction) after another, oldest first within a slot, entries read in place
    /// without being copied or merged across slots; `q.oldest_first` and `q.limit` are
    /// ignored, and `visit` returning `false` stops. For reads that consume every edge at once
    /// (counts, distinct neighbours, traversals), where the ordered list of
    /// [`Snapshot::neighbors_by_id`] costs more than the work done with it.
    pub fn for_each_neighbor(
        &self,
        label: CatalogId,
        node: NodeId,
        q: &NeighborQuery,
        mut visit: impl FnMut(&Neighbor) -> bool,
    ) -> Result<()> {
        let since = q.since.unwrap_or(NO_TIME);
        let until = q.until.unwrap_or(i64::MAX);
        if since > until {
            return Ok(());
        }
        for (edge_type, dir) in self.adjacency_slots(label, q)? {
            let other_label = self.other_label(label, edge_type, dir)?;
            let (lo, hi) = keys::adj_time_range(label, node, edge_type, dir, since, until);
            let mut stopped = false;
            self.view.scan_each(&lo, &hi, &mut |key, value| {
                let adj = AdjKey::decode(key)?;
                let neighbor = Neighbor {
                    edge_type,
                    edge_id: adj.edge,
                    dir,
                    time: opt_time(adj.time),
                    label: other_label,
                    node: adjacency_other(value)?,
                };
                stopped = !visit(&neighbor);
                Ok(!stopped)
            })?;
            if stopped {
                break;
            }
        }
        Ok(())
    }

    /// The label at the other end of `edge_type`'s edges seen from a `label` node in `dir`.
    fn other_label(&self, label: CatalogId, edge_type: CatalogId, dir: Dir) -> Result<CatalogId> {
        let def = self.catalog.edge_type_by_id(edge_type)?;
        Ok(match (def.undirected, dir) {
            (true, _) if def.src_label == label => def.dst_label,
            (true, _) => def.src_label,
            (false, Dir::Out) => def.dst_label,
            (false, Dir::In) => def.src_label,
        })
    }

    fn adjacency(
        &self,
        label: CatalogId,
        node: NodeId,
        q: &NeighborQuery,
    ) -> Result<AdjacencyMerge<'_>> {
        let since = q.since.unwrap_or(NO_TIME);
        let until = q.until.unwrap_or(i64::MAX);
        let slots = self.adjacency_slots(label, q)?;
        let mut scans = Vec::with_capacity(slots.len());
        if since <= until {
            for (edge_type, dir) in slots {
                let other_label = self.other_label(label, edge_type, dir)?;
                let (lo, hi) = keys::adj_time_range(label, node, edge_type, dir, since, until);
                scans.push(SlotScan {
                    entries: self.view.scan(&lo, &hi, !q.oldest_first),
                    edge_type,
                    dir,
                    other_label,
                    head: None,
                    done: false,
                });
            }
        }
        Ok(AdjacencyMerge {
            scans,
            oldest_first: q.oldest_first,
            entries_read: 0,
        })
    }
}

/// Edges of one node, read lazily in time order: see [`Snapshot::neighbors_iter`].
pub struct NeighborIter<'a>(AdjacencyMerge<'a>);

impl NeighborIter<'_> {
    /// Adjacency entries read from storage so far: what was consumed plus at most one entry
    /// read ahead per (edge type, direction) slot.
    pub fn entries_read(&self) -> u64 {
        self.0.entries_read
    }
}

impl Iterator for NeighborIter<'_> {
    type Item = Result<Neighbor>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|e| e.map(|(n, _)| n))
    }
}

/// One (edge type, direction) slot's range scan, with the entry read but not yet merged.
struct SlotScan<'a> {
    entries: crate::storage::KvIter<'a>,
    edge_type: CatalogId,
    dir: Dir,
    other_label: CatalogId,
    head: Option<(Neighbor, Box<[u8]>)>,
    done: bool,
}

impl SlotScan<'_> {
    /// Read the next entry into `head` unless one is there; `Ok(false)` once exhausted.
    fn fill(&mut self, entries_read: &mut u64) -> Result<bool> {
        if self.head.is_some() {
            return Ok(true);
        }
        if self.done {
            return Ok(false);
        }
        let Some(item) = self.entries.next() else {
            self.done = true;
            return Ok(false);
        };
        *entries_read += 1;
        let (k, v) = item?;
        let adj = AdjKey::decode(&k)?;
        let neighbor = Neighbor {
            edge_type: self.edge_type,
            edge_id: adj.edge,
            dir: self.dir,
            time: opt_time(adj.time),
            label: self.other_label,
            node: adjacency_other(&v)?,
        };
        self.head = Some((neighbor, v));
        Ok(true)
    }
}

/// The slots of a node merged by time as they are read (see [`Snapshot::neighbors_iter`]).
struct AdjacencyMerge<'a> {
    scans: Vec<SlotScan<'a>>,
    oldest_first: bool,
    entries_read: u64,
}

impl AdjacencyMerge<'_> {
    fn next_entry(&mut self) -> Result<Option<(Neighbor, Box<[u8]>)>> {
        let order = |n: &Neighbor| (n.time.unwrap_or(NO_TIME), n.edge_type, n.edge_id);
        let mut best: Option<usize> = None;
        for i in 0..self.scans.len() {
            if !self.scans[i].fill(&mut self.entries_read)? {
                continue;
            }
            let Some(b) = best else {
                best = Some(i);
                continue;
            };
            let (this, current) = (
                order(&self.scans[i].head.as_ref().expect("filled").0),
                order(&self.scans[b].head.as_ref().expect("filled").0),
            );
            // On ties the earlier slot wins, as a stable sort of the slots' entries would.
            let better = if self.oldest_first {
                this < current
            } else {
                this > current
            };
            if better {
                best = Some(i);
            }
        }
        Ok(best.and_then(|i| self.scans[i].head.take()))
    }
}

impl Iterator for AdjacencyMerge<'_> {
    type Item = Result<(Neighbor, Box<[u8]>)>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = self.next_entry();
        if next.is_err() {
            // A failed read ends the iteration after reporting the error once.
            for scan in &mut self.scans {
                scan.done = true;
                scan.head = None;
            }
        }
        next.transpose()
    }
}

/// The type a property would get for this value (used when a load declares new properties).
pub fn prop_def(name: &str, ty: PropType) -> PropertyDef {
    PropertyDef {
        name: name.to_string(),
        ty,
    }
}
