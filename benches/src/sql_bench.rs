//! SQL benchmark: three analyst queries in Argus SQL against DuckDB over the same payments CSVs,
//! plus the graph functions `connected_components` and `cycles` on the same store.
//!
//! Steps: generate the data set (reused while its config is unchanged), load all of it into an
//! Argus store with the `argus` binary, one timed step per `load.sh` line (reused likewise, with
//! the times measured when it was built), run each query once cold (the first full scan builds
//! the table's in-memory copy) and then `--runs` times warm, run the same queries in DuckDB
//! through `duckdb_bench.py`, check both return the same results and check the graph functions
//! against the bench's own computation from the CSV files, and print a comparison table (also
//! written to `WORK/results.json`). Any differing result fails the run: every target reads as
//! not met and the process exits with status 1 once the table and the JSON are written.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use argus_benches::PaymentsArgs;
use argus_benches::{
    fmt_num, load_average, peer_python, percentile, prepare_data, python_has, text_table,
};
use argus_datagen::{PaymentsConfig, DEFAULT_START_TIME};
use argus_engine::GraphStore;
use argus_query::ArgusSession;
use clap::Parser;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde_json::{json, Value as Json};

const DAY_SECS: i64 = 86_400;
const CONFIG_MARKER: &str = ".sql-bench-config";
const LOADED_MARKER: &str = ".sql-bench-loaded";
/// The load's step times, written next to the marker when the store is built.
const LOAD_TIMES: &str = ".sql-bench-load-times.json";
/// The files the compared queries read: DuckDB loads `transactions.csv` and `merchants.csv`;
/// Argus's `paid` edges also need their `card` nodes.
const QUERIED_FILES: [&str; 3] = ["cards.csv", "merchants.csv", "transactions.csv"];
/// Arguments of the graph functions, shared by the SQL and the bench's own check.
const COMPONENT_TYPES: &str = "uses_device,uses_ip";
const COMPONENT_MIN_SIZE: u64 = 2;
const CYCLE_MAX_LEN: usize = 4;
const CYCLE_WITHIN_SECS: i64 = DAY_SECS;
const DUCKDB_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/duckdb_bench.py");

/// Command-line options.
#[derive(Parser, Debug)]
#[command(about = "Argus SQL vs DuckDB: analyst queries over the payments graph")]
struct Args {
    #[command(flatten)]
    data: PaymentsArgs,
    /// Working directory: data set, both databases and results.json.
    #[arg(long, default_value = "./bench-out/sql")]
    work: PathBuf,
    /// Warm runs of each whole-table query.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Cards sampled for the per-card query.
    #[arg(long, default_value_t = 100)]
    cards: usize,
    /// Threads DuckDB may use (the reference machine has 2 cores; Argus uses 2 partitions).
    #[arg(long, default_value_t = 2)]
    duckdb_threads: usize,
    /// Run Argus only.
    #[arg(long)]
    skip_duckdb: bool,
    /// Load the Argus store again even when it holds this config (to time its load).
    #[arg(long)]
    reload: bool,
}

macro_rules! progress {
    ($($arg:tt)*) => { eprintln!("[sql_bench] {}", format_args!($($arg)*)) };
}

/// Timings (and the last result) of one query.
#[derive(Debug, Default, Clone)]
struct Timing {
    first_ms: Option<f64>,
    times_ms: Vec<f64>,
    rows: Vec<Vec<String>>,
}

