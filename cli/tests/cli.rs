//! The `argus` binary as a user runs it: generate, load with the generated script, stats,
//! neighbors, check, errors and help.

use std::path::Path;
use std::process::{Command, Output};

fn argus(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_argus"))
        .args(args)
        .env_remove("ARGUS_DB")
        .output()
        .expect("run argus")
}

fn ok(args: &[&str]) -> String {
    let out = argus(args);
    assert!(
        out.status.success(),
        "argus {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(args: &[&str]) -> String {
    let out = argus(args);
    assert!(!out.status.success(), "argus {args:?} should fail");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn generate_load_query_check() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = dir.path().join("db");
    let out = ok(&[
        "generate",
        "payments",
        "--users",
        "1500",
        "--merchants",
        "150",
        "--transactions",
        "8000",
        "--seed",
        "3",
        "--out",
        s(&data),
    ]);
    assert!(out.contains("transactions.csv"), "{out}");
    // The generated script loads everything with this binary.
    let status = Command::new("bash")
        .arg(data.join("load.sh"))
        .arg(&db)
        .env("ARGUS", env!("CARGO_BIN_EXE_argus"))
        .status()
        .unwrap();
    assert!(status.success());

    let stats: serde_json::Value =
        serde_json::from_str(&ok(&["--db", s(&db), "stats", "--format", "json"])).unwrap();
    let labels = stats["labels"].as_array().unwrap();
    let user = labels.iter().find(|l| l["label"] == "user").unwrap();
    assert_eq!(user["nodes"], 1500);
    assert!(
        user["properties"]
            .as_str()
            .unwrap()
            .contains("is_fraud:int"),
        "{user}"
    );
    let types = stats["edge_types"].as_array().unwrap();
    let paid = types.iter().find(|t| t["edge type"] == "paid").unwrap();
    assert_eq!(paid["edges"], 8000);

    // A card with payments: newest first, limited, with properties.
    let cards = std::fs::read_to_string(data.join("transactions.csv")).unwrap();
    let card = cards
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(1)
        .unwrap()
        .to_string();
    let node = format!("card:{card}");
    let json: serde_json::Value = serde_json::from_str(&ok(&[
        "--db",
        s(&db),
        "neighbors",
        &node,
        "--type",
        "paid",
        "--limit",
        "3",
        "--format",
        "json",
    ]))
    .unwrap();
    let rows = json.as_array().unwrap();
    assert!(!rows.is_empty() && rows.len() <= 3);
    assert!(rows[0]["properties"]["amount"].is_number(), "{json}");
    assert!(rows[0]["neighbor"]
        .as_str()
        .unwrap()
        .starts_with("merchant:"));
    let times: Vec<&str> = rows.iter().map(|r| r["time"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(times, sorted, "newest first");
    // A window that excludes everything.
    let empty = ok(&[
        "--db",
        s(&db),
        "neighbors",
        &node,
        "--type",
        "paid",
        "--until",
        "2000-01-01",
        "--format",
        "json",
    ]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&empty).unwrap(),
        serde_json::json!([])
    );
    let table = ok(&["--db", s(&db), "neighbors", &node, "--direction", "both"]);
    assert!(table.contains("paid") && table.contains("owns"), "{table}");

    let check = ok(&["--db", s(&db), "check"]);
    assert!(check.contains("OK"), "{check}");

    // Errors are one clear line, non-zero, no panic.
    let err = fails(&["--db", s(&db), "neighbors", "card:nope"]);
    assert!(err.contains("no node card:nope"), "{err}");
    let err = fails(&["--db", s(&db), "neighbors", "card"]);
    assert!(err.contains("LABEL:KEY"), "{err}");
    let err = fails(&["--db", s(&db), "neighbors", &node, "--since", "soon"]);
    assert!(err.contains("--since") && err.contains("'soon'"), "{err}");
    let err = fails(&[
        "--db",
        s(&db),
        "load",
        "nodes",
        "user",
        s(&dir.path().join("missing.csv")),
        "--key",
        "id",
    ]);
    assert!(err.contains("missing.csv"), "{err}");
    let err = fails(&["--db", s(&dir.path().join("nothing-here")), "stats"]);
    assert!(err.contains("not an Argus data directory"), "{err}");

    // Corrupt one degree counter behind the engine's back: check reports it and exits 1.
    {
        let store = argus_engine::GraphStore::open(&db).unwrap();
        let snap = store.snapshot();
        let card_label = snap.catalog().label("card").unwrap().id;
        let paid_type = snap.catalog().edge_type("paid").unwrap().id;
        let id = snap.node_id("card", &card).unwrap().unwrap();
        let mut batch = argus_engine::storage::WriteBatch::default();
        batch.add(
            argus_engine::keys::degree_key(card_label, id, paid_type, argus_engine::Dir::Out),
            1,
        );
        store
            .backend()
            .write(&batch, argus_engine::Durability::Sync)
            .unwrap();
    }
    let out = argus(&["--db", s(&db), "check"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1 problem") && text.contains("counter says"),
        "{text}"
    );
}

#[test]
fn every_command_has_help_with_an_example() {
    for cmd in [
        vec!["--help"],
        vec!["generate", "payments", "--help"],
        vec!["load", "nodes", "--help"],
        vec!["load", "edges", "--help"],
        vec!["stats", "--help"],
        vec!["neighbors", "--help"],
        vec!["check", "--help"],
        vec!["demo", "--help"],
        vec!["sql", "--help"],
        vec!["eval", "node-classification", "--help"],
        vec!["train", "fraud", "--help"],
        vec!["score", "--help"],
        vec!["score-transaction", "--help"],
    ] {
        let out = ok(&cmd);
        assert!(
            out.contains("Example"),
            "argus {cmd:?} --help has no example:\n{out}"
        );
    }
}

#[test]
fn sql_one_shot_formats_outputs_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = dir.path().join("db");
    ok(&[
        "generate",
        "payments",
        "--users",
        "300",
        "--merchants",
        "40",
        "--transactions",
        "2000",
        "--seed",
        "5",
        "--out",
        s(&data),
    ]);
    let status = Command::new("bash")
        .arg(data.join("load.sh"))
        .arg(&db)
        .env("ARGUS", env!("CARGO_BIN_EXE_argus"))
        .status()
        .unwrap();
    assert!(status.success());
    let db = s(&db);

    let csv = ok(&[
        "--db",
        db,
        "sql",
        "-c",
        "SELECT count(*) AS n FROM paid",
        "--format",
        "csv",
    ]);
    assert_eq!(csv.trim(), "n\n2000");
    let json = ok(&[
        "--db",
        db,
        "sql",
        "-c",
        "SELECT category, count(*) AS n FROM merchant GROUP BY category ORDER BY n DESC LIMIT 3",
        "--format",
        "json",
    ]);
    let rows: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 3);
    let table = ok(&[
        "--db",
        db,
        "sql",
        "-c",
        "SELECT merchant_id FROM merchant ORDER BY _id LIMIT 2; SELECT 1 + 1 AS two",
    ]);
    assert!(
        table.contains("merchant_id") && table.contains("two"),
        "{table}"
    );

    // EXPLAIN shows what was pushed into storage.
    let card = std::fs::read_to_string(data.join("transactions.csv"))
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(1)
        .unwrap()
        .to_string();
    let sql = format!("EXPLAIN SELECT time, amount FROM paid WHERE src = '{card}' AND time >= '2026-01-01T00:00:00Z' ORDER BY time DESC LIMIT 20");
    let plan = ok(&["--db", db, "sql", "-c", &sql]);
    assert!(
        plan.contains("GraphScanExec: table=paid, access=out-adjacency of src"),
        "{plan}"
    );
    assert!(plan.contains("time [2026-01-01T00:00:00Z"), "{plan}");
    let plan = ok(&[
        "--db",
        db,
        "sql",
        "-c",
        "EXPLAIN SELECT * FROM user WHERE user_id = '7'",
    ]);
    assert!(plan.contains("access=key lookup [\"7\"]"), "{plan}");

    // Results written to files.
    for ext in ["csv", "json", "parquet"] {
        let out = dir.path().join(format!("out.{ext}"));
        ok(&[
            "--db",
            db,
            "sql",
            "-c",
            "SELECT * FROM paid ORDER BY edge_id LIMIT 7",
            "--output",
            s(&out),
        ]);
        assert!(std::fs::metadata(&out).unwrap().len() > 0);
    }
    let csv_out = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
    assert_eq!(csv_out.lines().count(), 8, "header + 7 rows");

    // Errors: one clear message and a non-zero exit.
    let err = fails(&["--db", db, "sql", "-c", "SELECT * FROM nope"]);
    assert!(err.contains("nope") && err.lines().count() == 1, "{err}");
    let err = fails(&[
        "--db",
        db,
        "sql",
        "-c",
        "SELECT * FROM neighbors('user:1', 99)",
    ]);
    assert!(err.contains("hops must be between 1 and 10"), "{err}");
    let err = fails(&["--db", db, "sql", "-c", "SELEC 1"]);
    assert!(err.contains("SELEC"), "{err}");
    let err = fails(&[
        "--db",
        db,
        "sql",
        "-c",
        "SELECT 1",
        "--output",
        s(&dir.path().join("x.txt")),
    ]);
    assert!(err.contains(".csv, .json or .parquet"), "{err}");
}

#[test]
fn train_score_explain_and_deploy_from_the_command_line_and_sql() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = dir.path().join("db");
    ok(&[
        "generate",
        "payments",
        "--users",
        "1500",
        "--merchants",
        "150",
        "--transactions",
        "8000",
        "--seed",
        "5",
        "--out",
        s(&data),
    ]);
    let status = Command::new("bash")
        .arg(data.join("load.sh"))
        .arg(&db)
        .env("ARGUS", env!("CARGO_BIN_EXE_argus"))
        .status()
        .unwrap();
    assert!(status.success());
    let d = s(&db);
    let trained = ok(&[
        "--db",
        d,
        "train",
        "fraud",
        "--name",
        "user_fraud",
        "--label",
        "user.is_fraud",
        "--models",
        "trees",
        "--trees",
        "60",
    ]);
    assert!(
        trained.contains("registered user_fraud version 1"),
        "{trained}"
    );
    let plot = dir.path().join("gnn.png");
    let trained = ok(&[
        "--db",
        d,
        "train",
        "fraud",
        "--name",
        "user_fraud",
        "--label",
        "user.is_fraud",
        "--models",
        "gnn",
        "--epochs",
        "20",
        "--hidden",
        "16",
        "--plot",
        s(&plot),
    ]);
    assert!(
        trained.contains("version 2") && trained.contains("deployed version: 1"),
        "{trained}"
    );
    assert!(std::fs::read(&plot).unwrap().starts_with(b"\x89PNG"));
    let list: serde_json::Value =
        serde_json::from_str(&ok(&["--db", d, "models", "list", "--format", "json"])).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        (list[0]["deployed"].as_str(), list[1]["family"].as_str()),
        (Some("yes"), Some("gnn"))
    );

    // The riskiest users by SQL, then one of them explained.
    let top: serde_json::Value = serde_json::from_str(&ok(&[
        "--db",
        d,
        "sql",
        "-c",
        "SELECT user_id, fraud_score(user_id) AS s FROM user ORDER BY s DESC LIMIT 5",
        "--format",
        "json",
    ]))
    .unwrap();
    let top = top.as_array().unwrap();
    assert_eq!(top.len(), 5);
    let user = top[0]["user_id"].as_str().unwrap().to_string();
    let first = top[0]["s"].as_f64().unwrap();
    assert!(first >= top[4]["s"].as_f64().unwrap());
    let scored: serde_json::Value = serde_json::from_str(&ok(&[
        "--db",
        d,
        "score",
        &format!("user:{user}"),
        "--format",
        "json",
    ]))
    .unwrap();
    assert!(
        (scored[0]["score"].as_f64().unwrap() - first).abs() < 1e-5,
        "{scored} vs {first}"
    );
    let explained: serde_json::Value = serde_json::from_str(&ok(&[
        "--db",
        d,
        "score",
        &format!("user:{user}"),
        "--explain",
        "--format",
        "json",
    ]))
    .unwrap();
    assert!(
        !explained["features"].as_array().unwrap().is_empty(),
        "{explained}"
    );
    assert!(
        !explained["neighbours"].as_array().unwrap().is_empty(),
        "{explained}"
    );
    let sql_explained = ok(&[
        "--db",
        d,
        "sql",
        "-c",
        &format!("SELECT explain_score('{user}') AS e"),
        "--format",
        "csv",
    ]);
    assert!(sql_explained.contains("neighbours"), "{sql_explained}");
    // Trees have no embeddings; the GNN version has.
    let err = fails(&[
        "--db",
        d,
        "sql",
        "-c",
        &format!("SELECT embedding('{user}')"),
    ]);
    assert!(err.contains("no embeddings"), "{err}");
    ok(&["--db", d, "models", "deploy", "user_fraud", "2"]);
    let emb = ok(&[
        "--db",
        d,
        "sql",
        "-c",
        &format!("SELECT embedding('{user}') AS e"),
        "--format",
        "json",
    ]);
    let emb: serde_json::Value = serde_json::from_str(&emb).unwrap();
    assert_eq!(emb[0]["e"].as_array().unwrap().len(), 16, "{emb}");
    // As of a time before any edge, and rollback.
    ok(&[
        "--db",
        d,
        "score",
        &format!("user:{user}"),
        "--as-of",
        "2000-01-01",
    ]);
    let rolled = ok(&["--db", d, "models", "rollback", "user_fraud"]);
    assert!(rolled.contains("version 1"), "{rolled}");
    let err = fails(&["--db", d, "score", "user:nobody"]);
    assert!(err.contains("nobody"), "{err}");

    // Payments: a transaction model, then a payment scored before it is stored.
    let trained = ok(&[
        "--db",
        d,
        "train",
        "fraud",
        "--name",
        "txn_fraud",
        "--label",
        "paid.is_fraud",
        "--trees",
        "60",
    ]);
    assert!(trained.contains("no-graph baseline"), "{trained}");
    let payment = std::fs::read_to_string(data.join("transactions.csv")).unwrap();
    let row: Vec<&str> = payment.lines().nth(1).unwrap().split(',').collect();
    let scored: serde_json::Value = serde_json::from_str(&ok(&[
        "--db",
        d,
        "score-transaction",
        "--model",
        "txn_fraud",
        "--src",
        row[1],
        "--dst",
        row[2],
        "--time",
        "2030-01-01",
        "--prop",
        "amount=12.5",
        "--format",
        "json",
    ]))
    .unwrap();
    let s = scored[0]["score"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&s), "{scored}");
    let err = fails(&[
        "--db",
        d,
        "score-transaction",
        "--model",
        "txn_fraud",
        "--src",
        row[1],
        "--dst",
        row[2],
        "--time",
        "2030-01-01",
        "--prop",
        "amount=lots",
    ]);
    assert!(err.contains("amount"), "{err}");
}
