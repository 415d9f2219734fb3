//! Gradient-boosted decision trees for binary classification: histogram-based (features cut
//! into at most 255 quantile bins on the training rows), depth-wise growth with second-order
//! gains and L2-regularised leaf weights, row and column subsampling, a learned direction for
//! missing values, class weighting, and early stopping on validation ROC-AUC.
//!
//! Trees over per-node neighbourhood aggregates are the strongest simple model on fraud-style
//! graphs. Histogram construction runs per feature in parallel, so both cores are used.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::cpu::mix64;
use super::matrix::Matrix;
use super::metrics::roc_auc;

/// Bin of a missing (NaN) value.
const MISSING: u8 = u8::MAX;

/// Booster settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GbdtConfig {
    /// Most trees.
    pub trees: usize,
    /// Shrinkage of every tree.
    pub learning_rate: f32,
    /// Deepest split level (a tree has at most `2^max_depth` leaves).
    pub max_depth: usize,
    /// Smallest hessian sum of a child.
    pub min_child_weight: f64,
    /// L2 penalty on leaf weights.
    pub lambda: f64,
    /// Smallest gain worth a split.
    pub min_gain: f64,
    /// Fraction of training rows drawn for each tree.
    pub subsample: f64,
    /// Fraction of features drawn for each tree.
    pub colsample: f64,
    /// Stop after this many trees without a better validation ROC-AUC.
    pub patience: usize,
    /// Weight positives by negatives/positives in the training rows.
    pub balance_classes: bool,
    /// Seed of the row and column draws.
    pub seed: u64,
    /// Boosters trained with different seeds and averaged (on the logit scale); each selects
    /// its own number of trees on validation.
    #[serde(default = "one")]
    pub bags: usize,
}

fn one() -> usize {
    1
}

impl Default for GbdtConfig {
    fn default() -> Self {
        GbdtConfig {
            trees: 1000,
            learning_rate: 0.05,
            max_depth: 6,
            min_child_weight: 1.0,
            lambda: 1.0,
            min_gain: 0.0,
            subsample: 0.8,
            colsample: 0.8,
            patience: 100,
            balance_classes: true,
            seed: 0,
            bags: 1,
        }
    }
}

/// One tree node: a split (`feature < u32::MAX`) or a leaf.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TreeNode {
    /// Split feature, or `u32::MAX` for a leaf.
    pub feature: u32,
    /// Rows with `value <= threshold` go left.
    pub threshold: f32,
    /// Where missing values go.
    pub missing_left: bool,
    /// Left child index.
    pub left: u32,
    /// Right child index.
    pub right: u32,
    /// Contribution to the logit of rows ending here (for inner nodes: the weight the node
    /// would have as a leaf, used to attribute a score to features).
    pub value: f32,
    /// Hessian sum of the training rows that reached the node.
    pub cover: f32,
}

impl TreeNode {
    fn is_leaf(&self) -> bool {
        self.feature == u32::MAX
    }
}

/// One regression tree on the logit scale.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Node 0 is the root.
    pub nodes: Vec<TreeNode>,
}

impl Tree {
    fn leaf_of(&self, row: &[f32]) -> usize {
        let mut at = 0;
        loop {
            let node = &self.nodes[at];
            if node.is_leaf() {
                return at;
            }
            let v = row[node.feature as usize];
            let left = if v.is_nan() {
                node.missing_left
            } else {
                v <= node.threshold
            };
            at = if left { node.left } else { node.right } as usize;
        }
    }
}

/// A trained booster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Gbdt {
    /// Logit every prediction starts from (the weighted prior).
    pub base: f32,
    /// Features a row must have.
    pub features: usize,
    /// The trees, in boosting order.
    pub trees: Vec<Tree>,
}

impl Gbdt {
    /// The logit of one row.
    pub fn logit(&self, row: &[f32]) -> f32 {
        assert_eq!(row.len(), self.features, "feature count of the row");
        self.base
            + self
                .trees
                .iter()
                .map(|t| t.nodes[t.leaf_of(row)].value)
                .sum::<f32>()
    }

    /// Probabilities of every row of `x`, in parallel.
    pub fn predict(&self, x: &Matrix) -> Vec<f32> {
        (0..x.rows)
            .into_par_iter()
            .map(|i| sigmoid(self.logit(x.row(i))))
            .collect()
    }

