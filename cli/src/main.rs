//! `argus`: the command line over an Argus data directory — generate synthetic payments data,
//! bulk-load CSV/Parquet, inspect the graph, check consistency, query it with SQL, train,
//! evaluate and score fraud models, and run the demo. Argument parsing, progress bars, line
//! editing, charts and the allocator live here, so the libraries under it (`argus-query`,
//! `argus-db`) stay free of them for embedders.

mod demo;
mod ml_cli;
mod output;
mod plot;
mod recs_cli;
mod shell;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use argus_engine::load::{
    self, CsvOptions, EdgeLoad, LoadOptions, LoadProgress, NodeLoad, TextEncoding,
};
use argus_engine::{BackendKind, Direction, Durability, GraphStore, NeighborQuery, StoreOptions};
use clap::{Args, Parser, Subcommand, ValueEnum};

use output::{Format, Table};

// Training allocates and frees many megabyte-sized matrices per epoch; the system allocator
// returns them to the OS each time (page faults dominate), mimalloc keeps them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const AFTER_HELP: &str = "Examples:
  argus generate payments --users 10000 --merchants 1000 --transactions 100000 --out data/
  argus --db ./argus-data load nodes user data/users.csv --key user_id
  argus --db ./argus-data neighbors card:4000123412341234 --type paid --limit 10
  argus demo";

