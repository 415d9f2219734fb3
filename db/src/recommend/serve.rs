//! Serving recommenders: the registry entries (`recommender/<name>/...`, versioned and
//! deployed like fraud models), and the queries. A query reads the shopper's interactions
//! live from the adjacency (up to `as_of`), so what they viewed a moment ago shapes the next
//! answer without retraining; the fitted model and the item catalogue are loaded once per
//! version and reloaded when items are added.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use argus_engine::{Error, NodeId, Result, Snapshot, Value};
use argus_extensions::ml::recommend::lookbook::{arrange, LookbookSettings};
use argus_extensions::ml::recommend::top_k;

use super::data::{Catalogue, InteractionTypes, ItemVectors};
use super::train::Parts;
use super::{Recommender, RecommenderVersion};
use crate::projection::id_space;
use crate::registry::{self, Shelf};
use crate::Database;

/// Largest `k` a query may ask for.
pub const MAX_K: usize = 10_000;

/// Options of [`Database::recommend`].
#[derive(Clone, Debug, PartialEq)]
pub struct RecommendOptions {
    /// How many items.
    pub k: usize,
    /// Leave out items the shopper already interacted with (default).
    pub exclude_seen: bool,
    /// Only items of this category.
    pub category: Option<String>,
    /// Only items priced at least this.
    pub min_price: Option<f64>,
    /// Only items priced at most this.
    pub max_price: Option<f64>,
    /// Read the shopper's history as of this time (microseconds); nothing later is read.
    pub as_of: Option<i64>,
}

impl Default for RecommendOptions {
    fn default() -> Self {
        RecommendOptions {
            k: 10,
            exclude_seen: true,
            category: None,
            min_price: None,
            max_price: None,
            as_of: None,
        }
    }
}

/// One recommended item.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recommendation {
    /// Item key.
    pub item: String,
    /// Score (comparable within one answer).
    pub score: f32,
    /// The shopper's items that led to it, strongest first (`popular` for an item that comes
    /// from the popularity fallback: unknown shopper, or nothing in the history points at it).
    pub reason: Vec<String>,
}

/// A lookbook: collections of recommendations.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Lookbook {
    /// The shopper.
    pub user: String,
    /// Collections, strongest theme first.
    pub collections: Vec<LookbookCollection>,
}

/// One collection of a lookbook.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LookbookCollection {
    /// Its title: the dominant category (and a second one most items share), or the item it
    /// grew from.
    pub title: String,
    /// Its items, in display order.
    pub items: Vec<LookbookItem>,
}

/// One item of a lookbook.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LookbookItem {
    /// Item key.
    pub item: String,
    /// Recommendation score.
    pub score: f32,
    /// Its categories.
    pub categories: Vec<String>,
    /// Its price, when the recommender knows prices.
    pub price: Option<f64>,
    /// Its display name (a `name` or `title` property), when it has one.
    pub name: Option<String>,
    /// Its picture (an `image_url` or `image` property), when it has one.
    pub image: Option<String>,
    /// The shopper's items that led to it.
    pub reason: Vec<String>,
}

/// The first of `names` that the node has as a non-empty string property.
fn text_property(props: &[(String, Value)], names: &[&str]) -> Option<String> {
    names.iter().find_map(|want| {
        props.iter().find_map(|(name, value)| match value {
            Value::String(s) if name == want && !s.is_empty() => Some(s.clone()),
            _ => None,
        })
    })
}

/// One similar item.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimilarItem {
    /// Item key.
    pub item: String,
    /// Similarity weight.
    pub score: f32,
}

/// A loaded recommender with the item catalogue it filters by.
pub struct LoadedRecommender {
    /// The registry entry.
    pub version: RecommenderVersion,
    types: InteractionTypes,
    catalogue: Catalogue,
    /// Item vectors, when the recommender names a vector property.
    vectors: Option<ItemVectors>,
    /// Items added after training, each with the trained item nearest to it by vector and
    /// their cosine: a new item is ranked as that item, scaled by the cosine.
    stand_ins: HashMap<u32, (u32, f32)>,
    /// Item id space when the catalogue was read.
    items_seen: usize,
}

