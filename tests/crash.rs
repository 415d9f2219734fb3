//! Kill -9 during a bulk load loses no acknowledged batch, never leaves half a batch, and leaves
//! a store that `check` passes; the load then finishes with `--resume` into exactly the store a
//! load without interruptions makes. Kills land in RocksDB commits through the synced log, the
//! unsynced log (buffered durability) and the bulk path (table files linked into the store,
//! including between linking a batch's two files), and, with the `sled` feature, in sled
//! commits. 20 trials by default; `ARGUS_CRASH_TRIALS=100` for the long run.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use argus_engine::{Dir, GraphStore, NeighborQuery};
use argus_tests::{assert_same_contents, crash_row, write_crash_csv};
use rand::{Rng, SeedableRng};

const ROWS: u64 = 2_000_000;
/// sled loads more slowly and gets a fifth of the trials: a shorter file keeps its finishing
/// loads short.
const SLED_ROWS: u64 = 300_000;
/// Rows per batch while the parent kills the child: small, so that kills land mid-load.
const CRASH_BATCH_ROWS: usize = 500;
/// Rows per batch of the uninterrupted loads that finish and compare.
const FINISH_BATCH_ROWS: usize = 100_000;

/// How a trial's child commits, and where the parent kills it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Logged,
    Linked,
    Buffered,
    /// Linked, killed after linking the first of a batch's two table files.
    BetweenLinks,
    Sled,
}

impl Mode {
    fn child_mode(self) -> &'static str {
        match self {
            Mode::Logged => "logged",
            Mode::Linked | Mode::BetweenLinks => "linked",
            Mode::Buffered => "buffered",
            Mode::Sled => "sled",
        }
    }
}

/// One data directory the trials kill loads into, the file they load and what was committed
/// there so far.
struct Lane {
    db: PathBuf,
    csv: PathBuf,
    rows: u64,
    committed: u64,
}

fn spawn_child(
    db: &Path,
    csv: &Path,
    mode: Mode,
    batch_rows: usize,
    pause_at: Option<u64>,
) -> std::process::Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_crash_child"));
    command
        .arg(db)
        .arg(csv)
        .arg(mode.child_mode())
        .arg(batch_rows.to_string());
    if let Some(k) = pause_at {
        command.arg(k.to_string());
    }
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn crash child")
}

/// Run one child and kill it at a random moment (or, for [`Mode::BetweenLinks`], once it says it
/// stopped between two links). Returns the last row count it acknowledged.
fn kill_during_load(lane: &Lane, mode: Mode, rng: &mut impl Rng) -> u64 {
    let pause_at = (mode == Mode::BetweenLinks).then(|| rng.gen_range(1..=8));
    let mut child = spawn_child(&lane.db, &lane.csv, mode, CRASH_BATCH_ROWS, pause_at);
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
    let wait_for_first_ack = pause_at.is_some() || rng.gen_bool(0.8);
    let delay = Duration::from_millis(rng.gen_range(5..400));
    let mut acked = 0u64;
    let mut deadline = if wait_for_first_ack {
        None
    } else {
        Some(Instant::now() + delay)
    };
    loop {
        let timeout = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()),
            None => Duration::from_secs(60),
        };
        match rx.recv_timeout(timeout) {
            Ok(line) => {
                if let Some(n) = line.strip_prefix("ACK ") {
                    acked = n.parse().unwrap();
                    if deadline.is_none() && pause_at.is_none() {
                        deadline = Some(Instant::now() + delay);
                    }
                }
                if line == "LINKING" {
                    break;
                }
                assert_ne!(
                    line, "DONE",
                    "the load finished before the kill; make the file bigger"
                );
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                assert!(deadline.is_some(), "the child went quiet for a minute");
                break;
            }
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
            acked = n.parse().unwrap();
        }
    }
    acked
}

/// Load the whole file (resuming) without interruption; panics unless the child says `DONE`.
fn load_to_the_end(db: &Path, csv: &Path, mode: Mode) {
    let mut child = spawn_child(db, csv, mode, FINISH_BATCH_ROWS, None);
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let last = stdout.lines().map(Result::unwrap).last();
    let status = child.wait().unwrap();
    assert!(
        status.success() && last.as_deref() == Some("DONE"),
        "{mode:?}: {status}, last line {last:?}"
    );
}

