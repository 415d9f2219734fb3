//! Serving registered models: a [`Scorer`] holds a loaded model and the in-memory projection it
//! scores from, rebuilt when the store has committed since (so a score never reads a stale
//! graph). Scores come in vectorised batches of keys, one entity at a time, or with an
//! explanation: the features and the neighbours (with the edges to them) that moved the score.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;
use serde::Serialize;

use argus_engine::time::format_micros;
use argus_engine::{Error, Result, Snapshot};
use argus_extensions::ml::gbdt::Gbdt;

use crate::model::{LoadedModel, ModelKind, Scored, ScoringGraph, SMALL_BATCH};
use crate::registry::{resolve_version, ModelVersion, Shelf};
use crate::sampling::Parent;
use crate::transactions::{TransactionInput, TransactionScorer};
use crate::{Database, Device};

/// A model ready to score, with its graph.
pub struct Scorer {
    /// The registry entry.
    pub version: ModelVersion,
    loaded: LoadedModel,
    graph: ScoringGraph,
    /// Global index of the label's node id 0.
    label_offset: usize,
    /// Every node's score at the newest state, once a pass over the whole graph has paid for
    /// itself (see [`Scorer::score_keys`]).
    label_scores: OnceLock<Vec<Scored>>,
    /// Estimated work spent on blocks by batches at the newest state so far; held while the
    /// pass over the whole graph runs, so that concurrent batches wait for it instead of
    /// repeating it.
    block_work: Mutex<f64>,
}

/// Loaded scorers by (name, version), each with the commit generation it was built at.
#[derive(Default)]
pub struct ScorerCache {
    nodes: Mutex<Scorers<Scorer>>,
    transactions: Mutex<Scorers<TransactionScorer>>,
    /// The deployed version of each name, with the commit generation it was read at.
    deployed: Mutex<HashMap<String, (u64, u32)>>,
    /// Loaded recommenders.
    pub(crate) recommenders: crate::recommend::serve::RecommenderCache,
}

type Scorers<T> = HashMap<(String, u32), (u64, Arc<T>)>;

/// The deployed version of `name`, read from the registry once per commit generation (every
/// deployment is a commit): the deployment record can share a table block with a large model,
/// and reading it on every call cost milliseconds of decompression.
fn deployed_version(db: &Database, snapshot: &Snapshot, name: &str) -> Result<u32> {
    let generation = snapshot.generation();
    let mut known = db.scorers().deployed.lock().expect("deployment cache");
    if let Some(&(read_at, version)) = known.get(name) {
        if read_at == generation {
            return Ok(version);
        }
    }
    let version = resolve_version(snapshot, Shelf::Fraud, name, None)?;
    known.insert(name.to_string(), (generation, version));
    Ok(version)
}

/// The cached scorer of `name` (deployed version unless `version`) when it was built at the
/// current generation; else `build` it from the registry entry and cache it. A hit reads
/// nothing from the store.
fn cached<T>(
    db: &Database,
    cache: &Mutex<Scorers<T>>,
    name: &str,
    version: Option<u32>,
    build: impl FnOnce(ModelVersion, &Snapshot) -> Result<T>,
) -> Result<Arc<T>> {
    let snapshot = db.snapshot();
    let version = match version {
        Some(v) => v,
        None => deployed_version(db, &snapshot, name)?,
    };
    let key = (name.to_string(), version);
    if let Some((generation, s)) = cache.lock().expect("scorer cache").get(&key) {
        if *generation == snapshot.generation() {
            return Ok(s.clone());
        }
    }
    let scorer = Arc::new(build(db.model(name, Some(key.1))?, &snapshot)?);
    cache
        .lock()
        .expect("scorer cache")
        .insert(key, (snapshot.generation(), scorer.clone()));
    Ok(scorer)
}

/// Whether `bytes` fit in half the memory the kernel reports available (`MemAvailable`);
/// `true` where it reports none (not Linux).
fn fits_in_memory(bytes: usize) -> bool {
    let available = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("MemAvailable:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<usize>()
                        .ok()
                })
        });
    available.is_none_or(|kib| bytes / 1024 <= kib / 2)
}

/// Targets whose blocks estimate a batch's work.
const WORK_SAMPLE: usize = 64;

