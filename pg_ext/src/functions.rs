//! The SQL functions of schema `argus`. The user-facing signatures with defaults (and
//! `timestamptz` arguments) are SQL wrappers in `sql/functions.sql` over these.

use std::time::{Duration, Instant};

use pgrx::prelude::*;
use pgrx::JsonB;

use argus_db::outbox::{applied_ids, GraphOp};
use argus_db::transactions::TransactionInput;
use argus_engine::{Dir, Direction, NeighborQuery, MAX_NEIGHBOR_LIMIT};

use crate::{database, name_or_default, or_error, DEFAULT_MODEL};

/// The model to use: the argument, else `argus.default_model`, else the only registered one.
fn model_name(db: &argus_db::Database, model: Option<&str>) -> String {
    name_or_default(model, &DEFAULT_MODEL, || db.default_model(None))
}

/// Fraud score (probability) of the node with `key` under `model`; NULL for a NULL or unknown
/// key.
#[pg_extern(name = "fraud_score")]
fn fraud_score(key: Option<&str>, model: Option<&str>) -> Option<f64> {
    let key = key?;
    let db = database();
    let scorer = or_error(db.scorer(&model_name(&db, model), None));
    let scores = or_error(scorer.score_keys(&db.snapshot(), &[key], None));
    scores[0].map(f64::from)
}

/// Fraud scores of many keys in one batch (one neighbourhood block, one model pass); NULL for
/// NULL or unknown keys, in the order given.
#[pg_extern(name = "fraud_scores")]
fn fraud_scores(
    keys: Option<Vec<Option<String>>>,
    model: Option<&str>,
) -> Option<Vec<Option<f64>>> {
    let keys = keys?;
    let db = database();
    let scorer = or_error(db.scorer(&model_name(&db, model), None));
    let present: Vec<&str> = keys.iter().flatten().map(String::as_str).collect();
    let mut scored = or_error(scorer.score_keys(&db.snapshot(), &present, None)).into_iter();
    Some(
        keys.iter()
            .map(|k| match k {
                Some(_) => scored.next().flatten().map(f64::from),
                None => None,
            })
            .collect(),
    )
}

/// Numeric properties of a JSON object (other values are an error naming them).
fn numeric_properties(properties: Option<JsonB>) -> Vec<(String, f64)> {
    let Some(JsonB(value)) = properties else {
        return Vec::new();
    };
    let serde_json::Value::Object(map) = value else {
        error!("argus: properties must be a JSON object, got {value}");
    };
    map.into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match v.as_f64() {
            Some(x) => (k, x),
            None => error!("argus: property '{k}' must be a number, got {v}"),
        })
        .collect()
}

/// Score a payment that is not stored yet (e.g. in a `BEFORE INSERT` trigger) with transaction
/// model `model`: its features see only edges before `at_micros`.
#[pg_extern(name = "score_transaction_at")]
fn score_transaction_at(
    model: &str,
    src: &str,
    dst: &str,
    at_micros: i64,
    properties: Option<JsonB>,
) -> f64 {
    let db = database();
    let input = TransactionInput {
        src: src.to_string(),
        dst: dst.to_string(),
        time: at_micros,
        properties: numeric_properties(properties),
    };
    f64::from(or_error(db.score_transaction(model, &input)))
}

/// The score of `key` with the features and neighbours that drove it; an ERROR for an unknown
/// key.
#[pg_extern(name = "explain_score")]
fn explain_score(key: &str, model: Option<&str>) -> JsonB {
    let db = database();
    let scorer = or_error(db.scorer(&model_name(&db, model), None));
    let explanation = or_error(scorer.explain(&db.snapshot(), key, None));
    JsonB(serde_json::to_value(&explanation).unwrap_or_else(|e| error!("argus: {e}")))
}

/// The edges of `label:key`, newest first: at most `max` (1..=1,000,000), of type `of_type`
/// (all when NULL), in direction `dir` (`out`, `in` or `both`).
#[pg_extern(name = "neighbors_of")]
fn neighbors_of(
    label: &str,
    key: &str,
    of_type: Option<&str>,
    dir: Option<&str>,
    max: Option<i32>,
) -> TableIterator<
    'static,
    (
        name!(edge_type, String),
        name!(direction, String),
        name!(neighbor_label, String),
        name!(neighbor_key, String),
        name!(at_micros, Option<i64>),
    ),
> {
    let max = max.unwrap_or(100);
    if max < 1 || max as usize > MAX_NEIGHBOR_LIMIT {
        error!("argus: max must be between 1 and {MAX_NEIGHBOR_LIMIT}, got {max}");
    }
    let query = NeighborQuery {
        edge_type: of_type.map(str::to_string),
        direction: or_error(Direction::parse(dir.unwrap_or("both"))),
        since: None,
        until: None,
        limit: Some(max as usize),
        oldest_first: false,
    };
    let db = database();
    let snap = db.snapshot();
    // An unknown label is an ERROR; an unknown key of a known label has no edges: no rows.
    if or_error(snap.node_id(label, key)).is_none() {
        return TableIterator::new(Vec::new());
    }
    let found = or_error(snap.neighbor_edges(label, key, &query));
    let catalog = snap.catalog();
    let rows: Vec<(String, String, String, String, Option<i64>)> = found
        .iter()
        .map(|(n, _)| {
            let t = or_error(catalog.edge_type_by_id(n.edge_type));
            let other = or_error(catalog.label_by_id(n.label));
            let key = or_error(snap.node_key(n.label, n.node)).unwrap_or_default();
            let dir = match (t.undirected, n.dir) {
                (true, _) => "both",
                (false, Dir::Out) => "out",
                (false, Dir::In) => "in",
            };
            (
                t.name.clone(),
                dir.to_string(),
                other.name.clone(),
                key,
                n.time,
            )
        })
        .collect();
    TableIterator::new(rows)
}

