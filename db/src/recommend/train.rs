//! Fitting recommenders: every candidate configuration is fitted on the earlier part of each
//! user's training interactions and ranked on the later part (the validation part, carved
//! from training exactly as the test part is carved from all interactions); the best by
//! NDCG@k is refitted on all training interactions. `eval recommend` wraps this in the
//! temporal protocol and reads the test part once per family.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use argus_engine::{Error, Result};
use argus_extensions::ml::backend::Backend;
use argus_extensions::ml::device::{Device, DeviceTask};
use argus_extensions::ml::recommend::lightgcn::{self, LightGcn, LightGcnSettings};
use argus_extensions::ml::recommend::lookbook::{arrange, flatten, LookbookSettings};
use argus_extensions::ml::recommend::{
    top_k, Interactions, ItemNeighbors, QueryWeights, RankingScores,
};

use super::data::{Catalogue, InteractionTypes};
use super::{Candidate, Config, Family, Recommender, RecommenderTrainedOn, RecommenderVersion};
use crate::Database;

/// Settings of `train recommender` and `eval recommend`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecommenderSpec {
    /// Interaction edge types (shopper → item), in kind order.
    pub interactions: Vec<String>,
    /// Weight of each interaction type in a shopper's query (missing ones weigh 1).
    pub kind_weights: Vec<f32>,
    /// Families to try.
    pub families: Vec<Family>,
    /// EASE λ values to try.
    pub ease_lambdas: Vec<f64>,
    /// Cosine shrinkage values to try.
    pub cosine_shrinks: Vec<f64>,
    /// Query half-lives to try, in interactions (0: no decay).
    pub half_lives: Vec<f32>,
    /// Item-item weights kept per item.
    pub keep: usize,
    /// Newest interactions a query reads.
    pub history: usize,
    /// Cut-off of the ranking metrics.
    pub k: usize,
    /// Share of each user's interactions (earliest first) in the earlier part of a temporal
    /// split: train vs test, and inside train, fit vs validation.
    pub train_fraction: f64,
    /// Item properties giving categories.
    pub category_properties: Vec<String>,
    /// Item property giving the price.
    pub price_property: Option<String>,
    /// Item `vector(N)` property for similar-by-vector and new items.
    #[serde(default)]
    pub vector_property: Option<String>,
    /// LightGCN settings; its `epochs` is the most it trains, the count is chosen on
    /// validation.
    pub lightgcn: LightGcnSettings,
    /// LightGCN stops after this many validation checks (every 5 epochs) without a better
    /// NDCG.
    pub lightgcn_patience: usize,
}

/// Epochs between LightGCN's validation checks.
const LIGHTGCN_CHECK_EVERY: usize = 5;

impl Default for RecommenderSpec {
    fn default() -> Self {
        RecommenderSpec {
            interactions: Vec::new(),
            kind_weights: Vec::new(),
            families: vec![
                Family::Popularity,
                Family::Ease,
                Family::Cosine,
                Family::LightGcn,
            ],
            ease_lambdas: vec![100.0, 200.0, 400.0, 800.0, 1600.0],
            cosine_shrinks: vec![10.0, 100.0],
            half_lives: vec![0.0, 20.0, 10.0, 5.0, 3.0],
            keep: 200,
            history: 200,
            k: 20,
            train_fraction: 0.8,
            category_properties: Vec::new(),
            price_property: None,
            vector_property: None,
            lightgcn: LightGcnSettings::default(),
            lightgcn_patience: 3,
        }
    }
}