    /// How much each feature moved the logit of `row` away from the base: along every tree's
    /// path, the change of node value at a split is credited to the split's feature. The
    /// contributions sum to `logit(row) - base`.
    pub fn contributions(&self, row: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0; self.features];
        for tree in &self.trees {
            let mut at = 0;
            loop {
                let node = &tree.nodes[at];
                if node.is_leaf() {
                    break;
                }
                let v = row[node.feature as usize];
                let left = if v.is_nan() {
                    node.missing_left
                } else {
                    v <= node.threshold
                };
                let next = if left { node.left } else { node.right } as usize;
                out[node.feature as usize] += tree.nodes[next].value - node.value;
                at = next;
            }
            // The root's own value is part of the tree's output too: fold it into the base.
        }
        out
    }

    /// The part of every logit that no feature explains: the base plus each root's value.
    pub fn expected_logit(&self) -> f32 {
        self.base + self.trees.iter().map(|t| t.nodes[0].value).sum::<f32>()
    }
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// Per-feature cut points and the binned training matrix (column-major).
struct Binned {
    cuts: Vec<Vec<f32>>,
    rows: usize,
    bins: Vec<u8>,
}

impl Binned {
    /// Cut points from the rows `fit`, then every row of `x` binned.
    fn new(x: &Matrix, fit: &[u32]) -> Binned {
        let max_bins = (MISSING - 1) as usize;
        let cuts: Vec<Vec<f32>> = (0..x.cols)
            .into_par_iter()
            .map(|f| {
                let mut values: Vec<f32> = fit
                    .iter()
                    .map(|&i| x.get(i as usize, f))
                    .filter(|v| !v.is_nan())
                    .collect();
                values.sort_by(f32::total_cmp);
                let mut distinct = values.clone();
                distinct.dedup();
                if distinct.len() <= max_bins {
                    return distinct;
                }
                let mut cuts: Vec<f32> = (1..=max_bins)
                    .map(|q| values[(q * values.len() / max_bins).min(values.len() - 1)])
                    .collect();
                cuts.dedup();
                cuts
            })
            .collect();
        let bins_per_feature: Vec<Vec<u8>> = (0..x.cols)
            .into_par_iter()
            .map(|f| (0..x.rows).map(|i| bin_of(&cuts[f], x.get(i, f))).collect())
            .collect();
        Binned {
            cuts,
            rows: x.rows,
            bins: bins_per_feature.concat(),
        }
    }

    fn column(&self, f: usize) -> &[u8] {
        &self.bins[f * self.rows..(f + 1) * self.rows]
    }
}

/// The bin of `value`: the first cut at or above it (values above every cut share the last
/// bin); NaN goes to [`MISSING`].
fn bin_of(cuts: &[f32], value: f32) -> u8 {
    if value.is_nan() {
        return MISSING;
    }
    cuts.partition_point(|&c| c < value)
        .min(cuts.len().saturating_sub(1)) as u8
}

/// Gradient and hessian sums per bin, for one feature.
type Histogram = Vec<[f64; 2]>;

struct Grower<'a> {
    binned: &'a Binned,
    grad: &'a [f64],
    hess: &'a [f64],
    features: &'a [usize],
    config: &'a GbdtConfig,
    nodes: Vec<TreeNode>,
    gains: Vec<f64>,
}

struct Split {
    feature: usize,
    bin: usize,
    missing_left: bool,
    gain: f64,
}

