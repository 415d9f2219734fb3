//! Node labels and edge types as DataFusion tables, with projection and filter pushdown into
//! storage scans.
//!
//! Pushed down, and applied completely by the scan (so reported `Exact`):
//! - node tables: `key = 'x'`, `key IN (...)`, `_id = n` — point lookups instead of a scan;
//! - edge tables: `src = 'x'` / `dst = 'x'` (and `IN` lists) — a range scan of that node's
//!   adjacency; `time` compared with a constant (`<`, `<=`, `>`, `>=`, `=`, `BETWEEN`) — the
//!   time bounds of that range scan, or a binary search in the table's in-memory copy
//!   (see `argus_engine::table_cache`).
//!
//! Anything else is left to DataFusion (`Unsupported`).

use std::sync::Arc;

use argus_engine::arrow::{edge_schema, node_schema};
use argus_engine::keys::CatalogId;
use argus_engine::table_cache::{project, CachedKind};
use argus_engine::Snapshot;
use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::stats::Precision;
use datafusion::common::{Result, ScalarValue, Statistics};
use datafusion::datasource::{TableProvider, TableType};
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use parking_lot::RwLock;

use crate::scan::GraphScanExec;
use crate::to_df;

/// The snapshot every table of a session reads; replaced before each statement so that one
/// statement sees one consistent state.
pub type SnapshotSlot = Arc<RwLock<Snapshot>>;

/// Which stored thing a table shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// A node label.
    Nodes(CatalogId),
    /// An edge type.
    Edges(CatalogId),
}

/// What a scan reads, derived from the pushed-down filters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanFilter {
    /// Node tables: only these external keys.
    pub keys: Option<Vec<String>>,
    /// Node tables: only these internal ids.
    pub ids: Option<Vec<u64>>,
    /// Edge tables: only edges from these source keys.
    pub src: Option<Vec<String>>,
    /// Edge tables: only edges to these destination keys.
    pub dst: Option<Vec<String>>,
    /// Edge tables: only edges with time in `[lo, hi]` (microseconds).
    pub time: Option<(i64, i64)>,
}

/// A node label or edge type exposed to SQL.
#[derive(Debug)]
pub struct GraphTable {
    kind: TableKind,
    schema: SchemaRef,
    key_column: String,
    slot: SnapshotSlot,
}

impl GraphTable {
    /// A table over the label or edge type `kind` as of the slot's snapshot.
    pub fn new(kind: TableKind, slot: SnapshotSlot) -> argus_engine::Result<GraphTable> {
        let snap = slot.read().clone();
        let (schema, key_column) = match kind {
            TableKind::Nodes(l) => (
                node_schema(snap.catalog(), l)?,
                snap.catalog().label_by_id(l)?.key_name.clone(),
            ),
            TableKind::Edges(t) => (edge_schema(snap.catalog(), t)?, String::new()),
        };
        Ok(GraphTable {
            kind,
            schema,
            key_column,
            slot,
        })
    }
}

impl GraphTable {
    /// What the table shows.
    pub fn kind(&self) -> TableKind {
        self.kind
    }

    /// The key column of a node table (empty for edge tables).
    pub fn key_column(&self) -> &str {
        &self.key_column
    }
}

fn literal(expr: &Expr) -> Option<&ScalarValue> {
    match expr {
        Expr::Literal(v, _) => Some(v),
        Expr::Cast(c) => literal(&c.expr),
        Expr::TryCast(c) => literal(&c.expr),
        _ => None,
    }
}

fn column_name(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Column(c) => Some(c.name.as_str()),
        _ => None,
    }
}

fn string_literal(expr: &Expr) -> Option<String> {
    match literal(expr)? {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Some(s.clone()),
        ScalarValue::Int64(Some(i)) => Some(i.to_string()),
        ScalarValue::Int32(Some(i)) => Some(i.to_string()),
        _ => None,
    }
}

fn int_literal(expr: &Expr) -> Option<u64> {
    match literal(expr)? {
        ScalarValue::Int64(Some(i)) => u64::try_from(*i).ok(),
        ScalarValue::Int32(Some(i)) => u64::try_from(*i).ok(),
        ScalarValue::UInt64(Some(i)) => Some(*i),
        ScalarValue::UInt32(Some(i)) => Some(u64::from(*i)),
        _ => None,
    }
}

/// A time constant in microseconds: timestamps of any unit, or text DataFusion would cast.
fn time_literal(expr: &Expr) -> Option<i64> {
    match literal(expr)? {
        ScalarValue::TimestampMicrosecond(Some(v), _) => Some(*v),
        ScalarValue::TimestampMillisecond(Some(v), _) => v.checked_mul(1_000),
        ScalarValue::TimestampSecond(Some(v), _) => v.checked_mul(1_000_000),
        ScalarValue::TimestampNanosecond(Some(v), _) => Some(v.div_euclid(1_000)),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
        | ScalarValue::LargeUtf8(Some(s)) => argus_engine::time::parse_time(s).ok(),
        _ => None,
    }
}