impl RecommenderSpec {
    fn check(&self, item_count: usize) -> Result<()> {
        let bad = |what: String| Err(Error::InvalidArgument(what));
        if self.families.is_empty() {
            return bad("no recommender family to try".into());
        }
        if self.k == 0 || self.k > 1000 {
            return bad(format!("k must be 1..=1000, got {}", self.k));
        }
        if self.keep == 0 || self.history == 0 {
            return bad("keep and history must be positive".into());
        }
        if self.families.contains(&Family::LightGcn)
            && (self.lightgcn.dim == 0
                || self.lightgcn.dim > 1024
                || self.lightgcn.epochs == 0
                || self.lightgcn.batch == 0
                || !(self.lightgcn.lr > 0.0 && self.lightgcn.lr.is_finite()))
        {
            return bad(format!(
                "LightGCN needs 1..=1024 dimensions, epochs > 0, batch > 0 and a positive learning rate, got {:?}",
                self.lightgcn
            ));
        }
        if !(self.train_fraction > 0.0 && self.train_fraction < 1.0) {
            return bad(format!(
                "train fraction must lie in (0, 1), got {}",
                self.train_fraction
            ));
        }
        let finite_non_negative = |v: f64| v.is_finite() && v >= 0.0;
        if self.half_lives.is_empty()
            || !self
                .half_lives
                .iter()
                .all(|&h| finite_non_negative(h.into()))
        {
            return bad(format!(
                "half-lives must be finite and ≥ 0 (0: no decay), got {:?}",
                self.half_lives
            ));
        }
        if !self
            .kind_weights
            .iter()
            .all(|&w| finite_non_negative(w.into()))
        {
            return bad(format!(
                "interaction weights must be ≥ 0, got {:?}",
                self.kind_weights
            ));
        }
        for (family, values) in [
            (Family::Ease, &self.ease_lambdas),
            (Family::Cosine, &self.cosine_shrinks),
        ] {
            if self.families.contains(&family)
                && (values.is_empty() || !values.iter().all(|&v| finite_non_negative(v)))
            {
                return bad(format!(
                    "{} needs values ≥ 0 to try, got {values:?}",
                    family.name()
                ));
            }
        }
        if self.families.contains(&Family::Ease) && self.ease_lambdas.contains(&0.0) {
            return bad("EASE needs λ > 0".into());
        }
        if self.families == [Family::Ease]
            && item_count > argus_extensions::ml::recommend::item_item::EASE_MAX_ITEMS
        {
            return bad(format!(
                "EASE is dense in the catalogue and {item_count} items is over its limit of {}: add --families cosine",
                argus_extensions::ml::recommend::item_item::EASE_MAX_ITEMS
            ));
        }
        Ok(())
    }

    fn query(&self, half_life: f32) -> QueryWeights {
        QueryWeights {
            history: self.history,
            half_life,
            kind_weights: self.kind_weights.clone(),
        }
    }

    /// Every configuration to try, grouped by fit (configurations of one fit differ only in
    /// their query weights). EASE is skipped where the catalogue is too large for it.
    fn fits(&self, item_count: usize) -> Vec<Vec<Config>> {
        let mut out = Vec::new();
        for &family in &self.families {
            let strengths: &[f64] = match family {
                Family::Popularity => &[0.0],
                Family::Ease => {
                    if item_count > argus_extensions::ml::recommend::item_item::EASE_MAX_ITEMS {
                        continue;
                    }
                    &self.ease_lambdas
                }
                Family::Cosine => &self.cosine_shrinks,
                Family::LightGcn => &[],
            };
            // LightGCN's configurations come from its validation checks (see `select`).
            let strengths = if family == Family::LightGcn {
                &[]
            } else {
                strengths
            };
            for &strength in strengths {
                let half_lives: &[f32] = if family == Family::Popularity {
                    &[0.0]
                } else {
                    &self.half_lives
                };
                out.push(
                    half_lives
                        .iter()
                        .map(|&h| Config {
                            family,
                            strength,
                            query: self.query(h),
                        })
                        .collect(),
                );
            }
        }
        out
    }
}

/// The fitted parts of a configuration.
pub(crate) struct Fitted {
    pub popularity: Vec<f32>,
    pub neighbors: Option<ItemNeighbors>,
    pub embeddings: Option<LightGcn>,
}

