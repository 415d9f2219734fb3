//! Node feature matrices over a [`Projection`]'s index space: numeric properties of a label,
//! the label itself as a one-hot column when several labels share the space, and structural
//! features for nodes that have few properties of their own: degrees per relation, and
//! aggregates of incident edges' properties and timing (as of a time) with their neighbourhood
//! means.

use arrow_array::{Array, BooleanArray, Float64Array, Int64Array, UInt64Array};

use argus_engine::catalog::PropType;
use argus_engine::{Error, Result, Snapshot};
use argus_extensions::ml::backend::{Aggregation, Backend};
use argus_extensions::ml::cpu::Cpu;
use argus_extensions::ml::matrix::Matrix;

use crate::projection::Projection;

/// A feature matrix (one row per global index) and its column names.
#[derive(Clone, Debug)]
pub struct NodeFeatures {
    /// Column names, for reports and explanations.
    pub names: Vec<String>,
    /// `projection.node_count × names.len()`.
    pub matrix: Matrix,
}

impl NodeFeatures {
    /// Columns of `self` then `other`.
    pub fn join(&self, other: &NodeFeatures) -> NodeFeatures {
        let mut names = self.names.clone();
        names.extend(other.names.iter().cloned());
        NodeFeatures {
            names,
            matrix: self.matrix.hconcat(&other.matrix),
        }
    }
}

/// The numeric (int, float, bool) properties of `label`, except those in `exclude`.
pub fn numeric_properties(
    snapshot: &Snapshot,
    label: &str,
    exclude: &[&str],
) -> Result<Vec<String>> {
    Ok(snapshot
        .catalog()
        .label(label)?
        .properties
        .iter()
        .filter(|p| matches!(p.ty, PropType::Int | PropType::Float | PropType::Bool))
        .filter(|p| !exclude.contains(&p.name.as_str()))
        .map(|p| p.name.clone())
        .collect())
}

/// The value at `row` of an int, float or bool column as a float (`None` for other types).
fn numeric_at(array: &dyn Array, row: usize) -> Option<f64> {
    let any = array.as_any();
    if let Some(a) = any.downcast_ref::<Int64Array>() {
        Some(a.value(row) as f64)
    } else if let Some(a) = any.downcast_ref::<Float64Array>() {
        Some(a.value(row))
    } else {
        any.downcast_ref::<BooleanArray>()
            .map(|a| f64::from(u8::from(a.value(row))))
    }
}

/// One numeric property of every node of `label`, by global index (`None`: missing).
pub fn property_values(
    snapshot: &Snapshot,
    projection: &Projection,
    label: &str,
    property: &str,
) -> Result<Vec<Option<f64>>> {
    let def = snapshot.catalog().label(label)?;
    let range = projection
        .range(def.id)
        .ok_or_else(|| Error::InvalidArgument(format!("label {label} is not in the projection")))?
        .clone();
    let position = def
        .properties
        .iter()
        .position(|p| p.name == property)
        .ok_or_else(|| Error::NotFound(format!("label {label} has no property {property}")))?;
    let mut out = vec![None; projection.node_count];
    for batch in snapshot.scan_nodes(label, 65_536, Some(vec![1, 2 + position]))? {
        let batch = batch?;
        let ids = batch
            .column(0)
            .as_any()
            .downcast_ref::<UInt64Array>()
            .ok_or_else(|| Error::Corrupt("_id column is not UInt64".into()))?;
        let values = batch.column(1);
        for (row, &id) in ids.values().iter().enumerate() {
            if values.is_null(row) || id as usize >= range.len {
                continue;
            }
            let v = numeric_at(values.as_ref(), row).ok_or_else(|| {
                Error::InvalidArgument(format!("property {label}.{property} is not numeric"))
            })?;
            out[range.offset + id as usize] = Some(v);
        }
    }
    Ok(out)
}

/// The properties `properties` of `label` as columns (missing values 0).
pub fn property_features(
    snapshot: &Snapshot,
    projection: &Projection,
    label: &str,
    properties: &[String],
) -> Result<NodeFeatures> {
    let mut matrix = Matrix::zeros(projection.node_count, properties.len());
    for (j, p) in properties.iter().enumerate() {
        for (i, v) in property_values(snapshot, projection, label, p)?
            .into_iter()
            .enumerate()
        {
            if let Some(v) = v {
                matrix.row_mut(i)[j] = v as f32;
            }
        }
    }
    Ok(NodeFeatures {
        names: properties.iter().map(|p| format!("{label}.{p}")).collect(),
        matrix,
    })
}

