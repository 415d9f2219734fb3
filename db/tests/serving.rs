//! Training, the registry and scoring on a real (temporary) data directory: versions, deploy
//! and rollback, batch and single scores, as-of scoring that ignores edges from the future,
//! and explanations.

use argus_db::train::{train_model, Family, ModelSettings, SplitSource, TrainRun, TrainSpec};
use argus_db::Database;
use argus_engine::Value;
use argus_extensions::ml::metrics::roc_auc;

mod common;
use common::{communities, planted};

fn spec(family: Family) -> TrainSpec {
    let mut spec = TrainSpec::new("account", "fraud");
    spec.families = vec![family];
    spec.gnn = ModelSettings {
        hidden: 16,
        epochs: 60,
        patience: 60,
        lr: 1e-2,
        ..ModelSettings::default()
    };
    spec.trees.trees = 100;
    spec
}

/// Train and register `spec` on a seeded random split.
fn train_run(db: &Database, name: &str, spec: &TrainSpec, seed: u64, deploy: bool) -> TrainRun {
    train_model(
        db,
        name,
        spec,
        &SplitSource::Random { seed },
        deploy,
        &mut |_, _| {},
    )
    .unwrap()
}

fn train(db: &Database, name: &str, family: Family, deploy: bool) -> u32 {
    train_run(db, name, &spec(family), 3, deploy)
        .version
        .version
}

#[test]
fn versions_deploy_and_roll_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = planted(dir.path());
    assert_eq!(train(&db, "fraud", Family::Trees, false), 1);
    assert_eq!(train(&db, "fraud", Family::Gnn, false), 2);
    let live = |db: &Database| db.model("fraud", None).unwrap().version;
    // The first version deploys itself; later ones only when asked.
    assert_eq!(live(&db), 1);
    db.deploy_model("fraud", 2).unwrap();
    assert_eq!(live(&db), 2);
    assert_eq!(db.rollback_model("fraud").unwrap(), 1);
    assert_eq!(live(&db), 1);
    assert!(db.rollback_model("fraud").is_err());
    assert!(db.deploy_model("fraud", 9).is_err());
    let list = db.list_models().unwrap();
    assert_eq!(list.len(), 2);
    assert!(list[0].deployed && !list[1].deployed);
    assert_eq!(
        (list[0].family.as_str(), list[1].family.as_str()),
        ("trees", "gnn")
    );
    // The registry is in the database: it survives reopening.
    drop(db);
    let db = Database::open(dir.path()).unwrap();
    assert_eq!(live(&db), 1);
    assert!(db.model("fraud", Some(2)).unwrap().trained_on.parts[0] > 0);
}

#[test]
fn scores_separate_the_groups_in_batch_and_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = planted(dir.path());
    for (name, family) in [("trees", Family::Trees), ("gnn", Family::Gnn)] {
        train(&db, name, family, true);
        let scorer = db.scorer(name, None).unwrap();
        let snap = db.snapshot();
        let keys: Vec<String> = (0..80).map(|i| format!("a{i}")).collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let mut batch = scorer.score_keys(&snap, &refs, None).unwrap();
        batch.push(scorer.score_keys(&snap, &["nobody"], None).unwrap()[0]);
        assert_eq!(batch[80], None);
        let scores: Vec<f32> = batch[..80].iter().map(|s| s.unwrap()).collect();
        let labels: Vec<bool> = (0..80).map(|i| i >= 40).collect();
        let auc = roc_auc(&scores, &labels).unwrap();
        assert!(auc > 0.95, "{name}: ROC-AUC {auc}");
        // A batch scores each key exactly as scoring it alone does.
        let one = scorer.score(&snap, "a45", None).unwrap();
        assert!((one.score - batch[45].unwrap()).abs() < 1e-6);
        // A batch larger than a scoring chunk is scored in parts: every key as in one block.
        let many: Vec<&str> = refs.iter().cycle().take(700).copied().collect();
        let parts = scorer.score_keys(&snap, &many, None).unwrap();
        for (i, score) in parts.iter().enumerate() {
            assert!(
                (score.unwrap() - batch[i % 80].unwrap()).abs() < 1e-6,
                "{name} {i}"
            );
        }
        if family != Family::Trees {
            assert_eq!(scorer.embedding(&snap, "a45", None).unwrap().len(), 16);
        } else {
            assert!(scorer.embedding(&snap, "a45", None).is_err());
        }
    }
}

