//! Node-classification evaluation straight from CSV files, for the ML core on its own:
//! `nodes.csv` (`id,features...,label`), `edges.csv` (`src,dst`, undirected) and `splits.csv`
//! (`id,split_0,...` with train/val/test). Trains one model per split column and prints
//! per-split rows and mean ± std of test ROC-AUC, with a no-graph baseline (the same model with
//! zero message-passing layers) in the same run.
//!
//! `cargo run --release -p argus-extensions --example node_eval -- ../shared/data/tolokers`

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::time::Instant;

use argus_extensions::ml::backend::Aggregation;
use argus_extensions::ml::cpu::Cpu;
use argus_extensions::ml::matrix::Matrix;
use argus_extensions::ml::relation::Relation;
use argus_extensions::ml::sage::SageConfig;
use argus_extensions::ml::train::{train_node_classifier, NodeSplit, NodeTask, TrainConfig};

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (header, rows)
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/data/tolokers".into());
    let dir = Path::new(&dir);
    let get = |name: &str, default: f64| -> f64 {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let hidden = get("HIDDEN", 64.0) as usize;
    let layers = get("LAYERS", 2.0) as usize;
    let epochs = get("EPOCHS", 500.0) as usize;
    let splits_to_run = get("SPLITS", 10.0) as usize;

    let (header, rows) = read_csv(&dir.join("nodes.csv"));
    let label_col = header
        .iter()
        .position(|h| h == "label")
        .expect("label column");
    let index: HashMap<String, u32> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r[0].clone(), i as u32))
        .collect();
    let feature_cols: Vec<usize> = (1..header.len()).filter(|&c| c != label_col).collect();
    let n = rows.len();
    let mut features = Matrix::zeros(n, feature_cols.len());
    let mut labels = vec![false; n];
    for (i, r) in rows.iter().enumerate() {
        for (j, &c) in feature_cols.iter().enumerate() {
            features.row_mut(i)[j] = r[c].parse().expect("numeric feature");
        }
        labels[i] = r[label_col] == "1";
    }
    features.standardize(&[]);
    let (_, edge_rows) = read_csv(&dir.join("edges.csv"));
    let edges: Vec<(u32, u32)> = edge_rows
        .iter()
        .map(|r| (index[&r[0]], index[&r[1]]))
        .collect();
    let graph = Relation::undirected(n, &edges);
    let (split_header, split_rows) = read_csv(&dir.join("splits.csv"));
    eprintln!(
        "{} nodes, {} features, {} messages; hidden {hidden}, layers {layers}",
        n,
        feature_cols.len(),
        graph.edge_count()
    );

    let mut results: Vec<(String, f64, f64)> = Vec::new();
    for col in 1..split_header.len().min(splits_to_run + 1) {
        let mut split = NodeSplit::default();
        for r in &split_rows {
            let i = index[&r[0]];
            match r[col].as_str() {
                "train" => split.train.push(i),
                "val" => split.val.push(i),
                "test" => split.test.push(i),
                _ => {}
            }
        }
        let mut row = Vec::new();
        for (name, depth) in [("graph", layers), ("no graph", 0)] {
            let config = SageConfig {
                input: feature_cols.len(),
                hidden,
                layers: depth,
                relations: usize::from(depth > 0),
                aggregation: Aggregation::Mean,
                dropout: 0.2,
                seed: col as u64,
            };
            let train = TrainConfig {
                epochs,
                seed: col as u64,
                ..TrainConfig::default()
            };
            let started = Instant::now();
            let out = train_node_classifier(
                &Cpu,
                &NodeTask {
                    graphs: if depth == 0 {
                        &[]
                    } else {
                        std::slice::from_ref(&graph)
                    },
                    features: &features,
                    labels: &labels,
                    split: &split,
                },
                config,
                &train,
                &mut |r| {
                    if r.epoch % 50 == 0 {
                        eprintln!(
                            "  {name} epoch {}: loss {:.4}, val AUC {:.4}",
                            r.epoch, r.loss, r.val_auc
                        );
                    }
                },
            );
            eprintln!(
                "{}: {name}: best epoch {}, val {:.4}, test ROC-AUC {:.4}, PR-AUC {:.4} ({:.1} s)",
                split_header[col],
                out.best_epoch,
                out.val_auc,
                out.test.roc_auc,
                out.test.pr_auc,
                started.elapsed().as_secs_f64()
            );
            row.push(out.test.roc_auc);
        }
        results.push((split_header[col].clone(), row[0], row[1]));
    }
    println!("split      graph    no graph");
    for (s, g, b) in &results {
        println!("{s:<10} {:.4}   {:.4}", g, b);
    }
    let (gm, gs) = mean_std(&results.iter().map(|r| r.1 * 100.0).collect::<Vec<_>>());
    let (bm, bs) = mean_std(&results.iter().map(|r| r.2 * 100.0).collect::<Vec<_>>());
    println!("mean ± std (ROC-AUC × 100): graph {gm:.2} ± {gs:.2}, no graph {bm:.2} ± {bs:.2}");
}
