//! Recommender benchmark on MovieLens 100K: Argus's recommender families against `implicit`'s
//! ALS and BPR (PyPI) on the identical temporal split of `../shared/data/README.md`, in one
//! run on the same machine: Recall@20, NDCG@20 and fit time. Argus's families are each chosen
//! on validation carved from training and refitted; the peers get the settings the data
//! set's README measured them with (no selection), and fit on the same 2 threads.
//!
//! `cargo run --release -p argus-benches --bin recs_bench -- --data ../shared/data/movielens-100k`
//! (peers: `benches/setup_peers.sh --recs`; without them the Argus rows print alone).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Result};
use argus_benches::{load_average, movielens_store, peer_python, python_has, text_table};
use argus_db::recommend::data::InteractionTypes;
use argus_db::recommend::train::RecommendProgress;
use argus_db::recommend::RecommenderSpec;
use clap::Parser;
use serde_json::Value as Json;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PEER_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/recs_bench.py");

/// Command-line options.
#[derive(Parser, Debug)]
#[command(about = "Argus recommenders vs implicit ALS/BPR on MovieLens 100K")]
struct Args {
    /// The MovieLens 100K folder (u.data, u.item, u.genre).
    #[arg(long, default_value = "../shared/data/movielens-100k")]
    data: PathBuf,
    /// Working directory (store and the split handed to the peers).
    #[arg(long, default_value = "./bench-out/recs")]
    work: PathBuf,
    /// Threads for the peers (Argus uses the machine's rayon pool).
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if !args.data.join("u.data").exists() {
        eprintln!(
            "skipped: {} has no u.data (MovieLens 100K)",
            args.data.display()
        );
        return Ok(());
    }
    let (db, genres) = movielens_store(&args.data, &args.work)?;
    let spec = RecommenderSpec {
        interactions: vec!["rated".into()],
        category_properties: genres,
        ..RecommenderSpec::default()
    };
    let report = db.evaluate_recommenders(&spec, &mut |p| {
        if let RecommendProgress::Refit(c) = p {
            eprintln!("refitting {}", c.describe());
        }
    })?;

    // The same split for the peers: distinct (user, item) pairs by dense index.
    let snapshot = db.snapshot();
    let types = InteractionTypes::resolve(&snapshot, &spec.interactions)?;
    let log = types.log(&snapshot)?;
    let (train, test) = log.temporal_split(spec.train_fraction);
    for (name, part) in [("train.csv", &train), ("test.csv", &test)] {
        let mut out = String::from("user,item\n");
        for (u, i) in part.pairs() {
            out.push_str(&format!("{u},{i}\n"));
        }
        std::fs::write(args.work.join(name), out)?;
    }
    std::fs::write(
        args.work.join("shape.json"),
        format!(
            "{{\"users\": {}, \"items\": {}}}",
            log.user_count, log.item_count
        ),
    )?;

    let k = spec.k;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut seconds_of_row: Vec<f64> = Vec::new();
    for f in &report.families {
        seconds_of_row.push(f.fit_seconds);
        rows.push(vec![
            format!("Argus {}", f.config.family.name()),
            f.config.describe(),
            format!("{:.4}", f.test.recall),
            format!("{:.4}", f.test.ndcg),
            format!("{:.3}", f.fit_seconds),
            if f.config.family == report.picked {
                "picked".into()
            } else {
                String::new()
            },
        ]);
    }
    let python = peer_python();
    let mut als_seconds = None;
    if python_has(&python, "implicit") {
        let output = Command::new(&python)
            .arg(PEER_SCRIPT)
            .arg(&args.work)
            .arg(k.to_string())
            .arg(args.threads.to_string())
            .output()?;
        if !output.status.success() {
            bail!(
                "{PEER_SCRIPT} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let v: Json = serde_json::from_str(line)?;
            let name = v["model"].as_str().unwrap_or_default().to_string();
            let seconds = v["seconds"].as_f64().unwrap_or(f64::NAN);
            if name.contains("ALS") {
                als_seconds = Some(seconds);
            }
            seconds_of_row.push(seconds);
            rows.push(vec![
                name.clone(),
                if name.contains("ALS") {
                    "64 factors, reg 0.05, 15 iterations".into()
                } else {
                    "64 factors, 100 iterations".into()
                },
                format!("{:.4}", v["recall"].as_f64().unwrap_or(f64::NAN)),
                format!("{:.4}", v["ndcg"].as_f64().unwrap_or(f64::NAN)),
                format!("{seconds:.3}"),
                String::new(),
            ]);
        }
    } else {
        eprintln!(
            "implicit is not installed in {}: peer rows skipped (benches/setup_peers.sh --recs)",
            python.display()
        );
    }
    let mut header = vec![
        "system",
        "configuration",
        "Recall@20",
        "NDCG@20",
        "fit s",
        "",
    ];
    let ratio_column;
    if let Some(als) = als_seconds {
        ratio_column = "fit ÷ ALS fit".to_string();
        header.insert(5, &ratio_column);
        for (row, seconds) in rows.iter_mut().zip(&seconds_of_row) {
            row.insert(5, format!("{:.2}×", seconds / als));
        }
    }
    println!(
        "MovieLens 100K, temporal split {:.0}/{:.0} per user, {} users ranked over all unseen items; load {}",
        spec.train_fraction * 100.0,
        (1.0 - spec.train_fraction) * 100.0,
        report.test_users,
        load_average()
    );
    let right: Vec<bool> = header
        .iter()
        .enumerate()
        .map(|(i, _)| (2..header.len() - 1).contains(&i))
        .collect();
    println!("{}", text_table(&header, &rows, &right));
    println!(
        "Argus chose each family's configuration on validation first ({:.1} s for all {} configurations); the peers' settings are given.",
        report.selection_seconds,
        report.candidates.len()
    );
    Ok(())
}