impl Timing {
    fn median(&self) -> f64 {
        percentile(&self.times_ms, 50.0)
    }
    fn p99(&self) -> f64 {
        percentile(&self.times_ms, 99.0)
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let load_at_start = load_average();
    fs::create_dir_all(&args.work).with_context(|| format!("creating {}", args.work.display()))?;
    let work = fs::canonicalize(&args.work)?;
    let config = args.data.config();
    let data = work.join("data");
    prepare_data(&config, &data, CONFIG_MARKER, "sql_bench")?;
    let db = work.join("argus");
    let load = load_store(&config, &data, &db, args.reload)?;

    // A week in the middle of the 90 generated days.
    let since = DEFAULT_START_TIME + 40 * DAY_SECS;
    let until = since + 7 * DAY_SECS;
    let cards = sample_cards(&data, args.cards, args.data.seed)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let argus = runtime.block_on(run_argus(&args, &db, since, until, &cards))?;

    let duckdb = if args.skip_duckdb {
        progress!("DuckDB skipped (--skip-duckdb)");
        None
    } else {
        run_duckdb(&args, &data, &work, since, until, &cards)?
    };

    let check = duckdb.as_ref().map(|d| compare(&argus, d, &cards));
    let graph_check = check_graph_functions(&argus, &data)?;
    let results_differ = check.as_ref().is_some_and(|c| !c.agree) || !graph_check.agree;
    let rows = table_rows(&argus, duckdb.as_ref(), load.as_ref(), results_differ);
    let text = text_table(
        &[
            "query",
            "argus",
            VARIANTS[0].1,
            "ratio",
            VARIANTS[1].1,
            "ratio",
            "target (vs inferred types)",
            "met",
        ],
        &rows,
        &[false, true, true, true, true, true, false, false],
    );
    println!();
    println!(
        "SQL benchmark: {} users, {} merchants, {} payments, seed {}; {} warm runs, {} cards; times in ms",
        args.data.users, args.data.merchants, args.data.transactions, args.data.seed, args.runs, cards.len()
    );
    let load_at_end = load_average();
    println!(
        "machine: {} cores; load average (1/5/15 min) at start {load_at_start}, at end {load_at_end}",
        argus_benches::cores()
    );
    println!("{text}");
    println!("(ratio = duckdb time / argus time: above 1, Argus is faster)");
    match &load {
        Some(l) if l.reused => println!(
            "(argus load times: measured when the store at {} was built; --reload to measure again)",
            db.display()
        ),
        Some(_) => {}
        None => println!("(argus load: not timed, the store was built by an earlier version of this bench; --reload to time it)"),
    }
    match &check {
        Some(c) => println!("{}", c.summary),
        None => println!("result check: skipped (no DuckDB run)"),
    }
    println!("{}", graph_check.summary);
    let results = json!({
        "config": {
            "users": args.data.users, "merchants": args.data.merchants, "transactions": args.data.transactions,
            "seed": args.data.seed, "runs": args.runs, "cards": cards.len(),
            "since": since, "until": until,
            "load_average_start": load_at_start, "load_average_end": load_at_end,
        },
        "table_text": text,
        "results_agree": !results_differ,
        "result_check": check.as_ref().map(|c| &c.summary),
        "graph_function_check": graph_check.summary,
        "argus_load": load.as_ref().map(LoadTimes::to_json),
        "argus": argus.iter().map(|(k, t)| (k.clone(), json!({
            "first_ms": t.first_ms, "times_ms": t.times_ms, "rows": t.rows,
        }))).collect::<serde_json::Map<_, _>>(),
        "duckdb": duckdb.unwrap_or(Json::Null),
    });
    let out = work.join("results.json");
    fs::write(&out, serde_json::to_string_pretty(&results)?)?;
    progress!("wrote {}", out.display());
    if results_differ {
        bail!("results differ (see the result checks above)");
    }
    Ok(())
}

/// How long the Argus load took, step by step.
struct LoadTimes {
    /// Each `argus load` command line and its seconds (process start to exit).
    steps: Vec<(String, f64)>,
    /// Flushing and waiting for compaction after the last step.
    flush_compaction_secs: f64,
    /// Whether these were measured when an earlier run built the store.
    reused: bool,
}

impl LoadTimes {
    /// The steps that load the files the compared queries read.
    fn queried_secs(&self) -> f64 {
        self.steps
            .iter()
            .filter(|(command, _)| names_queried_file(command))
            .map(|(_, secs)| secs)
            .sum()
    }

    fn total_secs(&self) -> f64 {
        self.steps.iter().map(|(_, secs)| secs).sum::<f64>() + self.flush_compaction_secs
    }

    fn to_json(&self) -> Json {
        json!({
            "steps": self.steps.iter().map(|(c, s)| json!({"command": c, "seconds": s})).collect::<Vec<_>>(),
            "flush_compaction_seconds": self.flush_compaction_secs,
            "queried_files_seconds": self.queried_secs(),
            "total_seconds": self.total_secs(),
            "reused": self.reused,
        })
    }