/// Queue `op` in the caller's transaction after checking it against the store; its id.
fn enqueue(op: GraphOp) -> i64 {
    let db = database();
    or_error(op.validate(&db.snapshot()));
    let json = serde_json::to_value(&op).unwrap_or_else(|e| error!("argus: {e}"));
    Spi::get_one_with_args::<i64>(
        "INSERT INTO argus.outbox (op) VALUES ($1) RETURNING id",
        &[JsonB(json).into()],
    )
    .unwrap_or_else(|e| error!("argus: queueing the write failed: {e}"))
    .unwrap_or_else(|| error!("argus: queueing the write returned no id"))
}

fn object(properties: Option<JsonB>) -> serde_json::Map<String, serde_json::Value> {
    match properties {
        None => serde_json::Map::new(),
        Some(JsonB(serde_json::Value::Object(map))) => map,
        Some(JsonB(other)) => error!("argus: properties must be a JSON object, got {other}"),
    }
}

/// Insert or update node `label:key` with `properties`, as part of the calling transaction:
/// applied to the store after it commits, never if it aborts. Returns the write's id.
#[pg_extern(name = "upsert_node")]
fn upsert_node(label: &str, key: &str, properties: Option<JsonB>) -> i64 {
    enqueue(GraphOp::UpsertNode {
        label: label.to_string(),
        key: key.to_string(),
        properties: object(properties),
    })
}

/// Insert an edge, as part of the calling transaction (like [`upsert_node`]).
#[pg_extern(name = "add_edge_at")]
fn add_edge_at(
    edge_type: &str,
    src: &str,
    dst: &str,
    at_micros: Option<i64>,
    properties: Option<JsonB>,
) -> i64 {
    enqueue(GraphOp::AddEdge {
        edge_type: edge_type.to_string(),
        src: src.to_string(),
        dst: dst.to_string(),
        time: at_micros,
        properties: object(properties),
    })
}

/// Wait until write `id` left the outbox (applied, or rejected into `argus.outbox_rejected`),
/// at most `timeout_ms`; whether it did. A write of the caller's own open transaction is never
/// applied before that transaction commits.
#[pg_extern(name = "wait_applied")]
fn wait_applied(id: i64, timeout_ms: Option<i32>) -> bool {
    let deadline =
        Instant::now() + Duration::from_millis(timeout_ms.unwrap_or(10_000).max(0) as u64);
    loop {
        let queued = Spi::get_one_with_args::<bool>(
            "SELECT EXISTS (SELECT 1 FROM argus.outbox WHERE id = $1)",
            &[id.into()],
        )
        .unwrap_or_else(|e| error!("argus: {e}"))
        .unwrap_or(false);
        if !queued {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        pg_sys::check_for_interrupts!();
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The store as this backend sees it: labels and edge types with counts, the registered
/// models and recommenders, and the outbox (waiting and rejected writes).
#[pg_extern(name = "store_state")]
fn store_state() -> JsonB {
    let db = database();
    let snap = db.snapshot();
    let catalog = snap.catalog();
    let labels: serde_json::Map<String, serde_json::Value> = catalog
        .labels
        .iter()
        .map(|l| {
            (
                l.name.clone(),
                serde_json::json!(or_error(snap.node_count(l.id))),
            )
        })
        .collect();
    let edges: serde_json::Map<String, serde_json::Value> = catalog
        .edge_types
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                serde_json::json!(or_error(snap.edge_count(t.id))),
            )
        })
        .collect();
    let models: Vec<serde_json::Value> = or_error(db.list_models())
        .into_iter()
        .map(|m| serde_json::json!({"name": m.name, "predicts": m.predicts, "family": m.family}))
        .collect();
    let count = |sql: &str| {
        Spi::get_one::<i64>(sql)
            .unwrap_or_else(|e| error!("argus: {e}"))
            .unwrap_or(0)
    };
    JsonB(serde_json::json!({
        "data_directory": crate::data_directory().display().to_string(),
        "labels": labels,
        "edge_types": edges,
        "models": models,
        "recommenders": or_error(db.recommender_names()),
        "outbox_waiting": count("SELECT count(*) FROM argus.outbox"),
        "outbox_rejected": count("SELECT count(*) FROM argus.outbox_rejected"),
        "applied_unconfirmed": or_error(applied_ids(&snap)).len(),
        "generation": snap.generation(),
    }))
}
