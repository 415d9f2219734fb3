//! The personalisation functions of schema `argus`: recommendations, similar items and
//! lookbooks from a recommender in the store's registry. Like the fraud functions, each is a
//! thin call of the `Database` API; the signatures with defaults are in `sql/functions.sql`.

use pgrx::prelude::*;

use argus_db::recommend::{LookbookSettings, RecommendOptions};

use crate::{database, name_or_default, or_error, DEFAULT_RECOMMENDER};

/// The recommender to use: the argument, else `argus.default_recommender`, else the only
/// registered one.
fn recommender_name(db: &argus_db::Database, model: Option<&str>) -> String {
    name_or_default(model, &DEFAULT_RECOMMENDER, || db.default_recommender())
}

/// A count argument as a `usize`, or an ERROR naming it (the API checks the upper bound).
fn count(what: &str, n: Option<i32>) -> usize {
    match n {
        None => error!("argus: {what} must not be NULL"),
        Some(n) if n < 1 => error!("argus: {what} must be at least 1, got {n}"),
        Some(n) => n as usize,
    }
}

/// The top `k` items for shopper `user`, best first, with the shopper's interactions that led
/// to each. An unknown shopper gets the most popular items (reason `popular`); a NULL one, no
/// rows.
#[allow(clippy::too_many_arguments)] // One per SQL argument.
#[pg_extern(name = "recommend_at")]
fn recommend_at(
    user: Option<&str>,
    k: Option<i32>,
    model: Option<&str>,
    exclude_seen: Option<bool>,
    category: Option<&str>,
    min_price: Option<f64>,
    max_price: Option<f64>,
    as_of_micros: Option<i64>,
) -> TableIterator<
    'static,
    (
        name!(item, String),
        name!(score, f64),
        name!(reason, String),
    ),
> {
    let Some(user) = user else {
        return TableIterator::new(Vec::new());
    };
    let options = RecommendOptions {
        k: count("k", k),
        exclude_seen: exclude_seen.unwrap_or(true),
        category: category.map(str::to_string).filter(|c| !c.is_empty()),
        min_price,
        max_price,
        as_of: as_of_micros,
    };
    let db = database();
    let found = or_error(db.recommend(&recommender_name(&db, model), user, &options));
    TableIterator::new(
        found
            .into_iter()
            .map(|r| (r.item, f64::from(r.score), r.reason.join(", "))),
    )
}

/// The `k` items most like `item`: by what the recommender learned from interactions, or
/// (`similarity => 'vector'`) by the cosine of the items' style vectors. An unknown item is an ERROR;
/// a NULL one gives no rows.
#[pg_extern(name = "similar_items_of")]
fn similar_items_of(
    item: Option<&str>,
    k: Option<i32>,
    model: Option<&str>,
    similarity: Option<&str>,
) -> TableIterator<'static, (name!(item, String), name!(score, f64))> {
    let Some(item) = item else {
        return TableIterator::new(Vec::new());
    };
    let k = count("k", k);
    let db = database();
    let name = recommender_name(&db, model);
    let found = match similarity.map(str::trim).unwrap_or("interactions") {
        "" | "interactions" => db.similar_items(&name, item, k),
        "vector" => db.similar_items_by_vector(&name, item, k),
        other => error!("argus: similarity must be 'interactions' or 'vector', got '{other}'"),
    };
    TableIterator::new(
        or_error(found)
            .into_iter()
            .map(|s| (s.item, f64::from(s.score))),
    )
}

/// Shopper `user`'s lookbook: their recommendations arranged into themed collections, one row
/// per item in reading order. NULL `user` gives no rows.
#[allow(clippy::type_complexity)] // pgrx reads the column names from the signature itself.
#[pg_extern(name = "lookbook_at")]
fn lookbook_at(
    user: Option<&str>,
    collections: Option<i32>,
    items_per_collection: Option<i32>,
    model: Option<&str>,
    as_of_micros: Option<i64>,
) -> TableIterator<
    'static,
    (
        name!(collection, i32),
        name!(title, String),
        name!(position, i32),
        name!(item, String),
        name!(name, Option<String>),
        name!(categories, String),
        name!(price, Option<f64>),
        name!(score, f64),
        name!(reason, String),
    ),
> {
    let Some(user) = user else {
        return TableIterator::new(Vec::new());
    };
    let settings = LookbookSettings {
        collections: count("collections", collections),
        per_collection: count("items_per_collection", items_per_collection),
        ..LookbookSettings::default()
    };
    let db = database();
    let book = or_error(db.lookbook(&recommender_name(&db, model), user, &settings, as_of_micros));
    let mut rows = Vec::new();
    for (c, collection) in book.collections.into_iter().enumerate() {
        for (p, it) in collection.items.into_iter().enumerate() {
            rows.push((
                c as i32 + 1,
                collection.title.clone(),
                p as i32 + 1,
                it.item,
                it.name,
                it.categories.join(", "),
                it.price,
                f64::from(it.score),
                it.reason.join(", "),
            ));
        }
    }
    TableIterator::new(rows)
}