    fn from_json(v: &Json) -> Option<LoadTimes> {
        let steps = v["steps"]
            .as_array()?
            .iter()
            .map(|s| Some((s["command"].as_str()?.to_string(), s["seconds"].as_f64()?)))
            .collect::<Option<Vec<_>>>()?;
        Some(LoadTimes {
            steps,
            flush_compaction_secs: v["flush_compaction_seconds"].as_f64()?,
            reused: true,
        })
    }
}

/// Whether an `argus load` command line loads one of [`QUERIED_FILES`].
fn names_queried_file(command: &str) -> bool {
    // Paths in the commands are absolute, so the file name follows a slash; the trailing space
    // or quote keeps `cards.csv` from matching a longer name.
    QUERIED_FILES
        .iter()
        .any(|f| command.contains(&format!("/{f} ")) || command.contains(&format!("/{f}' ")))
}

/// Load the whole data set with the `argus` binary next to this one, one timed process per
/// line of the data set's `load.sh`, then flush and wait for compaction (timed too), unless
/// the store already holds this config and `reload` is off. The times: `None` for a reused
/// store whose times were not recorded.
fn load_store(
    config: &PaymentsConfig,
    data: &Path,
    db: &Path,
    reload: bool,
) -> Result<Option<LoadTimes>> {
    let marker = db.join(LOADED_MARKER);
    let wanted = format!("{config:?}\n");
    if !reload && fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str()) {
        progress!("argus: reusing the store at {}", db.display());
        let times = fs::read_to_string(db.join(LOAD_TIMES))
            .ok()
            .and_then(|t| serde_json::from_str::<Json>(&t).ok())
            .and_then(|v| LoadTimes::from_json(&v));
        return Ok(times);
    }
    if db.exists() {
        fs::remove_dir_all(db).with_context(|| format!("removing old {}", db.display()))?;
    }
    let exe = std::env::current_exe()?;
    let argus = exe.with_file_name("argus");
    if !argus.exists() {
        bail!(
            "{} not found: build it first (cargo build --release -p argus-cli)",
            argus.display()
        );
    }
    let db_text = db
        .to_str()
        .with_context(|| format!("{} is not valid UTF-8", db.display()))?;
    // The commands name the binary `argus`: put this one first on the PATH.
    let bin_dir = argus
        .parent()
        .context("the argus binary has no directory")?;
    let path = std::env::join_paths(
        std::iter::once(bin_dir.to_path_buf()).chain(
            std::env::var_os("PATH")
                .iter()
                .flat_map(std::env::split_paths),
        ),
    )?;
    progress!("argus: loading the data set with {}", argus.display());
    let mut steps = Vec::new();
    for command in argus_datagen::load_commands(data, db_text) {
        let start = std::time::Instant::now();
        let status = Command::new("bash")
            .args(["-c", &command])
            .env("PATH", &path)
            .stdout(Stdio::null())
            .status()
            .context("running bash")?;
        if !status.success() {
            bail!("`{command}` failed ({status})");
        }
        let secs = start.elapsed().as_secs_f64();
        progress!("argus: {secs:.1} s: {command}");
        steps.push((command, secs));
    }
    // What the last steps left in memtables and level 0 is part of the load's work.
    let start = std::time::Instant::now();
    let store = GraphStore::open(db)?;
    store.flush()?;
    store.wait_for_compaction()?;
    drop(store);
    let times = LoadTimes {
        steps,
        flush_compaction_secs: start.elapsed().as_secs_f64(),
        reused: false,
    };
    progress!(
        "argus: flush and compaction {:.1} s; load {:.1} s in all, {:.1} s for {}",
        times.flush_compaction_secs,
        times.total_secs(),
        times.queried_secs(),
        QUERIED_FILES.join(", ")
    );
    fs::write(db.join(LOAD_TIMES), times.to_json().to_string())?;
    // Written last: an interrupted load is reloaded from scratch.
    fs::write(&marker, wanted)?;
    Ok(Some(times))
}

/// `n` distinct cards that made payments, picked with `seed`.
fn sample_cards(data: &Path, n: usize, seed: u64) -> Result<Vec<String>> {
    let path = data.join("transactions.csv");
    let mut reader = csv_reader(&path)?;
    let mut cards: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for line in reader.by_ref() {
        let line = line?;
        if let Some(card) = line.split(',').nth(1) {
            if seen.insert(card.to_string()) {
                cards.push(card.to_string());
            }
        }
    }
    cards.sort();
    let mut rng = StdRng::seed_from_u64(seed);
    cards.shuffle(&mut rng);
    cards.truncate(n);
    Ok(cards)
}

fn csv_reader(path: &Path) -> Result<impl Iterator<Item = std::io::Result<String>>> {
    use std::io::BufRead;
    let file = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(std::io::BufReader::new(file).lines().skip(1))
}

