//! `argus eval`, `argus train`, `argus score` and `argus models`: fraud models from the command
//! line — evaluation over split files, training into the registry, scoring with explanations,
//! and deployment.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use argus_db::eval::{eval_node_classification, EvalProgress, EvalReport, NodeEvalSpec};
use argus_db::train::{
    train_model, Family, FeatureChoice, FeatureGroup, ModelSettings, SplitSource, TrainProgress,
    TrainSpec,
};
use argus_db::Database;
use argus_extensions::ml::backend::Aggregation;
use argus_extensions::ml::metrics::{pr_curve, roc_curve};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::output::{Format, Table};
use crate::plot::{charts_to_png, LineChart, Series};

#[derive(Subcommand)]
pub enum Eval {
    /// Train and test each model family and a no-graph baseline once per split column.
    #[command(
        after_help = "Splits file: `id,split_0,split_1,...`; ids are keys of LABEL, values train, val or test.
Prints one row per split and the mean ± std of test ROC-AUC and PR-AUC per family; each model
is selected on validation ROC-AUC, and the family with the best mean validation ROC-AUC is
marked as the one picked for the data set.

Examples:
  argus --db tolokers.db eval node-classification --label toloker.label --splits splits.csv
  argus --db otc.db eval node-classification --label user.fraud --splits splits.csv --plot otc.png
  argus --db tolokers.db eval node-classification --label toloker.label --splits splits.csv --models trees"
    )]
    NodeClassification(NodeEvalArgs),
    /// Recommenders on the temporal protocol: popularity, item-item and the picked family.
    #[command(
        after_help = "Per shopper, the earliest 80% of interactions (by time, then item) train and the rest
test; all items the shopper has not interacted with in train are ranked. Each family's
configuration (λ, shrinkage, query half-life) is chosen on validation carved from training the
same way, refitted on all of training and read on test once.

Example:
  argus --db ml100k.db eval recommend --interactions rated --categories Action,Comedy,Drama"
    )]
    Recommend(crate::recs_cli::RecommenderArgs),
}

