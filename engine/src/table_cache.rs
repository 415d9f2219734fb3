//! In-memory columnar copies of whole node labels and edge types, for scans that read most of
//! a table (analytics: "amount per merchant category", "top merchants this week").
//!
//! RocksDB is laid out for graph access — a node's adjacency is one range scan — but a scan of
//! every edge decodes millions of rows. The first such scan of a table builds an Arrow copy of
//! it; later scans of the same committed state slice that copy instead. Edge copies also keep
//! a time-ordered permutation, so a time-range filter without a key is a binary search instead
//! of a filtered full scan.
//!
//! Consistency: every commit bumps the store's generation, and a snapshot carries the
//! generation it was taken at. A copy is used only by snapshots of the generation it was built
//! from, so a scan never mixes committed states. Copies are bounded by a byte budget
//! ([`crate::StoreOptions::table_cache_bytes`]) and evicted least recently used first; a table
//! whose estimated size exceeds the budget is never copied and keeps being scanned from disk.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray, UInt32Array, UInt64Array};
use parking_lot::Mutex;

use crate::arrow::Projection;
use crate::error::{Error, Result};
use crate::keys::{self, CatalogId, Micros};
use crate::Snapshot;

/// Which table a cached copy holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CachedKind {
    /// A node label.
    Nodes(CatalogId),
    /// An edge type.
    Edges(CatalogId),
}

/// A whole table as one Arrow batch (full schema, scan order), plus, for edges, the row order
/// by time.
#[derive(Debug)]
pub struct CachedTable {
    batch: RecordBatch,
    /// Rows with a time, ordered by (time, row).
    time_order: Vec<u32>,
    /// `time_order`'s times, for binary search.
    sorted_times: Vec<Micros>,
    bytes: usize,
    build_time: Duration,
}

impl CachedTable {
    /// Every row, every column, in scan order (node id or edge id).
    pub fn batch(&self) -> &RecordBatch {
        &self.batch
    }

    /// Approximate memory held by this copy.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// How long building the copy took.
    pub fn build_time(&self) -> Duration {
        self.build_time
    }

    /// The rows (all columns, or the projected ones) whose time lies in `[lo, hi]`, in scan
    /// order. Untimed rows never match.
    pub fn rows_in_time(
        &self,
        lo: Micros,
        hi: Micros,
        projection: &Projection,
    ) -> Result<RecordBatch> {
        let range = self.time_range(lo, hi);
        let mut rows: Vec<u32> = self.time_order[range].to_vec();
        // Scan order (by id), the same order an uncached scan produces.
        rows.sort_unstable();
        let indices = UInt32Array::from(rows);
        let source = project(&self.batch, projection)?;
        arrow_select::take::take_record_batch(&source, &indices)
            .map_err(|e| Error::InvalidArgument(e.to_string()))
    }

    /// Positions in `time_order` of the rows with time in `[lo, hi]`.
    fn time_range(&self, lo: Micros, hi: Micros) -> Range<usize> {
        if lo > hi {
            return 0..0;
        }
        let start = self.sorted_times.partition_point(|&t| t < lo);
        let end = self.sorted_times.partition_point(|&t| t <= hi);
        start..end.max(start)
    }
}

/// Project a batch by column indexes (`None`: all columns).
pub fn project(batch: &RecordBatch, projection: &Projection) -> Result<RecordBatch> {
    match projection {
        Some(p) => batch
            .project(p)
            .map_err(|e| Error::InvalidArgument(e.to_string())),
        None => Ok(batch.clone()),
    }
}

struct Entry {
    generation: u64,
    table: Arc<CachedTable>,
    last_used: u64,
}

/// The per-store set of cached tables; see the module documentation.
pub struct TableCache {
    budget_bytes: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<CachedKind, Entry>,
    used_bytes: usize,
    clock: u64,
}

impl std::fmt::Debug for TableCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.inner.lock();
        f.debug_struct("TableCache")
            .field("budget_bytes", &self.budget_bytes)
            .field("used_bytes", &inner.used_bytes)
            .field("tables", &inner.entries.len())
            .finish()
    }
}

