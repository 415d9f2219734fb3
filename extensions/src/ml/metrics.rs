//! Ranking metrics for binary scores: ROC-AUC, PR-AUC (average precision) and recall at a
//! fixed false-positive rate. Tied scores are handled as one threshold, so results do not
//! depend on the order of equal scores.

/// Positions of `scores` sorted by descending score, grouped into runs of equal scores.
fn tie_groups(scores: &[f32]) -> (Vec<usize>, Vec<(usize, usize)>) {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut groups = Vec::new();
    let mut start = 0;
    for i in 1..=order.len() {
        if i == order.len() || scores[order[i]] != scores[order[start]] {
            groups.push((start, i));
            start = i;
        }
    }
    (order, groups)
}

fn class_counts(labels: &[bool]) -> (usize, usize) {
    let pos = labels.iter().filter(|&&l| l).count();
    (pos, labels.len() - pos)
}

/// Area under the ROC curve: the probability that a random positive scores above a random
/// negative (ties count half). `None` when either class is absent.
pub fn roc_auc(scores: &[f32], labels: &[bool]) -> Option<f64> {
    assert_eq!(scores.len(), labels.len(), "scores and labels");
    let (pos, neg) = class_counts(labels);
    if pos == 0 || neg == 0 {
        return None;
    }
    let (order, groups) = tie_groups(scores);
    // Walk from the highest score: each positive beats every negative ranked below it.
    let mut negatives_above = 0usize;
    let mut wins = 0f64;
    for (start, end) in groups {
        let group = &order[start..end];
        let p = group.iter().filter(|&&i| labels[i]).count();
        let n = group.len() - p;
        wins += p as f64 * (neg - negatives_above - n) as f64 + 0.5 * p as f64 * n as f64;
        negatives_above += n;
    }
    Some(wins / (pos as f64 * neg as f64))
}

/// Average precision: Σ over thresholds of (recall gained) × precision. `None` without
/// positives.
pub fn pr_auc(scores: &[f32], labels: &[bool]) -> Option<f64> {
    assert_eq!(scores.len(), labels.len(), "scores and labels");
    let (pos, _) = class_counts(labels);
    if pos == 0 {
        return None;
    }
    let (order, groups) = tie_groups(scores);
    let (mut tp, mut seen) = (0usize, 0usize);
    let mut ap = 0f64;
    for (start, end) in groups {
        let p = order[start..end].iter().filter(|&&i| labels[i]).count();
        tp += p;
        seen += end - start;
        ap += (p as f64 / pos as f64) * (tp as f64 / seen as f64);
    }
    Some(ap)
}

/// The highest recall reachable by a threshold whose false-positive rate is at most `max_fpr`.
/// `None` when either class is absent.
pub fn recall_at_fpr(scores: &[f32], labels: &[bool], max_fpr: f64) -> Option<f64> {
    assert_eq!(scores.len(), labels.len(), "scores and labels");
    let (pos, neg) = class_counts(labels);
    if pos == 0 || neg == 0 {
        return None;
    }
    let (order, groups) = tie_groups(scores);
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut best = 0f64;
    for (start, end) in groups {
        let p = order[start..end].iter().filter(|&&i| labels[i]).count();
        tp += p;
        fp += end - start - p;
        if fp as f64 / neg as f64 <= max_fpr {
            best = tp as f64 / pos as f64;
        } else {
            break;
        }
    }
    Some(best)
}

/// Points `(false-positive rate, true-positive rate)` of the ROC curve, from (0, 0) to (1, 1).
pub fn roc_curve(scores: &[f32], labels: &[bool]) -> Vec<(f64, f64)> {
    let (pos, neg) = class_counts(labels);
    let (order, groups) = tie_groups(scores);
    let mut points = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0usize, 0usize);
    for (start, end) in groups {
        let p = order[start..end].iter().filter(|&&i| labels[i]).count();
        tp += p;
        fp += end - start - p;
        points.push((fp as f64 / neg.max(1) as f64, tp as f64 / pos.max(1) as f64));
    }
    points
}

