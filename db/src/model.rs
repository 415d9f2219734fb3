//! Fraud models over a label of the stored graph: what a model is (its feature definition and
//! parameters, serialisable so the registry can keep it in the database), how it is trained on
//! a full projection, and how it scores entities from sampled, as-of neighbourhoods.
//!
//! Two families: the heterogeneous GraphSAGE network ([`ModelKind::Gnn`]) and gradient-boosted
//! trees over the node's own and its neighbourhood's features ([`ModelKind::Trees`]). Both read
//! the same base features per node: the label's numeric properties, a one-hot of the label when
//! several share the graph, and structural features computed as of a time
//! ([`StructuralSpec`]). Both aggregate over each node's newest [`FraudModel::neighbours`]
//! messages per relation, in training and in serving: scoring takes those neighbourhoods among
//! edges no newer than the as-of time, computes every node's base features as of that time and
//! runs the model on that small block, which for the training snapshot reproduces the score
//! that evaluation computed.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use argus_engine::{Error, Result, Snapshot};
use std::any::Any;
use std::sync::OnceLock;

use argus_extensions::ml::backend::Backend;
use argus_extensions::ml::cpu::Cpu;
use argus_extensions::ml::device::{Device, DeviceTask};
use argus_extensions::ml::gbdt::Gbdt;
use argus_extensions::ml::matrix::Matrix;
use argus_extensions::ml::relation::Relation;
use argus_extensions::ml::sage::{Sage, SageConfig};

use crate::features::{
    label_indicators, neighbourhood_features, neighbourhood_matrix, property_features,
    Neighbourhoods, NodeFeatures, Structural, StructuralSpec,
};
use crate::projection::{project, LabelRange, Projection};
use crate::sampling::{sample_block, Block};
use crate::spectral::SpectralTable;

/// The learned part of a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ModelKind {
    /// Heterogeneous GraphSAGE on standardised base features.
    Gnn {
        /// Shape.
        config: SageConfig,
        /// Parameters, in [`Sage::snapshot`] order.
        params: Vec<Matrix>,
        /// Parameters of further networks of the same shape trained from other seeds: the
        /// score averages all networks' logits; the embedding is the first network's.
        #[serde(default)]
        bagged: Vec<Vec<Matrix>>,
    },
    /// Boosted trees on base features plus neighbourhood aggregates over some relations.
    Trees {
        /// Projection relations whose neighbourhoods are aggregated.
        relations: Vec<usize>,
        /// The trees.
        booster: Gbdt,
    },
    /// A transaction model (the model's `label` is then the edge type it scores).
    Transaction(Box<crate::transactions::TransactionModel>),
}

impl ModelKind {
    /// `gnn`, `trees` or `transaction`.
    pub fn family(&self) -> &'static str {
        match self {
            ModelKind::Gnn { .. } => "gnn",
            ModelKind::Trees { .. } => "trees",
            ModelKind::Transaction(_) => "transaction",
        }
    }
}

/// A trained model with everything needed to score from a later snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FraudModel {
    /// Label of the scored nodes.
    pub label: String,
    /// The 0/1 property it predicts.
    pub target: String,
    /// Edge types of the projection (all when empty at training time, recorded explicitly).
    pub edge_types: Vec<String>,
    /// Relation names of the projection, in order (checked when scoring).
    pub relations: Vec<String>,
    /// Numeric properties of `label` used as features.
    pub properties: Vec<String>,
    /// Structural features.
    pub structural: StructuralSpec,
    /// Names of the base feature columns.
    pub base_names: Vec<String>,
    /// Names of the model's input columns (base, or base plus neighbourhood for trees).
    pub input_names: Vec<String>,
    /// (mean, std) per base column, fitted on the training projection (GNN input scaling).
    pub scale: Vec<(f32, f32)>,
    /// Newest messages per relation each node aggregates (in every hop), in training and in
    /// serving alike.
    pub neighbours: usize,
    /// Spectral coordinates the tree model reads after its neighbourhood inputs (tree models
    /// only; see [`crate::spectral`]).
    #[serde(default)]
    pub spectral: Option<SpectralTable>,
    /// The learned part.
    pub kind: ModelKind,
}