/// One filter's contribution to a scan, or `None` when the scan cannot apply it completely.
fn classify(kind: TableKind, key_column: &str, expr: &Expr) -> Option<ScanFilter> {
    let mut f = ScanFilter::default();
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (col, value, op) = match (column_name(left), column_name(right)) {
                (Some(c), None) => (c, right.as_ref(), *op),
                (None, Some(c)) => (c, left.as_ref(), op.swap()?),
                _ => return None,
            };
            match (kind, col, op) {
                (TableKind::Nodes(_), c, Operator::Eq) if c == key_column => {
                    f.keys = Some(vec![string_literal(value)?])
                }
                (TableKind::Nodes(_), "_id", Operator::Eq) => {
                    f.ids = Some(vec![int_literal(value)?])
                }
                (TableKind::Edges(_), "src", Operator::Eq) => {
                    f.src = Some(vec![string_literal(value)?])
                }
                (TableKind::Edges(_), "dst", Operator::Eq) => {
                    f.dst = Some(vec![string_literal(value)?])
                }
                (TableKind::Edges(_), "time", op) => {
                    let t = time_literal(value)?;
                    f.time = Some(match op {
                        Operator::Eq => (t, t),
                        Operator::Lt => (i64::MIN + 1, t.checked_sub(1)?),
                        Operator::LtEq => (i64::MIN + 1, t),
                        Operator::Gt => (t.checked_add(1)?, i64::MAX),
                        Operator::GtEq => (t, i64::MAX),
                        _ => return None,
                    });
                }
                _ => return None,
            }
        }
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) => {
            if column_name(expr) != Some("time") || !matches!(kind, TableKind::Edges(_)) {
                return None;
            }
            f.time = Some((time_literal(low)?, time_literal(high)?));
        }
        Expr::InList(list) if !list.negated => {
            let col = column_name(&list.expr)?;
            let values: Option<Vec<String>> = list.list.iter().map(string_literal).collect();
            match (kind, col) {
                (TableKind::Nodes(_), c) if c == key_column => f.keys = Some(values?),
                (TableKind::Edges(_), "src") => f.src = Some(values?),
                (TableKind::Edges(_), "dst") => f.dst = Some(values?),
                _ => return None,
            }
        }
        _ => return None,
    }
    Some(f)
}

impl ScanFilter {
    /// Whether the scan reads only named keys, ids or adjacencies (not the whole table).
    pub fn is_lookup(&self) -> bool {
        self.keys.is_some() || self.ids.is_some() || self.src.is_some() || self.dst.is_some()
    }
}

fn intersect(a: Option<Vec<String>>, b: Option<Vec<String>>) -> Option<Vec<String>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.into_iter().filter(|x| b.contains(x)).collect()),
        (a, None) => a,
        (None, b) => b,
    }
}

/// `values` without repeats, each at its first place: `IN ('a','b','a')` reads `a` once.
pub(crate) fn first_occurrences<T: Eq + std::hash::Hash + Clone>(values: Vec<T>) -> Vec<T> {
    let mut seen = std::collections::HashSet::with_capacity(values.len());
    values
        .into_iter()
        .filter(|v| seen.insert(v.clone()))
        .collect()
}

/// Combine every pushable filter (they are ANDed) into one scan description. Each key, id and
/// endpoint appears once, so a lookup returns each row once.
pub fn scan_filter(kind: TableKind, key_column: &str, filters: &[Expr]) -> ScanFilter {
    let mut out = ScanFilter::default();
    for f in filters.iter().filter_map(|e| classify(kind, key_column, e)) {
        out.keys = intersect(out.keys, f.keys);
        out.src = intersect(out.src, f.src);
        out.dst = intersect(out.dst, f.dst);
        out.ids = match (out.ids, f.ids) {
            (Some(a), Some(b)) => Some(a.into_iter().filter(|x| b.contains(x)).collect()),
            (a, None) => a,
            (None, b) => b,
        };
        out.time = match (out.time, f.time) {
            (Some((a, b)), Some((c, d))) => Some((a.max(c), b.min(d))),
            (a, None) => a,
            (None, b) => b,
        };
    }
    out.keys = out.keys.map(first_occurrences);
    out.ids = out.ids.map(first_occurrences);
    out.src = out.src.map(first_occurrences);
    out.dst = out.dst.map(first_occurrences);
    out
}

#[async_trait]
impl TableProvider for GraphTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|e| match classify(self.kind, &self.key_column, e) {
                Some(_) => TableProviderFilterPushDown::Exact,
                None => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    fn statistics(&self) -> Option<Statistics> {
        let snap = self.slot.read().clone();
        let rows = match self.kind {
            TableKind::Nodes(l) => snap.node_count(l).ok()?,
            TableKind::Edges(t) => snap.edge_count(t).ok()?,
        };
        let mut stats = Statistics::new_unknown(&self.schema);
        stats.num_rows = Precision::Exact(rows as usize);
        Some(stats)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let snapshot = self.slot.read().clone();
        let filter = scan_filter(self.kind, &self.key_column, filters);
        let projection = projection.cloned();
        // Scans that read a whole table (or a time range of one) use the in-memory copy; a
        // `LIMIT` without filters is cheaper streamed from storage than copied first.
        let copy = if filter.is_lookup() || limit.is_some() {
            None
        } else {
            let kind = match self.kind {
                TableKind::Nodes(l) => CachedKind::Nodes(l),
                TableKind::Edges(t) => CachedKind::Edges(t),
            };
            snapshot.cached_table(kind).map_err(to_df)?
        };
        let exec = match copy {
            Some(table) => {
                let rows = match filter.time {
                    Some((lo, hi)) => table.rows_in_time(lo, hi, &projection),
                    None => project(table.batch(), &projection),
                }
                .map_err(to_df)?;
                let partitions = state.config_options().execution.target_partitions.max(1);
                GraphScanExec::from_copy(
                    snapshot,
                    self.kind,
                    self.schema.clone(),
                    projection,
                    filter,
                    rows,
                    partitions,
                )
            }
            None => GraphScanExec::try_new(
                snapshot,
                self.kind,
                self.schema.clone(),
                projection,
                filter,
                limit,
            ),
        }
        .map_err(to_df)?;
        Ok(Arc::new(exec))
    }
}
