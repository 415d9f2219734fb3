//! Recommender serving at catalogue scale: generates a shopping graph (default 100,000
//! products, 1,000,000 shoppers, 20,000,000 interactions; `--scale 0.1` for a tenth), loads it,
//! trains the cosine item-item recommender (one configuration: no selection), and measures
//! `recommend` (k = 20) and `lookbook` (4 × 5) latency for random shoppers, each query
//! preceded by a new view committed for that shopper (the new-interaction path), and
//! `similar_items` by style vector through the exact scan and the approximate index (with the
//! index's recall against the scan), printing load rate, training time and latency percentiles.
//!
//! `cargo run --release -p argus-benches --no-default-features --bin recs_scale_bench -- --scale 0.1`
//!
//! With `--serve DIR --model NAME` it only measures `recommend` (k = 10) and `lookbook` (4 × 5)
//! for random shoppers `s0..s{--shoppers}` of an existing store, with no new views: the Rust
//! API's side of the Postgres benchmark (`benches/pg_bench.sh`), which makes the same calls.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use argus_benches::{load_average, ms, percentile, text_table};
use argus_datagen::shopping::{generate_shopping, ShoppingConfig};
use argus_db::recommend::data::ItemVectors;
use argus_db::recommend::{Family, RecommendOptions, RecommenderSpec};
use argus_db::Database;
use argus_engine::load::{load_edges, load_nodes, EdgeLoad, LoadOptions, NodeLoad};
use argus_extensions::ml::recommend::lookbook::LookbookSettings;
use clap::Parser;
use rand::{Rng, SeedableRng};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(about = "Argus recommender load, training and serving latency at catalogue scale")]
struct Args {
    /// Fraction of the full size (100k products, 1M shoppers, 20M interactions).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Working directory.
    #[arg(long, default_value = "./bench-out/recs-scale")]
    work: PathBuf,
    /// Queries per measurement.
    #[arg(long, default_value_t = 1000)]
    queries: usize,
    /// Only measure serving on this existing store (no generation, load or training).
    #[arg(long)]
    serve: Option<PathBuf>,
    /// With `--serve`: the recommender.
    #[arg(long, default_value = "shop")]
    model: String,
    /// With `--serve`: shoppers are `s0` up to this.
    #[arg(long, default_value_t = 20_000)]
    shoppers: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(dir) = &args.serve {
        return serve_only(dir, &args);
    }
    let config = ShoppingConfig {
        products: (100_000.0 * args.scale) as u64,
        shoppers: (1_000_000.0 * args.scale) as u64,
        interactions: (20_000_000.0 * args.scale) as u64,
        ..ShoppingConfig::default()
    };
    let csv = args.work.join("csv");
    let db_dir = args.work.join("db");
    if db_dir.exists() {
        std::fs::remove_dir_all(&db_dir)?;
    }
    let started = Instant::now();
    generate_shopping(&config, &csv, &mut |_| {})?;
    eprintln!("generated in {:.0} s", started.elapsed().as_secs_f64());

    let db = Database::open(&db_dir)?;
    let started = Instant::now();
    let mut products = NodeLoad {
        label: "product".into(),
        file: csv.join("products.csv"),
        key: "sku".into(),
        options: LoadOptions::default(),
    };
    products.options.schema =
        argus_engine::load::parse_schema_overrides("style_vector:vector(16)")?;
    load_nodes(db.store(), &products, &mut |_| {})?;
    let shoppers = NodeLoad {
        label: "shopper".into(),
        file: csv.join("shoppers.csv"),
        key: "shopper_id".into(),
        options: LoadOptions::default(),
    };
    load_nodes(db.store(), &shoppers, &mut |_| {})?;
    let mut edges = 0u64;
    for kind in ["viewed", "carted", "purchased"] {
        let load = EdgeLoad::new(
            kind,
            csv.join(format!("{kind}.csv")),
            ("shopper", "shopper_id"),
            ("product", "sku"),
            "time",
        );
        edges += load_edges(db.store(), &load, &mut |_| {})?.rows;
    }
    let load_seconds = started.elapsed().as_secs_f64();
    eprintln!("loaded {edges} interactions in {load_seconds:.0} s");

    let spec = RecommenderSpec {
        interactions: vec!["viewed".into(), "carted".into(), "purchased".into()],
        kind_weights: vec![1.0, 2.0, 4.0],
        families: vec![Family::Cosine],
        cosine_shrinks: vec![100.0],
        half_lives: vec![3.0],
        category_properties: vec!["category".into()],
        price_property: Some("price".into()),
        vector_property: Some("style_vector".into()),
        ..RecommenderSpec::default()
    };
    let started = Instant::now();
    db.train_recommender("shop", &spec, false, &mut |_| {})?;
    let train_seconds = started.elapsed().as_secs_f64();
    eprintln!("trained in {train_seconds:.0} s");

