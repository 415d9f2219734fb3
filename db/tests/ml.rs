//! The store-to-model layer on real (temporary) data directories: projections, features, and
//! an evaluation where only the graph can tell the classes apart.

use argus_db::eval::{eval_node_classification, FeatureChoice, ModelSettings, NodeEvalSpec};
use argus_db::features::edge_aggregate_features;
use argus_db::projection::project;
use argus_db::train::TrainSpec;

mod common;
use common::{planted, splits_file, two_splits};

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
    let all = edge_aggregate_features(&p, "account", None).unwrap();
    let early = edge_aggregate_features(&p, "account", Some(10 * 1_000_000)).unwrap();
    let col = |f: &argus_db::features::NodeFeatures, name: &str| {
        f.names.iter().position(|n| n == name).unwrap()
    };
    // Edges an account sent are the messages it receives along `sends<`.
    let count = col(&all, "log_count[sends<]");
    let sum = col(&all, "sum_amount[sends<]");
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
    let mut train = TrainSpec::new("account", "fraud");
    train.features = FeatureChoice::Properties(vec!["noise".into()]);
    train.gnn = ModelSettings {
        hidden: 16,
        epochs: 60,
        patience: 60,
        lr: 1e-2,
        ..ModelSettings::default()
    };
    let spec = NodeEvalSpec {
        train,
        splits: splits_file(dir.path(), &two_splits()),
    };
    let report = eval_node_classification(&db, &spec, &mut |_| {}).unwrap();
    assert_eq!(report.splits.len(), 2);
    for r in &report.splits {
        // Identical features: the baseline can only rank at random (all scores tie).
        assert!((r.baseline.roc_auc - 0.5).abs() < 1e-9, "{r:?}");
    }
    // Degree features alone cannot split the groups either (same degrees); edge amounts can,
    // and `auto` adds them because the label has fewer than three numeric properties.
    let mut auto = spec.clone();
    auto.train.features = FeatureChoice::Auto;
    let report = eval_node_classification(&db, &auto, &mut |_| {}).unwrap();
    for r in &report.splits {
        for f in &r.families {
            assert!(
                f.test.roc_auc > 0.95,
                "{} {:?}: {}",
                r.split,
                f.family,
                f.test.roc_auc
            );
        }
    }
}

#[test]
fn split_file_errors_name_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let db = planted(dir.path());
    let spec = |body: &str| NodeEvalSpec {
        train: TrainSpec::new("account", "fraud"),
        splits: splits_file(dir.path(), body),
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