/// Runs LightGCN training on the chosen device.
struct LightGcnRun<'a, F> {
    train: &'a Interactions,
    settings: &'a LightGcnSettings,
    report_every: usize,
    after_epoch: F,
}

impl<F: FnMut(usize, f32, &LightGcn) -> bool> DeviceTask for LightGcnRun<'_, F> {
    type Output = LightGcn;

    fn run<B: Backend>(self, backend: &B) -> LightGcn {
        lightgcn::train(
            backend,
            self.train,
            self.settings,
            self.report_every,
            self.after_epoch,
        )
    }
}

fn popularity_of(train: &Interactions) -> Vec<f32> {
    train
        .item_user_counts()
        .into_iter()
        .map(|c| c as f32)
        .collect()
}

fn fit(
    config: &Config,
    train: &Interactions,
    spec: &RecommenderSpec,
    device: &Device,
) -> Result<Fitted> {
    let mut fitted = Fitted {
        popularity: popularity_of(train),
        neighbors: None,
        embeddings: None,
    };
    match config.family {
        Family::Popularity => {}
        Family::Ease => {
            fitted.neighbors = Some(
                ItemNeighbors::ease(train, config.strength, spec.keep)
                    .map_err(Error::InvalidArgument)?,
            )
        }
        Family::Cosine => {
            fitted.neighbors = Some(ItemNeighbors::cosine(
                train,
                config.strength as f32,
                spec.keep,
            ))
        }
        Family::LightGcn => {
            let epochs = config.strength as usize;
            let settings = LightGcnSettings {
                epochs,
                ..spec.lightgcn.clone()
            };
            fitted.embeddings = Some(device.run(LightGcnRun {
                train,
                settings: &settings,
                report_every: epochs,
                after_epoch: |_, _, _: &LightGcn| true,
            }));
        }
    }
    Ok(fitted)
}

/// A fitted model's parts, borrowed: what scoring needs, in evaluation and in serving alike.
#[derive(Clone, Copy)]
pub(crate) struct Parts<'a> {
    pub family: Family,
    pub popularity: &'a [f32],
    pub neighbors: Option<&'a ItemNeighbors>,
    pub embeddings: Option<&'a LightGcn>,
}

impl Fitted {
    fn parts(&self, family: Family) -> Parts<'_> {
        Parts {
            family,
            popularity: &self.popularity,
            neighbors: self.neighbors.as_ref(),
            embeddings: self.embeddings.as_ref(),
        }
    }
}

