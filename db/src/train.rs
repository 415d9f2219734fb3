//! Training fraud models on one split of a label's nodes: the GNN on the full projection, the
//! boosted trees on base plus neighbourhood features, or both with the better one on
//! validation kept. `eval` calls this once per split column; `train` once, then registers the
//! result.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use argus_engine::{Error, Result, Snapshot};
use argus_extensions::ml::backend::Backend;
use argus_extensions::ml::backend::{AdamW, Aggregation};
use argus_extensions::ml::cpu::mix64;
use argus_extensions::ml::device::{Device, DeviceTask};
use argus_extensions::ml::gbdt::{train_gbdt, Gbdt, GbdtConfig, RoundReport};
use argus_extensions::ml::matrix::Matrix;
use argus_extensions::ml::metrics::{roc_auc, Scores};
use argus_extensions::ml::relation::Relation;
use argus_extensions::ml::sage::{Sage, SageConfig};
use argus_extensions::ml::train::{
    subset, train_node_classifier, EarlyStopping, EpochReport, NodeSplit, NodeTask, TrainConfig,
    TrainOutcome,
};

use crate::eval::read_splits;
use crate::features::{numeric_properties, property_values, NodeFeatures, StructuralSpec};
use crate::model::{tree_inputs, FraudModel, ModelKind, ScoringGraph};
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
}