/// Loaded recommenders by (name, version).
#[derive(Default)]
pub struct RecommenderCache {
    loaded: Mutex<HashMap<(String, u32), Arc<LoadedRecommender>>>,
}

impl LoadedRecommender {
    /// The item vectors, when the recommender names a vector property.
    pub fn vectors(&self) -> Option<&ItemVectors> {
        self.vectors.as_ref()
    }

    fn load(version: RecommenderVersion, snapshot: &Snapshot) -> Result<LoadedRecommender> {
        let types = InteractionTypes::resolve(snapshot, &version.model.interactions)?;
        let catalogue = Catalogue::read(
            snapshot,
            types.item_label,
            &version.model.category_properties,
            version.model.price_property.as_deref(),
        )?;
        let vectors = version
            .model
            .vector_property
            .as_deref()
            .map(|p| ItemVectors::read(snapshot, types.item_label, p))
            .transpose()?;
        let trained = version.model.popularity.len();
        let mut stand_ins = HashMap::new();
        if let Some(v) = &vectors {
            for item in trained..v.rows.len() {
                if let Some(&(nearest, cosine)) = v
                    .nearest(item as u32, 1, |j| (j as usize) < trained)
                    .first()
                {
                    stand_ins.insert(item as u32, (nearest, cosine));
                }
            }
        }
        Ok(LoadedRecommender {
            items_seen: id_space(snapshot, types.item_label)?,
            version,
            types,
            catalogue,
            vectors,
            stand_ins,
        })
    }

    fn item_key(&self, snapshot: &Snapshot, item: u32) -> Result<String> {
        snapshot
            .node_key(self.types.item_label, NodeId::from(item))?
            .ok_or_else(|| Error::Corrupt(format!("item id {item} has no key")))
    }
}

fn check_k(k: usize) -> Result<()> {
    if k == 0 || k > MAX_K {
        return Err(Error::InvalidArgument(format!(
            "k must be 1..={MAX_K}, got {k}"
        )));
    }
    Ok(())
}

/// Candidates a lookbook arranges: many times what it shows, so that when one category
/// dominates the top of the ranking the other themes still have items to choose from.
pub(crate) fn lookbook_pool(settings: &LookbookSettings) -> usize {
    (settings.collections * settings.per_collection * 40).max(500)
}

/// A ranked answer with what explains it.
struct Ranked {
    top: Vec<(u32, f32)>,
    query: Vec<(u32, f32)>,
    from_model: bool,
}

/// Rank items for `user` under `options` (filters, `as_of`), keeping the best `k`.
fn rank(
    loaded: &LoadedRecommender,
    snapshot: &Snapshot,
    name: &str,
    user: &str,
    options: &RecommendOptions,
    k: usize,
) -> Result<Ranked> {
    if let (Some(lo), Some(hi)) = (options.min_price, options.max_price) {
        if lo > hi {
            return Err(Error::InvalidArgument(format!(
                "price range is empty: min {lo} > max {hi}"
            )));
        }
    }
    let model = &loaded.version.model;
    let user_id = snapshot.node_id_in(loaded.types.user_label, user)?;
    let history = match user_id {
        Some(id) => loaded.types.history(snapshot, id, options.as_of)?,
        None => Vec::new(),
    };
    let user_index = user_id.and_then(|id| u32::try_from(id).ok());
    let items: Vec<u32> = history.iter().map(|&(i, _)| i).collect();
    let kinds: Vec<u8> = history.iter().map(|&(_, k)| k).collect();
    let query = model.config.query.query(&items, &kinds);
    let parts = model.parts();
    let mut scores = parts.item_scores(user_index, &query);
    // Items added after training rank through their nearest trained item by vector.
    scores.resize(
        loaded.catalogue.categories.len().max(scores.len()),
        f32::NAN,
    );
    for (&new, &(stand_in, cosine)) in &loaded.stand_ins {
        if cosine > 0.0 && (new as usize) < scores.len() {
            scores[new as usize] = scores[stand_in as usize] * cosine;
        }
    }
    let mut seen = items;
    seen.sort_unstable();
    seen.dedup();
    let category = options
        .category
        .as_deref()
        .map(|c| loaded.catalogue.category(c))
        .transpose()?;
    let price_filter = options.min_price.is_some() || options.max_price.is_some();
    if price_filter && loaded.catalogue.prices.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "recommender {name} was trained without a price property (--price PROP): it cannot filter by price"
        )));
    }
    let catalogue = &loaded.catalogue;
    let allowed = |i: u32| {
        let i_usize = i as usize;
        (!options.exclude_seen || seen.binary_search(&i).is_err())
            && category.is_none_or(|c| catalogue.categories[i_usize].binary_search(&c).is_ok())
            && (!price_filter || {
                let p = f64::from(catalogue.prices[i_usize]);
                !p.is_nan()
                    && options.min_price.is_none_or(|lo| p >= lo)
                    && options.max_price.is_none_or(|hi| p <= hi)
            })
    };
    Ok(Ranked {
        top: top_k(&scores, k, allowed),
        from_model: parts.has_signal(user_index, &query),
        query,
    })
}

