//! Recommenders end to end on a small shop with planted tastes: half the shoppers buy shoes,
//! half buy hats, and items bought together sit next to each other in the catalogue.

use argus_db::recommend::{Family, RecommendOptions, RecommenderSpec};
use argus_db::Database;
use argus_engine::graph::prop_def;
use argus_engine::{PropType, Value};

const DAY: i64 = 86_400_000_000;

fn shop(dir: &std::path::Path) -> Database {
    let db = Database::open(dir).unwrap();
    db.store()
        .write(|t| {
            t.create_label("shopper", "shopper_id", vec![])?;
            t.create_label(
                "product",
                "sku",
                vec![
                    prop_def("category", PropType::String),
                    prop_def("price", PropType::Float),
                    prop_def("style", PropType::Vector(2)),
                ],
            )?;
            for p in 0..40 {
                let (category, price) = if p < 20 {
                    ("shoes", 50.0 + p as f64)
                } else {
                    ("hats", 10.0 + p as f64)
                };
                t.upsert_node(
                    "product",
                    &format!("p{p}"),
                    &[
                        ("category", Value::String(category.into())),
                        ("price", Value::Float(price)),
                        ("style", Value::Vector(style(p))),
                    ],
                )?;
            }
            t.create_edge_type("viewed", "shopper", "product", false, vec![])?;
            t.create_edge_type("bought", "shopper", "product", false, vec![])?;
            for s in 0..60u32 {
                t.upsert_node("shopper", &format!("s{s}"), &[])?;
                let base = if s < 30 { 0 } else { 20 };
                for step in 0..8u32 {
                    let item = base + (s * 3 + step) % 20;
                    let time = i64::from(step) * DAY;
                    t.insert_edge(
                        "viewed",
                        &format!("s{s}"),
                        &format!("p{item}"),
                        Some(time),
                        &[],
                    )?;
                    if step % 2 == 1 {
                        t.insert_edge(
                            "bought",
                            &format!("s{s}"),
                            &format!("p{item}"),
                            Some(time + 1),
                            &[],
                        )?;
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    db
}

/// Shoes point one way, hats the other, each product a little apart.
fn style(p: u32) -> Vec<f32> {
    let spread = (p % 20) as f32 * 0.02;
    if p < 20 {
        vec![1.0, spread]
    } else {
        vec![spread, 1.0]
    }
}

fn spec() -> RecommenderSpec {
    RecommenderSpec {
        interactions: vec!["viewed".into(), "bought".into()],
        kind_weights: vec![1.0, 2.0],
        families: vec![Family::Ease, Family::Cosine],
        ease_lambdas: vec![1.0, 10.0],
        cosine_shrinks: vec![1.0],
        // One half-life, so the recency test does not depend on what validation prefers.
        half_lives: vec![3.0],
        category_properties: vec!["category".into()],
        price_property: Some("price".into()),
        vector_property: Some("style".into()),
        ..RecommenderSpec::default()
    }
}

fn category_of(item: &str) -> &'static str {
    let p: u32 = item[1..].parse().unwrap();
    if p < 20 {
        "shoes"
    } else {
        "hats"
    }
}

fn history(db: &Database, shopper: &str) -> Vec<String> {
    let snapshot = db.snapshot();
    let q = argus_engine::graph::NeighborQuery {
        edge_type: None,
        direction: argus_engine::graph::Direction::Out,
        since: None,
        until: None,
        limit: None,
        oldest_first: false,
    };
    snapshot
        .neighbors("shopper", shopper, &q)
        .unwrap()
        .into_iter()
        .map(|n| snapshot.node_key(n.label, n.node).unwrap().unwrap())
        .collect()
}

#[test]
fn recommendations_follow_the_planted_tastes_with_reasons_from_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let db = shop(dir.path());
    let version = db
        .train_recommender("shop", &spec(), false, &mut |_| {})
        .unwrap();
    assert_eq!(version.version, 1);
    assert!(
        version.candidates.len() >= 3,
        "every configuration is recorded"
    );
    for (shopper, taste) in [("s0", "shoes"), ("s45", "hats")] {
        let seen = history(&db, shopper);
        let recs = db
            .recommend("shop", shopper, &RecommendOptions::default())
            .unwrap();
        assert_eq!(recs.len(), 10);
        for r in &recs[..5] {
            assert_eq!(category_of(&r.item), taste, "{shopper}: {recs:?}");
            assert!(
                !seen.contains(&r.item),
                "seen items are excluded by default"
            );
            assert!(!r.reason.is_empty());
            for because in &r.reason {
                assert!(
                    seen.contains(because),
                    "reason {because} is not in {shopper}'s history"
                );
            }
        }
        assert!(recs.windows(2).all(|w| w[0].score >= w[1].score));
    }
}

#[test]
fn a_new_view_shifts_the_next_answer_without_retraining_and_as_of_reads_nothing_later() {
    let dir = tempfile::tempdir().unwrap();
    let db = shop(dir.path());
    db.train_recommender("shop", &spec(), false, &mut |_| {})
        .unwrap();
    let hats = |recs: &[argus_db::recommend::Recommendation]| {
        recs.iter()
            .filter(|r| category_of(&r.item) == "hats")
            .count()
    };
    let before = db
        .recommend("shop", "s1", &RecommendOptions::default())
        .unwrap();
    assert_eq!(hats(&before[..5]), 0, "{before:?}");
    // s1, a shoe shopper, now browses hats.
    db.store()
        .write(|t| {
            for (k, item) in [21, 22, 23, 24].iter().enumerate() {
                t.insert_edge(
                    "viewed",
                    "s1",
                    &format!("p{item}"),
                    Some(20 * DAY + k as i64),
                    &[],
                )?;
            }
            Ok(())
        })
        .unwrap();
    let after = db
        .recommend("shop", "s1", &RecommendOptions::default())
        .unwrap();
    assert!(hats(&after[..5]) >= 3, "{after:?}");
    let as_before = db
        .recommend(
            "shop",
            "s1",
            &RecommendOptions {
                as_of: Some(10 * DAY),
                ..RecommendOptions::default()
            },
        )
        .unwrap();
    assert_eq!(as_before, before, "as_of reads nothing after it");
}

#[test]
fn filters_cold_start_and_similar_items() {
    let dir = tempfile::tempdir().unwrap();
    let db = shop(dir.path());
    db.train_recommender("shop", &spec(), false, &mut |_| {})
        .unwrap();
    // Unknown shopper: the most popular items, said so.
    let cold = db
        .recommend("shop", "nobody", &RecommendOptions::default())
        .unwrap();
    assert_eq!(cold.len(), 10);
    assert!(cold.iter().all(|r| r.reason == ["popular"]));
    // A shoe shopper asking for hats under 45 gets only such hats.
    let filtered = db
        .recommend(
            "shop",
            "s0",
            &RecommendOptions {
                k: 40,
                category: Some("hats".into()),
                max_price: Some(45.0),
                ..RecommendOptions::default()
            },
        )
        .unwrap();
    assert!(!filtered.is_empty());
    for r in &filtered {
        let p: u32 = r.item[1..].parse().unwrap();
        assert!((20..=35).contains(&p), "{r:?}");
    }
    // Seen items come back on request.
    let with_seen = db
        .recommend(
            "shop",
            "s0",
            &RecommendOptions {
                k: 40,
                exclude_seen: false,
                ..RecommendOptions::default()
            },
        )
        .unwrap();
    let seen = history(&db, "s0");
    assert!(with_seen.iter().any(|r| seen.contains(&r.item)));
    // Items bought together are similar; p0's neighbours are shoes.
    let similar = db.similar_items("shop", "p0", 5).unwrap();
    assert!(!similar.is_empty());
    assert!(similar
        .iter()
        .all(|s| category_of(&s.item) == "shoes" && s.item != "p0"));
}

#[test]
fn bad_requests_get_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = shop(dir.path());
    let err = |r: argus_engine::Result<Vec<argus_db::recommend::Recommendation>>| {
        r.unwrap_err().to_string()
    };
    let options = RecommendOptions::default();
    assert!(err(db.recommend("shop", "s0", &options)).contains("no recommender named shop"));
    db.train_recommender("shop", &spec(), false, &mut |_| {})
        .unwrap();
    let k = |k| RecommendOptions {
        k,
        ..RecommendOptions::default()
    };
    assert!(err(db.recommend("shop", "s0", &k(0))).contains("k must be"));
    assert!(err(db.recommend("shop", "s0", &k(1_000_000))).contains("k must be"));
    let wrong_category = RecommendOptions {
        category: Some("gloves".into()),
        ..RecommendOptions::default()
    };
    let e = err(db.recommend("shop", "s0", &wrong_category));
    assert!(e.contains("gloves") && e.contains("hats"), "{e}");
    let empty_range = RecommendOptions {
        min_price: Some(10.0),
        max_price: Some(5.0),
        ..RecommendOptions::default()
    };
    assert!(err(db.recommend("shop", "s0", &empty_range)).contains("price range is empty"));
    let e = db.similar_items("shop", "p999", 5).unwrap_err().to_string();
    assert!(e.contains("no item product:p999"), "{e}");
    // A popularity recommender has no item similarities.
    let popular = RecommenderSpec {
        families: vec![Family::Popularity],
        ..spec()
    };
    db.train_recommender("popular", &popular, false, &mut |_| {})
        .unwrap();
    let e = db
        .similar_items("popular", "p0", 5)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("popularity") && e.contains("no item similarities"),
        "{e}"
    );
    // Interaction types must exist and connect one shopper label to one item label.
    let unknown = RecommenderSpec {
        interactions: vec!["clicked".into()],
        ..spec()
    };
    let e = db
        .train_recommender("x", &unknown, false, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("clicked"), "{e}");
    let zero_k = RecommenderSpec { k: 0, ..spec() };
    assert!(db
        .train_recommender("x", &zero_k, false, &mut |_| {})
        .is_err());
    assert!(
        db.recommender("x", None).is_err(),
        "a failed training registers nothing"
    );
}

#[test]
fn recommenders_have_their_own_registry_shelf() {
    let dir = tempfile::tempdir().unwrap();
    let db = shop(dir.path());
    db.train_recommender("shop", &spec(), false, &mut |_| {})
        .unwrap();
    let second = db
        .train_recommender("shop", &spec(), false, &mut |_| {})
        .unwrap();
    assert_eq!(second.version, 2);
    let listed = db.list_recommenders().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(
        listed[0].1 && !listed[1].1,
        "the first version stays deployed"
    );
    db.deploy_recommender("shop", 2).unwrap();
    assert_eq!(db.recommender("shop", None).unwrap().version, 2);
    assert_eq!(db.rollback_recommender("shop").unwrap(), 1);
    assert!(
        db.list_models().unwrap().is_empty(),
        "no fraud model was registered"
    );
    // The stored model round-trips exactly (packed weights included).
    assert!(db.recommender("shop", Some(2)).unwrap().model == second.model);
    assert_eq!(db.default_recommender().unwrap(), "shop");
    // Names whose keys sort around each other's ('-' before '/', '_' after) are each listed
    // once, without reading the models.
    for name in ["shop-b", "sho", "shop_x"] {
        let mut copy = second.clone();
        copy.name = name.to_string();
        db.register_recommender(copy, false).unwrap();
    }
    assert_eq!(
        db.recommender_names().unwrap(),
        ["sho", "shop", "shop-b", "shop_x"]
    );
    let err = db.default_recommender().unwrap_err().to_string();
    assert!(err.contains("(sho, shop, shop-b, shop_x)"), "{err}");
}

#[test]
fn lightgcn_learns_the_planted_tastes_and_serves_through_the_same_path() {
    let dir = tempfile::tempdir().unwrap();
    let db = shop(dir.path());
    let lightgcn = RecommenderSpec {
        families: vec![Family::LightGcn],
        lightgcn: argus_extensions::ml::recommend::lightgcn::LightGcnSettings {
            dim: 16,
            epochs: 30,
            batch: 64,
            ..Default::default()
        },
        ..spec()
    };
    let version = db
        .train_recommender("gcn", &lightgcn, false, &mut |_| {})
        .unwrap();
    assert_eq!(version.model.config.family, Family::LightGcn);
    assert!(version.model.embeddings.is_some());
    let recs = db
        .recommend("gcn", "s0", &RecommendOptions::default())
        .unwrap();
    let shoes = recs[..5]
        .iter()
        .filter(|r| category_of(&r.item) == "shoes")
        .count();
    assert!(shoes >= 4, "{recs:?}");
    let similar = db.similar_items("gcn", "p25", 5).unwrap();
    let hats = similar
        .iter()
        .filter(|s| category_of(&s.item) == "hats")
        .count();
    assert!(hats >= 4, "{similar:?}");
}

#[test]
fn a_new_product_is_recommended_through_its_vector_and_has_vector_neighbours() {
    let dir = tempfile::tempdir().unwrap();
    let db = shop(dir.path());
    db.train_recommender("shop", &spec(), false, &mut |_| {})
        .unwrap();
    // A shoe added after training: no interactions, only its style vector.
    db.store()
        .write(|t| {
            t.upsert_node(
                "product",
                "p40",
                &[
                    ("category", Value::String("shoes".into())),
                    ("price", Value::Float(60.0)),
                    ("style", Value::Vector(vec![1.0, 0.05])),
                ],
            )?;
            Ok(())
        })
        .unwrap();
    let recs = db
        .recommend(
            "shop",
            "s0",
            &RecommendOptions {
                k: 12,
                ..RecommendOptions::default()
            },
        )
        .unwrap();
    let new = recs
        .iter()
        .find(|r| r.item == "p40")
        .expect("the new shoe is recommended");
    assert!(new.reason[0].starts_with("new, like p"), "{new:?}");
    // A hat shopper is not offered it near the top.
    let hats = db
        .recommend("shop", "s45", &RecommendOptions::default())
        .unwrap();
    assert!(hats.iter().all(|r| r.item != "p40"), "{hats:?}");
    let near = db.similar_items_by_vector("shop", "p40", 3).unwrap();
    assert_eq!(near.len(), 3);
    assert!(
        near.iter().all(|s| category_of(&s.item) == "shoes"),
        "{near:?}"
    );
    assert!(near[0].score > 0.99);
    // No interactions yet: the interaction similarities say so.
    let e = db.similar_items("shop", "p40", 3).unwrap_err().to_string();
    assert!(
        e.contains("added after recommender shop was trained"),
        "{e}"
    );
    // A recommender without a vector property cannot answer by vector.
    let plain = RecommenderSpec {
        vector_property: None,
        ..spec()
    };
    db.train_recommender("plain", &plain, false, &mut |_| {})
        .unwrap();
    let e = db
        .similar_items_by_vector("plain", "p1", 3)
        .unwrap_err()
        .to_string();
    assert!(e.contains("without a vector property"), "{e}");
    let wrong = RecommenderSpec {
        vector_property: Some("price".into()),
        ..spec()
    };
    let e = db
        .train_recommender("wrong", &wrong, false, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a vector(N) property"), "{e}");
}

#[test]
fn a_model_larger_than_a_chunk_round_trips_through_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let db = shop(dir.path());
    // 100 nodes × 400 floats of embeddings: well over one 64 KiB chunk.
    let wide = RecommenderSpec {
        families: vec![Family::LightGcn],
        lightgcn: argus_extensions::ml::recommend::lightgcn::LightGcnSettings {
            dim: 400,
            epochs: 5,
            batch: 64,
            ..Default::default()
        },
        ..spec()
    };
    let version = db
        .train_recommender("wide", &wide, false, &mut |_| {})
        .unwrap();
    // The model comes back exactly (packed floats); validation metrics go through JSON text.
    let stored = db.recommender("wide", None).unwrap();
    assert!(
        serde_json::to_vec(&stored).unwrap().len() > 64 * 1024,
        "spans chunks"
    );
    assert!(stored.model == version.model && stored.version == 1);
    assert!(db.list_recommenders().unwrap()[0].0.model == version.model);
    let second = db
        .train_recommender("wide", &wide, true, &mut |_| {})
        .unwrap();
    assert_eq!(second.version, 2, "version numbers read past the chunks");
    assert!(db.recommender("wide", Some(1)).unwrap().model == version.model);
    assert_eq!(
        db.recommend("wide", "s0", &RecommendOptions::default())
            .unwrap()
            .len(),
        10
    );
}