/// Model and feature options shared by `eval` and `train`.
#[derive(Args)]
pub struct ModelArgs {
    /// What to predict, as LABEL.PROPERTY (a 0/1 or boolean property).
    #[arg(long)]
    label: String,
    /// `auto` (numeric properties except label properties, degrees, and edge aggregates when
    /// there are few properties) or a comma-separated property list.
    #[arg(long, default_value = "auto")]
    features: String,
    /// Properties no feature may read, comma-separated: PROPERTY of the label, or
    /// OWNER.PROPERTY of any label or edge type (besides the target, the store's declared label
    /// properties and every registered model's target, which are always withheld).
    #[arg(long, value_delimiter = ',')]
    exclude: Vec<String>,
    /// Structural feature groups to leave out (ablations), comma-separated: consensus,
    /// established.
    #[arg(long, value_delimiter = ',')]
    without: Vec<String>,
    /// Model families to train, comma-separated: gnn, trees.
    #[arg(long, value_delimiter = ',', default_value = "gnn,trees")]
    models: Vec<String>,
    /// Edge types of the graph, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    edge_types: Vec<String>,
    /// GNN hidden width.
    #[arg(long, default_value_t = ModelSettings::default().hidden)]
    hidden: usize,
    /// GNN message-passing layers.
    #[arg(long, default_value_t = ModelSettings::default().layers)]
    layers: usize,
    /// GNN dropout probability.
    #[arg(long, default_value_t = ModelSettings::default().dropout)]
    dropout: f32,
    /// GNN neighbour aggregation: mean or sum.
    #[arg(long, default_value = "mean")]
    aggregation: String,
    /// GNN: most training epochs.
    #[arg(long, default_value_t = ModelSettings::default().epochs)]
    epochs: usize,
    /// GNN: stop after this many epochs without a better validation ROC-AUC.
    #[arg(long, default_value_t = ModelSettings::default().patience)]
    patience: usize,
    /// GNN learning rate.
    #[arg(long, default_value_t = ModelSettings::default().lr)]
    lr: f32,
    /// GNN AdamW weight decay.
    #[arg(long, default_value_t = ModelSettings::default().weight_decay)]
    weight_decay: f32,
    /// GNN: targets per mini-batch, each on its bounded neighbourhood (--neighbours); 0 trains
    /// on the full graph at once.
    #[arg(long, default_value_t = 0)]
    batch_size: usize,
    /// GNN: networks trained from different seeds, their logits averaged.
    #[arg(long, default_value_t = ModelSettings::default().bags)]
    gnn_bags: usize,
    /// GNN: which epoch of a validation plateau is kept: last or first.
    #[arg(long, default_value = "last")]
    gnn_plateau: String,
    /// Trees: most boosting rounds.
    #[arg(long, default_value_t = argus_db::train::default_tree_config().trees)]
    trees: usize,
    /// Trees: depth.
    #[arg(long, default_value_t = argus_db::train::default_tree_config().max_depth)]
    tree_depth: usize,
    /// Trees: learning rate.
    #[arg(long, default_value_t = argus_db::train::default_tree_config().learning_rate)]
    tree_lr: f32,
    /// Trees: boosters of different seeds averaged.
    #[arg(long, default_value_t = argus_db::train::default_tree_config().bags)]
    tree_bags: usize,
    /// Trees: share of the training rows each tree sees (0 < x ≤ 1).
    #[arg(long, default_value_t = argus_db::train::default_tree_config().subsample)]
    tree_subsample: f64,
    /// Trees: share of the input columns each tree may split on (0 < x ≤ 1).
    #[arg(long, default_value_t = argus_db::train::default_tree_config().colsample)]
    tree_colsample: f64,
    /// Trees: least hessian weight in a leaf.
    #[arg(long, default_value_t = argus_db::train::default_tree_config().min_child_weight)]
    tree_min_child_weight: f64,
    /// Trees: L2 penalty on leaf weights (λ in the leaf value −G/(H+λ)).
    #[arg(long, default_value_t = argus_db::train::default_tree_config().lambda)]
    tree_lambda: f64,
    /// Trees: rounds without a better validation ROC-AUC before boosting stops.
    #[arg(long, default_value_t = argus_db::train::default_tree_config().patience)]
    tree_patience: usize,
    /// Trees: spectral coordinates of the nodes (leading eigenvectors of the normalised
    /// same-label graph) as extra inputs: a count, 0 for none, or `auto` (64 when those edges
    /// carry no timestamps and the label has at most a million nodes, else none: the
    /// coordinates describe the whole graph, not a graph as of a time).
    #[arg(long, default_value = "auto")]
    spectral: String,
    /// Newest neighbours per relation each node aggregates, in every hop: the same bounded
    /// neighbourhood in training, evaluation and scoring.
    #[arg(long, default_value_t = argus_db::train::DEFAULT_NEIGHBOURS)]
    neighbours: usize,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write the training curve and ROC / PR curves to this PNG file.
    #[arg(long)]
    plot: Option<PathBuf>,
}

#[derive(Args)]
pub struct NodeEvalArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// CSV of splits: `id,split_0,...` with train/val/test.
    #[arg(long)]
    splits: PathBuf,
    /// What to report: `test` (each split's test metrics, the published protocol) or
    /// `validation` (validation ROC-AUC only, for choosing features and settings without
    /// looking at test).
    #[arg(long, default_value = "test")]
    report: String,
}

#[derive(Subcommand)]
pub enum Train {
    /// Train fraud models for a label, keep the best on validation and register it.
    #[command(
        after_help = "Without --split, a seeded 70/15/15 draw of the labelled nodes is used.
The first version of a name is deployed; later ones only with --deploy.

Examples:
  argus --db pay.db train fraud --name user_fraud --label user.is_fraud
  argus --db tolokers.db train fraud --name banned --label toloker.label --split splits.csv:split_0 --plot banned.png"
    )]
    Fraud(TrainArgs),
    /// Train a recommender on interaction edges, pick its configuration on validation and
    /// register it.
    #[command(after_help = "Examples:
  argus --db ml100k.db train recommender --name movies --interactions rated
  argus --db shop.db train recommender --name shop --interactions viewed,carted,bought --interaction-weights 1,2,4 --categories category --price price")]
    Recommender(crate::recs_cli::RecommenderTrainArgs),
}

