//! `eval node-classification`: train and evaluate once per split column of a splits file, with
//! a no-graph baseline (the same pipeline on the nodes' own properties, no message passing) in
//! the same run, and mean ± std over the splits.

use std::path::{Path, PathBuf};

use argus_engine::error::Location;
use argus_engine::{Error, Result, Snapshot};
use argus_extensions::ml::backend::{AdamW, Aggregation};
use argus_extensions::ml::cpu::Cpu;
use argus_extensions::ml::matrix::Matrix;
use argus_extensions::ml::metrics::Scores;
use argus_extensions::ml::relation::Relation;
use argus_extensions::ml::sage::SageConfig;
use argus_extensions::ml::train::{
    train_node_classifier, EpochReport, NodeSplit, NodeTask, TrainConfig,
};

use crate::features::{
    degree_features, edge_aggregate_features, label_indicators, numeric_properties,
    property_features, property_values, NodeFeatures,
};
use crate::projection::{project, Projection};
use crate::Database;

/// Which node features the models get.
#[derive(Clone, Debug, PartialEq)]
pub enum FeatureChoice {
    /// Numeric properties except the target, plus structural features when the label has
    /// fewer than [`FEW_PROPERTIES`] of them.
    Auto,
    /// Exactly these properties.
    Properties(Vec<String>),
}

/// Below this many numeric properties, `auto` adds structural features.
pub const FEW_PROPERTIES: usize = 3;

/// Model and optimisation settings of an evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSettings {
    /// Hidden width.
    pub hidden: usize,
    /// Message-passing layers.
    pub layers: usize,
    /// Dropout probability.
    pub dropout: f32,
    /// Neighbour aggregation.
    pub aggregation: Aggregation,
    /// Most epochs.
    pub epochs: usize,
    /// Early-stopping patience in epochs.
    pub patience: usize,
    /// Learning rate.
    pub lr: f32,
    /// AdamW weight decay.
    pub weight_decay: f32,
    /// Seed (each split adds its index).
    pub seed: u64,
}

impl Default for ModelSettings {
    fn default() -> Self {
        ModelSettings {
            hidden: 64,
            layers: 2,
            dropout: 0.2,
            aggregation: Aggregation::Mean,
            epochs: 500,
            patience: 100,
            lr: 3e-3,
            weight_decay: 1e-4,
            seed: 0,
        }
    }
}

/// What to evaluate.
#[derive(Clone, Debug)]
pub struct NodeEvalSpec {
    /// Label of the classified nodes.
    pub label: String,
    /// Its 0/1 property to predict.
    pub target: String,
    /// `id,split_0,...` with train/val/test per node key.
    pub splits: PathBuf,
    /// Node features.
    pub features: FeatureChoice,
    /// Edge types to pass messages along (all when empty).
    pub edge_types: Vec<String>,
    /// Model settings.
    pub model: ModelSettings,
}

/// Results on one split.
#[derive(Clone, Debug)]
pub struct SplitResult {
    /// Split column name.
    pub split: String,
    /// Graph model, test metrics.
    pub graph: Scores,
    /// Graph model, validation ROC-AUC of the selected epoch.
    pub graph_val_auc: f64,
    /// Graph model, selected epoch.
    pub best_epoch: usize,
    /// Graph model, training curve.
    pub curve: Vec<EpochReport>,
    /// No-graph baseline, test metrics.
    pub baseline: Scores,
}

/// The whole evaluation.
#[derive(Clone, Debug)]
pub struct EvalReport {
    /// Feature columns of the graph model.
    pub features: Vec<String>,
    /// Feature columns of the baseline.
    pub baseline_features: Vec<String>,
    /// Relations and their message counts.
    pub relations: Vec<(String, usize)>,
    /// Nodes in the projection.
    pub nodes: usize,
    /// One row per split.
    pub splits: Vec<SplitResult>,
}

/// Mean and (population) standard deviation.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

impl EvalReport {
    /// Mean ± std of a metric over the splits.
    pub fn summary(&self, metric: impl Fn(&SplitResult) -> f64) -> (f64, f64) {
        mean_std(&self.splits.iter().map(metric).collect::<Vec<_>>())
    }
}

