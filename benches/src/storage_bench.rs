//! Storage benchmark: bulk load and neighbourhood queries of Argus against Kuzu on the synthetic
//! payments graph.
//!
//! Steps: generate the data set (reused while its config is unchanged), load cards, merchants and
//! the `paid` edges into a fresh Argus store (the edge load is timed until the flush and
//! compaction it leaves behind are done, with its peak memory), time three queries per sampled
//! card (all payments, a 7-day window, 2-hop co-paying cards) and the first two once more as one
//! batch over all cards, run the same load and queries in Kuzu through `kuzu_bench.py`, check
//! both return the same results, and print a comparison table (also written to
//! `WORK/results.json`). Differing results fail the run: every target reads as not met and the
//! process exits with status 1 once the table and the JSON are written.

use std::fs;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use argus_benches::PaymentsArgs;
use argus_benches::{
    dir_size, fmt_num, load_average, ms, peer_python, percentile, prepare_data, proc_status_kib,
    python_has, reset_peak_rss, text_table,
};
use argus_engine::catalog::HasProperties;
use argus_engine::keys::CatalogId;
use argus_engine::load::{load_edges, load_nodes, EdgeLoad, LoadOptions, LoadProgress, NodeLoad};
use argus_engine::{Dir, Direction, GraphStore, NeighborQuery, NodeId, Snapshot, Value};
use clap::Parser;

// The allocator the `argus` binary uses, so the load is timed as users run it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rustc_hash::FxHashSet;
use serde_json::{json, Value as Json};

const DAY_SECS: i64 = 86_400;
const WINDOW_SECS: i64 = 7 * DAY_SECS;
const MICROS: i64 = 1_000_000;
const CONFIG_MARKER: &str = ".storage-bench-config";
const KUZU_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/kuzu_bench.py");
/// Query kinds, in the order they are run and reported (names shared with `kuzu_bench.py`).
const QUERY_KINDS: [&str; 3] = ["txns", "window", "two_hop"];
/// Argus-only diagnostic: the card's payments without reading their amounts, which separates
/// the adjacency scan from the per-edge property reads in the 1-hop timing.
const ARGUS_ONLY_KINDS: [&str; 1] = ["txn_ids"];
/// Query kinds also run as one batch over all cards (names shared with `kuzu_bench.py`).
const BATCH_KINDS: [&str; 2] = ["txns", "window"];
/// The threads of an Argus edge load (see `engine/src/load/mod.rs` and the RocksDB options in
/// `engine/src/storage/rocks.rs`), printed beside Kuzu's thread count.
const ARGUS_LOAD_THREADS: &str = "1 CSV parser, 1 batch builder, 1 committer (writing each \
    batch's edge and adjacency table files on 2 threads); RocksDB: 1 flush thread, 1 compaction \
    at a time in up to 2 subcompactions";

/// Command-line options.
#[derive(Parser, Debug)]
#[command(about = "Argus vs Kuzu: bulk load of payments and neighbourhood query latency")]
struct Args {
    #[command(flatten)]
    data: PaymentsArgs,
    /// Working directory: data set, both databases and results.json.
    #[arg(long, default_value = "./bench-out/storage")]
    work: PathBuf,
    /// Cards sampled for the query timings.
    #[arg(long, default_value_t = 300)]
    queries: usize,
    /// Rows per atomic batch of the Argus edge load.
    #[arg(long, default_value_t = LoadOptions::default().batch_rows)]
    batch_rows: usize,
    /// Threads Kuzu may use (the reference machine has 2 cores).
    #[arg(long, default_value_t = 2)]
    kuzu_threads: usize,
    /// Run Argus only.
    #[arg(long)]
    skip_kuzu: bool,
    /// Stop after the Argus load and its compaction, printing their times and CPU (for
    /// comparing load settings).
    #[arg(long)]
    load_only: bool,
}

macro_rules! progress {
    ($($arg:tt)*) => { eprintln!("[storage_bench] {}", format_args!($($arg)*)) };
}

/// A sampled card and its query window (Unix seconds, inclusive).
#[derive(Debug, Clone)]
struct Probe {
    card_id: String,
    since: i64,
    until: i64,
}

/// Timings and results of one query kind over all probes.
#[derive(Debug, Clone, Default)]
struct QueryRun {
    times_ms: Vec<f64>,
    counts: Vec<u64>,
    amount_sums: Vec<f64>,
}

impl QueryRun {
    fn median(&self) -> f64 {
        percentile(&self.times_ms, 50.0)
    }
    fn p99(&self) -> f64 {
        percentile(&self.times_ms, 99.0)
    }
}

