//! A shopper at query time: their newest interactions, each weighted by its type and by how
//! many interactions came after it, so a new view or purchase changes the next answer without
//! retraining. Evaluation builds queries the same way serving does.

use serde::{Deserialize, Serialize};

/// How a history becomes a weighted set of items.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueryWeights {
    /// At most this many newest interactions are read.
    pub history: usize,
    /// An interaction's weight halves every `half_life` newer interactions; 0 weighs the
    /// whole history alike.
    pub half_life: f32,
    /// Weight of each interaction kind (missing kinds weigh 1).
    pub kind_weights: Vec<f32>,
}

impl Default for QueryWeights {
    fn default() -> Self {
        QueryWeights {
            history: 200,
            half_life: 0.0,
            kind_weights: Vec::new(),
        }
    }
}

impl QueryWeights {
    /// Weight of an interaction of `kind` with `newer` interactions after it.
    pub fn weight(&self, kind: u8, newer: usize) -> f32 {
        let by_kind = self.kind_weights.get(kind as usize).copied().unwrap_or(1.0);
        let by_age = if self.half_life.is_finite() && self.half_life > 0.0 {
            0.5f32.powf(newer as f32 / self.half_life)
        } else {
            1.0
        };
        by_kind * by_age
    }

    /// The weighted items of a history given oldest first (`items`, `kinds` aligned): the
    /// newest [`QueryWeights::history`] interactions, an item seen twice summing its weights.
    /// Sorted by item.
    pub fn query(&self, items: &[u32], kinds: &[u8]) -> Vec<(u32, f32)> {
        let start = items.len().saturating_sub(self.history);
        let n = items.len();
        let mut out: Vec<(u32, f32)> = (start..n)
            .map(|j| (items[j], self.weight(kinds[j], n - 1 - j)))
            .collect();
        out.sort_unstable_by_key(|&(item, _)| item);
        let mut merged: Vec<(u32, f32)> = Vec::with_capacity(out.len());
        for (item, w) in out {
            match merged.last_mut() {
                Some((last, total)) if *last == item => *total += w,
                _ => merged.push((item, w)),
            }
        }
        merged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_and_heavier_interactions_weigh_more() {
        let w = QueryWeights {
            history: 3,
            half_life: 1.0,
            kind_weights: vec![1.0, 4.0],
        };
        // Oldest first: item 9 falls outside the 3 newest.
        let q = w.query(&[9, 5, 6, 5], &[0, 0, 1, 0]);
        assert_eq!(q.len(), 2);
        let (item5, w5) = q[0];
        let (item6, w6) = q[1];
        assert_eq!((item5, item6), (5, 6));
        // 5: newest (1) + two newer interactions after it (0.25); 6: kind 4 × one newer (0.5).
        assert!((w5 - 1.25).abs() < 1e-6, "{w5}");
        assert!((w6 - 2.0).abs() < 1e-6, "{w6}");
    }

    #[test]
    fn no_half_life_weighs_alike() {
        let w = QueryWeights::default();
        assert_eq!(w.query(&[3, 1], &[0, 0]), vec![(1, 1.0), (3, 1.0)]);
    }
}