#[derive(Args)]
pub struct TrainArgs {
    /// Model name in the registry.
    #[arg(long)]
    name: String,
    #[command(flatten)]
    model: ModelArgs,
    /// FILE:COLUMN of a splits file (`id,split_0,...`).
    #[arg(long)]
    split: Option<String>,
    /// Deploy the new version even when the name already has a deployed one.
    #[arg(long)]
    deploy: bool,
}

#[derive(Args)]
pub struct ScoreArgs {
    /// The entity, LABEL:KEY.
    entity: String,
    /// Model name (default: the only model predicting LABEL).
    #[arg(long)]
    model: Option<String>,
    /// Model version (default: the deployed one).
    #[arg(long)]
    version: Option<u32>,
    /// Score as of this time (RFC 3339 or a date): later edges are ignored.
    #[arg(long)]
    as_of: Option<String>,
    /// Show the features and neighbours that drove the score.
    #[arg(long)]
    explain: bool,
}

#[derive(Args)]
pub struct ScoreTransactionArgs {
    /// Model name (a model trained with `--label EDGE_TYPE.PROPERTY`).
    #[arg(long)]
    model: String,
    /// Source node key.
    #[arg(long)]
    src: String,
    /// Destination node key.
    #[arg(long)]
    dst: String,
    /// When the transaction happens (RFC 3339 or a date); features see only earlier edges.
    #[arg(long)]
    time: String,
    /// A numeric edge property, NAME=VALUE (repeatable).
    #[arg(long = "prop")]
    props: Vec<String>,
}

#[derive(Subcommand)]
pub enum Models {
    /// Every version of every model.
    List,
    /// Make VERSION the deployed version of NAME.
    Deploy {
        /// Model name.
        name: String,
        /// Version number.
        version: u32,
    },
    /// Return NAME to the version deployed before.
    Rollback {
        /// Model name.
        name: String,
    },
}

fn train_spec(args: &ModelArgs) -> Result<TrainSpec> {
    let (label, target) = args
        .label
        .split_once('.')
        .ok_or_else(|| anyhow!("--label must be LABEL.PROPERTY, got {:?}", args.label))?;
    let mut spec = TrainSpec::new(label, target);
    spec.features = match args.features.as_str() {
        "auto" => FeatureChoice::Auto,
        list => FeatureChoice::Properties(list.split(',').map(|s| s.trim().to_string()).collect()),
    };
    spec.families = args
        .models
        .iter()
        .map(|m| {
            Family::parse(m.trim())
                .ok_or_else(|| anyhow!("--models takes gnn and/or trees, got {m:?}"))
        })
        .collect::<Result<_>>()?;
    let aggregation = Aggregation::parse(&args.aggregation).ok_or_else(|| {
        anyhow!(
            "--aggregation must be mean or sum, got {:?}",
            args.aggregation
        )
    })?;
    if !(0.0..1.0).contains(&args.dropout) {
        return Err(anyhow!("--dropout must be in [0, 1), got {}", args.dropout));
    }
    if args.hidden == 0 || args.epochs == 0 || args.trees == 0 {
        return Err(anyhow!("--hidden, --epochs and --trees must be at least 1"));
    }
    spec.edge_types = args.edge_types.clone();
    spec.gnn = ModelSettings {
        hidden: args.hidden,
        layers: args.layers,
        dropout: args.dropout,
        aggregation,
        epochs: args.epochs,
        patience: args.patience,
        lr: args.lr,
        weight_decay: args.weight_decay,
        seed: args.seed,
        batch_size: args.batch_size,
        bags: args.gnn_bags.max(1),
        ties_keep_later: match args.gnn_plateau.as_str() {
            "last" => true,
            "first" => false,
            other => return Err(anyhow!("--gnn-plateau takes last or first, got {other:?}")),
        },
    };
    spec.trees.trees = args.trees;
    spec.trees.max_depth = args.tree_depth;
    spec.trees.learning_rate = args.tree_lr;
    spec.trees.bags = args.tree_bags.max(1);
    for (flag, share) in [
        ("--tree-subsample", args.tree_subsample),
        ("--tree-colsample", args.tree_colsample),
    ] {
        if !(share > 0.0 && share <= 1.0) {
            return Err(anyhow!("{flag} must be in (0, 1], got {share}"));
        }
    }
    spec.trees.subsample = args.tree_subsample;
    spec.trees.colsample = args.tree_colsample;
    if args.tree_min_child_weight.is_nan() || args.tree_min_child_weight < 0.0 {
        return Err(anyhow!(
            "--tree-min-child-weight must be at least 0, got {}",
            args.tree_min_child_weight
        ));
    }
    spec.trees.min_child_weight = args.tree_min_child_weight;
    if args.tree_lambda.is_nan() || args.tree_lambda < 0.0 {
        return Err(anyhow!(
            "--tree-lambda must be at least 0, got {}",
            args.tree_lambda
        ));
    }
    spec.trees.lambda = args.tree_lambda;
    spec.trees.patience = args.tree_patience.max(1);
    if args.neighbours == 0 {
        return Err(anyhow!("--neighbours must be at least 1"));
    }
    spec.neighbours = args.neighbours;
    spec.exclude = args.exclude.iter().map(|e| e.trim().to_string()).collect();
    spec.without = args
        .without
        .iter()
        .map(|w| {
            FeatureGroup::parse(w.trim())
                .ok_or_else(|| anyhow!("--without takes consensus and/or established, got {w:?}"))
        })
        .collect::<Result<_>>()?;
    spec.spectral = match args.spectral.as_str() {
        "auto" => None,
        n => Some(
            n.parse()
                .map_err(|_| anyhow!("--spectral takes a count or auto, got {n:?}"))?,
        ),
    };
    Ok(spec)
}

