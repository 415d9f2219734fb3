//! Transaction (edge) scoring: the risk of a payment from its own numeric properties and its
//! two endpoints' features as of just before it — usable at authorisation time, before the
//! payment is stored. Training reads the labelled stored edges of one type and computes every
//! example's features as of one microsecond before its own time, so no example sees itself or
//! anything later; the split is by time (oldest 70 % train, next 15 % validation, newest 15 %
//! test), as a deployed model meets the future.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use argus_engine::catalog::PropType;
use argus_engine::{Error, Result, Snapshot};
use argus_extensions::ml::gbdt::{train_gbdt, Gbdt, GbdtConfig, RoundReport};
use argus_extensions::ml::matrix::Matrix;
use argus_extensions::ml::metrics::Scores;

use crate::features::{
    numeric_properties, property_features, NodeFeatures, Structural, StructuralSpec,
};
use crate::projection::{project, Projection};

/// A trained transaction model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransactionModel {
    /// Scored edge type.
    pub edge_type: String,
    /// Its 0/1 property the model predicts.
    pub target: String,
    /// Source and destination labels.
    pub labels: [String; 2],
    /// Numeric properties of each endpoint label used as features.
    pub endpoint_properties: [Vec<String>; 2],
    /// Numeric edge properties used as features (the target and other labels excluded).
    pub edge_properties: Vec<String>,
    /// Edge properties (`edge_type.property`) never aggregated into the endpoints' features:
    /// the target and every other label property ([`crate::labels`]).
    #[serde(default)]
    pub withheld: Vec<String>,
    /// Relation names of the projection (all edge types), checked when scoring.
    pub relations: Vec<String>,
    /// Input column names.
    pub input_names: Vec<String>,
    /// The trees.
    pub booster: Gbdt,
}

/// A transaction to score (not necessarily stored).
#[derive(Clone, Debug, PartialEq)]
pub struct TransactionInput {
    /// Source node key.
    pub src: String,
    /// Destination node key.
    pub dst: String,
    /// When it happens (microseconds since the epoch).
    pub time: i64,
    /// Numeric edge properties by name (missing ones are treated as missing values).
    pub properties: Vec<(String, f64)>,
}

/// The graph a transaction model scores from.
pub struct TransactionGraph {
    /// The model's edge types.
    pub projection: Projection,
    /// Static features of source and destination labels, by global index.
    statics: [NodeFeatures; 2],
    specs: [StructuralSpec; 2],
}

impl TransactionGraph {
    /// Project `edge_types` (every edge type when empty, as in training) and read the endpoint
    /// labels' properties.
    pub fn build(
        snapshot: &Snapshot,
        edge_types: &[String],
        labels: &[String; 2],
        properties: &[Vec<String>; 2],
        withheld: &[String],
    ) -> Result<Self> {
        let projection = project(snapshot, edge_types, labels)?;
        let statics = [
            property_features(snapshot, &projection, &labels[0], &properties[0])?,
            property_features(snapshot, &projection, &labels[1], &properties[1])?,
        ];
        let specs = [0, 1].map(|e| StructuralSpec {
            degrees: true,
            edge_aggregates: Some(labels[e].clone()),
            established: true,
            consensus: true,
            withheld: withheld.to_vec(),
        });
        Ok(TransactionGraph {
            projection,
            statics,
            specs,
        })
    }

    fn names(&self, edge_properties: &[String]) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for (e, side) in ["src", "dst"].iter().enumerate() {
            let structural = Structural::new(&self.projection, &self.specs[e])?;
            for n in self.statics[e].names.iter().chain(&structural.names()) {
                names.push(format!("{side}.{n}"));
            }
        }
        names.extend(edge_properties.iter().map(|p| format!("edge.{p}")));
        Ok(names)
    }

    /// The input row of a transaction between global indexes `src` and `dst` at `time`.
    fn row(
        &self,
        src: usize,
        dst: usize,
        time: i64,
        edge: &[f32],
        out: &mut Vec<f32>,
    ) -> Result<()> {
        // Everything strictly before the transaction.
        let as_of = Some(time - 1);
        for (e, node) in [src, dst].into_iter().enumerate() {
            out.extend_from_slice(self.statics[e].matrix.row(node));
            Structural::new(&self.projection, &self.specs[e])?.node_into(node, as_of, out);
        }
        out.extend_from_slice(edge);
        Ok(())
    }
}

