//! `argus eval recommend`, `argus train recommender`, `argus recommend` and `argus similar`:
//! recommenders from the command line.

use anyhow::{anyhow, Result};
use argus_db::recommend::train::RecommendProgress;
use argus_db::recommend::{Family, Lookbook, RecommendOptions, RecommenderSpec};
use argus_db::Database;
use argus_extensions::ml::recommend::lightgcn::LightGcnSettings;
use argus_extensions::ml::recommend::lookbook::LookbookSettings;
use clap::Args;
use serde_json::json;

use crate::output::{Format, Table};

/// Recommender options shared by `eval recommend` and `train recommender`.
#[derive(Args)]
pub struct RecommenderArgs {
    /// Interaction edge types (shopper → item), e.g. `viewed,carted,bought`.
    #[arg(long, value_delimiter = ',', required = true)]
    interactions: Vec<String>,
    /// Weight of each interaction type in a shopper's query, in --interactions order.
    #[arg(long, value_delimiter = ',')]
    interaction_weights: Vec<f32>,
    /// Families to try: popularity, ease, cosine, lightgcn.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "popularity,ease,cosine,lightgcn"
    )]
    families: Vec<String>,
    /// EASE λ values to try.
    #[arg(long, value_delimiter = ',', default_value = "100,200,400,800,1600")]
    ease_lambdas: Vec<f64>,
    /// Cosine shrinkage values to try.
    #[arg(long, value_delimiter = ',', default_value = "10,100")]
    cosine_shrinks: Vec<f64>,
    /// Query half-lives to try, in interactions (0: no decay).
    #[arg(long, value_delimiter = ',', default_value = "0,20,10,5,3")]
    half_lives: Vec<f32>,
    /// Item-item weights kept per item.
    #[arg(long, default_value_t = 200)]
    keep: usize,
    /// Newest interactions a shopper's query reads.
    #[arg(long, default_value_t = 200)]
    history: usize,
    /// Cut-off of Recall@k and NDCG@k.
    #[arg(long, default_value_t = 20)]
    k: usize,
    /// Item properties giving categories: one string property (`|`-separated values) or
    /// numeric flag properties, each a category.
    #[arg(long, value_delimiter = ',')]
    categories: Vec<String>,
    /// Item property giving the price (for price filters).
    #[arg(long)]
    price: Option<String>,
    /// Item vector(N) property (style or image embedding): `similar --by vector`, and items
    /// added after training recommended through their nearest trained item.
    #[arg(long)]
    vector: Option<String>,
    /// Most LightGCN epochs (the count is chosen on validation, checked every 5).
    #[arg(long, default_value_t = 60)]
    lightgcn_epochs: usize,
    /// LightGCN embedding width.
    #[arg(long, default_value_t = 64)]
    lightgcn_dim: usize,
}

