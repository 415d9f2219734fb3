//! GNN benchmark: Argus's CPU GraphSAGE against PyTorch Geometric on tolokers — full-graph
//! inference and one full-batch training step (forward, weighted BCE, backward, AdamW), same
//! architecture (2 layers, residual + layer norm, mean aggregation), hidden 64 and 256, both
//! on 2 threads, in one run.
//!
//! Argus reads the graph from a store (loaded once into `WORK/tolokers.db` from the CSVs)
//! through the `argus-db` projection; PyG reads the CSVs (`pyg_bench.py`).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use argus_benches::{fmt_num, load_average, ms, peer_python, percentile, python_has, text_table};
use argus_db::features::{numeric_properties, property_features};
use argus_db::projection::project;
use argus_extensions::ml::backend::{AdamW, Aggregation, Backend};
use argus_extensions::ml::cpu::Cpu;
use argus_extensions::ml::matrix::Matrix;
use argus_extensions::ml::relation::Relation;
use argus_extensions::ml::sage::{Sage, SageConfig};
use clap::Parser;
use serde_json::Value as Json;

// As in `argus`: training allocates and frees large matrices every step.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PYG_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/pyg_bench.py");

/// Command-line options.
#[derive(Parser, Debug)]
#[command(about = "Argus vs PyTorch Geometric: GNN inference and training step on tolokers")]
struct Args {
    /// The tolokers data set (nodes.csv, edges.csv).
    #[arg(long, default_value = "../shared/data/tolokers")]
    data: PathBuf,
    /// Working directory (the Argus store).
    #[arg(long, default_value = "./bench-out/gnn")]
    work: PathBuf,
    /// Timed runs of each operation.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Hidden widths.
    #[arg(long, value_delimiter = ',', default_value = "64,256")]
    hidden: Vec<usize>,
    /// Run Argus only.
    #[arg(long)]
    skip_pyg: bool,
}

macro_rules! progress {
    ($($arg:tt)*) => { eprintln!("[gnn_bench] {}", format_args!($($arg)*)) };
}