/// One query kind run for all probes as one timed unit.
#[derive(Debug, Clone, Default)]
struct BatchRun {
    secs: f64,
    counts: Vec<u64>,
    amount_sums: Vec<f64>,
}

impl BatchRun {
    fn us_per_card(&self) -> f64 {
        self.secs * 1e6 / self.counts.len().max(1) as f64
    }
}

/// What the Argus side measured.
#[derive(Debug, Default)]
struct ArgusResult {
    edges: u64,
    node_load_secs: f64,
    /// Until the last batch was committed (durable and readable).
    load_secs: f64,
    flush_secs: f64,
    /// Background compaction still running after the flush, until it caught up.
    compaction_secs: f64,
    /// CPU seconds of the process (all threads) from the start of the load until compaction
    /// caught up.
    load_cpu_secs: Option<f64>,
    batches: u64,
    /// Peak RSS from the start of the load until compaction caught up.
    load_peak_kib: Option<u64>,
    /// Peak RSS from the start of the load until its last commit.
    peak_at_last_commit_kib: Option<u64>,
    rss_before_kib: Option<u64>,
    disk_bytes: u64,
    queries: Vec<(String, QueryRun)>,
    batches_of_queries: Vec<(String, BatchRun)>,
}

impl ArgusResult {
    /// The whole work of the load: until RocksDB has flushed and compacted what it left.
    fn whole_load_secs(&self) -> f64 {
        self.load_secs + self.flush_secs + self.compaction_secs
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let load_at_start = load_average();
    if args.queries == 0 {
        bail!("--queries must be at least 1");
    }
    fs::create_dir_all(&args.work).with_context(|| format!("creating {}", args.work.display()))?;
    let work = fs::canonicalize(&args.work)?;
    let config = args.data.config();

    let data = work.join("data");
    prepare_data(&config, &data, CONFIG_MARKER, "storage_bench")?;
    // Freshly generated files are written back before the timed load (kuzu_bench.py does the
    // same with its inputs): the kernel flushing them would otherwise compete with the load.
    write_back_dirty_pages();

    let (argus, probes) = run_argus(&args, &data, &work.join("argus"))?;

    let kuzu = if args.skip_kuzu {
        progress!("Kuzu skipped (--skip-kuzu)");
        None
    } else {
        run_kuzu(&args, &data, &work, &probes)?
    };

    let agreement = kuzu.as_ref().map(|k| compare_results(&argus, k, &probes));
    let results_differ = agreement.as_ref().is_some_and(Agreement::differ);
    let table = build_table(&argus, kuzu.as_ref());
    let text = render_table(&table, results_differ);
    let kuzu_threads = if kuzu.is_some() {
        format!("{} (--kuzu-threads)", args.kuzu_threads)
    } else {
        "-".to_string()
    };
    println!();
    println!(
        "storage benchmark: {} users, {} merchants, {} payments, seed {}; {} cards sampled; Argus batch {} rows",
        args.data.users, args.data.merchants, args.data.transactions, args.data.seed, probes.len(), args.batch_rows
    );
    let load_at_end = load_average();
    let cores = argus_benches::cores();
    println!("machine: {cores} cores; load average (1/5/15 min) at start {load_at_start}, at end {load_at_end}");
    println!("load threads: argus {ARGUS_LOAD_THREADS}; kuzu {kuzu_threads}");
    println!("{text}");
    match &agreement {
        Some(a) => println!("{}", a.summary),
        None => println!("result check: skipped (no Kuzu run)"),
    }

    let results = json!({
        "config": {
            "users": args.data.users,
            "merchants": args.data.merchants,
            "transactions": args.data.transactions,
            "seed": args.data.seed,
            "queries": probes.len(),
            "batch_rows": args.batch_rows,
            "kuzu_threads": args.kuzu_threads,
            "argus_load_threads": ARGUS_LOAD_THREADS,
            "cores": cores,
            "load_average_start": load_at_start,
            "load_average_end": load_at_end,
        },
        "table": table.iter().map(|r| r.to_json(results_differ)).collect::<Vec<_>>(),
        "table_text": text,
        "argus": argus_json(&argus),
        "kuzu": kuzu.clone().unwrap_or(Json::Null),
        "results_agree": agreement.as_ref().map(|a| json!({
            "agree": !a.differ(),
            "compared": a.compared,
            "count_mismatches": a.count_mismatches,
            "amount_mismatches": a.amount_mismatches,
            "edge_counts_differ": a.edge_counts_differ,
            "summary": a.summary,
        })),
        "probes": probes.iter().map(|p| json!({"card_id": p.card_id, "since": p.since, "until": p.until})).collect::<Vec<_>>(),
    });
    let out = work.join("results.json");
    fs::write(&out, serde_json::to_string_pretty(&results)?)
        .with_context(|| format!("writing {}", out.display()))?;
    progress!("wrote {}", out.display());
    if results_differ {
        bail!("Argus and Kuzu returned different results (see the result check above)");
    }
    Ok(())
}

/// Steps 2 and 3: load into a fresh Argus store, sample the cards, time the queries.
/// Have the kernel write every dirty page to disk (`sync`), so that no untimed preparation is
/// still being flushed while a timed load runs.
fn write_back_dirty_pages() {
    if let Err(e) = std::process::Command::new("sync").status() {
        progress!("could not run sync ({e}); dirty pages may be written back during the load");
    }
}

fn run_argus(args: &Args, data: &Path, dir: &Path) -> Result<(ArgusResult, Vec<Probe>)> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("removing old {}", dir.display()))?;
    }
    let store = GraphStore::open(dir)?;
    let mut result = ArgusResult::default();

    let start = Instant::now();
    for (label, file, key) in [
        ("card", "cards.csv", "card_id"),
        ("merchant", "merchants.csv", "merchant_id"),
    ] {
        let spec = NodeLoad {
            label: label.into(),
            file: data.join(file),
            key: key.into(),
            options: LoadOptions::default(),
        };
        let report = load_nodes(&store, &spec, &mut |_| {})?;
        progress!(
            "argus: {} {label} nodes loaded ({:.1} s)",
            report.nodes_created,
            report.millis as f64 / 1e3
        );
    }
    result.node_load_secs = start.elapsed().as_secs_f64();
    // The nodes' memtables and compactions are theirs, not the timed edge load's.
    store.flush()?;
    store.wait_for_compaction()?;

    let spec = EdgeLoad {
        edge_type: "paid".into(),
        file: data.join("transactions.csv"),
        src_label: "card".into(),
        src_column: "card_id".into(),
        dst_label: "merchant".into(),
        dst_column: "merchant_id".into(),
        time_column: Some("time".into()),
        undirected: false,
        create_missing_nodes: false,
        resume: false,
        again: false,
        options: LoadOptions {
            batch_rows: args.batch_rows,
            ..LoadOptions::default()
        },
    };
    progress!(
        "argus: loading paid edges (timed, batch {} rows)",
        args.batch_rows
    );
    result.rss_before_kib = proc_status_kib("VmRSS");
    let hwm_reset = reset_peak_rss();
    if !hwm_reset {
        progress!("argus: cannot reset the peak-RSS mark; peak memory covers the whole process");
    }
    let cpu_before = argus_benches::process_cpu_secs();
    let start = Instant::now();
    let mut last_tenth = 0;
    let report = load_edges(&store, &spec, &mut |p: &LoadProgress| {
        let tenth = p.bytes_read * 10 / p.total_bytes.max(1);
        if tenth > last_tenth {
            last_tenth = tenth;
            let secs = start.elapsed().as_secs_f64();
            progress!(
                "argus: paid {}% ({} rows, {:.1} s, {:.0} rows/s, RSS {} MiB)",
                tenth * 10,
                p.rows_committed,
                secs,
                p.rows_committed as f64 / secs,
                proc_status_kib("VmRSS").unwrap_or(0) / 1024
            );
        }
    })?;
    result.load_secs = start.elapsed().as_secs_f64();
    result.peak_at_last_commit_kib = proc_status_kib("VmHWM").filter(|_| hwm_reset);
    result.edges = report.edges_inserted;
    result.batches = report.batches;
    progress!(
        "argus: {} edges committed in {:.2} s ({:.0} edges/s), {} batches, peak RSS so far {} MiB",
        result.edges,
        result.load_secs,
        result.edges as f64 / result.load_secs,
        result.batches,
        result.peak_at_last_commit_kib.unwrap_or(0) / 1024
    );
    let start = Instant::now();
    store.flush()?;
    result.flush_secs = start.elapsed().as_secs_f64();
    let start = Instant::now();
    store.wait_for_compaction()?;
    result.compaction_secs = start.elapsed().as_secs_f64();
    result.load_cpu_secs = argus_benches::process_cpu_secs()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    // The flush and compaction are part of the load's work, so its peak memory covers them.
    result.load_peak_kib = proc_status_kib("VmHWM").filter(|_| hwm_reset);
    result.disk_bytes = dir_size(dir);
    progress!(
        "argus: flushed in {:.2} s, compaction caught up {:.2} s later ({:.0} edges/s in all, peak RSS {} MiB); store is {} MiB on disk",
        result.flush_secs,
        result.compaction_secs,
        result.edges as f64 / result.whole_load_secs(),
        result.load_peak_kib.unwrap_or(0) / 1024,
        result.disk_bytes >> 20
    );
    if args.load_only {
        println!(
            "load {:.2} s ({:.0} edges/s), flush {:.2} s, compaction {:.2} s ({:.0} edges/s in all), CPU {:.1} s, peak RSS {} MiB",
            result.load_secs,
            result.edges as f64 / result.load_secs,
            result.flush_secs,
            result.compaction_secs,
            result.edges as f64 / result.whole_load_secs(),
            result.load_cpu_secs.unwrap_or(f64::NAN),
            result.load_peak_kib.unwrap_or(0) / 1024
        );
        std::process::exit(0);
    }

    let ids = Ids::resolve(&store.snapshot())?;
    let probes = pick_probes(&store, &ids, data, args.queries, args.data.seed)?;
    progress!("argus: {} cards sampled; warm-up pass", probes.len());
    for kind in QUERY_KINDS.into_iter().chain(ARGUS_ONLY_KINDS) {
        for p in &probes {
            black_box(run_query(&store.snapshot(), &ids, kind, p)?);
        }
    }
    progress!("argus: timed pass");
    for kind in QUERY_KINDS.into_iter().chain(ARGUS_ONLY_KINDS) {
        let mut run = QueryRun::default();
        for p in &probes {
            let t = Instant::now();
            let snapshot = store.snapshot();
            let (count, sum) = black_box(run_query(&snapshot, &ids, kind, p)?);
            drop(snapshot);
            run.times_ms.push(ms(t.elapsed()));
            run.counts.push(count);
            if matches!(kind, "txns" | "window") {
                run.amount_sums.push(sum);
            }
        }
        let mean = run.counts.iter().sum::<u64>() as f64 / run.counts.len() as f64;
        progress!(
            "argus: {kind}: median {:.3} ms, p99 {:.3} ms (mean {mean:.1} results per card)",
            run.median(),
            run.p99()
        );
        result.queries.push((kind.to_string(), run));
    }
    for kind in BATCH_KINDS {
        black_box(run_batch(&store, &ids, kind, &probes)?);
        let batch = run_batch(&store, &ids, kind, &probes)?;
        progress!(
            "argus: batch {kind}: {} cards in {:.3} ms ({:.2} us per card)",
            probes.len(),
            batch.secs * 1e3,
            batch.us_per_card()
        );
        result.batches_of_queries.push((kind.to_string(), batch));
    }
    Ok((result, probes))
}

