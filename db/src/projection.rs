//! In-memory projections of the stored graph for the ML core: every node of the labels in
//! scope gets a global index (labels laid out one after another, each by its dense node id),
//! and every (edge type, direction) becomes one [`Relation`] over those indexes, so a
//! heterogeneous graph keeps one set of weights per relation.

use arrow_array::{Array, UInt64Array};

use argus_engine::keys::CatalogId;
use argus_engine::{Error, NodeId, Result, Snapshot};
use argus_extensions::ml::relation::Relation;

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
    /// The messages.
    pub relation: Relation,
}

/// The graph of some edge types over the labels they connect.
#[derive(Clone, Debug)]
pub struct Projection {
    /// Labels in scope, in index order.
    pub labels: Vec<LabelRange>,
    /// One entry per (edge type, direction).
    pub relations: Vec<ProjectedRelation>,
    /// Total number of global indexes.
    pub node_count: usize,
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
        node_count: offset,
    };
    for t in types {
        let mut edges: Vec<(u32, u32)> = Vec::new();
        for batch in snapshot.scan_edges(&t.name, 65_536, Some(vec![3, 4]))? {
            let batch = batch?;
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
        if t.undirected {
            projection.relations.push(ProjectedRelation {
                name: t.name.clone(),
                relation: Relation::undirected(n, &edges),
            });
        } else {
            let reversed: Vec<(u32, u32)> = edges.iter().map(|&(s, d)| (d, s)).collect();
            projection.relations.push(ProjectedRelation {
                name: format!("{}>", t.name),
                relation: Relation::from_edges(n, n, &edges),
            });
            projection.relations.push(ProjectedRelation {
                name: format!("{}<", t.name),
                relation: Relation::from_edges(n, n, &reversed),
            });
        }
    }
    Ok(projection)
}