    let vector_rows = vector_search(&db, args.queries)?;

    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut recommend = Vec::new();
    let mut lookbook = Vec::new();
    let book = LookbookSettings::default();
    let base_time = argus_datagen::DEFAULT_START_TIME * 1_000_000 + 400 * 86_400_000_000;
    for q in 0..args.queries * 2 {
        let shopper = format!("s{}", rng.gen_range(0..config.shoppers));
        let product = format!("p{}", rng.gen_range(0..config.products));
        let started = Instant::now();
        // The new-interaction path: the view commits, then the next answer reads it.
        db.store().write(|t| {
            t.insert_edge(
                "viewed",
                &shopper,
                &product,
                Some(base_time + q as i64),
                &[],
            )?;
            Ok(())
        })?;
        if q % 2 == 0 {
            db.recommend(
                "shop",
                &shopper,
                &RecommendOptions {
                    k: 20,
                    ..RecommendOptions::default()
                },
            )?;
            recommend.push(ms(started.elapsed()));
        } else {
            db.lookbook("shop", &shopper, &book, None)?;
            lookbook.push(ms(started.elapsed()));
        }
    }
    println!(
        "{} products, {} shoppers, {edges} interactions; 2 cores; load {}",
        config.products,
        config.shoppers,
        load_average()
    );
    let mut rows = vec![
        vec![
            "load (nodes + interactions)".into(),
            format!("{load_seconds:.1} s"),
            format!("{:.0} interactions/s", edges as f64 / load_seconds),
            String::new(),
        ],
        vec![
            "train (cosine, one configuration)".into(),
            format!("{train_seconds:.1} s"),
            String::new(),
            String::new(),
        ],
        vec![
            "view + recommend k=20".into(),
            format!("{:.2} ms", percentile(&recommend, 50.0)),
            format!("{:.2} ms", percentile(&recommend, 99.0)),
            "target p99 ≤ 2 ms".into(),
        ],
        vec![
            "view + lookbook 4×5".into(),
            format!("{:.2} ms", percentile(&lookbook, 50.0)),
            format!("{:.2} ms", percentile(&lookbook, 99.0)),
            "target p99 ≤ 10 ms".into(),
        ],
    ];
    rows.extend(vector_rows);
    println!(
        "{}",
        text_table(
            &["what", "time / median", "rate / p99", ""],
            &rows,
            &[false, true, true, false]
        )
    );
    Ok(())
}

/// `similar_items` by style vector, k = 10, for random products: the exact scan beside the
/// approximate index (its build time, latency, and recall@10 against the scan), as table rows.
fn vector_search(db: &Database, queries: usize) -> Result<Vec<Vec<String>>> {
    let loaded = db.loaded_recommender("shop", None)?;
    let vectors = loaded.vectors().expect("trained with a vector property");
    let started = Instant::now();
    let Some(index) = vectors.build_index() else {
        eprintln!(
            "fewer than {} products: the vector index is not used, no vector rows",
            ItemVectors::INDEX_MIN_ITEMS
        );
        return Ok(Vec::new());
    };
    let build_seconds = started.elapsed().as_secs_f64();
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let (mut exact_ms, mut index_ms, mut hits) = (Vec::new(), Vec::new(), 0usize);
    let k = 10;
    for _ in 0..queries {
        let item = rng.gen_range(0..vectors.rows.len()) as u32;
        let started = Instant::now();
        let exact = vectors.nearest_exact(item, k, |_| true);
        exact_ms.push(ms(started.elapsed()));
        let started = Instant::now();
        let found = vectors.nearest(item, k, |_| true);
        index_ms.push(ms(started.elapsed()));
        hits += found
            .iter()
            .filter(|(j, _)| exact.iter().any(|(e, _)| e == j))
            .count();
    }
    let latency = |what: &str, v: &[f64], note: String| {
        vec![
            what.to_string(),
            format!("{:.3} ms", percentile(v, 50.0)),
            format!("{:.3} ms", percentile(v, 99.0)),
            note,
        ]
    };
    Ok(vec![
        vec![
            format!("vector index build ({} products)", index.len()),
            format!("{build_seconds:.1} s"),
            String::new(),
            "once per loaded recommender".into(),
        ],
        latency(
            "similar by vector k=10, exact scan",
            &exact_ms,
            String::new(),
        ),
        latency(
            "similar by vector k=10, index",
            &index_ms,
            format!(
                "recall@10 vs scan {:.4}",
                hits as f64 / (queries * k) as f64
            ),
        ),
    ])
}

/// `recommend` k = 10 and `lookbook` 4 × 5 latency on an existing store, reads only.
fn serve_only(dir: &std::path::Path, args: &Args) -> Result<()> {
    let db = Database::open(dir)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let options = RecommendOptions::default();
    let book = LookbookSettings::default();
    // The first call loads the recommender: not a latency a caller sees twice.
    db.recommend(&args.model, "s0", &options)?;
    let mut recommend = Vec::with_capacity(args.queries);
    let mut lookbook = Vec::with_capacity(args.queries);
    for _ in 0..args.queries {
        let shopper = format!("s{}", rng.gen_range(0..args.shoppers));
        let started = Instant::now();
        db.recommend(&args.model, &shopper, &options)?;
        recommend.push(ms(started.elapsed()));
        let started = Instant::now();
        db.lookbook(&args.model, &shopper, &book, None)?;
        lookbook.push(ms(started.elapsed()));
    }
    let row = |what: &str, v: &[f64]| {
        vec![
            what.to_string(),
            format!("{:.0}", 1000.0 / (v.iter().sum::<f64>() / v.len() as f64)),
            format!("{:.3}", percentile(v, 50.0)),
            format!("{:.3}", percentile(v, 99.0)),
        ]
    };
    println!(
        "{}",
        text_table(
            &["Rust API, one thread", "calls/s", "p50 ms", "p99 ms"],
            &[
                row("recommend k=10", &recommend),
                row("lookbook 4x5", &lookbook)
            ],
            &[false, true, true, true]
        )
    );
    Ok(())
}
