//! The store-to-model layer on real (temporary) data directories: projections, features, and
//! an evaluation where only the graph can tell the classes apart.

use std::io::Write;

use argus_db::eval::{eval_node_classification, FeatureChoice, ModelSettings, NodeEvalSpec};
use argus_db::features::edge_aggregate_features;
use argus_db::projection::project;
use argus_db::Database;
use argus_engine::graph::prop_def;
use argus_engine::{PropType, Value};

/// 80 accounts in two groups of 40; edges only within a group; only group B is fraudulent;
/// every account has the same (useless) property, so features alone cannot separate them.
fn planted(dir: &std::path::Path) -> Database {
    let db = Database::open(dir).unwrap();
    db.store()
        .write(|t| {
            t.create_label(
                "account",
                "account_id",
                vec![
                    prop_def("noise", PropType::Float),
                    prop_def("fraud", PropType::Int),
                ],
            )?;
            t.create_edge_type(
                "sends",
                "account",
                "account",
                false,
                vec![prop_def("amount", PropType::Float)],
            )?;
            for i in 0..80 {
                t.upsert_node(
                    "account",
                    &format!("a{i}"),
                    &[
                        ("noise", Value::Float(1.0)),
                        ("fraud", Value::Int(i64::from(i >= 40))),
                    ],
                )?;
            }
            for i in 0..80u32 {
                let group = i / 40 * 40;
                for step in [1, 3, 7] {
                    let j = group + (i - group + step) % 40;
                    let amount = if group == 0 { 10.0 } else { 900.0 };
                    t.insert_edge(
                        "sends",
                        &format!("a{i}"),
                        &format!("a{j}"),
                        Some(i64::from(i) * 1_000_000),
                        &[("amount", Value::Float(amount))],
                    )?;
                }
            }
            Ok(())
        })
        .unwrap();
    db
}

fn splits_file(dir: &std::path::Path, body: &str) -> std::path::PathBuf {
    let path = dir.join("splits.csv");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(body.as_bytes()).unwrap();
    path
}

fn two_splits() -> String {
    let mut s = String::from("id,split_0,split_1\n");
    for i in 0..80 {
        let part = |k: usize| match (i + k) % 4 {
            0 | 1 => "train",
            2 => "val",
            _ => "test",
        };
        s.push_str(&format!("a{i},{},{}\n", part(0), part(1)));
    }
    s
}

#[test]
fn projection_has_both_directions_of_a_directed_type() {
    let dir = tempfile::tempdir().unwrap();
    let db = planted(dir.path());
    let p = project(&db.snapshot(), &[], &[]).unwrap();
    assert_eq!(p.node_count, 80);
    let names: Vec<&str> = p.relations.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["sends>", "sends<"]);
    // a0 sends to a1, a3, a7: they receive along `sends>`, a0 receives them along `sends<`.
    assert_eq!(p.relations[1].relation.sources_of(0), &[1, 3, 7]);
    assert!(p.relations[0].relation.sources_of(1).contains(&0));
}

#[test]
fn edge_aggregates_respect_as_of() {
    let dir = tempfile::tempdir().unwrap();
    let db = planted(dir.path());
    let snap = db.snapshot();
    let p = project(&snap, &[], &[]).unwrap();
    let all = edge_aggregate_features(&snap, &p, "account", None).unwrap();
    let early = edge_aggregate_features(&snap, &p, "account", Some(10 * 1_000_000)).unwrap();
    let col = |f: &argus_db::features::NodeFeatures, name: &str| {
        f.names.iter().position(|n| n == name).unwrap()
    };
    let count = col(&all, "log_count[sends>]");
    let sum = col(&all, "sum_amount[sends>]");
    // Account a50 sent three payments of 900 at t = 50 s: none exist as of t = 10 s.
    assert_eq!(all.matrix.row(50)[count], (3f32).ln_1p());
    assert_eq!(all.matrix.row(50)[sum], 2700.0);
    assert_eq!(early.matrix.row(50)[count], 0.0);
    assert_eq!(early.matrix.row(5)[sum], 30.0);
}

#[test]
fn the_graph_separates_what_features_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let db = planted(dir.path());
    let spec = NodeEvalSpec {
        label: "account".into(),
        target: "fraud".into(),
        splits: splits_file(dir.path(), &two_splits()),
        features: FeatureChoice::Properties(vec!["noise".into()]),
        edge_types: vec![],
        model: ModelSettings {
            hidden: 16,
            epochs: 60,
            patience: 60,
            lr: 1e-2,
            ..ModelSettings::default()
        },
    };
    let report = eval_node_classification(&db, &spec, &mut |_| {}).unwrap();
    assert_eq!(report.splits.len(), 2);
    for r in &report.splits {
        // Identical features: the baseline can only rank at random (all scores tie).
        assert!((r.baseline.roc_auc - 0.5).abs() < 1e-9, "{r:?}");
    }
    // Degree features alone cannot split the groups either (same degrees); edge amounts can,
    // and `auto` adds them because the label has fewer than three numeric properties.
    let auto = NodeEvalSpec {
        features: FeatureChoice::Auto,
        ..spec
    };
    let report = eval_node_classification(&db, &auto, &mut |_| {}).unwrap();
    for r in &report.splits {
        assert!(r.graph.roc_auc > 0.95, "{}: {}", r.split, r.graph.roc_auc);
    }
}

#[test]
fn split_file_errors_name_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let db = planted(dir.path());
    let spec = |body: &str| NodeEvalSpec {
        label: "account".into(),
        target: "fraud".into(),
        splits: splits_file(dir.path(), body),
        features: FeatureChoice::Auto,
        edge_types: vec![],
        model: ModelSettings::default(),
    };
    let err = eval_node_classification(&db, &spec("id,split_0\na1,train\na2,maybe\n"), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("splits.csv:3:2") && err.contains("maybe"),
        "{err}"
    );
    let err = eval_node_classification(&db, &spec("id,split_0\nzz,train\n"), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("splits.csv:2:1") && err.contains("zz"),
        "{err}"
    );
    let err = eval_node_classification(&db, &spec("id,split_0\na1,train\n"), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("needs train, val and test"), "{err}");
}
