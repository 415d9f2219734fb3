//! `argus eval ...`: model evaluation from the command line.

use std::path::PathBuf;

use anyhow::{anyhow, Result};
use argus_db::eval::{
    eval_node_classification, EvalProgress, EvalReport, FeatureChoice, ModelSettings, NodeEvalSpec,
};
use argus_db::Database;
use argus_extensions::ml::backend::Aggregation;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::output::{Format, Table};

#[derive(Subcommand)]
pub enum Eval {
    /// Train and test a graph model and a no-graph baseline once per split column.
    #[command(
        after_help = "Splits file: `id,split_0,split_1,...`; ids are keys of LABEL, values train, val or test.
Prints one row per split and the mean ± std of test ROC-AUC and PR-AUC; the epoch is chosen by
validation ROC-AUC.

Examples:
  argus --db tolokers.db eval node-classification --label toloker.label --splits splits.csv
  argus --db otc.db eval node-classification --label user.fraud --splits splits.csv --features auto
  argus --db tolokers.db eval node-classification --label toloker.label --splits splits.csv --features f0,f1,f2 --hidden 128"
    )]
    NodeClassification(NodeEvalArgs),
}

#[derive(Args)]
pub struct NodeEvalArgs {
    /// What to predict, as LABEL.PROPERTY (a 0/1 or boolean property).
    #[arg(long)]
    label: String,
    /// CSV of splits: `id,split_0,...` with train/val/test.
    #[arg(long)]
    splits: PathBuf,
    /// `auto` (numeric properties except the target, plus structural features when there are
    /// few) or a comma-separated property list.
    #[arg(long, default_value = "auto")]
    features: String,
    /// Edge types to pass messages along, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    edge_types: Vec<String>,
    /// Hidden width.
    #[arg(long, default_value_t = ModelSettings::default().hidden)]
    hidden: usize,
    /// Message-passing layers.
    #[arg(long, default_value_t = ModelSettings::default().layers)]
    layers: usize,
    /// Dropout probability.
    #[arg(long, default_value_t = ModelSettings::default().dropout)]
    dropout: f32,
    /// Neighbour aggregation: mean or sum.
    #[arg(long, default_value = "mean")]
    aggregation: String,
    /// Most training epochs per model.
    #[arg(long, default_value_t = ModelSettings::default().epochs)]
    epochs: usize,
    /// Stop after this many epochs without a better validation ROC-AUC.
    #[arg(long, default_value_t = ModelSettings::default().patience)]
    patience: usize,
    /// Learning rate.
    #[arg(long, default_value_t = ModelSettings::default().lr)]
    lr: f32,
    /// AdamW weight decay.
    #[arg(long, default_value_t = ModelSettings::default().weight_decay)]
    weight_decay: f32,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn spec(args: &NodeEvalArgs) -> Result<NodeEvalSpec> {
    let (label, target) = args
        .label
        .split_once('.')
        .ok_or_else(|| anyhow!("--label must be LABEL.PROPERTY, got {:?}", args.label))?;
    let features = match args.features.as_str() {
        "auto" => FeatureChoice::Auto,
        list => FeatureChoice::Properties(list.split(',').map(|s| s.trim().to_string()).collect()),
    };
    let aggregation = Aggregation::parse(&args.aggregation).ok_or_else(|| {
        anyhow!(
            "--aggregation must be mean or sum, got {:?}",
            args.aggregation
        )
    })?;
    if !(0.0..1.0).contains(&args.dropout) {
        return Err(anyhow!("--dropout must be in [0, 1), got {}", args.dropout));
    }
    if args.hidden == 0 || args.epochs == 0 {
        return Err(anyhow!("--hidden and --epochs must be at least 1"));
    }
    Ok(NodeEvalSpec {
        label: label.to_string(),
        target: target.to_string(),
        splits: args.splits.clone(),
        features,
        edge_types: args.edge_types.clone(),
        model: ModelSettings {
            hidden: args.hidden,
            layers: args.layers,
            dropout: args.dropout,
            aggregation,
            epochs: args.epochs,
            patience: args.patience,
            lr: args.lr,
            weight_decay: args.weight_decay,
            seed: args.seed,
        },
    })
}

pub fn run_eval(db: &Database, eval: &Eval, format: Format) -> Result<()> {
    let Eval::NodeClassification(args) = eval;
    let spec = spec(args)?;
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
        EvalProgress::Epoch {
            split,
            model,
            report,
        } => {
            if report.epoch % 50 == 0 {
                eprintln!(
                    "  {split} {model}: epoch {} loss {:.4} val ROC-AUC {:.4} ({:.0} s)",
                    report.epoch,
                    report.loss,
                    report.val_auc,
                    started.elapsed().as_secs_f64()
                );
            }
        }
        EvalProgress::Split(r) => eprintln!(
            "{}: graph test ROC-AUC {:.4} (epoch {}), no-graph baseline {:.4}",
            r.split, r.graph.roc_auc, r.best_epoch, r.baseline.roc_auc
        ),
    })?;
    print_report(&report, format);
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
    let mut table = Table::new(&[
        "split",
        "graph ROC-AUC",
        "graph PR-AUC",
        "graph recall@1%FPR",
        "epoch",
        "no-graph ROC-AUC",
        "no-graph PR-AUC",
    ]);
    for r in &report.splits {
        table.rows.push(vec![
            json!(r.split),
            json!(pct(r.graph.roc_auc)),
            json!(pct(r.graph.pr_auc)),
            json!(pct(r.graph.recall_at_1pct_fpr)),
            json!(r.best_epoch),
            json!(pct(r.baseline.roc_auc)),
            json!(pct(r.baseline.pr_auc)),
        ]);
    }
    let ms = |f: &dyn Fn(&argus_db::eval::SplitResult) -> f64| {
        let (m, s) = report.summary(f);
        format!("{:.2} ± {:.2}", m * 100.0, s * 100.0)
    };
    table.rows.push(vec![
        json!("mean ± std"),
        json!(ms(&|r| r.graph.roc_auc)),
        json!(ms(&|r| r.graph.pr_auc)),
        json!(ms(&|r| r.graph.recall_at_1pct_fpr)),
        json!(""),
        json!(ms(&|r| r.baseline.roc_auc)),
        json!(ms(&|r| r.baseline.pr_auc)),
    ]);
    match format {
        Format::Table => {
            println!("{}", table.render());
            println!(
                "(metrics × 100 on each split's test nodes; graph model: {}; baseline: {})",
                describe(&report.features),
                describe(&report.baseline_features)
            );
        }
        Format::Csv => print!("{}", table.to_csv()),
        Format::Json => println!("{}", table.to_json()),
    }
}
