//! A shopping graph for the recommenders: products with category, brand, price, style tags
//! and a style vector (standing in for an image embedding), shoppers with latent tastes that
//! drift once, and time-ordered sessions of views, carts and purchases driven by those tastes.
//! The tastes are written out as ground truth, so a recommender can be checked for recovering
//! them. Deterministic in the seed; interactions are streamed, shopper by shopper.

use std::fs;
use std::path::Path;

use rand::Rng;

use crate::out::CsvOut;
use crate::sample::phase_rng;
use crate::{GenError, Progress, DEFAULT_START_TIME};

/// Product categories.
pub const SHOP_CATEGORIES: [&str; 12] = [
    "shoes",
    "sneakers",
    "dresses",
    "jackets",
    "jeans",
    "shirts",
    "skirts",
    "bags",
    "hats",
    "watches",
    "scarves",
    "sunglasses",
];

/// Style tags.
pub const STYLE_TAGS: [&str; 16] = [
    "minimal", "vintage", "sporty", "boho", "classic", "street", "preppy", "punk", "romantic",
    "outdoor", "luxury", "casual", "formal", "retro", "grunge", "techwear",
];

/// Width of the style vectors.
pub const STYLE_DIM: usize = 16;

/// What to generate.
#[derive(Clone, Debug)]
pub struct ShoppingConfig {
    /// Shoppers.
    pub shoppers: u64,
    /// Products.
    pub products: u64,
    /// Interactions (views, carts and purchases together), approximately.
    pub interactions: u64,
    /// Days the interactions span.
    pub days: u32,
    /// Seed.
    pub seed: u64,
}

impl Default for ShoppingConfig {
    fn default() -> Self {
        ShoppingConfig {
            shoppers: 10_000,
            products: 2_000,
            interactions: 200_000,
            days: 60,
            seed: 42,
        }
    }
}

/// What [`generate_shopping`] wrote: file names with row counts.
#[derive(Clone, Debug)]
pub struct ShoppingSummary {
    /// (file, rows).
    pub files: Vec<(String, u64)>,
}

struct Product {
    category: usize,
    price_cents: u64,
    tags: [usize; 2],
}

/// A shopper's taste: two favourite categories before the drift, a replacement for the
/// first after it, a favourite tag and a price level.
struct Taste {
    before: [usize; 2],
    after: [usize; 2],
    drift_at: i64,
    tag: usize,
    price_level: f64,
}

fn check(config: &ShoppingConfig) -> Result<(), GenError> {
    let bad = |m: String| Err(GenError::InvalidConfig(m));
    if config.shoppers == 0 || config.shoppers > 100_000_000 {
        return bad(format!(
            "shoppers must be 1..=100,000,000, got {}",
            config.shoppers
        ));
    }
    if config.products < SHOP_CATEGORIES.len() as u64 || config.products > 100_000_000 {
        return bad(format!(
            "products must be {}..=100,000,000 (at least one per category), got {}",
            SHOP_CATEGORIES.len(),
            config.products
        ));
    }
    if config.interactions == 0 || config.interactions > 10_000_000_000 {
        return bad(format!(
            "interactions must be 1..=10,000,000,000, got {}",
            config.interactions
        ));
    }
    if config.days == 0 || config.days > 3650 {
        return bad(format!("days must be 1..=3650, got {}", config.days));
    }
    Ok(())
}

fn style_vector(rng: &mut impl Rng, category: usize, tags: [usize; 2]) -> [f32; STYLE_DIM] {
    // Each category and tag owns a fixed direction; a product is their mix plus noise.
    let direction = |k: usize, salt: u64| -> [f32; STYLE_DIM] {
        let mut r = phase_rng(0x0057_171e ^ salt, k as u64);
        std::array::from_fn(|_| r.gen_range(-1.0f32..1.0))
    };
    let c = direction(category, 1);
    let t0 = direction(tags[0], 2);
    let t1 = direction(tags[1], 2);
    let mut v: [f32; STYLE_DIM] =
        std::array::from_fn(|d| 1.0 * c[d] + 0.5 * (t0[d] + t1[d]) + rng.gen_range(-0.2f32..0.2));
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    for x in &mut v {
        *x /= norm;
    }
    v
}

