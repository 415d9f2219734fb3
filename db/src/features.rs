//! Node feature matrices over a [`Projection`]'s index space: numeric properties of a label,
//! the label itself as a one-hot column when several labels share the space, and structural
//! features for nodes that have few properties of their own: degrees per relation, and
//! aggregates of incident edges' properties and timing (as of a time) with their neighbourhood
//! means.

use arrow_array::{Array, BooleanArray, Float64Array, Int64Array, UInt64Array};

use argus_engine::catalog::PropType;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use argus_engine::{Error, Result, Snapshot};
use argus_extensions::ml::backend::{Aggregation, Backend};
use argus_extensions::ml::cpu::Cpu;
use argus_extensions::ml::matrix::Matrix;
use argus_extensions::ml::relation::Relation;

use crate::projection::{LabelRange, Projection};

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
pub(crate) fn numeric_at(array: &dyn Array, row: usize) -> Option<f64> {
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
    fn summary(&self) -> [f64; STATS.len()] {
        if self.count == 0.0 {
            return [0.0; STATS.len()];
        }
        let mean = self.sum / self.count;
        let var = (self.sum_sq / self.count - mean * mean).max(0.0);
        [self.sum, mean, var.sqrt(), self.min, self.max]
    }
}

const MICROS_PER_DAY: f64 = 86_400e6;

/// `mean_neighbour_log_degree` averages over at most this many of the most recent neighbours.
pub const RECENT_NEIGHBOURS: usize = 64;

/// Which structural features a node gets, computed from the projection as of a time: the same
/// definition serves full-graph training and scoring one entity, so the two cannot drift.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StructuralSpec {
    /// Per relation: log(1 + messages received as of t) and the mean of that over the (at most
    /// [`RECENT_NEIGHBOURS`] most recent) senders.
    pub degrees: bool,
    /// For nodes of this label, per relation they receive along: the count of incident edges,
    /// sum/mean/std/min/max of each numeric edge property, how far each edge's value lies from
    /// the other endpoint's usual value (see [`CONSENSUS`]), days since the last and the first
    /// edge, and the mean and std of days between consecutive edges.
    pub edge_aggregates: Option<String>,
    /// With the edge aggregates, per numeric property what the most established senders sent
    /// (see [`ESTABLISHED`]). Models stored before it existed read `false` and keep the
    /// columns they were trained on.
    #[serde(default)]
    pub established: bool,
    /// With the edge aggregates, per numeric property the [`CONSENSUS`] deviation.
    #[serde(default = "enabled")]
    pub consensus: bool,
    /// Edge properties (`edge_type.property`) that are labels ([`crate::labels`]): never
    /// aggregated, so a payment's `is_fraud` cannot reach a model through its endpoints.
    #[serde(default)]
    pub withheld: Vec<String>,
}

fn enabled() -> bool {
    true
}

/// Evaluates a [`StructuralSpec`] over one projection. Cheap to create (no names are built),
/// so scoring can make one per request.
pub struct Structural<'a> {
    projection: &'a Projection,
    degrees: bool,
    /// Relations whose receivers have the aggregated label.
    aggregated: Vec<usize>,
    /// Per projection relation, the one carrying the same edges the other way (itself for an
    /// undirected type): where a message's sender sees its own edges of the type.
    reverse: Vec<usize>,
    aggregated_label: Option<LabelRange>,
    established: bool,
    consensus: bool,
    /// Per projected edge type, the positions in its `numeric` of the properties aggregated
    /// (the withheld ones left out).
    columns: Vec<Vec<usize>>,
}

/// Per-relation recency columns, after the count and the edge-property statistics.
const RECENCY: [&str; 4] = [
    "log_days_since_last",
    "log_days_since_first",
    "log_mean_gap_days",
    "log_std_gap_days",
];

/// Statistics of each numeric edge property, in [`Moments::summary`] order.
const STATS: [&str; 5] = ["sum", "mean", "std", "min", "max"];

/// Consensus deviation of each numeric edge property: over a node's (at most
/// [`RECENT_NEIGHBOURS`] most recent) edges, the mean signed and the mean absolute difference
/// between the edge's value and the other endpoint's mean over its own (most recent) edges of
/// that type, seen from its side. A rater whose ratings disagree with what the rated users
/// usually get, a user rated worse than the raters usually rate, a card paying amounts unusual
/// for its merchants: the edge alone or the node's own averages do not show that.
pub const CONSENSUS: [&str; 2] = ["mean_deviation", "mean_abs_deviation"];