#[test]
fn an_edge_from_the_future_does_not_change_an_as_of_score() {
    let dir = tempfile::tempdir().unwrap();
    let db = planted(dir.path());
    train(&db, "gnn", Family::Gnn, true);
    train(&db, "trees", Family::Trees, true);
    let as_of = Some(60 * 1_000_000);
    let before: Vec<f32> = ["gnn", "trees"]
        .iter()
        .map(|m| {
            db.scorer(m, None)
                .unwrap()
                .score(&db.snapshot(), "a5", as_of)
                .unwrap()
                .score
        })
        .collect();
    let now_before = db
        .scorer("gnn", None)
        .unwrap()
        .score(&db.snapshot(), "a5", None)
        .unwrap();
    // Plant edges at t = 1000 s: fraudsters paying a5 large amounts, and a5's neighbour a6
    // paying one of them.
    db.store()
        .write(|t| {
            for j in 40..50 {
                t.insert_edge(
                    "sends",
                    &format!("a{j}"),
                    "a5",
                    Some(1_000 * 1_000_000),
                    &[("amount", Value::Float(5_000.0))],
                )?;
            }
            t.insert_edge("sends", "a6", "a41", Some(1_000 * 1_000_000), &[])?;
            Ok(())
        })
        .unwrap();
    for (m, b) in ["gnn", "trees"].iter().zip(&before) {
        let after = db
            .scorer(m, None)
            .unwrap()
            .score(&db.snapshot(), "a5", as_of)
            .unwrap();
        assert_eq!(after.score, *b, "{m}: the as-of score moved");
    }
    let now_after = db
        .scorer("gnn", None)
        .unwrap()
        .score(&db.snapshot(), "a5", None)
        .unwrap();
    assert_ne!(
        now_after.score, now_before.score,
        "the planted edges are visible without as-of"
    );
}

#[test]
fn explanations_name_features_and_neighbours() {
    let dir = tempfile::tempdir().unwrap();
    let db = planted(dir.path());
    for (name, family) in [("trees", Family::Trees), ("gnn", Family::Gnn)] {
        train(&db, name, family, true);
        let e = db
            .scorer(name, None)
            .unwrap()
            .explain(&db.snapshot(), "a45", None)
            .unwrap();
        assert_eq!(e.entity, "account:a45");
        assert!(!e.features.is_empty() && e.features.len() <= 10);
        // a45 receives from 3 accounts and sends to 3: six first-hop neighbours in its group.
        assert_eq!(e.neighbours.len(), 6, "{name}: {e:?}");
        assert!(e
            .neighbours
            .iter()
            .all(|n| n.label == "account" && n.key.starts_with('a')));
        assert!(e.neighbours.iter().any(|n| n.relation == "sends<"));
        let amounts: Vec<f32> = e
            .neighbours
            .iter()
            .map(|n| n.edge_properties[0].1)
            .collect();
        assert!(amounts.iter().all(|&a| a == 900.0), "{amounts:?}");
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains("\"neighbours\""));
    }
}

#[test]
fn mini_batch_training_on_sampled_neighbourhoods_scores_like_serving() {
    let dir = tempfile::tempdir().unwrap();
    let db = planted(dir.path());
    let mut spec = spec(Family::Gnn);
    spec.gnn.batch_size = 16;
    spec.gnn.epochs = 40;
    spec.neighbours = 2;
    let run = train_run(&db, "sampled", &spec, 1, true);
    assert!(run.test_scores.len() >= 10);
    let (scores, labels): (Vec<f32>, Vec<bool>) = run.test_scores.iter().copied().unzip();
    assert!(roc_auc(&scores, &labels).unwrap() > 0.9);
    // 2 of 6 neighbours: the registered model reads exactly the neighbourhoods training read.
    let scorer = db.scorer("sampled", None).unwrap();
    let snap = db.snapshot();
    let all: Vec<String> = (0..80).map(|i| format!("a{i}")).collect();
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let served = scorer.score_keys(&snap, &refs, None).unwrap();
    let one = scorer.score(&snap, "a7", None).unwrap().score;
    assert!((served[7].unwrap() - one).abs() < 1e-6);
}