fn sql_queries(since: i64, until: i64) -> Vec<(&'static str, String)> {
    let ts = |s: i64| argus_engine::time::format_micros(s * 1_000_000);
    vec![
        (
            "week_top_merchants",
            format!(
                "SELECT dst AS merchant_id, sum(amount) AS total FROM paid \
                 WHERE time >= '{}' AND time < '{}' \
                 GROUP BY dst ORDER BY total DESC LIMIT 10",
                ts(since),
                ts(until)
            ),
        ),
        (
            "category_totals",
            "SELECT m.category, sum(p.amount) AS total FROM paid p \
             JOIN merchant m ON p.dst = m.merchant_id \
             GROUP BY m.category ORDER BY m.category"
                .to_string(),
        ),
    ]
}

async fn collect(session: &ArgusSession, sql: &str) -> Result<Vec<RecordBatch>> {
    Ok(session.sql(sql).await?.collect().await?)
}

fn rows_of(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>> {
    let mut rows = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            rows.push(
                b.columns()
                    .iter()
                    .map(|c| array_value_to_string(c, r))
                    .collect::<std::result::Result<Vec<_>, _>>()?,
            );
        }
    }
    Ok(rows)
}

async fn run_argus(
    args: &Args,
    db: &Path,
    since: i64,
    until: i64,
    cards: &[String],
) -> Result<BTreeMap<String, Timing>> {
    let store = Arc::new(GraphStore::open(db)?);
    let session = ArgusSession::new(store)?;
    let mut out = BTreeMap::new();
    for (name, sql) in sql_queries(since, until) {
        let mut t = Timing::default();
        let start = std::time::Instant::now();
        let batches = collect(&session, &sql).await?;
        t.first_ms = Some(argus_benches::ms(start.elapsed()));
        t.rows = rows_of(&batches)?;
        for _ in 0..args.runs {
            let start = std::time::Instant::now();
            std::hint::black_box(collect(&session, &sql).await?);
            t.times_ms.push(argus_benches::ms(start.elapsed()));
        }
        progress!(
            "argus: {name}: first {:.1} ms, median {:.1} ms, p99 {:.1} ms",
            t.first_ms.unwrap_or(f64::NAN),
            t.median(),
            t.p99()
        );
        out.insert(name.to_string(), t);
    }

    let card_sql = |card: &str| {
        format!(
            "SELECT time, dst AS merchant_id, amount FROM paid WHERE src = '{card}' \
             ORDER BY time DESC LIMIT 20"
        )
    };
    // Warm-up pass; its first query, the first point lookup of the session, is the cold one.
    let mut t = Timing::default();
    for card in cards {
        let start = std::time::Instant::now();
        collect(&session, &card_sql(card)).await?;
        t.first_ms.get_or_insert(argus_benches::ms(start.elapsed()));
    }
    for card in cards {
        let start = std::time::Instant::now();
        let batches = collect(&session, &card_sql(card)).await?;
        t.times_ms.push(argus_benches::ms(start.elapsed()));
        let rows = rows_of(&batches)?;
        let sum: f64 = rows.iter().filter_map(|r| r[2].parse::<f64>().ok()).sum();
        t.rows
            .push(vec![rows.len().to_string(), format!("{sum:.2}")]);
    }
    progress!(
        "argus: card_last_20: median {:.2} ms, p99 {:.2} ms over {} cards",
        t.median(),
        t.p99(),
        cards.len()
    );
    out.insert("card_last_20".into(), t);

    for (name, sql, runs) in [
        (
            "connected_components",
            format!(
                "SELECT count(DISTINCT component) AS rings, max(size) AS largest \
                 FROM connected_components('{COMPONENT_TYPES}', {COMPONENT_MIN_SIZE})"
            ),
            3,
        ),
        (
            "cycles",
            format!(
                "SELECT count(DISTINCT cycle) AS cycles \
                 FROM cycles('transfer', {CYCLE_MAX_LEN}, {CYCLE_WITHIN_SECS})"
            ),
            3,
        ),
    ] {
        let mut t = Timing::default();
        for _ in 0..runs {
            let (batches, ms) = {
                let start = std::time::Instant::now();
                let b = collect(&session, &sql).await?;
                (b, argus_benches::ms(start.elapsed()))
            };
            t.times_ms.push(ms);
            t.rows = rows_of(&batches)?;
        }
        progress!("argus: {name}: median {:.0} ms ({:?})", t.median(), t.rows);
        out.insert(name.to_string(), t);
    }
    Ok(out)
}