/// One-hot label columns (only useful when the projection has several labels).
pub fn label_indicators(projection: &Projection) -> NodeFeatures {
    let mut matrix = Matrix::zeros(projection.node_count, projection.labels.len());
    for (j, r) in projection.labels.iter().enumerate() {
        for i in r.offset..r.offset + r.len {
            matrix.row_mut(i)[j] = 1.0;
        }
    }
    NodeFeatures {
        names: projection
            .labels
            .iter()
            .map(|r| format!("is_{}", r.name))
            .collect(),
        matrix,
    }
}

/// Per relation: log(1 + messages received) and the mean of that over the senders.
pub fn degree_features(projection: &Projection) -> NodeFeatures {
    let n = projection.node_count;
    let mut names = Vec::new();
    let mut matrix = Matrix::zeros(n, projection.relations.len() * 2);
    for (r, rel) in projection.relations.iter().enumerate() {
        let degree: Vec<f32> = (0..n)
            .map(|i| (rel.relation.in_degree(i) as f32).ln_1p())
            .collect();
        for i in 0..n {
            let sources = rel.relation.sources_of(i);
            let mean = if sources.is_empty() {
                0.0
            } else {
                sources.iter().map(|&s| degree[s as usize]).sum::<f32>() / sources.len() as f32
            };
            let row = matrix.row_mut(i);
            row[2 * r] = degree[i];
            row[2 * r + 1] = mean;
        }
        names.push(format!("log_degree[{}]", rel.name));
        names.push(format!("mean_neighbour_log_degree[{}]", rel.name));
    }
    NodeFeatures { names, matrix }
}

/// Running statistics of one numeric edge property at one node.
#[derive(Clone, Copy)]
struct Moments {
    count: f64,
    sum: f64,
    sum_sq: f64,
    min: f64,
    max: f64,
}