/// One training run's results.
pub struct TransactionRun {
    /// The model.
    pub model: TransactionModel,
    /// Validation ROC-AUC.
    pub val_auc: f64,
    /// Test metrics.
    pub test: Scores,
    /// Test metrics of the same trees on the edge's own properties alone (no graph).
    pub baseline: Scores,
    /// Examples in train / validation / test.
    pub parts: [usize; 3],
}

/// Train a transaction model for `edge_type.target` on the stored labelled edges.
pub fn train_transaction_model(
    snapshot: &Snapshot,
    edge_type: &str,
    target: &str,
    exclude: &[String],
    trees: &GbdtConfig,
    progress: &mut dyn FnMut(&RoundReport),
) -> Result<TransactionRun> {
    let catalog = snapshot.catalog();
    let def = catalog.edge_type(edge_type)?;
    if !def.properties.iter().any(|p| {
        p.name == target && matches!(p.ty, PropType::Int | PropType::Bool | PropType::Float)
    }) {
        return Err(Error::InvalidArgument(format!(
            "edge type {edge_type} has no numeric property {target} to predict"
        )));
    }
    let labels = [
        catalog.label_by_id(def.src_label)?.name.clone(),
        catalog.label_by_id(def.dst_label)?.name.clone(),
    ];
    let withheld = crate::labels::withheld(snapshot, edge_type, target, exclude)?;
    let usable = |label: &str| -> Result<Vec<String>> {
        let skip = withheld.of(label);
        let skip: Vec<&str> = skip.iter().map(String::as_str).collect();
        numeric_properties(snapshot, label, &skip)
    };
    let endpoint_properties = [usable(&labels[0])?, usable(&labels[1])?];
    let withheld_edges = withheld.edge_properties(snapshot);
    let graph = TransactionGraph::build(
        snapshot,
        &[],
        &labels,
        &endpoint_properties,
        &withheld_edges,
    )?;
    let p = &graph.projection;
    let t = p
        .edge_types
        .iter()
        .position(|t| t.name == edge_type)
        .ok_or_else(|| Error::Corrupt(format!("{edge_type} missing from its projection")))?;
    let numeric = &p.edge_types[t].numeric;
    let target_column = numeric
        .iter()
        .position(|(n, _)| n == target)
        .ok_or_else(|| Error::Corrupt(format!("{edge_type}.{target} was not projected")))?;
    let feature_columns: Vec<usize> = (0..numeric.len())
        .filter(|&c| !withheld.contains(edge_type, &numeric[c].0))
        .collect();
    let edge_properties: Vec<String> = feature_columns
        .iter()
        .map(|&c| numeric[c].0.clone())
        .collect();
    // Each edge once: from the relation whose receivers are the destinations.
    let forward = p
        .relations
        .iter()
        .find(|r| r.edge_type == t && !r.name.ends_with('<'))
        .ok_or_else(|| Error::Corrupt(format!("no relation for {edge_type}")))?;
    let mut examples: Vec<(i64, usize, usize, usize)> = Vec::new(); // (time, edge, src, dst)
    for dst in 0..forward.relation.target_count {
        for m in forward.relation.messages(dst) {
            let edge = forward.relation.edge_ids[m] as usize;
            let (src, time) = (
                forward.relation.sources[m] as usize,
                forward.relation.times[m],
            );
            if !numeric[target_column].1[edge].is_nan() && time != i64::MIN {
                examples.push((time, edge, src, dst));
            }
        }
    }
    if examples.len() < 20 {
        return Err(Error::InvalidArgument(format!(
            "{edge_type}.{target} has {} labelled, timed edges: too few to train on",
            examples.len()
        )));
    }
    examples.sort_unstable();
    let input_names = graph.names(&edge_properties)?;
    let width = input_names.len();
    let rows: Vec<Result<Vec<f32>>> = examples
        .par_iter()
        .map(|&(time, edge, src, dst)| {
            let props: Vec<f32> = feature_columns
                .iter()
                .map(|&c| numeric[c].1[edge])
                .collect();
            let mut row = Vec::with_capacity(width);
            graph.row(src, dst, time, &props, &mut row)?;
            Ok(row)
        })
        .collect();
    let mut data = Vec::with_capacity(examples.len() * width);
    for row in rows {
        data.extend(row?);
    }
    let x = Matrix::from_vec(examples.len(), width, data);
    let y: Vec<bool> = examples
        .iter()
        .map(|&(_, edge, _, _)| numeric[target_column].1[edge] != 0.0)
        .collect();
    let n = examples.len() as u32;
    let (train_end, val_end) = (n * 70 / 100, n * 85 / 100);
    let train: Vec<u32> = (0..train_end).collect();
    let val: Vec<u32> = (train_end..val_end).collect();
    let test: Vec<u32> = (val_end..n).collect();
    let out = train_gbdt(&x, &y, &train, &val, trees, progress);
    let scores = out.model.predict(&x);
    let metrics = |s: &[f32]| {
        let (ts, tl): (Vec<f32>, Vec<bool>) =
            test.iter().map(|&i| (s[i as usize], y[i as usize])).unzip();
        Scores::of(&ts, &tl)
    };
    let test_scores = metrics(&scores);
    // No-graph baseline: the edge's own properties.
    let own = edge_properties.len().max(1);
    let mut bx = Matrix::zeros(x.rows, own);
    if !edge_properties.is_empty() {
        for i in 0..x.rows {
            bx.row_mut(i).copy_from_slice(&x.row(i)[width - own..]);
        }
    }
    let base = train_gbdt(&bx, &y, &train, &val, trees, &mut |_| {});
    let baseline = metrics(&base.model.predict(&bx));
    Ok(TransactionRun {
        model: TransactionModel {
            edge_type: edge_type.to_string(),
            target: target.to_string(),
            labels,
            endpoint_properties,
            edge_properties,
            withheld: withheld_edges,
            relations: p.relations.iter().map(|r| r.name.clone()).collect(),
            input_names,
            booster: out.model,
        },
        val_auc: out.val_auc,
        test: test_scores,
        baseline,
        parts: [train.len(), val.len(), test.len()],
    })
}