fn run_duckdb(
    args: &Args,
    data: &Path,
    work: &Path,
    since: i64,
    until: i64,
    cards: &[String],
) -> Result<Option<Json>> {
    let python = peer_python();
    if !python_has(&python, "duckdb") {
        progress!(
            "DuckDB skipped: `{} -c 'import duckdb'` failed; run benches/setup_peers.sh or set ARGUS_BENCH_PYTHON",
            python.display()
        );
        return Ok(None);
    }
    let params = work.join("duckdb_params.json");
    fs::write(
        &params,
        serde_json::to_string(&json!({"since": since, "until": until, "cards": cards}))?,
    )?;
    progress!("duckdb: running {DUCKDB_SCRIPT} with {}", python.display());
    let output = Command::new(&python)
        .arg(DUCKDB_SCRIPT)
        .arg(data)
        .arg(work.join("duckdb.db"))
        .arg(&params)
        .args(["--threads", &args.duckdb_threads.to_string()])
        .args(["--runs", &args.runs.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !output.status.success() {
        bail!("duckdb_bench.py failed ({})", output.status);
    }
    Ok(Some(
        serde_json::from_slice(&output.stdout).context("parsing duckdb_bench.py output")?,
    ))
}

/// DuckDB variants in the results: inferred types (the primary peer) and string keys.
const VARIANTS: [(&str, &str); 2] = [
    ("auto", "duckdb (inferred types)"),
    ("text", "duckdb (text keys)"),
];

fn duck_query<'a>(d: &'a Json, variant: &str, query: &str) -> &'a Json {
    &d["variants"][variant]["queries"][query]
}

fn duck_times(d: &Json, variant: &str, query: &str) -> Vec<f64> {
    duck_query(d, variant, query)["times_ms"]
        .as_array()
        .map(|a| a.iter().filter_map(Json::as_f64).collect())
        .unwrap_or_default()
}

/// The outcome of one result check.
struct Check {
    agree: bool,
    summary: String,
}

/// Whether both systems returned the same rows (totals to the cent), for every DuckDB variant.
fn compare(argus: &BTreeMap<String, Timing>, duckdb: &Json, cards: &[String]) -> Check {
    let same_total = |a: &str, b: &str| match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => (x - y).abs() <= 0.005 + 1e-9 * x.abs().max(y.abs()),
        _ => a == b,
    };
    let mut problems = Vec::new();
    for (variant, _) in VARIANTS {
        for q in ["week_top_merchants", "category_totals"] {
            let ours = &argus[q].rows;
            let theirs: Vec<Vec<String>> =
                serde_json::from_value(duck_query(duckdb, variant, q)["rows"].clone())
                    .unwrap_or_default();
            let equal = ours.len() == theirs.len()
                && ours
                    .iter()
                    .zip(&theirs)
                    .all(|(a, b)| a.len() == b.len() && a[0] == b[0] && same_total(&a[1], &b[1]));
            if !equal {
                problems.push(format!(
                    "{variant} {q}: argus {ours:?} vs duckdb {theirs:?}"
                ));
            }
        }
        let ours = &argus["card_last_20"].rows;
        let theirs = duck_query(duckdb, variant, "card_last_20");
        let (counts, sums) = (
            theirs["counts"].as_array(),
            theirs["amount_sums"].as_array(),
        );
        let (Some(counts), Some(sums)) = (counts, sums) else {
            problems.push(format!("{variant} card_last_20: no results"));
            continue;
        };
        if counts.len() != ours.len() || sums.len() != ours.len() {
            problems.push(format!(
                "{variant} card_last_20: {} cards, duckdb answered {} counts and {} sums",
                ours.len(),
                counts.len(),
                sums.len()
            ));
        }
        for (i, row) in ours.iter().enumerate() {
            let count_ok =
                counts.get(i).and_then(Json::as_u64).map(|c| c.to_string()) == Some(row[0].clone());
            let sum_ok = sums
                .get(i)
                .and_then(Json::as_f64)
                .is_some_and(|s| same_total(&row[1], &format!("{s:.2}")));
            if !count_ok || !sum_ok {
                problems.push(format!(
                    "{variant} card_last_20 card {}: argus (count, sum) {row:?}, duckdb {:?} {:?}",
                    cards.get(i).map_or("?", String::as_str),
                    counts.get(i),
                    sums.get(i)
                ));
            }
        }
    }
    let summary = if problems.is_empty() {
        format!(
            "result check: Argus and both DuckDB variants returned the same rows for all queries ({} cards)",
            argus["card_last_20"].rows.len()
        )
    } else {
        format!(
            "result check: Argus and DuckDB DIFFER\n  {}",
            problems.join("\n  ")
        )
    };
    Check {
        agree: problems.is_empty(),
        summary,
    }
}

