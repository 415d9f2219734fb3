//! Full-graph training of a [`Sage`] node classifier: weighted loss for class imbalance,
//! AdamW, model selection on validation ROC-AUC with early stopping, deterministic in the seed.

use super::backend::{AdamW, Backend};
use super::matrix::Matrix;
use super::metrics::{roc_auc, Scores};
use super::sage::{Sage, SageConfig};

/// Node indexes of the three parts of a split.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeSplit {
    /// Trained on.
    pub train: Vec<u32>,
    /// Used to pick the epoch.
    pub val: Vec<u32>,
    /// Reported.
    pub test: Vec<u32>,
}

/// Optimisation settings.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Most epochs.
    pub epochs: usize,
    /// Stop after this many epochs without a better validation ROC-AUC.
    pub patience: usize,
    /// Optimiser settings.
    pub adamw: AdamW,
    /// Weight positives by negatives/positives in the training part.
    pub balance_classes: bool,
    /// Seed of dropout (the weights' seed is in [`SageConfig`]).
    pub seed: u64,
    /// An epoch that ties the best validation metric replaces the kept model
    /// ([`EarlyStopping::ties_keep_later`]).
    pub ties_keep_later: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 500,
            patience: 100,
            adamw: AdamW {
                lr: 3e-3,
                weight_decay: 1e-4,
                ..AdamW::default()
            },
            balance_classes: true,
            seed: 0,
            ties_keep_later: true,
        }
    }
}

/// One epoch, as shown while training and plotted afterwards.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochReport {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Training loss.
    pub loss: f32,
    /// Validation ROC-AUC after the epoch.
    pub val_auc: f64,
}

/// The best model's results.
pub struct TrainOutcome {
    /// Epoch with the best validation ROC-AUC.
    pub best_epoch: usize,
    /// Its validation ROC-AUC.
    pub val_auc: f64,
    /// Its test metrics.
    pub test: Scores,
    /// Every epoch's report.
    pub curve: Vec<EpochReport>,
    /// Its probability for every node.
    pub scores: Vec<f32>,
    /// Its embedding of every node.
    pub embedding: Matrix,
    /// Its parameters.
    pub params: Vec<Matrix>,
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// Values of `all` at `rows`, with the matching labels.
pub fn subset(all: &[f32], labels: &[bool], rows: &[u32]) -> (Vec<f32>, Vec<bool>) {
    rows.iter()
        .map(|&i| (all[i as usize], labels[i as usize]))
        .unzip()
}

/// Early stopping on a validation metric, shared by the GNN training loops. A gain or a tie
/// keeps the epoch's model: a small validation part can rank perfectly from the first epochs,
/// when the model is barely trained, so ties go to the later epoch, as more trees do in the
/// booster (`ties_keep_later`; off, the first best epoch is kept). Only a gain extends the
/// patience, so a plateau does not run every epoch. A NaN metric (a validation part of one
/// class) is never a gain: it is kept only while no epoch has scored a number.
pub struct EarlyStopping {
    patience: usize,
    best: Option<f64>,
    last_gain: usize,
    ties_keep_later: bool,
}

/// What [`EarlyStopping::observe`] decides for one epoch.
pub struct StoppingStep {
    /// Keep this epoch's model.
    pub keep: bool,
    /// Train no further.
    pub stop: bool,
}

impl EarlyStopping {
    /// Stop `patience` epochs after the last gain.
    pub fn new(patience: usize) -> EarlyStopping {
        EarlyStopping {
            patience,
            best: None,
            last_gain: 0,
            ties_keep_later: true,
        }
    }

    /// Whether an epoch that ties the best keeps its model (default: yes).
    pub fn ties_keep_later(mut self, later: bool) -> EarlyStopping {
        self.ties_keep_later = later;
        self
    }

