//! `argus demo`: the main job end to end — generate a payments graph, load it with progress,
//! print its statistics, run neighbourhood and time-window queries on planted fraud, train fraud
//! models and explain the riskiest users, and check the store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use argus_engine::load::{self, EdgeLoad, LoadOptions, LoadProgress, NodeLoad};
use argus_engine::time::format_micros;
use argus_engine::{Direction, GraphStore, NeighborQuery, StoreOptions};
use clap::Args;

use crate::output::{self, Format, LoadBar};

#[derive(Args)]
pub struct DemoArgs {
    /// Working directory: CSVs go to DIR/csv, the store to DIR/db (both replaced).
    #[arg(long, default_value = "./argus-demo")]
    dir: PathBuf,
    /// Users to generate.
    #[arg(long, default_value_t = 20_000)]
    users: u64,
    /// Merchants to generate.
    #[arg(long, default_value_t = 2_000)]
    merchants: u64,
    /// Card transactions to generate.
    #[arg(long, default_value_t = 200_000)]
    transactions: u64,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

fn heading(text: &str) {
    println!("\n== {text} ==");
}

fn node_load(label: &str, file: PathBuf, key: &str) -> NodeLoad {
    NodeLoad {
        label: label.into(),
        file,
        key: key.into(),
        options: LoadOptions::default(),
    }
}

/// The same loads as `load.sh` of the generated set.
fn load_all(store: &GraphStore, csv: &Path) -> Result<()> {
    let nodes = [
        ("user", "users.csv", "user_id"),
        ("card", "cards.csv", "card_id"),
        ("device", "devices.csv", "device_id"),
        ("ip", "ips.csv", "ip"),
        ("merchant", "merchants.csv", "merchant_id"),
    ];
    for (label, file, key) in nodes {
        run_node_load(store, &node_load(label, csv.join(file), key))?;
    }
    let edges = [
        (
            "owns",
            "card_owner.csv",
            ("user", "user_id"),
            ("card", "card_id"),
            "since",
        ),
        (
            "uses_device",
            "user_device.csv",
            ("user", "user_id"),
            ("device", "device_id"),
            "first_seen",
        ),
        (
            "uses_ip",
            "user_ip.csv",
            ("user", "user_id"),
            ("ip", "ip"),
            "first_seen",
        ),
        (
            "paid",
            "transactions.csv",
            ("card", "card_id"),
            ("merchant", "merchant_id"),
            "time",
        ),
        (
            "transfer",
            "transfers.csv",
            ("user", "src_user"),
            ("user", "dst_user"),
            "time",
        ),
    ];
    for (t, file, src, dst, time) in edges {
        let spec = EdgeLoad::new(t, csv.join(file), src, dst, time);
        let bar = LoadBar::new(&format!("edges {t}"));
        let report = load::load_edges(store, &spec, &mut |p: &LoadProgress| bar.update(p));
        bar.finish();
        output::print_load_report(
            &report.with_context(|| format!("loading {file}"))?,
            &format!("edge type '{t}'"),
            Format::Table,
        );
    }
    run_node_load(
        store,
        &node_load("user", csv.join("user_labels.csv"), "user_id"),
    )?;
    run_node_load(
        store,
        &node_load("card", csv.join("card_labels.csv"), "card_id"),
    )?;
    Ok(())
}

fn run_node_load(store: &GraphStore, spec: &NodeLoad) -> Result<()> {
    let bar = LoadBar::new(&format!("nodes {}", spec.label));
    let report = load::load_nodes(store, spec, &mut |p: &LoadProgress| bar.update(p));
    bar.finish();
    let report = report.with_context(|| format!("loading {}", spec.file.display()))?;
    output::print_load_report(&report, &format!("label '{}'", spec.label), Format::Table);
    Ok(())
}

/// First key of each (entity, reason) in the generator's labels file.
fn planted_examples(csv: &Path) -> Result<BTreeMap<(String, String), String>> {
    let path = csv.join("labels.csv");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = BTreeMap::new();
    for line in text.lines().skip(1) {
        let mut parts = line.split(',');
        if let (Some(entity), Some(key), Some(reason)) = (parts.next(), parts.next(), parts.next())
        {
            out.entry((entity.to_string(), reason.to_string()))
                .or_insert_with(|| key.to_string());
        }
    }
    Ok(out)
}

fn show(
    store: &GraphStore,
    title: &str,
    label: &str,
    key: &str,
    q: &NeighborQuery,
) -> Result<Vec<argus_engine::Neighbor>> {
    let snap = store.snapshot();
    let found = snap.neighbor_edges(label, key, q)?;
    println!("\n-- {title}");
    println!("{}", output::neighbors_table(&snap, &found)?.render());
    Ok(found.into_iter().map(|(n, _)| n).collect())
}

pub fn run(args: &DemoArgs, options: StoreOptions) -> Result<()> {
    let csv = args.dir.join("csv");
    let db = args.dir.join("db");
    for d in [&csv, &db] {
        if d.exists() {
            std::fs::remove_dir_all(d).with_context(|| format!("removing {}", d.display()))?;
        }
    }
    heading(&format!(
        "1. generate a payments graph: {} users, {} merchants, {} transactions (seed {})",
        args.users, args.merchants, args.transactions, args.seed
    ));
    let config = argus_datagen::PaymentsConfig {
        users: args.users,
        merchants: args.merchants,
        transactions: args.transactions,
        seed: args.seed,
        ..Default::default()
    };
    let summary = output::generate_with_progress(&config, &csv)?;
    output::print_generate_summary(&summary, &csv, &db, Format::Table);

    heading(&format!("2. load it into {}", db.display()));
    let store = GraphStore::open_with(&db, None, options)?;
    load_all(&store, &csv)?;

    heading("3. what is in the store");
    output::print_stats(&store, Format::Table)?;

    heading("4. neighbourhood and time-window queries on planted fraud");
    let examples = planted_examples(&csv)?;
    let pick = |entity: &str, reason: &str| {
        examples
            .get(&(entity.to_string(), reason.to_string()))
            .cloned()
    };

    if let Some(card) = pick("card", "card_testing") {
        let q = NeighborQuery {
            edge_type: Some("paid".into()),
            limit: Some(8),
            ..Default::default()
        };
        let last = show(&store, &format!("card-testing: the last 8 payments of card {card} (many small amounts, distinct merchants, minutes apart)"), "card", &card, &q)?;
        if let Some(t) = last.first().and_then(|n| n.time) {
            let q = NeighborQuery {
                edge_type: Some("paid".into()),
                since: Some(t - 7 * 86_400_000_000),
                until: Some(t),
                limit: Some(5),
                oldest_first: true,
                ..Default::default()
            };
            show(
                &store,
                &format!(
                    "time window: the first 5 payments of that card in the 7 days up to {}",
                    format_micros(t)
                ),
                "card",
                &card,
                &q,
            )?;
        }
    }
    if let Some(user) = pick("user", "ring") {
        let q = NeighborQuery {
            edge_type: Some("uses_device".into()),
            ..Default::default()
        };
        let devices = show(
            &store,
            &format!("fraud ring: devices of user {user}"),
            "user",
            &user,
            &q,
        )?;
        let snap = store.snapshot();
        let mut sharing = std::collections::BTreeSet::new();
        for d in &devices {
            let q = NeighborQuery {
                edge_type: Some("uses_device".into()),
                direction: Direction::In,
                ..Default::default()
            };
            for n in snap.neighbors_by_id(d.label, d.node, &q)? {
                if let Some(k) = snap.node_key(n.label, n.node)? {
                    sharing.insert(k.parse::<u64>().map(|v| format!("{v:>12}")).unwrap_or(k));
                }
            }
        }
        let users: Vec<String> = sharing.iter().map(|s| s.trim().to_string()).collect();
        println!(
            "-- users sharing those devices (2 hops): {} users: {}",
            users.len(),
            users.join(", ")
        );
    }
    if let Some(user) = pick("user", "mule_cycle") {
        let q = NeighborQuery {
            edge_type: Some("transfer".into()),
            direction: Direction::Both,
            limit: Some(10),
            ..Default::default()
        };
        show(
            &store,
            &format!("mule cycle: latest transfers in and out of user {user}"),
            "user",
            &user,
            &q,
        )?;
    }
    if let Some(user) = pick("user", "account_takeover") {
        let q = NeighborQuery {
            edge_type: Some("uses_device".into()),
            ..Default::default()
        };
        show(&store, &format!("account takeover: devices of user {user}, newest first (the attacker's device is new, and its other victims use it too)"), "user", &user, &q)?;
    }

    heading("5. SQL over the same store (argus sql)");
    let store = std::sync::Arc::new(store);
    let session = argus_query::ArgusSession::new(store.clone())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut queries = vec![
        (
            "spend per merchant category",
            "SELECT m.category, count(*) AS payments, sum(p.amount) AS total \
             FROM paid p JOIN merchant m ON p.dst = m.merchant_id \
             GROUP BY m.category ORDER BY total DESC LIMIT 5"
                .to_string(),
        ),
        (
            "cards with the most payments (degree from the store's counters)",
            "SELECT card_id, degree('card:' || card_id, 'paid', 'out') AS payments \
             FROM card ORDER BY payments DESC LIMIT 5"
                .to_string(),
        ),
    ];
    if let Some(user) = pick("user", "ring") {
        queries.push((
            "fraud ring: everyone within two hops of a ring member through shared devices and IPs",
            format!("SELECT node, hop, parent FROM neighbors('user:{user}', 2, 'uses_device,uses_ip') ORDER BY hop, node"),
        ));
    }
    for (title, sql) in queries {
        println!("\n-- {title}\nargus> {sql};");
        let batches = runtime.block_on(async { session.sql(&sql).await?.collect().await })?;
        println!(
            "{}",
            crate::shell::render(&batches, crate::shell::OutputMode::Table)?
        );
    }

    heading("6. train fraud models and explain the riskiest users");
    let db_handle = argus_db::Database::from_store(store.clone());
    // The generator's ground-truth columns are labels: no model may read them as inputs.
    println!(
        "argus --db {} labels declare {}",
        db.display(),
        argus_datagen::LABEL_PROPERTIES.join(" ")
    );
    for property in argus_datagen::LABEL_PROPERTIES {
        db_handle.declare_label_property(property)?;
    }
    let mut spec = argus_db::train::TrainSpec::new("user", "is_fraud");
    // A short full-graph run keeps the demo to a minute or two.
    spec.gnn.epochs = 40;
    spec.gnn.patience = 10;
    println!(
        "argus --db {} train fraud --name user_fraud --label user.is_fraud --epochs 40 --patience 10",
        db.display()
    );
    let started = std::time::Instant::now();
    let run = argus_db::train::train_model(
        &db_handle,
        "user_fraud",
        &spec,
        &argus_db::train::SplitSource::Random { seed: args.seed },
        true,
        &mut |family, p| {
            if let argus_db::train::TrainProgress::Epoch(r) = p {
                if r.epoch % 10 == 0 {
                    println!(
                        "  {} epoch {}: loss {:.4}, validation ROC-AUC {:.4} ({:.0} s)",
                        family.name(),
                        r.epoch,
                        r.loss,
                        r.val_auc,
                        started.elapsed().as_secs_f64()
                    );
                }
            }
        },
    )?;
    for (family, val, test) in &run.tried {
        println!(
            "  {}: validation ROC-AUC {:.4}, test ROC-AUC {:.4}, test PR-AUC {:.4}",
            family.name(),
            val,
            test.roc_auc,
            test.pr_auc
        );
    }
    println!(
        "  kept: {} (better on validation), registered as user_fraud version {}",
        run.version.model.kind.family(),
        run.version.version
    );
    let top_sql =
        "SELECT user_id, fraud_score(user_id) AS score, is_fraud, fraud_reason FROM user \
                   ORDER BY score DESC LIMIT 10";
    println!("\n-- the riskiest users\nargus> {top_sql};");
    let batches = runtime.block_on(async { session.sql(top_sql).await?.collect().await })?;
    println!(
        "{}",
        crate::shell::render(&batches, crate::shell::OutputMode::Table)?
    );
    let scorer = db_handle.scorer("user_fraud", None)?;
    let snapshot = db_handle.snapshot();
    let top: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            let keys = datafusion::arrow::compute::cast(
                b.column(0),
                &datafusion::arrow::datatypes::DataType::Utf8,
            )
            .expect("keys cast to text");
            let keys = keys
                .as_any()
                .downcast_ref::<datafusion::arrow::array::StringArray>()
                .expect("a string column")
                .iter()
                .flatten()
                .map(str::to_string)
                .collect::<Vec<_>>();
            keys
        })
        .take(3)
        .collect();
    for user in top {
        let e = scorer.explain(&snapshot, &user, None)?;
        println!(
            "\n-- why user {user} scores {:.3} (argus score user:{user} --explain)",
            e.score
        );
        for f in e.features.iter().take(4) {
            println!(
                "  feature {:<50} = {:>10.3}  moves the logit by {:+.3}",
                f.feature, f.value, f.contribution
            );
        }
        for n in e.neighbours.iter().take(4) {
            println!(
                "  neighbour {}:{} via {} ({}) changes the score by {:+.3}",
                n.label,
                n.key,
                n.relation,
                n.edge_time.as_deref().unwrap_or("untimed"),
                n.contribution
            );
        }
    }

    heading("7. consistency check");
    let report = argus_engine::check::check(&store.snapshot())?;
    output::print_check(&report, Format::Table);
    if !report.is_ok() {
        bail!("the consistency check found problems");
    }
    println!("\nThe store is in {}; try:\n  argus --db {} stats\n  argus --db {} neighbors user:0 --direction both\n  argus --db {} models list\n  argus --db {} score user:0 --explain", db.display(), db.display(), db.display(), db.display(), db.display());
    Ok(())
}
