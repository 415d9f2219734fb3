//! The recommender table functions in SQL answer what the Rust API answers, and bad calls get
//! one clear planning error.

use argus_db::recommend::{Family, RecommendOptions, RecommenderSpec};
use argus_db::Database;
use argus_engine::graph::prop_def;
use argus_engine::{PropType, Value};
use argus_extensions::ml::recommend::lookbook::LookbookSettings;
use argus_query::ArgusSession;
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Float32Type;

/// 30 shoppers: the first 15 buy from shoes (p0..p9), the rest from hats (p10..p19).
fn shop(dir: &std::path::Path) -> Database {
    let db = Database::open(dir).unwrap();
    db.store()
        .write(|t| {
            t.create_label("shopper", "id", vec![])?;
            t.create_label(
                "product",
                "sku",
                vec![
                    prop_def("category", PropType::String),
                    prop_def("price", PropType::Float),
                ],
            )?;
            for p in 0..20 {
                let category = if p < 10 { "shoes" } else { "hats" };
                t.upsert_node(
                    "product",
                    &format!("p{p}"),
                    &[
                        ("category", Value::String(category.into())),
                        ("price", Value::Float(10.0 + p as f64)),
                    ],
                )?;
            }
            t.create_edge_type("bought", "shopper", "product", false, vec![])?;
            for s in 0..30u32 {
                t.upsert_node("shopper", &format!("s{s}"), &[])?;
                let base = if s < 15 { 0 } else { 10 };
                for step in 0..5u32 {
                    let item = base + (s * 2 + step) % 10;
                    t.insert_edge(
                        "bought",
                        &format!("s{s}"),
                        &format!("p{item}"),
                        Some(i64::from(step) * 1_000_000),
                        &[],
                    )?;
                }
            }
            Ok(())
        })
        .unwrap();
    let spec = RecommenderSpec {
        interactions: vec!["bought".into()],
        families: vec![Family::Ease],
        ease_lambdas: vec![1.0],
        half_lives: vec![0.0],
        category_properties: vec!["category".into()],
        price_property: Some("price".into()),
        ..RecommenderSpec::default()
    };
    db.train_recommender("shop", &spec, false, &mut |_| {})
        .unwrap();
    db
}

async fn rows(session: &ArgusSession, sql: &str) -> Vec<(String, f32)> {
    let batches = session.sql(sql).await.unwrap().collect().await.unwrap();
    let mut out = Vec::new();
    for b in batches {
        let items = b.column_by_name("item").unwrap().as_string::<i32>().clone();
        let scores = b
            .column_by_name("score")
            .unwrap()
            .as_primitive::<Float32Type>()
            .clone();
        for r in 0..b.num_rows() {
            out.push((items.value(r).to_string(), scores.value(r)));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_answers_what_the_api_answers() {
    let dir = tempfile::tempdir().unwrap();
    let db = shop(dir.path());
    let session = ArgusSession::new(db.store().clone()).unwrap();

    let api: Vec<(String, f32)> = db
        .recommend(
            "shop",
            "s3",
            &RecommendOptions {
                k: 5,
                ..RecommendOptions::default()
            },
        )
        .unwrap()
        .into_iter()
        .map(|r| (r.item, r.score))
        .collect();
    assert_eq!(
        rows(&session, "SELECT * FROM recommend('s3', 5)").await,
        api
    );
    assert_eq!(
        rows(&session, "SELECT * FROM recommend('s3', 5, 'shop', true)").await,
        api
    );

    let filtered = rows(
        &session,
        "SELECT * FROM recommend('s3', 20, 'shop', true, 'hats', 21, 25.5)",
    )
    .await;
    assert!(!filtered.is_empty());
    for (item, _) in &filtered {
        let p: u32 = item[1..].parse().unwrap();
        assert!((11..=15).contains(&p), "{item}");
    }

    let similar_api: Vec<(String, f32)> = db
        .similar_items("shop", "p1", 3)
        .unwrap()
        .into_iter()
        .map(|s| (s.item, s.score))
        .collect();
    assert_eq!(
        rows(&session, "SELECT * FROM similar_items('p1', 3)").await,
        similar_api
    );

    let book = db
        .lookbook(
            "shop",
            "s20",
            &LookbookSettings {
                collections: 2,
                per_collection: 3,
                ..LookbookSettings::default()
            },
            None,
        )
        .unwrap();
    let book_rows: Vec<(String, f32)> = book
        .collections
        .iter()
        .flat_map(|c| c.items.iter().map(|i| (i.item.clone(), i.score)))
        .collect();
    assert_eq!(
        rows(&session, "SELECT * FROM lookbook('s20', 2, 3)").await,
        book_rows
    );
    let titles = session
        .sql("SELECT DISTINCT title FROM lookbook('s20', 2, 3) ORDER BY title")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(titles[0].num_rows(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_calls_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let db = shop(dir.path());
    let session = ArgusSession::new(db.store().clone()).unwrap();
    for (sql, expected) in [
        ("SELECT * FROM recommend('s3')", "takes 2 to 8 arguments"),
        ("SELECT * FROM recommend('s3', 0)", "must be positive"),
        (
            "SELECT * FROM recommend('s3', 5, 'nope')",
            "no recommender named nope",
        ),
        (
            "SELECT * FROM recommend('s3', 5, 'shop', true, 'gloves')",
            "no category \"gloves\"",
        ),
        (
            "SELECT * FROM recommend('s3', 5, 'shop', 'yes')",
            "must be true or false",
        ),
        (
            "SELECT * FROM similar_items('p99', 3)",
            "no item product:p99",
        ),
        ("SELECT * FROM lookbook('s3', 0)", "must be positive"),
        ("SELECT * FROM lookbook('s3', 100)", "1..=50 collections"),
    ] {
        let err = match session.sql(sql).await {
            Ok(df) => df.collect().await.unwrap_err().to_string(),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(expected), "{sql}: {err}");
    }
}