/// Checks `connected_components` and `cycles` against the bench's own computation from the
/// CSV files.
fn check_graph_functions(argus: &BTreeMap<String, Timing>, data: &Path) -> Result<Check> {
    progress!("checking the graph functions against the CSV files");
    let (rings, largest) = components_from_csv(data, COMPONENT_MIN_SIZE)?;
    let cycles = cycles_from_csv(data, CYCLE_MAX_LEN, CYCLE_WITHIN_SECS)?;
    let expected = [
        (
            "connected_components",
            vec![rings.to_string(), largest.to_string()],
        ),
        ("cycles", vec![cycles.to_string()]),
    ];
    let mut problems = Vec::new();
    for (name, want) in &expected {
        let got = argus[*name].rows.first();
        if got != Some(want) {
            problems.push(format!(
                "{name}: argus {got:?}, from the CSV files {want:?}"
            ));
        }
    }
    let summary = if problems.is_empty() {
        format!(
            "graph function check: connected_components ({rings} components, largest {largest}) and cycles ({cycles}) match the bench's own computation from the CSV files"
        )
    } else {
        format!(
            "graph function check: DIFFER from the bench's own computation from the CSV files\n  {}",
            problems.join("\n  ")
        )
    };
    Ok(Check {
        agree: problems.is_empty(),
        summary,
    })
}

/// Reads a plain CSV file (no quoted fields, which the generator never writes for these
/// files) and calls `row` with the fields of `columns`, in that order, for every data row.
fn for_each_row(path: &Path, columns: &[&str], mut row: impl FnMut(&[&str])) -> Result<()> {
    use std::io::BufRead;
    let file = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut lines = std::io::BufReader::new(file).lines();
    let header = lines
        .next()
        .transpose()?
        .with_context(|| format!("{} is empty", path.display()))?;
    let names: Vec<&str> = header.split(',').collect();
    let index: Vec<usize> = columns
        .iter()
        .map(|c| {
            names.iter().position(|n| n == c).with_context(|| {
                format!("{}: no column {c} in the header {header}", path.display())
            })
        })
        .collect::<Result<_>>()?;
    for (n, line) in lines.enumerate() {
        let line = line?;
        if line.contains('"') {
            bail!(
                "{} line {}: quoted fields are not supported here",
                path.display(),
                n + 2
            );
        }
        let all: Vec<&str> = line.split(',').collect();
        let mut fields = Vec::with_capacity(index.len());
        for &i in &index {
            fields.push(
                *all.get(i).with_context(|| {
                    format!("{} line {}: too few fields", path.display(), n + 2)
                })?,
            );
        }
        row(&fields);
    }
    Ok(())
}

/// Dense ids for node keys, per label (keys of different labels may be equal).
#[derive(Default)]
struct NodeIds(HashMap<(u8, String), u32>);

impl NodeIds {
    fn id(&mut self, label: u8, key: &str) -> u32 {
        let next = self.0.len() as u32;
        *self.0.entry((label, key.to_string())).or_insert(next)
    }
}

