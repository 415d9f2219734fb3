//! Scans as Arrow record batches: the engine's columnar exchange format for SQL, export and ML.
//!
//! Catalog types map to Arrow as: int → Int64, float → Float64, bool → Boolean, string → Utf8,
//! timestamp → Timestamp(µs, "UTC"), vector(N) → FixedSizeList(Float32, N). A node table has the
//! key (named after the label's key column), `_id` (UInt64) and the properties; an edge table has
//! `edge_id`, `src`, `dst` (keys), `src_id`, `dst_id`, `time` and the properties. Batches are
//! produced lazily from a snapshot, so a scan of any size holds one batch in memory.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, FixedSizeListBuilder, Float32Builder, Float64Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::catalog::{HasProperties, PropType, PropertyDef, Value};
use crate::error::{Error, Result};
use crate::graph::Snapshot;
use crate::keys::{self, CatalogId, EdgeId, Micros, NodeId, NO_TIME};
use crate::record::{EdgeRecord, NodeRecord, Props};

/// The Arrow type of a property type.
pub fn arrow_type(ty: PropType) -> DataType {
    match ty {
        PropType::Int => DataType::Int64,
        PropType::Float => DataType::Float64,
        PropType::Bool => DataType::Boolean,
        PropType::String => DataType::Utf8,
        PropType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        PropType::Vector(n) => DataType::FixedSizeList(
            Arc::new(Field::new("item", DataType::Float32, true)),
            n as i32,
        ),
    }
}

fn prop_fields(props: &[PropertyDef]) -> impl Iterator<Item = Field> + '_ {
    props
        .iter()
        .map(|p| Field::new(&p.name, arrow_type(p.ty), true))
}

/// Schema of a label's node table.
pub fn node_schema(catalog: &crate::Catalog, label: CatalogId) -> Result<SchemaRef> {
    let def = catalog.label_by_id(label)?;
    let mut fields = vec![
        Field::new(&def.key_name, DataType::Utf8, false),
        Field::new("_id", DataType::UInt64, false),
    ];
    fields.extend(prop_fields(&def.properties));
    Ok(Arc::new(Schema::new(fields)))
}

/// Schema of an edge type's table.
pub fn edge_schema(catalog: &crate::Catalog, edge_type: CatalogId) -> Result<SchemaRef> {
    let def = catalog.edge_type_by_id(edge_type)?;
    let mut fields = vec![
        Field::new("edge_id", DataType::UInt64, false),
        Field::new("src", DataType::Utf8, false),
        Field::new("dst", DataType::Utf8, false),
        Field::new("src_id", DataType::UInt64, false),
        Field::new("dst_id", DataType::UInt64, false),
        Field::new("time", arrow_type(PropType::Timestamp), true),
    ];
    fields.extend(prop_fields(&def.properties));
    Ok(Arc::new(Schema::new(fields)))
}

enum ColumnBuilder {
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Str(StringBuilder),
    Time(TimestampMicrosecondBuilder),
    Vector(FixedSizeListBuilder<Float32Builder>, usize),
}

impl ColumnBuilder {
    fn new(ty: PropType, capacity: usize) -> ColumnBuilder {
        match ty {
            PropType::Int => ColumnBuilder::Int(Int64Builder::with_capacity(capacity)),
            PropType::Float => ColumnBuilder::Float(Float64Builder::with_capacity(capacity)),
            PropType::Bool => ColumnBuilder::Bool(BooleanBuilder::with_capacity(capacity)),
            PropType::String => {
                ColumnBuilder::Str(StringBuilder::with_capacity(capacity, capacity * 8))
            }
            PropType::Timestamp => ColumnBuilder::Time(
                TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            ),
            PropType::Vector(n) => ColumnBuilder::Vector(
                FixedSizeListBuilder::with_capacity(Float32Builder::new(), n as i32, capacity)
                    .with_field(Arc::new(Field::new("item", DataType::Float32, true))),
                n as usize,
            ),
        }
    }

