//! Recommender functions callable from SQL, registered by [`register`]. Each is a table
//! function; `model` names a registered recommender (the only one when omitted or NULL):
//!
//! - `recommend(user, k [, model, exclude_seen, category, min_price, max_price, as_of])` —
//!   `rank, item, score, reason` (the shopper's items that led to it, comma-separated, or
//!   `popular`).
//! - `similar_items(item, k [, model, by])` — `rank, item, score`; `by` is `'interactions'`
//!   (default) or `'vector'` (nearest by the recommender's vector property).
//! - `lookbook(user [, collections, items_per_collection, model, as_of])` — one row per item:
//!   `collection` (its rank), `title`, `position`, `item`, `score`, `categories`, `price`,
//!   `reason`.

use std::sync::Arc;

use argus_db::recommend::RecommendOptions;
use argus_db::Database;
use argus_extensions::ml::recommend::lookbook::LookbookSettings;
use datafusion::arrow::array::{
    ArrayRef, Float32Builder, Float64Builder, Int64Builder, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::datasource::MemTable;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::Expr;

use crate::functions::{arg_int, arg_literal, arg_string, arg_time};
use crate::to_df;

/// Register the recommender functions on `ctx`.
pub fn register(ctx: &SessionContext, db: Database) {
    for kind in [Kind::Recommend, Kind::Similar, Kind::Lookbook] {
        ctx.register_udtf(
            kind.name(),
            Arc::new(RecsFunction {
                kind,
                db: db.clone(),
            }),
        );
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Recommend,
    Similar,
    Lookbook,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Recommend => "recommend",
            Kind::Similar => "similar_items",
            Kind::Lookbook => "lookbook",
        }
    }
}

struct RecsFunction {
    kind: Kind,
    db: Database,
}

impl std::fmt::Debug for RecsFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind.name())
    }
}

fn required_string(f: &str, exprs: &[Expr], i: usize, what: &str) -> Result<String> {
    match arg_string(f, exprs, i, what)? {
        Some(s) => Ok(s),
        None => plan_err!("{f}: argument {} ({what}) is missing or NULL", i + 1),
    }
}

fn arg_float(f: &str, exprs: &[Expr], i: usize, what: &str) -> Result<Option<f64>> {
    let Some(e) = exprs.get(i) else {
        return Ok(None);
    };
    match arg_literal(e) {
        Some(ScalarValue::Float64(v)) => Ok(v),
        Some(ScalarValue::Float32(v)) => Ok(v.map(f64::from)),
        Some(ScalarValue::Int64(v)) => Ok(v.map(|x| x as f64)),
        Some(ScalarValue::Int32(v)) => Ok(v.map(f64::from)),
        Some(ScalarValue::Null) => Ok(None),
        _ => plan_err!("{f}: argument {} ({what}) must be a number, got {e}", i + 1),
    }
}

fn arg_bool(f: &str, exprs: &[Expr], i: usize, what: &str) -> Result<Option<bool>> {
    let Some(e) = exprs.get(i) else {
        return Ok(None);
    };
    match arg_literal(e) {
        Some(ScalarValue::Boolean(v)) => Ok(v),
        Some(ScalarValue::Null) => Ok(None),
        _ => plan_err!(
            "{f}: argument {} ({what}) must be true or false, got {e}",
            i + 1
        ),
    }
}

/// A count argument: a positive integer (`default` when omitted or NULL).
fn arg_count(f: &str, exprs: &[Expr], i: usize, what: &str, default: usize) -> Result<usize> {
    match arg_int(f, exprs, i, what)? {
        None => Ok(default),
        Some(n) if n > 0 => Ok(n as usize),
        Some(n) => plan_err!("{f}: argument {} ({what}) must be positive, got {n}", i + 1),
    }
}

fn table(fields: Vec<Field>, columns: Vec<ArrayRef>) -> Result<Arc<dyn TableProvider>> {
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
}

impl RecsFunction {
    fn model(&self, f: &str, exprs: &[Expr], i: usize) -> Result<String> {
        match arg_string(f, exprs, i, "model")? {
            Some(m) if !m.is_empty() => Ok(m),
            _ => self.db.default_recommender().map_err(to_df),
        }
    }

    fn recommend(&self, exprs: &[Expr]) -> Result<Arc<dyn TableProvider>> {
        const F: &str = "recommend";
        if exprs.len() < 2 || exprs.len() > 8 {
            return plan_err!(
                "{F} takes 2 to 8 arguments (user, k [, model, exclude_seen, category, min_price, max_price, as_of]), got {}",
                exprs.len()
            );
        }
        let user = required_string(F, exprs, 0, "user")?;
        let options = RecommendOptions {
            k: arg_count(F, exprs, 1, "k", 10)?,
            exclude_seen: arg_bool(F, exprs, 3, "exclude_seen")?.unwrap_or(true),
            category: arg_string(F, exprs, 4, "category")?.filter(|c| !c.is_empty()),
            min_price: arg_float(F, exprs, 5, "min_price")?,
            max_price: arg_float(F, exprs, 6, "max_price")?,
            as_of: arg_time(F, exprs, 7, "as_of")?,
        };
        let model = self.model(F, exprs, 2)?;
        let found = self.db.recommend(&model, &user, &options).map_err(to_df)?;
        let mut rank = Int64Builder::new();
        let mut item = StringBuilder::new();
        let mut score = Float32Builder::new();
        let mut reason = StringBuilder::new();
        for (r, rec) in found.iter().enumerate() {
            rank.append_value(r as i64 + 1);
            item.append_value(&rec.item);
            score.append_value(rec.score);
            reason.append_value(rec.reason.join(", "));
        }
        table(
            vec![
                Field::new("rank", DataType::Int64, false),
                Field::new("item", DataType::Utf8, false),
                Field::new("score", DataType::Float32, false),
                Field::new("reason", DataType::Utf8, false),
            ],
            vec![
                Arc::new(rank.finish()),
                Arc::new(item.finish()),
                Arc::new(score.finish()),
                Arc::new(reason.finish()),
            ],
        )
    }