/// A progress line every 50 epochs / 100 rounds.
fn show_progress(what: &str, family: Family, p: &TrainProgress<'_>, started: std::time::Instant) {
    let (step, loss, val, every) = match p {
        TrainProgress::Epoch(r) => (r.epoch, r.loss as f64, r.val_auc, 50),
        TrainProgress::Round(r) => (r.trees, r.loss, r.val_auc, 100),
    };
    if step % every == 0 {
        let unit = if family == Family::Gnn {
            "epoch"
        } else {
            "trees"
        };
        eprintln!(
            "  {what} {}: {unit} {step} loss {loss:.4} val ROC-AUC {val:.4} ({:.0} s)",
            family.name(),
            started.elapsed().as_secs_f64()
        );
    }
}

/// Open the database's model device and say once which it is.
fn announce_device(db: &Database) -> Result<argus_db::Device> {
    let device = db.device()?;
    eprintln!("device: {}", device.describe());
    Ok(device)
}

pub fn run_eval(db: &Database, eval: &Eval, format: Format) -> Result<()> {
    let args = match eval {
        Eval::NodeClassification(args) => args,
        Eval::Recommend(args) => return crate::recs_cli::run_eval(db, args, format),
    };
    let validation_only = match args.report.as_str() {
        "test" => false,
        "validation" => true,
        other => return Err(anyhow!("--report takes test or validation, got {other:?}")),
    };
    if validation_only && args.model.plot.is_some() {
        return Err(anyhow!(
            "--plot draws test curves: leave it out with --report validation"
        ));
    }
    let mut train = train_spec(&args.model)?;
    train.device = announce_device(db)?;
    let spec = NodeEvalSpec {
        train,
        splits: args.splits.clone(),
    };
    let started = std::time::Instant::now();
    let report = eval_node_classification(db, &spec, &mut |p| match p {
        EvalProgress::Prepared {
            nodes,
            relations,
            features,
        } => {
            let rels: Vec<String> = relations
                .iter()
                .map(|(n, c)| format!("{n} ({c})"))
                .collect();
            eprintln!(
                "projection: {nodes} nodes; relations: {}; {}",
                rels.join(", "),
                describe(features)
            );
        }
        EvalProgress::Spectral { dims, seconds } => {
            eprintln!("spectral coordinates for the trees: {dims} dimensions ({seconds:.1} s)");
        }
        EvalProgress::Step {
            split,
            family,
            progress,
        } => show_progress(split, family, &progress, started),
        EvalProgress::Split(r) => {
            let (part, baseline) = if validation_only {
                ("validation", r.baseline_val_auc)
            } else {
                ("test", r.baseline.roc_auc)
            };
            let parts: Vec<String> = r
                .families
                .iter()
                .map(|f| {
                    let v = if validation_only {
                        f.val_auc
                    } else {
                        f.test.roc_auc
                    };
                    format!("{} {v:.4}", f.family.name())
                })
                .collect();
            eprintln!(
                "{}: {part} ROC-AUC {}, no-graph baseline {baseline:.4} ({:.0} s)",
                r.split,
                parts.join(", "),
                started.elapsed().as_secs_f64()
            );
        }
    })?;
    if validation_only {
        print_validation_report(&report, format);
    } else {
        print_report(&report, format);
    }
    if let Some(path) = &args.model.plot {
        let first = &report.splits[0];
        let curves: Vec<PlottedModel> = first
            .families
            .iter()
            .map(|f| {
                (
                    f.family.name().to_string(),
                    f.curve.clone(),
                    f.test_scores.clone(),
                )
            })
            .collect();
        write_plots(path, &first.split, &curves)?;
    }
    Ok(())
}