/// A projection and the base features that do not depend on time, ready to score from.
pub struct ScoringGraph {
    /// The projection.
    pub projection: Projection,
    /// Properties and label indicators, by global index.
    pub static_features: NodeFeatures,
}

impl ScoringGraph {
    /// Project `edge_types` and read the static features of `label`.
    pub fn build(
        snapshot: &Snapshot,
        label: &str,
        edge_types: &[String],
        properties: &[String],
    ) -> Result<ScoringGraph> {
        let projection = project(snapshot, edge_types, &[label.to_string()])?;
        let mut static_features = property_features(snapshot, &projection, label, properties)?;
        if projection.labels.len() > 1 {
            static_features = static_features.join(&label_indicators(&projection));
        }
        Ok(ScoringGraph {
            projection,
            static_features,
        })
    }

    /// Base features of `nodes` (global indexes), each as of its time.
    pub fn base(
        &self,
        spec: &StructuralSpec,
        nodes: &[u32],
        as_of: &[Option<i64>],
    ) -> Result<Matrix> {
        let structural = Structural::new(&self.projection, spec)?;
        let width = self.static_features.matrix.cols + structural.width();
        let mut data = Vec::with_capacity(nodes.len() * width);
        for (&node, &t) in nodes.iter().zip(as_of) {
            data.extend_from_slice(self.static_features.matrix.row(node as usize));
            structural.node_into(node as usize, t, &mut data);
        }
        Ok(Matrix::from_vec(nodes.len(), width, data))
    }

    /// Base features of every node (all edges), with names.
    pub fn base_all(&self, spec: &StructuralSpec) -> Result<NodeFeatures> {
        let structural = Structural::new(&self.projection, spec)?;
        Ok(self.static_features.join(&structural.all(None)))
    }

    /// The global index of `label`'s node `key`.
    pub fn index_of_key(&self, snapshot: &Snapshot, label: &str, key: &str) -> Result<u32> {
        let label_id = snapshot.catalog().label(label)?.id;
        let id = snapshot
            .node_id_in(label_id, key)?
            .ok_or_else(|| Error::NotFound(format!("no {label} node with key {key:?}")))?;
        self.projection
            .index_of(label_id, id)
            .map(|i| i as u32)
            .ok_or_else(|| Error::NotFound(format!("{label} {key} is outside the projection")))
    }
}

