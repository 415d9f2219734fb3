//! A planted fraud ring: members look like everyone else on their own (the same distributions
//! of signup time, age and device history) and differ only in logging in from devices the
//! whole ring shares. The GNN must find them, and its explanation of a member must name the
//! shared device as the neighbour that raised the score.

use argus_db::train::{train_model, Family, ModelSettings, SplitSource, TrainSpec};
use argus_db::Database;
use argus_engine::graph::prop_def;
use argus_engine::{PropType, Value};
use argus_extensions::ml::cpu::mix64;
use argus_extensions::ml::metrics::roc_auc;

const USERS: u64 = 480;
const RINGS: u64 = 8;
const RING_SIZE: u64 = 8;
const DAY: i64 = 86_400_000_000;
/// 2026-01-01 in microseconds.
const NOW: i64 = 1_767_225_600_000_000;

/// A uniform draw in `0..n` from `(seed, salt)`.
fn draw(seed: u64, salt: u64, n: u64) -> u64 {
    mix64(seed ^ mix64(salt)) % n
}

/// Users `u0..`: the first `RINGS * RING_SIZE` form rings of `RING_SIZE` that share one device
/// each; everyone else has a device of their own, one in ten shares it with the next user (a
/// household), and a fifth of everyone, ring members included, has a second device of their
/// own. Every user's attributes and first-seen times come from the same draws.
fn ring_graph(dir: &std::path::Path) -> Database {
    let db = Database::open(dir).unwrap();
    db.store()
        .write(|t| {
            t.create_label(
                "user",
                "user_id",
                vec![
                    prop_def("signup_time", PropType::Int),
                    prop_def("age", PropType::Int),
                    prop_def("is_fraud", PropType::Int),
                ],
            )?;
            t.create_label("device", "device_id", vec![])?;
            t.create_edge_type("uses_device", "user", "device", false, vec![])?;
            let ring_members = RINGS * RING_SIZE;
            let mut household: Option<String> = None;
            for u in 0..USERS {
                let signup = NOW - (1 + draw(u, 1, 6 * 365)) as i64 * DAY;
                let age = 18 + draw(u, 2, 60) as i64;
                t.upsert_node(
                    "user",
                    &format!("u{u}"),
                    &[
                        ("signup_time", Value::Int(signup / 1_000_000)),
                        ("age", Value::Int(age)),
                        ("is_fraud", Value::Int(i64::from(u < ring_members))),
                    ],
                )?;
                let seen =
                    |salt: u64| signup + draw(u, salt, ((NOW - signup) / DAY) as u64) as i64 * DAY;
                let joined = household.take();
                let device = if u < ring_members {
                    format!("ring{}", u / RING_SIZE)
                } else {
                    joined.clone().unwrap_or_else(|| format!("d{u}"))
                };
                let mut devices = vec![device.clone()];
                if draw(u, 3, 5) == 0 {
                    devices.push(format!("d{u}b"));
                }
                for (k, d) in devices.iter().enumerate() {
                    t.upsert_node("device", d, &[])?;
                    t.insert_edge(
                        "uses_device",
                        &format!("u{u}"),
                        d,
                        Some(seen(4 + k as u64)),
                        &[],
                    )?;
                }
                if joined.is_none() && u >= ring_members && draw(u, 6, 10) == 0 {
                    household = Some(device);
                }
            }
            Ok(())
        })
        .unwrap();
    db
}

#[test]
fn a_ring_members_explanation_names_the_shared_device() {
    let dir = tempfile::tempdir().unwrap();
    let db = ring_graph(dir.path());
    let mut spec = TrainSpec::new("user", "is_fraud");
    spec.families = vec![Family::Gnn];
    spec.gnn = ModelSettings {
        hidden: 16,
        epochs: 80,
        patience: 80,
        lr: 1e-2,
        ..ModelSettings::default()
    };
    let run = train_model(
        &db,
        "ring",
        &spec,
        &SplitSource::Random { seed: 5 },
        true,
        &mut |_, _| {},
    )
    .unwrap();
    let (scores, labels): (Vec<f32>, Vec<bool>) = run.test_scores.iter().copied().unzip();
    let auc = roc_auc(&scores, &labels).unwrap();
    assert!(auc > 0.95, "test ROC-AUC {auc}");

    let scorer = db.scorer("ring", None).unwrap();
    let snapshot = db.snapshot();
    // A member of the third ring, which has its own shared device.
    let member = format!("u{}", 2 * RING_SIZE + 3);
    let e = scorer.explain(&snapshot, &member, None).unwrap();
    assert!(e.score > 0.5, "{e:?}");
    let top = &e.neighbours[0];
    assert_eq!(
        (top.label.as_str(), top.key.as_str(), top.relation.as_str()),
        ("device", "ring2", "uses_device<"),
        "{e:?}"
    );
    // Leaving the shared device out lowers the score by a clear margin.
    assert!(top.contribution > 0.1, "{e:?}");
    // An honest user's score barely depends on its own device.
    let honest = scorer.explain(&snapshot, "u300", None).unwrap();
    assert!(honest.score < 0.5, "{honest:?}");
    assert!(
        honest
            .neighbours
            .iter()
            .all(|n| n.contribution.abs() < top.contribution),
        "{honest:?}"
    );
}