/// A model in a plot: name, (step, loss, validation ROC-AUC) curve, test (score, label) pairs.
type PlottedModel = (String, Vec<(usize, f64, f64)>, Vec<(f32, bool)>);

/// Training curve (validation ROC-AUC per step), ROC and PR curves side by side.
fn write_plots(path: &Path, title: &str, models: &[PlottedModel]) -> Result<()> {
    let mut training = LineChart {
        title: format!("validation ROC-AUC ({title})"),
        x_label: "epoch (gnn) / trees (trees)".into(),
        y_label: "ROC-AUC".into(),
        ..LineChart::default()
    };
    let mut roc = LineChart {
        title: format!("ROC, test ({title})"),
        x_label: "false-positive rate".into(),
        y_label: "true-positive rate".into(),
        x_range: Some((0.0, 1.0)),
        y_range: Some((0.0, 1.0)),
        diagonal: true,
        ..LineChart::default()
    };
    let mut pr = LineChart {
        title: format!("precision-recall, test ({title})"),
        x_label: "recall".into(),
        y_label: "precision".into(),
        x_range: Some((0.0, 1.0)),
        y_range: Some((0.0, 1.0)),
        ..LineChart::default()
    };
    for (name, curve, test) in models {
        training.series.push(Series {
            name: name.clone(),
            points: curve.iter().map(|&(s, _, v)| (s as f64, v)).collect(),
        });
        let (scores, labels): (Vec<f32>, Vec<bool>) = test.iter().copied().unzip();
        roc.series.push(Series {
            name: name.clone(),
            points: roc_curve(&scores, &labels),
        });
        pr.series.push(Series {
            name: name.clone(),
            points: pr_curve(&scores, &labels),
        });
    }
    std::fs::write(path, charts_to_png(&[training, roc, pr], 600, 450))
        .map_err(|e| anyhow!("writing {}: {e}", path.display()))?;
    eprintln!("plots written to {}", path.display());
    Ok(())
}

/// A feature list for a footnote: all names when few, else a count and the first ones.
fn describe(names: &[String]) -> String {
    const SHOWN: usize = 6;
    if names.len() <= SHOWN {
        names.join(", ")
    } else {
        format!(
            "{} features ({}, ...)",
            names.len(),
            names[..SHOWN].join(", ")
        )
    }
}

fn pct(v: f64) -> String {
    format!("{:.2}", v * 100.0)
}