/// The checks after every kill: acknowledged rows present, whole batches only, `check` clean,
/// sample rows as written. Returns the rows committed.
fn check_after_kill(db: &Path, trial: u32, acked: u64) -> u64 {
    let store = GraphStore::open(db).expect("reopen after kill");
    let snap = store.snapshot();
    let committed = match snap.catalog().edge_type("pays") {
        Ok(t) => snap.edge_count(t.id).unwrap(),
        Err(_) => 0,
    };
    assert!(
        committed >= acked,
        "trial {trial}: {acked} rows acknowledged, only {committed} present"
    );
    assert_eq!(
        committed % CRASH_BATCH_ROWS as u64,
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
        // Spot-check committed rows: the edge with id i is row i of the file.
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
    committed
}

#[test]
fn kill_9_during_load_loses_no_acknowledged_batch_and_the_resumed_load_matches_a_clean_one() {
    let trials: u32 = std::env::var("ARGUS_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("edges.csv");
    write_crash_csv(&csv, ROWS).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xC0FFEE);
    let mut rocks = Lane {
        db: dir.path().join("rocksdb"),
        csv,
        rows: ROWS,
        committed: 0,
    };
    let rocks_modes = [
        Mode::Logged,
        Mode::Linked,
        Mode::Buffered,
        Mode::BetweenLinks,
    ];
    // Every fifth trial goes to sled when it is built in.
    let mut sled = cfg!(feature = "sled").then(|| {
        let csv = dir.path().join("sled-edges.csv");
        write_crash_csv(&csv, SLED_ROWS).unwrap();
        Lane {
            db: dir.path().join("sled"),
            csv,
            rows: SLED_ROWS,
            committed: 0,
        }
    });
    let mut kills_mid_load = 0;
    let mut kills_between_links = 0;

    for trial in 0..trials {
        let (lane, mode) = match &mut sled {
            Some(lane) if trial % 5 == 4 => (lane, Mode::Sled),
            _ => (&mut rocks, rocks_modes[trial as usize % rocks_modes.len()]),
        };
        let before = lane.committed;
        let acked = kill_during_load(lane, mode, &mut rng);
        let committed = check_after_kill(&lane.db, trial, acked.max(before));
        if mode == Mode::BetweenLinks {
            // The batch stopped between its links was committed, so opening completed it.
            assert_eq!(
                committed,
                acked.max(before) + CRASH_BATCH_ROWS as u64,
                "trial {trial}: the batch killed between its links was not completed"
            );
            kills_between_links += 1;
        }
        if committed > before {
            kills_mid_load += 1;
        }
        lane.committed = committed;
    }
    assert!(
        kills_mid_load >= trials / 3,
        "too few kills landed during the load ({kills_mid_load} of {trials})"
    );

    // Finish each interrupted load and compare it with the same load run once.
    let mut lanes = vec![(rocks, Mode::Linked)];
    lanes.extend(sled.map(|lane| (lane, Mode::Sled)));
    for (lane, mode) in lanes {
        let started = Instant::now();
        load_to_the_end(&lane.db, &lane.csv, mode);
        let clean_db = lane.db.with_extension("clean");
        load_to_the_end(&clean_db, &lane.csv, mode);
        let resumed = GraphStore::open(&lane.db).unwrap();
        let clean = GraphStore::open(&clean_db).unwrap();
        let t = resumed.catalog().edge_type("pays").unwrap().id;
        assert_eq!(resumed.snapshot().edge_count(t).unwrap(), lane.rows);
        let compared = assert_same_contents(&resumed, &clean);
        eprintln!(
            "crash test: {mode:?} store finished after {} rows committed under kills; {compared} entries equal to a clean load ({:.1} s)",
            lane.committed,
            started.elapsed().as_secs_f64()
        );
    }
    eprintln!("crash test: {trials} trials, {kills_mid_load} killed mid-load, {kills_between_links} between two links");
}