/// What the node's most established senders sent: the min and the mean of each numeric edge
/// property over the newest edge from each of the [`ESTABLISHED_SENDERS`] senders that
/// themselves received the most edges of the type (as of the same time). A rating from a user
/// the whole market
/// trades with, a payment from a long-standing account: where trust is concentrated, the
/// verdict of the few central counterparties says more than the average of all of them.
pub const ESTABLISHED: [&str; 2] = ["min_from_established", "mean_from_established"];

/// Senders [`ESTABLISHED`] keeps.
pub const ESTABLISHED_SENDERS: usize = 3;

/// [`ESTABLISHED`] looks at most at this many of a node's most recent edges of a type, which
/// bounds the cost of scoring a node of huge degree.
pub const ESTABLISHED_WINDOW: usize = 1024;

impl<'a> Structural<'a> {
    /// Prepare `spec` over `projection`.
    pub fn new(projection: &'a Projection, spec: &StructuralSpec) -> Result<Structural<'a>> {
        let mut aggregated = Vec::new();
        let mut aggregated_label = None;
        if let Some(label) = &spec.edge_aggregates {
            let range = projection
                .labels
                .iter()
                .find(|r| &r.name == label)
                .ok_or_else(|| {
                    Error::InvalidArgument(format!("label {label} is not in the projection"))
                })?
                .clone();
            aggregated = (0..projection.relations.len())
                .filter(|&r| projection.relations[r].target_label == range.label)
                .collect();
            aggregated_label = Some(range);
        }
        let reverse = (0..projection.relations.len())
            .map(|r| {
                let rel = &projection.relations[r];
                (0..projection.relations.len())
                    .find(|&o| {
                        let other = &projection.relations[o];
                        o != r
                            && other.edge_type == rel.edge_type
                            && other.source_label == rel.target_label
                            && other.target_label == rel.source_label
                    })
                    .unwrap_or(r)
            })
            .collect();
        let columns = projection
            .edge_types
            .iter()
            .map(|t| {
                (0..t.numeric.len())
                    .filter(|&c| {
                        let qualified = format!("{}.{}", t.name, t.numeric[c].0);
                        !spec.withheld.contains(&qualified)
                    })
                    .collect()
            })
            .collect();
        Ok(Structural {
            projection,
            degrees: spec.degrees,
            aggregated,
            reverse,
            aggregated_label,
            established: spec.established,
            consensus: spec.consensus,
            columns,
        })
    }

    /// Columns of one aggregated relation: count, statistics per numeric property, recency.
    fn aggregate_width(&self, relation: usize) -> usize {
        let properties = self.columns[self.projection.relations[relation].edge_type].len();
        let established = if self.established {
            ESTABLISHED.len()
        } else {
            0
        };
        let consensus = if self.consensus { CONSENSUS.len() } else { 0 };
        1 + (STATS.len() + consensus + established) * properties + RECENCY.len()
    }

    /// Number of columns.
    pub fn width(&self) -> usize {
        let degrees = if self.degrees {
            2 * self.projection.relations.len()
        } else {
            0
        };
        degrees
            + self
                .aggregated
                .iter()
                .map(|&r| self.aggregate_width(r))
                .sum::<usize>()
    }

    /// Column names.
    pub fn names(&self) -> Vec<String> {
        let p = self.projection;
        let mut names = Vec::with_capacity(self.width());
        if self.degrees {
            for rel in &p.relations {
                names.push(format!("log_degree[{}]", rel.name));
                names.push(format!("mean_neighbour_log_degree[{}]", rel.name));
            }
        }
        for &r in &self.aggregated {
            let tag = &p.relations[r].name;
            names.push(format!("log_count[{tag}]"));
            let edge_type = &p.edge_types[p.relations[r].edge_type];
            for &c in &self.columns[p.relations[r].edge_type] {
                let prop = &edge_type.numeric[c].0;
                names.extend(STATS.iter().map(|stat| format!("{stat}_{prop}[{tag}]")));
                if self.consensus {
                    names.extend(CONSENSUS.iter().map(|stat| format!("{stat}_{prop}[{tag}]")));
                }
                if self.established {
                    names.extend(
                        ESTABLISHED
                            .iter()
                            .map(|stat| format!("{stat}_{prop}[{tag}]")),
                    );
                }
            }
            names.extend(RECENCY.iter().map(|stat| format!("{stat}[{tag}]")));
        }
        names
    }

    /// The features of node `node` counting only edges with time ≤ `as_of` (all edges when
    /// `None`), appended to `out`.
    pub fn node_into(&self, node: usize, as_of: Option<i64>, out: &mut Vec<f32>) {
        let p = self.projection;
        if self.degrees {
            for rel in &p.relations {
                let r = &rel.relation;
                let known = r.messages_as_of(node, as_of);
                let n = known.len();
                out.push((n as f32).ln_1p());
                // The most recent neighbours only: a merchant with 10^5 payments must not cost
                // 10^5 lookups each time it appears in a sampled neighbourhood.
                let recent = known.end - n.min(RECENT_NEIGHBOURS)..known.end;
                let mean = if n == 0 {
                    0.0
                } else {
                    r.sources[recent.clone()]
                        .iter()
                        .map(|&s| (r.messages_as_of(s as usize, as_of).len() as f32).ln_1p())
                        .sum::<f32>()
                        / recent.len() as f32
                };
                out.push(mean);
            }
        }
        let Some(range) = &self.aggregated_label else {
            return;
        };
        let own = node >= range.offset && node < range.offset + range.len;
        // Recency is measured from the newest edge when no as-of time is given.
        let reference = as_of.unwrap_or(p.newest);
        for &r in &self.aggregated {
            let rel = &p.relations[r];
            let numeric = &p.edge_types[rel.edge_type].numeric;
            let columns = &self.columns[rel.edge_type];
            if !own {
                out.extend(std::iter::repeat_n(0.0, self.aggregate_width(r)));
                continue;
            }
            let known = rel.relation.messages_as_of(node, as_of);
            out.push((known.len() as f32).ln_1p());
            let edges = &rel.relation.edge_ids[known.clone()];
            for values in columns.iter().map(|&c| &numeric[c].1) {
                let mut m = Moments::default();
                for &e in edges {
                    let v = values[e as usize];
                    if !v.is_nan() {
                        m.add(v as f64);
                    }
                }
                out.extend(m.summary().iter().map(|&v| v as f32));
                if self.consensus {
                    out.extend(self.consensus_deviation(r, known.clone(), as_of, values));
                }
                if self.established {
                    out.extend(self.established_senders(r, known.clone(), as_of, values));
                }
            }
            let times: Vec<i64> = rel.relation.times[known]
                .iter()
                .copied()
                .filter(|&t| t != i64::MIN)
                .collect();
            let days = |micros: i64| ((micros.max(0) as f64) / MICROS_PER_DAY).ln_1p() as f32;
            match (times.first(), times.last()) {
                (Some(&first), Some(&last)) if reference != i64::MIN => {
                    out.push(days(reference - last));
                    out.push(days(reference - first));
                }
                _ => out.extend([0.0, 0.0]),
            }
            // Times are sorted: consecutive differences are the gaps.
            let gaps: Vec<f64> = times
                .windows(2)
                .map(|w| (w[1] - w[0]) as f64 / MICROS_PER_DAY)
                .collect();
            if gaps.is_empty() {
                out.extend([0.0, 0.0]);
            } else {
                let n = gaps.len() as f64;
                let mean = gaps.iter().sum::<f64>() / n;
                let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / n;
                out.push(mean.ln_1p() as f32);
                out.push(var.sqrt().ln_1p() as f32);
            }
        }
    }

    /// [`CONSENSUS`] of one property over the messages `known` of relation `r`.
    fn consensus_deviation(
        &self,
        r: usize,
        known: std::ops::Range<usize>,
        as_of: Option<i64>,
        values: &[f32],
    ) -> [f32; CONSENSUS.len()] {
        let p = self.projection;
        let rel = &p.relations[r].relation;
        let reverse = &p.relations[self.reverse[r]].relation;
        // The most recent edges on both sides bound the work for a node of huge degree.
        let recent = |range: std::ops::Range<usize>| {
            range.end - range.len().min(RECENT_NEIGHBOURS)..range.end
        };
        let (mut signed, mut absolute, mut count) = (0.0f64, 0.0f64, 0usize);
        for m in recent(known) {
            let v = values[rel.edge_ids[m] as usize];
            if v.is_nan() {
                continue;
            }
            let sender = rel.sources[m] as usize;
            let theirs = recent(reverse.messages_as_of(sender, as_of));
            let (mut sum, mut n) = (0.0f64, 0usize);
            for &e in &reverse.edge_ids[theirs] {
                let x = values[e as usize];
                if !x.is_nan() {
                    sum += x as f64;
                    n += 1;
                }
            }
            if n > 0 {
                let deviation = v as f64 - sum / n as f64;
                signed += deviation;
                absolute += deviation.abs();
                count += 1;
            }
        }
        if count == 0 {
            return [0.0; CONSENSUS.len()];
        }
        [
            (signed / count as f64) as f32,
            (absolute / count as f64) as f32,
        ]
    }

    /// [`ESTABLISHED`] of one property over the messages `known` of relation `r`.
    fn established_senders(
        &self,
        r: usize,
        known: std::ops::Range<usize>,
        as_of: Option<i64>,
        values: &[f32],
    ) -> [f32; ESTABLISHED.len()] {
        let rel = &self.projection.relations[r].relation;
        // Standing is what a sender received along the edge type's own direction: against it
        // (`type<`), the senders are the edges' destinations, ranked by the edges they received.
        let received = if self.projection.relations[r].name.ends_with('<') {
            &self.projection.relations[self.reverse[r]].relation
        } else {
            rel
        };
        let window = known.end - known.len().min(ESTABLISHED_WINDOW)..known.end;
        // (edges the sender received, sender, the value it sent), most received first. Walking
        // from the newest edge keeps the more recent of equally established senders, and a
        // sender's newest edge only.
        let mut best: Vec<(usize, u32, f32)> = Vec::with_capacity(ESTABLISHED_SENDERS + 1);
        for m in window.rev() {
            let v = values[rel.edge_ids[m] as usize];
            let sender = rel.sources[m];
            if v.is_nan() || best.iter().any(|&(_, s, _)| s == sender) {
                continue;
            }
            let standing = received.messages_as_of(sender as usize, as_of).len();
            let at = best.partition_point(|&(w, _, _)| w >= standing);
            if at < ESTABLISHED_SENDERS {
                best.insert(at, (standing, sender, v));
                best.truncate(ESTABLISHED_SENDERS);
            }
        }
        if best.is_empty() {
            return [0.0; ESTABLISHED.len()];
        }
        let min = best
            .iter()
            .map(|&(_, _, v)| v)
            .fold(f32::INFINITY, f32::min);
        let mean = best.iter().map(|&(_, _, v)| v as f64).sum::<f64>() / best.len() as f64;
        [min, mean as f32]
    }

    /// The features of every node as of `as_of`, in parallel.
    pub fn all(&self, as_of: Option<i64>) -> NodeFeatures {
        let width = self.width();
        let n = self.projection.node_count;
        // Straight into one matrix through a buffer per thread: a vector per node and their
        // concatenation cost more than the features (millions of allocations, a second copy).
        let mut data = vec![0.0; n * width];
        if width > 0 {
            data.par_chunks_mut(width).enumerate().for_each_init(
                || Vec::with_capacity(width),
                |buffer, (i, row)| {
                    buffer.clear();
                    self.node_into(i, as_of, buffer);
                    row.copy_from_slice(buffer);
                },
            );
        }
        NodeFeatures {
            names: self.names(),
            matrix: Matrix::from_vec(n, width, data),
        }
    }
}

/// The edge aggregates of [`StructuralSpec::edge_aggregates`] for nodes of `label`, counting
/// edges with time ≤ `as_of` when given (recency measured from `as_of`, else from the newest
/// edge); zeros for other nodes.
pub fn edge_aggregate_features(
    projection: &Projection,
    label: &str,
    as_of: Option<i64>,
) -> Result<NodeFeatures> {
    let spec = StructuralSpec {
        degrees: false,
        edge_aggregates: Some(label.to_string()),
        established: true,
        consensus: true,
        withheld: Vec::new(),
    };
    Ok(Structural::new(projection, &spec)?.all(as_of))
}

/// For the tree models: over each relation in `relations` (indexes into `graphs`), the mean,
/// standard deviation, minimum, maximum and sum of `base` over the 1-hop neighbours, and the
/// mean over them of their own neighbours' mean (2 hops). Nodes without neighbours get NaN for
/// min/max, which the trees treat as missing.
pub fn neighbourhood_features(
    graphs: &[&Relation],
    relation_names: &[String],
    base: &NodeFeatures,
) -> NodeFeatures {
    NodeFeatures {
        names: neighbourhood_names(relation_names, &base.names),
        matrix: neighbourhood_matrix(graphs, &base.matrix, base.matrix.rows),
    }
}

/// The statistics of [`neighbourhood_features`], in column order per relation.
const NEIGHBOURHOOD_STATS: [&str; 6] = ["mean", "mean_2hop", "std", "min", "max", "sum"];

/// Column names of [`neighbourhood_features`].
pub fn neighbourhood_names(relation_names: &[String], base_names: &[String]) -> Vec<String> {
    let mut names = Vec::new();
    for name in relation_names {
        for stat in NEIGHBOURHOOD_STATS {
            names.extend(
                base_names
                    .iter()
                    .map(|n| format!("neighbours_{stat}[{name}]:{n}")),
            );
        }
    }
    names
}

/// The values of [`neighbourhood_features`] for the first `rows` nodes (scoring needs no names,
/// and only a block's targets: its other nodes are there to be aggregated).
pub fn neighbourhood_matrix(graphs: &[&Relation], base: &Matrix, rows: usize) -> Matrix {
    let stats = Neighbourhoods::new(graphs, base);
    let width = stats.width();
    let mut data = vec![0.0; rows * width];
    data.par_chunks_mut(width.max(1))
        .enumerate()
        .for_each(|(t, row)| stats.row_into(t, row));
    Matrix::from_vec(rows, width, data)
}

/// The statistics of [`neighbourhood_features`], read node by node, so that a caller needing a
/// few rows at a time never holds the whole matrix.
pub struct Neighbourhoods<'a> {
    graphs: &'a [&'a Relation],
    base: &'a Matrix,
    /// Per relation, every node's mean over its neighbours (the 2-hop mean reads them).
    means: Vec<Matrix>,
}