impl Ranked {
    /// The shopper's items that contributed most to `item`'s score (`popular` when none did).
    fn reason(
        &self,
        loaded: &LoadedRecommender,
        snapshot: &Snapshot,
        item: u32,
    ) -> Result<Vec<String>> {
        if let Some(&(stand_in, _)) = loaded.stand_ins.get(&item) {
            return Ok(vec![format!(
                "new, like {}",
                loaded.item_key(snapshot, stand_in)?
            )]);
        }
        let parts = loaded.version.model.parts();
        let mut because: Vec<(f32, u32)> = if self.from_model {
            self.query
                .iter()
                .map(|&(i, w)| (parts.contribution(i, w, item), i))
                .filter(|&(c, _)| c > 0.0)
                .collect()
        } else {
            Vec::new()
        };
        because.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        // An item nothing in the history points at fills the list by popularity.
        if because.is_empty() {
            return Ok(vec!["popular".to_string()]);
        }
        because
            .into_iter()
            .take(3)
            .map(|(_, i)| loaded.item_key(snapshot, i))
            .collect()
    }
}

impl Recommender {
    pub(crate) fn parts(&self) -> Parts<'_> {
        Parts {
            family: self.config.family,
            popularity: &self.popularity,
            neighbors: self.neighbors.as_ref(),
            embeddings: self.embeddings.as_ref(),
        }
    }
}

impl Database {
    /// Store `version` as the next version of its name (see [`Database::register_model`]).
    pub fn register_recommender(&self, version: RecommenderVersion, deploy: bool) -> Result<u32> {
        let name = version.name.clone();
        registry::register(
            self,
            Shelf::Recommender,
            &name,
            version,
            |v, n| v.version = n,
            deploy,
        )
    }

    /// Version `version` of recommender `name`, or its deployed version.
    pub fn recommender(&self, name: &str, version: Option<u32>) -> Result<RecommenderVersion> {
        registry::load(self, Shelf::Recommender, name, version)
    }

    /// Every registered recommender version, with whether it is deployed.
    pub fn list_recommenders(&self) -> Result<Vec<(RecommenderVersion, bool)>> {
        Ok(
            registry::list(self, Shelf::Recommender, |v: &RecommenderVersion| &v.name)?
                .into_iter()
                .map(|(v, live)| {
                    let deployed = live == Some(v.version);
                    (v, deployed)
                })
                .collect(),
        )
    }

    /// The names of the registered recommenders, sorted (reads no model).
    pub fn recommender_names(&self) -> Result<Vec<String>> {
        registry::names(&self.snapshot(), Shelf::Recommender)
    }

    /// The recommender to use when none is named: the only registered one; an error naming
    /// the choices when there are several.
    pub fn default_recommender(&self) -> Result<String> {
        registry::only_name(
            self.recommender_names()?,
            "no recommender is registered: train one with `argus train recommender`",
            "recommenders",
        )
    }

    /// Make `version` the deployed version of recommender `name`.
    pub fn deploy_recommender(&self, name: &str, version: u32) -> Result<()> {
        registry::deploy(self, Shelf::Recommender, name, version)
    }

    /// Return recommender `name` to the version deployed before; returns it.
    pub fn rollback_recommender(&self, name: &str) -> Result<u32> {
        registry::rollback(self, Shelf::Recommender, name)
    }

