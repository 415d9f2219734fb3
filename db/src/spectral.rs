//! Spectral coordinates as tree-model inputs: computed once per training run over the
//! same-label relations (the ones the tree model aggregates over), kept in the model per node
//! id, and read back when scoring. A node added after training has no stored row; its
//! coordinates are extended from its neighbours' (`φ(v) = Σ_u S_vu φ(u) / λ`, the Nyström
//! formula, exact for the training graph), and a node with no known neighbour gets zeros like
//! an isolated node at training.
//!
//! The coordinates describe the whole graph of the training snapshot, not a graph as of a
//! time. That is why `auto` uses them only when those relations carry no timestamps (there an
//! as-of time filters nothing); on timed graphs they must be asked for, and then reflect the
//! edges known at training.

use serde::{Deserialize, Serialize};

use argus_extensions::ml::matrix::Matrix;
use argus_extensions::ml::spectral::{spectral_coordinates, SpectralConfig};

use crate::projection::{LabelRange, Projection};

/// Dimensions `auto` computes on an untimed graph.
pub const AUTO_DIMS: usize = 64;

/// `auto` skips labels with more nodes: the iteration holds two blocks of 80 `f64` columns per
/// node (1.3 KiB each), so a million nodes already take 1.3 GiB while it runs.
pub const AUTO_MAX_NODES: usize = 1_000_000;

/// Spectral coordinates of one label's nodes, by node id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpectralTable {
    /// Eigenvalue of each dimension (of the normalised adjacency).
    pub values: Vec<f32>,
    /// Weighted degree per node id at training.
    #[serde(with = "crate::packed::f32s")]
    pub degrees: Vec<f32>,
    /// Node ids at training (rows of `coordinates`).
    pub nodes: usize,
    /// `nodes × values.len()`, row-major.
    #[serde(with = "crate::packed::f32s")]
    pub coordinates: Vec<f32>,
}

impl SpectralTable {
    /// Coordinates of `range`'s nodes under `relations` of `projection`.
    pub fn compute(
        projection: &Projection,
        relations: &[usize],
        range: &LabelRange,
        dims: usize,
        seed: u64,
    ) -> SpectralTable {
        let graphs: Vec<_> = relations
            .iter()
            .map(|&r| &projection.relations[r].relation)
            .collect();
        let out = spectral_coordinates(
            &graphs,
            range.offset..range.offset + range.len,
            &SpectralConfig {
                dims,
                seed,
                ..SpectralConfig::default()
            },
        );
        SpectralTable {
            values: out.values,
            degrees: out.degrees,
            nodes: range.len,
            coordinates: out.vectors.data,
        }
    }

    /// Number of dimensions.
    pub fn dims(&self) -> usize {
        self.values.len()
    }

    /// Column names.
    pub fn names(&self) -> Vec<String> {
        (0..self.dims()).map(|j| format!("spectral_{j}")).collect()
    }

    fn row(&self, id: usize) -> &[f32] {
        let d = self.dims();
        &self.coordinates[id * d..(id + 1) * d]
    }

    /// Rows for the global indexes `nodes` of `projection`, whose label range for the model's
    /// label is `range`; other labels' nodes get NaN (missing to the trees).
    pub fn rows(
        &self,
        projection: &Projection,
        relations: &[usize],
        range: &LabelRange,
        nodes: &[u32],
    ) -> Matrix {
        let d = self.dims();
        let mut out = Matrix::filled(nodes.len(), d, f32::NAN);
        for (o, &g) in nodes.iter().enumerate() {
            let g = g as usize;
            if g < range.offset || g >= range.offset + range.len {
                continue;
            }
            let id = g - range.offset;
            if id < self.nodes {
                out.row_mut(o).copy_from_slice(self.row(id));
            } else {
                self.extend_into(projection, relations, range, g, out.row_mut(o));
            }
        }
        out
    }