impl Parts<'_> {
    /// The LightGCN query vector: the user's trained embedding (when the user was known at
    /// training) plus the weighted mean of the query items' embeddings.
    fn embedding_query(&self, user: Option<u32>, query: &[(u32, f32)]) -> Option<Vec<f32>> {
        let e = self.embeddings?;
        let mut q = vec![0f32; e.items.cols];
        let mut any = false;
        if let Some(u) = user.filter(|&u| (u as usize) < e.users.rows) {
            for (o, v) in q.iter_mut().zip(e.users.row(u as usize)) {
                *o += v;
            }
            any = true;
        }
        let known: Vec<(u32, f32)> = query
            .iter()
            .copied()
            .filter(|&(i, w)| (i as usize) < e.items.rows && w > 0.0)
            .collect();
        let total: f32 = known.iter().map(|&(_, w)| w).sum();
        for &(i, w) in &known {
            for (o, v) in q.iter_mut().zip(e.items.row(i as usize)) {
                *o += w / total * v;
            }
            any = true;
        }
        any.then_some(q)
    }

    /// Whether the model (not the popularity fallback) ranks for this shopper.
    pub fn has_signal(&self, user: Option<u32>, query: &[(u32, f32)]) -> bool {
        match self.family {
            Family::Popularity => false,
            Family::LightGcn => self.embeddings.is_some_and(|e| {
                user.is_some_and(|u| (u as usize) < e.users.rows)
                    || query
                        .iter()
                        .any(|&(i, w)| w > 0.0 && (i as usize) < e.items.rows)
            }),
            Family::Ease | Family::Cosine => self.neighbors.is_some_and(|b| {
                query
                    .iter()
                    .any(|&(i, w)| w > 0.0 && (i as usize) < b.item_count && !b.row(i).0.is_empty())
            }),
        }
    }

    /// Scores of every item for shopper `user` (their index at training, if any) with
    /// `query`: the model's, with popularity as a tie-breaker small enough never to reorder
    /// items the model tells apart, and as the whole answer when the model has nothing to go
    /// on (cold start).
    pub fn item_scores(&self, user: Option<u32>, query: &[(u32, f32)]) -> Vec<f32> {
        let top = self.popularity.iter().copied().fold(1.0f32, f32::max);
        let mut scores: Vec<f32> = self.popularity.iter().map(|&p| p / top).collect();
        if !self.has_signal(user, query) {
            return scores;
        }
        for s in &mut scores {
            *s *= 1e-6;
        }
        match self.family {
            Family::Popularity => {}
            Family::LightGcn => {
                let (Some(e), Some(q)) = (self.embeddings, self.embedding_query(user, query))
                else {
                    return scores;
                };
                for (s, model) in scores.iter_mut().zip(e.item_scores(&q)) {
                    *s += model;
                }
            }
            Family::Ease | Family::Cosine => {
                if let Some(b) = self.neighbors {
                    let known: Vec<(u32, f32)> = query
                        .iter()
                        .copied()
                        .filter(|&(i, _)| (i as usize) < b.item_count)
                        .collect();
                    b.score_into(&known, &mut scores);
                }
            }
        }
        scores
    }

    /// How alike two items are by what the model learned, in `[0, 1]`: the item-item weight
    /// relative to the strongest of `a`'s row, or the cosine of the embeddings (0 for
    /// popularity).
    pub fn similarity(&self, a: u32, b: u32) -> f32 {
        if let Some(nb) = self.neighbors {
            if (a as usize) >= nb.item_count {
                return 0.0;
            }
            let strongest = nb.row(a).1.iter().copied().fold(0.0f32, f32::max);
            return if strongest > 0.0 {
                (nb.weight(a, b) / strongest).clamp(0.0, 1.0)
            } else {
                0.0
            };
        }
        if let Some(e) = self.embeddings {
            if (a as usize) >= e.items.rows || (b as usize) >= e.items.rows {
                return 0.0;
            }
            let (x, y) = (e.items.row(a as usize), e.items.row(b as usize));
            let dot: f32 = x.iter().zip(y).map(|(p, q)| p * q).sum();
            let norm = |r: &[f32]| r.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            return (dot / (norm(x) * norm(y))).clamp(0.0, 1.0);
        }
        0.0
    }

    /// How much query item `from` (with weight `w`) added to item `to`'s score.
    pub fn contribution(&self, from: u32, w: f32, to: u32) -> f32 {
        match self.family {
            Family::Popularity => 0.0,
            Family::Ease | Family::Cosine => self
                .neighbors
                .filter(|b| (from as usize) < b.item_count)
                .map_or(0.0, |b| w * b.weight(from, to)),
            Family::LightGcn => self.embeddings.map_or(0.0, |e| {
                if (from as usize) >= e.items.rows || (to as usize) >= e.items.rows {
                    return 0.0;
                }
                let dot: f32 = e
                    .items
                    .row(from as usize)
                    .iter()
                    .zip(e.items.row(to as usize))
                    .map(|(a, b)| a * b)
                    .sum();
                w * dot
            }),
        }
    }
}