impl Default for Moments {
    fn default() -> Self {
        Moments {
            count: 0.0,
            sum: 0.0,
            sum_sq: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl Moments {
    fn add(&mut self, v: f64) {
        self.count += 1.0;
        self.sum += v;
        self.sum_sq += v * v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// sum, mean, std, min, max (zeros without values).
    fn summary(&self) -> [f64; 5] {
        if self.count == 0.0 {
            return [0.0; 5];
        }
        let mean = self.sum / self.count;
        let var = (self.sum_sq / self.count - mean * mean).max(0.0);
        [self.sum, mean, var.sqrt(), self.min, self.max]
    }
}

const MICROS_PER_DAY: f64 = 86_400e6;

/// Per node of `label` and per (edge type, side) it takes part in: the count of incident edges,
/// sum/mean/std/min/max of every numeric edge property, days since the last edge and since the
/// first, and the mean and std of days between consecutive edges — counting only edges with
/// time ≤ `as_of` when given (and measuring recency from `as_of`, else from the newest edge).
/// Then the mean of all of those over each relation's neighbours.
pub fn edge_aggregate_features(
    snapshot: &Snapshot,
    projection: &Projection,
    label: &str,
    as_of: Option<i64>,
) -> Result<NodeFeatures> {
    let catalog = snapshot.catalog();
    let label_id = catalog.label(label)?.id;
    let range = projection
        .range(label_id)
        .ok_or_else(|| Error::InvalidArgument(format!("label {label} is not in the projection")))?
        .clone();
    let mut names = Vec::new();
    let mut columns: Vec<Vec<f32>> = Vec::new();
    for def in &catalog.edge_types {
        let numeric: Vec<(usize, String)> = def
            .properties
            .iter()
            .enumerate()
            .filter(|(_, p)| matches!(p.ty, PropType::Int | PropType::Float | PropType::Bool))
            .map(|(i, p)| (6 + i, p.name.clone()))
            .collect();
        // Which end(s) of this type are nodes of `label`: 3 = source id column, 4 = destination.
        let mut ends = Vec::new();
        if def.src_label == label_id {
            ends.push((3usize, if def.undirected { "" } else { ">" }));
        }
        if def.dst_label == label_id {
            ends.push((4usize, if def.undirected { "" } else { "<" }));
        }
        if ends.is_empty() {
            continue;
        }
        let mut wanted = vec![3, 4, 5];
        wanted.extend(numeric.iter().map(|(i, _)| *i));
        let mut times: Vec<Vec<Vec<i64>>> = vec![vec![Vec::new(); range.len]; ends.len()];
        let mut moments =
            vec![vec![vec![Moments::default(); numeric.len()]; range.len]; ends.len()];
        let mut newest = i64::MIN;
        for batch in snapshot.scan_edges(&def.name, 65_536, Some(wanted))? {
            let batch = batch?;
            let time = batch
                .column(2)
                .as_any()
                .downcast_ref::<arrow_array::TimestampMicrosecondArray>()
                .ok_or_else(|| Error::Corrupt("edge time column is not a timestamp".into()))?;
            let end_ids = ends
                .iter()
                .map(|&(col, _)| {
                    batch
                        .column(col - 3)
                        .as_any()
                        .downcast_ref::<UInt64Array>()
                        .ok_or_else(|| Error::Corrupt("endpoint id column is not UInt64".into()))
                })
                .collect::<Result<Vec<_>>>()?;
            for row in 0..batch.num_rows() {
                let t = if time.is_null(row) {
                    None
                } else {
                    Some(time.value(row))
                };
                if let (Some(limit), Some(t)) = (as_of, t) {
                    if t > limit {
                        continue;
                    }
                }
                if let Some(t) = t {
                    newest = newest.max(t);
                }
                for (e, ids) in end_ids.iter().enumerate() {
                    let node = ids.value(row) as usize;
                    if node >= range.len {
                        continue;
                    }
                    times[e][node].push(t.unwrap_or(i64::MIN));
                    for (k, _) in numeric.iter().enumerate() {
                        let values = batch.column(3 + k);
                        if values.is_null(row) {
                            continue;
                        }
                        if let Some(v) = numeric_at(values.as_ref(), row) {
                            moments[e][node][k].add(v);
                        }
                    }
                }
            }
        }
        let reference = as_of.unwrap_or(newest);
        for (e, &(_, side)) in ends.iter().enumerate() {
            let tag = format!("{}{side}", def.name);
            let mut push = |name: String, values: Vec<f32>| {
                names.push(format!("{name}[{tag}]"));
                columns.push(values);
            };
            let per_node = &times[e];
            push(
                "log_count".into(),
                per_node.iter().map(|t| (t.len() as f32).ln_1p()).collect(),
            );
            for (k, (_, prop)) in numeric.iter().enumerate() {
                for (s, stat) in ["sum", "mean", "std", "min", "max"].iter().enumerate() {
                    push(
                        format!("{stat}_{prop}"),
                        moments[e]
                            .iter()
                            .map(|m| m[k].summary()[s] as f32)
                            .collect(),
                    );
                }
            }
            let mut since_last = Vec::with_capacity(range.len);
            let mut since_first = Vec::with_capacity(range.len);
            let mut gap_mean = Vec::with_capacity(range.len);
            let mut gap_std = Vec::with_capacity(range.len);
            for t in per_node {
                let mut t: Vec<i64> = t.iter().copied().filter(|&x| x != i64::MIN).collect();
                t.sort_unstable();
                let days = |micros: i64| ((micros.max(0) as f64) / MICROS_PER_DAY).ln_1p() as f32;
                match (t.first(), t.last()) {
                    (Some(&first), Some(&last)) if reference != i64::MIN => {
                        since_last.push(days(reference - last));
                        since_first.push(days(reference - first));
                    }
                    _ => {
                        since_last.push(0.0);
                        since_first.push(0.0);
                    }
                }
                let gaps: Vec<f64> = t
                    .windows(2)
                    .map(|w| (w[1] - w[0]) as f64 / MICROS_PER_DAY)
                    .collect();
                if gaps.is_empty() {
                    gap_mean.push(0.0);
                    gap_std.push(0.0);
                } else {
                    let n = gaps.len() as f64;
                    let mean = gaps.iter().sum::<f64>() / n;
                    let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / n;
                    gap_mean.push(mean.ln_1p() as f32);
                    gap_std.push(var.sqrt().ln_1p() as f32);
                }
            }
            push("log_days_since_last".into(), since_last);
            push("log_days_since_first".into(), since_first);
            push("log_mean_gap_days".into(), gap_mean);
            push("log_std_gap_days".into(), gap_std);
        }
    }
    let own_columns = columns.len();
    let mut matrix = Matrix::zeros(projection.node_count, own_columns);
    for (j, column) in columns.iter().enumerate() {
        for (id, &v) in column.iter().enumerate() {
            matrix.row_mut(range.offset + id)[j] = if v.is_finite() { v } else { 0.0 };
        }
    }
    let own = NodeFeatures { names, matrix };
    // The neighbourhood's view: the mean of those features over each relation's neighbours.
    let mut all = own.clone();
    for rel in &projection.relations {
        let mean = Cpu.aggregate(&rel.relation, &own.matrix, Aggregation::Mean);
        all = all.join(&NodeFeatures {
            names: own
                .names
                .iter()
                .map(|n| format!("neighbours_mean[{}]:{n}", rel.name))
                .collect(),
            matrix: mean,
        });
    }
    Ok(all)
}
