//! Child process of the crash test: loads the edge file given as argument into the store
//! (resuming from its checkpoint) and prints `ACK <rows committed>` after each committed batch,
//! then `DONE`. The parent kills it with SIGKILL at random moments.
//!
//! Arguments: `DB FILE MODE BATCH_ROWS [PAUSE_AT]`. `MODE` picks how batches are committed:
//! `linked` (as table files linked into RocksDB), `logged` (through RocksDB's write-ahead log,
//! synced), `buffered` (the log, not synced) or `sled`. With `PAUSE_AT` = K (linked only), the
//! K-th commit of this run prints `LINKING` after linking its first table file and then waits,
//! before its second, for the parent to kill it there.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use argus_engine::load::{self, EdgeLoad, LoadOptions, LoadProgress};
use argus_engine::storage::LinkHook;
use argus_engine::{BackendKind, Durability, GraphStore, StoreOptions};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [db, file, mode, batch_rows, rest @ ..] = args.as_slice() else {
        bail!("usage: crash_child DB FILE MODE BATCH_ROWS [PAUSE_AT]");
    };
    let batch_rows: usize = batch_rows.parse().context("BATCH_ROWS")?;
    let pause_at: u64 = match rest.first() {
        Some(k) => k.parse().context("PAUSE_AT")?,
        None => 0,
    };
    let mut options = StoreOptions::default();
    let mut backend = BackendKind::RocksDb;
    match mode.as_str() {
        "linked" => options.ingest_min_fresh = 1,
        "logged" => options.ingest_min_fresh = usize::MAX,
        "buffered" => {
            options.ingest_min_fresh = usize::MAX;
            options.durability = Durability::Buffered;
        }
        "sled" => backend = BackendKind::Sled,
        other => bail!("unknown mode {other}"),
    }
    if pause_at > 0 {
        let commits = AtomicU64::new(0);
        let hook = move |_: &Path, position: usize| {
            if position == 0 {
                commits.fetch_add(1, Ordering::SeqCst);
            } else if position == 1 && commits.load(Ordering::SeqCst) == pause_at {
                let mut out = std::io::stdout().lock();
                writeln!(out, "LINKING").expect("parent reads stdout");
                out.flush().expect("flush");
                loop {
                    std::thread::park();
                }
            }
        };
        options.before_link = Some(LinkHook(Arc::new(hook)));
    }
    let store = GraphStore::open_with(db, Some(backend), options)?;
    let spec = EdgeLoad {
        edge_type: "pays".into(),
        file: PathBuf::from(file),
        src_label: "acct".into(),
        src_column: "src".into(),
        dst_label: "merch".into(),
        dst_column: "dst".into(),
        time_column: Some("time".into()),
        undirected: false,
        create_missing_nodes: true,
        resume: true,
        again: false,
        options: LoadOptions {
            batch_rows,
            ..LoadOptions::default()
        },
    };
    let stdout = std::io::stdout();
    load::load_edges(&store, &spec, &mut |p: &LoadProgress| {
        let mut out = stdout.lock();
        // The batch is durable before this line is written: the parent may rely on it.
        writeln!(out, "ACK {}", p.rows_committed).expect("parent reads stdout");
        out.flush().expect("flush");
    })?;
    println!("DONE");
    Ok(())
}
