//! Shared pieces of the benchmark binaries: the generated data set, machine facts printed with
//! every table (cores, load average, memory), percentiles, the peer systems' Python, and
//! plain-text tables.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use argus_datagen::{PaymentsConfig, Progress, DEFAULT_START_TIME};

/// The size and seed of the generated payments data set, shared by the benchmark binaries.
#[derive(clap::Args, Debug, Clone)]
pub struct PaymentsArgs {
    /// Users in the generated data set.
    #[arg(long, default_value_t = 500_000)]
    pub users: u64,
    /// Merchants in the generated data set.
    #[arg(long, default_value_t = 50_000)]
    pub merchants: u64,
    /// Payments (`paid` edges) in the generated data set.
    #[arg(long, default_value_t = 5_000_000)]
    pub transactions: u64,
    /// Seed of the data set and of the sampled cards.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

impl PaymentsArgs {
    /// The generator's configuration (90 days from the default start).
    pub fn config(&self) -> PaymentsConfig {
        PaymentsConfig {
            users: self.users,
            merchants: self.merchants,
            transactions: self.transactions,
            seed: self.seed,
            start_time: DEFAULT_START_TIME,
            days: 90,
        }
    }
}

/// Generate the payments data set into `dir`, unless a complete one with the same config is
/// already there (`marker` names the file recording the config). `tag` prefixes progress lines.
pub fn prepare_data(config: &PaymentsConfig, dir: &Path, marker: &str, tag: &str) -> Result<()> {
    let progress = |text: String| eprintln!("[{tag}] {text}");
    let marker = dir.join(marker);
    let wanted = format!("{config:?}\n");
    if fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str())
        && dir.join("transactions.csv").exists()
    {
        progress(format!(
            "data: reusing {} ({})",
            dir.display(),
            wanted.trim()
        ));
        return Ok(());
    }
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("removing stale {}", dir.display()))?;
    }
    progress(format!(
        "data: generating into {} ({})",
        dir.display(),
        wanted.trim()
    ));
    let start = Instant::now();
    let mut last_phase = "";
    let mut last_tenth = 0;
    let summary = argus_datagen::generate(config, dir, &mut |p: Progress| {
        let tenth = (p.done * 10).checked_div(p.total).unwrap_or(10);
        if p.phase != last_phase || tenth > last_tenth {
            progress(format!(
                "data: {} {}/{} ({:.0} s)",
                p.phase,
                p.done,
                p.total,
                start.elapsed().as_secs_f64()
            ));
            last_phase = p.phase;
            last_tenth = tenth;
        }
    })?;
    // Written last, so an interrupted generation is never mistaken for a complete one.
    fs::write(&marker, wanted)?;
    let files: Vec<String> = summary
        .files
        .iter()
        .map(|(f, n)| format!("{f} {n}"))
        .collect();
    progress(format!(
        "data: done in {:.1} s: {}",
        start.elapsed().as_secs_f64(),
        files.join(", ")
    ));
    Ok(())
}

/// The 1, 5 and 15 minute load averages: other work on the machine skews the timings.
pub fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Resets the kernel's peak-RSS mark (VmHWM) of this process to its current RSS.
pub fn reset_peak_rss() -> bool {
    fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// A `kB` field of /proc/self/status.
pub fn proc_status_kib(field: &str) -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// CPU time this process has used so far, all threads, user and system, in seconds.
pub fn process_cpu_secs() -> Option<f64> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th
    // fields of the whole line, in clock ticks (USER_HZ, 100 on Linux).
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Bytes under `path` (a file or a directory tree).
pub fn dir_size(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| dir_size(&e.path())).sum())
        .unwrap_or(0)
}

/// A duration in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

/// Nearest-rank percentile (the definition `kuzu_bench.py` uses too).
pub fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((sorted.len() as f64 * q / 100.0).ceil() as usize).max(1);
    sorted[rank - 1]
}

/// The interpreter that runs the Kuzu side: `$ARGUS_BENCH_PYTHON`, else the venv that
/// `setup_peers.sh` creates, else `python3`.
pub fn peer_python() -> PathBuf {
    if let Some(p) = std::env::var_os("ARGUS_BENCH_PYTHON") {
        return p.into();
    }
    if let Some(home) = std::env::var_os("HOME") {
        let venv = Path::new(&home).join(".cache/argus-bench-venv/bin/python");
        if venv.exists() {
            return venv;
        }
    }
    "python3".into()
}

/// Whether `python` can import `module` (a peer system).
pub fn python_has(python: &Path, module: &str) -> bool {
    Command::new(python)
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Available cores, printed with every table.
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0)
}