impl Grower<'_> {
    fn histograms(&self, rows: &[u32]) -> Vec<Histogram> {
        // Small nodes: several features per task, or the scheduling costs more than the work.
        let per_task = (16_384 / rows.len().max(1)).max(1);
        self.features
            .par_iter()
            .with_min_len(per_task)
            .map(|&f| {
                let column = self.binned.column(f);
                let mut h = vec![[0.0; 2]; MISSING as usize + 1];
                for &r in rows {
                    let slot = &mut h[column[r as usize] as usize];
                    slot[0] += self.grad[r as usize];
                    slot[1] += self.hess[r as usize];
                }
                h
            })
            .collect()
    }

    fn score(&self, g: f64, h: f64) -> f64 {
        g * g / (h + self.config.lambda)
    }

    fn weight(&self, g: f64, h: f64) -> f32 {
        (-g / (h + self.config.lambda) * self.config.learning_rate as f64) as f32
    }

    fn best_split(&self, hists: &[Histogram], g: f64, h: f64) -> Option<Split> {
        let parent = self.score(g, h);
        let min_child = self.config.min_child_weight;
        hists
            .par_iter()
            .with_min_len(8)
            .enumerate()
            .filter_map(|(k, hist)| {
                let f = self.features[k];
                let bins = self.binned.cuts[f].len();
                let [mg, mh] = hist[MISSING as usize];
                let mut best: Option<Split> = None;
                let (mut lg, mut lh) = (0.0, 0.0);
                // A split after the last bin sends nothing right: stop one short.
                for (bin, &[g_bin, h_bin]) in hist.iter().enumerate().take(bins.saturating_sub(1)) {
                    lg += g_bin;
                    lh += h_bin;
                    for missing_left in [false, true] {
                        let (sg, sh) = if missing_left {
                            (lg + mg, lh + mh)
                        } else {
                            (lg, lh)
                        };
                        let (rg, rh) = (g - sg, h - sh);
                        if sh < min_child || rh < min_child {
                            continue;
                        }
                        let gain = 0.5 * (self.score(sg, sh) + self.score(rg, rh) - parent);
                        if gain > self.config.min_gain
                            && best.as_ref().is_none_or(|b| gain > b.gain)
                        {
                            best = Some(Split {
                                feature: f,
                                bin,
                                missing_left,
                                gain,
                            });
                        }
                    }
                }
                best
            })
            .max_by(|a, b| a.gain.total_cmp(&b.gain).then(b.feature.cmp(&a.feature)))
    }

    /// Grows the subtree of node `at` over `rows` whose histograms are `hists`.
    fn grow(&mut self, at: usize, rows: Vec<u32>, hists: Vec<Histogram>, depth: usize) {
        let (g, h) = hists[0]
            .iter()
            .fold((0.0, 0.0), |(g, h), b| (g + b[0], h + b[1]));
        self.nodes[at].value = self.weight(g, h);
        self.nodes[at].cover = h as f32;
        if depth >= self.config.max_depth || rows.len() < 2 {
            return;
        }
        let Some(split) = self.best_split(&hists, g, h) else {
            return;
        };
        let column = self.binned.column(split.feature);
        let (left_rows, right_rows): (Vec<u32>, Vec<u32>) = rows.iter().partition(|&&r| {
            let b = column[r as usize];
            if b == MISSING {
                split.missing_left
            } else {
                (b as usize) <= split.bin
            }
        });
        drop(rows);
        // Histogram subtraction: build the smaller child, derive the larger.
        let small_is_left = left_rows.len() <= right_rows.len();
        let small = self.histograms(if small_is_left {
            &left_rows
        } else {
            &right_rows
        });
        let large: Vec<Histogram> = hists
            .iter()
            .zip(&small)
            .map(|(p, s)| {
                p.iter()
                    .zip(s)
                    .map(|(a, b)| [a[0] - b[0], a[1] - b[1]])
                    .collect()
            })
            .collect();
        drop(hists);
        let (left_hists, right_hists) = if small_is_left {
            (small, large)
        } else {
            (large, small)
        };
        self.gains[split.feature] += split.gain;
        let left = self.nodes.len();
        self.nodes.push(leaf());
        self.nodes.push(leaf());
        let node = &mut self.nodes[at];
        node.feature = split.feature as u32;
        node.threshold = self.binned.cuts[split.feature][split.bin];
        node.missing_left = split.missing_left;
        node.left = left as u32;
        node.right = left as u32 + 1;
        self.grow(left, left_rows, left_hists, depth + 1);
        self.grow(left + 1, right_rows, right_hists, depth + 1);
    }
}

fn leaf() -> TreeNode {
    TreeNode {
        feature: u32::MAX,
        threshold: 0.0,
        missing_left: false,
        left: 0,
        right: 0,
        value: 0.0,
        cover: 0.0,
    }
}

/// One boosting round, as shown while training.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoundReport {
    /// Trees so far.
    pub trees: usize,
    /// Weighted training log-loss before the round.
    pub loss: f64,
    /// Validation ROC-AUC after the round.
    pub val_auc: f64,
}

/// A trained booster with its selection record.
pub struct GbdtOutcome {
    /// Truncated to the best round.
    pub model: Gbdt,
    /// Validation ROC-AUC of the best round.
    pub val_auc: f64,
    /// Every round.
    pub curve: Vec<RoundReport>,
    /// Total split gain per feature.
    pub importance: Vec<f64>,
}