/// Weakly connected components of users, devices and IPs linked by `user_device.csv` and
/// `user_ip.csv`, by breadth-first search over adjacency lists (a different method from the
/// union-find `connected_components` uses): how many have at least `min_size` nodes, and the
/// largest size.
fn components_from_csv(data: &Path, min_size: u64) -> Result<(u64, u64)> {
    const USER: u8 = 0;
    let mut ids = NodeIds::default();
    let mut edges: Vec<(u32, u32)> = Vec::new();
    for (label, file, column) in [
        (1, "user_device.csv", "device_id"),
        (2, "user_ip.csv", "ip"),
    ] {
        for_each_row(&data.join(file), &["user_id", column], |f| {
            let user = ids.id(USER, f[0]);
            let other = ids.id(label, f[1]);
            edges.push((user, other));
        })?;
    }
    let mut adjacent: Vec<Vec<u32>> = vec![Vec::new(); ids.0.len()];
    for (a, b) in edges {
        adjacent[a as usize].push(b);
        adjacent[b as usize].push(a);
    }
    let mut seen = vec![false; adjacent.len()];
    let mut queue = std::collections::VecDeque::new();
    let (mut count, mut largest) = (0, 0);
    for start in 0..adjacent.len() {
        if seen[start] {
            continue;
        }
        seen[start] = true;
        queue.push_back(start);
        let mut members = 0u64;
        while let Some(node) = queue.pop_front() {
            members += 1;
            for &next in &adjacent[node] {
                if !std::mem::replace(&mut seen[next as usize], true) {
                    queue.push_back(next as usize);
                }
            }
        }
        if members >= min_size {
            count += 1;
            largest = largest.max(members);
        }
    }
    Ok((count, largest))
}

/// Temporal cycles in `transfers.csv` by plain depth-first enumeration, with the definition of
/// `cycles(edge_type, max_len, within_seconds)`: simple directed cycles of 2 to `max_len`
/// transfers (no node twice), each transfer strictly later than the one before, the last at
/// most `within_secs` after the first. Only one rotation of such a cycle has increasing times,
/// so starting from every transfer and closing only back to its sender counts each cycle once
/// (parallel transfers make different cycles, as they are different edges).
fn cycles_from_csv(data: &Path, max_len: usize, within_secs: i64) -> Result<u64> {
    let mut ids = NodeIds::default();
    let mut transfers: Vec<(u32, u32, i64)> = Vec::new();
    let mut bad_time = None;
    for_each_row(
        &data.join("transfers.csv"),
        &["src_user", "dst_user", "time"],
        |f| match f[2].parse::<i64>() {
            Ok(t) => {
                let (src, dst) = (ids.id(0, f[0]), ids.id(0, f[1]));
                transfers.push((src, dst, t));
            }
            Err(_) => bad_time = Some(f[2].to_string()),
        },
    )?;
    if let Some(t) = bad_time {
        bail!("transfers.csv: time {t:?} is not Unix seconds");
    }
    // Each node's transfers out, by time.
    let mut out: Vec<Vec<(i64, u32)>> = vec![Vec::new(); ids.0.len()];
    for &(src, dst, t) in &transfers {
        out[src as usize].push((t, dst));
    }
    for list in &mut out {
        list.sort_unstable();
    }
    struct Walk<'a> {
        out: &'a [Vec<(i64, u32)>],
        max_len: usize,
        start: u32,
        deadline: i64,
        path: Vec<u32>,
        found: u64,
    }
    impl Walk<'_> {
        /// Extends the path (ending at `node`, its last transfer at `after`) by one transfer.
        fn extend(&mut self, node: u32, after: i64) {
            let out = self.out;
            let list = &out[node as usize];
            let first = list.partition_point(|&(t, _)| t <= after);
            for &(t, next) in &list[first..] {
                if t > self.deadline {
                    break;
                }
                if next == self.start {
                    self.found += 1;
                } else if self.path.len() < self.max_len && !self.path.contains(&next) {
                    self.path.push(next);
                    self.extend(next, t);
                    self.path.pop();
                }
            }
        }
    }
    let mut walk = Walk {
        out: &out,
        max_len,
        start: 0,
        deadline: 0,
        path: Vec::with_capacity(max_len),
        found: 0,
    };
    for &(src, dst, t) in &transfers {
        if src == dst {
            continue;
        }
        walk.start = src;
        walk.deadline = t.saturating_add(within_secs);
        walk.path.clear();
        walk.path.extend([src, dst]);
        walk.extend(dst, t);
    }
    Ok(walk.found)
}

/// A summary of a list of timings (median, p99).
type Statistic = dyn Fn(&[f64]) -> f64;

