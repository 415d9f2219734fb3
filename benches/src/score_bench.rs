//! Scoring benchmark: single-entity fraud scores from the store on the generated payments graph
//! (5 M payments by default, the store `sql_bench` builds), for a 2-layer GNN and for boosted
//! trees on graph features, each reading every node's newest 10 messages per relation and hop
//! (the bounded neighbourhood the model was trained and evaluated on), as of now and as of a past
//! time; plus a vectorised batch and an explanation. Trains and registers each model first when
//! the store has none of that name (GNN: mini-batch training, so memory follows the batch, not
//! the graph).
//!
//! `cargo run --release -p argus-benches --bin score_bench -- --db bench-out/sql/argus`

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};
use argus_benches::{load_average, ms, percentile, text_table};
use argus_db::model::{LoadedModel, ScoringGraph};
use argus_db::serving::Scorer;
use argus_db::train::{train_model, Family, SplitSource, TrainProgress, TrainSpec};
use argus_db::{Database, Device, DeviceRequest, Snapshot};
use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Command-line options.
#[derive(Parser, Debug)]
#[command(about = "Single-entity fraud-score latency from the store")]
struct Args {
    /// A loaded payments store (e.g. the one `sql_bench` builds).
    #[arg(long, default_value = "bench-out/sql/argus")]
    db: PathBuf,
    /// Model families to measure, comma-separated (gnn, trees): model `bench_user_FAMILY` each,
    /// trained when missing.
    #[arg(long, value_delimiter = ',', default_value = "gnn,trees")]
    families: Vec<String>,
    /// Entities scored one at a time.
    #[arg(long, default_value_t = 2000)]
    entities: usize,
    /// Keys in the vectorised batch.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Users in the training sample when the model is missing (2/3 train, 1/6 val, 1/6 test).
    #[arg(long, default_value_t = 12_000)]
    train_users: usize,
    /// Device the models train and score on: cpu, cuda or auto (the GPU when one can be used).
    #[arg(long, default_value = "auto")]
    device: String,
    /// Also score every user: from blocks, through `score_keys` in SQL-sized batches, and in one
    /// pass over the whole graph.
    #[arg(long)]
    every_user: bool,
    /// Training epochs when the model is missing.
    #[arg(long, default_value_t = 2)]
    epochs: usize,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if !args.db.exists() {
        bail!(
            "{} does not exist: build it with `cargo run --release -p argus-benches --bin sql_bench`",
            args.db.display()
        );
    }
    let request = DeviceRequest::parse(&args.device).map_err(anyhow::Error::msg)?;
    let db = Database::open(&args.db)?.with_device(request);
    eprintln!("device: {}", db.device()?.describe());
    for name in &args.families {
        let Some(family) = Family::parse(name) else {
            bail!("unknown family {name:?} (gnn, trees)");
        };
        let model = format!("bench_user_{}", family.name());
        if db.model(&model, None).is_err() {
            train(&db, &model, family, &args)?;
        }
        measure(&db, &model, &args)?;
    }
    Ok(())
}