impl Family {
    /// Parse `gnn` or `trees`.
    pub fn parse(s: &str) -> Option<Family> {
        match s {
            "gnn" => Some(Family::Gnn),
            "trees" => Some(Family::Trees),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Family::Gnn => "gnn",
            Family::Trees => "trees",
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
    /// Targets per mini-batch, each with its bounded neighbourhood (the one serving reads);
    /// 0 trains on the full graph at once.
    #[serde(default)]
    pub batch_size: usize,
    /// Networks trained from different seeds whose logits are averaged (1: one network).
    #[serde(default = "one_bag")]
    pub bags: usize,
    /// An epoch tying the best validation ROC-AUC replaces the kept network (the last epoch of
    /// a plateau is kept); off, the first best epoch is kept.
    #[serde(default = "later")]
    pub ties_keep_later: bool,
}

fn later() -> bool {
    true
}

fn one_bag() -> usize {
    1
}

impl Default for ModelSettings {
    fn default() -> Self {
        ModelSettings {
            hidden: 64,
            layers: 2,
            dropout: 0.5,
            aggregation: Aggregation::Mean,
            epochs: 500,
            patience: 100,
            lr: 3e-3,
            weight_decay: 1e-4,
            seed: 0,
            batch_size: 0,
            bags: 1,
            ties_keep_later: true,
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

/// Default of [`TrainSpec::neighbours`], chosen on validation (`docs/ml.md`).
pub const DEFAULT_NEIGHBOURS: usize = 10;

/// Structural feature groups an ablation can leave out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FeatureGroup {
    /// Consensus deviation of edge properties.
    Consensus,
    /// What the most established senders sent.
    Established,
}

impl FeatureGroup {
    /// Parse `consensus` or `established`.
    pub fn parse(s: &str) -> Option<FeatureGroup> {
        match s {
            "consensus" => Some(FeatureGroup::Consensus),
            "established" => Some(FeatureGroup::Established),
            _ => None,
        }
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
    /// Newest messages per relation each node aggregates, in every hop: the same bounded
    /// neighbourhood in training, evaluation and serving.
    pub neighbours: usize,
    /// Properties withheld from the features besides the store's label properties
    /// ([`crate::labels`]): `property` of the label, or `owner.property`.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Feature groups left out (`consensus`, `established`), for ablations.
    #[serde(default)]
    pub without: Vec<FeatureGroup>,
    /// Spectral coordinates for the tree model: `None` lets the data decide
    /// ([`AUTO_DIMS`] when the same-label relations carry no timestamps and the label has at
    /// most [`AUTO_MAX_NODES`] nodes, else none), `Some(0)` turns them off.
    #[serde(default)]
    pub spectral: Option<usize>,
    /// Where the GNN trains and scores (a run's choice, not stored with the model).
    #[serde(skip)]
    pub device: Device,
}

impl TrainSpec {
    /// Defaults for predicting `label.target`.
    pub fn new(label: &str, target: &str) -> TrainSpec {
        TrainSpec {
            label: label.into(),
            target: target.into(),
            edge_types: Vec::new(),
            features: FeatureChoice::Auto,
            families: vec![Family::Gnn, Family::Trees],
            gnn: ModelSettings::default(),
            trees: default_tree_config(),
            neighbours: DEFAULT_NEIGHBOURS,
            exclude: Vec::new(),
            without: Vec::new(),
            spectral: None,
            device: Device::Cpu,
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
    /// Newest messages per relation each node aggregates.
    neighbours: usize,
    /// The projection's relations bounded to [`Prepared::neighbours`] messages per target:
    /// what the models aggregate over.
    bounded: Vec<Relation>,
    spectral: OnceLock<Option<SpectralTable>>,
    /// The tree inputs with spectral coordinates (`None`: without them, the plain tree inputs).
    spectral_inputs: OnceLock<Option<NodeFeatures>>,
    /// Split-independent model inputs, built on first use and shared by every split.
    gnn_features: OnceLock<(Matrix, Vec<(f32, f32)>)>,
    tree_inputs: OnceLock<NodeFeatures>,
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

    /// The relations the models aggregate over: each target's newest messages only.
    pub fn bounded_relations(&self) -> &[Relation] {
        &self.bounded
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
            let graphs: Vec<&Relation> = self.bounded.iter().collect();
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
    if spec.neighbours == 0 {
        return Err(Error::InvalidArgument(
            "neighbours per relation must be at least 1".into(),
        ));
    }
    let withheld = crate::labels::withheld(snapshot, &spec.label, &spec.target, &spec.exclude)?;
    let properties = match &spec.features {
        FeatureChoice::Auto => {
            let skip = withheld.of(&spec.label);
            let skip: Vec<&str> = skip.iter().map(String::as_str).collect();
            numeric_properties(snapshot, &spec.label, &skip)?
        }
        FeatureChoice::Properties(p) => {
            if let Some(x) = p.iter().find(|x| withheld.contains(&spec.label, x)) {
                return Err(Error::InvalidArgument(format!(
                    "the feature list contains {}.{x}, which is the target, a declared label \
                     property, the target of a registered model or excluded",
                    spec.label
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
        established: !spec.without.contains(&FeatureGroup::Established),
        consensus: !spec.without.contains(&FeatureGroup::Consensus),
        withheld: withheld.edge_properties(snapshot),
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
    let bounded = graph
        .projection
        .relations
        .iter()
        .map(|r| r.relation.newest(spec.neighbours))
        .collect();
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
        neighbours: spec.neighbours,
        bounded,
        spectral: OnceLock::new(),
        spectral_inputs: OnceLock::new(),
        gnn_features: OnceLock::new(),
        tree_inputs: OnceLock::new(),
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
    train_single(prepared, spec, family, split, seed, progress)
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
        neighbours: prepared.neighbours,
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
                ties_keep_later: m.ties_keep_later,
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
                    let out = spec.device.run(SampledTraining {
                        prepared,
                        spec,
                        x,
                        labels: &labels,
                        split,
                        config,
                        train: &train,
                        progress: &mut *progress,
                    });
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
                    let out = spec.device.run(FullBatchTraining {
                        relations: prepared.bounded_relations(),
                        features: x,
                        labels: &labels,
                        split,
                        config,
                        train: &train,
                        progress: &mut |r| progress(TrainProgress::Epoch(r)),
                    });
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
/// has none), the same split and selection. Returns its validation ROC-AUC and test metrics.
pub fn train_baseline(
    prepared: &Prepared,
    spec: &TrainSpec,
    split: &NodeSplit,
    seed: u64,
) -> (f64, Scores) {
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
    (out.val_auc, Scores::of(&test_scores, &test_labels))
}

/// A validation metric as a selection key: NaN (a validation part of one class) never wins.
pub fn selection_key(metric: f64) -> f64 {
    if metric.is_nan() {
        f64::NEG_INFINITY
    } else {
        metric
    }
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
    /// The keys of the test nodes, in `test_scores` order: serving any of them from the
    /// registered model gives the same score (`db/tests/serving.rs` checks it).
    pub test_keys: Vec<String>,
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
        let key = (
            selection_key(trained.val_auc),
            selection_key(val_pr),
            selection_key(-val_log_loss),
        );
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
        test_keys: split
            .test
            .iter()
            .map(|&i| node_key(&snapshot, p, i))
            .collect::<Result<_>>()?,
        baseline: None,
    })
}

/// The key of the node at global index `index`.
fn node_key(
    snapshot: &Snapshot,
    projection: &crate::projection::Projection,
    index: u32,
) -> Result<String> {
    let (label, id) = projection
        .node_at(index as usize)
        .ok_or_else(|| Error::Corrupt(format!("index {index} is outside the projection")))?;
    snapshot
        .node_key(label, id)?
        .ok_or_else(|| Error::Corrupt(format!("node {id} of label {label} has no key")))
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
        &spec.exclude,
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
                consensus: false,
                withheld: Vec::new(),
            },
            base_names: Vec::new(),
            input_names: run.model.input_names.clone(),
            scale: Vec::new(),
            neighbours: 0,
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
        test_keys: Vec::new(),
        baseline: Some(run.baseline),
    })
}

pub(crate) fn now_micros() -> i64 {
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

/// Full-batch GNN training on the run's device: the graph and features go to the device once.
struct FullBatchTraining<'a> {
    relations: &'a [Relation],
    features: &'a Matrix,
    labels: &'a [bool],
    split: &'a NodeSplit,
    config: SageConfig,
    train: &'a TrainConfig,
    progress: &'a mut dyn FnMut(&EpochReport),
}

impl DeviceTask for FullBatchTraining<'_> {
    type Output = TrainOutcome;

    fn run<B: Backend>(self, backend: &B) -> TrainOutcome {
        let FullBatchTraining {
            relations,
            features,
            labels,
            split,
            config,
            train,
            progress,
        } = self;
        backend.with_graphs(relations, |graphs| {
            let task = NodeTask {
                graphs,
                features,
                labels,
                split,
            };
            train_node_classifier(backend, &task, config, train, progress)
        })
    }
}

/// Mini-batch GNN training ([`train_gnn_sampled`]) on the run's device.
struct SampledTraining<'a> {
    prepared: &'a Prepared,
    spec: &'a TrainSpec,
    x: &'a Matrix,
    labels: &'a [bool],
    split: &'a NodeSplit,
    config: SageConfig,
    train: &'a TrainConfig,
    progress: &'a mut dyn FnMut(TrainProgress<'_>),
}

impl DeviceTask for SampledTraining<'_> {
    type Output = SampledOutcome;

    fn run<B: Backend>(self, backend: &B) -> SampledOutcome {
        train_gnn_sampled(
            backend,
            self.prepared,
            self.spec,
            self.x,
            self.labels,
            self.split,
            self.config,
            self.train,
            self.progress,
        )
    }
}

/// Scores of `nodes` from their blocks (the serving computation), in batches.
fn sampled_scores<B: Backend>(
    backend: &B,
    sage: &Sage<B>,
    projection: &crate::projection::Projection,
    x: &Matrix,
    nodes: &[u32],
    neighbours: usize,
    batch: usize,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(nodes.len());
    for chunk in nodes.chunks(batch.max(1)) {
        let targets: Vec<(u32, Option<i64>)> = chunk.iter().map(|&i| (i, None)).collect();
        let layers = sage.config.layers;
        let block = sample_block(projection, &targets, layers, neighbours, &|_, _| false);
        // One upload per batch: the block's graph and inputs, then the whole forward on the device.
        let inputs = backend.upload(&x.select_rows(&block.nodes));
        let logits = backend.with_graphs(&block.relations, |graphs| {
            let (logits, _) = sage.forward(backend, graphs, &inputs, false, 0);
            backend.download(&logits)
        });
        out.extend(
            logits.data[..chunk.len()]
                .iter()
                .map(|&z| 1.0 / (1.0 + (-z).exp())),
        );
    }
    out
}

/// Mini-batch GNN training: each batch of training targets is scored on its bounded
/// neighbourhood (the same one as serving), so memory grows with the batch, not the graph.
/// Validation scores come from the serving computation too.
#[allow(clippy::too_many_arguments)]
fn train_gnn_sampled<B: Backend>(
    backend: &B,
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
    let (layers, neighbours) = (config.layers, prepared.neighbours);
    let batch = spec.gnn.batch_size;
    let positives = split.train.iter().filter(|&&i| labels[i as usize]).count();
    let pos_weight = if train.balance_classes && positives > 0 {
        (split.train.len() - positives) as f32 / positives as f32
    } else {
        1.0
    };
    let mut sage = Sage::new(backend, config);
    let mut order = split.train.clone();
    let mut best: Option<(usize, f64, Vec<Matrix>)> = None;
    let mut stopping = EarlyStopping::new(train.patience).ties_keep_later(train.ties_keep_later);
    let mut curve = Vec::new();
    for epoch in 1..=train.epochs {
        let epoch_seed = mix64(train.seed ^ mix64(epoch as u64));
        order.sort_by_key(|&i| mix64(epoch_seed ^ u64::from(i)));
        let (mut loss_sum, mut batches) = (0.0f64, 0usize);
        for (b, chunk) in order.chunks(batch).enumerate() {
            let targets: Vec<(u32, Option<i64>)> = chunk.iter().map(|&i| (i, None)).collect();
            let seed = mix64(epoch_seed ^ mix64(b as u64 + 1));
            let block = sample_block(projection, &targets, layers, neighbours, &|_, _| false);
            let inputs = backend.upload(&x.select_rows(&block.nodes));
            let n = block.nodes.len();
            let mut target = Matrix::zeros(n, 1);
            let mut weight = Matrix::zeros(n, 1);
            for (k, &i) in chunk.iter().enumerate() {
                let positive = labels[i as usize];
                target.data[k] = if positive { 1.0 } else { 0.0 };
                weight.data[k] = if positive { pos_weight } else { 1.0 };
            }
            let (target, weight) = (backend.upload(&target), backend.upload(&weight));
            let loss = backend.with_graphs(&block.relations, |graphs| {
                let (logits, cache) = sage.forward(backend, graphs, &inputs, true, seed);
                let (loss, dlogits) = backend.bce_with_logits(&logits, &target, &weight);
                sage.backward(backend, graphs, &cache, &dlogits);
                loss
            });
            sage.update(backend, &train.adamw);
            loss_sum += f64::from(loss);
            batches += 1;
        }
        let val = sampled_scores(backend, &sage, projection, x, &split.val, neighbours, 4096);
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
            best = Some((epoch, val_auc, sage.snapshot(backend)));
        }
        if step.stop {
            break;
        }
    }
    let (best_epoch, val_auc, params) = best.expect("at least one epoch");
    sage.restore(backend, &params);
    let mut scores = vec![0.0f32; labels.len()];
    let scored: Vec<u32> = split
        .train
        .iter()
        .chain(&split.val)
        .chain(&split.test)
        .copied()
        .collect();
    for (&i, s) in scored.iter().zip(sampled_scores(
        backend, &sage, projection, x, &scored, neighbours, 512,
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

#[cfg(test)]
mod tests {
    use super::selection_key;

    #[test]
    fn a_nan_validation_metric_never_wins_selection() {
        // The keys `train` compares: a family with an undefined validation ROC-AUC loses to any
        // defined one, even to a worse-than-chance one with worse tie-breakers.
        let undefined = (
            selection_key(f64::NAN),
            selection_key(1.0),
            selection_key(-0.1),
        );
        let poor = (selection_key(0.2), selection_key(0.01), selection_key(-5.0));
        assert!(poor > undefined);
        assert!(selection_key(f64::NAN) < selection_key(0.0));
        assert_eq!(selection_key(0.75), 0.75);
    }
}