/// Rank for every user with held-out items and score against them; with `lookbook`, the
/// list is the lookbook's items in page order instead of the plain ranking.
fn evaluate(
    config: &Config,
    fitted: &Fitted,
    known: &Interactions,
    held_out: &Interactions,
    k: usize,
    categories: Option<&[Vec<u32>]>,
    lookbook: Option<&LookbookSettings>,
) -> RankingScores {
    let users = known.user_count;
    let parts = fitted.parts(config.family);
    let (lists, relevant): (Vec<Vec<u32>>, Vec<Vec<u32>>) = (0..users)
        .into_par_iter()
        .map(|u| {
            let seen = known.distinct_items_of(u);
            let relevant: Vec<u32> = held_out
                .distinct_items_of(u)
                .into_iter()
                .filter(|i| seen.binary_search(i).is_err())
                .collect();
            if relevant.is_empty() {
                return (Vec::new(), relevant);
            }
            let query = config.query.query(known.items_of(u), known.kinds_of(u));
            let scores = parts.item_scores(Some(u as u32), &query);
            let unseen = |i: u32| seen.binary_search(&i).is_err();
            let list = match lookbook {
                None => top_k(&scores, k, unseen)
                    .into_iter()
                    .map(|(i, _)| i)
                    .collect(),
                Some(settings) => {
                    let pool = top_k(&scores, super::serve::lookbook_pool(settings), unseen);
                    let book = arrange(
                        &pool,
                        categories.unwrap_or(&[]),
                        &|a, b| parts.similarity(a, b),
                        settings,
                    );
                    flatten(&book)
                }
            };
            (list, relevant)
        })
        .unzip();
    RankingScores::of(&lists, &relevant, k, known.item_count, categories)
}

/// Progress of training or evaluation.
pub enum RecommendProgress<'a> {
    /// A configuration was scored on validation (`done` of `total`).
    Candidate {
        /// The configuration.
        config: &'a Config,
        /// Its validation metrics.
        scores: &'a RankingScores,
        /// Configurations scored so far.
        done: usize,
        /// All configurations.
        total: usize,
    },
    /// The picked configuration is being refitted on all training interactions.
    Refit(&'a Config),
}

/// Try every configuration of `spec` on validation (carved from `train`); best first.
fn select(
    train: &Interactions,
    spec: &RecommenderSpec,
    categories: Option<&[Vec<u32>]>,
    device: &Device,
    progress: &mut dyn FnMut(RecommendProgress<'_>),
) -> Result<Vec<Candidate>> {
    let (fit_part, validation) = train.temporal_split(spec.train_fraction);
    let fits = spec.fits(train.item_count);
    let lightgcn_checks = if spec.families.contains(&Family::LightGcn) {
        spec.lightgcn.epochs.div_ceil(LIGHTGCN_CHECK_EVERY) * spec.half_lives.len()
    } else {
        0
    };
    let total: usize = fits.iter().map(Vec::len).sum::<usize>() + lightgcn_checks;
    let mut out: Vec<Candidate> = Vec::new();
    let mut record = |config: Config, fitted: &Fitted, out: &mut Vec<Candidate>| {
        let scores = evaluate(
            &config,
            fitted,
            &fit_part,
            &validation,
            spec.k,
            categories,
            None,
        );
        out.push(Candidate {
            config,
            validation: scores,
        });
        let last = out.last().expect("just pushed");
        progress(RecommendProgress::Candidate {
            config: &last.config,
            scores: &last.validation,
            done: out.len(),
            total,
        });
        last.validation.ndcg
    };
    for configs in fits {
        let fitted = fit(&configs[0], &fit_part, spec, device)?;
        for config in configs {
            record(config, &fitted, &mut out);
        }
    }
    if spec.families.contains(&Family::LightGcn) {
        // Every few epochs each half-life is scored on validation; the epoch count is chosen
        // like any other hyperparameter, and training stops once it stops improving.
        let popularity = popularity_of(&fit_part);
        let mut best = f64::NEG_INFINITY;
        let mut checks_since_best = 0;
        device.run(LightGcnRun {
            train: &fit_part,
            settings: &spec.lightgcn,
            report_every: LIGHTGCN_CHECK_EVERY,
            after_epoch: |epoch: usize, _loss: f32, model: &LightGcn| {
                let fitted = Fitted {
                    popularity: popularity.clone(),
                    neighbors: None,
                    embeddings: Some(model.clone()),
                };
                let mut improved = false;
                for &h in &spec.half_lives {
                    let config = Config {
                        family: Family::LightGcn,
                        strength: epoch as f64,
                        query: spec.query(h),
                    };
                    let ndcg = record(config, &fitted, &mut out);
                    if ndcg > best {
                        best = ndcg;
                        improved = true;
                    }
                }
                checks_since_best = if improved { 0 } else { checks_since_best + 1 };
                checks_since_best < spec.lightgcn_patience.max(1)
            },
        });
    }
    if out.is_empty() {
        return Err(Error::InvalidArgument(
            "no configuration to try (EASE alone on a catalogue over its limit?)".into(),
        ));
    }
    // Best NDCG first; a NaN (no validation users) never wins.
    out.sort_by(|a, b| {
        let key = |c: &Candidate| {
            if c.validation.ndcg.is_nan() {
                f64::NEG_INFINITY
            } else {
                c.validation.ndcg
            }
        };
        key(b).total_cmp(&key(a))
    });
    Ok(out)
}

/// One family's row of `eval recommend`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FamilyResult {
    /// The family's configuration picked on validation.
    pub config: Config,
    /// Its validation metrics.
    pub validation: RankingScores,
    /// Its test metrics after the refit on all training interactions.
    pub test: RankingScores,
    /// Seconds the refit took.
    pub fit_seconds: f64,
}