fn train(db: &Database, model: &str, family: Family, args: &Args) -> Result<()> {
    let mut spec = TrainSpec::new("user", "is_fraud");
    spec.families = vec![family];
    spec.gnn.epochs = args.epochs;
    spec.gnn.batch_size = 1024;
    spec.neighbours = 10;
    eprintln!(
        "training {model} ({}; newest 10 messages per relation and hop)",
        match family {
            Family::Gnn => format!(
                "2-layer GNN, hidden {}, mini-batches of 1024, {} epochs",
                spec.gnn.hidden, args.epochs
            ),
            Family::Trees => "boosted trees on graph features".to_string(),
        }
    );
    let started = Instant::now();
    // Training on every user would take an hour on two cores: a fixed sample of users is
    // enough for a latency benchmark (the model's quality is not what is measured here).
    let splits = args.db.with_extension("score-splits.csv");
    let mut text = String::from("id,split\n");
    let users = db
        .snapshot()
        .node_count(db.snapshot().catalog().label("user")?.id)?;
    for k in 0..args.train_users.min(users as usize) {
        let id = (k * 24_989) % users as usize;
        let part = ["train", "train", "train", "train", "val", "test"][k % 6];
        text.push_str(&format!("{id},{part}\n"));
    }
    std::fs::write(&splits, text)?;
    let run = train_model(
        db,
        model,
        &spec,
        &SplitSource::File {
            path: splits,
            column: None,
        },
        true,
        &mut |_, p| {
            if let TrainProgress::Epoch(r) = p {
                eprintln!(
                    "  epoch {} loss {:.4} val ROC-AUC {:.4} ({:.0} s)",
                    r.epoch,
                    r.loss,
                    r.val_auc,
                    started.elapsed().as_secs_f64()
                );
            }
        },
    )?;
    eprintln!(
        "trained in {:.0} s: val ROC-AUC {:.4}, test ROC-AUC {:.4}",
        started.elapsed().as_secs_f64(),
        run.version.val_auc,
        run.version.test.roc_auc
    );
    Ok(())
}

/// Every user scored three ways: blocks only, `Scorer::score_keys` in SQL-sized batches (blocks
/// until the pass over the whole graph pays, then the pass), and the pass alone.
fn every_user(
    rows: &mut Vec<Vec<String>>,
    snapshot: &Snapshot,
    scorer: &Scorer,
    loaded: &LoadedModel,
    graph: &ScoringGraph,
    users: usize,
    device: Device,
) -> Result<()> {
    let keys: Vec<String> = (0..users).map(|i| i.to_string()).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let offset = graph
        .projection
        .labels
        .iter()
        .find(|r| r.name == "user")
        .map_or(0, |r| r.offset) as u32;
    let targets: Vec<(u32, Option<i64>)> = (0..users as u32).map(|i| (offset + i, None)).collect();
    let per_key = |ms: f64| format!("{:.4}", ms / users as f64);

    let t = Instant::now();
    for chunk in targets.chunks(SQL_BATCH) {
        loaded.score(graph, chunk)?;
    }
    rows.push(vec![
        format!("every user ({users}), batches of {SQL_BATCH} from their blocks (per key)"),
        per_key(ms(t.elapsed())),
        "–".into(),
        "1".into(),
    ]);

    // A fresh scorer, as a new snapshot gets one: no pass made yet.
    let fresh = Scorer::on(scorer.version.clone(), snapshot, device)?;
    let t = Instant::now();
    let mut blocks = 0;
    for chunk in refs.chunks(SQL_BATCH) {
        fresh.score_keys(snapshot, chunk, None)?;
        blocks += usize::from(!fresh.has_whole_graph_scores());
    }
    rows.push(vec![
        format!(
            "every user, batches of {SQL_BATCH} through score_keys: {blocks} of {} from blocks (per key)",
            users.div_ceil(SQL_BATCH)
        ),
        per_key(ms(t.elapsed())),
        "–".into(),
        "1".into(),
    ]);

    // Again on the same scorer: the keys are looked up, the scores read from the kept pass.
    let t = Instant::now();
    for chunk in refs.chunks(SQL_BATCH) {
        fresh.score_keys(snapshot, chunk, None)?;
    }
    rows.push(vec![
        "every user again, the pass kept (per key)".into(),
        per_key(ms(t.elapsed())),
        "–".into(),
        "1".into(),
    ]);

    let t = Instant::now();
    let all = loaded.score_label(graph)?;
    rows.push(vec![
        "every user, one pass over the whole graph (per key)".into(),
        per_key(ms(t.elapsed())),
        "–".into(),
        "1".into(),
    ]);
    assert!(all.len() >= users);
    Ok(())
}

/// DataFusion's default batch size: `fraud_score(key)` over a table sees its keys in batches
/// of this many.
const SQL_BATCH: usize = 8192;