/// The edge types behind relation names (`pays>` and `pays<` are both `pays`; an undirected
/// relation is named after its edge type), in order, once each.
pub fn relation_edge_types(relations: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in relations {
        let t = r.strip_suffix(['>', '<']).unwrap_or(r);
        if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    out
}

/// A model scores only the graph shape it was trained on: the same relations, in order.
pub fn check_relations(projection: &Projection, expected: &[String]) -> Result<()> {
    let names: Vec<&str> = projection
        .relations
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    if names
        .iter()
        .copied()
        .ne(expected.iter().map(String::as_str))
    {
        return Err(Error::InvalidArgument(format!(
            "the graph's relations {names:?} differ from the model's {expected:?}"
        )));
    }
    Ok(())
}

/// Scale columns by fitted (mean, std).
pub fn apply_scale(x: &mut Matrix, scale: &[(f32, f32)]) {
    for i in 0..x.rows {
        for (v, &(mean, std)) in x.row_mut(i).iter_mut().zip(scale) {
            *v = if std > 0.0 { (*v - mean) / std } else { 0.0 };
        }
    }
}

/// Neighbourhood inputs of the tree model: base plus aggregates over `relations` of `graphs`.
pub fn tree_inputs(
    base: &NodeFeatures,
    graphs: &[&Relation],
    relation_names: &[String],
    relations: &[usize],
) -> NodeFeatures {
    let chosen: Vec<&Relation> = relations.iter().map(|&r| graphs[r]).collect();
    let names: Vec<String> = relations
        .iter()
        .map(|&r| relation_names[r].clone())
        .collect();
    base.join(&neighbourhood_features(&chosen, &names, base))
}

/// The values of [`tree_inputs`] for the first `rows` nodes alone: scoring has the names in the
/// model, and scores only a block's targets.
fn tree_input_matrix(base: &Matrix, chosen: &[&Relation], rows: usize) -> Matrix {
    Cpu.head_rows(base, rows)
        .hconcat(&neighbourhood_matrix(chosen, base, rows))
}

/// One scored entity.
#[derive(Clone, Debug, PartialEq)]
pub struct Scored {
    /// Probability of the positive class.
    pub score: f32,
    /// Logit.
    pub logit: f32,
}

impl Scored {
    /// The probability of `logit`.
    pub fn from_logit(logit: f32) -> Scored {
        Scored {
            score: 1.0 / (1.0 + (-logit).exp()),
            logit,
        }
    }
}

impl FraudModel {
    /// Where the model's label sits in `graph`'s index space.
    pub(crate) fn label_range<'g>(&self, graph: &'g ScoringGraph) -> Result<&'g LabelRange> {
        graph
            .projection
            .labels
            .iter()
            .find(|r| r.name == self.label)
            .ok_or_else(|| Error::NotFound(format!("label {} is not in the graph", self.label)))
    }

    /// Check that `graph` has the relations the model was trained on.
    pub fn check_graph(&self, graph: &ScoringGraph) -> Result<()> {
        check_relations(&graph.projection, &self.relations)
    }

    /// The block of `targets` (global index, as-of time).
    pub fn block(
        &self,
        graph: &ScoringGraph,
        targets: &[(u32, Option<i64>)],
        skip: &dyn Fn(usize, usize) -> bool,
    ) -> Block {
        let hops = match &self.kind {
            ModelKind::Gnn { config, .. } => config.layers,
            ModelKind::Trees { .. } => 2,
            ModelKind::Transaction(_) => 0,
        };
        sample_block(&graph.projection, targets, hops, self.neighbours, skip)
    }

    /// Model inputs of a block's targets (tree models) or of all its nodes (GNN, scaled).
    pub fn inputs(&self, graph: &ScoringGraph, block: &Block) -> Result<Matrix> {
        if let ModelKind::Transaction(_) = self.kind {
            return Err(Error::InvalidArgument(
                "a transaction model scores transactions, not nodes".into(),
            ));
        }
        let base = graph.base(&self.structural, &block.nodes, &block.as_of)?;
        Ok(match &self.kind {
            ModelKind::Gnn { .. } => {
                let mut x = base;
                apply_scale(&mut x, &self.scale);
                x
            }
            ModelKind::Trees { relations, .. } => {
                let chosen: Vec<&Relation> =
                    relations.iter().map(|&r| &block.relations[r]).collect();
                let inputs = tree_input_matrix(&base, &chosen, block.targets);
                match &self.spectral {
                    Some(table) => {
                        let range = self.label_range(graph)?;
                        let rows = table.rows(
                            &graph.projection,
                            relations,
                            range,
                            &block.nodes[..block.targets],
                        );
                        inputs.hconcat(&rows)
                    }
                    None => inputs,
                }
            }
            ModelKind::Transaction(_) => Matrix::default(),
        })
    }
}

/// A model ready to score on a device: its networks are built there once, on first use, not
/// per call.
pub struct LoadedModel {
    /// The stored model.
    pub model: FraudModel,
    device: Device,
    /// `Vec<Sage<B>>` for the device's backend `B` (the model's network, then the further
    /// networks of a bagged GNN).
    networks: OnceLock<Box<dyn Any + Send + Sync>>,
}

impl LoadedModel {
    /// Load the model to score on the CPU.
    pub fn new(model: FraudModel) -> LoadedModel {
        LoadedModel::on(model, Device::Cpu)
    }

    /// Load the model to score on `device`.
    pub fn on(model: FraudModel, device: Device) -> LoadedModel {
        LoadedModel {
            model,
            device,
            networks: OnceLock::new(),
        }
    }