/// Boost on rows `train` of `x` (labels per row), select the number of trees on `val`; with
/// `bags > 1`, average that many boosters of different seeds. The progress and curve are the
/// first booster's.
pub fn train_gbdt(
    x: &Matrix,
    labels: &[bool],
    train: &[u32],
    val: &[u32],
    config: &GbdtConfig,
    progress: &mut dyn FnMut(&RoundReport),
) -> GbdtOutcome {
    let first = boost(x, labels, train, val, config, progress);
    if config.bags <= 1 {
        return first;
    }
    let bags = config.bags as f32;
    let mut combined = first;
    for tree in &mut combined.model.trees {
        tree.nodes.iter_mut().for_each(|n| n.value /= bags);
    }
    for bag in 1..config.bags {
        let seeded = GbdtConfig {
            seed: mix64(config.seed ^ mix64(bag as u64 + 1_000)),
            ..config.clone()
        };
        let out = boost(x, labels, train, val, &seeded, &mut |_| {});
        for mut tree in out.model.trees {
            tree.nodes.iter_mut().for_each(|n| n.value /= bags);
            combined.model.trees.push(tree);
        }
        for (total, g) in combined.importance.iter_mut().zip(out.importance) {
            *total += g;
        }
    }
    let val_labels: Vec<bool> = val.iter().map(|&i| labels[i as usize]).collect();
    let val_scores: Vec<f32> = val
        .iter()
        .map(|&i| combined.model.logit(x.row(i as usize)))
        .collect();
    combined.val_auc = roc_auc(&val_scores, &val_labels).unwrap_or(f64::NAN);
    combined
}

fn boost(
    x: &Matrix,
    labels: &[bool],
    train: &[u32],
    val: &[u32],
    config: &GbdtConfig,
    progress: &mut dyn FnMut(&RoundReport),
) -> GbdtOutcome {
    assert_eq!(labels.len(), x.rows, "one label per row");
    let binned = Binned::new(x, train);
    let positives = train.iter().filter(|&&i| labels[i as usize]).count();
    let negatives = train.len() - positives;
    let pos_weight = if config.balance_classes && positives > 0 {
        negatives as f64 / positives as f64
    } else {
        1.0
    };
    let weighted_pos = positives as f64 * pos_weight;
    let base = if positives == 0 || negatives == 0 {
        0.0
    } else {
        (weighted_pos / negatives as f64).ln() as f32
    };
    let mut logits = vec![base; x.rows];
    let mut grad = vec![0.0; x.rows];
    let mut hess = vec![0.0; x.rows];
    let val_labels: Vec<bool> = val.iter().map(|&i| labels[i as usize]).collect();
    let mut model = Gbdt {
        base,
        features: x.cols,
        trees: Vec::new(),
    };
    let mut gains: Vec<Vec<f64>> = Vec::new();
    let mut curve = Vec::new();
    let mut best = (0usize, f64::NEG_INFINITY);
    for round in 0..config.trees {
        let mut loss = 0.0;
        for &i in train {
            let i = i as usize;
            let (y, w) = if labels[i] {
                (1.0, pos_weight)
            } else {
                (0.0, 1.0)
            };
            let p = sigmoid(logits[i]) as f64;
            grad[i] = w * (p - y);
            hess[i] = (w * p * (1.0 - p)).max(1e-12);
            loss -= w * if labels[i] {
                p.max(1e-12).ln()
            } else {
                (1.0 - p).max(1e-12).ln()
            };
        }
        loss /= train.len().max(1) as f64;
        let seed = mix64(config.seed ^ mix64(round as u64 + 1));
        let rows: Vec<u32> = train
            .iter()
            .copied()
            .filter(|&i| unit(mix64(seed ^ i as u64)) < config.subsample)
            .collect();
        let mut features: Vec<usize> = (0..x.cols)
            .filter(|&f| unit(mix64(seed.rotate_left(17) ^ f as u64)) < config.colsample)
            .collect();
        if features.is_empty() {
            features = (0..x.cols).collect();
        }
        let mut grower = Grower {
            binned: &binned,
            grad: &grad,
            hess: &hess,
            features: &features,
            config,
            nodes: vec![leaf()],
            gains: vec![0.0; x.cols],
        };
        let hists = grower.histograms(&rows);
        grower.grow(0, rows, hists, 0);
        let tree = Tree {
            nodes: grower.nodes,
        };
        gains.push(grower.gains);
        logits
            .par_iter_mut()
            .with_min_len(1024)
            .enumerate()
            .for_each(|(i, l)| {
                *l += tree.nodes[tree.leaf_of(x.row(i))].value;
            });
        model.trees.push(tree);
        let val_scores: Vec<f32> = val.iter().map(|&i| logits[i as usize]).collect();
        let val_auc = roc_auc(&val_scores, &val_labels).unwrap_or(f64::NAN);
        let report = RoundReport {
            trees: round + 1,
            loss,
            val_auc,
        };
        progress(&report);
        curve.push(report);
        // Ties go to the larger model: a plateau of perfect ranking still sharpens the scores.
        if val_auc >= best.1 {
            best = (round + 1, val_auc);
        } else if round + 1 - best.0 >= config.patience {
            break;
        }
    }
    // Without a defined validation AUC (one class only) nothing can be selected: keep all.
    let keep = if best.0 == 0 {
        model.trees.len()
    } else {
        best.0
    };
    model.trees.truncate(keep);
    gains.truncate(keep);
    let mut importance = vec![0.0; x.cols];
    for tree_gains in &gains {
        for (total, g) in importance.iter_mut().zip(tree_gains) {
            *total += g;
        }
    }
    GbdtOutcome {
        model,
        val_auc: if best.0 == 0 { f64::NAN } else { best.1 },
        curve,
        importance,
    }
}

fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize) -> (Matrix, Vec<bool>) {
        // Label: x0 > 0.5 xor x1 > 0.5 (needs depth 2), x2 is noise, some x1 missing.
        let mut x = Matrix::zeros(n, 3);
        let mut y = Vec::new();
        for i in 0..n {
            let a = unit(mix64(i as u64 * 3 + 1)) as f32;
            let b = unit(mix64(i as u64 * 3 + 2)) as f32;
            let c = unit(mix64(i as u64 * 3 + 3)) as f32;
            x.row_mut(i).copy_from_slice(&[a, b, c]);
            y.push((a > 0.5) != (b > 0.5));
            if i % 10 == 0 {
                x.row_mut(i)[1] = f32::NAN;
            }
        }
        (x, y)
    }

    #[test]
    fn learns_an_interaction_and_ignores_noise() {
        let (x, y) = data(4000);
        let train: Vec<u32> = (0..3000).collect();
        let val: Vec<u32> = (3000..4000).collect();
        let out = train_gbdt(&x, &y, &train, &val, &GbdtConfig::default(), &mut |_| {});
        // Rows with x1 missing are guessable only from x0: half right.
        let scores = out.model.predict(&x);
        let known: Vec<u32> = (3000..4000).filter(|i| i % 10 != 0).collect();
        let (s, l): (Vec<f32>, Vec<bool>) = known
            .iter()
            .map(|&i| (scores[i as usize], y[i as usize]))
            .unzip();
        assert!(roc_auc(&s, &l).unwrap() > 0.99);
        assert!(out.importance[2] < 0.05 * (out.importance[0] + out.importance[1]));
        assert!(out.model.trees.len() < 1000, "early stopping");
    }

    #[test]
    fn contributions_sum_to_the_logit() {
        let (x, y) = data(1000);
        let train: Vec<u32> = (0..800).collect();
        let val: Vec<u32> = (800..1000).collect();
        let config = GbdtConfig {
            trees: 50,
            ..GbdtConfig::default()
        };
        let model = train_gbdt(&x, &y, &train, &val, &config, &mut |_| {}).model;
        for i in [0, 1, 17, 999] {
            let row = x.row(i);
            let total: f32 = model.contributions(row).iter().sum();
            let logit = model.logit(row);
            assert!((model.expected_logit() + total - logit).abs() < 1e-3);
        }
    }

    #[test]
    fn deterministic_in_the_seed() {
        let (x, y) = data(600);
        let train: Vec<u32> = (0..400).collect();
        let val: Vec<u32> = (400..600).collect();
        let config = GbdtConfig {
            trees: 20,
            ..GbdtConfig::default()
        };
        let a = train_gbdt(&x, &y, &train, &val, &config, &mut |_| {}).model;
        let b = train_gbdt(&x, &y, &train, &val, &config, &mut |_| {}).model;
        assert_eq!(a, b);
    }

    #[test]
    fn bins_put_equal_values_together_and_missing_apart() {
        let cuts = vec![1.0, 2.0, 3.0];
        assert_eq!(bin_of(&cuts, 0.5), 0);
        assert_eq!(bin_of(&cuts, 1.0), 0);
        assert_eq!(bin_of(&cuts, 1.5), 1);
        assert_eq!(bin_of(&cuts, 9.0), 2);
        assert_eq!(bin_of(&cuts, f32::NAN), MISSING);
    }
}