/// Argus: an embedded graph database for payments and commerce.
#[derive(Parser)]
#[command(name = "argus", version, about, after_help = AFTER_HELP)]
struct Cli {
    /// Data directory (created on first write).
    #[arg(long, global = true, env = "ARGUS_DB", default_value = "./argus-data")]
    db: PathBuf,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Storage backend of a new data directory (an existing one keeps its own).
    #[arg(long, global = true, value_enum)]
    backend: Option<BackendArg>,
    /// Durability of each committed batch: `sync` fsyncs the log (survives power loss),
    /// `buffered` does not (survives a killed process).
    #[arg(long, global = true, value_enum, default_value_t = DurabilityArg::Sync)]
    durability: DurabilityArg,
    /// Where models train, evaluate and score: `auto` takes the GPU when this build has CUDA
    /// support and a GPU is present, else the CPU; `cuda` fails when there is none.
    #[arg(long, global = true, env = "ARGUS_DEVICE", value_enum, default_value_t = DeviceArg::Auto)]
    device: DeviceArg,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum BackendArg {
    Rocksdb,
    Sled,
}

#[derive(Clone, Copy, ValueEnum)]
enum DeviceArg {
    Auto,
    Cpu,
    Cuda,
}

impl DeviceArg {
    fn request(self) -> argus_db::DeviceRequest {
        match self {
            DeviceArg::Auto => argus_db::DeviceRequest::Auto,
            DeviceArg::Cpu => argus_db::DeviceRequest::Cpu,
            DeviceArg::Cuda => argus_db::DeviceRequest::Cuda,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum DurabilityArg {
    Sync,
    Buffered,
}

#[derive(Subcommand)]
enum Command {
    /// Write synthetic data sets as CSV.
    #[command(subcommand)]
    Generate(Generate),
    /// Bulk-load nodes or edges from CSV or Parquet.
    #[command(subcommand)]
    Load(Load),
    /// Labels, edge types, counts and size of the data directory.
    #[command(after_help = "Example:\n  argus --db ./argus-data stats --format json")]
    Stats,
    /// Edges of one node, newest first: one range scan per edge type and direction.
    #[command(after_help = "Examples:
  argus neighbors card:4000123412341234 --type paid --limit 20
  argus neighbors user:42 --direction both
  argus neighbors card:4000123412341234 --type paid --since 2026-01-01 --until 2026-01-07T23:59:59Z")]
    Neighbors(NeighborsArgs),
    /// Verify adjacency symmetry, degree counters, the key dictionary and stored types.
    #[command(
        after_help = "Exits 0 when the store is consistent, 1 with the list of problems otherwise.\n\nExample:\n  argus --db ./argus-data check"
    )]
    Check,
    /// SQL over the data directory: an interactive shell, or one query with -c.
    #[command(after_help = "Examples:
  argus --db ./argus-data sql
  argus --db ./argus-data sql -c \"SELECT merchant_id, category FROM merchant LIMIT 5\"
  argus --db ./argus-data sql -c \"SELECT * FROM paid WHERE src = '4000123412341234' ORDER BY time DESC LIMIT 20\" --format csv
  argus --db ./argus-data sql -c \"SELECT * FROM neighbors('user:42', 2)\" --output ring.parquet")]
    Sql(SqlArgs),
    /// Evaluate models on labelled data.
    #[command(subcommand)]
    Eval(ml_cli::Eval),
    /// Train fraud models into the registry.
    #[command(subcommand)]
    Train(ml_cli::Train),
    /// Score one entity with a registered model (optionally as of a time, with an explanation).
    #[command(after_help = "Examples:
  argus --db pay.db score user:u42
  argus --db pay.db score user:u42 --as-of 2026-03-01T00:00:00Z --explain
  argus --db pay.db score card:4000123412341234 --model card_fraud --version 2 --format json")]
    Score(ml_cli::ScoreArgs),
    /// Score a transaction that is not stored (authorisation time) with a transaction model.
    #[command(after_help = "Example:
  argus --db pay.db score-transaction --model txn_fraud --src 4000123412341234 --dst 17 --time 2026-03-01T12:00:00Z --prop amount=950")]
    ScoreTransaction(ml_cli::ScoreTransactionArgs),
    /// Recommend items to a shopper with a registered recommender, with the reasons.
    #[command(after_help = "Examples:
  argus --db ml100k.db recommend 42 --model movies --k 10
  argus --db shop.db recommend s17 --model shop --category shoes --max-price 120
  argus --db shop.db recommend s17 --model shop --as-of 2026-03-01T00:00:00Z")]
    Recommend(recs_cli::RecommendArgs),
    /// A shopper's lookbook: recommendations in themed, diversified collections.
    #[command(after_help = "Examples:
  argus --db ml100k.db lookbook 42 --model movies
  argus --db shop.db lookbook s17 --model shop --collections 3 --items 8 --html s17.html")]
    Lookbook(recs_cli::LookbookArgs),
    /// Items similar to an item by a recommender's item-item weights.
    #[command(after_help = "Example:\n  argus --db ml100k.db similar 50 --model movies --k 10")]
    Similar(recs_cli::SimilarArgs),
    /// The model registry: list versions, deploy one, roll back.
    #[command(subcommand)]
    Models(ml_cli::Models),
    /// Label properties: the answers models learn, which no model reads as an input.
    #[command(
        subcommand,
        after_help = "Examples:\n  argus --db pay.db labels declare user.is_fraud card.is_fraud paid.is_fraud\n  argus --db pay.db labels list"
    )]
    Labels(ml_cli::Labels),
    /// Generate a payments graph, load it with progress, and query it.
    #[command(after_help = "Example:\n  argus demo --dir ./argus-demo --users 20000")]
    Demo(demo::DemoArgs),
}