    /// The GNN's networks on `backend`, built on first use.
    fn networks<B: Backend>(&self, backend: &B) -> &[Sage<B>] {
        let built = self.networks.get_or_init(|| {
            let networks: Vec<Sage<B>> = match &self.model.kind {
                ModelKind::Gnn {
                    config,
                    params,
                    bagged,
                } => std::iter::once(params)
                    .chain(bagged)
                    .map(|params| {
                        let mut sage = Sage::new(backend, config.clone());
                        sage.restore(backend, params);
                        sage
                    })
                    .collect(),
                ModelKind::Trees { .. } | ModelKind::Transaction(_) => Vec::new(),
            };
            Box::new(networks)
        });
        built
            .downcast_ref::<Vec<Sage<B>>>()
            .expect("a loaded model runs on one device")
    }

    /// Scores (and, for the GNN, embeddings) of a block's targets from its inputs.
    pub fn run(&self, block: &Block, inputs: &Matrix) -> (Vec<Scored>, Option<Matrix>) {
        let scored = |logits: Vec<f32>| logits.into_iter().map(Scored::from_logit).collect();
        match &self.model.kind {
            ModelKind::Gnn { .. } => {
                let (logits, embedding) = self.gnn_targets(block, inputs);
                (scored(logits.data), Some(embedding))
            }
            ModelKind::Trees { booster, .. } => {
                let logits = (0..inputs.rows)
                    .map(|i| booster.logit(inputs.row(i)))
                    .collect();
                (scored(logits), None)
            }
            ModelKind::Transaction(_) => (Vec::new(), None),
        }
    }

    /// The GNN's logits and embeddings of a block's targets from scaled inputs.
    fn gnn_targets(&self, block: &Block, scaled: &Matrix) -> (Matrix, Matrix) {
        // Layer l is needed only for the hops that later layers still read.
        let layers = self.gnn_layers();
        let active: Vec<usize> = (0..layers)
            .map(|l| block.hop_ends[(layers - 1 - l).min(block.hop_ends.len() - 1)])
            .collect();
        let (logits, embedding) = self.device.run(GnnInference {
            loaded: self,
            relations: &block.relations,
            active: &active,
            scaled,
            embeddings: true,
        });
        (logits, embedding.expect("embeddings were asked for"))
    }

    fn gnn_layers(&self) -> usize {
        match &self.model.kind {
            ModelKind::Gnn { config, .. } => config.layers,
            ModelKind::Trees { .. } | ModelKind::Transaction(_) => 0,
        }
    }

    /// Every node of the model's label scored as of the graph's newest state (no as-of time),
    /// in one pass over the whole graph: each node aggregates over its newest messages per
    /// relation, exactly the neighbourhood a block gives it, so the scores equal those of
    /// [`LoadedModel::score`] (the way training's full-graph evaluation reproduces them). On a
    /// GPU the graph and inputs move to the device once. Ordered by node id (`Scored` of a hole
    /// in the ids is that of a node without edges or properties).
    pub fn score_label(&self, graph: &ScoringGraph) -> Result<Vec<Scored>> {
        self.model.check_graph(graph)?;
        let range = self.model.label_range(graph)?.clone();
        let model = &self.model;
        let bounded = |r: usize| {
            graph.projection.relations[r]
                .relation
                .newest(model.neighbours)
        };
        // The GNN's last layer is computed for the rows up to the label's end only.
        let rows = range.offset + range.len;
        let logits: Vec<f32> = match &model.kind {
            ModelKind::Gnn { .. } => {
                let relations: Vec<Relation> =
                    (0..graph.projection.relations.len()).map(bounded).collect();
                let mut x = graph.base_all(&model.structural)?.matrix;
                apply_scale(&mut x, &model.scale);
                let mut active = vec![x.rows; self.gnn_layers()];
                if let Some(last) = active.last_mut() {
                    *last = rows;
                }
                let (logits, _) = self.device.run(GnnInference {
                    loaded: self,
                    relations: &relations,
                    active: &active,
                    scaled: &x,
                    embeddings: false,
                });
                logits.data[range.offset..rows].to_vec()
            }
            ModelKind::Trees { relations, booster } => {
                let base = graph.base_all(&model.structural)?.matrix;
                let bounded: Vec<Relation> = relations.iter().map(|&r| bounded(r)).collect();
                let chosen: Vec<&Relation> = bounded.iter().collect();
                let stats = Neighbourhoods::new(&chosen, &base);
                let nodes: Vec<u32> = (range.offset as u32..rows as u32).collect();
                let spectral = model
                    .spectral
                    .as_ref()
                    .map(|table| table.rows(&graph.projection, relations, &range, &nodes));
                // Row by row: the inputs of every node at once would be a matrix of nodes ×
                // base columns × (1 + 6 per relation) values (1.8 GB for the 500,000 users of
                // the 5 M-payment graph).
                let width = base.cols + stats.width();
                nodes
                    .par_iter()
                    .enumerate()
                    .map_init(Vec::new, |row, (i, &node)| {
                        row.clear();
                        row.extend_from_slice(base.row(node as usize));
                        row.resize(width, 0.0);
                        stats.row_into(node as usize, &mut row[base.cols..]);
                        if let Some(spectral) = &spectral {
                            row.extend_from_slice(spectral.row(i));
                        }
                        booster.logit(row)
                    })
                    .collect()
            }
            ModelKind::Transaction(_) => {
                return Err(Error::InvalidArgument(
                    "a transaction model scores transactions, not nodes".into(),
                ))
            }
        };
        Ok(logits.into_iter().map(Scored::from_logit).collect())
    }

