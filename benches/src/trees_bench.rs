//! Boosted-trees benchmark: Argus's gradient-boosted trees against XGBoost on the identical
//! feature matrix — tolokers' node features, degrees and neighbourhood aggregates as Argus's
//! tree model builds them, spectral coordinates included — with the same hyperparameters and the 10 published splits, both on
//! 2 threads, in one run: test ROC-AUC and training time per split. With `--perpetual-budget B`
//! the same run also trains Perpetual, the maintained Rust gradient-boosting crate, on the same
//! matrix (its only setting is the budget).
//!
//! `cargo run --release -p argus-benches --bin trees_bench -- --data ../shared/data/tolokers`

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use argus_benches::{load_average, peer_python, python_has, text_table, tolokers_store};
use argus_db::train::{prepare, TrainSpec};
use argus_extensions::ml::gbdt::{train_gbdt, GbdtConfig};
use argus_extensions::ml::metrics::roc_auc;
use clap::Parser;
use serde_json::Value as Json;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const XGB_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/xgb_bench.py");
const PERPETUAL_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/perpetual_bench.py");

/// Per split: test ROC-AUC, trees, training seconds.
type SplitResults = HashMap<String, (f64, usize, f64)>;

/// Command-line options.
#[derive(Parser, Debug)]
#[command(about = "Argus boosted trees vs XGBoost on tolokers graph features")]
struct Args {
    /// The tolokers data set (nodes.csv, edges.csv, splits.csv).
    #[arg(long, default_value = "../shared/data/tolokers")]
    data: PathBuf,
    /// Working directory (store and the exported feature matrix).
    #[arg(long, default_value = "./bench-out/trees")]
    work: PathBuf,
    /// Also train Perpetual with this budget (0.5 is its default; it takes about a minute per
    /// split here).
    #[arg(long)]
    perpetual_budget: Option<f64>,
    /// Train Perpetual on the first N splits only.
    #[arg(long)]
    perpetual_splits: Option<usize>,
}

