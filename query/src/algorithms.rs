//! Graph algorithms as SQL table functions, run on an in-memory projection (a CSR from the
//! `extensions` crate) of the chosen edge types, taken from the statement's snapshot.
//!
//! The CSR is used for every whole-graph algorithm because they touch every edge: a compact,
//! time-sorted array layout beats per-node range scans of the store by orders of magnitude.
//! (`neighbors`, which touches a few nodes, reads the store directly.)
//!
//! - `connected_components(edge_types [, min_size])` — weakly connected components over the
//!   chosen types, e.g. users linked through shared devices and IPs: one row per (component,
//!   node), with the component's size; components smaller than `min_size` (default 2) omitted.
//! - `cycles(edge_type, max_len [, within_seconds, min_amount])` — time-respecting cycles (each
//!   edge strictly later than the previous, the whole cycle within the window): one row per step.
//!   `max_len` must be 2..=8; at most 10,000 cycles and a bounded search.
//! - `fan_in(edge_type, window_seconds, min_count)` / `fan_out(...)` — nodes receiving from (or
//!   sending to) at least `min_count` distinct counterparts within some window.
//! - `pagerank(edge_types [, damping, iterations])`.
//! - `shortest_path(from, to [, edge_types, max_hops])` — one row per step; without edge types
//!   it follows every type.
//!
//! A session keeps the last projection it built and reuses it while the store is unchanged
//! (same commit generation) and the same edge types are asked for, so repeated calls — say,
//! `shortest_path` between many pairs over every edge type — build it once. Any commit makes
//! it stale; the next call rebuilds it from its own snapshot.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use argus_db::projection::GraphProjection as Projection;
use argus_engine::Snapshot;
use argus_extensions::{Direction, NO_TIME};
use datafusion::arrow::array::{
    ArrayRef, Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
    UInt64Builder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, DataFusionError, Result, ScalarValue};
use datafusion::datasource::MemTable;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::Expr;
use parking_lot::Mutex;

use crate::functions::{arg_literal, arg_string, parse_node, split_types};
use crate::table::SnapshotSlot;
use crate::to_df;

/// Largest `max_len` of `cycles`: longer loops are rare and the search grows exponentially.
pub const MAX_CYCLE_LEN: i64 = 8;
/// Most cycles `cycles` returns.
pub const MAX_CYCLES: usize = 10_000;
/// Largest `max_hops` of `shortest_path`.
pub const MAX_PATH_HOPS: i64 = 20;

/// Register the algorithm table functions.
pub fn register(ctx: &SessionContext, slot: SnapshotSlot) {
    register_with_cache(ctx, slot, Arc::new(ProjectionCache::default()));
}

/// [`register`] with the projection cache the functions share.
fn register_with_cache(ctx: &SessionContext, slot: SnapshotSlot, cache: Arc<ProjectionCache>) {
    for kind in [
        Algo::Components,
        Algo::Cycles,
        Algo::FanIn,
        Algo::FanOut,
        Algo::PageRank,
        Algo::ShortestPath,
    ] {
        ctx.register_udtf(
            kind.name(),
            Arc::new(AlgorithmFunction {
                kind,
                slot: slot.clone(),
                cache: cache.clone(),
            }),
        );
    }
}

#[derive(Debug, Clone, Copy)]
enum Algo {
    Components,
    Cycles,
    FanIn,
    FanOut,
    PageRank,
    ShortestPath,
}

impl Algo {
    fn name(self) -> &'static str {
        match self {
            Algo::Components => "connected_components",
            Algo::Cycles => "cycles",
            Algo::FanIn => "fan_in",
            Algo::FanOut => "fan_out",
            Algo::PageRank => "pagerank",
            Algo::ShortestPath => "shortest_path",
        }
    }
}

#[derive(Debug)]
struct AlgorithmFunction {
    kind: Algo,
    slot: SnapshotSlot,
    cache: Arc<ProjectionCache>,
}

/// A built projection with the commit generation and edge types it was built from.
type BuiltProjection = (u64, Vec<String>, Arc<Projection>);

