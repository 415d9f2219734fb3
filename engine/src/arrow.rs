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
use crate::keys::{self, CatalogId, NO_TIME};
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
        let tid = self.catalog().edge_type(edge_type)?.id;
        let schema = edge_schema(self.catalog(), tid)?;
        let prefix = keys::edge_prefix(tid);
        let needs_keys = match &projection {
            Some(p) => p.iter().any(|&i| i == 1 || i == 2),
            None => true,
        };
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
        })
    }
}

impl NodeBatches {
    /// Schema of the produced batches (after projection).
    pub fn schema(&self) -> SchemaRef {
        match &self.projection {
            Some(p) => Arc::new(
                self.schema
                    .project(p)
                    .expect("projection checked on first batch"),
            ),
            None => self.schema.clone(),
        }
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let def = self.snapshot.catalog().label_by_id(self.label)?;
        let mut keys_col = StringBuilder::with_capacity(self.batch_rows, self.batch_rows * 8);
        let mut ids = UInt64Builder::with_capacity(self.batch_rows);
        let mut props = PropColumns::new(def.properties(), self.batch_rows);
        let mut rows = 0;
        let mut last = None;
        for item in self
            .snapshot
            .view()
            .scan(&self.next_key, &self.upper, false)
            .take(self.batch_rows)
        {
            let (k, v) = item?;
            let (_, id) = keys::decode_node_key(&k)?;
            let rec = NodeRecord::decode(&v)?;
            keys_col.append_value(&rec.key);
            ids.append_value(id);
            props.append(&rec.props)?;
            rows += 1;
            last = Some(k);
        }
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
        let mut columns: Vec<ArrayRef> = vec![Arc::new(keys_col.finish()), Arc::new(ids.finish())];
        columns.extend(props.0.into_iter().map(ColumnBuilder::finish));
        finish_batch(&self.schema, columns, &self.projection).map(Some)
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
        match &self.projection {
            Some(p) => Arc::new(
                self.schema
                    .project(p)
                    .expect("projection checked on first batch"),
            ),
            None => self.schema.clone(),
        }
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let def = self.snapshot.catalog().edge_type_by_id(self.edge_type)?;
        let (sl, dl) = (def.src_label, def.dst_label);
        let n = self.batch_rows;
        let mut edge_ids = UInt64Builder::with_capacity(n);
        let mut src_keys = StringBuilder::with_capacity(n, n * 8);
        let mut dst_keys = StringBuilder::with_capacity(n, n * 8);
        let mut src_ids = UInt64Builder::with_capacity(n);
        let mut dst_ids = UInt64Builder::with_capacity(n);
        let mut times = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
        let mut props = PropColumns::new(def.properties(), n);
        let mut key_cache: HashMap<(CatalogId, u64), String> = HashMap::new();
        let mut rows = 0;
        let mut last = None;
        for item in self
            .snapshot
            .view()
            .scan(&self.next_key, &self.upper, false)
            .take(n)
        {
            let (k, v) = item?;
            let (_, id) = keys::decode_edge_key(&k)?;
            let rec = EdgeRecord::decode(&v)?;
            edge_ids.append_value(id);
            src_ids.append_value(rec.src);
            dst_ids.append_value(rec.dst);
            if self.needs_keys {
                for (label, node, builder) in
                    [(sl, rec.src, &mut src_keys), (dl, rec.dst, &mut dst_keys)]
                {
                    if let Some(key) = key_cache.get(&(label, node)) {
                        builder.append_value(key);
                        continue;
                    }
                    let key = self.snapshot.node_key(label, node)?.ok_or_else(|| {
                        Error::Corrupt(format!(
                            "edge {id} points to missing node id {node} of label {label}"
                        ))
                    })?;
                    builder.append_value(&key);
                    key_cache.insert((label, node), key);
                }
            } else {
                src_keys.append_value("");
                dst_keys.append_value("");
            }
            if rec.time == NO_TIME {
                times.append_null();
            } else {
                times.append_value(rec.time);
            }
            props.append(&rec.props)?;
            rows += 1;
            last = Some(k);
        }
        match last {
            Some(k) if rows == n => {
                self.next_key = k.into_vec();
                self.next_key.push(0);
            }
            _ => self.done = true,
        }
        if rows == 0 {
            return Ok(None);
        }
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(edge_ids.finish()),
            Arc::new(src_keys.finish()),
            Arc::new(dst_keys.finish()),
            Arc::new(src_ids.finish()),
            Arc::new(dst_ids.finish()),
            Arc::new(times.finish()),
        ];
        columns.extend(props.0.into_iter().map(ColumnBuilder::finish));
        finish_batch(&self.schema, columns, &self.projection).map(Some)
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