/// What `eval recommend` reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecommendEval {
    /// Interactions, users (with any) and items.
    pub trained_on: RecommenderTrainedOn,
    /// Users ranked on test.
    pub test_users: usize,
    /// Every configuration tried, best first.
    pub candidates: Vec<Candidate>,
    /// The best configuration of each family, refitted and read on test once.
    pub families: Vec<FamilyResult>,
    /// The family picked on validation.
    pub picked: Family,
    /// Seconds spent fitting and scoring every configuration on validation.
    pub selection_seconds: f64,
    /// The picked family's test metrics when its ranking is arranged into a lookbook of these
    /// settings (items in page order, cut at k): what diversification costs.
    pub lookbook: Option<(LookbookSettings, RankingScores)>,
}

fn trained_on(log: &Interactions) -> RecommenderTrainedOn {
    let newest = (0..log.user_count)
        .filter_map(|u| log.times_of(u).last().copied())
        .filter(|&t| t != i64::MIN)
        .max();
    RecommenderTrainedOn {
        interactions: log.len(),
        users: (0..log.user_count)
            .filter(|&u| !log.items_of(u).is_empty())
            .count(),
        items: log.item_count,
        newest,
    }
}

impl Database {
    /// The evaluation protocol: per user, the earliest `train_fraction` of interactions
    /// (by time, then item) train and the rest test; each family's configuration is chosen
    /// on validation carved from training the same way, refitted on all of training and read
    /// on test once.
    pub fn evaluate_recommenders(
        &self,
        spec: &RecommenderSpec,
        progress: &mut dyn FnMut(RecommendProgress<'_>),
    ) -> Result<RecommendEval> {
        let snapshot = self.snapshot();
        let types = InteractionTypes::resolve(&snapshot, &spec.interactions)?;
        let catalogue =
            Catalogue::read(&snapshot, types.item_label, &spec.category_properties, None)?;
        let log = types.log(&snapshot)?;
        spec.check(log.item_count)?;
        let categories =
            (!spec.category_properties.is_empty()).then_some(&catalogue.categories[..]);
        let (train, test) = log.temporal_split(spec.train_fraction);
        let device = self.device()?;
        let started = std::time::Instant::now();
        let candidates = select(&train, spec, categories, &device, progress)?;
        let selection_seconds = started.elapsed().as_secs_f64();
        let mut families = Vec::new();
        let mut lookbook = None;
        for &family in &spec.families {
            let Some(best) = candidates.iter().find(|c| c.config.family == family) else {
                continue;
            };
            progress(RecommendProgress::Refit(&best.config));
            let started = std::time::Instant::now();
            let fitted = fit(&best.config, &train, spec, &device)?;
            let fit_seconds = started.elapsed().as_secs_f64();
            let test_scores = evaluate(
                &best.config,
                &fitted,
                &train,
                &test,
                spec.k,
                categories,
                None,
            );
            if family == candidates[0].config.family {
                // What arranging the picked family's ranking into a lookbook costs.
                let settings = LookbookSettings {
                    collections: 4,
                    per_collection: spec.k.div_ceil(4),
                    ..LookbookSettings::default()
                };
                lookbook = Some((
                    settings.clone(),
                    evaluate(
                        &best.config,
                        &fitted,
                        &train,
                        &test,
                        spec.k,
                        categories,
                        Some(&settings),
                    ),
                ));
            }
            let test = test_scores;
            families.push(FamilyResult {
                config: best.config.clone(),
                validation: best.validation.clone(),
                test,
                fit_seconds,
            });
        }
        let test_users = families.first().map_or(0, |f| f.test.users);
        Ok(RecommendEval {
            trained_on: trained_on(&log),
            test_users,
            picked: candidates[0].config.family,
            candidates,
            families,
            selection_seconds,
            lookbook,
        })
    }

    /// Train a recommender on every interaction (configuration chosen on validation carved
    /// from each user's newest interactions, then refitted on all) and register it under
    /// `name`; deployed when it is the first version or `deploy`.
    pub fn train_recommender(
        &self,
        name: &str,
        spec: &RecommenderSpec,
        deploy: bool,
        progress: &mut dyn FnMut(RecommendProgress<'_>),
    ) -> Result<RecommenderVersion> {
        let snapshot = self.snapshot();
        let types = InteractionTypes::resolve(&snapshot, &spec.interactions)?;
        let catalogue = Catalogue::read(
            &snapshot,
            types.item_label,
            &spec.category_properties,
            spec.price_property.as_deref(),
        )?;
        if let Some(p) = &spec.vector_property {
            // Refuse a wrong property now rather than at the first query.
            super::data::ItemVectors::read(&snapshot, types.item_label, p)?;
        }
        let log = types.log(&snapshot)?;
        spec.check(log.item_count)?;
        if log.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "no interactions of {} to train on",
                spec.interactions.join(", ")
            )));
        }
        let categories =
            (!spec.category_properties.is_empty()).then_some(&catalogue.categories[..]);
        let device = self.device()?;
        let candidates = select(&log, spec, categories, &device, progress)?;
        let config = candidates[0].config.clone();
        progress(RecommendProgress::Refit(&config));
        let fitted = fit(&config, &log, spec, &device)?;
        let mut version = RecommenderVersion {
            name: name.to_string(),
            version: 0,
            created_at: crate::train::now_micros(),
            spec: spec.clone(),
            candidates,
            trained_on: trained_on(&log),
            model: Recommender {
                config,
                user_label: types.user_label_name(&snapshot)?,
                item_label: types.item_label_name(&snapshot)?,
                interactions: spec.interactions.clone(),
                category_properties: spec.category_properties.clone(),
                price_property: spec.price_property.clone(),
                vector_property: spec.vector_property.clone(),
                popularity: fitted.popularity,
                neighbors: fitted.neighbors,
                embeddings: fitted.embeddings,
            },
        };
        version.version = self.register_recommender(version.clone(), deploy)?;
        Ok(version)
    }
}
