//! In-memory projections of the stored graph for the ML core: every node of the labels in
//! scope gets a global index (labels laid out one after another, each by its dense node id),
//! and every (edge type, direction) becomes one [`Relation`] over those indexes, so a
//! heterogeneous graph keeps one set of weights per relation.

use arrow_array::{Array, TimestampMicrosecondArray, UInt64Array};

use argus_engine::catalog::PropType;

use argus_engine::keys::CatalogId;
use argus_engine::{Error, NodeId, Result, Snapshot};
use argus_extensions::ml::relation::Relation;

use crate::features::numeric_at;

/// Where one label's nodes sit in the global index space.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelRange {
    /// The label.
    pub label: CatalogId,
    /// Its name.
    pub name: String,
    /// Global index of node id 0.
    pub offset: usize,
    /// Ids `0..len` (the highest id + 1; deleted ids stay as holes without edges).
    pub len: usize,
}

/// A relation of the projection and where it came from.
#[derive(Clone, Debug)]
pub struct ProjectedRelation {
    /// `type` for undirected types, `type>` (messages along the edge, received by its
    /// destination) and `type<` (against it, received by its source) for directed ones.
    pub name: String,
    /// Index of its edge type in [`Projection::edge_types`].
    pub edge_type: usize,
    /// Label of the nodes that send the messages.
    pub source_label: CatalogId,
    /// Label of the nodes that receive them.
    pub target_label: CatalogId,
    /// The messages, time-ordered per receiver, each with its edge's index in the edge type.
    pub relation: Relation,
}

/// The numeric properties of one projected edge type, by edge index (the order the edges were
/// scanned in, which [`Relation::edge_ids`] refers to).
#[derive(Clone, Debug)]
pub struct ProjectedEdgeType {
    /// Edge type name.
    pub name: String,
    /// (property name, one value per edge; NaN when missing).
    pub numeric: Vec<(String, Vec<f32>)>,
}

/// The graph of some edge types over the labels they connect.
#[derive(Clone, Debug)]
pub struct Projection {
    /// Labels in scope, in index order.
    pub labels: Vec<LabelRange>,
    /// One entry per (edge type, direction).
    pub relations: Vec<ProjectedRelation>,
    /// The edge types the relations come from.
    pub edge_types: Vec<ProjectedEdgeType>,
    /// Total number of global indexes.
    pub node_count: usize,
    /// Time of the newest edge (`i64::MIN` without timed edges): "now" for recency features
    /// when no as-of time is given.
    pub newest: i64,
}

impl Projection {
    /// The label range of `label`, if in scope.
    pub fn range(&self, label: CatalogId) -> Option<&LabelRange> {
        self.labels.iter().find(|r| r.label == label)
    }

    /// Global index of a node.
    pub fn index_of(&self, label: CatalogId, id: NodeId) -> Option<usize> {
        let r = self.range(label)?;
        ((id as usize) < r.len).then(|| r.offset + id as usize)
    }

    /// The node at a global index.
    pub fn node_at(&self, index: usize) -> Option<(CatalogId, NodeId)> {
        self.labels
            .iter()
            .find(|r| index >= r.offset && index < r.offset + r.len)
            .map(|r| (r.label, (index - r.offset) as NodeId))
    }
}

fn u64_column<'a>(array: &'a dyn Array, what: &str) -> Result<&'a UInt64Array> {
    array
        .as_any()
        .downcast_ref::<UInt64Array>()
        .ok_or_else(|| Error::Corrupt(format!("{what} column is not UInt64")))
}

/// Highest node id + 1 of a label.
fn id_span(snapshot: &Snapshot, name: &str) -> Result<usize> {
    let mut span = 0usize;
    for batch in snapshot.scan_nodes(name, 65_536, Some(vec![1]))? {
        let batch = batch?;
        let ids = u64_column(batch.column(0).as_ref(), "_id")?;
        if let Some(max) = ids.values().iter().max() {
            span = span.max(*max as usize + 1);
        }
    }
    Ok(span)
}