    /// The loaded recommender `name` (deployed version unless `version`), from the cache
    /// unless items were added since it was loaded.
    pub fn loaded_recommender(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<Arc<LoadedRecommender>> {
        let snapshot = self.snapshot();
        let version = registry::resolve_version(&snapshot, Shelf::Recommender, name, version)?;
        let key = (name.to_string(), version);
        let cache = &self.scorers().recommenders.loaded;
        if let Some(loaded) = cache.lock().expect("recommender cache").get(&key) {
            if id_space(&snapshot, loaded.types.item_label)? == loaded.items_seen {
                return Ok(loaded.clone());
            }
        }
        let entry = self.recommender(name, Some(version))?;
        let loaded = Arc::new(LoadedRecommender::load(entry, &snapshot)?);
        cache
            .lock()
            .expect("recommender cache")
            .insert(key, loaded.clone());
        Ok(loaded)
    }

    /// The top `options.k` items for shopper `user` (a key of the recommender's shopper
    /// label) from recommender `name`'s deployed version. The shopper's newest interactions
    /// (up to `as_of`) make the query; an unknown shopper, or one with no interactions the
    /// model knows, gets the most popular items (reason `popular`).
    pub fn recommend(
        &self,
        name: &str,
        user: &str,
        options: &RecommendOptions,
    ) -> Result<Vec<Recommendation>> {
        check_k(options.k)?;
        let loaded = self.loaded_recommender(name, None)?;
        let snapshot = self.snapshot();
        let ranked = rank(&loaded, &snapshot, name, user, options, options.k)?;
        ranked
            .top
            .iter()
            .map(|&(item, score)| {
                Ok(Recommendation {
                    item: loaded.item_key(&snapshot, item)?,
                    score,
                    reason: ranked.reason(&loaded, &snapshot, item)?,
                })
            })
            .collect()
    }

    /// Shopper `user`'s lookbook from recommender `name`: their recommendations (as
    /// [`Database::recommend`] ranks them, seen items excluded, up to `as_of`) arranged into
    /// `settings.collections` collections of `settings.per_collection` items, themed by the
    /// recommender's item categories (or grown around the strongest items when it has none),
    /// diversified within each by maximal marginal relevance, no item twice.
    pub fn lookbook(
        &self,
        name: &str,
        user: &str,
        settings: &LookbookSettings,
        as_of: Option<i64>,
    ) -> Result<Lookbook> {
        if settings.collections == 0
            || settings.collections > 50
            || settings.per_collection == 0
            || settings.per_collection > 100
        {
            return Err(Error::InvalidArgument(format!(
                "a lookbook has 1..=50 collections of 1..=100 items, got {} of {}",
                settings.collections, settings.per_collection
            )));
        }
        if !(0.0..=1.0).contains(&settings.lambda) {
            return Err(Error::InvalidArgument(format!(
                "the diversity trade-off lambda must lie in [0, 1], got {}",
                settings.lambda
            )));
        }
        let loaded = self.loaded_recommender(name, None)?;
        let snapshot = self.snapshot();
        let options = RecommendOptions {
            as_of,
            ..RecommendOptions::default()
        };
        let pool = lookbook_pool(settings);
        let ranked = rank(&loaded, &snapshot, name, user, &options, pool)?;
        let parts = loaded.version.model.parts();
        let collections = arrange(
            &ranked.top,
            &loaded.catalogue.categories,
            &|a, b| parts.similarity(a, b),
            settings,
        );
        let catalogue = &loaded.catalogue;
        let mut out = Vec::with_capacity(collections.len());
        for c in collections {
            let title = match (c.theme, c.second_theme, c.seed) {
                (Some(t), Some(s), _) => format!(
                    "{} · {}",
                    catalogue.category_names[t as usize], catalogue.category_names[s as usize]
                ),
                (Some(t), None, _) => catalogue.category_names[t as usize].clone(),
                (None, _, Some(seed)) => format!("More like {}", loaded.item_key(&snapshot, seed)?),
                (None, _, None) => "For you".to_string(),
            };
            let mut items = Vec::with_capacity(c.items.len());
            for (item, score) in c.items {
                let props = snapshot
                    .node_by_id(loaded.types.item_label, NodeId::from(item))?
                    .map(|n| n.props)
                    .unwrap_or_default();
                items.push(LookbookItem {
                    name: text_property(&props, &["name", "title"]),
                    image: text_property(&props, &["image_url", "image"]),
                    item: loaded.item_key(&snapshot, item)?,
                    score,
                    categories: catalogue.categories[item as usize]
                        .iter()
                        .map(|&k| catalogue.category_names[k as usize].clone())
                        .collect(),
                    price: catalogue
                        .prices
                        .get(item as usize)
                        .filter(|p| !p.is_nan())
                        .map(|&p| f64::from(p)),
                    reason: ranked.reason(&loaded, &snapshot, item)?,
                });
            }
            out.push(LookbookCollection { title, items });
        }
        Ok(Lookbook {
            user: user.to_string(),
            collections: out,
        })
    }

    /// The `k` items most similar to `item` by what recommender `name` learned: its item-item
    /// weights (shoppers who had `item` went on to these) or, for LightGCN, the cosine of the
    /// item embeddings. A popularity recommender has neither.
    pub fn similar_items(&self, name: &str, item: &str, k: usize) -> Result<Vec<SimilarItem>> {
        self.similar(name, item, k, false)
    }

    /// The `k` items whose vectors (the recommender's `vector_property`, e.g. a style or image
    /// embedding) are nearest to `item`'s by cosine: an exact scan, so it answers for items
    /// nobody has interacted with yet.
    pub fn similar_items_by_vector(
        &self,
        name: &str,
        item: &str,
        k: usize,
    ) -> Result<Vec<SimilarItem>> {
        self.similar(name, item, k, true)
    }

    fn similar(
        &self,
        name: &str,
        item: &str,
        k: usize,
        by_vector: bool,
    ) -> Result<Vec<SimilarItem>> {
        check_k(k)?;
        let loaded = self.loaded_recommender(name, None)?;
        let snapshot = self.snapshot();
        let model = &loaded.version.model;
        let label = &model.item_label;
        let id = snapshot
            .node_id_in(loaded.types.item_label, item)?
            .ok_or_else(|| Error::NotFound(format!("no item {label}:{item}")))?;
        if by_vector {
            let Some(vectors) = &loaded.vectors else {
                return Err(Error::InvalidArgument(format!(
                    "recommender {name} was trained without a vector property (--vector PROP)"
                )));
            };
            if vectors.rows.get(id as usize).is_none_or(Option::is_none) {
                return Err(Error::InvalidArgument(format!(
                    "item {label}:{item} has no {}",
                    model.vector_property.as_deref().unwrap_or("vector")
                )));
            }
            return vectors
                .nearest(id as u32, k, |_| true)
                .into_iter()
                .map(|(j, score)| {
                    Ok(SimilarItem {
                        item: loaded.item_key(&snapshot, j)?,
                        score,
                    })
                })
                .collect();
        }
        let trained_items = model.popularity.len();
        if model.neighbors.is_none() && model.embeddings.is_none() {
            return Err(Error::InvalidArgument(format!(
                "recommender {name} is a {} model: it has no item similarities (train an item-item or lightgcn family)",
                model.config.family.name()
            )));
        }
        if id as usize >= trained_items {
            return Err(Error::NotFound(format!(
                "item {label}:{item} was added after recommender {name} was trained: it has no interaction similarities yet"
            )));
        }
        let id = id as u32;
        let mut scored: Vec<f32> = vec![f32::NAN; trained_items];
        if let Some(neighbors) = &model.neighbors {
            let (ids, weights) = neighbors.row(id);
            for (&j, &w) in ids.iter().zip(weights) {
                if w > 0.0 {
                    scored[j as usize] = w;
                }
            }
        } else if model.embeddings.is_some() {
            let parts = model.parts();
            for (j, s) in scored.iter_mut().enumerate() {
                if j != id as usize {
                    *s = parts.similarity(id, j as u32);
                }
            }
        }
        top_k(&scored, k, |_| true)
            .into_iter()
            .map(|(j, score)| {
                Ok(SimilarItem {
                    item: loaded.item_key(&snapshot, j)?,
                    score,
                })
            })
            .collect()
    }
}
