//! Training fraud models on one split of a label's nodes: the GNN on the full projection, the
//! boosted trees on base plus neighbourhood features, or both with the better one on
//! validation kept. `eval` calls this once per split column; `train` once, then registers the
//! result.

use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use argus_engine::{Error, Result, Snapshot};
use argus_extensions::ml::backend::Backend;
use argus_extensions::ml::backend::{AdamW, Aggregation};
use argus_extensions::ml::cpu::{mix64, Cpu};
use argus_extensions::ml::gbdt::{train_gbdt, Gbdt, GbdtConfig, RoundReport};
use argus_extensions::ml::matrix::Matrix;
use argus_extensions::ml::metrics::{roc_auc, Scores};
use argus_extensions::ml::relation::Relation;
use argus_extensions::ml::sage::{Sage, SageConfig};
use argus_extensions::ml::train::{
    subset, train_node_classifier, EarlyStopping, EpochReport, NodeSplit, NodeTask, TrainConfig,
};

use crate::eval::read_splits;
use crate::features::{numeric_properties, property_values, NodeFeatures, StructuralSpec};
use crate::model::{
    hybrid_gnn_names, hybrid_tree_inputs, tree_inputs, FraudModel, ModelKind, ScoringGraph,
};
use crate::projection::LabelRange;
use crate::registry::{ModelVersion, TrainedOn};
use crate::sampling::sample_block;
use crate::spectral::{SpectralTable, AUTO_DIMS, AUTO_MAX_NODES};
use crate::Database;

/// Which node features the models get.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FeatureChoice {
    /// Numeric properties except the target, degrees, and edge aggregates when the label has
    /// fewer than [`FEW_PROPERTIES`] numeric properties.
    Auto,
    /// Exactly these properties (plus degrees).
    Properties(Vec<String>),
}

/// Below this many numeric properties, `auto` adds edge aggregates.
pub const FEW_PROPERTIES: usize = 3;

/// Model families.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Family {
    /// Heterogeneous GraphSAGE.
    Gnn,
    /// Boosted trees on graph features.
    Trees,
    /// Boosted trees on graph features plus the GNN's logit and embedding.
    Hybrid,
}

impl Family {
    /// Parse `gnn`, `trees` or `hybrid`.
    pub fn parse(s: &str) -> Option<Family> {
        match s {
            "gnn" => Some(Family::Gnn),
            "trees" => Some(Family::Trees),
            "hybrid" => Some(Family::Hybrid),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Family::Gnn => "gnn",
            Family::Trees => "trees",
            Family::Hybrid => "hybrid",
        }
    }
}

/// GNN settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Targets per mini-batch, each with its sampled neighbourhood (the scoring fanouts);
    /// 0 trains on the full graph at once.
    #[serde(default)]
    pub batch_size: usize,
    /// Networks trained from different seeds whose logits are averaged (1: one network).
    #[serde(default = "one_bag")]
    pub bags: usize,
}

fn one_bag() -> usize {
    1
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
            batch_size: 0,
            bags: 1,
        }
    }
}

/// Tree settings tuned for neighbourhood aggregates: shallow trees, strong column
/// subsampling (the aggregates are many and correlated), several seeds averaged.
pub fn default_tree_config() -> GbdtConfig {
    GbdtConfig {
        trees: 1000,
        learning_rate: 0.02,
        max_depth: 4,
        min_child_weight: 3.0,
        colsample: 0.3,
        subsample: 0.8,
        patience: 200,
        bags: 3,
        ..GbdtConfig::default()
    }
}

/// Everything a training run needs besides the split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSpec {
    /// Label of the classified nodes.
    pub label: String,
    /// Its 0/1 property to predict.
    pub target: String,
    /// Edge types of the projection (all when empty).
    pub edge_types: Vec<String>,
    /// Node features.
    pub features: FeatureChoice,
    /// Families to train; the best on validation is kept.
    pub families: Vec<Family>,
    /// GNN settings.
    pub gnn: ModelSettings,
    /// Tree settings.
    pub trees: GbdtConfig,
    /// Neighbours per relation and hop when scoring one entity.
    pub fanouts: Vec<usize>,
    /// Spectral coordinates for the tree model: `None` lets the data decide
    /// ([`AUTO_DIMS`] when the same-label relations carry no timestamps and the label has at
    /// most [`AUTO_MAX_NODES`] nodes, else none), `Some(0)` turns them off.
    #[serde(default)]
    pub spectral: Option<usize>,
}

