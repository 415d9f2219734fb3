//! Kill -9 during a bulk load loses no acknowledged batch, never leaves half a batch, and leaves
//! a store that `check` passes. 20 trials by default; `ARGUS_CRASH_TRIALS=100` for the long run.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use argus_engine::{Dir, GraphStore, NeighborQuery};
use argus_tests::{crash_row, write_crash_csv};
use rand::{Rng, SeedableRng};

const ROWS: u64 = 2_000_000;

#[test]
fn kill_9_during_load_loses_no_acknowledged_batch() {
    let trials: u32 = std::env::var("ARGUS_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let csv = dir.path().join("edges.csv");
    write_crash_csv(&csv, ROWS).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xC0FFEE);
    let mut max_acked = 0u64;
    let mut kills_mid_load = 0;

    for trial in 0..trials {
        // Odd trials commit every batch through RocksDB's bulk path (table files linked into
        // the store), even ones through its log, so kills land in both.
        let path = if trial % 2 == 1 { "linked" } else { "logged" };
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash_child"))
            .arg(&db)
            .arg(&csv)
            .arg(path)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn crash child");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Kill at a random moment: sometimes before the first batch, mostly in the middle.
        let wait_for_first_ack = rng.gen_bool(0.8);
        let delay = Duration::from_millis(rng.gen_range(5..400));
        let started = Instant::now();
        let mut acked_this_run = 0u64;
        let mut deadline = if wait_for_first_ack {
            None
        } else {
            Some(started + delay)
        };
        loop {
            let timeout = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(60),
            };
            match rx.recv_timeout(timeout) {
                Ok(line) => {
                    if let Some(n) = line.strip_prefix("ACK ") {
                        acked_this_run = n.parse().unwrap();
                        if deadline.is_none() {
                            deadline = Some(Instant::now() + delay);
                        }
                    }
                    assert_ne!(
                        line, "DONE",
                        "the load finished before the kill; make the file bigger"
                    );
                }
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("child exited early: {:?}", child.wait())
                }
            }
        }
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        // Lines already written before the kill are acknowledgements too.
        reader.join().unwrap();
        while let Ok(line) = rx.try_recv() {
            if let Some(n) = line.strip_prefix("ACK ") {
                acked_this_run = n.parse().unwrap();
            }
        }
        if acked_this_run > max_acked {
            kills_mid_load += 1;
            max_acked = acked_this_run;
        }

        let store = GraphStore::open(&db).expect("reopen after kill");
        let snap = store.snapshot();
        let committed = match snap.catalog().edge_type("pays") {
            Ok(t) => snap.edge_count(t.id).unwrap(),
            Err(_) => 0,
        };
        assert!(
            committed >= max_acked,
            "trial {trial}: {max_acked} rows acknowledged, only {committed} present"
        );
        assert_eq!(
            committed % 500,
            0,
            "trial {trial}: a partial batch is visible ({committed} rows)"
        );
        let report = argus_engine::check::check(&snap).unwrap();
        assert!(
            report.is_ok(),
            "trial {trial}: check failed: {:?}",
            report.problems
        );
        if committed > 0 {
            // Spot-check acknowledged rows: the edge with id i is row i of the file.
            let t = snap.catalog().edge_type("pays").unwrap().id;
            for i in [0, committed / 2, committed - 1] {
                let e = snap.edge(t, i).unwrap().expect("acknowledged edge present");
                let (s, d, time, amount) = crash_row(i);
                let src_label = snap.catalog().label("acct").unwrap().id;
                let dst_label = snap.catalog().label("merch").unwrap().id;
                assert_eq!(snap.node_key(src_label, e.src).unwrap().unwrap(), s);
                assert_eq!(snap.node_key(dst_label, e.dst).unwrap().unwrap(), d);
                assert_eq!(e.time, Some(time * 1_000_000));
                assert_eq!(
                    e.props,
                    vec![("amount".to_string(), argus_engine::Value::Float(amount))]
                );
            }
            let q = NeighborQuery {
                edge_type: Some("pays".into()),
                limit: Some(3),
                ..Default::default()
            };
            let a0 = snap.neighbors("acct", "a0", &q).unwrap();
            assert!(!a0.is_empty() && a0.iter().all(|n| n.dir == Dir::Out));
        }
        max_acked = max_acked.max(committed);
    }
    assert!(
        kills_mid_load >= trials / 3,
        "too few kills landed during the load ({kills_mid_load} of {trials})"
    );
    eprintln!("crash test: {trials} trials, {kills_mid_load} killed mid-load, {max_acked} rows committed in the end");
}