#[test]
fn transactions_are_scored_before_they_are_stored() {
    use argus_db::transactions::TransactionInput;
    use argus_engine::graph::prop_def;
    use argus_engine::PropType;
    let dir = tempfile::tempdir().unwrap();
    let db = planted(dir.path());
    // Payments of one amount between accounts whose own properties are alike: only the payer's
    // history (its `sends` amounts) tells fraud apart. The accounts' `fraud` flag is a label of
    // the store, and `pays.is_fraud` the target: neither, nor any aggregate of them, is read.
    db.declare_label_property("account.fraud").unwrap();
    db.store()
        .write(|t| {
            t.create_edge_type(
                "pays",
                "account",
                "account",
                false,
                vec![
                    prop_def("amount", PropType::Float),
                    prop_def("is_fraud", PropType::Int),
                ],
            )?;
            for k in 0..600i64 {
                let src = (k * 7) % 80;
                let dst = (k * 13 + 5) % 80;
                t.insert_edge(
                    "pays",
                    &format!("a{src}"),
                    &format!("a{dst}"),
                    Some((100 + k) * 1_000_000),
                    &[
                        ("amount", Value::Float(1.0)),
                        ("is_fraud", Value::Int(i64::from(src >= 40))),
                    ],
                )?;
            }
            Ok(())
        })
        .unwrap();
    let mut spec = TrainSpec::new("pays", "is_fraud");
    spec.trees.trees = 200;
    spec.trees.learning_rate = 0.1;
    let run = train_run(&db, "txn", &spec, 0, true);
    assert_eq!(run.version.model.kind.family(), "transaction");
    let inputs = &run.version.model.input_names;
    assert!(
        inputs.iter().all(|n| !n.contains("fraud")),
        "a label reached the inputs: {inputs:?}"
    );
    assert!(inputs.iter().any(|n| n.contains("amount")), "{inputs:?}");
    assert_eq!(run.version.trained_on.parts, [420, 90, 90]);
    assert!(run.version.test.roc_auc > 0.99, "{:?}", run.version.test);
    let baseline = run.baseline.unwrap();
    assert!((baseline.roc_auc - 0.5).abs() < 1e-9, "{baseline:?}");
    let payment = |src: &str| TransactionInput {
        src: src.into(),
        dst: "a1".into(),
        time: 5_000 * 1_000_000,
        properties: vec![("amount".into(), 1.0)],
    };
    let fraud = db.score_transaction("txn", &payment("a45")).unwrap();
    let honest = db.score_transaction("txn", &payment("a5")).unwrap();
    assert!(fraud > 0.8 && honest < 0.2, "{fraud} {honest}");
    // A product catalogue and its interactions loaded beside the payments are no input of the
    // model: it scores exactly as before.
    db.store()
        .write(|t| {
            t.create_label("product", "sku", vec![])?;
            t.create_edge_type("viewed", "account", "product", false, vec![])?;
            t.upsert_node("product", "p1", &[])?;
            t.insert_edge("viewed", "a45", "p1", Some(4_000 * 1_000_000), &[])?;
            Ok(())
        })
        .unwrap();
    assert_eq!(db.score_transaction("txn", &payment("a45")).unwrap(), fraud);
    assert_eq!(db.score_transaction("txn", &payment("a5")).unwrap(), honest);
    // Nothing was stored by scoring.
    assert_eq!(
        db.snapshot()
            .edge_count(db.snapshot().catalog().edge_type("pays").unwrap().id)
            .unwrap(),
        600
    );
    let mut bad = payment("a45");
    bad.properties = vec![("amount_usd".into(), 1.0)];
    let err = db.score_transaction("txn", &bad).unwrap_err().to_string();
    assert!(err.contains("amount_usd"), "{err}");
    let err = db
        .score_transaction("txn", &payment("zz"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("zz"), "{err}");
    assert!(
        db.scorer("txn", None).is_err(),
        "a transaction model does not score nodes"
    );
}

#[test]
fn spectral_coordinates_place_nodes_in_their_community_and_extend_to_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let db = communities(dir.path());
    let keys: Vec<String> = (0..80).map(|i| format!("p{i}")).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let labels: Vec<bool> = (0..80).map(|i| i >= 40).collect();
    let auc_of = |name: &str, spectral: Option<usize>| {
        let mut spec = TrainSpec::new("person", "fraud");
        spec.families = vec![Family::Trees];
        spec.trees.trees = 100;
        spec.spectral = spectral;
        let run = train_run(&db, name, &spec, 3, true);
        let scorer = db.scorer(name, None).unwrap();
        let scores: Vec<f32> = scorer
            .score_keys(&db.snapshot(), &refs, None)
            .unwrap()
            .into_iter()
            .map(Option::unwrap)
            .collect();
        (run, roc_auc(&scores, &labels).unwrap())
    };
    // Untimed edges: `auto` adds the coordinates, and they carry the community.
    let (run, with) = auc_of("spectral", None);
    assert!(with > 0.95, "with spectral coordinates: {with}");
    let names = &run.version.model.input_names;
    assert!(names.iter().any(|n| n == "spectral_0"), "{names:?}");
    let (_, without) = auc_of("plain", Some(0));
    assert!(without < 0.75, "without spectral coordinates: {without}");

    // Two people added after training, one knowing three of each community, are placed
    // there from their neighbours' stored coordinates: same shape, different community.
    db.store()
        .write(|t| {
            for (name, friends) in [
                ("late_a", ["p1", "p11", "p26"]),
                ("late_b", ["p41", "p50", "p66"]),
            ] {
                t.upsert_node("person", name, &[("noise", Value::Float(1.0))])?;
                for friend in friends {
                    t.insert_edge("knows", name, friend, None, &[])?;
                }
            }
            Ok(())
        })
        .unwrap();
    let scorer = db.scorer("spectral", None).unwrap();
    let snap = db.snapshot();
    let a = scorer.score(&snap, "late_a", None).unwrap().score;
    let b = scorer.score(&snap, "late_b", None).unwrap().score;
    assert!(b > a + 0.1, "late_b {b} vs late_a {a}");
    // A batch over every person is one pass over the graph (82 nodes): the same scores.
    let everyone: Vec<&str> = refs.iter().copied().chain(["late_a", "late_b"]).collect();
    let batch = scorer.score_keys(&snap, &everyone, None).unwrap();
    assert!(scorer.has_whole_graph_scores());
    assert!((batch[80].unwrap() - a).abs() < 1e-6 && (batch[81].unwrap() - b).abs() < 1e-6);
}

