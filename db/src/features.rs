//! Node feature matrices over a [`Projection`]'s index space: numeric properties of a label,
//! the label itself as a one-hot column when several labels share the space, and structural
//! features (degrees per relation) for nodes that have few properties of their own.

use arrow_array::{Array, BooleanArray, Float64Array, Int64Array, UInt64Array};

use argus_engine::catalog::PropType;
use argus_engine::{Error, Result, Snapshot};
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
            let any = values.as_any();
            let v = if let Some(a) = any.downcast_ref::<Int64Array>() {
                a.value(row) as f64
            } else if let Some(a) = any.downcast_ref::<Float64Array>() {
                a.value(row)
            } else if let Some(a) = any.downcast_ref::<BooleanArray>() {
                f64::from(u8::from(a.value(row)))
            } else {
                return Err(Error::InvalidArgument(format!(
                    "property {label}.{property} is not numeric"
                )));
            };
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
