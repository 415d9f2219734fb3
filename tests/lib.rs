//! Integration tests of Argus against real stores on disk: the backend conformance suite, the
//! graph store and loaders end to end, and the kill -9 crash test (with its child process in
//! `crash_child.rs`). Shared helpers live here.

use std::io::Write;
use std::path::Path;

/// Rows of the crash test's edge file: `src,dst,time,amount` where row `i` links `a{i % 5000}` to
/// `b{(i * 7) % 3000}` at time `i` seconds. Deterministic, so the parent can check any row.
pub fn crash_row(i: u64) -> (String, String, i64, f64) {
    (
        format!("a{}", i % 5000),
        format!("b{}", (i * 7) % 3000),
        i as i64,
        (i % 1000) as f64 / 4.0,
    )
}

/// Write `rows` crash-test rows as CSV with a header.
pub fn write_crash_csv(path: &Path, rows: u64) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "src,dst,time,amount")?;
    for i in 0..rows {
        let (s, d, t, a) = crash_row(i);
        writeln!(out, "{s},{d},{t},{a}")?;
    }
    out.flush()
}

/// Panics unless two stores hold the same keys and values in every keyspace (catalog, id
/// counters and checkpoints included): what a load that was interrupted and resumed must leave,
/// compared with the same load run once without interruption. Returns the entries compared.
pub fn assert_same_contents(
    resumed: &argus_engine::GraphStore,
    clean: &argus_engine::GraphStore,
) -> u64 {
    use argus_engine::keys::{prefix_successor, Keyspace};
    let (left, right) = (resumed.snapshot(), clean.snapshot());
    let mut compared = 0;
    for ks in Keyspace::ALL {
        let lower = [ks.prefix()];
        let upper = prefix_successor(&lower);
        let mut l = left.view().scan(&lower, &upper, false);
        let mut r = right.view().scan(&lower, &upper, false);
        let mut index = 0u64;
        loop {
            let (a, b) = (l.next().transpose().unwrap(), r.next().transpose().unwrap());
            if a.is_none() && b.is_none() {
                break;
            }
            assert_eq!(a, b, "keyspace {ks:?}: entry #{index} differs");
            index += 1;
        }
        compared += index;
    }
    compared
}