/// One query kind for every probe in one timed loop over one snapshot: the counterpart of
/// Kuzu's single query over the list of all cards.
fn run_batch(store: &GraphStore, ids: &Ids, kind: &str, probes: &[Probe]) -> Result<BatchRun> {
    let mut counts = Vec::with_capacity(probes.len());
    let mut amount_sums = Vec::with_capacity(probes.len());
    let start = Instant::now();
    let snapshot = store.snapshot();
    for p in probes {
        let (count, sum) = black_box(run_query(&snapshot, ids, kind, p)?);
        counts.push(count);
        amount_sums.push(sum);
    }
    drop(snapshot);
    Ok(BatchRun {
        secs: start.elapsed().as_secs_f64(),
        counts,
        amount_sums,
    })
}

/// Catalog ids and reusable queries, resolved once (not part of any timing).
struct Ids {
    card: CatalogId,
    merchant: CatalogId,
    paid: CatalogId,
    /// Index of `amount` among the `paid` properties.
    amount: u16,
    out: NeighborQuery,
    into: NeighborQuery,
}

impl Ids {
    fn resolve(snapshot: &Snapshot) -> Result<Ids> {
        let catalog = snapshot.catalog();
        let query = |direction| NeighborQuery {
            edge_type: Some("paid".into()),
            direction,
            ..Default::default()
        };
        Ok(Ids {
            card: catalog.label("card")?.id,
            merchant: catalog.label("merchant")?.id,
            paid: catalog.edge_type("paid")?.id,
            amount: catalog
                .edge_type("paid")?
                .property_index("amount")
                .context("paid edges have no amount")? as u16,
            out: query(Direction::Out),
            into: query(Direction::In),
        })
    }
}

