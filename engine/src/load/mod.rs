//! Bulk load of nodes and edges from CSV and Parquet, streaming in atomic batches.
//!
//! A load reads its file once, in order, holding one batch of rows (plus the type-inference
//! sample) in memory. Each batch is one write transaction: it commits completely or not at all.
//! On bad input the load stops with an error naming file, line and column; batches committed
//! before it stay, the failing batch leaves no trace. Node loads are idempotent (upserts by key),
//! so a failed node load is resumed by running it again. Edge loads record how many rows of the
//! file they have committed (in the same transaction as the edges); `resume` skips those rows,
//! so a failed edge load continues where it stopped instead of adding parallel edges twice.
//! Resuming a file whose loaded rows have changed, and loading again without `resume` a file
//! whose rows are already loaded, are refused: checkpoints record the file and a digest of the
//! rows committed.

mod checkpoint;
mod csv_source;
mod parquet_source;

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::catalog::{HasProperties, PropType, PropertyDef, Value};
use crate::error::{Error, Location, Result};
use crate::graph::{GraphStore, Prepared};
use crate::keys::{CatalogId, Micros, NodeId};
use crate::record::{normalize_props, Props};
use crate::time::{parse_time, seconds_to_micros};
use checkpoint::{Checkpoint, FileIdentity, RowDigest};

pub use csv_source::{CsvOptions, TextEncoding};

/// One field of an input row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Empty field or null.
    Null,
    /// Text to be parsed by the column's type (CSV).
    Text(String),
    /// An already typed value (Parquet).
    Typed(Value),
}

/// One input row with its position.
#[derive(Debug, Clone)]
pub struct SourceRow {
    /// 1-based line (CSV) or data row (Parquet).
    pub line: u64,
    /// Fields, one per column.
    pub cells: Vec<Cell>,
}

/// A streaming source of rows.
pub(crate) trait RowSource: Send {
    /// Column names (`0`, `1`, ... for headerless CSV).
    fn columns(&self) -> &[String];
    /// Column types known from the file itself (Parquet), else `None` per column.
    fn known_types(&self) -> Vec<Option<PropType>>;
    /// The next row, or `None` at the end.
    fn next_row(&mut self) -> Result<Option<SourceRow>>;
    /// Bytes consumed so far and the file size, for progress.
    fn progress(&self) -> (u64, u64);
    /// The file being read.
    fn path(&self) -> &Path;
}

fn open_source(path: &Path, csv: &CsvOptions) -> Result<Box<dyn RowSource>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ext == "parquet" || ext == "pq" {
        Ok(Box::new(parquet_source::ParquetSource::open(path)?))
    } else {
        Ok(Box::new(csv_source::CsvSource::open(path, csv)?))
    }
}

/// Progress of a running load, reported after every committed batch.
#[derive(Debug, Clone, Default)]
pub struct LoadProgress {
    /// Bytes of the file read so far.
    pub bytes_read: u64,
    /// Size of the file.
    pub total_bytes: u64,
    /// Data rows committed so far (including rows skipped by `resume`).
    pub rows_committed: u64,
    /// Batches committed so far.
    pub batches_committed: u64,
}

/// What a finished load did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Data rows read (excluding rows skipped by `resume`).
    pub rows: u64,
    /// Rows skipped because an earlier run had committed them.
    pub skipped_rows: u64,
    /// Nodes created.
    pub nodes_created: u64,
    /// Existing nodes updated.
    pub nodes_updated: u64,
    /// Edges inserted.
    pub edges_inserted: u64,
    /// Batches committed.
    pub batches: u64,
    /// Wall time in milliseconds.
    pub millis: u64,
}

/// Options shared by node and edge loads.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// CSV dialect.
    pub csv: CsvOptions,
    /// Type overrides (`--schema col:type,...`).
    pub schema: Vec<(String, PropType)>,
    /// Rows per atomic batch, at most.
    pub batch_rows: usize,
    /// A batch also ends once its encoded changes reach this many bytes, so that files of wide
    /// rows do not hold `batch_rows` of them in memory.
    pub batch_bytes: usize,
    /// Rows sampled for type inference.
    pub infer_rows: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            csv: CsvOptions::default(),
            schema: Vec::new(),
            // Large batches are what make bulk loads fast: each batch's degree updates are summed
            // per node before they are written, and each one adds a level-0 table file that
            // compaction has to merge. 1,000,000 payments encode to about 220 MiB.
            batch_rows: 1_000_000,
            batch_bytes: 256 << 20,
            infer_rows: 10_000,
        }
    }
}

/// Parse `col:type,col:type` (the `--schema` option).
pub fn parse_schema_overrides(text: &str) -> Result<Vec<(String, PropType)>> {
    text.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|item| {
            let (col, ty) = item.rsplit_once(':').ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "--schema item '{item}' is not of the form column:type"
                ))
            })?;
            Ok((col.trim().to_string(), PropType::parse(ty)?))
        })
        .collect()
}

/// A node load: `argus load nodes LABEL FILE --key COL`.
#[derive(Debug, Clone)]
pub struct NodeLoad {
    /// Label to load into (created if new).
    pub label: String,
    /// Input file (CSV, or Parquet by extension `.parquet`).
    pub file: PathBuf,
    /// Key column, by name (or 0-based index without a header).
    pub key: String,
    /// Shared options.
    pub options: LoadOptions,
}

