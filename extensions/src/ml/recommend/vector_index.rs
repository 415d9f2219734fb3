//! Approximate nearest neighbours by cosine over unit vectors, for catalogues too large to scan
//! on every query: a hierarchical navigable small-world graph (HNSW, the `instant-distance`
//! crate). Exact search is a scan of every item; this answers from a few hundred distance
//! evaluations, at the price of sometimes missing a true neighbour (the benchmark reports how
//! often: `recs_scale_bench`).

use instant_distance::{Builder, HnswMap, Point, Search};

/// A unit-length vector; the distance is `1 - cosine`.
#[derive(Clone, Debug)]
struct UnitVector(Vec<f32>);

impl Point for UnitVector {
    fn distance(&self, other: &Self) -> f32 {
        1.0 - self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum::<f32>()
    }
}

/// An HNSW index of the items that have a vector.
pub struct VectorIndex {
    map: HnswMap<UnitVector, u32>,
    /// Candidates kept per search (the paper's `ef`): the most a search can return.
    ef_search: usize,
}

impl std::fmt::Debug for VectorIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorIndex")
            .field("items", &self.map.values.len())
            .field("ef_search", &self.ef_search)
            .finish()
    }
}

impl VectorIndex {
    /// Candidates kept per search: the largest `k` the index answers (larger ones scan).
    pub const EF_SEARCH: usize = 128;

    /// Index `rows` (item `i`'s unit vector, `None` for items without one); `seed` makes the
    /// graph, hence every answer, the same from one build to the next.
    pub fn build(rows: &[Option<Vec<f32>>], seed: u64) -> VectorIndex {
        let (points, items): (Vec<UnitVector>, Vec<u32>) = rows
            .iter()
            .enumerate()
            .filter_map(|(i, v)| Some((UnitVector(v.clone()?), i as u32)))
            .unzip();
        let map = Builder::default()
            .ef_construction(Self::EF_SEARCH)
            .ef_search(Self::EF_SEARCH)
            .seed(seed)
            .build(points, items);
        VectorIndex {
            map,
            ef_search: Self::EF_SEARCH,
        }
    }

    /// Number of indexed items.
    pub fn len(&self) -> usize {
        self.map.values.len()
    }

    /// Whether no item is indexed.
    pub fn is_empty(&self) -> bool {
        self.map.values.is_empty()
    }

    /// Up to `k` indexed items nearest to unit vector `query`, with their cosines, best first;
    /// `None` when `k` exceeds what one search keeps (the caller scans instead).
    pub fn nearest(&self, query: &[f32], k: usize) -> Option<Vec<(u32, f32)>> {
        if k > self.ef_search {
            return None;
        }
        let mut search = Search::default();
        Some(
            self.map
                .search(&UnitVector(query.to_vec()), &mut search)
                .take(k)
                .map(|found| (*found.value, 1.0 - found.distance))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::cpu::mix64;

    fn unit(v: Vec<f32>) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / n).collect()
    }

    #[test]
    fn finds_nearly_all_true_neighbours_and_skips_items_without_vectors() {
        // Uniform in [-1, 1) from a reproducible stream.
        let uniform = |i: u64| (mix64(i) >> 40) as f32 / (1u64 << 23) as f32 - 1.0;
        let rows: Vec<Option<Vec<f32>>> = (0..5_000u64)
            .map(|i| (i % 10 != 0).then(|| unit((0..16).map(|d| uniform(i * 16 + d)).collect())))
            .collect();
        let index = VectorIndex::build(&rows, 7);
        assert_eq!(index.len(), 4_500);
        let k = 10;
        let mut hits = 0;
        for q in (1..5_000).step_by(97).filter(|q| q % 10 != 0) {
            let query = rows[q].as_ref().unwrap();
            let mut exact: Vec<(u32, f32)> = rows
                .iter()
                .enumerate()
                .filter_map(|(j, v)| {
                    let v = v.as_ref()?;
                    Some((j as u32, query.iter().zip(v).map(|(a, b)| a * b).sum()))
                })
                .collect();
            exact.sort_by(|a, b| b.1.total_cmp(&a.1));
            let found = index.nearest(query, k).unwrap();
            assert_eq!(found[0].0, q as u32, "an item is its own nearest neighbour");
            assert!(
                found.iter().all(|(j, _)| j % 10 != 0),
                "no item without a vector"
            );
            assert!(found.windows(2).all(|w| w[0].1 >= w[1].1), "best first");
            let truth: Vec<u32> = exact[..k].iter().map(|e| e.0).collect();
            hits += found.iter().filter(|(j, _)| truth.contains(j)).count();
        }
        let asked = (1..5_000).step_by(97).filter(|q| q % 10 != 0).count() * k;
        let recall = hits as f64 / asked as f64;
        assert!(recall >= 0.95, "recall@10 {recall:.3}");
        assert!(index.nearest(&rows[1].clone().unwrap(), 129).is_none());
    }
}
