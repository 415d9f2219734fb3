//! Label properties: the answers models learn (`user.is_fraud`, `paid.is_fraud`), which no
//! model may read as an input. A property is withheld from a model's features when it is the
//! model's own target, the target of any registered model, declared as a label of the store
//! ([`Database::declare_label_property`], kept in the meta keyspace), or excluded by the
//! training run (`--exclude`). Withholding covers the property itself and every aggregate of it
//! (edge statistics over earlier payments' `is_fraud` are the label read back).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use argus_engine::keys::meta_key;
use argus_engine::{Error, Result, Snapshot};

use crate::Database;

const ENTRY: &[u8] = b"label_properties";

/// Qualified property names (`owner.property`, the owner a label or an edge type) that models
/// must not read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Withheld(BTreeSet<String>);

impl Withheld {
    /// Whether `owner.property` is withheld.
    pub fn contains(&self, owner: &str, property: &str) -> bool {
        self.0.contains(&format!("{owner}.{property}"))
    }

    /// Add `owner.property`.
    pub fn insert(&mut self, owner: &str, property: &str) {
        self.0.insert(format!("{owner}.{property}"));
    }

    /// The withheld properties of `owner`.
    pub fn of(&self, owner: &str) -> Vec<String> {
        let prefix = format!("{owner}.");
        self.0
            .iter()
            .filter_map(|q| q.strip_prefix(&prefix).map(str::to_string))
            .collect()
    }

    /// The withheld edge-type properties (`edge_type.property`), sorted.
    pub fn edge_properties(&self, snapshot: &Snapshot) -> Vec<String> {
        self.0
            .iter()
            .filter(|q| {
                q.split_once('.')
                    .is_some_and(|(owner, _)| snapshot.catalog().edge_type(owner).is_ok())
            })
            .cloned()
            .collect()
    }

    /// Every qualified name, sorted.
    pub fn names(&self) -> Vec<String> {
        self.0.iter().cloned().collect()
    }
}

/// Split `owner.property`, checking that the owner (a label or an edge type) has the property.
fn parse_qualified(snapshot: &Snapshot, qualified: &str) -> Result<(String, String)> {
    let (owner, property) = qualified.split_once('.').ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{qualified:?}: expected LABEL.PROPERTY or EDGE_TYPE.PROPERTY"
        ))
    })?;
    let catalog = snapshot.catalog();
    let properties = match (catalog.label(owner), catalog.edge_type(owner)) {
        (Ok(label), _) => &label.properties,
        (_, Ok(edge_type)) => &edge_type.properties,
        _ => {
            return Err(Error::NotFound(format!(
                "{qualified:?}: no label or edge type named {owner}"
            )))
        }
    };
    if !properties.iter().any(|p| p.name == property) {
        return Err(Error::NotFound(format!(
            "{qualified:?}: {owner} has no property {property}"
        )));
    }
    Ok((owner.to_string(), property.to_string()))
}

/// The label properties declared in the store, sorted.
pub fn declared(snapshot: &Snapshot) -> Result<Vec<String>> {
    match snapshot.view().get(&meta_key(ENTRY))? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| Error::Corrupt(format!("label properties: {e}"))),
        None => Ok(Vec::new()),
    }
}

/// What a model predicting `owner.target` must not read: the target, the targets of every
/// registered model, the store's declared label properties and `exclude` (each `property` of
/// `owner` or a qualified `owner.property`).
pub fn withheld(
    snapshot: &Snapshot,
    owner: &str,
    target: &str,
    exclude: &[String],
) -> Result<Withheld> {
    let mut out = Withheld::default();
    out.insert(owner, target);
    for q in declared(snapshot)? {
        out.0.insert(q);
    }
    for (label, target) in crate::registry::registered_targets(snapshot)? {
        out.insert(&label, &target);
    }
    for e in exclude {
        let qualified = if e.contains('.') {
            e.clone()
        } else {
            format!("{owner}.{e}")
        };
        let (o, p) = parse_qualified(snapshot, &qualified)?;
        out.insert(&o, &p);
    }
    Ok(out)
}

impl Database {
    /// Declare `owner.property` (a label's or an edge type's property) a label: no model reads
    /// it, or any aggregate of it, as an input. Declaring twice is a no-op.
    pub fn declare_label_property(&self, qualified: &str) -> Result<()> {
        self.store().write(|txn| {
            let snapshot = self.snapshot();
            let (owner, property) = parse_qualified(&snapshot, qualified)?;
            let mut all = declared(&snapshot)?;
            let name = format!("{owner}.{property}");
            if !all.contains(&name) {
                all.push(name);
                all.sort();
                let bytes = serde_json::to_vec(&all)
                    .map_err(|e| Error::Corrupt(format!("label properties: {e}")))?;
                txn.set_meta(ENTRY, bytes);
            }
            Ok(())
        })
    }

    /// The declared label properties, sorted.
    pub fn label_properties(&self) -> Result<Vec<String>> {
        declared(&self.snapshot())
    }
}