#[test]
fn a_bagged_gnn_averages_its_networks_in_training_and_serving() {
    let dir = tempfile::tempdir().unwrap();
    let db = planted(dir.path());
    let mut bagged = spec(Family::Gnn);
    bagged.gnn.bags = 3;
    let run = train_run(&db, "bagged", &bagged, 3, true);
    let argus_db::model::ModelKind::Gnn { bagged: extra, .. } = &run.version.model.kind else {
        panic!("not a GNN");
    };
    assert_eq!(extra.len(), 2);
    // Serving (from the registry) reproduces the training run's averaged test scores.
    let scorer = db.scorer("bagged", None).unwrap();
    let snap = db.snapshot();
    let keys: Vec<String> = (0..80).map(|i| format!("a{i}")).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let batch = scorer.score_keys(&snap, &refs, None).unwrap();
    let scores: Vec<f32> = batch.iter().map(|s| s.unwrap()).collect();
    let labels: Vec<bool> = (0..80).map(|i| i >= 40).collect();
    assert!(roc_auc(&scores, &labels).unwrap() > 0.95);
    let one = scorer.score(&snap, "a45", None).unwrap();
    assert!((one.score - scores[45]).abs() < 1e-6);
    // Every node has fewer neighbours than the fanouts, so the sampled block is the full
    // neighbourhood and serving must match the full-graph scores of training.
    let (trained, _) = run.test_scores.iter().copied().next().expect("test nodes");
    assert!(
        scores.iter().any(|&s| (s - trained).abs() < 1e-4),
        "{trained} not among {scores:?}"
    );
}