    /// The Nyström extension of a node unknown at training, from its known neighbours.
    fn extend_into(
        &self,
        projection: &Projection,
        relations: &[usize],
        range: &LabelRange,
        node: usize,
        out: &mut [f32],
    ) {
        let mut sum = vec![0.0f64; self.dims()];
        let mut degree = 0.0f64;
        for &r in relations {
            let rel = &projection.relations[r].relation;
            let incoming = (node < rel.target_count).then(|| rel.sources_of(node));
            let outgoing = (node < rel.source_count).then(|| rel.targets_of(node));
            for &u in incoming.into_iter().chain(outgoing).flatten() {
                let u = u as usize;
                // Each relation counts as (A_r + A_rᵀ) / 2, as at training.
                degree += 0.5;
                let Some(id) = u.checked_sub(range.offset).filter(|&i| i < self.nodes) else {
                    continue;
                };
                let du = self.degrees[id] as f64;
                if du > 0.0 {
                    for (s, &x) in sum.iter_mut().zip(self.row(id)) {
                        *s += 0.5 * x as f64 / du.sqrt();
                    }
                }
            }
        }
        for ((o, s), &lambda) in out.iter_mut().zip(sum).zip(&self.values) {
            *o = if degree > 0.0 && lambda.abs() > 1e-3 {
                (s / (degree.sqrt() * lambda as f64)) as f32
            } else {
                0.0
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_extensions::ml::relation::Relation;

    use crate::projection::ProjectedRelation;

    fn projection(edges: &[(u32, u32)], n: usize) -> Projection {
        Projection {
            labels: vec![LabelRange {
                label: 1,
                name: "user".into(),
                offset: 0,
                len: n,
            }],
            relations: vec![ProjectedRelation {
                name: "knows".into(),
                edge_type: 0,
                source_label: 1,
                target_label: 1,
                relation: Relation::undirected(n, edges),
            }],
            edge_types: Vec::new(),
            node_count: n,
            newest: i64::MIN,
        }
    }

    #[test]
    fn serialises_compactly_and_round_trips() {
        let table = SpectralTable {
            values: vec![1.0, 0.5],
            degrees: vec![1.0, 2.0, 1.0],
            nodes: 3,
            coordinates: vec![0.1, -0.2, 0.3, f32::MIN_POSITIVE, 5.0, -6.5],
        };
        let json = serde_json::to_string(&table).unwrap();
        assert!(json.contains("\"coordinates\":\""), "{json}");
        assert_eq!(serde_json::from_str::<SpectralTable>(&json).unwrap(), table);
        let broken = json.replace("\"degrees\":\"", "\"degrees\":\"AA");
        assert!(serde_json::from_str::<SpectralTable>(&broken).is_err());
    }

    #[test]
    fn a_new_node_is_placed_by_its_neighbours() {
        // Two triangles joined by an edge; at scoring, node 6 joins the first triangle.
        let trained = projection(&[(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5), (2, 3)], 6);
        let range = trained.labels[0].clone();
        let table = SpectralTable::compute(&trained, &[0], &range, 2, 0);
        // A stored node's coordinates equal their own extension (they are eigenvectors).
        let mut extended = vec![0.0; 2];
        table.extend_into(&trained, &[0], &range, 1, &mut extended);
        for (a, b) in extended.iter().zip(table.row(1)) {
            assert!((a - b).abs() < 1e-3, "{extended:?} vs {:?}", table.row(1));
        }
        let grown = projection(
            &[
                (0, 1),
                (1, 2),
                (0, 2),
                (3, 4),
                (4, 5),
                (3, 5),
                (2, 3),
                (6, 0),
                (6, 1),
            ],
            7,
        );
        let range = grown.labels[0].clone();
        let rows = table.rows(&grown, &[0], &range, &[0, 6, 5]);
        // The second coordinate separates the triangles: node 6 sides with nodes 0 and 1.
        assert_eq!(rows.row(0), table.row(0));
        assert!(rows.get(1, 1) * table.row(0)[1] > 0.0, "{rows:?}");
        assert!(rows.get(1, 1) * table.row(5)[1] < 0.0, "{rows:?}");
    }
}
