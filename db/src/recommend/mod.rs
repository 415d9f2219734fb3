//! Personalisation: recommenders trained on the shopping graph's interaction edges, kept in
//! the model registry beside the fraud models, and served from the shopper's live history.
//!
//! - [`data`]: the interaction log and the item catalogue, read from the store.
//! - [`train`]: the candidate families (popularity, EASE and cosine item-item, LightGCN), model
//!   selection on a validation part carved from each user's training interactions, the refit,
//!   and `eval recommend`'s temporal protocol.
//! - [`serve`]: `recommend` (with reasons, filters, `as_of`), `lookbook` and `similar_items`.
//!
//! The math (interaction log, query weights, item-item fits, ranking metrics) lives in
//! `argus_extensions::ml::recommend`, beside the fraud models' ML core.

pub mod data;
pub mod serve;
pub mod train;

use serde::{Deserialize, Serialize};

use argus_extensions::ml::recommend::lightgcn::LightGcn;
use argus_extensions::ml::recommend::{ItemNeighbors, QueryWeights, RankingScores};

pub use argus_extensions::ml::recommend::lookbook::LookbookSettings;
pub use serve::{
    Lookbook, LookbookCollection, LookbookItem, RecommendOptions, Recommendation, SimilarItem,
};
pub use train::{RecommendEval, RecommenderSpec};

/// A recommender family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Most-interacted items first: the baseline, and the answer for unknown shoppers.
    Popularity,
    /// EASE item-item weights in closed form.
    Ease,
    /// Co-interaction cosine with shrinkage.
    Cosine,
    /// LightGCN embeddings trained with BPR.
    #[serde(rename = "lightgcn")]
    LightGcn,
}

impl Family {
    /// Parse `popularity`, `ease` or `cosine`.
    pub fn parse(s: &str) -> Option<Family> {
        match s {
            "popularity" => Some(Family::Popularity),
            "ease" => Some(Family::Ease),
            "cosine" => Some(Family::Cosine),
            "lightgcn" => Some(Family::LightGcn),
            _ => None,
        }
    }

    /// Its name, as parsed.
    pub fn name(self) -> &'static str {
        match self {
            Family::Popularity => "popularity",
            Family::Ease => "ease",
            Family::Cosine => "cosine",
            Family::LightGcn => "lightgcn",
        }
    }
}

/// One fitted configuration: family, its hyperparameter and the query weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Family.
    pub family: Family,
    /// EASE's λ, the cosine's shrinkage or LightGCN's epochs (unused for popularity).
    pub strength: f64,
    /// How a history becomes a query.
    pub query: QueryWeights,
}

impl Config {
    /// A short description: `ease λ=400 half-life=20`.
    pub fn describe(&self) -> String {
        let half_life = if self.query.half_life > 0.0 {
            format!(" half-life={}", self.query.half_life)
        } else {
            String::new()
        };
        match self.family {
            Family::Popularity => "popularity".to_string(),
            Family::Ease => format!("ease λ={}{half_life}", self.strength),
            Family::Cosine => format!("cosine shrink={}{half_life}", self.strength),
            Family::LightGcn => format!("lightgcn epochs={}{half_life}", self.strength),
        }
    }
}

/// A fitted recommender.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recommender {
    /// What was fitted.
    pub config: Config,
    /// Shopper label.
    pub user_label: String,
    /// Item label.
    pub item_label: String,
    /// Interaction edge types, in kind order.
    pub interactions: Vec<String>,
    /// Item properties giving categories (for filters, diversity, lookbooks).
    pub category_properties: Vec<String>,
    /// Item property giving the price, for price filters.
    pub price_property: Option<String>,
    /// Item `vector(N)` property (style or image embedding): similar items by vector, and
    /// items added after training recommended through their nearest trained item.
    #[serde(default)]
    pub vector_property: Option<String>,
    /// Distinct shoppers per item in the training data.
    pub popularity: Vec<f32>,
    /// Item-item weights (item-item families).
    #[serde(with = "stored_neighbors")]
    pub neighbors: Option<ItemNeighbors>,
    /// User and item embeddings (LightGCN).
    #[serde(with = "stored_embeddings", default)]
    pub embeddings: Option<LightGcn>,
}