fn measure(db: &Database, model: &str, args: &Args) -> Result<()> {
    let started = Instant::now();
    let scorer = db.scorer(model, None)?;
    let load = started.elapsed();
    let snapshot = db.snapshot();
    let users = snapshot.node_count(snapshot.catalog().label("user")?.id)? as usize;
    // Keys of the generator: 0 .. n-1, drawn with a fixed stride so the run is repeatable.
    let keys: Vec<String> = (0..args.entities.max(args.batch))
        .map(|i| ((i * 7_919) % users).to_string())
        .collect();
    let newest = scorer.version.trained_on.newest_edge.unwrap_or(0);
    let month_before = newest - 30 * 86_400 * 1_000_000;
    let mut rows = Vec::new();
    for (what, as_of) in [("now", None), ("as of 30 days before", Some(month_before))] {
        // Warm the caches the way a serving process is warm.
        for key in keys.iter().take(100) {
            scorer.score(&snapshot, key, as_of)?;
        }
        let mut times = Vec::with_capacity(args.entities);
        for key in keys.iter().take(args.entities) {
            let t = Instant::now();
            scorer.score(&snapshot, key, as_of)?;
            times.push(ms(t.elapsed()));
        }
        rows.push(vec![
            format!("one entity, {what}"),
            format!("{:.3}", percentile(&times, 50.0)),
            format!("{:.3}", percentile(&times, 99.0)),
            args.entities.to_string(),
        ]);
    }
    // The batch rows call the model directly, so each measures one way of scoring: from the
    // keys' blocks, or one pass over the whole graph.
    let m = &scorer.version.model;
    let graph = ScoringGraph::build(&snapshot, &m.label, &m.edge_types, &m.properties)?;
    let loaded = LoadedModel::on(m.clone(), db.device()?);
    let user_label = snapshot.catalog().label("user")?.id;
    let index = |key: &str| -> Result<u32> {
        let id = snapshot
            .node_id_in(user_label, key)?
            .ok_or_else(|| anyhow::anyhow!("no user {key}"))?;
        Ok(graph
            .projection
            .index_of(user_label, id)
            .expect("projected") as u32)
    };
    let batch: Vec<(u32, Option<i64>)> = keys
        .iter()
        .take(args.batch)
        .map(|k| Ok((index(k)?, None)))
        .collect::<Result<_>>()?;
    let t = Instant::now();
    let (scores, _) = loaded.score(&graph, &batch)?;
    let batch_ms = ms(t.elapsed());
    assert_eq!(scores.len(), batch.len());
    rows.push(vec![
        format!("batch of {} keys from their blocks (per key)", batch.len()),
        format!("{:.4}", batch_ms / batch.len() as f64),
        "–".into(),
        "1".into(),
    ]);
    if args.every_user {
        every_user(
            &mut rows,
            &snapshot,
            &scorer,
            &loaded,
            &graph,
            users,
            db.device()?,
        )?;
    }
    let mut times = Vec::new();
    for key in keys.iter().take(50) {
        let t = Instant::now();
        scorer.explain(&snapshot, key, None)?;
        times.push(ms(t.elapsed()));
    }
    rows.push(vec![
        "explanation (features + every first-hop neighbour)".into(),
        format!("{:.2}", percentile(&times, 50.0)),
        format!("{:.2}", percentile(&times, 99.0)),
        "50".into(),
    ]);
    println!(
        "model {} v{} ({}), {} users; scorer loaded (projection + features) in {:.1} s; load average {}",
        scorer.version.name,
        scorer.version.version,
        scorer.version.model.kind.family(),
        users,
        load.as_secs_f64(),
        load_average()
    );
    println!(
        "{}",
        text_table(
            &["what", "median ms", "p99 ms", "runs"],
            &rows,
            &[false, true, true, true]
        )
    );
    Ok(())
}
