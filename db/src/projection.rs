//! In-memory projections of the stored graph. Every node of the labels in scope gets a global
//! index (labels laid out one after another, each by its dense node id, so ids of deleted nodes
//! stay as holes without edges). Two shapes are built over that layout:
//!
//! - [`Projection`] for the ML core: every (edge type, direction) becomes one [`Relation`], so
//!   a heterogeneous graph keeps one set of weights per relation, with the edge types' numeric
//!   properties alongside.
//! - [`GraphProjection`] for the graph algorithms (the SQL layer's `connected_components`,
//!   `cycles`, `pagerank`, ...): all chosen edge types in one [`Csr`] that keeps each edge's
//!   id, type, time and amount.

use arrow_array::{Array, RecordBatch, TimestampMicrosecondArray, UInt64Array};

use argus_engine::catalog::{Catalog, EdgeTypeDef, PropType};

use argus_engine::keys::{self, CatalogId};
use argus_engine::{Error, NodeId, Result, Snapshot};
use argus_extensions::ml::relation::Relation;
use argus_extensions::{Csr, EdgeRow};

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
        index_in(&self.labels, label, id)
    }

    /// The node at a global index.
    pub fn node_at(&self, index: usize) -> Option<(CatalogId, NodeId)> {
        node_in(&self.labels, index)
    }
}

/// The chosen edge types of a snapshot as one [`Csr`] over the labels they connect, with the
/// way back from indexes to nodes. Each edge keeps its id, type, time and `amount` property
/// (NaN where the type has no numeric `amount`). Untimed edges have time `NO_TIME`
/// (`i64::MIN`).
#[derive(Debug)]
pub struct GraphProjection {
    /// The graph over global indexes `0..labels' total length`.
    pub csr: Csr,
    /// Labels in scope, in index order.
    pub labels: Vec<LabelRange>,
}

impl GraphProjection {
    /// Project `edge_types` (all edge types when empty) and the labels they connect.
    pub fn build(snapshot: &Snapshot, edge_types: &[String]) -> Result<GraphProjection> {
        let catalog = snapshot.catalog();
        let types = edge_type_defs(catalog, edge_types)?;
        let (labels, node_count) = lay_out(snapshot, scope(catalog, &types, &[])?)?;
        let mut rows = Vec::new();
        for t in types {
            let amount = t.properties.iter().position(|p| {
                p.name == "amount" && matches!(p.ty, PropType::Float | PropType::Int)
            });
            // Extra columns: the edge id, then the amount if there is one.
            let mut extra = vec![0];
            extra.extend(amount.map(|i| 6 + i));
            scan_mapped_edges(snapshot, &labels, t, &extra, |batch, ends, times| {
                let ids = u64_column(batch.column(3).as_ref(), "edge_id")?;
                let amounts = batch.columns().get(4);
                for (row, (&(src, dst), &time)) in ends.iter().zip(times).enumerate() {
                    let amount = amounts
                        .filter(|a| !a.is_null(row))
                        .and_then(|a| numeric_at(a.as_ref(), row))
                        .unwrap_or(f64::NAN);
                    rows.push(EdgeRow {
                        src,
                        dst,
                        // Untimed edges already read as `i64::MIN`, which is `NO_TIME`.
                        time,
                        amount,
                        edge: ids.value(row),
                        edge_type: t.id,
                    });
                }
                Ok(())
            })?;
        }
        let csr =
            Csr::from_edges(node_count, rows).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        Ok(GraphProjection { csr, labels })
    }

    /// The node at a global index of the CSR.
    ///
    /// # Panics
    ///
    /// If `index` is not below the CSR's node count.
    pub fn node(&self, index: u32) -> (CatalogId, NodeId) {
        node_in(&self.labels, index as usize).expect("CSR node index inside the projection")
    }

    /// Global index of a node, if its label is in scope and its id in the label's range.
    pub fn index(&self, label: CatalogId, id: NodeId) -> Option<u32> {
        // `lay_out` keeps every index below `u32::MAX`.
        index_in(&self.labels, label, id).map(|i| i as u32)
    }
}

fn index_in(labels: &[LabelRange], label: CatalogId, id: NodeId) -> Option<usize> {
    let r = labels.iter().find(|r| r.label == label)?;
    ((id as usize) < r.len).then(|| r.offset + id as usize)
}

fn node_in(labels: &[LabelRange], index: usize) -> Option<(CatalogId, NodeId)> {
    labels
        .iter()
        .find(|r| index >= r.offset && index < r.offset + r.len)
        .map(|r| (r.label, (index - r.offset) as NodeId))
}

pub(crate) fn u64_column<'a>(array: &'a dyn Array, what: &str) -> Result<&'a UInt64Array> {
    array
        .as_any()
        .downcast_ref::<UInt64Array>()
        .ok_or_else(|| Error::Corrupt(format!("{what} column is not UInt64")))
}

/// The definitions of `edge_types`; all edge types when empty.
fn edge_type_defs<'c>(catalog: &'c Catalog, edge_types: &[String]) -> Result<Vec<&'c EdgeTypeDef>> {
    if edge_types.is_empty() {
        return Ok(catalog.edge_types.iter().collect());
    }
    edge_types.iter().map(|t| catalog.edge_type(t)).collect()
}