/// A rough per-row size before building, to refuse tables that cannot fit.
const ESTIMATED_FIXED_ROW_BYTES: usize = 64;
const ESTIMATED_PROPERTY_BYTES: usize = 16;

impl TableCache {
    /// An empty cache holding at most `budget_bytes` (0 disables it).
    pub fn new(budget_bytes: usize) -> TableCache {
        TableCache {
            budget_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Memory currently held by cached tables.
    pub fn used_bytes(&self) -> usize {
        self.inner.lock().used_bytes
    }

    fn lookup(&self, kind: CachedKind, generation: u64) -> Option<Arc<CachedTable>> {
        let mut inner = self.inner.lock();
        inner.clock += 1;
        let now = inner.clock;
        let entry = inner.entries.get_mut(&kind)?;
        if entry.generation != generation {
            return None;
        }
        entry.last_used = now;
        Some(entry.table.clone())
    }

    fn insert(&self, kind: CachedKind, generation: u64, table: Arc<CachedTable>) {
        let mut inner = self.inner.lock();
        if let Some(old) = inner.entries.remove(&kind) {
            inner.used_bytes -= old.table.bytes;
        }
        // Copies of older generations can never be used again.
        let stale: Vec<CachedKind> = inner
            .entries
            .iter()
            .filter(|(_, e)| e.generation < generation)
            .map(|(k, _)| *k)
            .collect();
        for k in stale {
            if let Some(e) = inner.entries.remove(&k) {
                inner.used_bytes -= e.table.bytes;
            }
        }
        while inner.used_bytes + table.bytes > self.budget_bytes {
            let Some(victim) = inner
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| *k)
            else {
                return;
            };
            if let Some(e) = inner.entries.remove(&victim) {
                inner.used_bytes -= e.table.bytes;
            }
        }
        inner.clock += 1;
        let last_used = inner.clock;
        inner.used_bytes += table.bytes;
        inner.entries.insert(
            kind,
            Entry {
                generation,
                table,
                last_used,
            },
        );
    }
}

impl Snapshot {
    /// The in-memory copy of a whole table as of this snapshot, building it on first use;
    /// `None` when the table would not fit the cache budget (scan it from storage instead).
    pub fn cached_table(&self, kind: CachedKind) -> Result<Option<Arc<CachedTable>>> {
        let cache = self.table_cache();
        if let Some(t) = cache.lookup(kind, self.generation()) {
            return Ok(Some(t));
        }
        let (rows, properties) = match kind {
            CachedKind::Nodes(l) => (
                self.node_count(l)?,
                self.catalog().label_by_id(l)?.properties.len(),
            ),
            CachedKind::Edges(t) => (
                self.edge_count(t)?,
                self.catalog().edge_type_by_id(t)?.properties.len(),
            ),
        };
        let estimate = (rows as usize)
            .saturating_mul(ESTIMATED_FIXED_ROW_BYTES + properties * ESTIMATED_PROPERTY_BYTES);
        if estimate > cache.budget_bytes {
            return Ok(None);
        }
        let started = Instant::now();
        // Builders allocate a whole batch up front: small tables get small batches.
        let batch_rows = (rows as usize).clamp(1, 65_536);
        let mut table = match kind {
            CachedKind::Nodes(l) => self.build_node_copy(l, batch_rows)?,
            CachedKind::Edges(t) => self.build_edge_copy(t, batch_rows)?,
        };
        table.build_time = started.elapsed();
        if table.bytes > cache.budget_bytes {
            return Ok(None);
        }
        let table = Arc::new(table);
        cache.insert(kind, self.generation(), table.clone());
        Ok(Some(table))
    }