/// Run a peer's script (`python SCRIPT ARGS...`, one JSON object per split on stdout).
fn peer_results(python: &std::path::Path, script: &str, args: &[String]) -> Result<SplitResults> {
    let output = Command::new(python).arg(script).args(args).output()?;
    if !output.status.success() {
        bail!(
            "{script} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let mut results = SplitResults::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let v: Json = serde_json::from_str(line)?;
        results.insert(
            v["split"].as_str().unwrap_or_default().to_string(),
            (
                v["test_auc"].as_f64().unwrap_or(f64::NAN),
                v["trees"].as_u64().unwrap_or(0) as usize,
                v["seconds"].as_f64().unwrap_or(f64::NAN),
            ),
        );
    }
    Ok(results)
}

fn main() -> Result<()> {
    let args = Args::parse();
    if !args.data.join("splits.csv").exists() {
        eprintln!(
            "skipped: {} has no splits.csv (the tolokers data set)",
            args.data.display()
        );
        return Ok(());
    }
    let db = tolokers_store(&args.data, &args.work)?;
    let snapshot = db.snapshot();
    let spec = TrainSpec::new("toloker", "label");
    let prepared = prepare(&snapshot, &spec)?;
    let p = &prepared.graph.projection;
    let x = &prepared.spectral_tree_inputs().matrix;
    let labels: Vec<bool> = prepared
        .labelled
        .iter()
        .map(|l| l.unwrap_or(false))
        .collect();

    // The splits, by node index.
    let text = std::fs::read_to_string(args.data.join("splits.csv"))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .context("empty splits.csv")?
        .split(',')
        .collect();
    let label = snapshot.catalog().label("toloker")?.id;
    let mut part_of: Vec<Vec<&str>> = vec![vec![""; header.len() - 1]; x.rows];
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let id = snapshot
            .node_id_in(label, cells[0])?
            .with_context(|| format!("no toloker {}", cells[0]))?;
        let i = p.index_of(label, id).context("outside the projection")?;
        part_of[i] = cells[1..].to_vec();
    }

    // The identical matrix for XGBoost.
    let csv = args.work.join("tolokers_tree_features.csv");
    let mut out = String::new();
    let cols: Vec<String> = (0..x.cols).map(|j| format!("x{j}")).collect();
    writeln!(out, "{},label,{}", cols.join(","), header[1..].join(","))?;
    for i in 0..x.rows {
        for v in x.row(i) {
            if v.is_nan() {
                out.push(',');
            } else {
                write!(out, "{v},")?;
            }
        }
        writeln!(out, "{},{}", u8::from(labels[i]), part_of[i].join(","))?;
    }
    std::fs::write(&csv, out)?;
    // One booster each (no seed bagging), the tree model's other settings.
    let config = GbdtConfig {
        bags: 1,
        ..argus_db::train::default_tree_config()
    };
    let params = args.work.join("tree_params.json");
    std::fs::write(&params, serde_json::to_string(&config)?)?;

    let mut argus = SplitResults::new();
    for (s, name) in header[1..].iter().enumerate() {
        let pick = |what: &str| -> Vec<u32> {
            (0..x.rows as u32)
                .filter(|&i| part_of[i as usize][s] == what)
                .collect()
        };
        let (train, val, test) = (pick("train"), pick("val"), pick("test"));
        let started = Instant::now();
        let out = train_gbdt(x, &labels, &train, &val, &config, &mut |_| {});
        let seconds = started.elapsed().as_secs_f64();
        let scores: Vec<f32> = test
            .iter()
            .map(|&i| out.model.logit(x.row(i as usize)))
            .collect();
        let truth: Vec<bool> = test.iter().map(|&i| labels[i as usize]).collect();
        let auc = roc_auc(&scores, &truth).unwrap_or(f64::NAN);
        eprintln!(
            "argus {name}: test ROC-AUC {auc:.4}, {} trees, {seconds:.2} s",
            out.model.trees.len()
        );
        argus.insert(name.to_string(), (auc, out.model.trees.len(), seconds));
    }

    let python = peer_python();
    let path_arg = |p: &PathBuf| p.display().to_string();
    let xgb = if python_has(&python, "xgboost") && python_has(&python, "sklearn") {
        peer_results(&python, XGB_SCRIPT, &[path_arg(&csv), path_arg(&params)])?
    } else {
        eprintln!("XGBoost skipped: `pip install xgboost scikit-learn` into {} (benches/setup_peers.sh --trees)", python.display());
        SplitResults::new()
    };
    let perpetual = match args.perpetual_budget {
        Some(budget) if python_has(&python, "perpetual") && python_has(&python, "sklearn") => {
            eprintln!("perpetual: budget {budget}");
            let mut script_args = vec![path_arg(&csv), budget.to_string()];
            if let Some(n) = args.perpetual_splits {
                script_args.push(n.to_string());
            }
            peer_results(&python, PERPETUAL_SCRIPT, &script_args)?
        }
        Some(_) => {
            eprintln!("Perpetual skipped: `pip install perpetual scikit-learn` into {} (benches/setup_peers.sh --trees)", python.display());
            SplitResults::new()
        }
        None => SplitResults::new(),
    };

    // Per peer: (name, results); the means cover the splits every system ran.
    let peers: Vec<(&str, &SplitResults)> = [("xgboost", &xgb), ("perpetual", &perpetual)]
        .into_iter()
        .filter(|(_, r)| !r.is_empty())
        .collect();
    let splits: Vec<&str> = header[1..]
        .iter()
        .copied()
        .filter(|name| peers.iter().all(|(_, r)| r.contains_key(*name)))
        .collect();
    let mut rows = Vec::new();
    let mut sums = vec![(0.0f64, 0.0f64); 1 + peers.len()];
    for name in &splits {
        let mut row = vec![name.to_string()];
        let systems = std::iter::once(&argus).chain(peers.iter().map(|(_, r)| *r));
        for (sum, results) in sums.iter_mut().zip(systems) {
            let (auc, trees, seconds) = results[*name];
            sum.0 += auc;
            sum.1 += seconds;
            row.extend([
                format!("{:.2}", auc * 100.0),
                trees.to_string(),
                format!("{seconds:.2}"),
            ]);
        }
        rows.push(row);
    }
    let k = splits.len().max(1) as f64;
    let mut mean = vec!["mean".to_string()];
    for (auc, seconds) in &sums {
        mean.extend([
            format!("{:.2}", auc / k * 100.0),
            String::new(),
            format!("{:.2}", seconds / k),
        ]);
    }
    rows.push(mean);
    let mut columns = vec!["split".to_string()];
    for system in std::iter::once("argus").chain(peers.iter().map(|(n, _)| *n)) {
        columns.extend([
            format!("{system} ROC-AUC"),
            format!("{system} trees"),
            format!("{system} s"),
        ]);
    }
    let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
    let right: Vec<bool> = (0..columns.len()).map(|c| c > 0).collect();
    println!(
        "tolokers, {} nodes, {} features per node (the tree model's inputs); load average {}",
        x.rows,
        x.cols,
        load_average()
    );
    println!("{}", text_table(&columns, &rows, &right));
    for (i, (name, _)) in peers.iter().enumerate() {
        println!(
            "training time ratio ({name} / argus): {:.2}x; test ROC-AUC difference (argus - {name}): {:+.2}",
            sums[i + 1].1 / sums[0].1,
            (sums[0].0 - sums[i + 1].0) / k * 100.0
        );
    }
    Ok(())
}
