//! Child process of the crash test: loads the edge file given as argument into the store in
//! small batches (resuming from its checkpoint) and prints `ACK <rows committed>` after each
//! committed batch. The parent kills it with SIGKILL at random moments. A third argument,
//! `linked` or `logged`, picks whether batches are committed as linked table files or through
//! the write-ahead log.

use std::io::Write;
use std::path::PathBuf;

use argus_engine::load::{self, EdgeLoad, LoadOptions, LoadProgress};
use argus_engine::{GraphStore, StoreOptions};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let db = PathBuf::from(args.next().expect("db dir"));
    let file = PathBuf::from(args.next().expect("csv file"));
    let linked = args.next().as_deref() == Some("linked");
    let options = StoreOptions {
        ingest_min_fresh: if linked { 1 } else { usize::MAX },
        ..StoreOptions::default()
    };
    let store = GraphStore::open_with(&db, None, options)?;
    let spec = EdgeLoad {
        edge_type: "pays".into(),
        file,
        src_label: "acct".into(),
        src_column: "src".into(),
        dst_label: "merch".into(),
        dst_column: "dst".into(),
        time_column: Some("time".into()),
        undirected: false,
        create_missing_nodes: true,
        resume: true,
        options: LoadOptions {
            batch_rows: 500,
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
