//! Top-k selection and the metrics of the evaluation protocol: Recall@k = hits / min(|test|, k);
//! NDCG@k with binary gains against the ideal ranking of min(|test|, k) hits; catalogue
//! coverage (share of items recommended to anyone); intra-list diversity (mean pairwise
//! category distance within a list).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use serde::{Deserialize, Serialize};

#[derive(PartialEq)]
struct Candidate(f32, u32);

impl Eq for Candidate {}

impl Ord for Candidate {
    // Reversed, so the heap's top is the weakest kept candidate; ties go to the lower index.
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then(self.1.cmp(&other.1))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The `k` highest scores whose item `allowed` accepts, best first (ties by lower index;
/// NaN scores are skipped).
pub fn top_k(scores: &[f32], k: usize, allowed: impl Fn(u32) -> bool) -> Vec<(u32, f32)> {
    if k == 0 {
        return Vec::new();
    }
    let mut heap = BinaryHeap::with_capacity(k + 1);
    for (i, &s) in scores.iter().enumerate() {
        if s.is_nan() {
            continue;
        }
        let i = i as u32;
        if heap.len() == k {
            let weakest: &Candidate = heap.peek().expect("k > 0");
            if s < weakest.0 || (s == weakest.0 && i > weakest.1) {
                continue;
            }
        }
        if !allowed(i) {
            continue;
        }
        heap.push(Candidate(s, i));
        if heap.len() > k {
            heap.pop();
        }
    }
    let mut out: Vec<(u32, f32)> = heap.into_iter().map(|c| (c.1, c.0)).collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

/// Recall@k and NDCG@k of one ranked list against the sorted, distinct `relevant` items.
pub fn recall_ndcg(ranked: &[u32], relevant: &[u32], k: usize) -> (f64, f64) {
    let ideal = relevant.len().min(k);
    if ideal == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mut hits = 0usize;
    let mut dcg = 0f64;
    for (rank, item) in ranked.iter().take(k).enumerate() {
        if relevant.binary_search(item).is_ok() {
            hits += 1;
            dcg += 1.0 / (rank as f64 + 2.0).log2();
        }
    }
    let idcg: f64 = (0..ideal).map(|r| 1.0 / (r as f64 + 2.0).log2()).sum();
    (hits as f64 / ideal as f64, dcg / idcg)
}

/// Mean pairwise distance within a list, `1 − Jaccard` of the items' (sorted) category sets;
/// `None` for lists shorter than two.
pub fn intra_list_diversity(ranked: &[u32], categories: &[Vec<u32>]) -> Option<f64> {
    if ranked.len() < 2 {
        return None;
    }
    let mut total = 0f64;
    let mut pairs = 0usize;
    for (a, &x) in ranked.iter().enumerate() {
        for &y in &ranked[a + 1..] {
            total += category_distance(&categories[x as usize], &categories[y as usize]);
            pairs += 1;
        }
    }
    Some(total / pairs as f64)
}

/// `1 − |A ∩ B| / |A ∪ B|` over sorted sets; two uncategorised items are at distance 0.
pub fn category_distance(a: &[u32], b: &[u32]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            Ordering::Less => i += 1,
            Ordering::Greater => j += 1,
            Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    1.0 - common as f64 / (a.len() + b.len() - common) as f64
}

/// The metrics of one ranker over a set of users.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RankingScores {
    /// Mean Recall@k.
    #[serde(deserialize_with = "crate::ml::metrics::nan_from_null")]
    pub recall: f64,
    /// Mean NDCG@k.
    #[serde(deserialize_with = "crate::ml::metrics::nan_from_null")]
    pub ndcg: f64,
    /// Share of the catalogue that appears in some list.
    #[serde(deserialize_with = "crate::ml::metrics::nan_from_null")]
    pub coverage: f64,
    /// Mean intra-list diversity (NaN without categories).
    #[serde(deserialize_with = "crate::ml::metrics::nan_from_null")]
    pub diversity: f64,
    /// Users evaluated (those with relevant items).
    pub users: usize,
}

impl RankingScores {
    /// Score ranked lists (`lists[u]`, best first) against `relevant[u]` (sorted, distinct)
    /// at cut-off `k`; users without relevant items are skipped. `categories` per item, when
    /// known, gives the diversity.
    pub fn of(
        lists: &[Vec<u32>],
        relevant: &[Vec<u32>],
        k: usize,
        item_count: usize,
        categories: Option<&[Vec<u32>]>,
    ) -> RankingScores {
        let mut recall = 0f64;
        let mut ndcg = 0f64;
        let mut diversity = 0f64;
        let mut diversity_lists = 0usize;
        let mut users = 0usize;
        let mut shown = vec![false; item_count];
        for (list, rel) in lists.iter().zip(relevant) {
            if rel.is_empty() {
                continue;
            }
            let list = &list[..list.len().min(k)];
            let (r, n) = recall_ndcg(list, rel, k);
            recall += r;
            ndcg += n;
            users += 1;
            for &i in list {
                shown[i as usize] = true;
            }
            if let Some(d) = categories.and_then(|c| intra_list_diversity(list, c)) {
                diversity += d;
                diversity_lists += 1;
            }
        }
        let mean = |total: f64, count: usize| {
            if count == 0 {
                f64::NAN
            } else {
                total / count as f64
            }
        };
        RankingScores {
            recall: mean(recall, users),
            ndcg: mean(ndcg, users),
            coverage: if item_count == 0 {
                f64::NAN
            } else {
                shown.iter().filter(|&&s| s).count() as f64 / item_count as f64
            },
            diversity: mean(diversity, diversity_lists),
            users,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_is_best_first_skips_excluded_and_breaks_ties_by_index() {
        let scores = [0.5, 0.9, 0.9, f32::NAN, 0.1, 0.7];
        let top = top_k(&scores, 3, |i| i != 5);
        assert_eq!(top, vec![(1, 0.9), (2, 0.9), (0, 0.5)]);
        assert!(top_k(&scores, 0, |_| true).is_empty());
        assert_eq!(top_k(&scores, 10, |_| true).len(), 5);
    }

    #[test]
    fn recall_and_ndcg_follow_the_protocol() {
        // Two relevant items, one hit at rank 2 of a 3-list.
        let (r, n) = recall_ndcg(&[7, 3, 9], &[3, 5], 20);
        assert!((r - 0.5).abs() < 1e-12);
        let expected = (1.0 / 3f64.log2()) / (1.0 + 1.0 / 3f64.log2());
        assert!((n - expected).abs() < 1e-12);
        // More relevant items than k: recall's denominator is k.
        let relevant: Vec<u32> = (0..30).collect();
        let (r, n) = recall_ndcg(&[0, 1], &relevant, 2);
        assert_eq!((r, n), (1.0, 1.0));
        assert!(recall_ndcg(&[1], &[], 20).0.is_nan());
    }

    #[test]
    fn diversity_and_coverage() {
        let categories = vec![vec![0], vec![0], vec![1], vec![0, 1]];
        assert_eq!(intra_list_diversity(&[0, 1], &categories), Some(0.0));
        assert_eq!(intra_list_diversity(&[0, 2], &categories), Some(1.0));
        assert_eq!(intra_list_diversity(&[0, 3], &categories), Some(0.5));
        let scores = RankingScores::of(
            &[vec![0, 2], vec![0, 1], vec![3]],
            &[vec![2], vec![1], vec![]],
            2,
            4,
            Some(&categories),
        );
        assert_eq!(scores.users, 2);
        assert_eq!(scores.recall, 1.0);
        assert_eq!(scores.coverage, 0.75, "the third user has no test items");
        assert_eq!(scores.diversity, 0.5);
    }
}