/// An edge load: `argus load edges TYPE FILE --src LABEL:COL --dst LABEL:COL`.
#[derive(Debug, Clone)]
pub struct EdgeLoad {
    /// Edge type to load into (created if new).
    pub edge_type: String,
    /// Input file.
    pub file: PathBuf,
    /// Source label.
    pub src_label: String,
    /// Source key column.
    pub src_column: String,
    /// Destination label.
    pub dst_label: String,
    /// Destination key column.
    pub dst_column: String,
    /// Time column, if any.
    pub time_column: Option<String>,
    /// Declare the type undirected when it is created.
    pub undirected: bool,
    /// Create endpoint nodes that do not exist instead of failing.
    pub create_missing_nodes: bool,
    /// Skip the rows an earlier run of this load committed.
    pub resume: bool,
    /// Load every row even where an earlier load committed the same rows (from this file or
    /// one of the same content): they are added again, as parallel edges.
    pub again: bool,
    /// Shared options.
    pub options: LoadOptions,
}

impl EdgeLoad {
    /// A directed edge load with a time column and default options: endpoints given as
    /// `(label, key column)`, missing endpoints refused, no resume.
    pub fn new(
        edge_type: &str,
        file: PathBuf,
        src: (&str, &str),
        dst: (&str, &str),
        time: &str,
    ) -> EdgeLoad {
        EdgeLoad {
            edge_type: edge_type.into(),
            file,
            src_label: src.0.into(),
            src_column: src.1.into(),
            dst_label: dst.0.into(),
            dst_column: dst.1.into(),
            time_column: Some(time.into()),
            undirected: false,
            create_missing_nodes: false,
            resume: false,
            again: false,
            options: LoadOptions::default(),
        }
    }
}

fn find_column(columns: &[String], name: &str, what: &str, path: &Path) -> Result<usize> {
    columns.iter().position(|c| c == name).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{}: no {what} column '{name}' (columns: {})",
            path.display(),
            columns.join(", ")
        ))
    })
}

/// Infer a column type from sample text values: int, then float, bool, timestamp, else string.
pub fn infer_type<'a>(values: impl Iterator<Item = &'a str>) -> PropType {
    let (mut int, mut float, mut boolean, mut time, mut any) = (true, true, true, true, false);
    for v in values {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        any = true;
        int &= v.parse::<i64>().is_ok();
        float &= v.parse::<f64>().is_ok();
        boolean &= parse_bool(v).is_some();
        // Plain numbers stay numbers; only RFC 3339-looking text is inferred as a timestamp.
        time &= v.contains('-') && v.len() >= 10 && parse_time(v).is_ok();
    }
    match (any, int, float, boolean, time) {
        (false, ..) => PropType::String,
        (_, true, ..) => PropType::Int,
        (_, _, true, ..) => PropType::Float,
        (_, _, _, true, _) => PropType::Bool,
        (_, _, _, _, true) => PropType::Timestamp,
        _ => PropType::String,
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" => Some(true),
        "false" | "f" | "no" => Some(false),
        _ => None,
    }
}

fn parse_vector(v: &str, n: u32) -> std::result::Result<Vec<f32>, String> {
    let inner = v.trim().trim_start_matches('[').trim_end_matches(']');
    let parts: std::result::Result<Vec<f32>, _> = inner
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<f32>())
        .collect();
    match parts {
        Ok(p) if p.len() == n as usize => Ok(p),
        Ok(p) => Err(format!("expected a vector of {n} floats, got {}", p.len())),
        Err(_) => Err(format!("'{v}' is not a vector of floats (e.g. [0.5,1,2])")),
    }
}

/// Convert one cell to a value of `ty`; `Ok(None)` for nulls.
pub fn cell_value(cell: &Cell, ty: PropType) -> std::result::Result<Option<Value>, String> {
    let text = match cell {
        Cell::Null => return Ok(None),
        Cell::Typed(v) => return v.clone().coerce(ty).map(Some),
        Cell::Text(t) => t.as_str(),
    };
    if text.is_empty() {
        return Ok(None);
    }
    let t = text.trim();
    let v = match ty {
        PropType::Int => Value::Int(
            t.parse()
                .map_err(|_| format!("'{text}' is not an integer"))?,
        ),
        PropType::Float => {
            Value::Float(t.parse().map_err(|_| format!("'{text}' is not a number"))?)
        }
        PropType::Bool => Value::Bool(
            parse_bool(t).ok_or_else(|| format!("'{text}' is not a boolean (true/false)"))?,
        ),
        PropType::String => Value::String(text.to_string()),
        PropType::Timestamp => Value::Timestamp(parse_time(t)?),
        PropType::Vector(n) => Value::Vector(parse_vector(t, n)?),
    };
    Ok(Some(v))
}

fn cell_key(cell: &Cell) -> Option<Cow<'_, str>> {
    match cell {
        Cell::Null => None,
        Cell::Text(t) if t.is_empty() => None,
        Cell::Text(t) => Some(Cow::Borrowed(t)),
        Cell::Typed(v) => Some(Cow::Owned(v.to_string())),
    }
}

/// Key → id of one label's nodes, hashed with a fast non-cryptographic hasher (the keys are the
/// user's own data, loaded by the user).
type KeyCache = HashMap<CachedKey, NodeId, rustc_hash::FxBuildHasher>;

/// Longest key a [`CachedKey`] holds without a heap allocation.
const INLINE_KEY_BYTES: usize = 22;

/// A node key in the loader's key cache. Keys are mostly short ids, and these are stored in the
/// hash table's slot itself: a lookup in a cache of millions of keys then compares the key
/// where it already is, instead of following a pointer to a string elsewhere in memory (a
/// second cache miss per lookup, two lookups per edge).
#[derive(Debug, Clone)]
enum CachedKey {
    Inline {
        len: u8,
        bytes: [u8; INLINE_KEY_BYTES],
    },
    Heap(Box<[u8]>),
}