impl TrainSpec {
    /// Defaults for predicting `label.target`.
    pub fn new(label: &str, target: &str) -> TrainSpec {
        TrainSpec {
            label: label.into(),
            target: target.into(),
            edge_types: Vec::new(),
            features: FeatureChoice::Auto,
            families: vec![Family::Gnn, Family::Trees, Family::Hybrid],
            gnn: ModelSettings::default(),
            trees: default_tree_config(),
            fanouts: vec![10, 10],
            spectral: None,
        }
    }
}

/// The graph, features and labels shared by every split of a run.
pub struct Prepared {
    /// Projection and static features.
    pub graph: ScoringGraph,
    /// Feature properties of the label.
    pub properties: Vec<String>,
    /// Structural features.
    pub structural: StructuralSpec,
    /// Base features of every node.
    pub base: NodeFeatures,
    /// Label per global index (`None`: unlabelled or another label).
    pub labelled: Vec<Option<bool>>,
    /// Relations whose neighbours have the same label (the tree model aggregates over them).
    pub tree_relations: Vec<usize>,
    /// Where the classified label sits in the index space.
    pub label_range: LabelRange,
    /// Spectral dimensions the tree model gets (0: none).
    pub spectral_dims: usize,
    /// Seed of the spectral coordinates.
    spectral_seed: u64,
    spectral: OnceLock<Option<SpectralTable>>,
    /// The tree inputs with spectral coordinates (`None`: without them, the plain tree inputs).
    spectral_inputs: OnceLock<Option<NodeFeatures>>,
    /// Split-independent model inputs, built on first use and shared by every split.
    gnn_features: OnceLock<(Matrix, Vec<(f32, f32)>)>,
    gnn_graphs: OnceLock<Vec<Relation>>,
    tree_inputs: OnceLock<NodeFeatures>,
    /// The last GNN trained (with its split and seed): the hybrid family reuses it.
    last_gnn: Mutex<Option<(NodeSplit, u64, Trained)>>,
}

impl Prepared {
    /// The target per global index; unlabelled nodes read as negative (splits never hold them).
    pub fn labels(&self) -> Vec<bool> {
        self.labelled.iter().map(|l| l.unwrap_or(false)).collect()
    }

    fn relation_names(&self) -> Vec<String> {
        self.graph
            .projection
            .relations
            .iter()
            .map(|r| r.name.clone())
            .collect()
    }

    /// Standardised base features and their (mean, std) per column.
    fn gnn_features(&self) -> &(Matrix, Vec<(f32, f32)>) {
        self.gnn_features.get_or_init(|| {
            let mut x = self.base.matrix.clone();
            let scale = x.standardize(&[]);
            (x, scale)
        })
    }

    /// Owned graphs for full-graph training (the projection keeps its own for scoring;
    /// sampled training reads those and never builds this copy).
    fn gnn_graphs(&self) -> &[Relation] {
        self.gnn_graphs.get_or_init(|| {
            self.graph
                .projection
                .relations
                .iter()
                .map(|r| r.relation.clone())
                .collect()
        })
    }

    /// Spectral coordinates of the label's nodes over the tree relations, when enabled.
    pub fn spectral(&self) -> Option<&SpectralTable> {
        self.spectral
            .get_or_init(|| {
                (self.spectral_dims > 0 && !self.tree_relations.is_empty()).then(|| {
                    SpectralTable::compute(
                        &self.graph.projection,
                        &self.tree_relations,
                        &self.label_range,
                        self.spectral_dims,
                        self.spectral_seed,
                    )
                })
            })
            .as_ref()
    }

    /// The tree model's inputs: [`Prepared::tree_inputs`] plus the spectral coordinates when
    /// enabled (NaN for nodes of other labels).
    pub fn spectral_tree_inputs(&self) -> &NodeFeatures {
        self.spectral_inputs
            .get_or_init(|| {
                let table = self.spectral()?;
                let all: Vec<u32> = (0..self.graph.projection.node_count as u32).collect();
                let rows = table.rows(
                    &self.graph.projection,
                    &self.tree_relations,
                    &self.label_range,
                    &all,
                );
                Some(self.tree_inputs().join(&NodeFeatures {
                    names: table.names(),
                    matrix: rows,
                }))
            })
            .as_ref()
            .unwrap_or_else(|| self.tree_inputs())
    }

    /// Base features plus neighbourhood aggregates over the tree relations.
    pub fn tree_inputs(&self) -> &NodeFeatures {
        self.tree_inputs.get_or_init(|| {
            let graphs: Vec<&Relation> = self
                .graph
                .projection
                .relations
                .iter()
                .map(|r| &r.relation)
                .collect();
            tree_inputs(
                &self.base,
                &graphs,
                &self.relation_names(),
                &self.tree_relations,
            )
        })
    }
}