/// Step 3a: a seeded sample of cards with at least one payment, each with a 7-day window that
/// starts at its first payment (so every window holds data).
fn pick_probes(
    store: &GraphStore,
    ids: &Ids,
    data: &Path,
    n: usize,
    seed: u64,
) -> Result<Vec<Probe>> {
    let text = fs::read_to_string(data.join("cards.csv"))?;
    // Card numbers are plain digits, so the first field needs no CSV unquoting.
    let mut cards: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    cards.shuffle(&mut StdRng::seed_from_u64(seed));
    let snapshot = store.snapshot();
    let first = NeighborQuery {
        oldest_first: true,
        limit: Some(1),
        ..ids.out.clone()
    };
    let mut probes = Vec::with_capacity(n);
    for card in cards {
        let Some(id) = snapshot.node_id_in(ids.card, card)? else {
            continue;
        };
        if snapshot.degree(ids.card, id, ids.paid, Dir::Out)? == 0 {
            continue;
        }
        let Some(t) = snapshot
            .neighbors_by_id(ids.card, id, &first)?
            .first()
            .and_then(|nb| nb.time)
        else {
            continue;
        };
        let since = t.div_euclid(MICROS);
        probes.push(Probe {
            card_id: card.to_string(),
            since,
            until: since + WINDOW_SECS,
        });
        if probes.len() == n {
            break;
        }
    }
    if probes.len() < n {
        progress!(
            "argus: only {} cards have payments (asked for {n})",
            probes.len()
        );
    }
    Ok(probes)
}