    fn similar(&self, exprs: &[Expr]) -> Result<Arc<dyn TableProvider>> {
        const F: &str = "similar_items";
        if exprs.len() < 2 || exprs.len() > 4 {
            return plan_err!(
                "{F} takes 2 to 4 arguments (item, k [, model, by]), got {}",
                exprs.len()
            );
        }
        let item_key = required_string(F, exprs, 0, "item")?;
        let k = arg_count(F, exprs, 1, "k", 10)?;
        let model = self.model(F, exprs, 2)?;
        let found = match arg_string(F, exprs, 3, "by")?.as_deref() {
            None | Some("") | Some("interactions") => self.db.similar_items(&model, &item_key, k),
            Some("vector") => self.db.similar_items_by_vector(&model, &item_key, k),
            Some(other) => {
                return plan_err!("{F}: by '{other}' must be 'interactions' or 'vector'")
            }
        }
        .map_err(to_df)?;
        let mut rank = Int64Builder::new();
        let mut item = StringBuilder::new();
        let mut score = Float32Builder::new();
        for (r, s) in found.iter().enumerate() {
            rank.append_value(r as i64 + 1);
            item.append_value(&s.item);
            score.append_value(s.score);
        }
        table(
            vec![
                Field::new("rank", DataType::Int64, false),
                Field::new("item", DataType::Utf8, false),
                Field::new("score", DataType::Float32, false),
            ],
            vec![
                Arc::new(rank.finish()),
                Arc::new(item.finish()),
                Arc::new(score.finish()),
            ],
        )
    }

    fn lookbook(&self, exprs: &[Expr]) -> Result<Arc<dyn TableProvider>> {
        const F: &str = "lookbook";
        if exprs.is_empty() || exprs.len() > 5 {
            return plan_err!(
                "{F} takes 1 to 5 arguments (user [, collections, items_per_collection, model, as_of]), got {}",
                exprs.len()
            );
        }
        let user = required_string(F, exprs, 0, "user")?;
        let defaults = LookbookSettings::default();
        let settings = LookbookSettings {
            collections: arg_count(F, exprs, 1, "collections", defaults.collections)?,
            per_collection: arg_count(
                F,
                exprs,
                2,
                "items_per_collection",
                defaults.per_collection,
            )?,
            ..defaults
        };
        let model = self.model(F, exprs, 3)?;
        let as_of = arg_time(F, exprs, 4, "as_of")?;
        let book = self
            .db
            .lookbook(&model, &user, &settings, as_of)
            .map_err(to_df)?;
        let mut collection = Int64Builder::new();
        let mut title = StringBuilder::new();
        let mut position = Int64Builder::new();
        let mut item = StringBuilder::new();
        let mut score = Float32Builder::new();
        let mut categories = StringBuilder::new();
        let mut price = Float64Builder::new();
        let mut reason = StringBuilder::new();
        for (c, col) in book.collections.iter().enumerate() {
            for (p, it) in col.items.iter().enumerate() {
                collection.append_value(c as i64 + 1);
                title.append_value(&col.title);
                position.append_value(p as i64 + 1);
                item.append_value(&it.item);
                score.append_value(it.score);
                categories.append_value(it.categories.join(", "));
                price.append_option(it.price);
                reason.append_value(it.reason.join(", "));
            }
        }
        table(
            vec![
                Field::new("collection", DataType::Int64, false),
                Field::new("title", DataType::Utf8, false),
                Field::new("position", DataType::Int64, false),
                Field::new("item", DataType::Utf8, false),
                Field::new("score", DataType::Float32, false),
                Field::new("categories", DataType::Utf8, false),
                Field::new("price", DataType::Float64, true),
                Field::new("reason", DataType::Utf8, false),
            ],
            vec![
                Arc::new(collection.finish()),
                Arc::new(title.finish()),
                Arc::new(position.finish()),
                Arc::new(item.finish()),
                Arc::new(score.finish()),
                Arc::new(categories.finish()),
                Arc::new(price.finish()),
                Arc::new(reason.finish()),
            ],
        )
    }
}

impl TableFunctionImpl for RecsFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        match self.kind {
            Kind::Recommend => self.recommend(exprs),
            Kind::Similar => self.similar(exprs),
            Kind::Lookbook => self.lookbook(exprs),
        }
    }
}