fn print_report(report: &EvalReport, format: Format) {
    let families: Vec<Family> = report.splits[0].families.iter().map(|f| f.family).collect();
    let mut columns = vec!["split".to_string()];
    for f in &families {
        let n = f.name();
        columns.extend([
            format!("{n} ROC-AUC"),
            format!("{n} PR-AUC"),
            format!("{n} recall@1%FPR"),
            format!("{n} val"),
        ]);
    }
    columns.extend(["no-graph ROC-AUC".into(), "no-graph PR-AUC".into()]);
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    let mut table = Table::new(&names);
    for r in &report.splits {
        let mut row = vec![json!(r.split)];
        for f in &r.families {
            row.extend([
                json!(pct(f.test.roc_auc)),
                json!(pct(f.test.pr_auc)),
                json!(pct(f.test.recall_at_1pct_fpr)),
                json!(pct(f.val_auc)),
            ]);
        }
        row.extend([
            json!(pct(r.baseline.roc_auc)),
            json!(pct(r.baseline.pr_auc)),
        ]);
        table.rows.push(row);
    }
    let ms = |f: &dyn Fn(&argus_db::eval::SplitResult) -> f64| {
        let (m, s) = report.summary(f);
        format!("{:.2} ± {:.2}", m * 100.0, s * 100.0)
    };
    let mut summary = vec![json!("mean ± std")];
    for (k, _) in families.iter().enumerate() {
        summary.extend([
            json!(ms(&|r| r.families[k].test.roc_auc)),
            json!(ms(&|r| r.families[k].test.pr_auc)),
            json!(ms(&|r| r.families[k].test.recall_at_1pct_fpr)),
            json!(ms(&|r| r.families[k].val_auc)),
        ]);
    }
    summary.extend([
        json!(ms(&|r| r.baseline.roc_auc)),
        json!(ms(&|r| r.baseline.pr_auc)),
    ]);
    table.rows.push(summary);
    match format {
        Format::Table => {
            println!("{}", table.render());
            println!(
                "(metrics × 100 on each split's test nodes; picked by mean validation ROC-AUC: {}; \
                 features: {}{}; no-graph baseline: trees on {})",
                report.selected.name(),
                describe(&report.features),
                if report.spectral_dims > 0 {
                    format!(", trees also {} spectral coordinates", report.spectral_dims)
                } else {
                    String::new()
                },
                describe(&report.baseline_features)
            );
        }
        Format::Csv => print!("{}", table.to_csv()),
        Format::Json => println!("{}", table.to_json()),
    }
}

/// Validation ROC-AUC per split and family, and of the no-graph baseline: the figures that
/// choose features and settings, with no test metric in sight.
fn print_validation_report(report: &EvalReport, format: Format) {
    let families: Vec<Family> = report.splits[0].families.iter().map(|f| f.family).collect();
    let mut columns = vec!["split".to_string()];
    columns.extend(families.iter().map(|f| format!("{} val ROC-AUC", f.name())));
    columns.push("no-graph val ROC-AUC".into());
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    let mut table = Table::new(&names);
    for r in &report.splits {
        let mut row = vec![json!(r.split)];
        row.extend(r.families.iter().map(|f| json!(pct(f.val_auc))));
        row.push(json!(pct(r.baseline_val_auc)));
        table.rows.push(row);
    }
    let ms = |f: &dyn Fn(&argus_db::eval::SplitResult) -> f64| {
        let (m, s) = report.summary(f);
        format!("{:.2} ± {:.2}", m * 100.0, s * 100.0)
    };
    let mut summary = vec![json!("mean ± std")];
    for k in 0..families.len() {
        summary.push(json!(ms(&|r| r.families[k].val_auc)));
    }
    summary.push(json!(ms(&|r| r.baseline_val_auc)));
    table.rows.push(summary);
    match format {
        Format::Table => {
            println!("{}", table.render());
            println!(
                "(validation ROC-AUC × 100 of each split's selected model; no test metric is \
                 shown; picked by mean validation ROC-AUC: {}; features: {})",
                report.selected.name(),
                describe(&report.features),
            );
        }
        Format::Csv => print!("{}", table.to_csv()),
        Format::Json => println!("{}", table.to_json()),
    }
}