fn amount(props: &[(u16, Value)], index: u16) -> f64 {
    match props.iter().find(|(i, _)| *i == index).map(|(_, v)| v) {
        Some(Value::Float(f)) => *f,
        Some(Value::Int(i)) => *i as f64,
        _ => 0.0,
    }
}

/// One query for one card: (result count, sum of amounts where the query returns them).
fn run_query(snapshot: &Snapshot, ids: &Ids, kind: &str, probe: &Probe) -> Result<(u64, f64)> {
    match kind {
        "txns" | "window" => {
            let windowed;
            let q = if kind == "window" {
                windowed = NeighborQuery {
                    since: Some(probe.since * MICROS),
                    until: Some(probe.until * MICROS),
                    ..ids.out.clone()
                };
                &windowed
            } else {
                &ids.out
            };
            let mut count = 0;
            let mut sum = 0.0;
            for (_, props) in snapshot.neighbor_edges("card", &probe.card_id, q)? {
                sum += amount(&props, ids.amount);
                count += 1;
            }
            Ok((count, sum))
        }
        "txn_ids" => Ok((
            snapshot.neighbors("card", &probe.card_id, &ids.out)?.len() as u64,
            0.0,
        )),
        "two_hop" => {
            // Every edge of both hops is consumed and order does not matter: visit them in place.
            let card = snapshot
                .node_id_in(ids.card, &probe.card_id)?
                .with_context(|| format!("no card {}", probe.card_id))?;
            let mut merchants: FxHashSet<NodeId> = FxHashSet::default();
            snapshot.for_each_neighbor(ids.card, card, &ids.out, |nb| {
                merchants.insert(nb.node);
                true
            })?;
            let mut others: FxHashSet<NodeId> = FxHashSet::default();
            for m in merchants {
                snapshot.for_each_neighbor(ids.merchant, m, &ids.into, |nb| {
                    if nb.node != card {
                        others.insert(nb.node);
                    }
                    true
                })?;
            }
            Ok((others.len() as u64, 0.0))
        }
        other => bail!("unknown query kind {other}"),
    }
}

