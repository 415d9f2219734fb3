//! The model registry: trained models live in the database itself (the store's meta keyspace,
//! written in one durable transaction each), under a name with numbered versions. A version
//! records its hyperparameters, feature definition, metrics, the snapshot it was trained on and
//! when it was created. One version per name is deployed; deploying keeps a history, so
//! `rollback` returns to the version deployed before. Scoring uses the deployed version unless
//! a version is named.

use serde::{Deserialize, Serialize};

use argus_engine::keys::meta_key;
use argus_engine::time::format_micros;
use argus_engine::{Error, Result, Snapshot};
use argus_extensions::ml::metrics::Scores;

use crate::model::FraudModel;
use crate::train::TrainSpec;
use crate::Database;

/// The data a version was trained on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainedOn {
    /// Commit generation of the snapshot (within the process that trained it).
    pub generation: u64,
    /// Nodes in the projection.
    pub nodes: usize,
    /// Messages (edge directions) in the projection.
    pub messages: usize,
    /// Newest edge time seen (microseconds since the epoch).
    pub newest_edge: Option<i64>,
    /// Where the train/val/test parts came from.
    pub split: String,
    /// Training / validation / test node counts.
    pub parts: [usize; 3],
}

/// One registered version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// Model name.
    pub name: String,
    /// Version, from 1.
    pub version: u32,
    /// Creation time (microseconds since the epoch).
    pub created_at: i64,
    /// The training settings (hyperparameters of every family tried).
    pub spec: TrainSpec,
    /// Validation ROC-AUC of the kept model.
    #[serde(deserialize_with = "argus_extensions::ml::metrics::nan_from_null")]
    pub val_auc: f64,
    /// Its test metrics (NaN without test nodes).
    pub test: Scores,
    /// Training data.
    pub trained_on: TrainedOn,
    /// The model.
    pub model: FraudModel,
}

/// Deployment state of a name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Deployment {
    /// Deployed versions, oldest first; the last is live.
    history: Vec<u32>,
}

/// A line of `models list`.
#[derive(Clone, Debug, PartialEq)]
pub struct VersionSummary {
    /// Name.
    pub name: String,
    /// Version.
    pub version: u32,
    /// `gnn` or `trees`.
    pub family: String,
    /// `label.target`.
    pub predicts: String,
    /// Creation time, formatted.
    pub created_at: String,
    /// Validation ROC-AUC.
    pub val_auc: f64,
    /// Test ROC-AUC.
    pub test_auc: f64,
    /// Whether it is the deployed version of its name.
    pub deployed: bool,
}

/// Which kind of model a name belongs to: fraud models and recommenders keep separate
/// namespaces in the same registry, with the same versioning and deployment rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shelf {
    /// Fraud (node and transaction) models: `model/...`.
    Fraud,
    /// Recommenders: `recommender/...`.
    Recommender,
}

impl Shelf {
    fn prefix(self) -> &'static str {
        match self {
            Shelf::Fraud => "model",
            Shelf::Recommender => "recommender",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Shelf::Fraud => "model",
            Shelf::Recommender => "recommender",
        }
    }
}

fn version_entry(shelf: Shelf, name: &str, version: u32) -> String {
    format!("{}/{name}/v/{version:010}", shelf.prefix())
}

fn deployment_entry(shelf: Shelf, name: &str) -> String {
    format!("{}/{name}/deployed", shelf.prefix())
}

fn version_key(shelf: Shelf, name: &str, version: u32) -> Vec<u8> {
    meta_key(version_entry(shelf, name, version).as_bytes())
}

fn deployment_key(shelf: Shelf, name: &str) -> Vec<u8> {
    meta_key(deployment_entry(shelf, name).as_bytes())
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(Error::InvalidArgument(format!(
            "model name {name:?} must be letters, digits, '_' or '-'"
        )));
    }
    Ok(())
}