impl RecommenderArgs {
    fn spec(&self) -> Result<RecommenderSpec> {
        let families = self
            .families
            .iter()
            .map(|f| {
                Family::parse(f).ok_or_else(|| {
                    anyhow!("unknown family {f:?}: expected popularity, ease, cosine or lightgcn")
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if !self.interaction_weights.is_empty()
            && self.interaction_weights.len() != self.interactions.len()
        {
            return Err(anyhow!(
                "--interaction-weights has {} values for {} interaction types",
                self.interaction_weights.len(),
                self.interactions.len()
            ));
        }
        Ok(RecommenderSpec {
            interactions: self.interactions.clone(),
            kind_weights: self.interaction_weights.clone(),
            families,
            ease_lambdas: self.ease_lambdas.clone(),
            cosine_shrinks: self.cosine_shrinks.clone(),
            half_lives: self.half_lives.clone(),
            keep: self.keep,
            history: self.history,
            k: self.k,
            category_properties: self.categories.clone(),
            price_property: self.price.clone(),
            vector_property: self.vector.clone(),
            lightgcn: LightGcnSettings {
                epochs: self.lightgcn_epochs,
                dim: self.lightgcn_dim,
                ..LightGcnSettings::default()
            },
            ..RecommenderSpec::default()
        })
    }
}

#[derive(Args)]
pub struct RecommenderTrainArgs {
    /// Recommender name in the registry.
    #[arg(long)]
    name: String,
    #[command(flatten)]
    recommender: RecommenderArgs,
    /// Deploy the new version even when the name already has a deployed one.
    #[arg(long)]
    deploy: bool,
}

#[derive(Args)]
pub struct RecommendArgs {
    /// The shopper's key.
    user: String,
    /// Recommender name.
    #[arg(long)]
    model: String,
    /// How many items.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Also recommend items the shopper already interacted with.
    #[arg(long)]
    include_seen: bool,
    /// Only items of this category.
    #[arg(long)]
    category: Option<String>,
    /// Only items priced at least this.
    #[arg(long)]
    min_price: Option<f64>,
    /// Only items priced at most this.
    #[arg(long)]
    max_price: Option<f64>,
    /// Read the shopper's history as of this time (RFC 3339 or a date).
    #[arg(long)]
    as_of: Option<String>,
}

#[derive(Args)]
pub struct LookbookArgs {
    /// The shopper's key.
    user: String,
    /// Recommender name.
    #[arg(long)]
    model: String,
    /// Number of collections.
    #[arg(long, default_value_t = 4)]
    collections: usize,
    /// Items per collection.
    #[arg(long, default_value_t = 6)]
    items: usize,
    /// Relevance vs diversity within a collection (1: relevance only).
    #[arg(long, default_value_t = 0.7)]
    lambda: f32,
    /// Read the shopper's history as of this time (RFC 3339 or a date).
    #[arg(long)]
    as_of: Option<String>,
    /// Also write the lookbook as a static HTML page.
    #[arg(long)]
    html: Option<std::path::PathBuf>,
}

#[derive(Args)]
pub struct SimilarArgs {
    /// The item's key.
    item: String,
    /// Recommender name.
    #[arg(long)]
    model: String,
    /// How many items.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// `interactions` (what shoppers went on to) or `vector` (nearest by the recommender's
    /// vector property).
    #[arg(long, default_value = "interactions")]
    by: String,
}

fn show_progress(p: RecommendProgress<'_>, started: std::time::Instant) {
    match p {
        RecommendProgress::Candidate {
            config,
            scores,
            done,
            total,
        } => eprintln!(
            "  [{done}/{total}] {}: validation Recall@k {:.4} NDCG@k {:.4} ({:.0} s)",
            config.describe(),
            scores.recall,
            scores.ndcg,
            started.elapsed().as_secs_f64()
        ),
        RecommendProgress::Refit(config) => eprintln!(
            "  refitting {} on all training interactions ({:.0} s)",
            config.describe(),
            started.elapsed().as_secs_f64()
        ),
    }
}

fn metric(v: f64) -> serde_json::Value {
    if v.is_nan() {
        json!("")
    } else {
        json!(format!("{v:.4}"))
    }
}

pub fn run_eval(db: &Database, args: &RecommenderArgs, format: Format) -> Result<()> {
    let spec = args.spec()?;
    let started = std::time::Instant::now();
    let report = db.evaluate_recommenders(&spec, &mut |p| show_progress(p, started))?;
    let t = &report.trained_on;
    eprintln!(
        "{} interactions, {} users, {} items; {} users with test items; temporal split {:.0}/{:.0} per user, configuration chosen on validation carved from training",
        t.interactions,
        t.users,
        t.items,
        report.test_users,
        spec.train_fraction * 100.0,
        (1.0 - spec.train_fraction) * 100.0
    );
    let k = spec.k;
    let recall = format!("Recall@{k}");
    let ndcg = format!("NDCG@{k}");
    let mut table = Table::new(&[
        "family",
        "configuration (on validation)",
        &format!("val {ndcg}"),
        &recall,
        &ndcg,
        "coverage",
        "diversity",
        "picked",
    ]);
    for f in &report.families {
        table.rows.push(vec![
            json!(f.config.family.name()),
            json!(f.config.describe()),
            metric(f.validation.ndcg),
            metric(f.test.recall),
            metric(f.test.ndcg),
            metric(f.test.coverage),
            metric(f.test.diversity),
            json!(if f.config.family == report.picked {
                "yes"
            } else {
                ""
            }),
        ]);
    }
    if let Some((settings, scores)) = &report.lookbook {
        let picked = report
            .families
            .iter()
            .find(|f| f.config.family == report.picked)
            .expect("the picked family has a row");
        table.rows.push(vec![
            json!(format!("{} lookbook", report.picked.name())),
            json!(format!(
                "{} collections × {}, MMR λ={}",
                settings.collections, settings.per_collection, settings.lambda
            )),
            json!(""),
            metric(scores.recall),
            metric(scores.ndcg),
            metric(scores.coverage),
            metric(scores.diversity),
            json!(format!(
                "recall {:+.4} vs plain",
                scores.recall - picked.test.recall
            )),
        ]);
    }
    println!("{}", table.render_as(format));
    Ok(())
}

pub fn run_train(db: &Database, args: &RecommenderTrainArgs, format: Format) -> Result<()> {
    let spec = args.recommender.spec()?;
    let started = std::time::Instant::now();
    let version = db.train_recommender(&args.name, &spec, args.deploy, &mut |p| {
        show_progress(p, started)
    })?;
    let best = &version.candidates[0];
    let mut table = Table::new(&[
        "name",
        "version",
        "configuration",
        "val Recall@k",
        "val NDCG@k",
    ]);
    table.rows.push(vec![
        json!(version.name),
        json!(version.version),
        json!(best.config.describe()),
        metric(best.validation.recall),
        metric(best.validation.ndcg),
    ]);
    println!("{}", table.render_as(format));
    Ok(())
}

fn parse_as_of(as_of: Option<&str>) -> Result<Option<i64>> {
    as_of
        .map(argus_engine::time::parse_time)
        .transpose()
        .map_err(|e| anyhow!("--as-of: {e}"))
}

pub fn run_lookbook(db: &Database, args: &LookbookArgs, format: Format) -> Result<()> {
    let settings = LookbookSettings {
        collections: args.collections,
        per_collection: args.items,
        lambda: args.lambda,
    };
    let book = db.lookbook(
        &args.model,
        &args.user,
        &settings,
        parse_as_of(args.as_of.as_deref())?,
    )?;
    let mut table = Table::new(&[
        "collection",
        "item",
        "name",
        "categories",
        "price",
        "score",
        "reason",
    ]);
    for c in &book.collections {
        for i in &c.items {
            table.rows.push(vec![
                json!(c.title),
                json!(i.item),
                json!(i.name.clone().unwrap_or_default()),
                json!(i.categories.join(", ")),
                i.price.map_or(json!(""), |p| json!(format!("{p:.2}"))),
                json!(format!("{:.4}", i.score)),
                json!(i.reason.join(", ")),
            ]);
        }
    }
    println!("{}", table.render_as(format));
    if let Some(path) = &args.html {
        std::fs::write(path, lookbook_html(&book))
            .map_err(|e| anyhow!("writing {}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A static page: one row of cards per collection.
fn lookbook_html(book: &Lookbook) -> String {
    let mut out = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Lookbook for {user}</title>\n<style>\n\
body{{font-family:system-ui,sans-serif;margin:2rem;background:#fafafa;color:#222}}\n\
h2{{margin:1.5rem 0 .5rem}}\n.row{{display:flex;gap:1rem;overflow-x:auto;padding-bottom:.5rem}}\n\
.card{{flex:0 0 12rem;background:#fff;border-radius:.5rem;box-shadow:0 1px 3px #0002;padding:.75rem}}\n\
.card img{{width:100%;height:9rem;object-fit:cover;border-radius:.25rem}}\n\
.swatch{{height:9rem;border-radius:.25rem;display:flex;align-items:center;justify-content:center;font-size:2rem;color:#fff}}\n\
.name{{font-weight:600;margin:.5rem 0 .25rem}}.meta{{font-size:.8rem;color:#666}}.why{{font-size:.75rem;color:#888;margin-top:.25rem}}\n\
</style></head><body>\n<h1>Lookbook for {user}</h1>\n",
        user = escape(&book.user)
    );
    for c in &book.collections {
        out.push_str(&format!(
            "<h2>{}</h2>\n<div class=\"row\">\n",
            escape(&c.title)
        ));
        for i in &c.items {
            let name = i.name.as_deref().unwrap_or(&i.item);
            let picture = match &i.image {
                Some(url) => format!("<img src=\"{}\" alt=\"{}\">", escape(url), escape(name)),
                None => {
                    // No picture: a swatch coloured by the collection, with the initial.
                    let hue = c
                        .title
                        .bytes()
                        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
                        % 360;
                    let initial = name.chars().next().unwrap_or('?');
                    format!(
                        "<div class=\"swatch\" style=\"background:hsl({hue},45%,55%)\">{}</div>",
                        escape(&initial.to_string())
                    )
                }
            };
            let price = i.price.map_or(String::new(), |p| format!(" · {p:.2}"));
            out.push_str(&format!(
                "<div class=\"card\">{picture}<div class=\"name\">{}</div><div class=\"meta\">{}{}</div><div class=\"why\">because of {}</div></div>\n",
                escape(name),
                escape(&i.categories.join(", ")),
                escape(&price),
                escape(&i.reason.join(", "))
            ));
        }
        out.push_str("</div>\n");
    }
    out.push_str("</body></html>\n");
    out
}

pub fn run_recommend(db: &Database, args: &RecommendArgs, format: Format) -> Result<()> {
    let as_of = parse_as_of(args.as_of.as_deref())?;
    let options = RecommendOptions {
        k: args.k,
        exclude_seen: !args.include_seen,
        category: args.category.clone(),
        min_price: args.min_price,
        max_price: args.max_price,
        as_of,
    };
    let mut table = Table::new(&["item", "score", "reason"]);
    for r in db.recommend(&args.model, &args.user, &options)? {
        table.rows.push(vec![
            json!(r.item),
            json!(format!("{:.4}", r.score)),
            json!(r.reason.join(", ")),
        ]);
    }
    println!("{}", table.render_as(format));
    Ok(())
}

pub fn run_similar(db: &Database, args: &SimilarArgs, format: Format) -> Result<()> {
    let mut table = Table::new(&["item", "score"]);
    let found = match args.by.as_str() {
        "interactions" => db.similar_items(&args.model, &args.item, args.k)?,
        "vector" => db.similar_items_by_vector(&args.model, &args.item, args.k)?,
        other => return Err(anyhow!("--by {other:?}: expected interactions or vector")),
    };
    for s in found {
        table
            .rows
            .push(vec![json!(s.item), json!(format!("{:.4}", s.score))]);
    }
    println!("{}", table.render_as(format));
    Ok(())
}