/// Project, read features and labels.
pub fn prepare(snapshot: &Snapshot, spec: &TrainSpec) -> Result<Prepared> {
    let properties = match &spec.features {
        FeatureChoice::Auto => numeric_properties(snapshot, &spec.label, &[&spec.target])?,
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
    let graph = ScoringGraph::build(snapshot, &spec.label, &spec.edge_types, &properties)?;
    let structural = StructuralSpec {
        degrees: true,
        edge_aggregates: (spec.features == FeatureChoice::Auto
            && properties.len() < FEW_PROPERTIES)
            .then(|| spec.label.clone()),
        established: true,
    };
    let base = graph.base_all(&structural)?;
    let targets = property_values(snapshot, &graph.projection, &spec.label, &spec.target)?;
    let labelled = targets.iter().map(|v| v.map(|x| x != 0.0)).collect();
    let label_id = snapshot.catalog().label(&spec.label)?.id;
    let label_range = graph
        .projection
        .range(label_id)
        .cloned()
        .ok_or_else(|| Error::NotFound(format!("label {} is not projected", spec.label)))?;
    let tree_relations: Vec<usize> = graph
        .projection
        .relations
        .iter()
        .enumerate()
        .filter(|(_, r)| r.source_label == label_id && r.target_label == label_id)
        .map(|(i, _)| i)
        .collect();
    let untimed = tree_relations
        .iter()
        .flat_map(|&r| &graph.projection.relations[r].relation.times)
        .all(|&t| t == argus_extensions::NO_TIME);
    let auto = untimed && label_range.len <= AUTO_MAX_NODES;
    let spectral_dims = spec.spectral.unwrap_or(if auto { AUTO_DIMS } else { 0 });
    Ok(Prepared {
        graph,
        properties,
        structural,
        base,
        labelled,
        tree_relations,
        label_range,
        spectral_dims,
        spectral_seed: spec.gnn.seed,
        spectral: OnceLock::new(),
        spectral_inputs: OnceLock::new(),
        gnn_features: OnceLock::new(),
        gnn_graphs: OnceLock::new(),
        tree_inputs: OnceLock::new(),
        last_gnn: Mutex::new(None),
    })
}

/// One trained family on one split.
#[derive(Clone)]
pub struct Trained {
    /// The model.
    pub model: FraudModel,
    /// Validation ROC-AUC of the selected epoch or tree count.
    pub val_auc: f64,
    /// Test metrics (NaN without test nodes).
    pub test: Scores,
    /// Selected epoch (GNN) or number of trees.
    pub selected: usize,
    /// (step, training loss, validation ROC-AUC) per epoch or tree.
    pub curve: Vec<(usize, f64, f64)>,
    /// Probability per global index.
    pub scores: Vec<f32>,
}

/// What training reports while it runs.
pub enum TrainProgress<'a> {
    /// A GNN epoch.
    Epoch(&'a EpochReport),
    /// A boosting round.
    Round(&'a RoundReport),
}

/// Train `family` on `split`.
pub fn train_family(
    prepared: &Prepared,
    spec: &TrainSpec,
    family: Family,
    split: &NodeSplit,
    seed: u64,
    progress: &mut dyn FnMut(TrainProgress<'_>),
) -> Result<Trained> {
    match family {
        Family::Hybrid => train_hybrid(prepared, spec, split, seed, progress),
        Family::Gnn => {
            let trained = train_single(prepared, spec, family, split, seed, progress)?;
            *prepared.last_gnn.lock().expect("not poisoned") =
                Some((split.clone(), seed, trained.clone()));
            Ok(trained)
        }
        Family::Trees => train_single(prepared, spec, family, split, seed, progress),
    }
}

/// The hybrid: the GNN of this split and seed (reused when just trained), then trees on the
/// tree inputs plus its full-graph logit and embedding per node, stopped early on validation.
fn train_hybrid(
    prepared: &Prepared,
    spec: &TrainSpec,
    split: &NodeSplit,
    seed: u64,
    progress: &mut dyn FnMut(TrainProgress<'_>),
) -> Result<Trained> {
    let reused = prepared
        .last_gnn
        .lock()
        .expect("not poisoned")
        .as_ref()
        .filter(|(s, sd, _)| s == split && *sd == seed)
        .map(|(_, _, t)| t.clone());
    let gnn = match reused {
        Some(t) => t,
        None => train_single(prepared, spec, Family::Gnn, split, seed, progress)?,
    };
    // The hybrid's trees read the first network's logit and embedding.
    let ModelKind::Gnn { config, params, .. } = gnn.model.kind.clone() else {
        return Err(Error::Corrupt("the hybrid's GNN is not a GNN".into()));
    };
    let (x, _) = prepared.gnn_features();
    let mut sage = Sage::new(&Cpu, config.clone());
    sage.restore(&Cpu, &params);
    let (logits, embedding) =
        sage.infer(&Cpu, prepared.gnn_graphs(), x, &vec![x.rows; config.layers]);
    let trees_in = prepared.tree_inputs();
    let inputs = hybrid_tree_inputs(
        &trees_in.matrix,
        &Cpu.download(&logits),
        &Cpu.download(&embedding),
    );
    let labels = prepared.labels();
    let mut model = gnn.model;
    model.input_names = trees_in
        .names
        .iter()
        .cloned()
        .chain(hybrid_gnn_names(config.hidden))
        .collect();
    let relations = prepared.tree_relations.clone();
    Ok(fit_trees(
        &inputs,
        &labels,
        split,
        &GbdtConfig {
            seed,
            ..spec.trees.clone()
        },
        model,
        |booster| ModelKind::Hybrid {
            config,
            params,
            relations,
            booster,
        },
        progress,
    ))
}

/// Boost trees on `inputs` (stopped early on validation) and return them as the `kind` of
/// `model`, with their scores and test metrics.
fn fit_trees(
    inputs: &Matrix,
    labels: &[bool],
    split: &NodeSplit,
    config: &GbdtConfig,
    mut model: FraudModel,
    kind: impl FnOnce(Gbdt) -> ModelKind,
    progress: &mut dyn FnMut(TrainProgress<'_>),
) -> Trained {
    let out = train_gbdt(inputs, labels, &split.train, &split.val, config, &mut |r| {
        progress(TrainProgress::Round(r))
    });
    let scores = out.model.predict(inputs);
    let (test_scores, test_labels) = subset(&scores, labels, &split.test);
    let selected = out.model.trees.len();
    let curve = out
        .curve
        .iter()
        .map(|r| (r.trees, r.loss, r.val_auc))
        .collect();
    model.kind = kind(out.model);
    Trained {
        model,
        val_auc: out.val_auc,
        test: Scores::of(&test_scores, &test_labels),
        selected,
        curve,
        scores,
    }
}

/// One GNN or trees model.
fn train_single(
    prepared: &Prepared,
    spec: &TrainSpec,
    family: Family,
    split: &NodeSplit,
    seed: u64,
    progress: &mut dyn FnMut(TrainProgress<'_>),
) -> Result<Trained> {
    let p = &prepared.graph.projection;
    let labels = prepared.labels();
    let relation_names = prepared.relation_names();
    let mut edge_types = spec.edge_types.clone();
    if edge_types.is_empty() {
        edge_types = p.edge_types.iter().map(|t| t.name.clone()).collect();
    }
    let mut model = FraudModel {
        label: spec.label.clone(),
        target: spec.target.clone(),
        edge_types,
        relations: relation_names.clone(),
        properties: prepared.properties.clone(),
        structural: prepared.structural.clone(),
        base_names: prepared.base.names.clone(),
        input_names: prepared.base.names.clone(),
        scale: Vec::new(),
        fanouts: spec.fanouts.clone(),
        sample_seed: seed,
        spectral: None,
        kind: ModelKind::Trees {
            relations: Vec::new(),
            booster: Default::default(),
        },
    };
    match family {
        Family::Gnn => {
            let (x, scale) = prepared.gnn_features();
            model.scale = scale.clone();
            let relations = p.relations.len();
            let m = &spec.gnn;
            let config = SageConfig {
                input: x.cols,
                hidden: m.hidden,
                layers: m.layers,
                relations,
                aggregation: m.aggregation,
                dropout: m.dropout,
                seed,
            };
            let train = TrainConfig {
                epochs: m.epochs,
                patience: m.patience,
                adamw: AdamW {
                    lr: m.lr,
                    weight_decay: m.weight_decay,
                    ..AdamW::default()
                },
                balance_classes: true,
                seed,
            };
            let mut runs: Vec<Trained> = Vec::with_capacity(m.bags.max(1));
            let mut bagged = Vec::new();
            for bag in 0..m.bags.max(1) {
                // The first network keeps the run's seed, so one bag trains what it always did.
                let bag_seed = if bag == 0 {
                    seed
                } else {
                    mix64(seed ^ mix64(bag as u64))
                };
                let config = SageConfig {
                    seed: bag_seed,
                    ..config.clone()
                };
                let train = TrainConfig {
                    seed: bag_seed,
                    ..train.clone()
                };
                let (params, trained) = if m.batch_size > 0 {
                    let out = train_gnn_sampled(
                        prepared, spec, x, &labels, split, config, &train, progress,
                    );
                    let trained = Trained {
                        model: model.clone(),
                        val_auc: out.val_auc,
                        test: out.test,
                        selected: out.best_epoch,
                        curve: out.curve,
                        scores: out.scores,
                    };
                    (out.params, trained)
                } else {
                    let out = train_node_classifier(
                        &Cpu,
                        &NodeTask {
                            graphs: prepared.gnn_graphs(),
                            features: x,
                            labels: &labels,
                            split,
                        },
                        config,
                        &train,
                        &mut |r| progress(TrainProgress::Epoch(r)),
                    );
                    let trained = Trained {
                        model: model.clone(),
                        val_auc: out.val_auc,
                        test: out.test,
                        selected: out.best_epoch,
                        curve: out
                            .curve
                            .iter()
                            .map(|r| (r.epoch, r.loss as f64, r.val_auc))
                            .collect(),
                        scores: out.scores,
                    };
                    (out.params, trained)
                };
                bagged.push(params);
                runs.push(trained);
            }
            let params = bagged.remove(0);
            let mut trained = if runs.len() == 1 {
                runs.remove(0)
            } else {
                average_runs(runs, &labels, split)
            };
            trained.model.kind = ModelKind::Gnn {
                config,
                params,
                bagged,
            };
            Ok(trained)
        }
        Family::Hybrid => train_hybrid(prepared, spec, split, seed, progress),
        Family::Trees => {
            let x = prepared.spectral_tree_inputs();
            model.spectral = prepared.spectral().cloned();
            let config = GbdtConfig {
                seed,
                ..spec.trees.clone()
            };
            model.input_names = x.names.clone();
            let relations = prepared.tree_relations.clone();
            Ok(fit_trees(
                &x.matrix,
                &labels,
                split,
                &config,
                model,
                |booster| ModelKind::Trees { relations, booster },
                progress,
            ))
        }
    }
}

/// Several networks' runs as one: scores from the mean logit, validation and test metrics
/// recomputed on them; the curve and selected epoch are the first network's.
fn average_runs(runs: Vec<Trained>, labels: &[bool], split: &NodeSplit) -> Trained {
    let n = runs.len() as f32;
    let logit = |p: f32| {
        let p = p.clamp(1e-7, 1.0 - 1e-7);
        (p / (1.0 - p)).ln()
    };
    let mut mean = vec![0.0f32; runs[0].scores.len()];
    for run in &runs {
        for (m, &p) in mean.iter_mut().zip(&run.scores) {
            *m += logit(p) / n;
        }
    }
    let scores: Vec<f32> = mean.iter().map(|&l| 1.0 / (1.0 + (-l).exp())).collect();
    let (val_scores, val_labels) = subset(&scores, labels, &split.val);
    let (test_scores, test_labels) = subset(&scores, labels, &split.test);
    let mut first = runs.into_iter().next().expect("at least one run");
    first.val_auc = roc_auc(&val_scores, &val_labels).unwrap_or(f64::NAN);
    first.test = Scores::of(&test_scores, &test_labels);
    first.scores = scores;
    first
}

/// The no-graph baseline: trees on the label's own properties only (a constant column when it
/// has none), the same split and selection.
pub fn train_baseline(
    prepared: &Prepared,
    spec: &TrainSpec,
    split: &NodeSplit,
    seed: u64,
) -> Scores {
    let labels = prepared.labels();
    let own = prepared.properties.len();
    let n = prepared.base.matrix.rows;
    let x = if own == 0 {
        Matrix::filled(n, 1, 1.0)
    } else {
        let mut m = Matrix::zeros(n, own);
        for i in 0..n {
            m.row_mut(i)
                .copy_from_slice(&prepared.base.matrix.row(i)[..own]);
        }
        m
    };
    let config = GbdtConfig {
        seed,
        ..spec.trees.clone()
    };
    let out = train_gbdt(&x, &labels, &split.train, &split.val, &config, &mut |_| {});
    let scores = out.model.predict(&x);
    let (test_scores, test_labels) = subset(&scores, &labels, &split.test);
    Scores::of(&test_scores, &test_labels)
}

/// Where `train` takes its train/val/test parts from.
#[derive(Clone, Debug, PartialEq)]
pub enum SplitSource {
    /// One column of a splits file (`id,split_0,...`).
    File {
        /// The file.
        path: std::path::PathBuf,
        /// Column name (the first split column when `None`).
        column: Option<String>,
    },
    /// A seeded 70/15/15 draw of the labelled nodes.
    Random {
        /// Seed.
        seed: u64,
    },
}

/// A registered training run.
pub struct TrainRun {
    /// The registered version (the better family on validation).
    pub version: ModelVersion,
    /// Every family tried: (family, validation ROC-AUC, test metrics).
    pub tried: Vec<(Family, f64, Scores)>,
    /// The kept family's curve: (step, loss, validation ROC-AUC).
    pub curve: Vec<(usize, f64, f64)>,
    /// The kept family's test (score, label) pairs.
    pub test_scores: Vec<(f32, bool)>,
    /// Test metrics of the no-graph baseline, where the run trains one (transactions).
    pub baseline: Option<Scores>,
}

/// Train every family of `spec` on one split, keep the best on validation and register it
/// under `name` (deployed when it is the first version or `deploy` is set).
pub fn train_model(
    db: &Database,
    name: &str,
    spec: &TrainSpec,
    source: &SplitSource,
    deploy: bool,
    progress: &mut dyn FnMut(Family, TrainProgress<'_>),
) -> Result<TrainRun> {
    if spec.families.is_empty() {
        return Err(Error::InvalidArgument("no model family to train".into()));
    }
    let snapshot = db.snapshot();
    let catalog = snapshot.catalog();
    if catalog.label(&spec.label).is_err() && catalog.edge_type(&spec.label).is_ok() {
        return train_transactions(db, name, spec, deploy, &snapshot, progress);
    }
    let prepared = prepare(&snapshot, spec)?;
    let (split, described) = match source {
        SplitSource::File { path, column } => {
            let splits = read_splits(
                path,
                &snapshot,
                &prepared.graph.projection,
                &spec.label,
                &prepared.labelled,
            )?;
            let at = match column {
                Some(c) => splits.names.iter().position(|n| n == c).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "{} has no split column {c:?} (columns: {})",
                        path.display(),
                        splits.names.join(", ")
                    ))
                })?,
                None => 0,
            };
            (
                splits.parts[at].clone(),
                format!("{}:{}", path.display(), splits.names[at]),
            )
        }
        SplitSource::Random { seed } => {
            // Stratified: each class is cut 70/15/15 on its own, so a rare positive class still
            // reaches validation and test.
            let mut split = NodeSplit::default();
            for class in [true, false] {
                let mut members: Vec<u32> = (0..prepared.labelled.len() as u32)
                    .filter(|&i| prepared.labelled[i as usize] == Some(class))
                    .collect();
                members.sort_by_key(|&i| mix64(seed ^ u64::from(i)));
                let n = members.len();
                let (train_end, val_end) = (n * 70 / 100, n * 85 / 100);
                split.train.extend(&members[..train_end]);
                split.val.extend(&members[train_end..val_end]);
                split.test.extend(&members[val_end..]);
            }
            for part in [&mut split.train, &mut split.val, &mut split.test] {
                part.sort_unstable();
            }
            let has_both = |part: &[u32]| {
                let positives = part
                    .iter()
                    .filter(|&&i| prepared.labelled[i as usize] == Some(true))
                    .count();
                positives > 0 && positives < part.len()
            };
            if !has_both(&split.train) || !has_both(&split.val) {
                return Err(Error::InvalidArgument(format!(
                    "{}.{} needs labelled nodes of both classes in training and validation \
                     (at least 7 of each)",
                    spec.label, spec.target
                )));
            }
            (split, format!("random 70/15/15, seed {seed}"))
        }
    };
    let labels = prepared.labels();
    let seed = spec.gnn.seed;
    let mut best: Option<(Trained, (f64, f64, f64))> = None;
    let mut tried = Vec::new();
    for &family in &spec.families {
        let trained = train_family(&prepared, spec, family, &split, seed, &mut |p| {
            progress(family, p)
        })?;
        tried.push((family, trained.val_auc, trained.test));
        // Validation ROC-AUC decides; PR-AUC, then log-loss break ties (small validation parts
        // often rank perfectly with more than one family).
        let (s, l) = subset(&trained.scores, &labels, &split.val);
        let val_pr = argus_extensions::ml::metrics::pr_auc(&s, &l).unwrap_or(f64::NAN);
        let val_log_loss = s
            .iter()
            .zip(&l)
            .map(|(&p, &y)| {
                let p = f64::from(p).clamp(1e-7, 1.0 - 1e-7);
                -if y { p.ln() } else { (1.0 - p).ln() }
            })
            .sum::<f64>()
            / s.len().max(1) as f64;
        let key = (trained.val_auc, val_pr, -val_log_loss);
        if best.as_ref().is_none_or(|(_, b)| key > *b) {
            best = Some((trained, key));
        }
    }
    let (best, _) = best.expect("at least one family");
    let p = &prepared.graph.projection;
    let version = ModelVersion {
        name: name.to_string(),
        version: 0,
        created_at: now_micros(),
        spec: spec.clone(),
        val_auc: best.val_auc,
        test: best.test,
        trained_on: TrainedOn {
            generation: snapshot.generation(),
            nodes: p.node_count,
            messages: p.relations.iter().map(|r| r.relation.edge_count()).sum(),
            newest_edge: (p.newest != i64::MIN).then_some(p.newest),
            split: described,
            parts: [split.train.len(), split.val.len(), split.test.len()],
        },
        model: best.model,
    };
    let number = db.register_model(version.clone(), deploy)?;
    Ok(TrainRun {
        version: ModelVersion {
            version: number,
            ..version
        },
        tried,
        curve: best.curve,
        test_scores: split
            .test
            .iter()
            .map(|&i| (best.scores[i as usize], labels[i as usize]))
            .collect(),
        baseline: None,
    })
}

/// `train_model` for an edge type: a transaction model on its labelled edges, split by time.
fn train_transactions(
    db: &Database,
    name: &str,
    spec: &TrainSpec,
    deploy: bool,
    snapshot: &Snapshot,
    progress: &mut dyn FnMut(Family, TrainProgress<'_>),
) -> Result<TrainRun> {
    let mut curve = Vec::new();
    let run = crate::transactions::train_transaction_model(
        snapshot,
        &spec.label,
        &spec.target,
        &spec.trees,
        &mut |r| {
            curve.push((r.trees, r.loss, r.val_auc));
            progress(Family::Trees, TrainProgress::Round(r))
        },
    )?;
    let version = ModelVersion {
        name: name.to_string(),
        version: 0,
        created_at: now_micros(),
        spec: spec.clone(),
        val_auc: run.val_auc,
        test: run.test,
        trained_on: TrainedOn {
            generation: snapshot.generation(),
            nodes: 0,
            messages: run.parts.iter().sum(),
            newest_edge: None,
            split: "by time: oldest 70 % train, next 15 % validation, newest 15 % test".into(),
            parts: run.parts,
        },
        model: FraudModel {
            label: spec.label.clone(),
            target: spec.target.clone(),
            edge_types: Vec::new(),
            relations: run.model.relations.clone(),
            properties: run.model.edge_properties.clone(),
            structural: StructuralSpec {
                degrees: true,
                edge_aggregates: None,
                established: false,
            },
            base_names: Vec::new(),
            input_names: run.model.input_names.clone(),
            scale: Vec::new(),
            fanouts: Vec::new(),
            sample_seed: 0,
            spectral: None,
            kind: ModelKind::Transaction(Box::new(run.model)),
        },
    };
    let number = db.register_model(version.clone(), deploy)?;
    Ok(TrainRun {
        version: ModelVersion {
            version: number,
            ..version
        },
        tried: vec![(Family::Trees, run.val_auc, run.test)],
        curve,
        test_scores: Vec::new(),
        baseline: Some(run.baseline),
    })
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// What sampled training returns.
struct SampledOutcome {
    params: Vec<Matrix>,
    val_auc: f64,
    test: Scores,
    best_epoch: usize,
    curve: Vec<(usize, f64, f64)>,
    scores: Vec<f32>,
}

/// Scores of `nodes` from sampled blocks (the serving computation), in batches.
fn sampled_scores(
    sage: &Sage<Cpu>,
    projection: &crate::projection::Projection,
    x: &Matrix,
    nodes: &[u32],
    fanouts: &[usize],
    seed: u64,
    batch: usize,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(nodes.len());
    for chunk in nodes.chunks(batch.max(1)) {
        let targets: Vec<(u32, Option<i64>)> = chunk.iter().map(|&i| (i, None)).collect();
        let block = sample_block(projection, &targets, fanouts, seed, &|_, _| false);
        let inputs = x.select_rows(&block.nodes);
        let (logits, _) = sage.forward(&Cpu, &block.relations, &inputs, false, 0);
        out.extend(
            logits.data[..chunk.len()]
                .iter()
                .map(|&z| 1.0 / (1.0 + (-z).exp())),
        );
    }
    out
}

/// Mini-batch GNN training: each batch of training targets is scored on its sampled
/// neighbourhood (the same fanouts and as-of rules as serving), so memory grows with the batch,
/// not the graph. Validation scores come from the serving computation too.
#[allow(clippy::too_many_arguments)]
fn train_gnn_sampled(
    prepared: &Prepared,
    spec: &TrainSpec,
    x: &Matrix,
    labels: &[bool],
    split: &NodeSplit,
    config: SageConfig,
    train: &TrainConfig,
    progress: &mut dyn FnMut(TrainProgress<'_>),
) -> SampledOutcome {
    let projection = &prepared.graph.projection;
    let fanouts: Vec<usize> = (0..config.layers)
        .map(|h| spec.fanouts.get(h).copied().unwrap_or(10))
        .collect();
    let batch = spec.gnn.batch_size;
    let positives = split.train.iter().filter(|&&i| labels[i as usize]).count();
    let pos_weight = if train.balance_classes && positives > 0 {
        (split.train.len() - positives) as f32 / positives as f32
    } else {
        1.0
    };
    let serving_seed = train.seed;
    let mut sage = Sage::new(&Cpu, config);
    let mut order = split.train.clone();
    let mut best: Option<(usize, f64, Vec<Matrix>)> = None;
    let mut stopping = EarlyStopping::new(train.patience);
    let mut curve = Vec::new();
    for epoch in 1..=train.epochs {
        let epoch_seed = mix64(train.seed ^ mix64(epoch as u64));
        order.sort_by_key(|&i| mix64(epoch_seed ^ u64::from(i)));
        let (mut loss_sum, mut batches) = (0.0f64, 0usize);
        for (b, chunk) in order.chunks(batch).enumerate() {
            let targets: Vec<(u32, Option<i64>)> = chunk.iter().map(|&i| (i, None)).collect();
            let seed = mix64(epoch_seed ^ mix64(b as u64 + 1));
            let block = sample_block(projection, &targets, &fanouts, seed, &|_, _| false);
            let inputs = x.select_rows(&block.nodes);
            let n = block.nodes.len();
            let mut target = Matrix::zeros(n, 1);
            let mut weight = Matrix::zeros(n, 1);
            for (k, &i) in chunk.iter().enumerate() {
                let positive = labels[i as usize];
                target.data[k] = if positive { 1.0 } else { 0.0 };
                weight.data[k] = if positive { pos_weight } else { 1.0 };
            }
            let (logits, cache) = sage.forward(&Cpu, &block.relations, &inputs, true, seed);
            let (loss, dlogits) = Cpu.bce_with_logits(&logits, &target, &weight);
            sage.backward(&Cpu, &block.relations, &cache, &dlogits);
            sage.update(&Cpu, &train.adamw);
            loss_sum += f64::from(loss);
            batches += 1;
        }
        let val = sampled_scores(
            &sage,
            projection,
            x,
            &split.val,
            &fanouts,
            serving_seed,
            4096,
        );
        let val_labels: Vec<bool> = split.val.iter().map(|&i| labels[i as usize]).collect();
        let val_auc = roc_auc(&val, &val_labels).unwrap_or(f64::NAN);
        let report = EpochReport {
            epoch,
            loss: (loss_sum / batches.max(1) as f64) as f32,
            val_auc,
        };
        progress(TrainProgress::Epoch(&report));
        curve.push((epoch, f64::from(report.loss), val_auc));
        let step = stopping.observe(epoch, val_auc);
        if step.keep {
            best = Some((epoch, val_auc, sage.snapshot(&Cpu)));
        }
        if step.stop {
            break;
        }
    }
    let (best_epoch, val_auc, params) = best.expect("at least one epoch");
    sage.restore(&Cpu, &params);
    let mut scores = vec![0.0f32; labels.len()];
    let scored: Vec<u32> = split
        .train
        .iter()
        .chain(&split.val)
        .chain(&split.test)
        .copied()
        .collect();
    for (&i, s) in scored.iter().zip(sampled_scores(
        &sage,
        projection,
        x,
        &scored,
        &fanouts,
        serving_seed,
        512,
    )) {
        scores[i as usize] = s;
    }
    let (test_scores, test_labels) = subset(&scores, labels, &split.test);
    SampledOutcome {
        params,
        val_auc,
        test: Scores::of(&test_scores, &test_labels),
        best_epoch,
        curve,
        scores,
    }
}