/// The last projection built, with the commit generation and edge types it was built from.
#[derive(Default)]
struct ProjectionCache {
    last: Mutex<Option<BuiltProjection>>,
    builds: AtomicU64,
}

impl std::fmt::Debug for ProjectionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectionCache")
            .field("builds", &self.builds.load(Ordering::Relaxed))
            .finish()
    }
}

impl ProjectionCache {
    /// The projection of `types` as of `snap`: the cached one if it was built from the same
    /// committed state and types, else a new one (which replaces it).
    fn get(&self, snap: &Snapshot, types: &[String]) -> argus_engine::Result<Arc<Projection>> {
        let mut last = self.last.lock();
        if let Some((generation, built_types, projection)) = last.as_ref() {
            if *generation == snap.generation() && built_types == types {
                return Ok(projection.clone());
            }
        }
        // Free the stale projection before building the next: both may be large.
        *last = None;
        let projection = Arc::new(Projection::build(snap, types)?);
        self.builds.fetch_add(1, Ordering::Relaxed);
        *last = Some((snap.generation(), types.to_vec(), projection.clone()));
        Ok(projection)
    }
}

/// Positional literal arguments of one call.
struct Args<'a> {
    f: &'static str,
    exprs: &'a [Expr],
}

impl Args<'_> {
    fn count(&self, min: usize, max: usize, usage: &str) -> Result<()> {
        if self.exprs.len() < min || self.exprs.len() > max {
            return plan_err!(
                "{} takes {usage}; got {} argument(s)",
                self.f,
                self.exprs.len()
            );
        }
        Ok(())
    }

    fn string(&self, i: usize, what: &str) -> Result<Option<String>> {
        arg_string(self.f, self.exprs, i, what)
    }

    fn number(&self, i: usize, what: &str) -> Result<Option<f64>> {
        let Some(e) = self.exprs.get(i) else {
            return Ok(None);
        };
        match arg_literal(e) {
            Some(ScalarValue::Int64(v)) => Ok(v.map(|x| x as f64)),
            Some(ScalarValue::Int32(v)) => Ok(v.map(f64::from)),
            Some(ScalarValue::Float64(v)) => Ok(v),
            Some(ScalarValue::Decimal128(Some(v), _, scale)) => {
                Ok(Some(v as f64 / 10f64.powi(i32::from(scale))))
            }
            Some(ScalarValue::Null) => Ok(None),
            _ => plan_err!(
                "{}: argument {} ({what}) must be a number literal, got {e}",
                self.f,
                i + 1
            ),
        }
    }

    fn int(&self, i: usize, what: &str) -> Result<Option<i64>> {
        match self.number(i, what)? {
            Some(x) if x.fract() == 0.0 => Ok(Some(x as i64)),
            Some(x) => plan_err!(
                "{}: argument {} ({what}) must be an integer, got {x}",
                self.f,
                i + 1
            ),
            None => Ok(None),
        }
    }

    /// A duration in seconds as microseconds, `None` when the argument is absent or NULL.
    fn seconds(&self, i: usize, what: &str) -> Result<Option<i64>> {
        match self.number(i, what)? {
            None => Ok(None),
            Some(s) => match argus_engine::time::seconds_to_micros(s) {
                Some(micros) => Ok(Some(micros)),
                None => plan_err!(
                    "{}: argument {} ({what}) {s:e} seconds is out of range (at most about 292,000 years)",
                    self.f,
                    i + 1
                ),
            },
        }
    }

    /// A count that must be at least 1; larger than any graph's counts reads as the largest.
    fn count_at_least_one(&self, i: usize, what: &str, default: u32) -> Result<u32> {
        let n = self.int(i, what)?.unwrap_or(i64::from(default)).max(1);
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn types(&self, i: usize) -> Result<Vec<String>> {
        let types = split_types(self.string(i, "edge types")?);
        if types.is_empty() {
            return plan_err!(
                "{}: name at least one edge type (a comma-separated list)",
                self.f
            );
        }
        Ok(types)
    }
}