pub fn run_train(db: &Database, train: &Train, format: Format) -> Result<()> {
    let args = match train {
        Train::Fraud(args) => args,
        Train::Recommender(args) => return crate::recs_cli::run_train(db, args, format),
    };
    let mut spec = train_spec(&args.model)?;
    spec.device = announce_device(db)?;
    let source = match &args.split {
        None => SplitSource::Random {
            seed: args.model.seed,
        },
        Some(s) => {
            let (file, column) = match s.rsplit_once(':') {
                Some((f, c)) if !c.is_empty() && !c.contains('/') => {
                    (f.to_string(), Some(c.to_string()))
                }
                _ => (s.clone(), None),
            };
            SplitSource::File {
                path: PathBuf::from(file),
                column,
            }
        }
    };
    let started = std::time::Instant::now();
    let run = train_model(db, &args.name, &spec, &source, args.deploy, &mut |f, p| {
        show_progress("train", f, &p, started)
    })?;
    let mut table = Table::new(&[
        "family",
        "val ROC-AUC",
        "test ROC-AUC",
        "test PR-AUC",
        "kept",
    ]);
    let kept = run.version.model.kind.family();
    for (family, val, test) in &run.tried {
        let name = if kept == "transaction" {
            "transaction trees"
        } else {
            family.name()
        };
        table.rows.push(vec![
            json!(name),
            json!(pct(*val)),
            json!(pct(test.roc_auc)),
            json!(pct(test.pr_auc)),
            json!(if family.name() == kept || kept == "transaction" {
                "yes"
            } else {
                ""
            }),
        ]);
    }
    if let Some(b) = &run.baseline {
        table.rows.push(vec![
            json!("no-graph baseline (edge properties)"),
            json!(""),
            json!(pct(b.roc_auc)),
            json!(pct(b.pr_auc)),
            json!(""),
        ]);
    }
    match format {
        Format::Table => {
            println!("{}", table.render());
            let live = db.model(&args.name, None)?.version;
            println!(
                "registered {} version {} ({}; split {}; {} / {} / {} {}); deployed version: {live}",
                args.name,
                run.version.version,
                kept,
                run.version.trained_on.split,
                run.version.trained_on.parts[0],
                run.version.trained_on.parts[1],
                run.version.trained_on.parts[2],
                if kept == "transaction" { "transactions" } else { "nodes" },
            );
        }
        Format::Csv => print!("{}", table.to_csv()),
        Format::Json => println!("{}", table.to_json()),
    }
    if let Some(path) = &args.model.plot {
        write_plots(
            path,
            &format!("{} v{}", args.name, run.version.version),
            &[(kept.to_string(), run.curve, run.test_scores)],
        )?;
    }
    Ok(())
}

pub fn run_score(db: &Database, args: &ScoreArgs, format: Format) -> Result<()> {
    let (label, key) = args
        .entity
        .split_once(':')
        .ok_or_else(|| anyhow!("expected LABEL:KEY, got {:?}", args.entity))?;
    let name = match &args.model {
        Some(n) => n.clone(),
        None => db
            .default_model(Some(label))
            .map_err(|e| anyhow!("{e} (with --model)"))?,
    };
    let as_of = args
        .as_of
        .as_deref()
        .map(|t| argus_engine::time::parse_time(t).map_err(|e| anyhow!("--as-of: {e}")))
        .transpose()?;
    announce_device(db)?;
    let scorer = db.scorer(&name, args.version)?;
    if scorer.label() != label {
        return Err(anyhow!(
            "model {name} scores {} nodes, not {label}",
            scorer.label()
        ));
    }
    let snapshot = db.snapshot();
    if args.explain {
        let e = scorer.explain(&snapshot, key, as_of)?;
        match format {
            Format::Json => println!("{}", serde_json::to_string_pretty(&e)?),
            _ => {
                println!("{} score {:.4} ({})", e.entity, e.score, e.model);
                let mut features = Table::new(&["feature", "value", "contribution (logit)"]);
                for f in &e.features {
                    features.rows.push(vec![
                        json!(f.feature),
                        json!(format!("{:.4}", f.value)),
                        json!(format!("{:+.4}", f.contribution)),
                    ]);
                }
                println!("{}", features.render());
                let mut neighbours = Table::new(&[
                    "relation",
                    "neighbour",
                    "edge time",
                    "edge properties",
                    "contribution (score)",
                ]);
                for n in &e.neighbours {
                    let props: Vec<String> = n
                        .edge_properties
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    neighbours.rows.push(vec![
                        json!(n.relation),
                        json!(format!("{}:{}", n.label, n.key)),
                        json!(n.edge_time.clone().unwrap_or_default()),
                        json!(props.join(" ")),
                        json!(format!("{:+.4}", n.contribution)),
                    ]);
                }
                println!("{}", neighbours.render());
            }
        }
        return Ok(());
    }
    let scored = scorer.score(&snapshot, key, as_of)?;
    let mut table = Table::new(&["entity", "score", "model", "version"]);
    table.rows.push(vec![
        json!(args.entity),
        json!(scored.score),
        json!(name),
        json!(scorer.version.version),
    ]);
    println!("{}", table.render_as(format));
    Ok(())
}

