//! Graph functions callable from SQL, all registered by [`register`].
//!
//! - `neighbors(node, hops [, edge_types, direction, since, until, limit])` — table function:
//!   the k-hop neighbourhood of `'label:key'`, one row per reached node with its hop distance
//!   and the edge that reached it. `edge_types` is a comma-separated list (NULL or '' for all),
//!   `direction` is 'out', 'in' or 'both' (default), `since`/`until` bound edge times, `limit`
//!   caps the rows (default 10,000, at most [`MAX_NEIGHBOR_LIMIT`]). `hops` must be 1..=10.
//!   Each node's edges are read newest first and only as far as the limit needs, so with one
//!   hop the rows are the node's newest `limit` distinct neighbours.
//! - `degree(node, edge_type, direction)` — scalar, vectorised over its arguments: the stored
//!   degree of each `'label:key'`, NULL for a node that does not exist.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use argus_engine::keys::{CatalogId, NodeId};
use argus_engine::{Dir, Direction, NeighborQuery, Snapshot, MAX_NEIGHBOR_LIMIT};
use datafusion::arrow::array::{
    Array, ArrayRef, Int64Builder, StringArray, StringBuilder, TimestampMicrosecondBuilder,
    UInt64Builder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::datasource::MemTable;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::table::SnapshotSlot;
use crate::to_df;

/// Largest `hops` accepted by `neighbors`: beyond it a payments graph is the whole graph.
pub const MAX_HOPS: i64 = 10;
/// Default row cap of `neighbors`.
pub const DEFAULT_NEIGHBOR_LIMIT: i64 = 10_000;

/// Register every graph function on `ctx`, reading the session's current snapshot.
pub fn register(ctx: &SessionContext, slot: SnapshotSlot) {
    ctx.register_udtf(
        "neighbors",
        Arc::new(NeighborsFunction { slot: slot.clone() }),
    );
    ctx.register_udf(ScalarUDF::new_from_impl(DegreeFunction::new(slot.clone())));
    crate::algorithms::register(ctx, slot);
}

/// A literal argument, seen through casts DataFusion adds.
pub(crate) fn arg_literal(expr: &Expr) -> Option<ScalarValue> {
    match expr {
        Expr::Literal(v, _) => Some(v.clone()),
        Expr::Cast(c) => arg_literal(&c.expr),
        Expr::TryCast(c) => arg_literal(&c.expr),
        Expr::Negative(inner) => match arg_literal(inner)? {
            ScalarValue::Int64(Some(i)) => Some(ScalarValue::Int64(Some(-i))),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn arg_string(f: &str, exprs: &[Expr], i: usize, what: &str) -> Result<Option<String>> {
    let Some(e) = exprs.get(i) else {
        return Ok(None);
    };
    match arg_literal(e) {
        Some(ScalarValue::Utf8(v))
        | Some(ScalarValue::Utf8View(v))
        | Some(ScalarValue::LargeUtf8(v)) => Ok(v),
        Some(ScalarValue::Null) => Ok(None),
        _ => plan_err!(
            "{f}: argument {} ({what}) must be a string literal, got {e}",
            i + 1
        ),
    }
}

pub(crate) fn arg_int(f: &str, exprs: &[Expr], i: usize, what: &str) -> Result<Option<i64>> {
    let Some(e) = exprs.get(i) else {
        return Ok(None);
    };
    match arg_literal(e) {
        Some(ScalarValue::Int64(v)) => Ok(v),
        Some(ScalarValue::Int32(v)) => Ok(v.map(i64::from)),
        Some(ScalarValue::UInt64(Some(x))) => match i64::try_from(x) {
            Ok(x) => Ok(Some(x)),
            Err(_) => plan_err!("{f}: argument {} ({what}) {x} is too large", i + 1),
        },
        Some(ScalarValue::Null) | Some(ScalarValue::UInt64(None)) => Ok(None),
        _ => plan_err!(
            "{f}: argument {} ({what}) must be an integer literal, got {e}",
            i + 1
        ),
    }
}

pub(crate) fn arg_time(f: &str, exprs: &[Expr], i: usize, what: &str) -> Result<Option<i64>> {
    let Some(e) = exprs.get(i) else {
        return Ok(None);
    };
    let out_of_range = |shown: String| {
        plan_err!(
            "{f}: argument {} ({what}) {shown} is out of the range of times (i64 microseconds since 1970)",
            i + 1
        )
    };
    let scaled = |v: Option<i64>, per_unit: i64, unit: &str| match v {
        None => Ok(None),
        Some(x) => match x.checked_mul(per_unit) {
            Some(micros) => Ok(Some(micros)),
            None => out_of_range(format!("{x} {unit}")),
        },
    };
    match arg_literal(e) {
        Some(ScalarValue::TimestampMicrosecond(v, _)) => Ok(v),
        Some(ScalarValue::TimestampMillisecond(v, _)) => scaled(v, 1_000, "milliseconds"),
        Some(ScalarValue::TimestampSecond(v, _)) => scaled(v, 1_000_000, "seconds"),
        Some(ScalarValue::TimestampNanosecond(v, _)) => Ok(v.map(|x| x.div_euclid(1_000))),
        Some(ScalarValue::Int64(v)) => scaled(v, 1_000_000, "seconds"),
        Some(ScalarValue::Float64(Some(x))) => match argus_engine::time::seconds_to_micros(x) {
            Some(micros) => Ok(Some(micros)),
            None => out_of_range(format!("{x:e} seconds")),
        },
        Some(ScalarValue::Utf8(Some(s))) | Some(ScalarValue::Utf8View(Some(s))) => argus_engine::time::parse_time(&s)
            .map(Some)
            .or_else(|m| plan_err!("{f}: argument {} ({what}): {m}", i + 1)),
        Some(ScalarValue::Null) | Some(ScalarValue::Utf8(None)) | Some(ScalarValue::Float64(None)) => Ok(None),
        _ => plan_err!("{f}: argument {} ({what}) must be a time (timestamp, Unix seconds or RFC 3339 text), got {e}", i + 1),
    }
}

/// A comma-separated list of edge type names; NULL or blank means none.
pub(crate) fn split_types(list: Option<String>) -> Vec<String> {
    list.map(|s| {
        s.split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// Split `'label:key'`.
pub fn parse_node(f: &str, node: &str) -> Result<(String, String)> {
    match node.split_once(':') {
        Some((l, k)) if !l.is_empty() && !k.is_empty() => Ok((l.to_string(), k.to_string())),
        _ => plan_err!("{f}: node '{node}' must be written 'label:key', e.g. 'card:4242'"),
    }
}

fn parse_direction(f: &str, d: Option<String>, default: Direction) -> Result<Direction> {
    match d.as_deref() {
        None | Some("") => Ok(default),
        Some(s) => Direction::parse(s)
            .or_else(|_| plan_err!("{f}: direction '{s}' must be 'out', 'in' or 'both'")),
    }
}

#[derive(Debug)]
struct NeighborsFunction {
    slot: SnapshotSlot,
}

fn neighbors_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("node", DataType::Utf8, false),
        Field::new("label", DataType::Utf8, false),
        Field::new("key", DataType::Utf8, false),
        Field::new("hop", DataType::Int64, false),
        Field::new("via_edge_type", DataType::Utf8, true),
        Field::new("via_edge_id", DataType::UInt64, true),
        Field::new("via_direction", DataType::Utf8, true),
        Field::new(
            "via_time",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("parent", DataType::Utf8, true),
    ]))
}

impl TableFunctionImpl for NeighborsFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const F: &str = "neighbors";
        let exprs = args.exprs();
        if exprs.len() < 2 || exprs.len() > 7 {
            return plan_err!(
                "{F} takes 2 to 7 arguments (node, hops [, edge_types, direction, since, until, limit]), got {}",
                exprs.len()
            );
        }
        let node = arg_string(F, exprs, 0, "node")?.ok_or_else(|| {
            datafusion::error::DataFusionError::Plan(format!("{F}: node is NULL"))
        })?;
        let (label, key) = parse_node(F, &node)?;
        let hops = arg_int(F, exprs, 1, "hops")?.unwrap_or(1);
        if !(1..=MAX_HOPS).contains(&hops) {
            return plan_err!("{F}: hops must be between 1 and {MAX_HOPS}, got {hops}");
        }
        let types = split_types(arg_string(F, exprs, 2, "edge_types")?);
        let direction = parse_direction(F, arg_string(F, exprs, 3, "direction")?, Direction::Both)?;
        let since = arg_time(F, exprs, 4, "since")?;
        let until = arg_time(F, exprs, 5, "until")?;
        let limit = arg_int(F, exprs, 6, "limit")?.unwrap_or(DEFAULT_NEIGHBOR_LIMIT);
        let Some(limit) = usize::try_from(limit)
            .ok()
            .filter(|&l| l <= MAX_NEIGHBOR_LIMIT)
        else {
            return plan_err!("{F}: limit must be between 0 and {MAX_NEIGHBOR_LIMIT}, got {limit}");
        };
        let snap = self.slot.read().clone();
        for t in &types {
            snap.catalog().edge_type(t).map_err(to_df)?;
        }
        let lid = snap.catalog().label(&label).map_err(to_df)?.id;
        let start = snap.node_id_in(lid, &key).map_err(to_df)?.ok_or_else(|| {
            datafusion::error::DataFusionError::Plan(format!("{F}: no node {label}:{key}"))
        })?;
        let (batch, _) = k_hop(
            &snap,
            (lid, start),
            hops as u32,
            &types,
            direction,
            since,
            until,
            limit,
        )
        .map_err(to_df)?;
        Ok(Arc::new(MemTable::try_new(
            batch.schema(),
            vec![vec![batch]],
        )?))
    }
}

/// Breadth-first neighbourhood from the store: each node once, at its smallest hop; with the
/// number of adjacency entries read. Each node's edges are read newest first, lazily, so the
/// reads stop once `limit` rows are produced.
#[allow(clippy::too_many_arguments)]
fn k_hop(
    snap: &Snapshot,
    start: (CatalogId, NodeId),
    hops: u32,
    types: &[String],
    direction: Direction,
    since: Option<i64>,
    until: Option<i64>,
    limit: usize,
) -> argus_engine::Result<(RecordBatch, u64)> {
    let catalog = snap.catalog();
    let label_name = |l: CatalogId| catalog.label_by_id(l).map(|d| d.name.clone());
    let mut node_col = StringBuilder::new();
    let mut label_col = StringBuilder::new();
    let mut key_col = StringBuilder::new();
    let mut hop_col = Int64Builder::new();
    let mut type_col = StringBuilder::new();
    let mut edge_col = UInt64Builder::new();
    let mut dir_col = StringBuilder::new();
    let mut time_col = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut parent_col = StringBuilder::new();

    let start_key = snap.node_key(start.0, start.1)?.unwrap_or_default();
    let start_name = format!("{}:{start_key}", label_name(start.0)?);
    let mut seen: HashSet<(CatalogId, NodeId)> = HashSet::from([start]);
    let mut frontier: VecDeque<((CatalogId, NodeId), String, u32)> =
        VecDeque::from([(start, start_name, 0)]);
    let mut rows = 0usize;
    let mut entries_read = 0u64;
    let queries: Vec<NeighborQuery> = if types.is_empty() {
        vec![NeighborQuery {
            edge_type: None,
            direction,
            since,
            until,
            ..Default::default()
        }]
    } else {
        types
            .iter()
            .map(|t| NeighborQuery {
                edge_type: Some(t.clone()),
                direction,
                since,
                until,
                ..Default::default()
            })
            .collect()
    };
    'bfs: while let Some(((label, node), name, hop)) = frontier.pop_front() {
        if hop == hops {
            continue;
        }
        for q in &queries {
            if rows == limit {
                break 'bfs;
            }
            // A label that cannot have edges of this type in this direction contributes nothing.
            let Ok(mut found) = snap.neighbors_iter(label, node, q) else {
                continue;
            };
            while rows < limit {
                let Some(n) = found.next() else {
                    break;
                };
                let n = n?;
                if !seen.insert((n.label, n.node)) {
                    continue;
                }
                let key = snap.node_key(n.label, n.node)?.unwrap_or_default();
                let lname = label_name(n.label)?;
                let full = format!("{lname}:{key}");
                node_col.append_value(&full);
                label_col.append_value(&lname);
                key_col.append_value(&key);
                hop_col.append_value(i64::from(hop + 1));
                type_col.append_value(&catalog.edge_type_by_id(n.edge_type)?.name);
                edge_col.append_value(n.edge_id);
                dir_col.append_value(match n.dir {
                    Dir::Out => "out",
                    Dir::In => "in",
                });
                time_col.append_option(n.time);
                parent_col.append_value(&name);
                rows += 1;
                frontier.push_back(((n.label, n.node), full, hop + 1));
            }
            entries_read += found.entries_read();
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(node_col.finish()),
        Arc::new(label_col.finish()),
        Arc::new(key_col.finish()),
        Arc::new(hop_col.finish()),
        Arc::new(type_col.finish()),
        Arc::new(edge_col.finish()),
        Arc::new(dir_col.finish()),
        Arc::new(time_col.finish()),
        Arc::new(parent_col.finish()),
    ];
    let batch = RecordBatch::try_new(neighbors_schema(), columns)
        .map_err(|e| argus_engine::Error::Corrupt(e.to_string()))?;
    Ok((batch, entries_read))
}

/// `degree(node, edge_type, direction)`.
#[derive(Debug)]
struct DegreeFunction {
    slot: SnapshotSlot,
    signature: Signature,
}

impl DegreeFunction {
    fn new(slot: SnapshotSlot) -> Self {
        DegreeFunction {
            slot,
            signature: Signature::string(3, Volatility::Stable),
        }
    }
}

impl PartialEq for DegreeFunction {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}
impl Eq for DegreeFunction {}
impl std::hash::Hash for DegreeFunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        "degree".hash(state);
    }
}