/// How much a feature moved a score.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FeatureEffect {
    /// Feature name.
    pub feature: String,
    /// Its value for the entity.
    pub value: f32,
    /// Change of the logit it accounts for (trees: path attribution; GNN: the logit minus
    /// the logit with the feature at its training mean).
    pub contribution: f32,
}

/// How much a neighbour (and the edge to it) moved a score.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NeighbourEffect {
    /// Relation the message came along (`type`, `type>` or `type<`).
    pub relation: String,
    /// Neighbour's label.
    pub label: String,
    /// Neighbour's key.
    pub key: String,
    /// The edge's time, if it has one.
    pub edge_time: Option<String>,
    /// The edge's numeric properties.
    pub edge_properties: Vec<(String, f32)>,
    /// Score minus the score without this edge (positive: it raised the risk).
    pub contribution: f32,
}

/// A score and its evidence.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// Model name and version.
    pub model: String,
    /// The scored entity, `label:key`.
    pub entity: String,
    /// As-of time used, if any.
    pub as_of: Option<String>,
    /// Probability.
    pub score: f32,
    /// The most influential features, strongest first.
    pub features: Vec<FeatureEffect>,
    /// The sampled neighbours, strongest effect first.
    pub neighbours: Vec<NeighbourEffect>,
}

/// How many features an explanation lists.
const EXPLAINED_FEATURES: usize = 10;

impl Database {
    /// The scorer of `name` (its deployed version unless `version`), loading the model and
    /// building its graph when not cached for the current commit generation.
    pub fn scorer(&self, name: &str, version: Option<u32>) -> Result<Arc<Scorer>> {
        let device = self.device()?;
        cached(self, &self.scorers().nodes, name, version, |v, snapshot| {
            Scorer::on(v, snapshot, device.clone())
        })
    }
}

impl Database {
    /// The transaction scorer of `name` (deployed version unless `version`), cached per commit
    /// generation like [`Database::scorer`].
    pub fn transaction_scorer(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<Arc<TransactionScorer>> {
        cached(
            self,
            &self.scorers().transactions,
            name,
            version,
            |entry, snapshot| {
                let ModelKind::Transaction(model) = entry.model.kind else {
                    return Err(Error::InvalidArgument(format!(
                        "model {name} scores {} nodes, not transactions",
                        entry.model.label
                    )));
                };
                TransactionScorer::new(*model, snapshot)
            },
        )
    }

    /// Score a transaction that may not be stored yet with model `name`.
    pub fn score_transaction(&self, name: &str, input: &TransactionInput) -> Result<f32> {
        self.transaction_scorer(name, None)?
            .score(&self.snapshot(), input)
    }
}

impl Scorer {
    /// Load `version` over `snapshot`.
    pub fn new(version: ModelVersion, snapshot: &Snapshot) -> Result<Scorer> {
        Scorer::on(version, snapshot, Device::Cpu)
    }

    /// Load `version` over `snapshot`, to score on `device`.
    pub fn on(version: ModelVersion, snapshot: &Snapshot, device: Device) -> Result<Scorer> {
        let m = &version.model;
        if let ModelKind::Transaction(_) = m.kind {
            return Err(Error::InvalidArgument(format!(
                "model {} scores {} transactions, not nodes",
                version.name, m.label
            )));
        }
        let graph = ScoringGraph::build(snapshot, &m.label, &m.edge_types, &m.properties)?;
        m.check_graph(&graph)?;
        let label_offset = m.label_range(&graph)?.offset;
        Ok(Scorer {
            loaded: LoadedModel::on(version.model.clone(), device),
            version,
            graph,
            label_offset,
            label_scores: OnceLock::new(),
            block_work: Mutex::new(0.0),
        })
    }

    /// The label whose nodes it scores.
    pub fn label(&self) -> &str {
        &self.version.model.label
    }

    fn index(&self, snapshot: &Snapshot, key: &str) -> Result<u32> {
        self.graph.index_of_key(snapshot, self.label(), key)
    }

