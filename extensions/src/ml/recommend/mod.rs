//! Recommendation math over an implicit-feedback interaction log: the log itself and the
//! temporal split ([`interactions`]), a shopper's query built from their newest interactions
//! ([`query`]), sparse item-item models (EASE closed form, co-interaction cosine with
//! shrinkage: [`item_item`]), graph collaborative filtering in the LightGCN family
//! ([`lightgcn`], on the ML core's `Backend`), lookbooks (collections diversified by maximal
//! marginal relevance: [`lookbook`]), top-k selection and the ranking metrics of the evaluation protocol
//! ([`ranking`]), and approximate nearest neighbours over item vectors ([`vector_index`]). Nothing here knows about storage: callers hand in dense user and item indexes.

pub mod interactions;
pub mod item_item;
pub mod lightgcn;
pub mod lookbook;
pub mod query;
pub mod ranking;
pub mod vector_index;

pub use interactions::{Event, Interactions};
pub use item_item::ItemNeighbors;
pub use query::QueryWeights;
pub use ranking::{top_k, RankingScores};