/// Encoded versions larger than this are stored in chunks of this size.
const CHUNK_BYTES: usize = 64 * 1024;

/// First bytes of a version record whose encoding is stored in chunks (never valid JSON),
/// followed by the chunk count (`u32`) and the total length (`u64`), little-endian.
const CHUNKED: &[u8] = b"\0chunked";

fn chunk_entry(shelf: Shelf, name: &str, version: u32, chunk: u32) -> String {
    format!("{}/{name}/c/{version:010}/{chunk:06}", shelf.prefix())
}

/// Write a version record. A large one (a model with a 100,000-item catalogue runs to
/// hundreds of megabytes) goes in chunks under its own keys with a small marker at the version
/// key: stored whole, it would share a data block with the small records beside it (the
/// deployment record), and every read of those would read the whole model.
fn put_version(
    txn: &mut argus_engine::graph::WriteTxn<'_>,
    shelf: Shelf,
    name: &str,
    version: u32,
    bytes: Vec<u8>,
) {
    if bytes.len() <= CHUNK_BYTES {
        txn.set_meta(version_entry(shelf, name, version).as_bytes(), bytes);
        return;
    }
    let chunks = bytes.chunks(CHUNK_BYTES);
    let count = chunks.len() as u32;
    for (i, chunk) in chunks.enumerate() {
        txn.set_meta(
            chunk_entry(shelf, name, version, i as u32).as_bytes(),
            chunk.to_vec(),
        );
    }
    let mut marker = CHUNKED.to_vec();
    marker.extend_from_slice(&count.to_le_bytes());
    marker.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    txn.set_meta(version_entry(shelf, name, version).as_bytes(), marker);
}

/// The encoding of a version record given what its version key holds (reassembled from its
/// chunks when chunked).
fn version_bytes(
    snapshot: &Snapshot,
    shelf: Shelf,
    name: &str,
    version: u32,
    stored: Vec<u8>,
) -> Result<Vec<u8>> {
    let Some(rest) = stored.strip_prefix(CHUNKED) else {
        return Ok(stored);
    };
    let corrupt = || {
        Error::Corrupt(format!(
            "{} {name} version {version}: bad chunk marker",
            shelf.noun()
        ))
    };
    let count = u32::from_le_bytes(
        rest.get(..4)
            .ok_or_else(corrupt)?
            .try_into()
            .map_err(|_| corrupt())?,
    );
    let total = u64::from_le_bytes(
        rest.get(4..12)
            .ok_or_else(corrupt)?
            .try_into()
            .map_err(|_| corrupt())?,
    ) as usize;
    let lower = meta_key(chunk_entry(shelf, name, version, 0).as_bytes());
    let upper = meta_key(chunk_entry(shelf, name, version, count).as_bytes());
    let mut out = Vec::with_capacity(total);
    let mut seen = 0u32;
    for pair in snapshot.view().scan(&lower, &upper, false) {
        out.extend_from_slice(&pair?.1);
        seen += 1;
    }
    if seen != count || out.len() != total {
        return Err(Error::Corrupt(format!(
            "{} {name} version {version}: {seen} of {count} chunks, {} of {total} bytes",
            shelf.noun(),
            out.len()
        )));
    }
    Ok(out)
}

/// `(name, version)` from a version key `…/<prefix>/<name>/v/<version>`.
fn name_and_version(key: &[u8]) -> Option<(String, u32)> {
    let text = std::str::from_utf8(key).ok()?;
    let (head, digits) = text.rsplit_once("/v/")?;
    let name = head.rsplit('/').next()?.to_string();
    Some((name, digits.parse().ok()?))
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::Corrupt(format!("{what}: {e}")))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::Corrupt(format!("encoding a model: {e}")))
}