    /// Score the nodes with `keys` as of `as_of` (every edge when `None`) in one batch; keys
    /// that do not exist give `None`.
    ///
    /// A batch is scored from the blocks of its keys, or, at the newest state, from one pass
    /// over the whole graph that scores every node of the label and is kept for later batches
    /// of this scorer. The pass is made once the blocks that this batch and the earlier ones
    /// at the newest state need would cost as much as the pass (estimated from a sample of
    /// the batch's blocks): a scan over every key in many batches, as SQL and Postgres make
    /// it, then costs at most about twice the cheaper of the two ways, and a few scattered
    /// batches never pay for the whole graph. Batches of up to 16 keys (and single keys) always
    /// read their blocks, so their latency never includes the pass.
    pub fn score_keys(
        &self,
        snapshot: &Snapshot,
        keys: &[&str],
        as_of: Option<i64>,
    ) -> Result<Vec<Option<f32>>> {
        let mut targets = Vec::with_capacity(keys.len());
        let mut slots = Vec::with_capacity(keys.len());
        for key in keys {
            match self.index(snapshot, key) {
                Ok(i) => {
                    slots.push(Some(targets.len()));
                    targets.push((i, as_of));
                }
                Err(Error::NotFound(_)) => slots.push(None),
                Err(e) => return Err(e),
            }
        }
        if as_of.is_none() && targets.len() > SMALL_BATCH {
            if let Some(all) = self.whole_graph_scores(&targets)? {
                let score = |t: usize| all[targets[t].0 as usize - self.label_offset].score;
                return Ok(slots.into_iter().map(|s| s.map(score)).collect());
            }
        }
        let (scores, _) = self.loaded.score(&self.graph, &targets)?;
        Ok(slots
            .into_iter()
            .map(|s| s.map(|i| scores[i].score))
            .collect())
    }

    /// Whether a pass over the whole graph has scored every node at the newest state (later
    /// batches at that state read from it).
    pub fn has_whole_graph_scores(&self) -> bool {
        self.label_scores.get().is_some()
    }

    /// The scores of the whole graph's pass when it exists or when `targets` make it pay
    /// (see [`Scorer::score_keys`]); `None` when the blocks are cheaper so far.
    fn whole_graph_scores(&self, targets: &[(u32, Option<i64>)]) -> Result<Option<&[Scored]>> {
        if let Some(all) = self.label_scores.get() {
            return Ok(Some(all));
        }
        let step = targets.len().div_ceil(WORK_SAMPLE);
        let sample: Vec<(u32, Option<i64>)> = targets.iter().step_by(step).copied().collect();
        let block = self.loaded.model.block(&self.graph, &sample, &|_, _| false);
        let estimate = self.loaded.block_work(&block) * targets.len() as f64 / sample.len() as f64;
        let mut spent = self.block_work.lock().expect("block work");
        if let Some(all) = self.label_scores.get() {
            return Ok(Some(all));
        }
        // Blocks need memory for a chunk; the pass for the whole graph, which on a graph too
        // large for the memory left would end the process instead of answering.
        if *spent + estimate < self.loaded.label_work(&self.graph)
            || !fits_in_memory(self.loaded.label_pass_bytes(&self.graph))
        {
            *spent += estimate;
            return Ok(None);
        }
        let all = self.loaded.score_label(&self.graph)?;
        Ok(Some(self.label_scores.get_or_init(|| all)))
    }

    /// One entity's score.
    pub fn score(&self, snapshot: &Snapshot, key: &str, as_of: Option<i64>) -> Result<Scored> {
        let i = self.index(snapshot, key)?;
        let (mut scores, _) = self.loaded.score(&self.graph, &[(i, as_of)])?;
        Ok(scores.remove(0))
    }

    /// One entity's embedding (GNN models).
    pub fn embedding(
        &self,
        snapshot: &Snapshot,
        key: &str,
        as_of: Option<i64>,
    ) -> Result<Vec<f32>> {
        let i = self.index(snapshot, key)?;
        match self.loaded.score(&self.graph, &[(i, as_of)])? {
            (_, Some(e)) => Ok(e.row(0).to_vec()),
            (_, None) => Err(Error::InvalidArgument(format!(
                "model {} is a {} model and has no embeddings",
                self.version.name,
                self.version.model.kind.family()
            ))),
        }
    }