    /// Epoch `epoch` (from 1) scored `val` on validation.
    pub fn observe(&mut self, epoch: usize, val: f64) -> StoppingStep {
        let number = !val.is_nan();
        let gained = number && self.best.is_none_or(|b| val > b);
        let tie = number && self.ties_keep_later && self.best == Some(val);
        let keep = gained || tie || self.best.is_none();
        if gained {
            self.best = Some(val);
            self.last_gain = epoch;
        }
        StoppingStep {
            keep,
            stop: !gained && epoch - self.last_gain >= self.patience,
        }
    }
}

/// The data of one node-classification run.
pub struct NodeTask<'a, B: Backend> {
    /// One graph per relation of the model.
    pub graphs: &'a [B::Graph],
    /// One row per node.
    pub features: &'a Matrix,
    /// One entry per node (unlabelled nodes simply belong to no part of the split).
    pub labels: &'a [bool],
    /// Which nodes train, select and test.
    pub split: &'a NodeSplit,
}

/// Train on `split.train`, select on `split.val`, report on `split.test`.
pub fn train_node_classifier<B: Backend>(
    backend: &B,
    task: &NodeTask<'_, B>,
    model: SageConfig,
    config: &TrainConfig,
    progress: &mut dyn FnMut(&EpochReport),
) -> TrainOutcome {
    let NodeTask {
        graphs,
        features,
        labels,
        split,
    } = *task;
    let n = features.rows;
    let x = backend.upload(features);
    let positives = split.train.iter().filter(|&&i| labels[i as usize]).count();
    let negatives = split.train.len() - positives;
    let pos_weight = if config.balance_classes && positives > 0 {
        negatives as f32 / positives as f32
    } else {
        1.0
    };
    let mut weights = Matrix::zeros(n, 1);
    let mut targets = Matrix::zeros(n, 1);
    for (i, &l) in labels.iter().enumerate() {
        targets.data[i] = if l { 1.0 } else { 0.0 };
    }
    for &i in &split.train {
        weights.data[i as usize] = if labels[i as usize] { pos_weight } else { 1.0 };
    }
    let (weights, targets) = (backend.upload(&weights), backend.upload(&targets));

    let mut sage = Sage::new(backend, model);
    let mut best: Option<(usize, f64, Vec<Matrix>)> = None;
    let mut stopping = EarlyStopping::new(config.patience).ties_keep_later(config.ties_keep_later);
    let mut curve = Vec::new();
    for epoch in 1..=config.epochs {
        let seed = config
            .seed
            .wrapping_mul(1_000_003)
            .wrapping_add(epoch as u64);
        let (logits, cache) = sage.forward(backend, graphs, &x, true, seed);
        let (loss, dlogits) = backend.bce_with_logits(&logits, &targets, &weights);
        sage.backward(backend, graphs, &cache, &dlogits);
        sage.update(backend, &config.adamw);

        let (logits, _) = sage.forward(backend, graphs, &x, false, 0);
        let probs: Vec<f32> = backend
            .download(&logits)
            .data
            .into_iter()
            .map(sigmoid)
            .collect();
        let (val_scores, val_labels) = subset(&probs, labels, &split.val);
        let val_auc = roc_auc(&val_scores, &val_labels).unwrap_or(f64::NAN);
        let report = EpochReport {
            epoch,
            loss,
            val_auc,
        };
        progress(&report);
        curve.push(report);
        let step = stopping.observe(epoch, val_auc);
        if step.keep {
            best = Some((epoch, val_auc, sage.snapshot(backend)));
        }
        if step.stop {
            break;
        }
    }
    let (best_epoch, val_auc, params) = best.expect("at least one epoch");
    sage.restore(backend, &params);
    let (logits, cache) = sage.forward(backend, graphs, &x, false, 0);
    let scores: Vec<f32> = backend
        .download(&logits)
        .data
        .into_iter()
        .map(sigmoid)
        .collect();
    let (test_scores, test_labels) = subset(&scores, labels, &split.test);
    TrainOutcome {
        best_epoch,
        val_auc,
        test: Scores::of(&test_scores, &test_labels),
        curve,
        scores,
        embedding: backend.download(&cache.embedding),
        params,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::backend::Aggregation;
    use crate::ml::cpu::{mix64, Cpu};
    use crate::ml::relation::Relation;

    /// The first `train` nodes train, the next `val` select, the next `test` report.
    fn consecutive_split(train: u32, val: u32, test: u32) -> NodeSplit {
        NodeSplit {
            train: (0..train).collect(),
            val: (train..train + val).collect(),
            test: (train + val..train + val + test).collect(),
        }
    }

    /// A mean-aggregating model over one relation.
    fn one_relation_model(
        input: usize,
        hidden: usize,
        layers: usize,
        dropout: f32,
        seed: u64,
    ) -> SageConfig {
        SageConfig {
            input,
            hidden,
            layers,
            relations: 1,
            aggregation: Aggregation::Mean,
            dropout,
            seed,
        }
    }

    #[test]
    fn a_validation_plateau_keeps_the_later_epoch_and_stops_after_the_patience() {
        // The one feature is the label: validation ranks perfectly from the first epoch on.
        let n = 40;
        let labels: Vec<bool> = (0..n).map(|i| i % 2 == 0).collect();
        let features = Matrix::from_vec(
            n,
            1,
            labels.iter().map(|&l| if l { 1.0 } else { -1.0 }).collect(),
        );
        let graphs = vec![Relation::from_edges(n, n, &[])];
        let split = consecutive_split(20, 10, 10);
        let task = NodeTask {
            graphs: &graphs,
            features: &features,
            labels: &labels,
            split: &split,
        };
        let model = one_relation_model(1, 4, 1, 0.0, 1);
        let config = TrainConfig {
            epochs: 50,
            patience: 5,
            ..TrainConfig::default()
        };
        let out = train_node_classifier(&Cpu, &task, model.clone(), &config, &mut |_| {});
        assert_eq!(out.val_auc, 1.0);
        let first_perfect = out.curve.iter().find(|r| r.val_auc == 1.0).unwrap().epoch;
        // Ties keep replacing the model, and only a gain extends the patience.
        assert_eq!(out.curve.len(), first_perfect + config.patience);
        assert_eq!(out.best_epoch, out.curve.len());
        // Without the rule, the first perfect epoch is kept.
        let first = TrainConfig {
            ties_keep_later: false,
            ..config.clone()
        };
        let out = train_node_classifier(&Cpu, &task, model, &first, &mut |_| {});
        assert_eq!(out.best_epoch, first_perfect);
    }

    #[test]
    fn training_gives_the_same_network_on_any_number_of_threads() {
        // Enough nodes that every row-parallel step splits into many tasks.
        let n = 3_000;
        let value = |i: u64| (mix64(i) >> 40) as f32 / (1u64 << 24) as f32;
        let features = Matrix::from_vec(n, 6, (0..n * 6).map(|i| value(i as u64)).collect());
        let labels: Vec<bool> = (0..n).map(|i| value(1_000_000 + i as u64) < 0.2).collect();
        let edges: Vec<(u32, u32)> = (0..n as u64 * 4)
            .map(|e| {
                let a = (mix64(e) % n as u64) as u32;
                let b = (mix64(e + 7_777_777) % n as u64) as u32;
                (a, b)
            })
            .collect();
        let graphs = vec![Relation::undirected(n, &edges)];
        let split = consecutive_split(2_000, 500, 500);
        let task = NodeTask {
            graphs: &graphs,
            features: &features,
            labels: &labels,
            split: &split,
        };
        let model = one_relation_model(6, 16, 2, 0.5, 3);
        let config = TrainConfig {
            epochs: 8,
            patience: 8,
            ..TrainConfig::default()
        };
        let train_on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| train_node_classifier(&Cpu, &task, model.clone(), &config, &mut |_| {}))
        };
        let (one, four) = (train_on(1), train_on(4));
        assert_eq!(
            one.params, four.params,
            "parameters differ with the thread count"
        );
        assert_eq!(one.scores, four.scores);
    }

    #[test]
    fn a_nan_validation_metric_never_wins() {
        let mut stopping = EarlyStopping::new(3);
        assert!(stopping.observe(1, f64::NAN).keep, "nothing better yet");
        assert!(stopping.observe(2, 0.6).keep);
        let step = stopping.observe(3, f64::NAN);
        assert!(!step.keep);
        assert!(!stopping.observe(4, 0.5).keep);
        assert!(stopping.observe(5, f64::NAN).stop);
    }
}