    fn append(&mut self, v: Option<&Value>) -> Result<()> {
        match (self, v) {
            (ColumnBuilder::Int(b), Some(Value::Int(x))) => b.append_value(*x),
            (ColumnBuilder::Int(b), None) => b.append_null(),
            (ColumnBuilder::Float(b), Some(Value::Float(x))) => b.append_value(*x),
            (ColumnBuilder::Float(b), None) => b.append_null(),
            (ColumnBuilder::Bool(b), Some(Value::Bool(x))) => b.append_value(*x),
            (ColumnBuilder::Bool(b), None) => b.append_null(),
            (ColumnBuilder::Str(b), Some(Value::String(x))) => b.append_value(x),
            (ColumnBuilder::Str(b), None) => b.append_null(),
            (ColumnBuilder::Time(b), Some(Value::Timestamp(x))) => b.append_value(*x),
            (ColumnBuilder::Time(b), None) => b.append_null(),
            (ColumnBuilder::Vector(b, n), Some(Value::Vector(x))) if x.len() == *n => {
                b.values().append_slice(x);
                b.append(true);
            }
            (ColumnBuilder::Vector(b, n), None) => {
                for _ in 0..*n {
                    b.values().append_null();
                }
                b.append(false);
            }
            (_, Some(v)) => {
                return Err(Error::Corrupt(format!(
                    "stored {} value does not match the catalog type",
                    v.prop_type()
                )))
            }
        }
        Ok(())
    }