/// Embeddings in the registry, packed.
mod stored_embeddings {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use argus_extensions::ml::matrix::Matrix;
    use argus_extensions::ml::recommend::lightgcn::LightGcn;

    #[derive(Serialize, Deserialize)]
    struct Stored {
        dim: usize,
        #[serde(with = "crate::packed::f32s")]
        users: Vec<f32>,
        #[serde(with = "crate::packed::f32s")]
        items: Vec<f32>,
    }

    pub fn serialize<S: Serializer>(value: &Option<LightGcn>, s: S) -> Result<S::Ok, S::Error> {
        value
            .as_ref()
            .map(|m| Stored {
                dim: m.items.cols,
                users: m.users.data.clone(),
                items: m.items.data.clone(),
            })
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<LightGcn>, D::Error> {
        let Some(s) = Option::<Stored>::deserialize(d)? else {
            return Ok(None);
        };
        if s.dim == 0 || s.users.len() % s.dim != 0 || s.items.len() % s.dim != 0 {
            return Err(serde::de::Error::custom(format!(
                "embeddings of width {} do not fit {} user and {} item values",
                s.dim,
                s.users.len(),
                s.items.len()
            )));
        }
        Ok(Some(LightGcn {
            users: Matrix::from_vec(s.users.len() / s.dim, s.dim, s.users),
            items: Matrix::from_vec(s.items.len() / s.dim, s.dim, s.items),
        }))
    }
}

/// Item-item weights in the registry: the arrays packed (a 100,000-item catalogue keeps
/// millions of weights).
mod stored_neighbors {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use argus_extensions::ml::recommend::ItemNeighbors;

    #[derive(Serialize, Deserialize)]
    struct Stored {
        item_count: usize,
        #[serde(with = "crate::packed::u32s")]
        offsets: Vec<u32>,
        #[serde(with = "crate::packed::u32s")]
        neighbors: Vec<u32>,
        #[serde(with = "crate::packed::f32s")]
        weights: Vec<f32>,
    }

    pub fn serialize<S: Serializer>(
        value: &Option<ItemNeighbors>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        value
            .as_ref()
            .map(|b| {
                let (offsets, neighbors, weights) = b.parts();
                Stored {
                    item_count: b.item_count,
                    offsets: offsets.to_vec(),
                    neighbors: neighbors.to_vec(),
                    weights: weights.to_vec(),
                }
            })
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ItemNeighbors>, D::Error> {
        Option::<Stored>::deserialize(d)?
            .map(|s| ItemNeighbors::from_parts(s.item_count, s.offsets, s.neighbors, s.weights))
            .transpose()
            .map_err(serde::de::Error::custom)
    }
}

/// How a candidate configuration did on validation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The configuration.
    pub config: Config,
    /// Its validation metrics.
    pub validation: RankingScores,
}

/// What a version was trained on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecommenderTrainedOn {
    /// Interactions read.
    pub interactions: usize,
    /// Shoppers with at least one.
    pub users: usize,
    /// Items in the catalogue (id space).
    pub items: usize,
    /// Newest interaction time (microseconds), if any is timed.
    pub newest: Option<i64>,
}

/// One registered recommender version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecommenderVersion {
    /// Name.
    pub name: String,
    /// Version, from 1.
    pub version: u32,
    /// Creation time (microseconds since the epoch).
    pub created_at: i64,
    /// Training settings.
    pub spec: RecommenderSpec,
    /// Every configuration tried, with its validation metrics (the kept one first).
    pub candidates: Vec<Candidate>,
    /// Training data.
    pub trained_on: RecommenderTrainedOn,
    /// The model.
    pub model: Recommender,
}
