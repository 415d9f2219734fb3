//! Graph writes queued by another system and applied exactly once: the write half of the
//! Postgres extension (`docs/postgres.md`).
//!
//! A writer records each write as a [`GraphOp`] with an id in its own transactional queue (the
//! outbox); the one process that owns the store applies committed operations in batches with
//! [`apply_outbox`]. Each batch is one store transaction that also records the ids it applied,
//! so that after a crash between the store commit and the removal of those operations from the
//! queue, they are recognised and not applied twice. Operations that cannot be applied (an
//! unknown label, a missing endpoint, a property of the wrong type) are rejected one by one, so
//! a bad operation never blocks the ones behind it.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use argus_engine::Value;
use argus_engine::{Error, GraphStore, Result, Snapshot, WriteTxn};

/// Meta key of the ids applied by the latest batches whose removal from the queue is not yet
/// confirmed.
const APPLIED_KEY: &[u8] = b"outbox_applied";

/// One queued graph write.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum GraphOp {
    /// Insert a node, or merge properties into the existing node with that key.
    UpsertNode {
        /// Its label (must exist).
        label: String,
        /// Its key.
        key: String,
        /// Properties by name (declared on the label); `null` values are skipped.
        #[serde(default)]
        properties: serde_json::Map<String, serde_json::Value>,
    },
    /// Insert an edge between two existing nodes.
    AddEdge {
        /// Its edge type (must exist).
        edge_type: String,
        /// Source node key.
        src: String,
        /// Destination node key.
        dst: String,
        /// Edge time, microseconds since the epoch.
        #[serde(default)]
        time: Option<i64>,
        /// Properties by name (declared on the edge type); `null` values are skipped.
        #[serde(default)]
        properties: serde_json::Map<String, serde_json::Value>,
    },
}

/// A JSON property value as a store value: integers, floats, booleans, strings, and arrays of
/// numbers (vectors); timestamps as integer microseconds.
fn value_of(name: &str, v: &serde_json::Value) -> Result<Option<Value>> {
    use serde_json::Value as J;
    Ok(match v {
        J::Null => None,
        J::Bool(b) => Some(Value::Bool(*b)),
        J::Number(n) => Some(match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        }),
        J::String(s) => Some(Value::String(s.clone())),
        J::Array(items) => Some(Value::Vector(
            items
                .iter()
                .map(|x| {
                    x.as_f64().map(|f| f as f32).ok_or_else(|| {
                        Error::InvalidArgument(format!(
                            "property '{name}': a vector holds numbers only, got {x}"
                        ))
                    })
                })
                .collect::<Result<_>>()?,
        )),
        J::Object(_) => {
            return Err(Error::InvalidArgument(format!(
                "property '{name}': objects are not property values"
            )))
        }
    })
}

fn properties(map: &serde_json::Map<String, serde_json::Value>) -> Result<Vec<(String, Value)>> {
    let mut out = Vec::with_capacity(map.len());
    for (name, v) in map {
        if let Some(value) = value_of(name, v)? {
            out.push((name.clone(), value));
        }
    }
    Ok(out)
}

impl GraphOp {
    /// Check the operation against the committed catalog (names and property types) without
    /// writing: what a caller can be told at once, before the write is queued. Endpoints are
    /// not checked: they may be queued in the same transaction.
    pub fn validate(&self, snapshot: &Snapshot) -> Result<()> {
        let catalog = snapshot.catalog();
        let (def, props) = match self {
            GraphOp::UpsertNode {
                label,
                key,
                properties: p,
            } => {
                if key.is_empty() {
                    return Err(Error::InvalidArgument(format!(
                        "a node of '{label}' needs a non-empty key"
                    )));
                }
                (&catalog.label(label)?.properties, p)
            }
            GraphOp::AddEdge {
                edge_type,
                properties: p,
                ..
            } => (&catalog.edge_type(edge_type)?.properties, p),
        };
        for (name, value) in properties(props)? {
            let prop = def
                .iter()
                .find(|d| d.name == name)
                .ok_or_else(|| Error::Schema(format!("no property '{name}' (declare it first)")))?;
            value
                .coerce(prop.ty)
                .map_err(|m| Error::Schema(format!("property '{name}': {m}")))?;
        }
        Ok(())
    }