/// Step 4: the Kuzu peer; `None` (with a message) when Kuzu is not installed.
fn run_kuzu(args: &Args, data: &Path, work: &Path, probes: &[Probe]) -> Result<Option<Json>> {
    let python = peer_python();
    if !python_has(&python, "kuzu") {
        progress!(
            "Kuzu skipped: `{} -c 'import kuzu'` failed; run benches/setup_peers.sh or set ARGUS_BENCH_PYTHON",
            python.display()
        );
        return Ok(None);
    }
    let cards_file = work.join("kuzu_cards.json");
    let cards: Vec<Json> = probes
        .iter()
        .map(|p| json!({"card_id": p.card_id, "since": p.since, "until": p.until}))
        .collect();
    fs::write(&cards_file, serde_json::to_string(&cards)?)?;
    progress!("kuzu: running {KUZU_SCRIPT} with {}", python.display());
    let output = Command::new(&python)
        .arg(KUZU_SCRIPT)
        .arg(data)
        .arg(work.join("kuzu"))
        .arg(&cards_file)
        .args(["--threads", &args.kuzu_threads.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !output.status.success() {
        bail!("kuzu_bench.py failed ({})", output.status);
    }
    let result: Json =
        serde_json::from_slice(&output.stdout).context("parsing kuzu_bench.py output")?;
    Ok(Some(result))
}

/// Outcome of checking that both systems returned the same results.
struct Agreement {
    compared: usize,
    count_mismatches: usize,
    amount_mismatches: usize,
    edge_counts_differ: bool,
    summary: String,
}

impl Agreement {
    fn differ(&self) -> bool {
        self.count_mismatches > 0 || self.amount_mismatches > 0 || self.edge_counts_differ
    }
}

/// Per-card counts and amount sums of one query kind on both sides, compared card by card.
struct Compared<'a> {
    what: String,
    counts: &'a [u64],
    amount_sums: &'a [f64],
    theirs: &'a Json,
}

/// The entries of a JSON list, `None` where one is not what `f` reads (kept in place, so that
/// positions still match the probes).
fn json_list<T>(v: &Json, f: impl Fn(&Json) -> Option<T>) -> Vec<Option<T>> {
    v.as_array()
        .map(|a| a.iter().map(f).collect())
        .unwrap_or_default()
}

fn compare_results(argus: &ArgusResult, kuzu: &Json, probes: &[Probe]) -> Agreement {
    let mut sets: Vec<Compared> = Vec::new();
    for (kind, run) in argus
        .queries
        .iter()
        .filter(|(k, _)| QUERY_KINDS.contains(&k.as_str()))
    {
        sets.push(Compared {
            what: kind.clone(),
            counts: &run.counts,
            amount_sums: &run.amount_sums,
            theirs: &kuzu["queries"][kind.as_str()],
        });
    }
    for (kind, batch) in &argus.batches_of_queries {
        sets.push(Compared {
            what: format!("batch {kind}"),
            counts: &batch.counts,
            amount_sums: &batch.amount_sums,
            theirs: &kuzu["batch"][kind.as_str()],
        });
    }
    let mut compared = 0;
    let mut count_mismatches = 0;
    let mut amount_mismatches = 0;
    let mut per_kind = Vec::new();
    let mut examples = Vec::new();
    for set in &sets {
        let counts = json_list(&set.theirs["counts"], Json::as_u64);
        let sums = json_list(&set.theirs["amount_sums"], Json::as_f64);
        let mut differ = 0;
        for (i, probe) in probes.iter().enumerate() {
            compared += 1;
            let ours = set.counts.get(i).copied();
            let theirs = counts.get(i).copied().flatten();
            if ours.is_none() || theirs != ours {
                differ += 1;
                if examples.len() < 5 {
                    examples.push(format!(
                        "{} card {}: argus {ours:?} kuzu {theirs:?}",
                        set.what, probe.card_id
                    ));
                }
            } else if let Some(a) = set.amount_sums.get(i) {
                // Summation order differs between the systems, so allow rounding noise; a
                // missing sum on Kuzu's side is a difference.
                let theirs = sums.get(i).copied().flatten();
                let same = theirs.is_some_and(|b| (a - b).abs() <= 1e-6 * a.abs().max(1.0));
                if !same {
                    amount_mismatches += 1;
                    if examples.len() < 5 {
                        examples.push(format!(
                            "{} card {}: amount sum argus {a} kuzu {:?}",
                            set.what, probe.card_id, theirs
                        ));
                    }
                }
            }
        }
        count_mismatches += differ;
        per_kind.push(format!("{} {differ}", set.what));
    }
    let kuzu_edges = kuzu["edges"].as_u64();
    let edge_counts_differ = kuzu_edges != Some(argus.edges);
    let mut summary = if count_mismatches == 0 {
        format!("result check: counts agree on all {compared} (card, query) pairs")
    } else {
        format!(
            "result check: counts DIFFER on {count_mismatches} of {compared} (card, query) pairs ({})",
            per_kind.join(", "),
        )
    };
    summary.push_str(&format!(
        "; amount sums {}",
        if amount_mismatches == 0 {
            "agree".to_string()
        } else {
            format!("DIFFER on {amount_mismatches}")
        }
    ));
    if edge_counts_differ {
        summary.push_str(&format!(
            "; edges loaded DIFFER: argus {} kuzu {kuzu_edges:?}",
            argus.edges
        ));
    }
    if !examples.is_empty() {
        summary.push_str(&format!("; e.g. {}", examples.join("; ")));
    }
    Agreement {
        compared,
        count_mismatches,
        amount_mismatches,
        edge_counts_differ,
        summary,
    }
}

/// Which way a metric is better, so ratios read "> 1 means Argus is better".
#[derive(Clone, Copy)]
enum Better {
    Higher,
    Lower,
}

/// A target a metric is checked against.
#[derive(Clone, Copy)]
enum Target {
    None,
    /// Ratio (oriented as above) at least this.
    RatioAtLeast(f64),
    /// Argus's own value at most this.
    ArgusAtMost(f64),
}

/// One line of the comparison table.
struct Row {
    metric: &'static str,
    argus: Option<f64>,
    kuzu: Option<f64>,
    better: Better,
    target: Target,
    decimals: usize,
}

impl Row {
    fn ratio(&self) -> Option<f64> {
        let (a, k) = (self.argus?, self.kuzu?);
        let r = match self.better {
            Better::Higher => a / k,
            Better::Lower => k / a,
        };
        r.is_finite().then_some(r)
    }

    fn target_text(&self) -> String {
        match self.target {
            Target::None => String::new(),
            Target::RatioAtLeast(x) => format!("ratio >= {x}"),
            Target::ArgusAtMost(x) => format!("argus <= {x}"),
        }
    }

    /// Whether the target is met; never when the two systems' results differ, since then the
    /// timings do not compare the same work.
    fn met(&self, results_differ: bool) -> Option<bool> {
        let met = match self.target {
            Target::None => None,
            Target::RatioAtLeast(x) => self.ratio().map(|r| r >= x),
            Target::ArgusAtMost(x) => self.argus.map(|a| a <= x),
        };
        met.map(|m| m && !results_differ)
    }

    fn met_text(&self, results_differ: bool) -> String {
        match self.met(results_differ) {
            Some(true) => "yes".into(),
            Some(false) if results_differ => "NO (results differ)".into(),
            Some(false) => "NO".into(),
            None if results_differ && !matches!(self.target, Target::None) => {
                "NO (results differ)".into()
            }
            None => String::new(),
        }
    }

    fn to_json(&self, results_differ: bool) -> Json {
        json!({
            "metric": self.metric,
            "argus": self.argus,
            "kuzu": self.kuzu,
            "ratio": self.ratio(),
            "target": self.target_text(),
            "met": self.met(results_differ),
            "results_differ": results_differ,
        })
    }
}

fn build_table(argus: &ArgusResult, kuzu: Option<&Json>) -> Vec<Row> {
    let kf = |path: &[&str]| -> Option<f64> {
        let mut v = kuzu?;
        for p in path {
            v = v.get(*p)?;
        }
        v.as_f64()
    };
    let mib = |kib: Option<f64>| kib.map(|k| k / 1024.0);
    let query = |kind: &str| {
        argus
            .queries
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, r)| r)
    };
    let aq = |kind: &str, p99: bool| query(kind).map(|r| if p99 { r.p99() } else { r.median() });
    let batch = |kind: &str| {
        argus
            .batches_of_queries
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, b)| b.us_per_card())
    };
    let kuzu_whole_load = kf(&["load_seconds"])
        .zip(kf(&["checkpoint_seconds"]))
        .map(|(l, c)| l + c);
    let row = |metric, argus, kuzu, better, target, decimals| Row {
        metric,
        argus,
        kuzu,
        better,
        target,
        decimals,
    };
    vec![
        row(
            "load + flush + compaction (edges/s; kuzu: COPY + CHECKPOINT)",
            Some(argus.edges as f64 / argus.whole_load_secs()),
            kuzu_whole_load
                .zip(kf(&["edges"]))
                .map(|(secs, edges)| edges / secs),
            Better::Higher,
            Target::RatioAtLeast(2.0),
            0,
        ),
        row(
            "load + flush + compaction (s; kuzu: COPY + CHECKPOINT)",
            Some(argus.whole_load_secs()),
            kuzu_whole_load,
            Better::Lower,
            Target::None,
            2,
        ),
        row(
            "load until last commit (edges/s; kuzu: COPY)",
            Some(argus.edges as f64 / argus.load_secs),
            kf(&["edges_per_sec"]),
            Better::Higher,
            Target::None,
            0,
        ),
        row(
            "load CPU incl. flush + compaction (s; kuzu: COPY + CHECKPOINT)",
            argus.load_cpu_secs,
            kf(&["load_cpu_seconds"]),
            Better::Lower,
            Target::None,
            1,
        ),
        row(
            "load peak memory incl. flush + compaction (MiB)",
            mib(argus.load_peak_kib.map(|k| k as f64)),
            mib(kf(&["load_peak_rss_kib"])),
            Better::Lower,
            Target::None,
            0,
        ),
        row(
            "size on disk (MiB)",
            Some(argus.disk_bytes as f64 / (1u64 << 20) as f64),
            kf(&["disk_bytes"]).map(|b| b / (1u64 << 20) as f64),
            Better::Lower,
            Target::None,
            0,
        ),
        row(
            "1-hop card txns median (ms; kuzu: a Python call per card)",
            aq("txns", false),
            kf(&["queries", "txns", "median_ms"]),
            Better::Lower,
            Target::None,
            3,
        ),
        row(
            "1-hop card txns p99 (ms; kuzu: a Python call per card)",
            aq("txns", true),
            kf(&["queries", "txns", "p99_ms"]),
            Better::Lower,
            Target::ArgusAtMost(0.2),
            3,
        ),
        row(
            "1-hop card txns, all cards as one batch (us per card)",
            batch("txns"),
            kf(&["batch", "txns", "us_per_card"]),
            Better::Lower,
            Target::None,
            2,
        ),
        row(
            "7-day window median (ms; kuzu: a Python call per card)",
            aq("window", false),
            kf(&["queries", "window", "median_ms"]),
            Better::Lower,
            Target::None,
            3,
        ),
        row(
            "7-day window p99 (ms; kuzu: a Python call per card)",
            aq("window", true),
            kf(&["queries", "window", "p99_ms"]),
            Better::Lower,
            Target::ArgusAtMost(0.2),
            3,
        ),
        row(
            "7-day window, all cards as one batch (us per card)",
            batch("window"),
            kf(&["batch", "window", "us_per_card"]),
            Better::Lower,
            Target::None,
            2,
        ),
        row(
            "2-hop cards median (ms; kuzu: a Python call per card)",
            aq("two_hop", false),
            kf(&["queries", "two_hop", "median_ms"]),
            Better::Lower,
            Target::RatioAtLeast(2.0),
            3,
        ),
        row(
            "2-hop cards p99 (ms; kuzu: a Python call per card)",
            aq("two_hop", true),
            kf(&["queries", "two_hop", "p99_ms"]),
            Better::Lower,
            Target::None,
            3,
        ),
        row(
            "1-hop card txns median (ms; kuzu: its own execution timer)",
            aq("txns", false),
            kf(&["queries", "txns", "engine_median_ms"]),
            Better::Lower,
            Target::None,
            3,
        ),
        row(
            "1-hop card txns p99 (ms; kuzu: its own execution timer)",
            aq("txns", true),
            kf(&["queries", "txns", "engine_p99_ms"]),
            Better::Lower,
            Target::None,
            3,
        ),
        row(
            "7-day window median (ms; kuzu: its own execution timer)",
            aq("window", false),
            kf(&["queries", "window", "engine_median_ms"]),
            Better::Lower,
            Target::None,
            3,
        ),
        row(
            "7-day window p99 (ms; kuzu: its own execution timer)",
            aq("window", true),
            kf(&["queries", "window", "engine_p99_ms"]),
            Better::Lower,
            Target::None,
            3,
        ),
        row(
            "2-hop cards median (ms; kuzu: its own execution timer)",
            aq("two_hop", false),
            kf(&["queries", "two_hop", "engine_median_ms"]),
            Better::Lower,
            Target::None,
            3,
        ),
        row(
            "argus only: 1-hop ids, no amounts, p99 (ms)",
            aq("txn_ids", true),
            None,
            Better::Lower,
            Target::None,
            3,
        ),
    ]
}