    fn finish(self) -> ArrayRef {
        match self {
            ColumnBuilder::Int(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Float(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Bool(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Str(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Time(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Vector(mut b, _) => Arc::new(b.finish()),
        }
    }
}

struct PropColumns(Vec<ColumnBuilder>);

impl PropColumns {
    fn new(props: &[PropertyDef], capacity: usize) -> PropColumns {
        PropColumns(
            props
                .iter()
                .map(|p| ColumnBuilder::new(p.ty, capacity))
                .collect(),
        )
    }

    fn append(&mut self, props: &Props) -> Result<()> {
        let mut it = props.iter().peekable();
        for (i, col) in self.0.iter_mut().enumerate() {
            let v = match it.peek() {
                Some((idx, v)) if *idx as usize == i => {
                    it.next();
                    Some(v)
                }
                _ => None,
            };
            col.append(v)?;
        }
        Ok(())
    }
}

/// Optional column subset of a scan: indexes into the full table schema.
pub type Projection = Option<Vec<usize>>;

fn finish_batch(
    schema: &SchemaRef,
    columns: Vec<ArrayRef>,
    projection: &Projection,
) -> Result<RecordBatch> {
    let batch =
        RecordBatch::try_new(schema.clone(), columns).map_err(|e| Error::Corrupt(e.to_string()))?;
    match projection {
        Some(p) => batch
            .project(p)
            .map_err(|e| Error::InvalidArgument(e.to_string())),
        None => Ok(batch),
    }
}

/// Builds one node batch from records.
struct NodeBatchBuilder<'a> {
    schema: &'a SchemaRef,
    keys: StringBuilder,
    ids: UInt64Builder,
    props: PropColumns,
    rows: usize,
}

impl<'a> NodeBatchBuilder<'a> {
    fn new(schema: &'a SchemaRef, props: &[PropertyDef], capacity: usize) -> Self {
        NodeBatchBuilder {
            schema,
            keys: StringBuilder::with_capacity(capacity, capacity * 8),
            ids: UInt64Builder::with_capacity(capacity),
            props: PropColumns::new(props, capacity),
            rows: 0,
        }
    }

    fn append(&mut self, id: NodeId, rec: &NodeRecord) -> Result<()> {
        self.keys.append_value(&rec.key);
        self.ids.append_value(id);
        self.props.append(&rec.props)?;
        self.rows += 1;
        Ok(())
    }

    fn finish(mut self, projection: &Projection) -> Result<RecordBatch> {
        let mut columns: Vec<ArrayRef> =
            vec![Arc::new(self.keys.finish()), Arc::new(self.ids.finish())];
        columns.extend(self.props.0.into_iter().map(ColumnBuilder::finish));
        finish_batch(self.schema, columns, projection)
    }
}

/// Builds one edge batch from records, resolving endpoint keys only when they are wanted.
struct EdgeBatchBuilder<'a> {
    snapshot: &'a Snapshot,
    schema: &'a SchemaRef,
    labels: (CatalogId, CatalogId),
    needs_keys: bool,
    edge_ids: UInt64Builder,
    src_keys: StringBuilder,
    dst_keys: StringBuilder,
    src_ids: UInt64Builder,
    dst_ids: UInt64Builder,
    times: TimestampMicrosecondBuilder,
    props: PropColumns,
    key_cache: HashMap<(CatalogId, NodeId), String>,
    rows: usize,
}

impl<'a> EdgeBatchBuilder<'a> {
    fn new(
        snapshot: &'a Snapshot,
        schema: &'a SchemaRef,
        edge_type: CatalogId,
        needs_keys: bool,
        n: usize,
    ) -> Result<Self> {
        let def = snapshot.catalog().edge_type_by_id(edge_type)?;
        Ok(EdgeBatchBuilder {
            snapshot,
            schema,
            labels: (def.src_label, def.dst_label),
            needs_keys,
            edge_ids: UInt64Builder::with_capacity(n),
            src_keys: StringBuilder::with_capacity(n, n * 8),
            dst_keys: StringBuilder::with_capacity(n, n * 8),
            src_ids: UInt64Builder::with_capacity(n),
            dst_ids: UInt64Builder::with_capacity(n),
            times: TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC"),
            props: PropColumns::new(def.properties(), n),
            key_cache: HashMap::new(),
            rows: 0,
        })
    }

    fn key_of(&mut self, label: CatalogId, node: NodeId, edge: EdgeId) -> Result<String> {
        if let Some(key) = self.key_cache.get(&(label, node)) {
            return Ok(key.clone());
        }
        let key = self.snapshot.node_key(label, node)?.ok_or_else(|| {
            Error::Corrupt(format!(
                "edge {edge} points to missing node id {node} of label {label}"
            ))
        })?;
        self.key_cache.insert((label, node), key.clone());
        Ok(key)
    }

    fn append(&mut self, id: EdgeId, rec: &EdgeRecord) -> Result<()> {
        self.edge_ids.append_value(id);
        self.src_ids.append_value(rec.src);
        self.dst_ids.append_value(rec.dst);
        if self.needs_keys {
            let src = self.key_of(self.labels.0, rec.src, id)?;
            let dst = self.key_of(self.labels.1, rec.dst, id)?;
            self.src_keys.append_value(src);
            self.dst_keys.append_value(dst);
        } else {
            self.src_keys.append_value("");
            self.dst_keys.append_value("");
        }
        if rec.time == NO_TIME {
            self.times.append_null();
        } else {
            self.times.append_value(rec.time);
        }
        self.props.append(&rec.props)?;
        self.rows += 1;
        Ok(())
    }

    fn finish(mut self, projection: &Projection) -> Result<RecordBatch> {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.edge_ids.finish()),
            Arc::new(self.src_keys.finish()),
            Arc::new(self.dst_keys.finish()),
            Arc::new(self.src_ids.finish()),
            Arc::new(self.dst_ids.finish()),
            Arc::new(self.times.finish()),
        ];
        columns.extend(self.props.0.into_iter().map(ColumnBuilder::finish));
        finish_batch(self.schema, columns, projection)
    }
}

fn projection_needs_keys(projection: &Projection) -> bool {
    match projection {
        Some(p) => p.iter().any(|&i| i == 1 || i == 2),
        None => true,
    }
}

/// Lazily produced batches of one label's nodes, in id order.
pub struct NodeBatches {
    snapshot: Snapshot,
    label: CatalogId,
    schema: SchemaRef,
    projection: Projection,
    next_key: Vec<u8>,
    upper: Vec<u8>,
    batch_rows: usize,
    done: bool,
}

/// Lazily produced batches of one edge type's edges, in edge id order.
pub struct EdgeBatches {
    snapshot: Snapshot,
    edge_type: CatalogId,
    schema: SchemaRef,
    projection: Projection,
    next_key: Vec<u8>,
    upper: Vec<u8>,
    batch_rows: usize,
    done: bool,
    /// Key lookups are skipped when neither key column is wanted.
    needs_keys: bool,
    /// Only edges with a time in this inclusive range (untimed edges never match).
    time_range: Option<(Micros, Micros)>,
}

impl Snapshot {
    /// Scan every node of `label` as record batches of at most `batch_rows` rows.
    pub fn scan_nodes(
        &self,
        label: &str,
        batch_rows: usize,
        projection: Projection,
    ) -> Result<NodeBatches> {
        let lid = self.catalog().label(label)?.id;
        let schema = node_schema(self.catalog(), lid)?;
        let prefix = keys::node_prefix(lid);
        Ok(NodeBatches {
            snapshot: self.clone(),
            label: lid,
            schema,
            projection,
            upper: keys::prefix_successor(&prefix),
            next_key: prefix,
            batch_rows: batch_rows.max(1),
            done: false,
        })
    }

