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
    // A node listed twice could sit in train and test at once: refused, naming both lines.
    let err = eval_node_classification(
        &db,
        &spec("id,split_0\na1,train\na2,val\na1,test\n"),
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("splits.csv:4:1") && err.contains("listed twice (first on line 2)"),
        "{err}"
    );
}

#[test]
fn consensus_deviation_compares_each_edge_with_the_other_side() {
    let dir = tempfile::tempdir().unwrap();
    let db = rating_graph(
        dir.path(),
        &["u0", "u1", "u2", "u3"],
        &[
            ("u0", "u2", 10.0, 1),
            ("u1", "u2", 10.0, 2),
            ("u3", "u2", -10.0, 3),
            ("u3", "u0", 4.0, 4),
        ],
    );
    let p = project(&db.snapshot(), &[], &[]).unwrap();
    let at = |as_of: Option<i64>, node: usize, name: &str| feature(&p, as_of, node, name);
    let close = |a: f32, b: f32| assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    // u3 gave -10 to u2 (who gets 10/3 on average) and 4 to u0 (who gets 4).
    close(
        at(None, 3, "mean_deviation_rating[rates<]"),
        (-10.0 - 10.0 / 3.0) / 2.0,
    );
    close(
        at(None, 3, "mean_abs_deviation_rating[rates<]"),
        (10.0 + 10.0 / 3.0) / 2.0,
    );
    // As of t = 3 s the rating of u0 does not exist yet.
    close(
        at(Some(3_000_000), 3, "mean_deviation_rating[rates<]"),
        -10.0 - 10.0 / 3.0,
    );
    // u2 got 10 from two raters who always give 10, and -10 from u3, who gives -3 on average.
    close(at(None, 2, "mean_deviation_rating[rates>]"), -7.0 / 3.0);
    close(at(None, 2, "mean_abs_deviation_rating[rates>]"), 7.0 / 3.0);
    // Before u3's second rating, its mean was its single rating: no deviation.
    close(at(Some(3_000_000), 2, "mean_deviation_rating[rates>]"), 0.0);
}

#[test]
fn established_senders_are_ranked_by_what_they_received_as_of_the_time() {
    let dir = tempfile::tempdir().unwrap();
    // Standing before t is rated: r0 received 3 ratings, r1 2, r2 1; r3 gets its first only
    // after everything else.
    let db = rating_graph(
        dir.path(),
        &["t", "r0", "r1", "r2", "r3", "r4"],
        &[
            ("r1", "r0", 1.0, 1),
            ("r2", "r0", 1.0, 2),
            ("r3", "r0", 1.0, 3),
            ("r2", "r1", 1.0, 4),
            ("r3", "r1", 1.0, 5),
            ("r3", "r2", 1.0, 6),
            ("r3", "t", 9.0, 10),
            ("r4", "t", 1.0, 11),
            ("r2", "t", 7.0, 12),
            ("r1", "t", 5.0, 13),
            ("r0", "t", -10.0, 14),
            ("r1", "t", 3.0, 15),
            ("r4", "r3", 1.0, 20),
        ],
    );
    let p = project(&db.snapshot(), &[], &[]).unwrap();
    let at = |as_of: Option<i64>, name: &str| feature(&p, as_of, 0, name);
    let close = |a: f32, b: f32| assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    // All edges: r0, r1 and r2 are the most established raters of t; r1 counts once, with
    // its newer rating.
    close(at(None, "min_from_established_rating[rates>]"), -10.0);
    close(
        at(None, "mean_from_established_rating[rates>]"),
        (-10.0 + 3.0 + 7.0) / 3.0,
    );
    // As of 13 s: r0 has not rated t yet, and r3 has received nothing, so it ties with r4 and
    // the more recent rating (r4's) is kept.
    close(
        at(Some(13_000_000), "min_from_established_rating[rates>]"),
        1.0,
    );
    close(
        at(Some(13_000_000), "mean_from_established_rating[rates>]"),
        (5.0 + 7.0 + 1.0) / 3.0,
    );
    // Nobody rated before 10 s.
    close(
        at(Some(9_000_000), "mean_from_established_rating[rates>]"),
        0.0,
    );
    // Against the edge type (`rates<`), r3's counterparts are the users it rated, ranked by the
    // ratings they received: t (6), r0 (3) and r1 (2), not by those they gave (r1 and r2 gave 3
    // each, t none).
    let r3 = |as_of: Option<i64>, name: &str| feature(&p, as_of, 4, name);
    close(
        r3(None, "mean_from_established_rating[rates<]"),
        (9.0 + 1.0 + 1.0) / 3.0,
    );
    close(r3(None, "min_from_established_rating[rates<]"), 1.0);
}

/// Users rating each other: `(rater, rated, rating, second)`.
fn rating_graph(
    dir: &std::path::Path,
    users: &[&str],
    ratings: &[(&str, &str, f64, i64)],
) -> argus_db::Database {
    use argus_engine::graph::prop_def;
    use argus_engine::{PropType, Value};
    let db = argus_db::Database::open(dir).unwrap();
    db.store()
        .write(|t| {
            t.create_label("user", "id", vec![])?;
            t.create_edge_type(
                "rates",
                "user",
                "user",
                false,
                vec![prop_def("rating", PropType::Float)],
            )?;
            for u in users {
                t.upsert_node("user", u, &[])?;
            }
            for &(src, dst, rating, second) in ratings {
                t.insert_edge(
                    "rates",
                    src,
                    dst,
                    Some(second * 1_000_000),
                    &[("rating", Value::Float(rating))],
                )?;
            }
            Ok(())
        })
        .unwrap();
    db
}

/// The edge aggregate `name` of `node` as of `as_of`.
fn feature(
    p: &argus_db::projection::Projection,
    as_of: Option<i64>,
    node: usize,
    name: &str,
) -> f32 {
    let f = edge_aggregate_features(p, "user", as_of).unwrap();
    let col = f.names.iter().position(|n| n == name).unwrap();
    f.matrix.row(node)[col]
}