impl CachedKey {
    fn new(key: &[u8]) -> CachedKey {
        if key.len() <= INLINE_KEY_BYTES {
            let mut bytes = [0; INLINE_KEY_BYTES];
            bytes[..key.len()].copy_from_slice(key);
            CachedKey::Inline {
                len: key.len() as u8,
                bytes,
            }
        } else {
            CachedKey::Heap(key.into())
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            CachedKey::Inline { len, bytes } => &bytes[..*len as usize],
            CachedKey::Heap(s) => s,
        }
    }
}

// Looked up by the key's bytes: hash and equality are those of `[u8]`, as `Borrow` requires.
impl std::borrow::Borrow<[u8]> for CachedKey {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl std::hash::Hash for CachedKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl PartialEq for CachedKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for CachedKey {}

/// Fill `cache` with every key of `label` when one sequential scan of its key dictionary is
/// cheaper than the point lookups the file would need: when the label has no more nodes than
/// the file has rows (estimated from its size).
fn prefetch_keys(
    store: &GraphStore,
    label: CatalogId,
    estimated_rows: u64,
    cache: &mut KeyCache,
) -> Result<()> {
    let snapshot = store.snapshot();
    if snapshot.node_count(label)? > estimated_rows {
        return Ok(());
    }
    let prefix = crate::keys::key_to_id_prefix(label);
    let upper = crate::keys::prefix_successor(&prefix);
    for item in snapshot.view().scan(&prefix, &upper, false) {
        let (k, v) = item?;
        let (_, key) = crate::keys::decode_key_to_id_key(&k)?;
        cache.insert(CachedKey::new(key), crate::keys::decode_u64(&v)?);
    }
    Ok(())
}

fn cell_time(cell: &Cell) -> std::result::Result<Option<Micros>, String> {
    match cell {
        Cell::Null => Ok(None),
        Cell::Text(t) if t.is_empty() => Ok(None),
        Cell::Text(t) => parse_time(t).map(Some),
        Cell::Typed(Value::Timestamp(t)) => Ok(Some(*t)),
        Cell::Typed(Value::Int(s)) => s
            .checked_mul(1_000_000)
            .map(Some)
            .ok_or_else(|| format!("time {s} (Unix seconds) is out of range")),
        Cell::Typed(Value::Float(s)) => seconds_to_micros(*s)
            .map(Some)
            .ok_or_else(|| format!("time {s:e} (Unix seconds) is out of range")),
        Cell::Typed(Value::String(s)) => parse_time(s).map(Some),
        Cell::Typed(v) => Err(format!("a {} value is not a time", v.prop_type())),
    }
}

/// A column that becomes a property: its position in the row and its catalog slot.
struct PropColumn {
    source: usize,
    name: String,
    ty: PropType,
    index: u16,
}

/// Rows of a load's first batch after which its buffers are sized for the whole batch.
const SIZING_ROWS: u64 = 4096;

/// Rows handed to the reader thread's channel at a time.
const CHUNK_ROWS: usize = 4096;
/// Chunks the reader thread may run ahead; bounds memory to a few batches.
const CHUNKS_AHEAD: usize = 16;

/// Rows, each with the [`RowDigest`] of the header and every row up to it.
type Chunk = Result<(Vec<(SourceRow, u64)>, (u64, u64))>;

/// Reads the inference sample, then hands out rows in order. Parsing runs on its own thread,
/// ahead of the transaction that consumes the rows, so parsing and committing overlap. The
/// running digest a checkpoint records is computed there too, off the loading thread.
struct Rows {
    columns: Vec<String>,
    path: PathBuf,
    known: Vec<Option<PropType>>,
    buffered: std::collections::VecDeque<(SourceRow, u64)>,
    source: Option<Box<dyn RowSource>>,
    chunks: Option<std::sync::mpsc::Receiver<Chunk>>,
    progress: (u64, u64),
    /// Digest of the header and the rows read from the source so far.
    read_digest: RowDigest,
    /// Digest of the header and the rows handed out so far.
    digest: u64,
}

impl Rows {
    fn open(path: &Path, options: &LoadOptions) -> Result<Rows> {
        let mut source = open_source(path, &options.csv)?;
        let mut read_digest = RowDigest::of_columns(source.columns());
        let digest = read_digest.0;
        let mut buffered = std::collections::VecDeque::new();
        while buffered.len() < options.infer_rows {
            match source.next_row()? {
                Some(r) => {
                    read_digest.add_row(&r);
                    buffered.push_back((r, read_digest.0));
                }
                None => break,
            }
        }
        Ok(Rows {
            columns: source.columns().to_vec(),
            path: source.path().to_path_buf(),
            known: source.known_types(),
            progress: source.progress(),
            buffered,
            source: Some(source),
            chunks: None,
            read_digest,
            digest,
        })
    }