    /// Scan every edge of `edge_type` as record batches of at most `batch_rows` rows.
    pub fn scan_edges(
        &self,
        edge_type: &str,
        batch_rows: usize,
        projection: Projection,
    ) -> Result<EdgeBatches> {
        self.scan_edges_in(edge_type, batch_rows, projection, None)
    }

    /// [`Snapshot::scan_edges`] keeping only edges whose time lies in `time_range` (inclusive).
    pub fn scan_edges_in(
        &self,
        edge_type: &str,
        batch_rows: usize,
        projection: Projection,
        time_range: Option<(Micros, Micros)>,
    ) -> Result<EdgeBatches> {
        let tid = self.catalog().edge_type(edge_type)?.id;
        let schema = edge_schema(self.catalog(), tid)?;
        let prefix = keys::edge_prefix(tid);
        let needs_keys = projection_needs_keys(&projection);
        Ok(EdgeBatches {
            snapshot: self.clone(),
            edge_type: tid,
            schema,
            projection,
            upper: keys::prefix_successor(&prefix),
            next_key: prefix,
            batch_rows: batch_rows.max(1),
            done: false,
            needs_keys,
            time_range,
        })
    }

    /// The nodes with these ids (missing ids are skipped) as one batch, in the order given.
    pub fn nodes_by_ids(
        &self,
        label: CatalogId,
        ids: &[NodeId],
        projection: &Projection,
    ) -> Result<RecordBatch> {
        let schema = node_schema(self.catalog(), label)?;
        let def = self.catalog().label_by_id(label)?;
        let mut b = NodeBatchBuilder::new(&schema, def.properties(), ids.len());
        for &id in ids {
            if let Some(bytes) = self.view().get(&keys::node_key(label, id))? {
                b.append(id, &NodeRecord::decode(&bytes)?)?;
            }
        }
        b.finish(projection)
    }

