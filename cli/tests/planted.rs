//! The graph functions find the fraud the generator planted: rings through shared devices and
//! IPs, mule cycles of transfers within a day, card-testing bursts — checked against the
//! generator's ground-truth labels.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::Arc;

use argus_query::ArgusSession;
use datafusion::arrow::array::AsArray;

async fn strings(session: &ArgusSession, sql: &str) -> BTreeSet<String> {
    let batches = session.sql(sql).await.unwrap().collect().await.unwrap();
    let mut out = BTreeSet::new();
    for b in batches {
        let col = datafusion::arrow::compute::cast(
            b.column(0),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        for v in col.as_string::<i32>().iter().flatten() {
            out.insert(v.to_string());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_rings_cycles_and_bursts_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = dir.path().join("db");
    let argus = env!("CARGO_BIN_EXE_argus");
    let status = Command::new(argus)
        .args([
            "generate",
            "payments",
            "--users",
            "6000",
            "--merchants",
            "600",
            "--transactions",
            "60000",
            "--seed",
            "11",
            "--out",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(status.status.success());
    let status = Command::new("bash")
        .arg(data.join("load.sh"))
        .arg(&db)
        .env("ARGUS", argus)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );

    let mut labels: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for line in std::fs::read_to_string(data.join("labels.csv"))
        .unwrap()
        .lines()
        .skip(1)
    {
        let parts: Vec<&str> = line.split(',').collect();
        labels
            .entry((parts[0].to_string(), parts[2].to_string()))
            .or_default()
            .insert(parts[1].to_string());
    }
    let planted = |entity: &str, reason: &str| -> BTreeSet<String> {
        labels
            .get(&(entity.to_string(), reason.to_string()))
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|k| format!("{entity}:{k}"))
            .collect()
    };

    let store = Arc::new(argus_engine::GraphStore::open(&db).unwrap());
    let session = ArgusSession::new(store).unwrap();

    // Rings: every member sits in a component of at least five users linked by devices/IPs.
    let ring = planted("user", "ring");
    assert!(ring.len() >= 5);
    let in_big_components = strings(
        &session,
        "SELECT node FROM connected_components('uses_device,uses_ip') WHERE label = 'user' AND component IN \
         (SELECT component FROM connected_components('uses_device,uses_ip') WHERE label = 'user' GROUP BY component HAVING count(*) >= 5)",
    )
    .await;
    let missed: Vec<_> = ring.difference(&in_big_components).collect();
    assert!(
        missed.is_empty(),
        "ring members not found in a shared-identifier component: {missed:?}"
    );

    // Mule cycles: every member is on a time-respecting transfer cycle within a day.
    let cyclers = planted("user", "mule_cycle");
    assert!(!cyclers.is_empty());
    let on_cycles = strings(&session, "SELECT node FROM cycles('transfer', 6, 86400)").await;
    let missed: Vec<_> = cyclers.difference(&on_cycles).collect();
    assert!(
        missed.is_empty(),
        "mule-cycle users not on any cycle: {missed:?}"
    );

    // Card testing: every burst card pays 20+ distinct merchants within ten minutes.
    let testers = planted("card", "card_testing");
    assert!(!testers.is_empty());
    let bursts = strings(&session, "SELECT node FROM fan_out('paid', 600, 20)").await;
    let missed: Vec<_> = testers.difference(&bursts).collect();
    assert!(
        missed.is_empty(),
        "card-testing cards not flagged by fan_out: {missed:?}"
    );
    let flagged_clean = bursts.difference(&testers).count();
    assert!(
        flagged_clean * 4 <= testers.len().max(4),
        "fan_out flags too many clean cards: {flagged_clean}"
    );
}
