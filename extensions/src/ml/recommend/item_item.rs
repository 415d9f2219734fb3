//! Sparse item-item models: each item keeps its strongest neighbours with a weight, and a
//! shopper's score for item `j` is `Σᵢ wᵢ · B[i, j]` over the items `i` of their query. Two
//! fits produce the same shape:
//!
//! - EASE (Steck 2019): `B = I − P·diag(1/diag(P))` with `P = (XᵀX + λI)⁻¹`, diagonal zero, in
//!   closed form on the Gram matrix of the binary user × item matrix. Dense in the catalogue
//!   size, so it is offered up to [`EASE_MAX_ITEMS`] items.
//! - Co-interaction cosine with shrinkage: `B[i, j] = c_ij / (√(nᵢ nⱼ) + shrink)`, where `c_ij`
//!   counts users who had both; sparse work, any catalogue size.
//!
//! Each row keeps its `keep` largest weights (by magnitude), which bounds a query's cost by
//! `history × keep` whatever the catalogue, and evaluation scores with the same pruned rows
//! that serving uses.

use rayon::prelude::*;

use super::interactions::Interactions;

/// Largest catalogue EASE is fitted on: its Gram matrix is dense (`n²` doubles, 800 MB here).
pub const EASE_MAX_ITEMS: usize = 10_000;

/// For each item, its neighbours (sorted by index) and their weights.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ItemNeighbors {
    /// Number of items.
    pub item_count: usize,
    offsets: Vec<u32>,
    neighbors: Vec<u32>,
    weights: Vec<f32>,
}

impl ItemNeighbors {
    /// From per-item rows of `(neighbour, weight)`, each pruned to its `keep` largest weights
    /// by magnitude.
    fn from_rows(rows: Vec<Vec<(u32, f32)>>, keep: usize) -> ItemNeighbors {
        let mut offsets = Vec::with_capacity(rows.len() + 1);
        offsets.push(0u32);
        let mut neighbors = Vec::new();
        let mut weights = Vec::new();
        let item_count = rows.len();
        for mut row in rows {
            row.retain(|&(_, w)| w != 0.0 && w.is_finite());
            if row.len() > keep {
                row.select_nth_unstable_by(keep, |a, b| b.1.abs().total_cmp(&a.1.abs()));
                row.truncate(keep);
            }
            row.sort_unstable_by_key(|&(j, _)| j);
            neighbors.extend(row.iter().map(|&(j, _)| j));
            weights.extend(row.iter().map(|&(_, w)| w));
            offsets.push(neighbors.len() as u32);
        }
        ItemNeighbors {
            item_count,
            offsets,
            neighbors,
            weights,
        }
    }

    /// The three arrays (offsets per item, neighbours, weights), for compact storage.
    pub fn parts(&self) -> (&[u32], &[u32], &[f32]) {
        (&self.offsets, &self.neighbors, &self.weights)
    }

    /// Rebuild from [`ItemNeighbors::parts`], checking that they fit together.
    pub fn from_parts(
        item_count: usize,
        offsets: Vec<u32>,
        neighbors: Vec<u32>,
        weights: Vec<f32>,
    ) -> Result<ItemNeighbors, String> {
        let consistent = offsets.len() == item_count + 1
            && offsets.first() == Some(&0)
            && offsets.windows(2).all(|w| w[0] <= w[1])
            && offsets.last().map(|&o| o as usize) == Some(neighbors.len())
            && neighbors.len() == weights.len()
            && neighbors.iter().all(|&j| (j as usize) < item_count);
        if !consistent {
            return Err(format!(
                "item-item weights do not fit together ({item_count} items, {} offsets, {} neighbours, {} weights)",
                offsets.len(),
                neighbors.len(),
                weights.len()
            ));
        }
        Ok(ItemNeighbors {
            item_count,
            offsets,
            neighbors,
            weights,
        })
    }

    /// `item`'s neighbours and weights.
    pub fn row(&self, item: u32) -> (&[u32], &[f32]) {
        let r = self.offsets[item as usize] as usize..self.offsets[item as usize + 1] as usize;
        (&self.neighbors[r.clone()], &self.weights[r])
    }

    /// `B[from, to]` (0 when pruned).
    pub fn weight(&self, from: u32, to: u32) -> f32 {
        let (n, w) = self.row(from);
        n.binary_search(&to).map_or(0.0, |k| w[k])
    }