    /// A score with the features and neighbours that drove it.
    pub fn explain(
        &self,
        snapshot: &Snapshot,
        key: &str,
        as_of: Option<i64>,
    ) -> Result<Explanation> {
        let model = &self.version.model;
        let i = self.index(snapshot, key)?;
        let targets = [(i, as_of)];
        let block = model.block(&self.graph, &targets, &|_, _| false);
        let inputs = model.inputs(&self.graph, &block)?;
        let (scored, _) = self.loaded.run(&block, &inputs);
        let score = scored[0].score;

        // Trees: each input's path attribution.
        let attributions = |booster: &Gbdt, row: &[f32]| -> Vec<FeatureEffect> {
            booster
                .contributions(row)
                .into_iter()
                .enumerate()
                .map(|(j, c)| FeatureEffect {
                    feature: model.input_names[j].clone(),
                    value: row[j],
                    contribution: c,
                })
                .collect()
        };
        let mut features: Vec<FeatureEffect> = match &model.kind {
            ModelKind::Trees { booster, .. } => attributions(booster, inputs.row(0)),
            ModelKind::Transaction(_) => Vec::new(),
            ModelKind::Gnn { .. } => {
                // Occlusion: the target's feature set to its training mean (0 once scaled).
                let raw =
                    self.graph
                        .base(&model.structural, &block.nodes[..1], &block.as_of[..1])?;
                // One forward pass per feature: side by side on the pool's threads.
                (0..inputs.cols)
                    .into_par_iter()
                    .map(|j| {
                        let mut x = inputs.clone();
                        x.row_mut(0)[j] = 0.0;
                        let (s, _) = self.loaded.run(&block, &x);
                        FeatureEffect {
                            feature: model.input_names[j].clone(),
                            value: raw.row(0)[j],
                            contribution: scored[0].logit - s[0].logit,
                        }
                    })
                    .collect()
            }
        };
        features.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()));
        features.truncate(EXPLAINED_FEATURES);

        // Each first-hop neighbour: the score without the edge that brought it in.
        let catalog = snapshot.catalog();
        let first_hop: Vec<Parent> = block
            .parent
            .iter()
            .flatten()
            .filter(|p| p.node == 0)
            .copied()
            .collect();
        let scores_without: Vec<f32> = first_hop
            .par_iter()
            .map(|parent| {
                let (r, m) = (parent.relation, parent.message);
                let without = model.block(&self.graph, &targets, &|rr, mm| rr == r && mm == m);
                let x = model.inputs(&self.graph, &without)?;
                Ok(self.loaded.run(&without, &x).0[0].score)
            })
            .collect::<Result<_>>()?;
        let mut neighbours = Vec::new();
        for (parent, score_without) in first_hop.iter().zip(scores_without) {
            let (r, m) = (parent.relation, parent.message);
            let rel = &self.graph.projection.relations[r];
            let source = rel.relation.sources[m] as usize;
            let (label_id, id) = self
                .graph
                .projection
                .node_at(source)
                .ok_or_else(|| Error::Corrupt("sampled node outside the projection".into()))?;
            let edge = rel.relation.edge_ids[m] as usize;
            let time = rel.relation.times[m];
            neighbours.push(NeighbourEffect {
                relation: rel.name.clone(),
                label: catalog.label_by_id(label_id)?.name.clone(),
                key: snapshot.node_key(label_id, id)?.unwrap_or_default(),
                edge_time: (time != i64::MIN).then(|| format_micros(time)),
                edge_properties: self.graph.projection.edge_types[rel.edge_type]
                    .numeric
                    .iter()
                    .map(|(name, values)| (name.clone(), values[edge]))
                    .collect(),
                contribution: score - score_without,
            });
        }
        neighbours.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()));
        Ok(Explanation {
            model: format!("{} v{}", self.version.name, self.version.version),
            entity: format!("{}:{key}", self.label()),
            as_of: as_of.map(format_micros),
            score,
            features,
            neighbours,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_pass_is_refused_memory_the_machine_does_not_have() {
        assert!(super::fits_in_memory(0));
        if std::path::Path::new("/proc/meminfo").exists() {
            assert!(!super::fits_in_memory(usize::MAX / 2));
        }
    }
}