/// Every version on `shelf` of `name` (all names when `None`), in (name, version) order.
fn versions<T: for<'de> Deserialize<'de>>(
    snapshot: &Snapshot,
    shelf: Shelf,
    name: Option<&str>,
) -> Result<Vec<T>> {
    let prefix = match name {
        Some(n) => format!("{}/{n}/v/", shelf.prefix()),
        None => format!("{}/", shelf.prefix()),
    };
    let lower = meta_key(prefix.as_bytes());
    let mut upper = lower.clone();
    *upper.last_mut().expect("non-empty prefix") += 1;
    let mut out = Vec::new();
    for pair in snapshot.view().scan(&lower, &upper, false) {
        let (key, value) = pair?;
        if let Some((name, version)) = name_and_version(&key) {
            let bytes = version_bytes(snapshot, shelf, &name, version, value.to_vec())?;
            out.push(decode::<T>(&bytes, "model version")?);
        }
    }
    Ok(out)
}

/// The version numbers on `shelf` of `name`, oldest first (reads the version keys only).
fn version_numbers(snapshot: &Snapshot, shelf: Shelf, name: &str) -> Result<Vec<u32>> {
    let lower = meta_key(format!("{}/{name}/v/", shelf.prefix()).as_bytes());
    let mut upper = lower.clone();
    *upper.last_mut().expect("non-empty prefix") += 1;
    let mut out = Vec::new();
    for pair in snapshot.view().scan(&lower, &upper, false) {
        let (key, _) = pair?;
        let digits = &key[key.len() - 10..];
        let version = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| Error::Corrupt(format!("model version key {key:?}")))?;
        out.push(version);
    }
    Ok(out)
}

/// The names on `shelf`, sorted. Reads one key per name: after a name's first key the scan
/// jumps past all its keys (names hold no '/', and '0' sorts right after '/'), so the size of
/// the models does not matter.
pub(crate) fn names(snapshot: &Snapshot, shelf: Shelf) -> Result<Vec<String>> {
    let prefix = format!("{}/", shelf.prefix());
    let mut lower = meta_key(prefix.as_bytes());
    let mut upper = lower.clone();
    *upper.last_mut().expect("non-empty prefix") += 1;
    let start = lower.len();
    let mut out = Vec::new();
    while let Some(pair) = snapshot.view().scan(&lower, &upper, false).next() {
        let (key, _) = pair?;
        let rest = &key[start..];
        let end = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
        let name = String::from_utf8(rest[..end].to_vec())
            .map_err(|_| Error::Corrupt(format!("{} name in key {key:?}", shelf.noun())))?;
        lower = key[..start + end].to_vec();
        lower.push(b'0');
        out.push(name);
    }
    out.sort();
    Ok(out)
}

/// What a fraud model version predicts, read without decoding the model itself.
#[derive(Deserialize)]
struct FraudHead {
    model: Predicts,
}

#[derive(Deserialize)]
struct Predicts {
    label: String,
    target: String,
}

/// The head of fraud model `name`'s `version`, from its version record `value`.
fn fraud_head(snapshot: &Snapshot, name: &str, version: u32, value: Vec<u8>) -> Result<FraudHead> {
    let bytes = version_bytes(snapshot, Shelf::Fraud, name, version, value)?;
    decode(&bytes, "model version")
}