    /// Stored weights.
    pub fn nonzeros(&self) -> usize {
        self.weights.len()
    }

    /// Add `Σᵢ wᵢ · B[i, ·]` for the query into `scores` (one entry per item).
    pub fn score_into(&self, query: &[(u32, f32)], scores: &mut [f32]) {
        for &(i, w) in query {
            let (n, b) = self.row(i);
            for (&j, &bij) in n.iter().zip(b) {
                scores[j as usize] += w * bij;
            }
        }
    }

    /// Fit EASE with L2 weight `lambda` on the binary matrix of `train`, keeping `keep`
    /// weights per item. Errors beyond [`EASE_MAX_ITEMS`] items.
    pub fn ease(train: &Interactions, lambda: f64, keep: usize) -> Result<ItemNeighbors, String> {
        let n = train.item_count;
        if n > EASE_MAX_ITEMS {
            return Err(format!(
                "EASE is dense in the catalogue: {n} items is over its limit of {EASE_MAX_ITEMS}; \
                 use the cosine item model for large catalogues"
            ));
        }
        if lambda.is_nan() || lambda <= 0.0 {
            return Err(format!("EASE needs lambda > 0, got {lambda}"));
        }
        let mut gram = vec![0f64; n * n];
        for u in 0..train.user_count {
            let items = train.distinct_items_of(u);
            for &a in &items {
                let row = &mut gram[a as usize * n..(a as usize + 1) * n];
                for &b in &items {
                    row[b as usize] += 1.0;
                }
            }
        }
        for i in 0..n {
            gram[i * n + i] += lambda;
        }
        let p = spd_inverse(gram, n)?;
        let rows: Vec<Vec<(u32, f32)>> = (0..n)
            .into_par_iter()
            .map(|i| {
                (0..n)
                    .filter(|&j| j != i)
                    .map(|j| (j as u32, (-p[i * n + j] / p[j * n + j]) as f32))
                    .collect()
            })
            .collect();
        Ok(ItemNeighbors::from_rows(rows, keep))
    }

    /// Fit the co-interaction cosine with `shrink`, keeping `keep` neighbours per item.
    pub fn cosine(train: &Interactions, shrink: f32, keep: usize) -> ItemNeighbors {
        let pairs = train.pairs();
        let n = train.item_count;
        let user_items: Vec<Vec<u32>> = {
            let mut by_user = vec![Vec::new(); train.user_count];
            for &(u, i) in &pairs {
                by_user[u as usize].push(i);
            }
            by_user
        };
        let mut item_users = vec![Vec::new(); n];
        for &(u, i) in &pairs {
            item_users[i as usize].push(u);
        }
        let counts: Vec<f32> = item_users.iter().map(|u| u.len() as f32).collect();
        let rows: Vec<Vec<(u32, f32)>> = (0..n)
            .into_par_iter()
            .map_init(
                || (vec![0u32; n], Vec::<u32>::new()),
                |(together, touched), i| {
                    for &u in &item_users[i] {
                        for &j in &user_items[u as usize] {
                            if together[j as usize] == 0 {
                                touched.push(j);
                            }
                            together[j as usize] += 1;
                        }
                    }
                    let row = touched
                        .iter()
                        .filter(|&&j| j as usize != i)
                        .map(|&j| {
                            let c = together[j as usize] as f32;
                            (j, c / ((counts[i] * counts[j as usize]).sqrt() + shrink))
                        })
                        .collect();
                    for &j in touched.iter() {
                        together[j as usize] = 0;
                    }
                    touched.clear();
                    row
                },
            )
            .collect();
        ItemNeighbors::from_rows(rows, keep)
    }
}