impl<'a> Neighbourhoods<'a> {
    /// The statistics of `base` over `graphs`.
    pub fn new(graphs: &'a [&'a Relation], base: &'a Matrix) -> Neighbourhoods<'a> {
        let means = graphs
            .iter()
            .map(|relation| Cpu.aggregate(relation, base, Aggregation::Mean))
            .collect();
        Neighbourhoods {
            graphs,
            base,
            means,
        }
    }

    /// Values per node.
    pub fn width(&self) -> usize {
        self.graphs.len() * NEIGHBOURHOOD_STATS.len() * self.base.cols
    }

    /// Node `t`'s statistics into `out` ([`Neighbourhoods::width`] values). Each sum adds the
    /// neighbours in message order, as the backend's aggregation does, so the values are those
    /// of training's full-graph features bit for bit.
    pub fn row_into(&self, t: usize, out: &mut [f32]) {
        let cols = self.base.cols;
        for ((relation, means), out) in self
            .graphs
            .iter()
            .zip(&self.means)
            .zip(out.chunks_mut(NEIGHBOURHOOD_STATS.len() * cols))
        {
            // In NEIGHBOURHOOD_STATS order.
            let (mean, rest) = out.split_at_mut(cols);
            let (two_hop, rest) = rest.split_at_mut(cols);
            let (std, rest) = rest.split_at_mut(cols);
            let (min, rest) = rest.split_at_mut(cols);
            let (max, sum) = rest.split_at_mut(cols);
            for part in [&mut *mean, &mut *two_hop, &mut *std, &mut *sum] {
                part.fill(0.0);
            }
            let sources = relation.sources_of(t);
            if sources.is_empty() {
                min.fill(f32::NAN);
                max.fill(f32::NAN);
                continue;
            }
            min.fill(f32::NEG_INFINITY);
            max.fill(f32::NEG_INFINITY);
            // `std` first holds the sum of squares, `mean` the sum.
            for &s in sources {
                let x = self.base.row(s as usize);
                let neighbours_mean = means.row(s as usize);
                for c in 0..cols {
                    let v = x[c];
                    sum[c] += v;
                    std[c] += v * v;
                    two_hop[c] += neighbours_mean[c];
                    max[c] = max[c].max(v);
                    min[c] = min[c].max(-v);
                }
            }
            let inv = 1.0 / sources.len() as f32;
            for c in 0..cols {
                mean[c] = sum[c] * inv;
                two_hop[c] *= inv;
                let squares = std[c] * inv;
                std[c] = (squares - mean[c] * mean[c]).max(0.0).sqrt();
                min[c] = -min[c];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statistics computed as separate whole-matrix aggregations, one statistic at a time.
    fn reference(graphs: &[&Relation], base: &Matrix, rows: usize) -> Matrix {
        let max_over = |relation: &Relation, sign: f32| {
            let mut out = Matrix::filled(rows, base.cols, f32::NAN);
            for t in 0..rows {
                let sources = relation.sources_of(t);
                if !sources.is_empty() {
                    let row = out.row_mut(t);
                    row.fill(f32::NEG_INFINITY);
                    for &s in sources {
                        for (o, &v) in row.iter_mut().zip(base.row(s as usize)) {
                            *o = o.max(sign * v);
                        }
                    }
                    row.iter_mut().for_each(|v| *v *= sign);
                }
            }
            out
        };
        let mut blocks = Vec::new();
        for relation in graphs {
            let mean_all = Cpu.aggregate(relation, base, Aggregation::Mean);
            let two_hop = Cpu.aggregate_rows(relation, &mean_all, Aggregation::Mean, rows);
            let mean = Cpu.head_rows(&mean_all, rows);
            let sum = Cpu.aggregate_rows(relation, base, Aggregation::Sum, rows);
            let mut squares = base.clone();
            squares.data.iter_mut().for_each(|v| *v *= *v);
            let mut std = Cpu.aggregate_rows(relation, &squares, Aggregation::Mean, rows);
            for (s, m) in std.data.iter_mut().zip(&mean.data) {
                *s = (*s - m * m).max(0.0).sqrt();
            }
            blocks.extend([
                mean,
                two_hop,
                std,
                max_over(relation, -1.0),
                max_over(relation, 1.0),
                sum,
            ]);
        }
        blocks
            .iter()
            .skip(1)
            .fold(blocks[0].clone(), |all, b| all.hconcat(b))
    }

    #[test]
    fn neighbourhood_statistics_equal_the_whole_matrix_aggregations_bit_for_bit() {
        let n = 300;
        let mut draw = 0u64;
        let mut next = || {
            draw += 1;
            argus_extensions::ml::cpu::mix64(draw)
        };
        let base = Matrix::from_vec(
            n,
            5,
            (0..n * 5)
                .map(|i| match i % 17 {
                    0 => f32::NAN,
                    _ => (next() % 10_000) as f32 / 997.0 - 4.0,
                })
                .collect(),
        );
        // Skewed degrees, nodes without messages, and a node that receives from most others.
        let edges = |salt: u64, next: &mut dyn FnMut() -> u64| -> Vec<(u32, u32)> {
            let mut edges: Vec<(u32, u32)> = (0..900)
                .map(|_| {
                    (
                        (next() % n as u64) as u32,
                        ((next() + salt) % (n as u64 / 3)) as u32,
                    )
                })
                .collect();
            edges.extend((1..250).map(|s| (s, 299)));
            edges
        };
        let first = Relation::from_edges(n, n, &edges(0, &mut next));
        let second = Relation::from_edges(n, n, &edges(11, &mut next));
        let graphs = [&first, &second];
        for rows in [0, 1, 120, n] {
            let fused = neighbourhood_matrix(&graphs, &base, rows);
            let expected = reference(&graphs, &base, rows);
            assert_eq!((fused.rows, fused.cols), (rows, 2 * 6 * 5));
            let same = fused
                .data
                .iter()
                .zip(&expected.data)
                .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
            assert!(same, "rows {rows}");
        }
    }
}