    /// The edges with these ids (missing ids are skipped) as one batch, in the order given,
    /// keeping only those `keep` accepts.
    pub fn edges_by_ids(
        &self,
        edge_type: CatalogId,
        ids: &[EdgeId],
        projection: &Projection,
        keep: &dyn Fn(&EdgeRecord) -> bool,
    ) -> Result<RecordBatch> {
        let mut records = Vec::with_capacity(ids.len());
        for &id in ids {
            if let Some(bytes) = self.view().get(&keys::edge_key(edge_type, id))? {
                let rec = EdgeRecord::decode(&bytes)?;
                if keep(&rec) {
                    records.push((id, rec));
                }
            }
        }
        self.edges_from_records(edge_type, &records, projection)
    }
}

impl Snapshot {
    /// Edges already read (from adjacency entries that carry their properties) as one batch,
    /// in the order given.
    pub fn edges_from_records(
        &self,
        edge_type: CatalogId,
        records: &[(EdgeId, EdgeRecord)],
        projection: &Projection,
    ) -> Result<RecordBatch> {
        let schema = edge_schema(self.catalog(), edge_type)?;
        let mut b = EdgeBatchBuilder::new(
            self,
            &schema,
            edge_type,
            projection_needs_keys(projection),
            records.len(),
        )?;
        for (id, rec) in records {
            b.append(*id, rec)?;
        }
        b.finish(projection)
    }
}

fn project_schema(schema: &SchemaRef, projection: &Projection) -> SchemaRef {
    match projection {
        Some(p) => Arc::new(
            schema
                .project(p)
                .expect("projection indexes come from this schema"),
        ),
        None => schema.clone(),
    }
}

impl NodeBatches {
    /// Schema of the produced batches (after projection).
    pub fn schema(&self) -> SchemaRef {
        project_schema(&self.schema, &self.projection)
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let def = self.snapshot.catalog().label_by_id(self.label)?;
        let mut b = NodeBatchBuilder::new(&self.schema, def.properties(), self.batch_rows);
        let mut last = None;
        for item in self
            .snapshot
            .view()
            .scan(&self.next_key, &self.upper, false)
            .take(self.batch_rows)
        {
            let (k, v) = item?;
            let (_, id) = keys::decode_node_key(&k)?;
            b.append(id, &NodeRecord::decode(&v)?)?;
            last = Some(k);
        }
        let rows = b.rows;
        match last {
            Some(k) if rows == self.batch_rows => {
                self.next_key = k.into_vec();
                self.next_key.push(0);
            }
            _ => self.done = true,
        }
        if rows == 0 {
            return Ok(None);
        }
        b.finish(&self.projection).map(Some)
    }
}

impl Iterator for NodeBatches {
    type Item = Result<RecordBatch>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let out = self.next_batch();
        if out.is_err() {
            self.done = true;
        }
        out.transpose()
    }
}

impl EdgeBatches {
    /// Schema of the produced batches (after projection).
    pub fn schema(&self) -> SchemaRef {
        project_schema(&self.schema, &self.projection)
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let n = self.batch_rows;
        let mut b = EdgeBatchBuilder::new(
            &self.snapshot,
            &self.schema,
            self.edge_type,
            self.needs_keys,
            n,
        )?;
        // Rows filtered out by the time range still advance the scan; keep going until a batch
        // has rows or the type is exhausted.
        loop {
            let mut scanned = 0;
            let mut last = None;
            for item in self
                .snapshot
                .view()
                .scan(&self.next_key, &self.upper, false)
                .take(n)
            {
                let (k, v) = item?;
                scanned += 1;
                let (_, id) = keys::decode_edge_key(&k)?;
                let rec = EdgeRecord::decode(&v)?;
                let inside = match self.time_range {
                    Some((lo, hi)) => rec.time != NO_TIME && rec.time >= lo && rec.time <= hi,
                    None => true,
                };
                if inside {
                    b.append(id, &rec)?;
                }
                last = Some(k);
            }
            match last {
                Some(k) if scanned == n => {
                    self.next_key = k.into_vec();
                    self.next_key.push(0);
                }
                _ => self.done = true,
            }
            if b.rows > 0 || self.done {
                break;
            }
        }
        if b.rows == 0 {
            return Ok(None);
        }
        b.finish(&self.projection).map(Some)
    }
}

impl Iterator for EdgeBatches {
    type Item = Result<RecordBatch>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let out = self.next_batch();
        if out.is_err() {
            self.done = true;
        }
        out.transpose()
    }
}
