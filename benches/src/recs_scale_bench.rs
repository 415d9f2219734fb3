//! Recommender serving at catalogue scale: generates a shopping graph (default 100,000
//! products, 1,000,000 shoppers, 20,000,000 interactions; `--scale 0.1` for a tenth), loads it,
//! trains the cosine item-item recommender (one configuration: no selection), and measures
//! `recommend` (k = 20) and `lookbook` (4 × 5) latency for random shoppers, each query
//! preceded by a new view committed for that shopper (the new-interaction path), printing
//! load rate, training time and latency percentiles.
//!
//! `cargo run --release -p argus-benches --no-default-features --bin recs_scale_bench -- --scale 0.1`

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use argus_benches::{load_average, ms, percentile, text_table};
use argus_datagen::shopping::{generate_shopping, ShoppingConfig};
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
}

fn main() -> Result<()> {
    let args = Args::parse();
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
        ..RecommenderSpec::default()
    };
    let started = Instant::now();
    db.train_recommender("shop", &spec, false, &mut |_| {})?;
    let train_seconds = started.elapsed().as_secs_f64();
    eprintln!("trained in {train_seconds:.0} s");

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
    let rows = vec![
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