fn table_rows(
    argus: &BTreeMap<String, Timing>,
    duckdb: Option<&Json>,
    load: Option<&LoadTimes>,
    results_differ: bool,
) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let ratio = |ours: f64, theirs: Option<f64>| {
        theirs.map_or("-".to_string(), |t| format!("{:.2}x", t / ours))
    };
    // (label, query, target, factor, what Argus's first run pays for)
    let specs: [(&str, &str, &str, f64, &str); 3] = [
        (
            "1. top 10 merchants in a week",
            "week_top_merchants",
            "<= 2x duckdb",
            2.0,
            "argus builds the paid table's in-memory copy",
        ),
        (
            "2. amount per merchant category (join)",
            "category_totals",
            "<= 2x duckdb",
            2.0,
            "argus builds the merchant table's in-memory copy",
        ),
        (
            "3. a card's last 20 payments",
            "card_last_20",
            "< duckdb",
            1.0,
            "the first card",
        ),
    ];
    let peer = |q: &str, variant: &str, stat: &Statistic| {
        duckdb
            .map(|d| duck_times(d, variant, q))
            .filter(|t| !t.is_empty())
            .map(|t| stat(&t))
    };
    for (label, q, target, factor, first_note) in specs {
        let ours = &argus[q];
        let stats: [(&str, f64, &Statistic); 2] = [
            ("median", ours.median(), &|t| percentile(t, 50.0)),
            ("p99", ours.p99(), &|t| percentile(t, 99.0)),
        ];
        for (stat_name, mine, stat) in stats {
            let auto = peer(q, "auto", stat);
            let text = peer(q, "text", stat);
            let met = if stat_name != "median" {
                None
            } else if results_differ {
                Some(met_text(false, true))
            } else {
                auto.map(|t| {
                    let ok = if factor > 1.0 {
                        mine <= factor * t
                    } else {
                        mine < t
                    };
                    met_text(ok, false)
                })
            };
            rows.push(vec![
                format!("{label}: {stat_name}"),
                fmt_num(Some(mine), 2),
                fmt_num(auto, 2),
                ratio(mine, auto),
                fmt_num(text, 2),
                ratio(mine, text),
                if stat_name == "median" {
                    target.to_string()
                } else {
                    String::new()
                },
                met.unwrap_or_default(),
            ]);
        }
        if let Some(first) = ours.first_ms {
            let first_of =
                |variant: &str| duckdb.and_then(|d| duck_query(d, variant, q)["first_ms"].as_f64());
            rows.push(vec![
                format!("{label}: first run, cold ({first_note})"),
                fmt_num(Some(first), 1),
                fmt_num(first_of("auto"), 1),
                ratio(first, first_of("auto")),
                fmt_num(first_of("text"), 1),
                ratio(first, first_of("text")),
                String::new(),
                String::new(),
            ]);
        }
    }
    for (label, q) in [
        (
            "connected_components over devices + IPs",
            "connected_components",
        ),
        ("cycles(transfer, 4, 1 day)", "cycles"),
    ] {
        let t = &argus[q];
        let mut row = vec![
            format!(
                "{label}: median ({})",
                t.rows.first().map(|r| r.join(", ")).unwrap_or_default()
            ),
            fmt_num(Some(t.median()), 1),
        ];
        row.extend(std::iter::repeat_n("-".to_string(), 4));
        row.extend([String::new(), String::new()]);
        rows.push(row);
    }
    // DuckDB's load is its CREATE TABLE ... read_csv of transactions.csv and merchants.csv and a
    // CHECKPOINT; Argus's comparable part loads those files and the cards the payments come from.
    let queried = load.map(LoadTimes::queried_secs);
    let mut row = vec![
        "CSV load of what the queries read (s; argus: cards, merchants, paid steps)".to_string(),
        fmt_num(queried, 1),
    ];
    for (variant, _) in VARIANTS {
        let theirs = duckdb.and_then(|d| d["variants"][variant]["load_seconds"].as_f64());
        row.push(fmt_num(theirs, 1));
        row.push(queried.map_or("-".into(), |q| ratio(q, theirs)));
    }
    row.extend([String::new(), String::new()]);
    rows.push(row);
    let mut row = vec![
        format!(
            "argus load of the whole data set (s; {} load.sh steps, then flush + compaction)",
            load.map_or(0, |l| l.steps.len())
        ),
        fmt_num(load.map(LoadTimes::total_secs), 1),
    ];
    row.extend(std::iter::repeat_n("-".to_string(), 4));
    row.extend([String::new(), String::new()]);
    rows.push(row);
    rows
}

/// The "met" cell: never "yes" when some result differs, since then the timings do not
/// compare the same answers.
fn met_text(ok: bool, results_differ: bool) -> String {
    match (ok, results_differ) {
        (_, true) => "NO (results differ)".into(),
        (true, false) => "yes".into(),
        (false, false) => "NO".into(),
    }
}