#[test]
fn the_evaluated_score_is_the_served_score() {
    let dir = tempfile::tempdir().unwrap();
    let db = planted(dir.path());
    for family in [Family::Trees, Family::Gnn] {
        let mut spec = spec(family);
        // 2 of each account's 6 neighbours: training must bound the neighbourhood as serving does.
        spec.neighbours = 2;
        let name = family.name();
        let run = train_run(&db, name, &spec, 5, true);
        assert_eq!(run.test_keys.len(), run.test_scores.len());
        assert!(run.test_keys.len() >= 10);
        let scorer = db.scorer(name, None).unwrap();
        let snap = db.snapshot();
        let keys: Vec<&str> = run.test_keys.iter().map(String::as_str).collect();
        let batch = scorer.score_keys(&snap, &keys, None).unwrap();
        for ((key, &(evaluated, _)), served) in
            run.test_keys.iter().zip(&run.test_scores).zip(batch)
        {
            let one = scorer.score(&snap, key, None).unwrap().score;
            assert!(
                (one - evaluated).abs() < 1e-5 && (served.unwrap() - evaluated).abs() < 1e-5,
                "{name} {key}: evaluated {evaluated}, scored {one}, batch {served:?}"
            );
        }
    }
}

#[test]
fn label_properties_never_reach_the_features() {
    use argus_db::train::{prepare, FeatureChoice};
    use argus_engine::graph::prop_def;
    use argus_engine::PropType;
    let dir = tempfile::tempdir().unwrap();
    let db = planted(dir.path());
    // `leak` copies the label onto the accounts, and `flagged` onto each payment from a
    // fraudulent sender: either would score perfectly while telling nothing a model could know.
    db.store()
        .write(|t| {
            t.add_label_property("account", prop_def("leak", PropType::Int))?;
            t.create_edge_type(
                "flags",
                "account",
                "account",
                false,
                vec![prop_def("flagged", PropType::Int)],
            )?;
            for i in 0..80i64 {
                t.upsert_node(
                    "account",
                    &format!("a{i}"),
                    &[("leak", Value::Int(i64::from(i >= 40)))],
                )?;
                t.insert_edge(
                    "flags",
                    &format!("a{i}"),
                    &format!("a{}", (i + 1) % 80),
                    Some(i * 1_000_000),
                    &[("flagged", Value::Int(i64::from(i >= 40)))],
                )?;
            }
            Ok(())
        })
        .unwrap();
    let base_names = |spec: &TrainSpec| prepare(&db.snapshot(), spec).unwrap().base.names;
    let reads = |names: &[String], what: &str| names.iter().any(|n| n.contains(what));
    let mut probe = TrainSpec::new("account", "fraud");
    probe.features = FeatureChoice::Auto;
    // Undeclared, both leak in: this is what the exclusions must stop.
    let open = base_names(&probe);
    assert!(reads(&open, "leak") && reads(&open, "flagged"), "{open:?}");
    // Excluded by the run.
    probe.exclude = vec!["leak".into(), "flags.flagged".into()];
    let excluded = base_names(&probe);
    assert!(
        !reads(&excluded, "leak") && !reads(&excluded, "flagged"),
        "{excluded:?}"
    );
    assert!(reads(&excluded, "noise"), "{excluded:?}");
    // Declared in the store: every later run skips them, and naming one is refused.
    probe.exclude.clear();
    db.declare_label_property("account.leak").unwrap();
    db.declare_label_property("flags.flagged").unwrap();
    db.declare_label_property("flags.flagged").unwrap();
    assert_eq!(
        db.label_properties().unwrap(),
        ["account.leak", "flags.flagged"]
    );
    let declared = base_names(&probe);
    assert!(
        !reads(&declared, "leak") && !reads(&declared, "flagged"),
        "{declared:?}"
    );
    probe.features = FeatureChoice::Properties(vec!["noise".into(), "leak".into()]);
    let err = prepare(&db.snapshot(), &probe).err().unwrap().to_string();
    assert!(err.contains("account.leak"), "{err}");
    assert!(db.declare_label_property("account.nothing").is_err());
    assert!(db.declare_label_property("nowhere.leak").is_err());
    // A trained model's inputs and its stored feature definition agree.
    let run = train_run(&db, "clean", &spec(Family::Trees), 2, true);
    let inputs = &run.version.model.input_names;
    assert!(
        !reads(inputs, "leak") && !reads(inputs, "flagged"),
        "{inputs:?}"
    );
}