/// The labels in scope: `extra_labels`, then each type's source and destination, each once.
fn scope(
    catalog: &Catalog,
    types: &[&EdgeTypeDef],
    extra_labels: &[String],
) -> Result<Vec<CatalogId>> {
    let mut label_ids: Vec<CatalogId> = Vec::new();
    for l in extra_labels {
        label_ids.push(catalog.label(l)?.id);
    }
    for t in types {
        label_ids.push(t.src_label);
        label_ids.push(t.dst_label);
    }
    let mut seen = Vec::new();
    label_ids.retain(|l| {
        let fresh = !seen.contains(l);
        seen.push(*l);
        fresh
    });
    Ok(label_ids)
}

/// How many node ids `label` has allocated (read from its id counter, no scan): dense
/// per-label indexes run over `0..id_space`, deleted ids staying as holes.
pub(crate) fn id_space(snapshot: &Snapshot, label: CatalogId) -> Result<usize> {
    Ok(match snapshot.view().get(&keys::next_node_id_key(label))? {
        Some(b) => keys::decode_u64(&b)? as usize,
        None => 0,
    })
}

/// Lays the labels out one after another, each over the ids allocated so far (the label's
/// id counter, so no scan), and returns the ranges and the total, which must fit the `u32`
/// indexes the graph structures use.
fn lay_out(snapshot: &Snapshot, label_ids: Vec<CatalogId>) -> Result<(Vec<LabelRange>, u32)> {
    let catalog = snapshot.catalog();
    let mut labels = Vec::new();
    let mut offset = 0u64;
    for id in label_ids {
        let name = catalog.label_by_id(id)?.name.clone();
        let len = id_space(snapshot, id)? as u64;
        labels.push(LabelRange {
            label: id,
            name,
            offset: offset as usize,
            len: len as usize,
        });
        offset += len;
        if offset >= u64::from(u32::MAX) {
            return Err(Error::InvalidArgument(format!(
                "graph too large for an in-memory projection: over {} node ids",
                u32::MAX - 1
            )));
        }
    }
    Ok((labels, offset as u32))
}

/// Scans the edges of `t`, mapping both ends to global indexes. `each` gets every batch
/// (columns `src_id`, `dst_id`, `time`, then the `extra` columns of the edge schema in order),
/// the batch's mapped ends and its times (`i64::MIN` for untimed edges).
pub(crate) fn scan_mapped_edges(
    snapshot: &Snapshot,
    labels: &[LabelRange],
    t: &EdgeTypeDef,
    extra: &[usize],
    mut each: impl FnMut(&RecordBatch, &[(u32, u32)], &[i64]) -> Result<()>,
) -> Result<()> {
    let mut wanted = vec![3, 4, 5];
    wanted.extend_from_slice(extra);
    let mut ends = Vec::new();
    let mut times = Vec::new();
    for batch in snapshot.scan_edges(&t.name, 65_536, Some(wanted))? {
        let batch = batch?;
        let src = u64_column(batch.column(0).as_ref(), "src_id")?;
        let dst = u64_column(batch.column(1).as_ref(), "dst_id")?;
        let time = batch
            .column(2)
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .ok_or_else(|| Error::Corrupt("edge time column is not a timestamp".into()))?;
        ends.clear();
        for (&s, &d) in src.values().iter().zip(dst.values()) {
            let (Some(s), Some(d)) = (
                index_in(labels, t.src_label, s),
                index_in(labels, t.dst_label, d),
            ) else {
                return Err(Error::Corrupt(format!(
                    "edge type {} points outside its labels' id range",
                    t.name
                )));
            };
            // `lay_out` keeps every index below `u32::MAX`.
            ends.push((s as u32, d as u32));
        }
        // Untimed edges are known at every time.
        times.clear();
        times.extend((0..batch.num_rows()).map(|r| {
            if time.is_null(r) {
                i64::MIN
            } else {
                time.value(r)
            }
        }));
        each(&batch, &ends, &times)?;
    }
    Ok(())
}

/// Project `edge_types` (all edge types when empty) and the labels they connect, plus the
/// `extra_labels` (for labels whose nodes may have no edges).
pub fn project(
    snapshot: &Snapshot,
    edge_types: &[String],
    extra_labels: &[String],
) -> Result<Projection> {
    let catalog = snapshot.catalog();
    let types = edge_type_defs(catalog, edge_types)?;
    let (labels, node_count) = lay_out(snapshot, scope(catalog, &types, extra_labels)?)?;
    let mut projection = Projection {
        labels,
        relations: Vec::new(),
        edge_types: Vec::new(),
        node_count: node_count as usize,
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
        let extra: Vec<usize> = numeric.iter().map(|(i, _)| *i).collect();
        let mut edges: Vec<(u32, u32)> = Vec::new();
        let mut times: Vec<i64> = Vec::new();
        let mut values: Vec<Vec<f32>> = vec![Vec::new(); numeric.len()];
        scan_mapped_edges(
            snapshot,
            &projection.labels,
            t,
            &extra,
            |batch, ends, at| {
                edges.extend_from_slice(ends);
                times.extend_from_slice(at);
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
                Ok(())
            },
        )?;
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
