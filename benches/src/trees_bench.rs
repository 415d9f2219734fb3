//! Boosted-trees benchmark: Argus's gradient-boosted trees against XGBoost on the identical
//! feature matrix — tolokers' node features, degrees and neighbourhood aggregates as Argus's
//! tree model builds them — with the same hyperparameters and the 10 published splits, both on
//! 2 threads, in one run: test ROC-AUC and training time per split.
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
use argus_db::Database;
use argus_extensions::ml::gbdt::{train_gbdt, GbdtConfig};
use argus_extensions::ml::metrics::roc_auc;
use clap::Parser;
use serde_json::Value as Json;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const XGB_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/xgb_bench.py");

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
    let db = Database::open(tolokers_store(&args.data, &args.work)?)?;
    let snapshot = db.snapshot();
    let spec = TrainSpec::new("toloker", "label");
    let prepared = prepare(&snapshot, &spec)?;
    let p = &prepared.graph.projection;
    let x = &prepared.tree_inputs().matrix;
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

    let mut argus: HashMap<String, (f64, usize, f64)> = HashMap::new();
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
    let mut xgb: HashMap<String, (f64, usize, f64)> = HashMap::new();
    if python_has(&python, "xgboost") && python_has(&python, "sklearn") {
        let output = Command::new(&python)
            .arg(XGB_SCRIPT)
            .arg(&csv)
            .arg(&params)
            .output()?;
        if !output.status.success() {
            bail!(
                "xgb_bench.py failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let v: Json = serde_json::from_str(line)?;
            xgb.insert(
                v["split"].as_str().unwrap_or_default().to_string(),
                (
                    v["test_auc"].as_f64().unwrap_or(f64::NAN),
                    v["trees"].as_u64().unwrap_or(0) as usize,
                    v["seconds"].as_f64().unwrap_or(f64::NAN),
                ),
            );
        }
    } else {
        eprintln!("XGBoost skipped: `pip install xgboost scikit-learn` into {} (benches/setup_peers.sh --trees)", python.display());
    }

    let mut rows = Vec::new();
    let mut sums = [0.0f64; 4];
    for name in &header[1..] {
        let a = argus[*name];
        let x = xgb.get(*name).copied();
        sums[0] += a.0;
        sums[1] += a.2;
        if let Some(x) = x {
            sums[2] += x.0;
            sums[3] += x.2;
        }
        rows.push(vec![
            name.to_string(),
            format!("{:.2}", a.0 * 100.0),
            a.1.to_string(),
            format!("{:.2}", a.2),
            x.map_or("-".into(), |x| format!("{:.2}", x.0 * 100.0)),
            x.map_or("-".into(), |x| x.1.to_string()),
            x.map_or("-".into(), |x| format!("{:.2}", x.2)),
        ]);
    }
    let k = (header.len() - 1) as f64;
    rows.push(vec![
        "mean".into(),
        format!("{:.2}", sums[0] / k * 100.0),
        String::new(),
        format!("{:.2}", sums[1] / k),
        if xgb.is_empty() {
            "-".into()
        } else {
            format!("{:.2}", sums[2] / k * 100.0)
        },
        String::new(),
        if xgb.is_empty() {
            "-".into()
        } else {
            format!("{:.2}", sums[3] / k)
        },
    ]);
    println!(
        "tolokers, {} nodes, {} features per node (the tree model's inputs); load average {}",
        x.rows,
        x.cols,
        load_average()
    );
    println!(
        "{}",
        text_table(
            &[
                "split",
                "argus ROC-AUC",
                "argus trees",
                "argus s",
                "xgboost ROC-AUC",
                "xgboost trees",
                "xgboost s"
            ],
            &rows,
            &[false, true, true, true, true, true, true]
        )
    );
    if !xgb.is_empty() {
        println!(
            "training time ratio (xgboost / argus): {:.2}x",
            sums[3] / sums[1]
        );
    }
    Ok(())
}