#[test]
fn the_target_of_a_registered_model_is_withheld_from_others() {
    use argus_db::train::prepare;
    use argus_engine::graph::prop_def;
    use argus_engine::PropType;
    let dir = tempfile::tempdir().unwrap();
    let db = planted(dir.path());
    db.store()
        .write(|t| {
            t.add_label_property("account", prop_def("chargeback", PropType::Int))?;
            for i in 0..80i64 {
                t.upsert_node(
                    "account",
                    &format!("a{i}"),
                    &[("chargeback", Value::Int(i64::from(i % 3 == 0)))],
                )?;
            }
            Ok(())
        })
        .unwrap();
    let names = |spec: &TrainSpec| prepare(&db.snapshot(), spec).unwrap().base.names;
    assert!(names(&spec(Family::Trees))
        .iter()
        .any(|n| n.contains("chargeback")));
    // Once a model predicts `chargeback`, it is a label: the fraud model no longer reads it.
    let mut other = TrainSpec::new("account", "chargeback");
    other.families = vec![Family::Trees];
    other.trees.trees = 20;
    train_run(&db, "chargebacks", &other, 1, true);
    assert!(!names(&spec(Family::Trees))
        .iter()
        .any(|n| n.contains("chargeback")));
}

#[test]
fn a_scan_over_every_key_turns_into_one_pass_over_the_graph_with_the_same_scores() {
    let dir = tempfile::tempdir().unwrap();
    let db = planted(dir.path());
    train(&db, "gnn", Family::Gnn, true);
    train(&db, "trees", Family::Trees, true);
    // 3,000 more accounts in a ring after training: a batch of a few dozen keys then needs far
    // fewer rows in its blocks than the whole graph holds.
    db.store()
        .write(|t| {
            for i in 0..3_000 {
                t.upsert_node("account", &format!("x{i}"), &[("noise", Value::Float(0.5))])?;
            }
            for i in 0..3_000 {
                t.insert_edge(
                    "sends",
                    &format!("x{i}"),
                    &format!("x{}", (i + 1) % 3_000),
                    Some(i64::from(i) * 1_000_000),
                    &[("amount", Value::Float(20.0))],
                )?;
            }
            Ok(())
        })
        .unwrap();
    let snap = db.snapshot();
    let keys: Vec<String> = (0..80).map(|i| format!("a{i}")).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    for name in ["gnn", "trees"] {
        let scorer = db.scorer(name, None).unwrap();
        let single: Vec<f32> = refs
            .iter()
            .map(|k| scorer.score(&snap, k, None).unwrap().score)
            .collect();
        // Batches of 20 keys, as a scan in many batches makes them: the first is scored from
        // its blocks; once the blocks would have cost as much as a pass over the whole graph,
        // the pass is made and later batches read it.
        let mut batches = 0;
        while !scorer.has_whole_graph_scores() {
            let part = batches % 4 * 20;
            let scored = scorer
                .score_keys(&snap, &refs[part..part + 20], None)
                .unwrap();
            for (i, s) in scored.iter().enumerate() {
                assert!((s.unwrap() - single[part + i]).abs() < 1e-6, "{name}");
            }
            batches += 1;
            assert!(batches < 100, "{name}: the pass never paid for itself");
        }
        assert!(
            batches > 1,
            "{name}: the first batch paid for the whole graph"
        );
        let mut all = scorer.score_keys(&snap, &refs, None).unwrap();
        all.extend(scorer.score_keys(&snap, &["x7", "nobody"], None).unwrap());
        for (i, s) in all[..80].iter().enumerate() {
            let (pass, block) = (s.unwrap(), single[i]);
            assert!(
                (pass - block).abs() < 1e-5,
                "{name} a{i}: pass {pass}, block {block}"
            );
        }
        let x7 = scorer.score(&snap, "x7", None).unwrap().score;
        assert!((all[80].unwrap() - x7).abs() < 1e-5, "{name} x7");
        assert_eq!(all[81], None);
        // A past state is never read from the newest one's pass.
        let as_of = Some(20 * 1_000_000);
        let past = scorer.score_keys(&snap, &refs, as_of).unwrap();
        for (k, s) in refs.iter().zip(&past) {
            let one = scorer.score(&snap, k, as_of).unwrap().score;
            assert!((s.unwrap() - one).abs() < 1e-6, "{name} {k} as of");
        }
    }
}
