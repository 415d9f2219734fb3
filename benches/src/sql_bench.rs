//! SQL benchmark: three analyst queries in Argus SQL against DuckDB over the same payments CSVs,
//! plus the graph functions `connected_components` and `cycles` on the same store.
//!
//! Steps: generate the data set (reused while its config is unchanged), load all of it into an
//! Argus store with the `argus` binary's `load.sh` (reused likewise), run each query once cold
//! (the first full scan builds the table's in-memory copy) and then `--runs` times warm, run
//! the same queries in DuckDB through `duckdb_bench.py`, check both return the same results, and
//! print a comparison table (also written to `WORK/results.json`).

use std::collections::BTreeMap;
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
    load_store(&config, &data, &db)?;

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

    let check = duckdb.as_ref().map(|d| compare(&argus, d));
    let rows = table_rows(&argus, duckdb.as_ref());
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
    match &check {
        Some(c) => println!("{c}"),
        None => println!("result check: skipped (no DuckDB run)"),
    }
    let results = json!({
        "config": {
            "users": args.data.users, "merchants": args.data.merchants, "transactions": args.data.transactions,
            "seed": args.data.seed, "runs": args.runs, "cards": cards.len(),
            "since": since, "until": until,
            "load_average_start": load_at_start, "load_average_end": load_at_end,
        },
        "table_text": text,
        "result_check": check,
        "argus": argus.iter().map(|(k, t)| (k.clone(), json!({
            "first_ms": t.first_ms, "times_ms": t.times_ms, "rows": t.rows,
        }))).collect::<serde_json::Map<_, _>>(),
        "duckdb": duckdb.unwrap_or(Json::Null),
    });
    let out = work.join("results.json");
    fs::write(&out, serde_json::to_string_pretty(&results)?)?;
    progress!("wrote {}", out.display());
    Ok(())
}

/// Load the whole data set with the `argus` binary next to this one, unless the store already
/// holds this config.
fn load_store(config: &PaymentsConfig, data: &Path, db: &Path) -> Result<()> {
    let marker = db.join(LOADED_MARKER);
    let wanted = format!("{config:?}\n");
    if fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str()) {
        progress!("argus: reusing the store at {}", db.display());
        return Ok(());
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
    progress!("argus: loading the data set with {}", argus.display());
    let status = Command::new("bash")
        .arg(data.join("load.sh"))
        .arg(db)
        .env("ARGUS", &argus)
        .stdout(Stdio::null())
        .status()
        .context("running load.sh")?;
    if !status.success() {
        bail!("load.sh failed ({status})");
    }
    // Written last: an interrupted load is reloaded from scratch.
    fs::write(&marker, wanted)?;
    Ok(())
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
    for card in cards {
        collect(&session, &card_sql(card)).await?;
    }
    let mut t = Timing::default();
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
            "SELECT count(DISTINCT component) AS rings, max(size) AS largest \
             FROM connected_components('uses_device,uses_ip', 2)",
            3,
        ),
        (
            "cycles",
            "SELECT count(DISTINCT cycle) AS cycles FROM cycles('transfer', 4, 86400)",
            3,
        ),
    ] {
        let mut t = Timing::default();
        for _ in 0..runs {
            let (batches, ms) = {
                let start = std::time::Instant::now();
                let b = collect(&session, sql).await?;
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

/// Whether both systems returned the same rows (totals to the cent), for every DuckDB variant.
fn compare(argus: &BTreeMap<String, Timing>, duckdb: &Json) -> String {
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
        for (i, row) in ours.iter().enumerate() {
            let count_ok =
                counts.get(i).and_then(Json::as_u64).map(|c| c.to_string()) == Some(row[0].clone());
            let sum_ok = sums
                .get(i)
                .and_then(Json::as_f64)
                .is_some_and(|s| same_total(&row[1], &format!("{s:.2}")));
            if !count_ok || !sum_ok {
                problems.push(format!("{variant} card_last_20 card #{i}: argus {row:?}"));
            }
        }
    }
    if problems.is_empty() {
        format!(
            "result check: Argus and both DuckDB variants returned the same rows for all queries ({} cards)",
            argus["card_last_20"].rows.len()
        )
    } else {
        format!("result check: MISMATCH\n  {}", problems.join("\n  "))
    }
}

/// A summary of a list of timings (median, p99).
type Statistic = dyn Fn(&[f64]) -> f64;

fn table_rows(argus: &BTreeMap<String, Timing>, duckdb: Option<&Json>) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let ratio = |ours: f64, theirs: Option<f64>| {
        theirs.map_or("-".to_string(), |t| format!("{:.2}x", t / ours))
    };
    let specs: [(&str, &str, &str, f64); 3] = [
        (
            "1. top 10 merchants in a week",
            "week_top_merchants",
            "<= 2x duckdb",
            2.0,
        ),
        (
            "2. amount per merchant category (join)",
            "category_totals",
            "<= 2x duckdb",
            2.0,
        ),
        (
            "3. a card's last 20 payments",
            "card_last_20",
            "< duckdb",
            1.0,
        ),
    ];
    let peer = |q: &str, variant: &str, stat: &Statistic| {
        duckdb
            .map(|d| duck_times(d, variant, q))
            .filter(|t| !t.is_empty())
            .map(|t| stat(&t))
    };
    for (label, q, target, factor) in specs {
        let ours = &argus[q];
        let stats: [(&str, f64, &Statistic); 2] = [
            ("median", ours.median(), &|t| percentile(t, 50.0)),
            ("p99", ours.p99(), &|t| percentile(t, 99.0)),
        ];
        for (stat_name, mine, stat) in stats {
            let auto = peer(q, "auto", stat);
            let text = peer(q, "text", stat);
            let met = (stat_name == "median").then_some(auto).flatten().map(|t| {
                let ok = if factor > 1.0 {
                    mine <= factor * t
                } else {
                    mine < t
                };
                if ok { "yes" } else { "NO" }.to_string()
            });
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
                format!("{label}: first run (argus builds its in-memory copy)"),
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
    if let Some(d) = duckdb {
        let mut row = vec!["duckdb CSV load (s)".to_string(), "-".into()];
        for (variant, _) in VARIANTS {
            row.push(fmt_num(d["variants"][variant]["load_seconds"].as_f64(), 1));
            row.push("-".into());
        }
        row.extend([String::new(), String::new()]);
        rows.push(row);
    }
    rows
}