/// Points `(recall, precision)` of the precision-recall curve, one per distinct score, from the
/// highest score down.
pub fn pr_curve(scores: &[f32], labels: &[bool]) -> Vec<(f64, f64)> {
    let (pos, _) = class_counts(labels);
    let (order, groups) = tie_groups(scores);
    let mut points = Vec::with_capacity(groups.len());
    let (mut tp, mut seen) = (0usize, 0usize);
    for (start, end) in groups {
        tp += order[start..end].iter().filter(|&&i| labels[i]).count();
        seen += end - start;
        points.push((tp as f64 / pos.max(1) as f64, tp as f64 / seen as f64));
    }
    points
}

/// Test-set summary of one model.
#[derive(Clone, Copy, Debug, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Scores {
    /// ROC-AUC.
    #[serde(deserialize_with = "nan_from_null")]
    pub roc_auc: f64,
    /// PR-AUC (average precision).
    #[serde(deserialize_with = "nan_from_null")]
    pub pr_auc: f64,
    /// Recall at 1 % false-positive rate.
    #[serde(deserialize_with = "nan_from_null")]
    pub recall_at_1pct_fpr: f64,
}

/// JSON has no NaN (an undefined metric is written as `null`): read `null` back as NaN.
pub fn nan_from_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    use serde::Deserialize;
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

impl Scores {
    /// All three metrics (NaN where undefined).
    pub fn of(scores: &[f32], labels: &[bool]) -> Scores {
        Scores {
            roc_auc: roc_auc(scores, labels).unwrap_or(f64::NAN),
            pr_auc: pr_auc(scores, labels).unwrap_or(f64::NAN),
            recall_at_1pct_fpr: recall_at_fpr(scores, labels, 0.01).unwrap_or(f64::NAN),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_auc_by_hand() {
        // Positives at 0.9, 0.4; negatives at 0.8, 0.3, 0.1: pairs won 3 + 2 = 5 of 6.
        let scores = [0.9, 0.8, 0.4, 0.3, 0.1];
        let labels = [true, false, true, false, false];
        assert!((roc_auc(&scores, &labels).unwrap() - 5.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn roc_auc_ties_count_half() {
        let scores = [0.5, 0.5, 0.5, 0.5];
        let labels = [true, false, true, false];
        assert_eq!(roc_auc(&scores, &labels), Some(0.5));
        // One positive tied with one negative, above another negative: (1 + 0.5) / 2.
        assert_eq!(roc_auc(&[0.7, 0.7, 0.1], &[true, false, false]), Some(0.75));
    }

    #[test]
    fn pr_auc_by_hand() {
        // Ranked: +, -, +, -, -: precision at the two positives 1 and 2/3, recall steps 1/2.
        let scores = [0.9, 0.8, 0.4, 0.3, 0.1];
        let labels = [true, false, true, false, false];
        let expected = 0.5 * 1.0 + 0.5 * (2.0 / 3.0);
        assert!((pr_auc(&scores, &labels).unwrap() - expected).abs() < 1e-12);
    }

    #[test]
    fn recall_at_fpr_by_hand() {
        // 10 negatives: 10 % FPR allows one negative above the threshold.
        let mut scores = vec![0.95, 0.9, 0.85, 0.5];
        let mut labels = vec![true, false, true, true];
        for i in 0..9 {
            scores.push(0.1 + i as f32 * 0.01);
            labels.push(false);
        }
        assert_eq!(recall_at_fpr(&scores, &labels, 0.10), Some(1.0));
        assert_eq!(recall_at_fpr(&scores, &labels, 0.0), Some(1.0 / 3.0));
    }

    #[test]
    fn undefined_without_both_classes() {
        assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]), None);
        assert_eq!(pr_auc(&[0.1, 0.2], &[false, false]), None);
    }

    #[test]
    fn roc_curve_ends_at_one_one() {
        let c = roc_curve(&[0.9, 0.1], &[true, false]);
        assert_eq!(c, vec![(0.0, 0.0), (0.0, 1.0), (1.0, 1.0)]);
    }
}