/// A string argument column (any string type or castable value), one entry per row.
pub(crate) fn string_column(v: &ColumnarValue, rows: usize) -> Result<StringArray> {
    let array = v.to_array(rows)?;
    let utf8 = cast(&array, &DataType::Utf8)?;
    Ok(utf8
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to Utf8")
        .clone())
}

impl ScalarUDFImpl for DegreeFunction {
    fn name(&self) -> &str {
        "degree"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        const F: &str = "degree";
        let rows = args.number_rows;
        let nodes = string_column(&args.args[0], rows)?;
        let types = string_column(&args.args[1], rows)?;
        let dirs = string_column(&args.args[2], rows)?;
        let snap = self.slot.read().clone();
        let catalog = snap.catalog();
        let mut out = Int64Builder::with_capacity(rows);
        for i in 0..rows {
            if nodes.is_null(i) || types.is_null(i) || dirs.is_null(i) {
                out.append_null();
                continue;
            }
            let (label, key) = parse_node(F, nodes.value(i))?;
            let t = catalog.edge_type(types.value(i)).map_err(to_df)?;
            let direction = parse_direction(F, Some(dirs.value(i).to_string()), Direction::Both)?;
            let l = catalog.label(&label).map_err(to_df)?;
            let Some(id) = snap.node_id_in(l.id, &key).map_err(to_df)? else {
                out.append_null();
                continue;
            };
            let mut total = 0u64;
            let dirs_to_count: &[Dir] = if t.undirected {
                &[Dir::Out]
            } else {
                match direction {
                    Direction::Out => &[Dir::Out],
                    Direction::In => &[Dir::In],
                    Direction::Both => &[Dir::Out, Dir::In],
                }
            };
            for &d in dirs_to_count {
                total += snap.degree(l.id, id, t.id, d).map_err(to_df)?;
            }
            out.append_value(total as i64);
        }
        let array: ArrayRef = Arc::new(out.finish());
        Ok(ColumnarValue::Array(array))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_engine::GraphStore;
    use datafusion::arrow::array::AsArray;

    #[test]
    fn a_limited_neighbourhood_reads_only_what_it_returns() {
        let dir = tempfile::tempdir().unwrap();
        let store = GraphStore::open(dir.path().join("db")).unwrap();
        // One card paying 5,000 merchants, one payment each, at times 0..5000 seconds.
        store
            .write(|tx| {
                tx.create_label("card", "id", vec![])?;
                tx.create_label("merchant", "id", vec![])?;
                tx.create_edge_type("paid", "card", "merchant", false, vec![])?;
                tx.upsert_node("card", "c", &[])?;
                for m in 0..5_000i64 {
                    tx.upsert_node("merchant", &format!("m{m}"), &[])?;
                    tx.insert_edge("paid", "c", &format!("m{m}"), Some(m * 1_000_000), &[])?;
                }
                Ok(())
            })
            .unwrap();
        let snap = store.snapshot();
        let card = snap.catalog().label("card").unwrap().id;
        let start = (card, snap.node_id("card", "c").unwrap().unwrap());
        let run = |hops: u32, limit: usize| {
            k_hop(&snap, start, hops, &[], Direction::Both, None, None, limit).unwrap()
        };
        let nodes = |batch: &RecordBatch| -> Vec<String> {
            batch
                .column(0)
                .as_string::<i32>()
                .iter()
                .map(|v| v.unwrap().to_string())
                .collect()
        };

        let (whole, read_all) = run(1, MAX_NEIGHBOR_LIMIT);
        assert_eq!(whole.num_rows(), 5_000);
        assert_eq!(read_all, 5_000);
        let newest: Vec<String> = (4_990..5_000)
            .rev()
            .map(|m| format!("merchant:m{m}"))
            .collect();
        assert_eq!(nodes(&whole)[..10], newest);

        let (ten, read) = run(1, 10);
        assert_eq!(
            nodes(&ten),
            newest,
            "the newest-first prefix of the whole result"
        );
        assert!(read <= 10 + 1, "read {read} adjacency entries for 10 rows");

        // Two hops: each merchant leads back to the card (already seen); the limit still stops
        // the reads once its rows are there.
        let (two, read) = run(2, 25);
        assert_eq!(two.num_rows(), 25);
        assert!(read <= 25 + 1, "read {read} adjacency entries for 25 rows");

        let (none, read) = run(1, 0);
        assert_eq!((none.num_rows(), read), (0, 0));
    }
}