#[derive(Subcommand)]
enum Generate {
    /// A payments graph: users, cards, devices, IPs, merchants, transactions and transfers, with
    /// planted fraud (rings, card testing, account takeovers, mule chains and cycles) and its
    /// ground-truth labels, plus `load.sh` with the commands that load it.
    #[command(
        after_help = "Example:\n  argus generate payments --users 500000 --merchants 50000 --transactions 5000000 --seed 7 --out payments/\n  bash payments/load.sh ./argus-data"
    )]
    Payments {
        /// Number of users.
        #[arg(long, default_value_t = 10_000)]
        users: u64,
        /// Number of merchants.
        #[arg(long, default_value_t = 1_000)]
        merchants: u64,
        /// Number of card transactions.
        #[arg(long, default_value_t = 100_000)]
        transactions: u64,
        /// Random seed: the same seed writes the same files.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// A shopping graph for the recommenders: products (category, brand, price, style tags,
    /// a style vector), shoppers whose tastes drift once, and time-ordered sessions of views,
    /// carts and purchases, with the planted tastes in tastes.csv and `load.sh`.
    #[command(
        after_help = "Example:\n  argus generate shopping --shoppers 20000 --products 2000 --interactions 400000 --out shop/\n  bash shop/load.sh ./shop-data"
    )]
    Shopping {
        /// Number of shoppers.
        #[arg(long, default_value_t = 10_000)]
        shoppers: u64,
        /// Number of products.
        #[arg(long, default_value_t = 2_000)]
        products: u64,
        /// Number of interactions (views, carts and purchases), approximately.
        #[arg(long, default_value_t = 200_000)]
        interactions: u64,
        /// Random seed: the same seed writes the same files.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Args, Clone)]
struct CsvArgs {
    /// Field delimiter: one character, or `tab`.
    #[arg(long, default_value = ",")]
    delimiter: String,
    /// The file has no header line: columns are named 0, 1, 2, ... (or by --columns)
    #[arg(long)]
    no_header: bool,
    /// Names of the columns of a file without a header, in order (with --no-header).
    #[arg(long, value_delimiter = ',', requires = "no_header")]
    columns: Vec<String>,
    /// Text encoding of CSV input: utf8 or latin1.
    #[arg(long, default_value = "utf8")]
    encoding: String,
    /// Column types instead of inferred ones: `col:type,...` with int, float, bool, string,
    /// timestamp or vector(N).
    #[arg(long)]
    schema: Option<String>,
    /// Rows per atomic batch.
    #[arg(long, default_value_t = LoadOptions::default().batch_rows)]
    batch_rows: usize,
}

#[derive(Subcommand)]
enum Load {
    /// Load (or update) nodes of a label; rows whose key exists are merged into the node.
    #[command(after_help = "Examples:
  argus load nodes user users.csv --key user_id
  argus load nodes user labels.csv --key user_id          # attaches new columns to existing users
  argus load nodes item items.psv --key 0 --no-header --delimiter '|' --encoding latin1")]
    Nodes {
        /// Node label.
        label: String,
        /// CSV file, or Parquet (by extension .parquet).
        file: PathBuf,
        /// Key column (0-based index with --no-header).
        #[arg(long)]
        key: String,
        #[command(flatten)]
        csv: CsvArgs,
    },
    /// Load edges of a type between nodes named by key columns.
    #[command(after_help = "Examples:
  argus load edges paid transactions.csv --src card:card_id --dst merchant:merchant_id --time time
  argus load edges knows edges.csv --src user:src --dst user:dst --undirected --create-missing-nodes
  argus load edges paid transactions.csv --src card:card_id --dst merchant:merchant_id --time time --resume")]
    Edges {
        /// Edge type.
        edge_type: String,
        /// CSV file, or Parquet (by extension .parquet).
        file: PathBuf,
        /// Source as LABEL:COLUMN.
        #[arg(long)]
        src: String,
        /// Destination as LABEL:COLUMN.
        #[arg(long)]
        dst: String,
        /// Time column: Unix seconds (integer or fractional) or RFC 3339.
        #[arg(long)]
        time: Option<String>,
        /// Store and traverse the edges both ways.
        #[arg(long)]
        undirected: bool,
        /// Create endpoint nodes that do not exist yet (with only their key).
        #[arg(long)]
        create_missing_nodes: bool,
        /// Continue a failed load of this file: skip the rows it already committed.
        #[arg(long)]
        resume: bool,
        /// Load every row even where an earlier load (of this file or of the same rows under
        /// another name) committed them: they are added again, as parallel edges.
        #[arg(long, conflicts_with = "resume")]
        again: bool,
        #[command(flatten)]
        csv: CsvArgs,
    },
}

#[derive(Args)]
struct SqlArgs {
    /// Run this SQL (one or more statements) and exit; non-zero exit on error.
    #[arg(short = 'c', long = "command")]
    command: Option<String>,
    /// Write the result of the (last) statement to this file: .csv, .json or .parquet.
    #[arg(long)]
    output: Option<PathBuf>,
}

#[derive(Args)]
struct NeighborsArgs {
    /// The node, as LABEL:KEY.
    node: String,
    /// Only this edge type.
    #[arg(long = "type")]
    edge_type: Option<String>,
    /// Direction: out, in or both.
    #[arg(long, default_value = "out")]
    direction: String,
    /// Earliest edge time (Unix seconds or RFC 3339), inclusive.
    #[arg(long)]
    since: Option<String>,
    /// Latest edge time (Unix seconds or RFC 3339), inclusive.
    #[arg(long)]
    until: Option<String>,
    /// At most this many edges (at most 1,000,000); only as many are read.
    #[arg(long, default_value_t = argus_query::functions::DEFAULT_NEIGHBOR_LIMIT as usize)]
    limit: usize,
    /// Oldest first instead of newest first.
    #[arg(long)]
    oldest_first: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn store_options(cli: &Cli) -> StoreOptions {
    StoreOptions {
        durability: match cli.durability {
            DurabilityArg::Sync => Durability::Sync,
            DurabilityArg::Buffered => Durability::Buffered,
        },
        ..StoreOptions::default()
    }
}

fn open_store(cli: &Cli) -> Result<GraphStore> {
    let backend = cli.backend.map(|b| match b {
        BackendArg::Rocksdb => BackendKind::RocksDb,
        BackendArg::Sled => BackendKind::Sled,
    });
    Ok(GraphStore::open_with(&cli.db, backend, store_options(cli))?)
}

/// Open an existing data directory for reading; a missing one is an error, not a new store.
fn open_database(cli: &Cli) -> Result<argus_db::Database> {
    Ok(
        argus_db::Database::from_store(std::sync::Arc::new(open_existing(cli)?))
            .with_device(cli.device.request()),
    )
}

fn open_existing(cli: &Cli) -> Result<GraphStore> {
    if !cli.db.join("ARGUS").exists() {
        bail!(
            "{} is not an Argus data directory (load data into it first, or pass --db)",
            cli.db.display()
        );
    }
    open_store(cli)
}

fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Generate(Generate::Payments {
            users,
            merchants,
            transactions,
            seed,
            out,
        }) => {
            let config = argus_datagen::PaymentsConfig {
                users: *users,
                merchants: *merchants,
                transactions: *transactions,
                seed: *seed,
                ..Default::default()
            };
            let summary = output::generate_with_progress(&config, out)?;
            output::print_generate_summary(&summary, out, &cli.db, cli.format);
        }
        Command::Generate(Generate::Shopping {
            shoppers,
            products,
            interactions,
            seed,
            out,
        }) => {
            let config = argus_datagen::shopping::ShoppingConfig {
                shoppers: *shoppers,
                products: *products,
                interactions: *interactions,
                seed: *seed,
                ..Default::default()
            };
            let mut last = std::time::Instant::now();
            let summary = argus_datagen::shopping::generate_shopping(&config, out, &mut |p| {
                if last.elapsed().as_secs() >= 1 {
                    eprintln!("  {}: {} of ~{}", p.phase, p.done, p.total);
                    last = std::time::Instant::now();
                }
            })?;
            for (file, rows) in &summary.files {
                println!("{file}: {rows} rows");
            }
            println!(
                "load with: bash {}/load.sh {}",
                out.display(),
                cli.db.display()
            );
        }
        Command::Load(load_cmd) => {
            let store = open_store(&cli)?;
            run_load(&store, load_cmd, cli.format)?;
        }
        Command::Stats => {
            let store = open_existing(&cli)?;
            output::print_stats(&store, cli.format)?;
        }
        Command::Neighbors(args) => {
            let store = open_existing(&cli)?;
            run_neighbors(&store, args, cli.format)?;
        }
        Command::Check => {
            let store = open_existing(&cli)?;
            let report = argus_engine::check::check(&store.snapshot())?;
            output::print_check(&report, cli.format);
            if !report.is_ok() {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Demo(args) => demo::run(args, store_options(&cli))?,
        Command::Eval(eval) => ml_cli::run_eval(&open_database(&cli)?, eval, cli.format)?,
        Command::Train(train) => ml_cli::run_train(&open_database(&cli)?, train, cli.format)?,
        Command::Score(args) => ml_cli::run_score(&open_database(&cli)?, args, cli.format)?,
        Command::ScoreTransaction(args) => {
            ml_cli::run_score_transaction(&open_database(&cli)?, args, cli.format)?
        }
        Command::Recommend(args) => {
            recs_cli::run_recommend(&open_database(&cli)?, args, cli.format)?
        }
        Command::Lookbook(args) => recs_cli::run_lookbook(&open_database(&cli)?, args, cli.format)?,
        Command::Similar(args) => recs_cli::run_similar(&open_database(&cli)?, args, cli.format)?,
        Command::Models(models) => ml_cli::run_models(&open_database(&cli)?, models, cli.format)?,
        Command::Labels(labels) => ml_cli::run_labels(&open_database(&cli)?, labels, cli.format)?,
        Command::Sql(args) => {
            let store = std::sync::Arc::new(open_existing(&cli)?);
            run_sql(store, args, cli.format, cli.device.request())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_sql(
    store: std::sync::Arc<GraphStore>,
    args: &SqlArgs,
    format: Format,
    device: argus_db::DeviceRequest,
) -> Result<()> {
    use shell::OutputMode;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let session = argus_query::ArgusSession::on_device(store, device)?;
    let mode = match format {
        Format::Table => OutputMode::Table,
        Format::Csv => OutputMode::Csv,
        Format::Json => OutputMode::Json,
    };
    runtime.block_on(async {
        match &args.command {
            None => shell::interactive(&session, mode)
                .await
                .map_err(|e| anyhow!("{e}")),
            Some(sql) => {
                let results = shell::run_statements(&session, sql)
                    .await
                    .map_err(|e| anyhow!("{e}"))?;
                let last = results.last().cloned().unwrap_or_default();
                match &args.output {
                    Some(path) => {
                        shell::write_output(&last, path).map_err(|e| anyhow!("{e}"))?;
                        let rows: usize = last.iter().map(|b| b.num_rows()).sum();
                        eprintln!("wrote {rows} rows to {}", path.display());
                    }
                    None => {
                        for batches in &results {
                            println!(
                                "{}",
                                shell::render(batches, mode).map_err(|e| anyhow!("{e}"))?
                            );
                        }
                    }
                }
                Ok(())
            }
        }
    })
}

fn csv_options(args: &CsvArgs) -> Result<LoadOptions> {
    let delimiter = match args.delimiter.as_str() {
        "tab" | "\\t" | "\t" => b'\t',
        d if d.len() == 1 => d.as_bytes()[0],
        d => bail!("--delimiter '{d}': expected one ASCII character or 'tab'"),
    };
    Ok(LoadOptions {
        csv: CsvOptions {
            delimiter,
            has_header: !args.no_header,
            encoding: TextEncoding::parse(&args.encoding)?,
            column_names: (!args.columns.is_empty()).then(|| args.columns.clone()),
        },
        schema: match &args.schema {
            Some(s) => load::parse_schema_overrides(s)?,
            None => Vec::new(),
        },
        batch_rows: args.batch_rows.max(1),
        ..LoadOptions::default()
    })
}

fn split_label(spec: &str, what: &str) -> Result<(String, String)> {
    let (label, rest) = spec.split_once(':').ok_or_else(|| {
        anyhow!(
            "{what} '{spec}' must be LABEL:{}",
            if what == "node" { "KEY" } else { "COLUMN" }
        )
    })?;
    if label.is_empty() || rest.is_empty() {
        bail!(
            "{what} '{spec}' must be LABEL:{}",
            if what == "node" { "KEY" } else { "COLUMN" }
        );
    }
    Ok((label.to_string(), rest.to_string()))
}

fn run_load(store: &GraphStore, cmd: &Load, format: Format) -> Result<()> {
    match cmd {
        Load::Nodes {
            label,
            file,
            key,
            csv,
        } => {
            let spec = NodeLoad {
                label: label.clone(),
                file: file.clone(),
                key: key.clone(),
                options: csv_options(csv)?,
            };
            let bar = output::LoadBar::new(&format!("nodes {label}"));
            let report = load::load_nodes(store, &spec, &mut |p: &LoadProgress| bar.update(p))
                .with_context(|| format!("loading {} into label '{label}'", file.display()));
            bar.finish();
            output::print_load_report(&report?, &format!("label '{label}'"), format);
        }
        Load::Edges {
            edge_type,
            file,
            src,
            dst,
            time,
            undirected,
            create_missing_nodes,
            resume,
            again,
            csv,
        } => {
            let (src_label, src_column) = split_label(src, "--src")?;
            let (dst_label, dst_column) = split_label(dst, "--dst")?;
            let spec = EdgeLoad {
                edge_type: edge_type.clone(),
                file: file.clone(),
                src_label,
                src_column,
                dst_label,
                dst_column,
                time_column: time.clone(),
                undirected: *undirected,
                create_missing_nodes: *create_missing_nodes,
                resume: *resume,
                again: *again,
                options: csv_options(csv)?,
            };
            let bar = output::LoadBar::new(&format!("edges {edge_type}"));
            let report = load::load_edges(store, &spec, &mut |p: &LoadProgress| bar.update(p))
                .with_context(|| {
                    format!("loading {} into edge type '{edge_type}'", file.display())
                });
            bar.finish();
            output::print_load_report(&report?, &format!("edge type '{edge_type}'"), format);
        }
    }
    Ok(())
}

fn parse_time_arg(t: &Option<String>, what: &str) -> Result<Option<i64>> {
    t.as_deref()
        .map(|s| argus_engine::time::parse_time(s).map_err(|e| anyhow!("{what}: {e}")))
        .transpose()
}

fn run_neighbors(store: &GraphStore, args: &NeighborsArgs, format: Format) -> Result<()> {
    let (label, key) = split_label(&args.node, "node")?;
    let query = NeighborQuery {
        edge_type: args.edge_type.clone(),
        direction: Direction::parse(&args.direction)?,
        since: parse_time_arg(&args.since, "--since")?,
        until: parse_time_arg(&args.until, "--until")?,
        limit: Some(args.limit),
        oldest_first: args.oldest_first,
    };
    let snap = store.snapshot();
    let found = snap.neighbor_edges(&label, &key, &query)?;
    let table = output::neighbors_table(&snap, &found)?;
    table.print(format);
    if format == Format::Table {
        eprintln!("{} edge(s) of {label}:{key}", found.len());
    }
    if found.len() == args.limit {
        eprintln!("note: stopped at --limit {}; there may be more", args.limit);
    }
    Ok(())
}

impl Table {
    fn print(&self, format: Format) {
        match format {
            Format::Table => println!("{}", self.render()),
            Format::Csv => print!("{}", self.to_csv()),
            Format::Json => println!(
                "{}",
                serde_json::to_string_pretty(&self.to_json()).expect("json")
            ),
        }
    }
}