    /// Estimated cost of scoring the targets of `block` from it, in rows of a block: every
    /// row is sampled, gets its base features and goes through the model's first layers.
    pub fn block_work(&self, block: &Block) -> f64 {
        block.nodes.len() as f64
    }

    /// Estimated cost of [`LoadedModel::score_label`] over `graph`, in
    /// [`LoadedModel::block_work`]'s unit.
    pub fn label_work(&self, graph: &ScoringGraph) -> f64 {
        PASS_ROW_COST * graph.projection.node_count as f64
    }

    /// Estimated peak memory of [`LoadedModel::score_label`] over `graph`, in bytes: every
    /// node's base features, plus for the GNN its input and about four layer-wide matrices
    /// (hidden columns each), and the bounded relations (a source and a position per kept
    /// message, both ways). A scan of the 5 M-payment graph (2.2 M nodes, hidden 64) in a
    /// fresh process peaked at 5.0–5.7 GB in all.
    pub fn label_pass_bytes(&self, graph: &ScoringGraph) -> usize {
        let nodes = graph.projection.node_count;
        let base = self.model.base_names.len();
        let per_node = match &self.model.kind {
            ModelKind::Gnn { config, .. } => base + config.input + 4 * config.hidden,
            ModelKind::Trees { relations, .. } => base * (1 + relations.len()),
            ModelKind::Transaction(_) => 0,
        };
        let messages: usize = graph
            .projection
            .relations
            .iter()
            .map(|r| r.relation.edge_count().min(nodes * self.model.neighbours))
            .sum();
        4 * nodes * per_node + 16 * messages
    }

