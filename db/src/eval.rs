//! `eval node-classification`: train and evaluate once per split column of a splits file —
//! each model family (GNN, boosted trees on graph features), the family picked for the data
//! set by mean validation ROC-AUC, and a no-graph baseline (trees on the nodes' own
//! properties) in the same run — with mean ± std over the splits.

use std::path::{Path, PathBuf};

use argus_engine::error::Location;
use argus_engine::{Error, Result, Snapshot};
use argus_extensions::ml::metrics::Scores;
use argus_extensions::ml::train::NodeSplit;

use crate::projection::Projection;
use crate::train::{
    prepare, selection_key, train_baseline, train_family, Family, TrainProgress, TrainSpec,
};
use crate::Database;

pub use crate::train::{FeatureChoice, ModelSettings, FEW_PROPERTIES};

/// What to evaluate.
#[derive(Clone, Debug)]
pub struct NodeEvalSpec {
    /// Model and feature settings (label, target, families, ...).
    pub train: TrainSpec,
    /// `id,split_0,...` with train/val/test per node key.
    pub splits: PathBuf,
}

/// One family's results on one split.
#[derive(Clone, Debug)]
pub struct FamilyResult {
    /// The family.
    pub family: Family,
    /// Test metrics.
    pub test: Scores,
    /// Validation ROC-AUC of the selected epoch / tree count.
    pub val_auc: f64,
    /// Selected epoch (GNN) or number of trees.
    pub selected: usize,
    /// (step, loss, validation ROC-AUC).
    pub curve: Vec<(usize, f64, f64)>,
    /// Test scores and labels (for ROC / PR plots).
    pub test_scores: Vec<(f32, bool)>,
}

/// Results on one split.
#[derive(Clone, Debug)]
pub struct SplitResult {
    /// Split column name.
    pub split: String,
    /// One entry per family, in the spec's order.
    pub families: Vec<FamilyResult>,
    /// No-graph baseline, test metrics.
    pub baseline: Scores,
    /// No-graph baseline, validation ROC-AUC.
    pub baseline_val_auc: f64,
}

impl SplitResult {
    /// The result of `family`.
    pub fn family(&self, family: Family) -> Option<&FamilyResult> {
        self.families.iter().find(|f| f.family == family)
    }
}

/// The whole evaluation.
#[derive(Clone, Debug)]
pub struct EvalReport {
    /// Base feature columns.
    pub features: Vec<String>,
    /// Columns of the baseline.
    pub baseline_features: Vec<String>,
    /// Relations and their message counts.
    pub relations: Vec<(String, usize)>,
    /// Nodes in the projection.
    pub nodes: usize,
    /// One row per split.
    pub splits: Vec<SplitResult>,
    /// The family with the best mean validation ROC-AUC.
    pub selected: Family,
    /// Spectral coordinates the tree models also read (0: none).
    pub spectral_dims: usize,
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
    /// The spectral coordinates of the tree inputs are computed.
    Spectral {
        /// Dimensions.
        dims: usize,
        /// Seconds it took.
        seconds: f64,
    },
    /// A training step of one family.
    Step {
        /// Split column.
        split: &'a str,
        /// The family.
        family: Family,
        /// The step's report.
        progress: TrainProgress<'a>,
    },
    /// A split is done.
    Split(&'a SplitResult),
}

pub(crate) struct Splits {
    pub(crate) names: Vec<String>,
    /// Per split column: node key's global index and its part.
    pub(crate) parts: Vec<NodeSplit>,
}

pub(crate) fn read_splits(
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
    // A node listed twice could sit in two parts of one split (train and test): refused.
    let mut first_line: std::collections::HashMap<usize, u64> = std::collections::HashMap::new();
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
        if let Some(earlier) = first_line.insert(index, line) {
            return Err(Error::Input {
                location: location(line, Some(1), Some(&header[0])),
                message: format!("{label} {key} is listed twice (first on line {earlier})"),
            });
        }
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
    if spec.train.families.is_empty() {
        return Err(Error::InvalidArgument("no model family to evaluate".into()));
    }
    let snapshot = db.snapshot();
    let prepared = prepare(&snapshot, &spec.train)?;
    let projection = &prepared.graph.projection;
    let splits = read_splits(
        &spec.splits,
        &snapshot,
        projection,
        &spec.train.label,
        &prepared.labelled,
    )?;
    let relations: Vec<(String, usize)> = projection
        .relations
        .iter()
        .map(|r| (r.name.clone(), r.relation.edge_count()))
        .collect();
    progress(EvalProgress::Prepared {
        nodes: projection.node_count,
        relations: &relations,
        features: &prepared.base.names,
    });
    let mut spectral_dims = 0;
    if spec.train.families.contains(&Family::Trees) {
        let started = std::time::Instant::now();
        if let Some(table) = prepared.spectral() {
            spectral_dims = table.dims();
            progress(EvalProgress::Spectral {
                dims: spectral_dims,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
    }
    let labels = prepared.labels();
    let mut results = Vec::new();
    for (s, (name, split)) in splits.names.iter().zip(&splits.parts).enumerate() {
        let seed = spec.train.gnn.seed.wrapping_add(s as u64);
        let mut families = Vec::new();
        for &family in &spec.train.families {
            let trained = train_family(&prepared, &spec.train, family, split, seed, &mut |p| {
                progress(EvalProgress::Step {
                    split: name,
                    family,
                    progress: p,
                })
            })?;
            families.push(FamilyResult {
                family,
                test: trained.test,
                val_auc: trained.val_auc,
                selected: trained.selected,
                curve: trained.curve,
                test_scores: split
                    .test
                    .iter()
                    .map(|&i| (trained.scores[i as usize], labels[i as usize]))
                    .collect(),
            });
        }
        let (baseline_val_auc, baseline) = train_baseline(&prepared, &spec.train, split, seed);
        let result = SplitResult {
            split: name.clone(),
            families,
            baseline,
            baseline_val_auc,
        };
        progress(EvalProgress::Split(&result));
        results.push(result);
    }
    // A family whose validation ROC-AUC is undefined on any split never wins selection.
    let mean_val = |f: Family| {
        selection_key(
            mean_std(
                &results
                    .iter()
                    .filter_map(|r| r.family(f).map(|x| x.val_auc))
                    .collect::<Vec<_>>(),
            )
            .0,
        )
    };
    let selected = spec
        .train
        .families
        .iter()
        .copied()
        .max_by(|&a, &b| mean_val(a).total_cmp(&mean_val(b)))
        .expect("at least one family");
    let own = prepared.properties.len();
    Ok(EvalReport {
        features: prepared.base.names.clone(),
        baseline_features: if own == 0 {
            vec!["constant".into()]
        } else {
            prepared.base.names[..own].to_vec()
        },
        relations,
        nodes: projection.node_count,
        splits: results,
        selected,
        spectral_dims,
    })
}