/// The inverse of a symmetric positive definite `n × n` matrix (row-major), by Cholesky
/// factorisation and one pair of triangular solves per column.
fn spd_inverse(mut a: Vec<f64>, n: usize) -> Result<Vec<f64>, String> {
    // Lower factor in place, row by row: every inner product reads two contiguous row prefixes.
    for i in 0..n {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|k| a[i * n + k] * a[j * n + k]).sum();
            let v = a[i * n + j] - dot;
            if i == j {
                if v.is_nan() || v <= 0.0 {
                    return Err(format!("matrix is not positive definite at row {i}"));
                }
                a[i * n + i] = v.sqrt();
            } else {
                a[i * n + j] = v / a[j * n + j];
            }
        }
    }
    let lower = a;
    // Lᵀ row-major, so the backward solve also reads contiguous rows.
    let mut upper = vec![0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            upper[j * n + i] = lower[i * n + j];
        }
    }
    let columns: Vec<Vec<f64>> = (0..n)
        .into_par_iter()
        .map(|c| {
            // L y = e_c: y is zero above c.
            let mut y = vec![0f64; n];
            for i in c..n {
                let rhs = if i == c { 1.0 } else { 0.0 };
                let dot: f64 = (c..i).map(|k| lower[i * n + k] * y[k]).sum();
                y[i] = (rhs - dot) / lower[i * n + i];
            }
            // Lᵀ x = y.
            let mut x = vec![0f64; n];
            for i in (0..n).rev() {
                let dot: f64 = (i + 1..n).map(|k| upper[i * n + k] * x[k]).sum();
                x[i] = (y[i] - dot) / upper[i * n + i];
            }
            x
        })
        .collect();
    let mut inverse = vec![0f64; n * n];
    for (c, column) in columns.into_iter().enumerate() {
        for (r, v) in column.into_iter().enumerate() {
            inverse[r * n + c] = v;
        }
    }
    Ok(inverse)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::recommend::Event;

    fn log(pairs: &[(u32, u32)], users: usize, items: usize) -> Interactions {
        let events = pairs
            .iter()
            .enumerate()
            .map(|(t, &(user, item))| Event {
                user,
                item,
                time: t as i64,
                kind: 0,
            })
            .collect();
        Interactions::from_events(users, items, events)
    }

    #[test]
    fn spd_inverse_inverts() {
        let a = vec![4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let p = spd_inverse(a.clone(), 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| a[i * 3 + k] * p[k * 3 + j]).sum();
                assert!(
                    (v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12,
                    "{i},{j}: {v}"
                );
            }
        }
        assert!(spd_inverse(vec![1.0, 2.0, 2.0, 1.0], 2).is_err());
    }

    #[test]
    fn items_bought_together_recommend_each_other() {
        // Items 0 and 1 go together, 2 and 3 go together.
        let mut pairs = Vec::new();
        for u in 0..10u32 {
            let (a, b) = if u % 2 == 0 { (0, 1) } else { (2, 3) };
            pairs.push((u, a));
            pairs.push((u, b));
        }
        let train = log(&pairs, 10, 4);
        for model in [
            ItemNeighbors::ease(&train, 1.0, 10).unwrap(),
            ItemNeighbors::cosine(&train, 1.0, 10),
        ] {
            let mut scores = vec![0f32; 4];
            model.score_into(&[(0, 1.0)], &mut scores);
            assert!(scores[1] > 0.0, "{scores:?}");
            assert!(scores[1] > scores[2] && scores[1] > scores[3], "{scores:?}");
            assert_eq!(model.weight(0, 0), 0.0, "no self weight");
        }
    }

    #[test]
    fn ease_matches_its_closed_form_on_a_small_case() {
        let train = log(&[(0, 0), (0, 1), (1, 1), (1, 2), (2, 0), (2, 2)], 3, 3);
        let b = ItemNeighbors::ease(&train, 0.5, 10).unwrap();
        // G = XᵀX + 0.5 I, B = I − P / diag(P): check B[0,1] against a direct computation.
        let g = [2.5, 1.0, 1.0, 1.0, 2.5, 1.0, 1.0, 1.0, 2.5];
        let p = spd_inverse(g.to_vec(), 3).unwrap();
        let expected = (-p[1] / p[4]) as f32;
        assert!((b.weight(0, 1) - expected).abs() < 1e-6);
    }

    #[test]
    fn pruning_keeps_the_strongest_weights() {
        let rows = vec![vec![(1, 0.1), (2, -0.9), (3, 0.5)], vec![], vec![], vec![]];
        let b = ItemNeighbors::from_rows(rows, 2);
        assert_eq!(b.row(0).0, &[2, 3]);
        assert_eq!(b.nonzeros(), 2);
    }

    #[test]
    fn ease_refuses_bad_settings() {
        let train = log(&[(0, 0)], 1, 1);
        assert!(ItemNeighbors::ease(&train, 0.0, 10).is_err());
        let huge = Interactions::from_events(1, EASE_MAX_ITEMS + 1, Vec::new());
        assert!(ItemNeighbors::ease(&huge, 1.0, 10).is_err());
    }
}