    fn build_node_copy(&self, label: CatalogId, batch_rows: usize) -> Result<CachedTable> {
        let name = self.catalog().label_by_id(label)?.name.clone();
        let batches = self
            .scan_nodes(&name, batch_rows, None)?
            .collect::<Result<Vec<_>>>()?;
        let schema = crate::arrow::node_schema(self.catalog(), label)?;
        let batch = arrow_select::concat::concat_batches(&schema, &batches)
            .map_err(|e| Error::Corrupt(e.to_string()))?;
        Ok(CachedTable {
            bytes: batch.get_array_memory_size(),
            batch,
            time_order: Vec::new(),
            sorted_times: Vec::new(),
            build_time: Duration::ZERO,
        })
    }

    fn build_edge_copy(&self, edge_type: CatalogId, batch_rows: usize) -> Result<CachedTable> {
        let def = self.catalog().edge_type_by_id(edge_type)?;
        let name = def.name.clone();
        let (src_label, dst_label) = (def.src_label, def.dst_label);
        let schema = crate::arrow::edge_schema(self.catalog(), edge_type)?;
        // Scan without endpoint keys (ids only), then fill both key columns from one pass over
        // each label's key dictionary: far cheaper than a lookup per edge.
        let without_keys: Vec<usize> = (0..schema.fields().len())
            .filter(|&i| i != 1 && i != 2)
            .collect();
        let partial_schema = Arc::new(
            schema
                .project(&without_keys)
                .map_err(|e| Error::Corrupt(e.to_string()))?,
        );
        let batches = self
            .scan_edges(&name, batch_rows, Some(without_keys))?
            .collect::<Result<Vec<_>>>()?;
        let partial = arrow_select::concat::concat_batches(&partial_schema, &batches)
            .map_err(|e| Error::Corrupt(e.to_string()))?;
        let src_ids = partial.column(1).clone();
        let dst_ids = partial.column(2).clone();
        let src_keys = self.keys_for(src_label, &src_ids)?;
        let dst_keys = self.keys_for(dst_label, &dst_ids)?;
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        columns.push(partial.column(0).clone());
        columns.push(src_keys);
        columns.push(dst_keys);
        columns.extend(partial.columns()[1..].iter().cloned());
        let batch =
            RecordBatch::try_new(schema, columns).map_err(|e| Error::Corrupt(e.to_string()))?;

        let times = batch
            .column(5)
            .as_any()
            .downcast_ref::<arrow_array::TimestampMicrosecondArray>()
            .ok_or_else(|| Error::Corrupt("edge time column is not a timestamp".into()))?;
        let mut time_order: Vec<u32> = (0..times.len() as u32)
            .filter(|&i| times.is_valid(i as usize))
            .collect();
        time_order.sort_by_key(|&i| (times.value(i as usize), i));
        let sorted_times: Vec<Micros> = time_order
            .iter()
            .map(|&i| times.value(i as usize))
            .collect();
        let bytes = batch.get_array_memory_size()
            + time_order.len() * std::mem::size_of::<u32>()
            + sorted_times.len() * std::mem::size_of::<Micros>();
        Ok(CachedTable {
            batch,
            time_order,
            sorted_times,
            bytes,
            build_time: Duration::ZERO,
        })
    }