fn main() -> Result<()> {
    let args = Args::parse();
    if !args.data.join("nodes.csv").exists() {
        progress!(
            "skipped: {} has no nodes.csv (the tolokers data set)",
            args.data.display()
        );
        return Ok(());
    }
    let load_at_start = load_average();
    let db = argus_benches::tolokers_store(&args.data, &args.work)?;
    let snapshot = db.snapshot();
    let started = Instant::now();
    let projection = project(&snapshot, &[], &["toloker".to_string()])?;
    let props = numeric_properties(&snapshot, "toloker", &["label"])?;
    let mut features = property_features(&snapshot, &projection, "toloker", &props)?.matrix;
    features.standardize(&[]);
    let labels = argus_db::features::property_values(&snapshot, &projection, "toloker", "label")?;
    progress!(
        "projection: {} nodes, {} messages, {} features ({:.2} s)",
        projection.node_count,
        projection.relations[0].relation.edge_count(),
        features.cols,
        started.elapsed().as_secs_f64()
    );
    let graphs: Vec<Relation> = projection
        .relations
        .iter()
        .map(|r| r.relation.clone())
        .collect();
    let n = features.rows;
    let mut targets = Matrix::zeros(n, 1);
    let mut weights = Matrix::zeros(n, 1);
    for (i, l) in labels.iter().enumerate() {
        targets.data[i] = l.unwrap_or(0.0) as f32;
        weights.data[i] = if i < n / 2 { 1.0 } else { 0.0 };
    }

    let mut argus: Vec<(usize, Vec<f64>, Vec<f64>)> = Vec::new();
    for &hidden in &args.hidden {
        let mut sage = Sage::new(
            &Cpu,
            SageConfig {
                input: features.cols,
                hidden,
                layers: 2,
                relations: graphs.len(),
                aggregation: Aggregation::Mean,
                dropout: 0.2,
                seed: 0,
            },
        );
        let hp = AdamW {
            lr: 3e-3,
            weight_decay: 1e-4,
            ..AdamW::default()
        };
        let x = Cpu.upload(&features);
        let mut infer = Vec::new();
        let mut train = Vec::new();
        for run in 0..args.runs + 3 {
            let t = Instant::now();
            let (logits, _) = sage.forward(&Cpu, &graphs, &x, false, 0);
            std::hint::black_box(logits);
            if run >= 3 {
                infer.push(ms(t.elapsed()));
            }
        }
        for run in 0..args.runs + 3 {
            let t = Instant::now();
            let (logits, cache) = sage.forward(&Cpu, &graphs, &x, true, run as u64);
            let (_, dlogits) = Cpu.bce_with_logits(&logits, &targets, &weights);
            sage.backward(&Cpu, &graphs, &cache, &dlogits);
            sage.update(&Cpu, &hp);
            if run >= 3 {
                train.push(ms(t.elapsed()));
            }
        }
        progress!(
            "argus hidden {hidden}: inference median {:.1} ms, train step median {:.1} ms",
            percentile(&infer, 50.0),
            percentile(&train, 50.0)
        );
        argus.push((hidden, infer, train));
    }

    let pyg = if args.skip_pyg { None } else { run_pyg(&args)? };
    let mut rows = Vec::new();
    for (hidden, infer, train) in &argus {
        for (what, ours, key) in [
            ("inference", infer, "inference"),
            ("training step", train, "train_step"),
        ] {
            let theirs: Option<Vec<f64>> = pyg.as_ref().and_then(|p| {
                p["runs"][hidden.to_string()][key]
                    .as_array()
                    .map(|a| a.iter().filter_map(Json::as_f64).collect())
            });
            let (m, t) = (
                percentile(ours, 50.0),
                theirs.as_ref().map(|t| percentile(t, 50.0)),
            );
            let ratio = t.map(|t| t / m);
            rows.push(vec![
                format!("hidden {hidden}: {what} (median ms)"),
                fmt_num(Some(m), 1),
                fmt_num(t, 1),
                ratio.map_or("-".into(), |r| format!("{r:.2}x")),
                ">= 3x".into(),
                ratio.map_or(String::new(), |r| {
                    if r >= 3.0 { "yes" } else { "NO" }.to_string()
                }),
            ]);
        }
    }
    println!();
    println!(
        "GNN benchmark: tolokers ({} nodes, {} messages), 2 layers, mean aggregation, residual + layer norm; {} runs; 2 threads each",
        n,
        graphs[0].edge_count(),
        args.runs
    );
    println!(
        "machine: {} cores; load average at start {load_at_start}, at end {}",
        argus_benches::cores(),
        load_average()
    );
    println!(
        "{}",
        text_table(
            &["operation", "argus", "pyg", "speed-up", "target", "met"],
            &rows,
            &[false, true, true, true, false, false]
        )
    );
    Ok(())
}

fn run_pyg(args: &Args) -> Result<Option<Json>> {
    let python = peer_python();
    if !python_has(&python, "torch_geometric") {
        progress!(
            "PyG skipped: `{} -c 'import torch_geometric'` failed; run benches/setup_peers.sh --gnn or set ARGUS_BENCH_PYTHON",
            python.display()
        );
        return Ok(None);
    }
    let hidden: Vec<String> = args.hidden.iter().map(|h| h.to_string()).collect();
    let output = Command::new(&python)
        .arg(PYG_SCRIPT)
        .arg(&args.data)
        .args([
            "--threads",
            "2",
            "--runs",
            &args.runs.to_string(),
            "--hidden",
        ])
        .args(&hidden)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !output.status.success() {
        bail!("pyg_bench.py failed ({})", output.status);
    }
    Ok(Some(serde_json::from_slice(&output.stdout)?))
}
