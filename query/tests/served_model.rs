//! A model's score in SQL (`fraud_score`) is the score its evaluation computed: training,
//! evaluation and serving read the same bounded neighbourhoods.

use std::collections::HashMap;

use argus_db::train::{train_model, Family, ModelSettings, SplitSource, TrainSpec};
use argus_db::Database;
use argus_engine::graph::prop_def;
use argus_engine::{PropType, Value};
use argus_query::ArgusSession;
use datafusion::arrow::array::{AsArray, Float64Array};

/// 60 accounts in two rings of 30 (each sends to the next 4 of its ring); only the second ring
/// is fraudulent and sends large amounts; every account has the same property.
fn rings(dir: &std::path::Path) -> Database {
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
            for i in 0..60i64 {
                t.upsert_node(
                    "account",
                    &format!("a{i}"),
                    &[
                        ("noise", Value::Float(1.0)),
                        ("fraud", Value::Int(i64::from(i >= 30))),
                    ],
                )?;
            }
            for i in 0..60i64 {
                let ring = i / 30 * 30;
                for step in 1..=4 {
                    let j = ring + (i - ring + step) % 30;
                    let amount = if ring == 0 { 20.0 + step as f64 } else { 700.0 };
                    t.insert_edge(
                        "sends",
                        &format!("a{i}"),
                        &format!("a{j}"),
                        Some((i * 10 + step) * 1_000_000),
                        &[("amount", Value::Float(amount))],
                    )?;
                }
            }
            Ok(())
        })
        .unwrap();
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fraud_score_in_sql_equals_the_evaluated_score() {
    let dir = tempfile::tempdir().unwrap();
    let db = rings(dir.path());
    let mut expected: Vec<(String, HashMap<String, f32>)> = Vec::new();
    for family in [Family::Trees, Family::Gnn] {
        let mut spec = TrainSpec::new("account", "fraud");
        spec.families = vec![family];
        spec.neighbours = 3;
        spec.trees.trees = 60;
        spec.gnn = ModelSettings {
            hidden: 8,
            epochs: 30,
            patience: 30,
            ..ModelSettings::default()
        };
        let run = train_model(
            &db,
            family.name(),
            &spec,
            &SplitSource::Random { seed: 4 },
            true,
            &mut |_, _| {},
        )
        .unwrap();
        let scores = run
            .test_keys
            .iter()
            .cloned()
            .zip(run.test_scores.iter().map(|&(s, _)| s))
            .collect();
        expected.push((family.name().to_string(), scores));
    }
    let session = ArgusSession::new(db.store().clone()).unwrap();
    for (model, scores) in &expected {
        let sql = format!("SELECT account_id, fraud_score(account_id, '{model}') FROM account");
        let batches = session.sql(&sql).await.unwrap().collect().await.unwrap();
        let mut checked = 0;
        for b in batches {
            let keys = b.column(0).as_string::<i32>();
            let values = b
                .column(1)
                .as_any()
                .downcast_ref::<Float64Array>()
                .expect("fraud_score is a double");
            for row in 0..b.num_rows() {
                if let Some(&evaluated) = scores.get(keys.value(row)) {
                    let served = values.value(row) as f32;
                    assert!(
                        (served - evaluated).abs() < 1e-5,
                        "{model} {}: evaluated {evaluated}, SQL {served}",
                        keys.value(row)
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, scores.len(), "{model}: every test node was scored");
        assert!(checked >= 8);
    }
}