/// Project `edge_types` (all edge types when empty) and the labels they connect, plus the
/// `extra_labels` (for labels whose nodes may have no edges).
pub fn project(
    snapshot: &Snapshot,
    edge_types: &[String],
    extra_labels: &[String],
) -> Result<Projection> {
    let catalog = snapshot.catalog();
    let types: Vec<_> = if edge_types.is_empty() {
        catalog.edge_types.iter().collect()
    } else {
        edge_types
            .iter()
            .map(|t| catalog.edge_type(t))
            .collect::<Result<_>>()?
    };
    let mut label_ids: Vec<CatalogId> = Vec::new();
    for l in extra_labels {
        label_ids.push(catalog.label(l)?.id);
    }
    for t in &types {
        label_ids.push(t.src_label);
        label_ids.push(t.dst_label);
    }
    let mut seen = Vec::new();
    label_ids.retain(|l| {
        let fresh = !seen.contains(l);
        seen.push(*l);
        fresh
    });
    let mut labels = Vec::new();
    let mut offset = 0;
    for id in label_ids {
        let name = catalog.label_by_id(id)?.name.clone();
        let len = id_span(snapshot, &name)?;
        labels.push(LabelRange {
            label: id,
            name,
            offset,
            len,
        });
        offset += len;
    }
    let mut projection = Projection {
        labels,
        relations: Vec::new(),
        edge_types: Vec::new(),
        node_count: offset,
        newest: i64::MIN,
    };
    for t in types {
        let numeric: Vec<(usize, String)> = t
            .properties
            .iter()
            .enumerate()
            .filter(|(_, p)| matches!(p.ty, PropType::Int | PropType::Float | PropType::Bool))
            .map(|(i, p)| (6 + i, p.name.clone()))
            .collect();
        let mut wanted = vec![3, 4, 5];
        wanted.extend(numeric.iter().map(|(i, _)| *i));
        let mut edges: Vec<(u32, u32)> = Vec::new();
        let mut times: Vec<i64> = Vec::new();
        let mut values: Vec<Vec<f32>> = vec![Vec::new(); numeric.len()];
        for batch in snapshot.scan_edges(&t.name, 65_536, Some(wanted))? {
            let batch = batch?;
            let time = batch
                .column(2)
                .as_any()
                .downcast_ref::<TimestampMicrosecondArray>()
                .ok_or_else(|| Error::Corrupt("edge time column is not a timestamp".into()))?;
            // Untimed edges are known at every time.
            times.extend((0..batch.num_rows()).map(|r| {
                if time.is_null(r) {
                    i64::MIN
                } else {
                    time.value(r)
                }
            }));
            for (k, column) in values.iter_mut().enumerate() {
                let array = batch.column(3 + k);
                column.extend((0..batch.num_rows()).map(|r| {
                    if array.is_null(r) {
                        f32::NAN
                    } else {
                        numeric_at(array.as_ref(), r).map_or(f32::NAN, |v| v as f32)
                    }
                }));
            }
            let src = u64_column(batch.column(0).as_ref(), "src_id")?;
            let dst = u64_column(batch.column(1).as_ref(), "dst_id")?;
            for (&s, &d) in src.values().iter().zip(dst.values()) {
                let (Some(s), Some(d)) = (
                    projection.index_of(t.src_label, s),
                    projection.index_of(t.dst_label, d),
                ) else {
                    return Err(Error::Corrupt(format!(
                        "edge type {} points outside its labels' id range",
                        t.name
                    )));
                };
                edges.push((s as u32, d as u32));
            }
        }
        let n = projection.node_count;
        projection.newest = times.iter().copied().fold(projection.newest, i64::max);
        let edge_type = projection.edge_types.len();
        if t.undirected {
            projection.relations.push(ProjectedRelation {
                name: t.name.clone(),
                edge_type,
                source_label: t.src_label,
                target_label: t.dst_label,
                relation: Relation::undirected_timed(n, &edges, &times),
            });
        } else {
            let reversed: Vec<(u32, u32)> = edges.iter().map(|&(s, d)| (d, s)).collect();
            projection.relations.push(ProjectedRelation {
                name: format!("{}>", t.name),
                edge_type,
                source_label: t.src_label,
                target_label: t.dst_label,
                relation: Relation::from_timed_edges(n, n, &edges, &times),
            });
            projection.relations.push(ProjectedRelation {
                name: format!("{}<", t.name),
                edge_type,
                source_label: t.dst_label,
                target_label: t.src_label,
                relation: Relation::from_timed_edges(n, n, &reversed, &times),
            });
        }
        projection.edge_types.push(ProjectedEdgeType {
            name: t.name.clone(),
            numeric: numeric
                .into_iter()
                .map(|(_, name)| name)
                .zip(values)
                .collect(),
        });
    }
    Ok(projection)
}