pub fn run_score_transaction(
    db: &Database,
    args: &ScoreTransactionArgs,
    format: Format,
) -> Result<()> {
    let time = argus_engine::time::parse_time(&args.time).map_err(|e| anyhow!("--time: {e}"))?;
    let properties = args
        .props
        .iter()
        .map(|p| {
            let (k, v) = p
                .split_once('=')
                .ok_or_else(|| anyhow!("--prop must be NAME=VALUE, got {p:?}"))?;
            let v: f64 = v
                .trim()
                .parse()
                .map_err(|_| anyhow!("--prop {k}: {v:?} is not a number"))?;
            Ok((k.trim().to_string(), v))
        })
        .collect::<Result<Vec<_>>>()?;
    let input = argus_db::transactions::TransactionInput {
        src: args.src.clone(),
        dst: args.dst.clone(),
        time,
        properties,
    };
    let score = db.score_transaction(&args.model, &input)?;
    let mut table = Table::new(&["src", "dst", "time", "score", "model"]);
    table.rows.push(vec![
        json!(args.src),
        json!(args.dst),
        json!(args.time),
        json!(score),
        json!(args.model),
    ]);
    println!("{}", table.render_as(format));
    Ok(())
}

#[derive(Subcommand)]
pub enum Labels {
    /// Declare properties labels: no model reads them, or any aggregate of them, as an input.
    Declare {
        /// OWNER.PROPERTY of a label or an edge type (e.g. user.is_fraud paid.is_fraud).
        #[arg(required = true)]
        properties: Vec<String>,
    },
    /// The declared label properties (the targets of registered models are withheld too).
    List,
}

pub fn run_labels(db: &Database, labels: &Labels, format: Format) -> Result<()> {
    match labels {
        Labels::Declare { properties } => {
            for p in properties {
                db.declare_label_property(p)?;
            }
            println!("label properties: {}", db.label_properties()?.join(", "));
        }
        Labels::List => {
            let mut table = Table::new(&["label property"]);
            for p in db.label_properties()? {
                table.rows.push(vec![json!(p)]);
            }
            println!("{}", table.render_as(format));
        }
    }
    Ok(())
}

pub fn run_models(db: &Database, models: &Models, format: Format) -> Result<()> {
    match models {
        Models::List => {
            let mut table = Table::new(&[
                "name",
                "version",
                "family",
                "predicts",
                "created",
                "val ROC-AUC",
                "test ROC-AUC",
                "deployed",
            ]);
            for m in db.list_models()? {
                table.rows.push(vec![
                    json!(m.name),
                    json!(m.version),
                    json!(m.family),
                    json!(m.predicts),
                    json!(m.created_at),
                    json!(pct(m.val_auc)),
                    json!(pct(m.test_auc)),
                    json!(if m.deployed { "yes" } else { "" }),
                ]);
            }
            println!("{}", table.render_as(format));
        }
        Models::Deploy { name, version } => {
            db.deploy_model(name, *version)?;
            println!("{name}: version {version} deployed");
        }
        Models::Rollback { name } => {
            let live = db.rollback_model(name)?;
            println!("{name}: rolled back to version {live}");
        }
    }
    Ok(())
}