/// `(label, target)` of every registered version: what models predict is a label, which no
/// other model may read as an input ([`crate::labels`]).
pub(crate) fn registered_targets(snapshot: &Snapshot) -> Result<Vec<(String, String)>> {
    let lower = meta_key(b"model/");
    let mut upper = lower.clone();
    *upper.last_mut().expect("non-empty prefix") += 1;
    let mut out = Vec::new();
    for pair in snapshot.view().scan(&lower, &upper, false) {
        let (key, value) = pair?;
        if let Some((name, version)) = name_and_version(&key) {
            let head = fraud_head(snapshot, &name, version, value.to_vec())?;
            out.push((head.model.label, head.model.target));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn deployment(snapshot: &Snapshot, shelf: Shelf, name: &str) -> Result<Deployment> {
    match snapshot.view().get(&deployment_key(shelf, name))? {
        Some(bytes) => decode(&bytes, "model deployment"),
        None => Ok(Deployment::default()),
    }
}

/// `version`, or the deployed version of `name` on `shelf` (reads only the small deployment
/// record).
pub(crate) fn resolve_version(
    snapshot: &Snapshot,
    shelf: Shelf,
    name: &str,
    version: Option<u32>,
) -> Result<u32> {
    check_name(name)?;
    match version {
        Some(v) => Ok(v),
        None => deployment(snapshot, shelf, name)?
            .history
            .last()
            .copied()
            .ok_or_else(|| Error::NotFound(format!("no {} named {name}", shelf.noun()))),
    }
}

/// Store `entry` as the next version of `name` on `shelf` (`set_version` writes the number
/// into it); the first version of a name is deployed at once, later ones when `deploy`.
pub(crate) fn register<T: Serialize>(
    db: &Database,
    shelf: Shelf,
    name: &str,
    mut entry: T,
    set_version: impl FnOnce(&mut T, u32),
    deploy: bool,
) -> Result<u32> {
    check_name(name)?;
    db.store().write(|txn| {
        let snapshot = db.snapshot();
        let version = version_numbers(&snapshot, shelf, name)?
            .last()
            .map_or(1, |v| v + 1);
        set_version(&mut entry, version);
        let mut deployed = deployment(&snapshot, shelf, name)?;
        put_version(txn, shelf, name, version, encode(&entry)?);
        if deploy || deployed.history.is_empty() {
            deployed.history.push(version);
            txn.set_meta(deployment_entry(shelf, name).as_bytes(), encode(&deployed)?);
        }
        Ok(version)
    })
}

/// Version `version` of `name` on `shelf`, or its deployed version.
pub(crate) fn load<T: for<'de> Deserialize<'de>>(
    db: &Database,
    shelf: Shelf,
    name: &str,
    version: Option<u32>,
) -> Result<T> {
    let snapshot = db.snapshot();
    let version = resolve_version(&snapshot, shelf, name, version)?;
    let stored = snapshot
        .view()
        .get(&version_key(shelf, name, version))?
        .ok_or_else(|| {
            Error::NotFound(format!("{} {name} has no version {version}", shelf.noun()))
        })?;
    let bytes = version_bytes(&snapshot, shelf, name, version, stored.to_vec())?;
    decode(&bytes, "model version")
}

/// Every version on `shelf` with whether it is the deployed one of its name.
pub(crate) fn list<T: for<'de> Deserialize<'de>>(
    db: &Database,
    shelf: Shelf,
    name_of: impl Fn(&T) -> &str,
) -> Result<Vec<(T, Option<u32>)>> {
    let snapshot = db.snapshot();
    let mut out = Vec::new();
    for v in versions::<T>(&snapshot, shelf, None)? {
        let live = deployment(&snapshot, shelf, name_of(&v))?
            .history
            .last()
            .copied();
        out.push((v, live));
    }
    Ok(out)
}

/// Make `version` the deployed version of `name` on `shelf`.
pub(crate) fn deploy(db: &Database, shelf: Shelf, name: &str, version: u32) -> Result<()> {
    check_name(name)?;
    db.store().write(|txn| {
        let snapshot = db.snapshot();
        if snapshot
            .view()
            .get(&version_key(shelf, name, version))?
            .is_none()
        {
            return Err(Error::NotFound(format!(
                "{} {name} has no version {version}",
                shelf.noun()
            )));
        }
        let mut deployed = deployment(&snapshot, shelf, name)?;
        if deployed.history.last() != Some(&version) {
            deployed.history.push(version);
        }
        txn.set_meta(deployment_entry(shelf, name).as_bytes(), encode(&deployed)?);
        Ok(())
    })
}

/// Return `name` on `shelf` to the version deployed before the live one; returns it.
pub(crate) fn rollback(db: &Database, shelf: Shelf, name: &str) -> Result<u32> {
    check_name(name)?;
    db.store().write(|txn| {
        let mut deployed = deployment(&db.snapshot(), shelf, name)?;
        if deployed.history.len() < 2 {
            return Err(Error::InvalidArgument(format!(
                "{} {name} has no earlier deployment to roll back to",
                shelf.noun()
            )));
        }
        deployed.history.pop();
        let live = *deployed.history.last().expect("checked above");
        txn.set_meta(deployment_entry(shelf, name).as_bytes(), encode(&deployed)?);
        Ok(live)
    })
}

/// The one name among `names` (sorted, possibly repeated per version): an error saying `none`
/// when there is none, and naming the choices when there are several.
pub(crate) fn only_name(mut names: Vec<String>, none: &str, plural: &str) -> Result<String> {
    names.dedup();
    match names.len() {
        1 => Ok(names.remove(0)),
        0 => Err(Error::NotFound(none.to_string())),
        _ => Err(Error::InvalidArgument(format!(
            "several {plural} are registered ({}): name one",
            names.join(", ")
        ))),
    }
}

impl Database {
    /// Store `version` (its `version` field is assigned) as the next version of its name;
    /// the first version of a name is deployed at once, later ones when `deploy` is true.
    /// Returns the version number.
    pub fn register_model(&self, version: ModelVersion, deploy: bool) -> Result<u32> {
        let name = version.name.clone();
        register(
            self,
            Shelf::Fraud,
            &name,
            version,
            |v, n| v.version = n,
            deploy,
        )
    }

    /// Every registered version.
    pub fn list_models(&self) -> Result<Vec<VersionSummary>> {
        Ok(list(self, Shelf::Fraud, |v: &ModelVersion| &v.name)?
            .into_iter()
            .map(|(v, live)| VersionSummary {
                family: v.model.kind.family().to_string(),
                predicts: format!("{}.{}", v.model.label, v.model.target),
                created_at: format_micros(v.created_at),
                val_auc: v.val_auc,
                test_auc: v.test.roc_auc,
                deployed: live == Some(v.version),
                name: v.name,
                version: v.version,
            })
            .collect())
    }

    /// The name to use when none is given: the only registered model (predicting nodes of
    /// `label`, when given); an error naming the choices when there are several.
    pub fn default_model(&self, label: Option<&str>) -> Result<String> {
        let snapshot = self.snapshot();
        let mut names = names(&snapshot, Shelf::Fraud)?;
        if let Some(label) = label {
            let mut predicting = Vec::with_capacity(names.len());
            for name in names {
                // Only the deployed version's head: what a call without a model would score.
                let version = resolve_version(&snapshot, Shelf::Fraud, &name, None)?;
                let bytes = snapshot
                    .view()
                    .get(&version_key(Shelf::Fraud, &name, version))?
                    .ok_or_else(|| {
                        Error::Corrupt(format!("model {name} lost version {version}"))
                    })?;
                if fraud_head(&snapshot, &name, version, bytes)?.model.label == label {
                    predicting.push(name);
                }
            }
            names = predicting;
        }
        let none = label.map_or("no model is registered".to_string(), |l| {
            format!("no model predicts {l}")
        });
        only_name(
            names,
            &format!("{none}: train one with `argus train fraud`"),
            "models",
        )
    }

    /// Version `version` of `name`, or its deployed version.
    pub fn model(&self, name: &str, version: Option<u32>) -> Result<ModelVersion> {
        load(self, Shelf::Fraud, name, version)
    }

    /// Make `version` the deployed version of `name`.
    pub fn deploy_model(&self, name: &str, version: u32) -> Result<()> {
        deploy(self, Shelf::Fraud, name, version)
    }

    /// Return `name` to the version deployed before the live one; returns that version.
    pub fn rollback_model(&self, name: &str) -> Result<u32> {
        rollback(self, Shelf::Fraud, name)
    }
}