    /// Start the parsing thread. It stops by itself when the consumer drops the receiver.
    fn start_reader(&mut self) {
        let Some(mut source) = self.source.take() else {
            return;
        };
        let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(CHUNKS_AHEAD);
        let mut digest = self.read_digest;
        std::thread::spawn(move || loop {
            let mut chunk = Vec::with_capacity(CHUNK_ROWS);
            let mut failed = None;
            while chunk.len() < CHUNK_ROWS {
                match source.next_row() {
                    Ok(Some(r)) => {
                        digest.add_row(&r);
                        chunk.push((r, digest.0));
                    }
                    Ok(None) => break,
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            let end = chunk.len() < CHUNK_ROWS;
            if !chunk.is_empty() && tx.send(Ok((chunk, source.progress()))).is_err() {
                return;
            }
            if let Some(e) = failed {
                let _ = tx.send(Err(e));
                return;
            }
            if end {
                return;
            }
        });
        self.chunks = Some(rx);
    }

    fn next(&mut self) -> Result<Option<SourceRow>> {
        if let Some((r, digest)) = self.buffered.pop_front() {
            self.digest = digest;
            return Ok(Some(r));
        }
        if self.chunks.is_none() {
            self.start_reader();
        }
        let Some(rx) = &self.chunks else {
            return Ok(None);
        };
        match rx.recv() {
            Ok(Ok((rows, progress))) => {
                self.progress = progress;
                self.buffered.extend(rows);
                Ok(self.buffered.pop_front().map(|(r, digest)| {
                    self.digest = digest;
                    r
                }))
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Ok(None),
        }
    }

    fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Types of the property columns: override, else the catalog's, else the file's, else
    /// inferred from the sample.
    fn column_types(
        &self,
        overrides: &[(String, PropType)],
        existing: &dyn Fn(&str) -> Option<PropType>,
    ) -> Vec<PropType> {
        self.columns()
            .iter()
            .enumerate()
            .map(|(i, name)| {
                if let Some((_, t)) = overrides.iter().find(|(c, _)| c == name) {
                    return *t;
                }
                if let Some(t) = existing(name) {
                    return t;
                }
                if let Some(t) = self.known.get(i).copied().flatten() {
                    return t;
                }
                infer_type(
                    self.buffered
                        .iter()
                        .filter_map(|(r, _)| match r.cells.get(i) {
                            Some(Cell::Text(t)) => Some(t.as_str()),
                            _ => None,
                        }),
                )
            })
            .collect()
    }

    fn location(&self, line: u64, column: Option<usize>) -> Box<Location> {
        Box::new(Location {
            file: self.path.clone(),
            line,
            column: column.map(|c| c + 1),
            column_name: column.and_then(|c| self.columns().get(c).cloned()),
        })
    }

    /// Rows in the whole file, estimated from the bytes the sample took.
    fn estimated_rows(&self) -> u64 {
        let (read, total) = self.progress();
        let sampled = self.buffered.len() as u64;
        if read == 0 || sampled == 0 {
            return sampled;
        }
        (total as f64 / read as f64 * sampled as f64).ceil() as u64
    }

    /// [`RowDigest`] of the header and every row [`Rows::next`] has returned.
    fn digest(&self) -> u64 {
        self.digest
    }

    /// Bytes parsed so far (by the reader thread, which may run a little ahead) and file size.
    fn progress(&self) -> (u64, u64) {
        match &self.source {
            Some(s) => s.progress(),
            None => self.progress,
        }
    }
}

fn check_overrides(
    overrides: &[(String, PropType)],
    columns: &[String],
    path: &Path,
) -> Result<()> {
    for (c, _) in overrides {
        if !columns.contains(c) {
            return Err(Error::InvalidArgument(format!(
                "{}: --schema names column '{c}', which the file does not have (columns: {})",
                path.display(),
                columns.join(", ")
            )));
        }
    }
    Ok(())
}

fn row_props(rows: &Rows, row: &SourceRow, columns: &[PropColumn]) -> Result<Props> {
    let mut props = Vec::with_capacity(columns.len());
    for c in columns {
        let cell = row.cells.get(c.source).unwrap_or(&Cell::Null);
        match cell_value(cell, c.ty) {
            Ok(Some(v)) => props.push((c.index, v)),
            Ok(None) => {}
            Err(message) => {
                return Err(Error::Input {
                    location: rows.location(row.line, Some(c.source)),
                    message: format!("{message} (column '{}' is {})", c.name, c.ty),
                })
            }
        }
    }
    Ok(normalize_props(props))
}

fn elapsed_ms(start: Instant) -> u64 {
    start.elapsed().as_millis() as u64
}

/// Load nodes; `observe` is called after every committed batch.
pub fn load_nodes(
    store: &GraphStore,
    spec: &NodeLoad,
    observe: &mut dyn FnMut(&LoadProgress),
) -> Result<LoadReport> {
    let start = Instant::now();
    let mut rows = Rows::open(&spec.file, &spec.options)?;
    let path = spec.file.clone();
    let columns = rows.columns().to_vec();
    let key_col = find_column(&columns, &spec.key, "key", &path)?;
    check_overrides(&spec.options.schema, &columns, &path)?;
    let catalog = store.catalog();
    let existing = catalog.label(&spec.label).ok().cloned();
    let types = rows.column_types(&spec.options.schema, &|name| {
        existing
            .as_ref()
            .and_then(|l| l.property_index(name).map(|i| l.properties[i].ty))
    });
    let prop_sources: Vec<usize> = (0..columns.len()).filter(|&i| i != key_col).collect();

    let mut report = LoadReport::default();
    let mut prop_columns: Vec<PropColumn> = Vec::new();
    let mut label_id: Option<CatalogId> = None;
    let mut done = false;
    while !done {
        let (batch_report, finished) = store.write(|txn| {
            let lid = match label_id {
                Some(id) => id,
                None => {
                    // First batch: declare the label and its properties in the same transaction.
                    if txn.catalog().label(&spec.label).is_err() {
                        txn.create_label(&spec.label, &columns[key_col], Vec::new())?;
                    }
                    prop_columns.clear();
                    for &i in &prop_sources {
                        let index = txn.add_label_property(
                            &spec.label,
                            PropertyDef {
                                name: columns[i].clone(),
                                ty: types[i],
                            },
                        )?;
                        prop_columns.push(PropColumn {
                            source: i,
                            name: columns[i].clone(),
                            ty: types[i],
                            index: index as u16,
                        });
                    }
                    txn.catalog().label(&spec.label)?.id
                }
            };
            let mut r = LoadReport::default();
            while (r.rows as usize) < spec.options.batch_rows
                && txn.approx_bytes() < spec.options.batch_bytes
            {
                let Some(row) = rows.next()? else {
                    return Ok((r, true));
                };
                let key =
                    row.cells
                        .get(key_col)
                        .and_then(cell_key)
                        .ok_or_else(|| Error::Input {
                            location: rows.location(row.line, Some(key_col)),
                            message: "empty node key".into(),
                        })?;
                let props = row_props(&rows, &row, &prop_columns)?;
                let (_, created) = txn.upsert_node_resolved(lid, &key, props)?;
                if created {
                    r.nodes_created += 1;
                } else {
                    r.nodes_updated += 1;
                }
                r.rows += 1;
            }
            Ok((r, false))
        })?;
        label_id = Some(store.catalog().label(&spec.label)?.id);
        done = finished;
        if batch_report.rows == 0 && report.batches > 0 {
            break;
        }
        report.rows += batch_report.rows;
        report.nodes_created += batch_report.nodes_created;
        report.nodes_updated += batch_report.nodes_updated;
        report.batches += 1;
        let (bytes_read, total_bytes) = rows.progress();
        observe(&LoadProgress {
            bytes_read,
            total_bytes,
            rows_committed: report.rows,
            batches_committed: report.batches,
        });
    }
    report.millis = elapsed_ms(start);
    Ok(report)
}

/// Meta-name prefix of the checkpoints of loads into `edge_type`.
fn checkpoint_prefix(edge_type: &str) -> String {
    format!("load/{edge_type}/")
}

/// The canonical path of `file` as checkpoints name it.
fn canonical_name(file: &Path) -> String {
    let canonical = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    canonical.display().to_string()
}

/// A checkpoint as stored: its meta name, and the path of the file it was written for.
#[derive(Debug, Clone)]
struct StoredCheckpoint {
    name: Vec<u8>,
    path: String,
    checkpoint: Checkpoint,
}

/// Every checkpoint of loads into `edge_type`: those keyed by the file's opening rows, and those
/// of older versions keyed by the file's path (`load/TYPE//abs/path`).
fn stored_checkpoints(store: &GraphStore, edge_type: &str) -> Result<Vec<StoredCheckpoint>> {
    let prefix = checkpoint_prefix(edge_type);
    let lower = crate::keys::meta_key(prefix.as_bytes());
    let mut upper = lower.clone();
    *upper.last_mut().expect("the prefix ends in '/'") += 1;
    let mut found = Vec::new();
    for pair in store.backend().scan(&lower, &upper, false) {
        let (key, value) = pair?;
        let name = key[1..].to_vec();
        let checkpoint = Checkpoint::decode(&value)?;
        let path = match &checkpoint.path {
            Some(p) => p.clone(),
            None => String::from_utf8_lossy(&name[prefix.len()..]).into_owned(),
        };
        found.push(StoredCheckpoint {
            name,
            path,
            checkpoint,
        });
    }
    Ok(found)
}

/// A fresh meta name for the first checkpoint of a load of rows opening with `opening`.
fn new_checkpoint_name(edge_type: &str, opening: u64, taken: &[StoredCheckpoint]) -> Vec<u8> {
    let prefix = checkpoint_prefix(edge_type);
    (0u64..)
        .map(|n| format!("{prefix}#{opening:016x}-{n}").into_bytes())
        .find(|name| taken.iter().all(|t| &t.name != name))
        .expect("a free checkpoint name")
}

/// [`RowDigest`] of `file`'s header and first row (`None` for a file without rows).
fn opening_digest(file: &Path, options: &LoadOptions) -> Result<Option<u64>> {
    let mut rows = Rows::open(file, options)?;
    Ok(rows.next()?.map(|_| rows.digest()))
}

/// One file as the checkpoints see it: its canonical path, identity and opening digest, and
/// every checkpoint of the edge type it loads into.
struct FileCheckpoints {
    path: String,
    identity: FileIdentity,
    opening: Option<u64>,
    stored: Vec<StoredCheckpoint>,
}

impl FileCheckpoints {
    fn read(store: &GraphStore, spec: &EdgeLoad) -> Result<FileCheckpoints> {
        Ok(FileCheckpoints {
            path: canonical_name(&spec.file),
            identity: FileIdentity::of(&spec.file)?,
            opening: opening_digest(&spec.file, &spec.options)?,
            stored: stored_checkpoints(store, &spec.edge_type)?,
        })
    }

    /// The checkpoint of the most rows that the file begins with: one written for a file of
    /// the same opening rows, whatever its name, whose first 64 KiB are this file's or whose
    /// row digest its first rows reproduce. Checkpoints of older versions, found only by
    /// path, count as loaded rows of the file at that path.
    fn loaded_part(&self, spec: &EdgeLoad) -> Result<Option<&StoredCheckpoint>> {
        let mut matched: Vec<&StoredCheckpoint> = Vec::new();
        // Candidates whose rows must be read to tell, by rows loaded.
        let mut to_read: Vec<&StoredCheckpoint> = Vec::new();
        for s in self.stored.iter().filter(|s| s.checkpoint.rows > 0) {
            let c = &s.checkpoint;
            let candidate = match c.opening {
                Some(o) => self.opening == Some(o),
                None => s.path == self.path,
            };
            if !candidate {
                continue;
            }
            if c.file.map(|f| f.head_hash) == Some(self.identity.head_hash) || c.digest.is_none() {
                // The same first 64 KiB, or an older checkpoint that cannot tell: assume the
                // worst.
                matched.push(s);
            } else {
                to_read.push(s);
            }
        }
        to_read.sort_by_key(|s| s.checkpoint.rows);
        if !to_read.is_empty() {
            let mut rows = Rows::open(&spec.file, &spec.options)?;
            let mut read = 0u64;
            'candidates: for s in to_read {
                while read < s.checkpoint.rows {
                    match rows.next() {
                        Ok(Some(_)) => {}
                        // Fewer rows (or an unreadable one) than this candidate and every later
                        // one.
                        _ => break 'candidates,
                    }
                    read += 1;
                }
                if s.checkpoint.digest == Some(rows.digest()) {
                    matched.push(s);
                }
            }
        }
        Ok(matched.into_iter().max_by_key(|s| s.checkpoint.rows))
    }

    /// The checkpoint of the most rows among those `same` selects.
    fn most_rows(&self, same: impl Fn(&StoredCheckpoint) -> bool) -> Option<&StoredCheckpoint> {
        self.stored
            .iter()
            .filter(|s| s.checkpoint.rows > 0 && same(s))
            .max_by_key(|s| s.checkpoint.rows)
    }
}

/// Rows of `spec`'s file an earlier load into its edge type committed, under this name or any
/// other (0 if none).
pub fn edge_load_checkpoint(store: &GraphStore, spec: &EdgeLoad) -> Result<u64> {
    let known = FileCheckpoints::read(store, spec)?;
    Ok(known.loaded_part(spec)?.map_or(0, |s| s.checkpoint.rows))
}

fn already_loaded(spec: &EdgeLoad, path: &str, loaded: &StoredCheckpoint) -> Error {
    let source = if loaded.path == path {
        "by an earlier load of this file".to_string()
    } else {
        format!("from {} (the same rows under another name)", loaded.path)
    };
    Error::InvalidArgument(format!(
        "{}: its first {} rows were already loaded into edge type '{}' {source}, and loading them again would add them a second time as parallel edges; re-run with --resume to load only the rows after them (none if that load finished), or, to add them again on purpose, with --again",
        spec.file.display(),
        loaded.checkpoint.rows,
        spec.edge_type
    ))
}

fn overlaps_loaded(spec: &EdgeLoad, loaded: &StoredCheckpoint, rows_found: u64) -> Error {
    let how = if rows_found < loaded.checkpoint.rows {
        format!("it has only {rows_found} rows, which may all be among them")
    } else {
        "its rows differ from them further on".to_string()
    };
    Error::InvalidArgument(format!(
        "{}: it opens with the same row as {}, whose first {} rows were loaded into edge type '{}', but it does not begin with all of those rows ({how}), so loading it could add rows a second time as parallel edges; if it is a different file, load it with --again; if it is that file, restore the rows that were loaded and re-run with --resume",
        spec.file.display(),
        loaded.path,
        loaded.checkpoint.rows,
        spec.edge_type
    ))
}

/// Rows of `file`, counting no further than `limit`.
fn count_rows(file: &Path, options: &LoadOptions, limit: u64) -> u64 {
    let Ok(mut rows) = Rows::open(file, options) else {
        return 0;
    };
    let mut n = 0;
    while n < limit && matches!(rows.next(), Ok(Some(_))) {
        n += 1;
    }
    n
}

fn changed_since_loaded(
    spec: &EdgeLoad,
    loaded: &Checkpoint,
    now: &FileIdentity,
    rows_found: u64,
) -> Error {
    let size = match loaded.file {
        Some(then) if then.size != now.size => {
            format!(" (it had {} bytes then, {} now)", then.size, now.size)
        }
        _ => String::new(),
    };
    let what = if rows_found < loaded.rows {
        format!("it now has only {rows_found} rows")
    } else {
        format!("its first {} rows are not the rows that were", loaded.rows)
    };
    Error::InvalidArgument(format!(
        "{}: cannot resume: {} rows of this file were loaded into edge type '{}', but the file has changed since{size} and {what}, so resuming would skip rows that were never loaded; restore the file that was loaded and re-run with --resume, or, if this is a different file to load in full, load it without --resume",
        spec.file.display(),
        loaded.rows,
        spec.edge_type
    ))
}

/// Load edges; `observe` is called after every committed batch.
pub fn load_edges(
    store: &GraphStore,
    spec: &EdgeLoad,
    observe: &mut dyn FnMut(&LoadProgress),
) -> Result<LoadReport> {
    let start = Instant::now();
    let mut rows = Rows::open(&spec.file, &spec.options)?;
    let path = spec.file.clone();
    let columns = rows.columns().to_vec();
    let src_col = find_column(&columns, &spec.src_column, "source key", &path)?;
    let dst_col = find_column(&columns, &spec.dst_column, "destination key", &path)?;
    let time_col = match &spec.time_column {
        Some(t) => Some(find_column(&columns, t, "time", &path)?),
        None => None,
    };
    check_overrides(&spec.options.schema, &columns, &path)?;
    let catalog = store.catalog();
    if !spec.create_missing_nodes {
        for l in [&spec.src_label, &spec.dst_label] {
            catalog.label(l).map_err(|e| {
                Error::NotFound(format!(
                    "{e}; load its nodes first or pass --create-missing-nodes"
                ))
            })?;
        }
    }
    let existing = catalog.edge_type(&spec.edge_type).ok().cloned();
    if let Some(t) = &existing {
        let (s, d) = (
            &catalog.label_by_id(t.src_label)?.name,
            &catalog.label_by_id(t.dst_label)?.name,
        );
        if s != &spec.src_label || d != &spec.dst_label {
            return Err(Error::Schema(format!(
                "edge type '{}' goes from '{s}' to '{d}', not from '{}' to '{}'",
                spec.edge_type, spec.src_label, spec.dst_label
            )));
        }
        if t.undirected != spec.undirected {
            return Err(Error::Schema(format!(
                "edge type '{}' is {}; drop or match --undirected",
                spec.edge_type,
                if t.undirected {
                    "undirected"
                } else {
                    "directed"
                }
            )));
        }
    }
    let types = rows.column_types(&spec.options.schema, &|name| {
        existing
            .as_ref()
            .and_then(|t| t.property_index(name).map(|i| t.properties[i].ty))
    });
    let prop_sources: Vec<usize> = (0..columns.len())
        .filter(|&i| i != src_col && i != dst_col && Some(i) != time_col)
        .collect();
    let known = FileCheckpoints::read(store, spec)?;
    let loaded = if spec.again {
        None
    } else {
        known.loaded_part(spec)?
    };
    let mut report = LoadReport::default();
    match loaded {
        Some(loaded) if spec.resume => {
            while report.skipped_rows < loaded.checkpoint.rows {
                if rows.next()?.is_none() {
                    break;
                }
                report.skipped_rows += 1;
            }
            let unchanged = match loaded.checkpoint.digest {
                Some(expected) => {
                    report.skipped_rows == loaded.checkpoint.rows && rows.digest() == expected
                }
                // Older checkpoints cannot tell; they resume as before.
                None => true,
            };
            if !unchanged {
                return Err(changed_since_loaded(
                    spec,
                    &loaded.checkpoint,
                    &known.identity,
                    report.skipped_rows,
                ));
            }
        }
        Some(loaded) => return Err(already_loaded(spec, &known.path, loaded)),
        None if spec.again => {}
        None => {
            // Rows were loaded from this path, or from a file opening with the same row, and
            // this file does not begin with them.
            let same_path = known.most_rows(|s| s.path == known.path);
            let same_opening = known
                .most_rows(|s| known.opening.is_some() && s.checkpoint.opening == known.opening);
            let found = |before: &StoredCheckpoint| {
                count_rows(&spec.file, &spec.options, before.checkpoint.rows)
            };
            if spec.resume {
                if let Some(before) = same_path.or(same_opening) {
                    return Err(changed_since_loaded(
                        spec,
                        &before.checkpoint,
                        &known.identity,
                        found(before),
                    ));
                }
            } else if let Some(before) = same_opening {
                return Err(overlaps_loaded(spec, before, found(before)));
            }
        }
    }
    let checkpoint = match loaded {
        Some(loaded) => loaded.name.clone(),
        None => new_checkpoint_name(&spec.edge_type, known.opening.unwrap_or(0), &known.stored),
    };

    // Key → id of endpoints seen so far. The pipeline holds the writer lock for the whole load,
    // so no other writer can delete a node behind this cache.
    let mut ids: [KeyCache; 2] = [KeyCache::default(), KeyCache::default()];
    let estimated_rows = rows.estimated_rows();
    for (side, label) in [&spec.src_label, &spec.dst_label].into_iter().enumerate() {
        if side == 1 && spec.dst_label == spec.src_label {
            break;
        }
        if let Ok(def) = catalog.label(label) {
            prefetch_keys(store, def.id, estimated_rows, &mut ids[side])?;
        }
    }
    let mut prop_columns: Vec<PropColumn> = Vec::new();
    let mut resolved: Option<(CatalogId, CatalogId, CatalogId)> = None;
    // Rows in the batches built so far (the checkpoint each batch writes) and in those committed.
    let mut built = report.skipped_rows;
    let mut committed = report.skipped_rows;
    let mut pipeline = store.pipeline();
    let mut committer = pipeline.committer();
    // Batch N is committed on its own thread while batch N+1 is read and built here.
    std::thread::scope(|scope| -> Result<()> {
        let (to_commit, queue) = std::sync::mpsc::sync_channel::<Prepared>(0);
        let (acks_tx, acks) = std::sync::mpsc::channel::<Result<()>>();
        scope.spawn(move || {
            for prepared in queue {
                let result = committer.commit(prepared);
                let failed = result.is_err();
                if acks_tx.send(result).is_err() || failed {
                    return;
                }
            }
        });
        let mut in_flight: Option<(LoadReport, (u64, u64))> = None;
        let mut await_commit = |in_flight: &mut Option<(LoadReport, (u64, u64))>,
                                committed: &mut u64,
                                report: &mut LoadReport|
         -> Result<()> {
            let Some((batch, (bytes_read, total_bytes))) = in_flight.take() else {
                return Ok(());
            };
            acks.recv()
                .map_err(|_| Error::Backend("the commit thread stopped".into()))??;
            *committed += batch.rows;
            report.rows += batch.rows;
            report.nodes_created += batch.nodes_created;
            report.edges_inserted += batch.edges_inserted;
            report.batches += 1;
            observe(&LoadProgress {
                bytes_read,
                total_bytes,
                rows_committed: *committed,
                batches_committed: report.batches,
            });
            Ok(())
        };
        let mut done = false;
        while !done {
            let result = pipeline.build(|txn| {
                let (tid, sl, dl) = match resolved {
                    Some(r) => r,
                    None => {
                        for (label, col) in [(&spec.src_label, src_col), (&spec.dst_label, dst_col)] {
                            if txn.catalog().label(label).is_err() {
                                txn.create_label(label, &columns[col], Vec::new())?;
                            }
                        }
                        if txn.catalog().edge_type(&spec.edge_type).is_err() {
                            txn.create_edge_type(&spec.edge_type, &spec.src_label, &spec.dst_label, spec.undirected, Vec::new())?;
                        }
                        prop_columns.clear();
                        for &i in &prop_sources {
                            let index = txn.add_edge_property(&spec.edge_type, PropertyDef { name: columns[i].clone(), ty: types[i] })?;
                            prop_columns.push(PropColumn { source: i, name: columns[i].clone(), ty: types[i], index: index as u16 });
                        }
                        let t = txn.catalog().edge_type(&spec.edge_type)?;
                        (t.id, t.src_label, t.dst_label)
                    }
                };
                let mut r = LoadReport::default();
                let mut finished = false;
                while (r.rows as usize) < spec.options.batch_rows && txn.approx_bytes() < spec.options.batch_bytes {
                    let Some(row) = rows.next()? else {
                        finished = true;
                        break;
                    };
                    let mut ends = [0 as NodeId; 2];
                    for (side, (col, label, label_name)) in
                        [(src_col, sl, &spec.src_label), (dst_col, dl, &spec.dst_label)].into_iter().enumerate()
                    {
                        let key = row.cells.get(col).and_then(cell_key).ok_or_else(|| Error::Input {
                            location: rows.location(row.line, Some(col)),
                            message: "empty node key".into(),
                        })?;
                        let cache_side = if sl == dl { 0 } else { side };
                        if let Some(id) = ids[cache_side].get(key.as_bytes()) {
                            ends[side] = *id;
                            continue;
                        }
                        let id = match txn.node_id(label, &key)? {
                            Some(id) => id,
                            None if spec.create_missing_nodes => {
                                let (id, _) = txn.upsert_node_resolved(label, &key, Vec::new())?;
                                r.nodes_created += 1;
                                id
                            }
                            None => {
                                return Err(Error::Input {
                                    location: rows.location(row.line, Some(col)),
                                    message: format!(
                                        "no {label_name} node with key '{key}' (load the nodes first, or pass --create-missing-nodes)"
                                    ),
                                })
                            }
                        };
                        ids[cache_side].insert(CachedKey::new(key.as_bytes()), id);
                        ends[side] = id;
                    }
                    let time = match time_col {
                        Some(c) => cell_time(row.cells.get(c).unwrap_or(&Cell::Null)).map_err(|message| Error::Input {
                            location: rows.location(row.line, Some(c)),
                            message,
                        })?,
                        None => None,
                    };
                    let props = row_props(&rows, &row, &prop_columns)?;
                    txn.insert_edge_resolved(tid, ends[0], ends[1], time, props)?;
                    r.edges_inserted += 1;
                    r.rows += 1;
                    if built == report.skipped_rows && r.rows == SIZING_ROWS {
                        let expected = estimated_rows.saturating_sub(built).min(spec.options.batch_rows as u64);
                        txn.reserve_fresh_for(SIZING_ROWS as usize, expected as usize);
                    }
                }
                let reached = Checkpoint {
                    rows: built + r.rows,
                    file: Some(known.identity),
                    digest: Some(rows.digest()),
                    opening: known.opening,
                    path: Some(known.path.clone()),
                };
                txn.set_meta(&checkpoint, reached.encode());
                Ok((r, finished, (tid, sl, dl)))
            });
            let ((batch_report, finished, ids_resolved), prepared) = match result {
                Ok(x) => x,
                Err(e) => {
                    await_commit(&mut in_flight, &mut committed, &mut report)?;
                    return Err(match e {
                        Error::Input { location, message } => Error::Input {
                            location,
                            message: format!(
                                "{message}; {committed} earlier rows were committed, this batch was not: fix the input and re-run with --resume to continue"
                            ),
                        },
                        other => other,
                    });
                }
            };
            await_commit(&mut in_flight, &mut committed, &mut report)?;
            to_commit
                .send(prepared)
                .map_err(|_| Error::Backend("the commit thread stopped".into()))?;
            built += batch_report.rows;
            in_flight = Some((batch_report, rows.progress()));
            resolved = Some(ids_resolved);
            done = finished;
        }
        await_commit(&mut in_flight, &mut committed, &mut report)
    })?;
    report.millis = elapsed_ms(start);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inference() {
        assert_eq!(infer_type(["1", "-2", ""].into_iter()), PropType::Int);
        assert_eq!(infer_type(["1", "2.5"].into_iter()), PropType::Float);
        assert_eq!(infer_type(["true", "F"].into_iter()), PropType::Bool);
        assert_eq!(
            infer_type(["2026-01-01T00:00:00Z"].into_iter()),
            PropType::Timestamp
        );
        assert_eq!(infer_type(["1767225600"].into_iter()), PropType::Int);
        assert_eq!(infer_type(["x", "1"].into_iter()), PropType::String);
        assert_eq!(infer_type(["", ""].into_iter()), PropType::String);
    }

    #[test]
    fn cells() {
        assert_eq!(
            cell_value(&Cell::Text("[1, 2]".into()), PropType::Vector(2)).unwrap(),
            Some(Value::Vector(vec![1.0, 2.0]))
        );
        assert!(cell_value(&Cell::Text("1;2;3".into()), PropType::Vector(2))
            .unwrap_err()
            .contains("2 floats"));
        assert!(cell_value(&Cell::Text("abc".into()), PropType::Int)
            .unwrap_err()
            .contains("'abc'"));
        assert_eq!(
            cell_value(&Cell::Text(String::new()), PropType::Int).unwrap(),
            None
        );
        assert_eq!(
            cell_time(&Cell::Text("10.5".into())).unwrap(),
            Some(10_500_000)
        );
    }

    #[test]
    fn schema_overrides() {
        let s = parse_schema_overrides("age:int, score:float,emb:vector(4)").unwrap();
        assert_eq!(s[2], ("emb".to_string(), PropType::Vector(4)));
        assert!(parse_schema_overrides("age").is_err());
        assert!(parse_schema_overrides("age:money").is_err());
    }
}