    /// The external keys of the nodes `ids` (a UInt64 array) of `label`.
    fn keys_for(&self, label: CatalogId, ids: &ArrayRef) -> Result<ArrayRef> {
        let ids = ids
            .as_any()
            .downcast_ref::<UInt64Array>()
            .ok_or_else(|| Error::Corrupt("endpoint id column is not UInt64".into()))?;
        let max_id = ids.values().iter().copied().max().unwrap_or(0) as usize;
        let mut by_id: Vec<Option<Box<[u8]>>> = vec![None; max_id + 1];
        let prefix = keys::key_to_id_prefix(label);
        let upper = keys::prefix_successor(&prefix);
        for item in self.view().scan(&prefix, &upper, false) {
            let (k, v) = item?;
            let id = keys::decode_u64(&v)? as usize;
            if id <= max_id {
                let (_, external) = keys::decode_key_to_id_key(&k)?;
                by_id[id] = Some(external.into());
            }
        }
        let mut out = arrow_array::builder::StringBuilder::with_capacity(ids.len(), ids.len() * 10);
        for &id in ids.values() {
            let key = by_id[id as usize].as_deref().ok_or_else(|| {
                Error::Corrupt(format!(
                    "an edge points to missing node id {id} of label {label}"
                ))
            })?;
            let key = std::str::from_utf8(key)
                .map_err(|_| Error::Corrupt(format!("key of node {id} is not UTF-8")))?;
            out.append_value(key);
        }
        let keys: StringArray = out.finish();
        Ok(Arc::new(keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::prop_def;
    use crate::{GraphStore, PropType, StoreOptions, Value};

    fn store(budget: usize) -> (tempfile::TempDir, GraphStore) {
        let dir = tempfile::tempdir().unwrap();
        let options = StoreOptions {
            table_cache_bytes: budget,
            ..StoreOptions::default()
        };
        let store = GraphStore::open_with(dir.path(), None, options).unwrap();
        store
            .write(|t| {
                t.create_label("card", "card_id", vec![])?;
                t.create_label("shop", "shop_id", vec![])?;
                t.create_edge_type(
                    "paid",
                    "card",
                    "shop",
                    false,
                    vec![prop_def("amount", PropType::Float)],
                )?;
                t.upsert_node("card", "c1", &[])?;
                t.upsert_node("shop", "s1", &[])?;
                t.upsert_node("shop", "s2", &[])?;
                for (shop, time, amount) in [("s1", 30, 1.0), ("s2", 10, 2.0), ("s1", 20, 4.0)] {
                    t.insert_edge(
                        "paid",
                        "c1",
                        shop,
                        Some(time),
                        &[("amount", Value::Float(amount))],
                    )?;
                }
                Ok(())
            })
            .unwrap();
        (dir, store)
    }

    fn paid(s: &Snapshot) -> CachedKind {
        CachedKind::Edges(s.catalog().edge_type("paid").unwrap().id)
    }

    #[test]
    fn copy_has_keys_and_time_ranges_in_scan_order() {
        let (_dir, store) = store(1 << 20);
        let snap = store.snapshot();
        let table = snap.cached_table(paid(&snap)).unwrap().expect("fits");
        assert_eq!(table.batch().num_rows(), 3);
        let dst = table
            .batch()
            .column(2)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(dst.iter().flatten().collect::<Vec<_>>(), ["s1", "s2", "s1"]);
        // Times 10..=20: the second and third edges, in edge-id order.
        let rows = table.rows_in_time(10, 20, &Some(vec![0, 5])).unwrap();
        let ids = rows
            .column(0)
            .as_any()
            .downcast_ref::<UInt64Array>()
            .unwrap();
        assert_eq!(ids.values().to_vec(), vec![1, 2]);
        assert_eq!(table.rows_in_time(31, 40, &None).unwrap().num_rows(), 0);
        // The same state reuses the copy.
        let again = store.snapshot().cached_table(paid(&snap)).unwrap().unwrap();
        assert!(Arc::ptr_eq(&table, &again));
    }

    #[test]
    fn a_commit_makes_new_snapshots_build_a_new_copy() {
        let (_dir, store) = store(1 << 20);
        let before = store.snapshot();
        let old = before.cached_table(paid(&before)).unwrap().unwrap();
        store
            .write(|t| {
                t.insert_edge("paid", "c1", "s2", Some(40), &[])?;
                Ok(())
            })
            .unwrap();
        let after = store.snapshot();
        let new = after.cached_table(paid(&after)).unwrap().unwrap();
        assert_eq!(new.batch().num_rows(), 4);
        assert_eq!(old.batch().num_rows(), 3);
        // The old snapshot never sees the new copy.
        let old_again = before.cached_table(paid(&before)).unwrap().unwrap();
        assert_eq!(old_again.batch().num_rows(), 3);
    }

    #[test]
    fn tables_over_budget_are_not_copied() {
        let (_dir, store) = store(100);
        let snap = store.snapshot();
        assert!(snap.cached_table(paid(&snap)).unwrap().is_none());
        assert_eq!(snap.table_cache().used_bytes(), 0);
    }
}