    /// Apply the operation in `txn`.
    pub fn apply(&self, txn: &mut WriteTxn<'_>) -> Result<()> {
        match self {
            GraphOp::UpsertNode {
                label,
                key,
                properties: p,
            } => {
                let props = properties(p)?;
                let refs: Vec<(&str, Value)> =
                    props.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
                txn.upsert_node(label, key, &refs)?;
            }
            GraphOp::AddEdge {
                edge_type,
                src,
                dst,
                time,
                properties: p,
            } => {
                let props = properties(p)?;
                let refs: Vec<(&str, Value)> =
                    props.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
                txn.insert_edge(edge_type, src, dst, *time, &refs)?;
            }
        }
        Ok(())
    }
}

/// What one batch did, by queue id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutboxRound {
    /// Applied now.
    pub applied: Vec<i64>,
    /// Applied by an earlier batch whose removal from the queue did not happen (a crash):
    /// remove them without applying them again.
    pub already_applied: Vec<i64>,
    /// Could not be applied, with the reason: move them aside.
    pub rejected: Vec<(i64, String)>,
}

impl OutboxRound {
    /// Every id the queue can drop after this round (all three kinds).
    pub fn settled(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .applied
            .iter()
            .chain(&self.already_applied)
            .copied()
            .chain(self.rejected.iter().map(|(id, _)| *id))
            .collect();
        ids.sort_unstable();
        ids
    }
}

/// The ids recorded as applied whose removal from the queue is not yet confirmed.
pub fn applied_ids(snapshot: &Snapshot) -> Result<Vec<i64>> {
    match snapshot
        .view()
        .get(&argus_engine::keys::meta_key(APPLIED_KEY))?
    {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| Error::Corrupt(format!("outbox applied ids: {e}"))),
        None => Ok(Vec::new()),
    }
}

/// Whether an error belongs to the operation (it will never apply) rather than to the store
/// (it may apply later).
fn is_rejection(e: &Error) -> bool {
    matches!(
        e,
        Error::NotFound(_) | Error::Schema(_) | Error::InvalidArgument(_)
    )
}

fn record(txn: &mut WriteTxn<'_>, ids: &BTreeSet<i64>) {
    let bytes = serde_json::to_vec(&ids.iter().collect::<Vec<_>>()).expect("ids serialise");
    txn.set_meta(APPLIED_KEY, bytes);
}