/// `1234567.8` with 0 decimals → `1,234,568`.
pub fn fmt_num(v: Option<f64>, decimals: usize) -> String {
    let Some(v) = v else { return "-".into() };
    let text = format!("{v:.decimals$}");
    let (int, frac) = text
        .split_once('.')
        .map_or((text.as_str(), None), |(i, f)| (i, Some(f)));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A plain-text table: a header row, a rule, then the rows; columns flagged in `right` are
/// right-aligned (numbers), the others left-aligned.
pub fn text_table(header: &[&str], rows: &[Vec<String>], right: &[bool]) -> String {
    let mut cells: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    cells.extend(rows.iter().cloned());
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            cells
                .iter()
                .map(|row| row.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (i, row) in cells.iter().enumerate() {
        let mut line = String::new();
        for (c, width) in widths.iter().enumerate() {
            let cell = row.get(c).map_or("", String::as_str);
            let pad = width - cell.chars().count();
            if right.get(c).copied().unwrap_or(false) {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
            line.push_str("   ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
        if i == 0 {
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 3 * (widths.len() - 1)));
            out.push('\n');
        }
    }
    out.pop();
    out
}

/// The tolokers data set (`DATA/nodes.csv`, `DATA/edges.csv`) loaded once into
/// `WORK/tolokers.db` (label `toloker` keyed by `id`, undirected `worked_with`), opened.
pub fn tolokers_store(data: &Path, work: &Path) -> Result<argus_db::Database> {
    use argus_engine::load::{load_edges, load_nodes, EdgeLoad, LoadOptions, NodeLoad};
    let db_dir = work.join("tolokers.db");
    if db_dir.join("ARGUS").exists() {
        match argus_db::Database::open(&db_dir) {
            Ok(db) => return Ok(db),
            // The store is this bench's cache: one an older Argus wrote (another data format)
            // is rebuilt.
            Err(e) => {
                eprintln!("rebuilding {}: {e}", db_dir.display());
                std::fs::remove_dir_all(&db_dir)?;
            }
        }
    }
    std::fs::create_dir_all(work)?;
    let db = argus_db::Database::open(&db_dir)?;
    let nodes = NodeLoad {
        label: "toloker".into(),
        file: data.join("nodes.csv"),
        key: "id".into(),
        options: LoadOptions::default(),
    };
    load_nodes(db.store(), &nodes, &mut |_| {})?;
    let mut edges = EdgeLoad::new(
        "worked_with",
        data.join("edges.csv"),
        ("toloker", "src"),
        ("toloker", "dst"),
        "",
    );
    edges.time_column = None;
    edges.undirected = true;
    load_edges(db.store(), &edges, &mut |_| {})?;
    eprintln!("loaded tolokers into {}", db_dir.display());
    Ok(db)
}

/// MovieLens 100K (`DATA/u.item`, `DATA/u.data`, `DATA/u.genre`) loaded once into
/// `WORK/ml100k.db` with the documented options: movies from the Latin-1, `|`-separated,
/// header-less `u.item` with its genre flags as named columns; ratings as timed `rated` edges
/// from users (created on first sight) to movies. Returns the store and the genre names.
pub fn movielens_store(data: &Path, work: &Path) -> Result<(argus_db::Database, Vec<String>)> {
    use argus_engine::load::{
        load_edges, load_nodes, CsvOptions, EdgeLoad, LoadOptions, NodeLoad, TextEncoding,
    };
    let genres: Vec<String> = std::fs::read_to_string(data.join("u.genre"))?
        .lines()
        .filter_map(|l| l.split('|').next())
        .filter(|g| !g.is_empty())
        .map(str::to_string)
        .collect();
    let db_dir = work.join("ml100k.db");
    if db_dir.join("ARGUS").exists() {
        match argus_db::Database::open(&db_dir) {
            Ok(db) => return Ok((db, genres)),
            Err(e) => {
                eprintln!("rebuilding {}: {e}", db_dir.display());
                std::fs::remove_dir_all(&db_dir)?;
            }
        }
    }
    std::fs::create_dir_all(work)?;
    let db = argus_db::Database::open(&db_dir)?;
    let mut movie_columns: Vec<String> = [
        "movie_id",
        "title",
        "release_date",
        "video_release_date",
        "imdb_url",
    ]
    .iter()
    .map(|c| c.to_string())
    .collect();
    movie_columns.extend(genres.iter().cloned());
    let options = |delimiter: u8, encoding: TextEncoding, columns: Vec<String>| LoadOptions {
        csv: CsvOptions {
            delimiter,
            has_header: false,
            encoding,
            column_names: Some(columns),
        },
        ..LoadOptions::default()
    };
    let nodes = NodeLoad {
        label: "movie".into(),
        file: data.join("u.item"),
        key: "movie_id".into(),
        options: options(b'|', TextEncoding::Latin1, movie_columns),
    };
    load_nodes(db.store(), &nodes, &mut |_| {})?;
    let mut edges = EdgeLoad::new(
        "rated",
        data.join("u.data"),
        ("user", "user_id"),
        ("movie", "movie_id"),
        "timestamp",
    );
    edges.options = options(
        b'\t',
        TextEncoding::Utf8,
        ["user_id", "movie_id", "rating", "timestamp"]
            .iter()
            .map(|c| c.to_string())
            .collect(),
    );
    edges.create_missing_nodes = true;
    load_edges(db.store(), &edges, &mut |_| {})?;
    eprintln!("loaded MovieLens 100K into {}", db_dir.display());
    Ok((db, genres))
}