    /// Score `targets` (global index, as-of time) as one vectorised batch.
    pub fn score(
        &self,
        graph: &ScoringGraph,
        targets: &[(u32, Option<i64>)],
    ) -> Result<(Vec<Scored>, Option<Matrix>)> {
        self.model.check_graph(graph)?;
        let prepare = |targets: &[(u32, Option<i64>)]| -> Result<(Block, Matrix)> {
            let block = self.model.block(graph, targets, &|_, _| false);
            let inputs = self.model.inputs(graph, &block)?;
            Ok((block, inputs))
        };
        let work = |targets: &[(u32, Option<i64>)]| {
            let (block, inputs) = prepare(targets)?;
            Ok(self.run(&block, &inputs))
        };
        // A few entities are too little work to share: waking other threads would cost more
        // than the work and make the latency tail long.
        if targets.len() <= SMALL_BATCH {
            return single_thread().install(|| work(targets));
        }
        // A block holds a neighbourhood tree per target, so a batch scores the same in chunks:
        // memory then follows the chunk, not the batch (a 10,000-key block of trees' inputs
        // spent most of its time having the kernel zero fresh pages), and CPU chunks run side
        // by side. A GPU takes larger chunks, one at a time (the trees run on the CPU).
        let parts: Vec<(Vec<Scored>, Option<Matrix>)> =
            if self.device.is_gpu() && matches!(self.model.kind, ModelKind::Gnn { .. }) {
                // The blocks and their inputs are made on the CPU, a wave of chunks side by side;
                // then the GPU runs them one at a time.
                let wave = GPU_CHUNK * rayon::current_num_threads().max(1);
                let mut parts = Vec::with_capacity(targets.len().div_ceil(GPU_CHUNK));
                for wave in targets.chunks(wave) {
                    let prepared: Vec<(Block, Matrix)> = wave
                        .par_chunks(GPU_CHUNK)
                        .map(prepare)
                        .collect::<Result<_>>()?;
                    parts.extend(
                        prepared
                            .iter()
                            .map(|(block, inputs)| self.run(block, inputs)),
                    );
                }
                parts
            } else {
                targets
                    .par_chunks(CPU_CHUNK)
                    .map(work)
                    .collect::<Result<_>>()?
            };
        let mut scores = Vec::with_capacity(targets.len());
        let mut embeddings: Option<Matrix> = None;
        for (part_scores, part_embedding) in parts {
            scores.extend(part_scores);
            if let Some(part) = part_embedding {
                let all = embeddings.get_or_insert_with(|| Matrix::zeros(0, part.cols));
                all.data.extend_from_slice(&part.data);
                all.rows += part.rows;
            }
        }
        Ok((scores, embeddings))
    }
}

/// Graphs and inputs through a loaded GNN on the model's device: they move to the device once,
/// every layer runs there, and the logits (and embeddings, when asked) of the first
/// `active[last]` rows come back. Layer `l` is computed for the first `active[l]` rows.
struct GnnInference<'a> {
    loaded: &'a LoadedModel,
    relations: &'a [Relation],
    active: &'a [usize],
    scaled: &'a Matrix,
    embeddings: bool,
}

impl DeviceTask for GnnInference<'_> {
    type Output = (Matrix, Option<Matrix>);

    fn run<B: Backend>(self, backend: &B) -> (Matrix, Option<Matrix>) {
        let networks = self.loaded.networks(backend);
        let (sage, bagged) = networks
            .split_first()
            .expect("a GNN model is loaded with its network");
        let x = backend.upload(self.scaled);
        backend.with_graphs(self.relations, |graphs| {
            let (logits, embedding) = sage.infer(backend, graphs, &x, self.active);
            let mut logits = backend.download(&logits);
            if !bagged.is_empty() {
                for other in bagged {
                    let (more, _) = other.infer(backend, graphs, &x, self.active);
                    let more = backend.download(&more);
                    logits
                        .data
                        .iter_mut()
                        .zip(&more.data)
                        .for_each(|(a, b)| *a += b);
                }
                let n = (bagged.len() + 1) as f32;
                logits.data.iter_mut().for_each(|a| *a /= n);
            }
            (
                logits,
                self.embeddings.then(|| backend.download(&embedding)),
            )
        })
    }
}

/// Cost of a node in the pass over the whole graph against a row of a block. On the CPU both
/// are dominated by per-row work (base features, gathering neighbours, memory), not by the
/// layers' multiply-adds; the pass also bounds every relation, computes every node of every
/// label, and touches gigabytes of fresh memory. Measured with `score_bench --every-user` and
/// `fraud_score` over every user in SQL on the 5 M-payment graph (2.2 M nodes): 1.8–1.9 where
/// the process already holds the memory, 2.4–4 in a fresh process, where the first touch of
/// that memory dominates; 3 sits between.
const PASS_ROW_COST: f64 = 3.0;

/// Up to this many targets are scored on the calling thread alone.
pub(crate) const SMALL_BATCH: usize = 16;

/// Targets per block when a large batch is scored on the CPU.
const CPU_CHUNK: usize = 256;

/// Targets per block when a large batch is scored on a GPU.
const GPU_CHUNK: usize = 4096;

fn single_thread() -> &'static rayon::ThreadPool {
    static POOL: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("a one-thread pool")
    })
}