/// Write `products.csv`, `shoppers.csv`, `viewed.csv`, `carted.csv`, `purchased.csv`,
/// `tastes.csv` (ground truth) and `load.sh` into `dir`.
pub fn generate_shopping(
    config: &ShoppingConfig,
    dir: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<ShoppingSummary, GenError> {
    check(config)?;
    fs::create_dir_all(dir).map_err(|source| GenError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut rng = phase_rng(config.seed, 100);
    // Products: categories round-robin so every category has items; prices log-normal around
    // a per-category level.
    let mut products = Vec::with_capacity(config.products as usize);
    let mut by_category: Vec<Vec<u32>> = vec![Vec::new(); SHOP_CATEGORIES.len()];
    let mut out = CsvOut::create(
        dir,
        "products.csv",
        "sku,name,category,brand,price,tags,style_vector",
    )?;
    for p in 0..config.products {
        let category = (p % SHOP_CATEGORIES.len() as u64) as usize;
        let level = 20.0 + 15.0 * category as f64;
        let price = level * (rng.gen_range(-0.8f64..0.8)).exp();
        let t0 = rng.gen_range(0..STYLE_TAGS.len());
        let t1 = (t0 + 1 + rng.gen_range(0..STYLE_TAGS.len() - 1)) % STYLE_TAGS.len();
        let brand = category * 10 + rng.gen_range(0..10);
        let product = Product {
            category,
            price_cents: (price * 100.0).round() as u64,
            tags: [t0, t1],
        };
        let vector = style_vector(&mut rng, category, product.tags);
        let vector_text = vector
            .iter()
            .map(|x| format!("{x:.4}"))
            .collect::<Vec<_>>()
            .join(";");
        out.text("p").u64(p).c();
        out.text(STYLE_TAGS[t0])
            .text(" ")
            .text(SHOP_CATEGORIES[category])
            .text(" ")
            .u64(p)
            .c();
        out.text(SHOP_CATEGORIES[category]).c();
        out.text("brand").u64(brand as u64).c();
        out.cents(product.price_cents).c();
        out.text(STYLE_TAGS[t0]).text("|").text(STYLE_TAGS[t1]).c();
        out.text(&vector_text);
        out.end_row()?;
        out.tick("products", config.products, progress);
        by_category[category].push(p as u32);
        products.push(product);
    }
    let mut files = vec![out.finish()?];

    let window = i64::from(config.days) * 86_400;
    let mut shoppers = CsvOut::create(dir, "shoppers.csv", "shopper_id,segment")?;
    let mut tastes = CsvOut::create(
        dir,
        "tastes.csv",
        "shopper_id,favourite_before,second_before,favourite_after,second_after,drift_time,tag,price_level",
    )?;
    let mut viewed = CsvOut::create(dir, "viewed.csv", "shopper_id,sku,time")?;
    let mut carted = CsvOut::create(dir, "carted.csv", "shopper_id,sku,time")?;
    let mut purchased = CsvOut::create(dir, "purchased.csv", "shopper_id,sku,time")?;
    let per_shopper = (config.interactions as f64 / config.shoppers as f64).max(1.0);
    let mut written = 0u64;
    for s in 0..config.shoppers {
        let mut r = phase_rng(config.seed, 1_000 + s);
        let first = r.gen_range(0..SHOP_CATEGORIES.len());
        let second =
            (first + 1 + r.gen_range(0..SHOP_CATEGORIES.len() - 1)) % SHOP_CATEGORIES.len();
        let mut replacement = r.gen_range(0..SHOP_CATEGORIES.len());
        while replacement == first || replacement == second {
            replacement = (replacement + 1) % SHOP_CATEGORIES.len();
        }
        let taste = Taste {
            before: [first, second],
            after: [replacement, second],
            drift_at: DEFAULT_START_TIME + r.gen_range(window / 3..window * 2 / 3),
            tag: r.gen_range(0..STYLE_TAGS.len()),
            price_level: r.gen_range(0.6f64..1.6),
        };
        shoppers
            .text("s")
            .u64(s)
            .c()
            .text(if taste.price_level > 1.2 {
                "premium"
            } else {
                "value"
            });
        shoppers.end_row()?;
        tastes.text("s").u64(s).c();
        for c in [
            taste.before[0],
            taste.before[1],
            taste.after[0],
            taste.after[1],
        ] {
            tastes.text(SHOP_CATEGORIES[c]).c();
        }
        tastes
            .i64(taste.drift_at)
            .c()
            .text(STYLE_TAGS[taste.tag])
            .c()
            .cents((taste.price_level * 100.0).round() as u64);
        tastes.end_row()?;

        // Activity varies between shoppers (a long tail of heavy ones).
        let budget = (per_shopper * r.gen_range(0.2f64..1.0) * 2.0 / 1.2)
            .round()
            .max(1.0) as u64;
        let mut time = DEFAULT_START_TIME + r.gen_range(0..window / 10);
        let sessions = (budget as i64 / 4).max(1);
        let session_gap = (window * 8 / 10 / sessions).max(2);
        let mut made = 0u64;
        while made < budget {
            let favourites = if time < taste.drift_at {
                taste.before
            } else {
                taste.after
            };
            // 80 % of sessions browse a favourite (the first twice as often), the rest explore.
            let roll = r.gen_range(0.0f64..1.0);
            let category = if roll < 0.55 {
                favourites[0]
            } else if roll < 0.8 {
                favourites[1]
            } else {
                r.gen_range(0..SHOP_CATEGORIES.len())
            };
            let pool = &by_category[category];
            let views = r.gen_range(2..=6u64).min(budget - made);
            for _ in 0..views {
                // Prefer the taste's tag and price level: draw a few, keep the best fit.
                let mut best = pool[r.gen_range(0..pool.len())];
                let mut best_fit = f64::NEG_INFINITY;
                for _ in 0..4 {
                    let candidate = pool[r.gen_range(0..pool.len())];
                    let p = &products[candidate as usize];
                    let level = p.price_cents as f64 / 100.0 / (20.0 + 15.0 * p.category as f64);
                    let fit = f64::from(u8::from(p.tags.contains(&taste.tag))) * 1.5
                        - (level.ln() - taste.price_level.ln()).abs();
                    if fit > best_fit {
                        best_fit = fit;
                        best = candidate;
                    }
                }
                time += r.gen_range(20..300);
                interaction(&mut viewed, s, best, time)?;
                made += 1;
                if r.gen_bool(0.25) && made < budget {
                    interaction(&mut carted, s, best, time + 30)?;
                    made += 1;
                    if r.gen_bool(0.4) && made < budget {
                        interaction(&mut purchased, s, best, time + 120)?;
                        made += 1;
                    }
                }
            }
            // Next session: spaced so a shopper's activity spans the window (and so, for most,
            // the drift).
            time += r.gen_range(session_gap / 2..session_gap * 3 / 2).max(3_600);
        }
        written += made;
        if s % 10_000 == 0 {
            progress(Progress {
                phase: "interactions",
                done: written,
                total: config.interactions,
            });
        }
    }
    for f in [shoppers, tastes, viewed, carted, purchased] {
        files.push(f.finish()?);
    }
    let script = dir.join("load.sh");
    fs::write(&script, LOAD_SCRIPT).map_err(|source| GenError::Io {
        path: script.clone(),
        source,
    })?;
    Ok(ShoppingSummary { files })
}

/// One `shopper_id,sku,time` row.
fn interaction(out: &mut CsvOut, shopper: u64, product: u32, time: i64) -> Result<(), GenError> {
    out.text("s")
        .u64(shopper)
        .c()
        .text("p")
        .u64(u64::from(product))
        .c()
        .i64(time);
    out.end_row()
}

const LOAD_SCRIPT: &str = r#"#!/usr/bin/env bash
# Loads this shopping graph into an Argus data directory: bash load.sh DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
db="${1:?usage: load.sh DATA_DIRECTORY}"
argus="${ARGUS:-argus}"
"$argus" --db "$db" load nodes product "$here/products.csv" --key sku --schema 'style_vector:vector(16)'
"$argus" --db "$db" load nodes shopper "$here/shoppers.csv" --key shopper_id
for kind in viewed carted purchased; do
  "$argus" --db "$db" load edges "$kind" "$here/$kind.csv" --src shopper:shopper_id --dst product:sku --time time
done
echo "loaded; try: $argus --db $db train recommender --name shop --interactions viewed,carted,purchased --interaction-weights 1,2,4 --categories category --price price --vector style_vector"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> ShoppingConfig {
        ShoppingConfig {
            shoppers: 50,
            products: 60,
            interactions: 2_000,
            ..ShoppingConfig::default()
        }
    }

    #[test]
    fn same_seed_same_files_and_interactions_follow_the_tastes() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        generate_shopping(&small(), a.path(), &mut |_| {}).unwrap();
        generate_shopping(&small(), b.path(), &mut |_| {}).unwrap();
        for f in ["products.csv", "viewed.csv", "tastes.csv", "purchased.csv"] {
            assert_eq!(
                fs::read(a.path().join(f)).unwrap(),
                fs::read(b.path().join(f)).unwrap(),
                "{f}"
            );
        }
        let category: std::collections::HashMap<String, String> =
            csv::Reader::from_path(a.path().join("products.csv"))
                .unwrap()
                .records()
                .map(|r| {
                    let r = r.unwrap();
                    (r[0].to_string(), r[2].to_string())
                })
                .collect();
        let tastes: std::collections::HashMap<String, (Vec<String>, i64)> =
            csv::Reader::from_path(a.path().join("tastes.csv"))
                .unwrap()
                .records()
                .map(|r| {
                    let r = r.unwrap();
                    (
                        r[0].to_string(),
                        (
                            vec![r[1].to_string(), r[2].to_string(), r[3].to_string()],
                            r[5].parse().unwrap(),
                        ),
                    )
                })
                .collect();
        let (mut in_taste, mut total) = (0, 0);
        for r in csv::Reader::from_path(a.path().join("viewed.csv"))
            .unwrap()
            .records()
        {
            let r = r.unwrap();
            let (favourites, _) = &tastes[&r[0]];
            total += 1;
            in_taste += usize::from(favourites.contains(&category[&r[1]]));
        }
        // 80 % of sessions browse a favourite, plus exploration that lands on one by chance.
        assert!(in_taste * 100 > total * 75, "{in_taste} of {total}");
        let vector = fs::read_to_string(a.path().join("products.csv")).unwrap();
        let first = vector.lines().nth(1).unwrap();
        assert_eq!(
            first.rsplit(',').next().unwrap().split(';').count(),
            STYLE_DIM
        );
    }

    #[test]
    fn bad_configs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let few_products = ShoppingConfig {
            products: 3,
            ..small()
        };
        let err = generate_shopping(&few_products, dir.path(), &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("products must be"), "{err}");
    }
}