/// What an evaluation reports while it runs.
pub enum EvalProgress<'a> {
    /// The projection and features are ready.
    Prepared {
        /// Nodes in the projection.
        nodes: usize,
        /// Relations and their message counts.
        relations: &'a [(String, usize)],
        /// Feature columns.
        features: &'a [String],
    },
    /// One training epoch.
    Epoch {
        /// Split column.
        split: &'a str,
        /// `graph` or `baseline`.
        model: &'a str,
        /// The epoch.
        report: &'a EpochReport,
    },
    /// A split is done.
    Split(&'a SplitResult),
}

struct Splits {
    names: Vec<String>,
    /// Per split column: node key's global index and its part.
    parts: Vec<NodeSplit>,
}

fn read_splits(
    path: &Path,
    snapshot: &Snapshot,
    projection: &Projection,
    label: &str,
    labelled: &[Option<bool>],
) -> Result<Splits> {
    let label_id = snapshot.catalog().label(label)?.id;
    let location = |line: u64, column: Option<usize>, name: Option<&str>| {
        Box::new(Location {
            file: path.to_path_buf(),
            line,
            column,
            column_name: name.map(str::to_string),
        })
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| Error::Input {
            location: location(0, None, None),
            message: e.to_string(),
        })?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| Error::Input {
            location: location(1, None, None),
            message: e.to_string(),
        })?
        .iter()
        .map(str::to_string)
        .collect();
    if header.len() < 2 {
        return Err(Error::Input {
            location: location(1, None, None),
            message: "expected a header `id,split_0,...` with at least one split column".into(),
        });
    }
    let names = header[1..].to_vec();
    let mut parts = vec![NodeSplit::default(); names.len()];
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let record = record.map_err(|e| Error::Input {
            location: location(line, None, None),
            message: e.to_string(),
        })?;
        let key = record.get(0).unwrap_or_default();
        let id = snapshot
            .node_id_in(label_id, key)?
            .ok_or_else(|| Error::Input {
                location: location(line, Some(1), Some(&header[0])),
                message: format!("no {label} node with key {key:?}"),
            })?;
        let index = projection
            .index_of(label_id, id)
            .ok_or_else(|| Error::Corrupt(format!("{label} {key} is outside the projection")))?;
        for (c, part) in parts.iter_mut().enumerate() {
            let value = record.get(c + 1).unwrap_or_default().trim();
            let bucket = match value {
                "train" => &mut part.train,
                "val" | "valid" | "validation" => &mut part.val,
                "test" => &mut part.test,
                "" | "none" | "-" => continue,
                other => {
                    return Err(Error::Input {
                        location: location(line, Some(c + 2), Some(&header[c + 1])),
                        message: format!("expected train, val or test, found {other:?}"),
                    })
                }
            };
            if labelled[index].is_none() {
                return Err(Error::Input {
                    location: location(line, Some(c + 2), Some(&header[c + 1])),
                    message: format!("{label} {key} has no value to predict"),
                });
            }
            bucket.push(index as u32);
        }
    }
    for (name, part) in names.iter().zip(&parts) {
        if part.train.is_empty() || part.val.is_empty() || part.test.is_empty() {
            return Err(Error::Input {
                location: location(1, None, Some(name)),
                message: format!(
                    "split {name} needs train, val and test nodes (has {}, {}, {})",
                    part.train.len(),
                    part.val.len(),
                    part.test.len()
                ),
            });
        }
    }
    Ok(Splits { names, parts })
}