/// Apply a batch of queued operations (`rows`, in queue order). `still_queued` is the subset of
/// [`applied_ids`] that the queue still holds: the ids to keep recognising. A store error that
/// is not the operation's fault (I/O, a failed store) is returned, with nothing of the batch
/// recorded: the caller retries the batch later.
pub fn apply_outbox(
    store: &GraphStore,
    rows: &[(i64, GraphOp)],
    still_queued: &[i64],
) -> Result<OutboxRound> {
    let before: BTreeSet<i64> = applied_ids(&store.snapshot())?.into_iter().collect();
    let mut recorded: BTreeSet<i64> = still_queued
        .iter()
        .copied()
        .filter(|id| before.contains(id))
        .collect();
    let mut round = OutboxRound::default();
    let mut todo = Vec::new();
    for (id, op) in rows {
        if before.contains(id) {
            round.already_applied.push(*id);
        } else {
            todo.push((*id, op));
        }
    }
    if todo.is_empty() {
        if recorded.len() != before.len() {
            store.write(|t| {
                record(t, &recorded);
                Ok(())
            })?;
        }
        return Ok(round);
    }
    // The whole batch in one transaction; if an operation fails, one transaction each.
    let all = store.write(|t| {
        for (_, op) in &todo {
            op.apply(t)?;
        }
        let mut ids = recorded.clone();
        ids.extend(todo.iter().map(|(id, _)| *id));
        record(t, &ids);
        Ok(())
    });
    match all {
        Ok(()) => {
            round.applied = todo.iter().map(|(id, _)| *id).collect();
            return Ok(round);
        }
        Err(e) if !is_rejection(&e) => return Err(e),
        Err(_) => {}
    }
    for (id, op) in todo {
        let mut ids = recorded.clone();
        ids.insert(id);
        match store.write(|t| {
            op.apply(t)?;
            record(t, &ids);
            Ok(())
        }) {
            Ok(()) => {
                recorded = ids;
                round.applied.push(id);
            }
            Err(e) if is_rejection(&e) => round.rejected.push((id, e.to_string())),
            Err(e) => return Err(e),
        }
    }
    Ok(round)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_engine::{PropType, PropertyDef};

    fn store() -> (tempfile::TempDir, GraphStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = GraphStore::open(dir.path().join("db")).unwrap();
        store
            .write(|t| {
                t.create_label(
                    "user",
                    "id",
                    vec![PropertyDef {
                        name: "age".into(),
                        ty: PropType::Int,
                    }],
                )?;
                t.create_edge_type("pays", "user", "user", false, Vec::new())?;
                Ok(())
            })
            .unwrap();
        (dir, store)
    }

    fn node(key: &str) -> GraphOp {
        GraphOp::UpsertNode {
            label: "user".into(),
            key: key.into(),
            properties: serde_json::Map::new(),
        }
    }

    fn edge(src: &str, dst: &str) -> GraphOp {
        GraphOp::AddEdge {
            edge_type: "pays".into(),
            src: src.into(),
            dst: dst.into(),
            time: Some(1),
            properties: serde_json::Map::new(),
        }
    }

    fn edges(store: &GraphStore) -> u64 {
        let snap = store.snapshot();
        let id = snap.catalog().edge_type("pays").unwrap().id;
        snap.edge_count(id).unwrap()
    }

    #[test]
    fn a_batch_applies_once_even_when_its_removal_from_the_queue_is_lost() {
        let (_dir, store) = store();
        let rows = vec![(1, node("a")), (2, node("b")), (3, edge("a", "b"))];
        let round = apply_outbox(&store, &rows, &[]).unwrap();
        assert_eq!(round.applied, vec![1, 2, 3]);
        assert_eq!(edges(&store), 1);
        // The queue did not drop them (a crash): the same rows come again with a late row 0.
        let mut again = vec![(0, edge("b", "a"))];
        again.extend(rows.iter().cloned());
        let round = apply_outbox(&store, &again, &[1, 2, 3]).unwrap();
        assert_eq!(round.already_applied, vec![1, 2, 3]);
        assert_eq!(round.applied, vec![0]);
        assert_eq!(edges(&store), 2, "row 3 was not applied twice");
        // Once the queue confirms the removal, the ids are forgotten.
        apply_outbox(&store, &[], &[]).unwrap();
        assert!(applied_ids(&store.snapshot()).unwrap().is_empty());
    }

    #[test]
    fn a_bad_operation_is_rejected_alone() {
        let (_dir, store) = store();
        let rows = vec![
            (1, node("a")),
            (2, edge("a", "nobody")),
            (3, node("b")),
            (
                4,
                GraphOp::UpsertNode {
                    label: "user".into(),
                    key: "c".into(),
                    properties: serde_json::json!({"age": "old"})
                        .as_object()
                        .unwrap()
                        .clone(),
                },
            ),
        ];
        let round = apply_outbox(&store, &rows, &[]).unwrap();
        assert_eq!(round.applied, vec![1, 3]);
        let rejected: Vec<i64> = round.rejected.iter().map(|(id, _)| *id).collect();
        assert_eq!(rejected, vec![2, 4]);
        assert!(
            round.rejected[0].1.contains("nobody"),
            "{:?}",
            round.rejected
        );
        let snap = store.snapshot();
        assert!(snap.node_id("user", "b").unwrap().is_some());
        assert!(snap.node_id("user", "c").unwrap().is_none());
        assert_eq!(round.settled(), vec![1, 2, 3, 4]);
    }

    #[test]
    fn validation_names_what_is_wrong() {
        let (_dir, store) = store();
        let snap = store.snapshot();
        let unknown = GraphOp::UpsertNode {
            label: "merchant".into(),
            key: "m".into(),
            properties: Default::default(),
        };
        assert!(unknown
            .validate(&snap)
            .unwrap_err()
            .to_string()
            .contains("merchant"));
        let wrong = GraphOp::UpsertNode {
            label: "user".into(),
            key: "u".into(),
            properties: serde_json::json!({"height": 3})
                .as_object()
                .unwrap()
                .clone(),
        };
        assert!(wrong
            .validate(&snap)
            .unwrap_err()
            .to_string()
            .contains("height"));
        assert!(node("x").validate(&snap).is_ok());
        let json = serde_json::to_string(&edge("a", "b")).unwrap();
        assert!(json.contains(r#""op":"add_edge""#), "{json}");
        assert_eq!(
            serde_json::from_str::<GraphOp>(&json).unwrap(),
            edge("a", "b")
        );
    }
}