/// A transaction model with its graph, ready to score.
pub struct TransactionScorer {
    /// The model.
    pub model: TransactionModel,
    graph: TransactionGraph,
}

impl TransactionScorer {
    /// Load `model` over `snapshot`.
    pub fn new(model: TransactionModel, snapshot: &Snapshot) -> Result<TransactionScorer> {
        // Only the edge types the model was trained on: edge types added since (a product
        // catalogue beside the payments) are no input of it.
        let graph = TransactionGraph::build(
            snapshot,
            &crate::model::relation_edge_types(&model.relations),
            &model.labels,
            &model.endpoint_properties,
            &model.withheld,
        )?;
        crate::model::check_relations(&graph.projection, &model.relations)?;
        Ok(TransactionScorer { model, graph })
    }

    /// The fraud probability of `input`, from the graph as it was just before `input.time`.
    pub fn score(&self, snapshot: &Snapshot, input: &TransactionInput) -> Result<f32> {
        let catalog = snapshot.catalog();
        let mut ends = [0usize; 2];
        for (e, key) in [&input.src, &input.dst].into_iter().enumerate() {
            let label = catalog.label(&self.model.labels[e])?;
            let id = snapshot.node_id_in(label.id, key)?.ok_or_else(|| {
                Error::NotFound(format!("no {} node with key {key:?}", label.name))
            })?;
            ends[e] = self
                .graph
                .projection
                .index_of(label.id, id)
                .ok_or_else(|| {
                    Error::NotFound(format!("{} {key} is outside the projection", label.name))
                })?;
        }
        for (name, _) in &input.properties {
            if !self.model.edge_properties.contains(name) {
                return Err(Error::InvalidArgument(format!(
                    "{} has no numeric property {name} the model uses (it uses: {})",
                    self.model.edge_type,
                    self.model.edge_properties.join(", ")
                )));
            }
        }
        let props: Vec<f32> = self
            .model
            .edge_properties
            .iter()
            .map(|p| {
                input
                    .properties
                    .iter()
                    .find(|(n, _)| n == p)
                    .map_or(f32::NAN, |(_, v)| *v as f32)
            })
            .collect();
        let mut row = Vec::with_capacity(self.model.input_names.len());
        self.graph
            .row(ends[0], ends[1], input.time, &props, &mut row)?;
        Ok(1.0 / (1.0 + (-self.model.booster.logit(&row)).exp()))
    }
}