/// Run the evaluation; see the module documentation.
pub fn eval_node_classification(
    db: &Database,
    spec: &NodeEvalSpec,
    progress: &mut dyn FnMut(EvalProgress<'_>),
) -> Result<EvalReport> {
    let snapshot = db.snapshot();
    let projection = project(
        &snapshot,
        &spec.edge_types,
        std::slice::from_ref(&spec.label),
    )?;
    let targets = property_values(&snapshot, &projection, &spec.label, &spec.target)?;
    let labelled: Vec<Option<bool>> = targets.iter().map(|v| v.map(|x| x != 0.0)).collect();
    let splits = read_splits(&spec.splits, &snapshot, &projection, &spec.label, &labelled)?;

    let properties = match &spec.features {
        FeatureChoice::Auto => numeric_properties(&snapshot, &spec.label, &[&spec.target])?,
        FeatureChoice::Properties(p) => {
            if p.iter().any(|x| x == &spec.target) {
                return Err(Error::InvalidArgument(format!(
                    "the feature list contains the target {}",
                    spec.target
                )));
            }
            p.clone()
        }
    };
    let own = property_features(&snapshot, &projection, &spec.label, &properties)?;
    let mut features = own.clone();
    if projection.labels.len() > 1 {
        features = features.join(&label_indicators(&projection));
    }
    if spec.features == FeatureChoice::Auto && properties.len() < FEW_PROPERTIES {
        features = features
            .join(&degree_features(&projection))
            .join(&edge_aggregate_features(
                &snapshot,
                &projection,
                &spec.label,
                None,
            )?);
    }
    let baseline_features = if own.names.is_empty() {
        NodeFeatures {
            names: vec!["constant".into()],
            matrix: Matrix::filled(projection.node_count, 1, 1.0),
        }
    } else {
        own
    };
    let relations: Vec<(String, usize)> = projection
        .relations
        .iter()
        .map(|r| (r.name.clone(), r.relation.edge_count()))
        .collect();
    progress(EvalProgress::Prepared {
        nodes: projection.node_count,
        relations: &relations,
        features: &features.names,
    });
    let mut graph_matrix = features.matrix.clone();
    graph_matrix.standardize(&[]);
    let mut baseline_matrix = baseline_features.matrix.clone();
    baseline_matrix.standardize(&[]);
    let nodes = projection.node_count;
    // The features are built: the relations move to the models instead of being copied.
    let graphs: Vec<Relation> = projection
        .relations
        .into_iter()
        .map(|r| r.relation)
        .collect();
    let labels: Vec<bool> = labelled.iter().map(|l| l.unwrap_or(false)).collect();

    let mut results = Vec::new();
    for (s, (name, split)) in splits.names.iter().zip(&splits.parts).enumerate() {
        let m = &spec.model;
        let train = TrainConfig {
            epochs: m.epochs,
            patience: m.patience,
            adamw: AdamW {
                lr: m.lr,
                weight_decay: m.weight_decay,
                ..AdamW::default()
            },
            balance_classes: true,
            seed: m.seed.wrapping_add(s as u64),
        };
        let config = |input: usize, layers: usize, relations: usize| SageConfig {
            input,
            hidden: m.hidden,
            layers,
            relations,
            aggregation: m.aggregation,
            dropout: m.dropout,
            seed: m.seed.wrapping_add(s as u64),
        };
        let graph = train_node_classifier(
            &Cpu,
            &NodeTask {
                graphs: &graphs,
                features: &graph_matrix,
                labels: &labels,
                split,
            },
            config(graph_matrix.cols, m.layers, graphs.len()),
            &train,
            &mut |r| {
                progress(EvalProgress::Epoch {
                    split: name,
                    model: "graph",
                    report: r,
                })
            },
        );
        let baseline = train_node_classifier(
            &Cpu,
            &NodeTask {
                graphs: &[],
                features: &baseline_matrix,
                labels: &labels,
                split,
            },
            config(baseline_matrix.cols, 0, 0),
            &train,
            &mut |r| {
                progress(EvalProgress::Epoch {
                    split: name,
                    model: "baseline",
                    report: r,
                })
            },
        );
        let result = SplitResult {
            split: name.clone(),
            graph: graph.test,
            graph_val_auc: graph.val_auc,
            best_epoch: graph.best_epoch,
            curve: graph.curve,
            baseline: baseline.test,
        };
        progress(EvalProgress::Split(&result));
        results.push(result);
    }
    Ok(EvalReport {
        features: features.names,
        baseline_features: baseline_features.names,
        relations,
        nodes,
        splits: results,
    })
}