fn node_name(
    snap: &Snapshot,
    p: &Projection,
    index: u32,
) -> argus_engine::Result<(String, String, String)> {
    let (label, id) = p.node(index);
    let lname = snap.catalog().label_by_id(label)?.name.clone();
    let key = snap
        .node_key(label, id)?
        .unwrap_or_else(|| format!("#{id}"));
    Ok((format!("{lname}:{key}"), lname, key))
}

fn ts_field(name: &str) -> Field {
    Field::new(
        name,
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        true,
    )
}

fn table(fields: Vec<Field>, columns: Vec<ArrayRef>) -> Result<Arc<dyn TableProvider>> {
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
}

fn time_opt(t: i64) -> Option<i64> {
    (t != NO_TIME).then_some(t)
}

impl TableFunctionImpl for AlgorithmFunction {
    fn call_with_args(&self, call: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let f = self.kind.name();
        let args = Args {
            f,
            exprs: call.exprs(),
        };
        let snap = self.slot.read().clone();
        match self.kind {
            Algo::Components => {
                args.count(1, 2, "(edge_types [, min_size])")?;
                let types = args.types(0)?;
                let min_size = args.count_at_least_one(1, "min_size", 2)?;
                let p = self.cache.get(&snap, &types).map_err(to_df)?;
                let labels = argus_extensions::connected_components(&p.csr);
                let mut sizes = vec![0u32; labels.len()];
                for &c in &labels {
                    sizes[c as usize] += 1;
                }
                let (mut comp, mut size, mut node, mut label, mut key) = (
                    StringBuilder::new(),
                    Int64Builder::new(),
                    StringBuilder::new(),
                    StringBuilder::new(),
                    StringBuilder::new(),
                );
                for (i, &c) in labels.iter().enumerate() {
                    // Ids never used (deleted or beyond a label's last node) have no degree.
                    if sizes[c as usize] < min_size || p.csr.degree(i as u32, Direction::Both) == 0
                    {
                        continue;
                    }
                    let (n, l, k) = node_name(&snap, &p, i as u32).map_err(to_df)?;
                    comp.append_value(node_name(&snap, &p, c).map_err(to_df)?.0);
                    size.append_value(i64::from(sizes[c as usize]));
                    node.append_value(n);
                    label.append_value(l);
                    key.append_value(k);
                }
                table(
                    vec![
                        Field::new("component", DataType::Utf8, false),
                        Field::new("size", DataType::Int64, false),
                        Field::new("node", DataType::Utf8, false),
                        Field::new("label", DataType::Utf8, false),
                        Field::new("key", DataType::Utf8, false),
                    ],
                    vec![
                        Arc::new(comp.finish()),
                        Arc::new(size.finish()),
                        Arc::new(node.finish()),
                        Arc::new(label.finish()),
                        Arc::new(key.finish()),
                    ],
                )
            }
            Algo::Cycles => {
                args.count(2, 4, "(edge_type, max_len [, within_seconds, min_amount])")?;
                let types = args.types(0)?;
                if types.len() != 1 {
                    return plan_err!("{f}: takes one edge type, got {}", types.len());
                }
                let max_len = args.int(1, "max_len")?.unwrap_or(4);
                if !(2..=MAX_CYCLE_LEN).contains(&max_len) {
                    return plan_err!(
                        "{f}: max_len must be between 2 and {MAX_CYCLE_LEN}, got {max_len}"
                    );
                }
                let within = args.seconds(2, "within_seconds")?;
                if within.is_some_and(|w| w < 0) {
                    return plan_err!("{f}: within_seconds must not be negative");
                }
                let min_amount = args.number(3, "min_amount")?;
                let p = self.cache.get(&snap, &types).map_err(to_df)?;
                let search = argus_extensions::temporal_cycles(
                    &p.csr,
                    max_len as usize,
                    within,
                    min_amount,
                    MAX_CYCLES,
                );
                let (
                    mut cid,
                    mut len,
                    mut step,
                    mut node,
                    mut edge,
                    mut time,
                    mut amount,
                    mut start,
                    mut end,
                ) = (
                    Int64Builder::new(),
                    Int64Builder::new(),
                    Int64Builder::new(),
                    StringBuilder::new(),
                    UInt64Builder::new(),
                    TimestampMicrosecondBuilder::new().with_timezone("UTC"),
                    Float64Builder::new(),
                    TimestampMicrosecondBuilder::new().with_timezone("UTC"),
                    TimestampMicrosecondBuilder::new().with_timezone("UTC"),
                );
                for (c, cycle) in search.cycles.iter().enumerate() {
                    for s in 0..cycle.edges.len() {
                        cid.append_value(c as i64);
                        len.append_value(cycle.edges.len() as i64);
                        step.append_value(s as i64 + 1);
                        node.append_value(node_name(&snap, &p, cycle.nodes[s]).map_err(to_df)?.0);
                        edge.append_value(cycle.edges[s]);
                        time.append_option(time_opt(cycle.times[s]));
                        let a = cycle.amounts[s];
                        amount.append_option((!a.is_nan()).then_some(a));
                        start.append_value(cycle.start);
                        end.append_value(cycle.end);
                    }
                }
                if search.truncated {
                    eprintln!(
                        "note: {f} stopped after {} cycles (search bounded)",
                        search.cycles.len()
                    );
                }
                table(
                    vec![
                        Field::new("cycle", DataType::Int64, false),
                        Field::new("length", DataType::Int64, false),
                        Field::new("step", DataType::Int64, false),
                        Field::new("node", DataType::Utf8, false),
                        Field::new("edge_id", DataType::UInt64, false),
                        ts_field("time"),
                        Field::new("amount", DataType::Float64, true),
                        ts_field("cycle_start"),
                        ts_field("cycle_end"),
                    ],
                    vec![
                        Arc::new(cid.finish()),
                        Arc::new(len.finish()),
                        Arc::new(step.finish()),
                        Arc::new(node.finish()),
                        Arc::new(edge.finish()),
                        Arc::new(time.finish()),
                        Arc::new(amount.finish()),
                        Arc::new(start.finish()),
                        Arc::new(end.finish()),
                    ],
                )
            }
            Algo::FanIn | Algo::FanOut => {
                args.count(3, 3, "(edge_type, window_seconds, min_count)")?;
                let types = args.types(0)?;
                let window = args.seconds(1, "window_seconds")?.unwrap_or(0);
                if window <= 0 {
                    return plan_err!("{f}: window_seconds must be positive");
                }
                let min_count = args.count_at_least_one(2, "min_count", 2)?;
                let p = self.cache.get(&snap, &types).map_err(to_df)?;
                let dir = if matches!(self.kind, Algo::FanIn) {
                    Direction::In
                } else {
                    Direction::Out
                };
                let rows = argus_extensions::fan(&p.csr, dir, window, min_count);
                let (mut node, mut count, mut ws, mut we) = (
                    StringBuilder::new(),
                    Int64Builder::new(),
                    TimestampMicrosecondBuilder::new().with_timezone("UTC"),
                    TimestampMicrosecondBuilder::new().with_timezone("UTC"),
                );
                for r in rows {
                    node.append_value(node_name(&snap, &p, r.node).map_err(to_df)?.0);
                    count.append_value(i64::from(r.count));
                    ws.append_value(r.window_start);
                    we.append_value(r.window_end);
                }
                table(
                    vec![
                        Field::new("node", DataType::Utf8, false),
                        Field::new("counterparts", DataType::Int64, false),
                        ts_field("window_start"),
                        ts_field("window_end"),
                    ],
                    vec![
                        Arc::new(node.finish()),
                        Arc::new(count.finish()),
                        Arc::new(ws.finish()),
                        Arc::new(we.finish()),
                    ],
                )
            }
            Algo::PageRank => {
                args.count(1, 3, "(edge_types [, damping, iterations])")?;
                let types = args.types(0)?;
                let damping = args.number(1, "damping")?.unwrap_or(0.85);
                if !(0.0..1.0).contains(&damping) {
                    return plan_err!("{f}: damping must be in [0, 1), got {damping}");
                }
                let iterations = args.int(2, "iterations")?.unwrap_or(20);
                if !(1..=1000).contains(&iterations) {
                    return plan_err!(
                        "{f}: iterations must be between 1 and 1000, got {iterations}"
                    );
                }
                let p = self.cache.get(&snap, &types).map_err(to_df)?;
                let ranks = argus_extensions::pagerank(&p.csr, damping, iterations as usize, 1e-10);
                let (mut node, mut rank) = (StringBuilder::new(), Float64Builder::new());
                for (i, r) in ranks.iter().enumerate() {
                    if p.csr.degree(i as u32, Direction::Both) == 0 {
                        continue;
                    }
                    node.append_value(node_name(&snap, &p, i as u32).map_err(to_df)?.0);
                    rank.append_value(*r);
                }
                table(
                    vec![
                        Field::new("node", DataType::Utf8, false),
                        Field::new("rank", DataType::Float64, false),
                    ],
                    vec![Arc::new(node.finish()), Arc::new(rank.finish())],
                )
            }
            Algo::ShortestPath => {
                args.count(2, 4, "(from, to [, edge_types, max_hops])")?;
                let from = args
                    .string(0, "from")?
                    .ok_or_else(|| DataFusionError::Plan(format!("{f}: from is NULL")))?;
                let to = args
                    .string(1, "to")?
                    .ok_or_else(|| DataFusionError::Plan(format!("{f}: to is NULL")))?;
                let types = match args.exprs.len() > 2 {
                    true => args.types(2)?,
                    false => snap
                        .catalog()
                        .edge_types
                        .iter()
                        .map(|t| t.name.clone())
                        .collect(),
                };
                let max_hops = args.int(3, "max_hops")?.unwrap_or(6);
                if !(1..=MAX_PATH_HOPS).contains(&max_hops) {
                    return plan_err!(
                        "{f}: max_hops must be between 1 and {MAX_PATH_HOPS}, got {max_hops}"
                    );
                }
                // Without edge types every type is followed: reused across calls, this is the
                // projection most worth keeping.
                let p = self.cache.get(&snap, &types).map_err(to_df)?;
                let mut ends = Vec::new();
                for n in [&from, &to] {
                    let (label, key) = parse_node(f, n)?;
                    let lid = snap.catalog().label(&label).map_err(to_df)?.id;
                    let id = snap
                        .node_id_in(lid, &key)
                        .map_err(to_df)?
                        .ok_or_else(|| DataFusionError::Plan(format!("{f}: no node {n}")))?;
                    ends.push(p.index(lid, id).ok_or_else(|| {
                        DataFusionError::Plan(format!(
                            "{f}: {n} has no edges of the types {}",
                            types.join(", ")
                        ))
                    })?);
                }
                let path = argus_extensions::shortest_path(
                    &p.csr,
                    ends[0],
                    ends[1],
                    max_hops as u32,
                    Direction::Both,
                )
                .unwrap_or_default();
                let (mut step, mut node, mut etype, mut edge, mut time) = (
                    Int64Builder::new(),
                    StringBuilder::new(),
                    StringBuilder::new(),
                    UInt64Builder::new(),
                    TimestampMicrosecondBuilder::new().with_timezone("UTC"),
                );
                for (i, s) in path.iter().enumerate() {
                    step.append_value(i as i64);
                    node.append_value(node_name(&snap, &p, s.node).map_err(to_df)?.0);
                    match s.edge_type {
                        Some(t) => etype
                            .append_value(&snap.catalog().edge_type_by_id(t).map_err(to_df)?.name),
                        None => etype.append_null(),
                    }
                    edge.append_option(s.edge);
                    time.append_option(s.time.and_then(time_opt));
                }
                table(
                    vec![
                        Field::new("step", DataType::Int64, false),
                        Field::new("node", DataType::Utf8, false),
                        Field::new("via_edge_type", DataType::Utf8, true),
                        Field::new("via_edge_id", DataType::UInt64, true),
                        ts_field("via_time"),
                    ],
                    vec![
                        Arc::new(step.finish()),
                        Arc::new(node.finish()),
                        Arc::new(etype.finish()),
                        Arc::new(edge.finish()),
                        Arc::new(time.finish()),
                    ],
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_engine::GraphStore;
    use datafusion::arrow::array::AsArray;
    use parking_lot::RwLock;

    async fn path(ctx: &SessionContext, from: &str, to: &str, types: &str) -> Vec<String> {
        let sql = format!("SELECT node FROM shortest_path('{from}', '{to}'{types}) ORDER BY step");
        let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        batches
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_string::<i32>()
                    .iter()
                    .map(|v| v.unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[tokio::test]
    async fn shortest_path_over_every_type_reuses_its_projection_until_a_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = GraphStore::open(dir.path().join("db")).unwrap();
        // a1 -x-> b1 -y-> a2 -x-> b2 -y-> a3: a path needs both types.
        store
            .write(|tx| {
                tx.create_label("a", "id", vec![])?;
                tx.create_label("b", "id", vec![])?;
                tx.create_edge_type("x", "a", "b", false, vec![])?;
                tx.create_edge_type("y", "b", "a", false, vec![])?;
                for k in ["a1", "a2", "a3"] {
                    tx.upsert_node("a", k, &[])?;
                }
                for k in ["b1", "b2"] {
                    tx.upsert_node("b", k, &[])?;
                }
                tx.insert_edge("x", "a1", "b1", Some(1), &[])?;
                tx.insert_edge("y", "b1", "a2", Some(2), &[])?;
                tx.insert_edge("x", "a2", "b2", Some(3), &[])?;
                tx.insert_edge("y", "b2", "a3", Some(4), &[])?;
                Ok(())
            })
            .unwrap();
        let slot: SnapshotSlot = Arc::new(RwLock::new(store.snapshot()));
        let ctx = SessionContext::new();
        let cache = Arc::new(ProjectionCache::default());
        register_with_cache(&ctx, slot.clone(), cache.clone());
        let builds = || cache.builds.load(Ordering::Relaxed);

        let long = ["a:a1", "b:b1", "a:a2", "b:b2", "a:a3"];
        assert_eq!(path(&ctx, "a:a1", "a:a3", "").await, long);
        let mut back = long.to_vec();
        back.reverse();
        assert_eq!(path(&ctx, "a:a3", "a:a1", "").await, back);
        assert_eq!(builds(), 1, "the second call reused the projection");

        // Other edge types are another projection: it replaces the cached one.
        assert!(path(&ctx, "a:a1", "a:a3", ", 'x'").await.is_empty());
        assert_eq!(builds(), 2);
        assert_eq!(path(&ctx, "a:a1", "a:a3", "").await, long);
        assert_eq!(builds(), 3);

        // A write makes the cached projection stale: the shortcut is seen at once.
        store
            .write(|tx| tx.insert_edge("x", "a1", "b2", Some(5), &[]).map(|_| ()))
            .unwrap();
        *slot.write() = store.snapshot();
        assert_eq!(
            path(&ctx, "a:a1", "a:a3", "").await,
            ["a:a1", "b:b2", "a:a3"]
        );
        assert_eq!(builds(), 4);
        assert_eq!(
            path(&ctx, "a:a1", "a:a3", "").await,
            ["a:a1", "b:b2", "a:a3"]
        );
        assert_eq!(builds(), 4);

        // A snapshot taken before the write still gets the state it was taken at.
        let before = {
            let old = store.snapshot();
            store
                .write(|tx| tx.upsert_node("a", "a4", &[]).map(|_| ()))
                .unwrap();
            old
        };
        *slot.write() = before;
        assert_eq!(
            path(&ctx, "a:a1", "a:a3", "").await,
            ["a:a1", "b:b2", "a:a3"]
        );
        assert_eq!(builds(), 4, "same generation as the cached projection");
        *slot.write() = store.snapshot();
        assert_eq!(
            path(&ctx, "a:a1", "a:a3", "").await,
            ["a:a1", "b:b2", "a:a3"]
        );
        assert_eq!(
            builds(),
            5,
            "a write of nodes only still changes the generation"
        );
    }
}