fn argus_json(a: &ArgusResult) -> Json {
    let queries: serde_json::Map<String, Json> = a
        .queries
        .iter()
        .map(|(kind, r)| {
            (
                kind.clone(),
                json!({
                    "median_ms": r.median(),
                    "p99_ms": r.p99(),
                    "times_ms": r.times_ms,
                    "counts": r.counts,
                    "amount_sums": r.amount_sums,
                }),
            )
        })
        .collect();
    let batch: serde_json::Map<String, Json> = a
        .batches_of_queries
        .iter()
        .map(|(kind, b)| {
            (
                kind.clone(),
                json!({
                    "seconds": b.secs,
                    "cards": b.counts.len(),
                    "us_per_card": b.us_per_card(),
                    "counts": b.counts,
                    "amount_sums": b.amount_sums,
                }),
            )
        })
        .collect();
    json!({
        "edges": a.edges,
        "node_load_seconds": a.node_load_secs,
        "load_seconds": a.load_secs,
        "edges_per_sec": a.edges as f64 / a.load_secs,
        "batches": a.batches,
        "flush_seconds": a.flush_secs,
        "compaction_after_load_seconds": a.compaction_secs,
        "load_flush_compaction_edges_per_sec": a.edges as f64 / a.whole_load_secs(),
        "load_cpu_seconds": a.load_cpu_secs,
        "rss_before_load_kib": a.rss_before_kib,
        "load_peak_rss_kib": a.load_peak_kib,
        "peak_rss_at_last_commit_kib": a.peak_at_last_commit_kib,
        "disk_bytes": a.disk_bytes,
        "queries": queries,
        "batch": batch,
    })
}

fn render_table(rows: &[Row], results_differ: bool) -> String {
    let header = [
        "metric",
        "argus",
        "kuzu",
        "ratio (>1: argus better)",
        "target",
        "met",
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.metric.to_string(),
                fmt_num(r.argus, r.decimals),
                fmt_num(r.kuzu, r.decimals),
                r.ratio().map_or("-".into(), |x| format!("{x:.2}x")),
                r.target_text(),
                r.met_text(results_differ),
            ]
        })
        .collect();
    text_table(&header, &cells, &[false, true, true, true, false, false])
}
