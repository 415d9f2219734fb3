//! `GraphScanExec`: the physical scan of a node or edge table from one storage snapshot, with
//! the pushed-down access path shown by `EXPLAIN`.

use std::fmt;
use std::sync::Arc;

use argus_engine::arrow::Projection;
use argus_engine::keys::CatalogId;
use argus_engine::{NeighborQuery, Snapshot};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::Result;
use datafusion::common::Statistics;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, Partitioning, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, ReplaceChildrenOptions,
    StatisticsArgs,
};

use crate::table::{ScanFilter, TableKind};
use crate::to_df;

/// Rows per batch of a full scan.
const BATCH_ROWS: usize = 8192;

/// Scan of one node label or edge type.
#[derive(Debug)]
pub struct GraphScanExec {
    snapshot: Snapshot,
    kind: TableKind,
    table_name: String,
    full_schema: SchemaRef,
    projection: Projection,
    filter: ScanFilter,
    limit: Option<usize>,
    /// Rows already selected from the table's in-memory copy, split across partitions.
    from_copy: Option<RecordBatch>,
    properties: Arc<PlanProperties>,
}

impl GraphScanExec {
    /// Plan a scan; `projection` indexes `full_schema`.
    pub fn try_new(
        snapshot: Snapshot,
        kind: TableKind,
        full_schema: SchemaRef,
        projection: Option<Vec<usize>>,
        filter: ScanFilter,
        limit: Option<usize>,
    ) -> argus_engine::Result<GraphScanExec> {
        let table_name = match kind {
            TableKind::Nodes(l) => snapshot.catalog().label_by_id(l)?.name.clone(),
            TableKind::Edges(t) => snapshot.catalog().edge_type_by_id(t)?.name.clone(),
        };
        let schema = match &projection {
            Some(p) => Arc::new(
                full_schema
                    .project(p)
                    .map_err(|e| argus_engine::Error::InvalidArgument(e.to_string()))?,
            ),
            None => full_schema.clone(),
        };
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Ok(GraphScanExec {
            snapshot,
            kind,
            table_name,
            full_schema,
            projection,
            filter,
            limit,
            from_copy: None,
            properties,
        })
    }

    /// A scan serving `rows` (already projected and filtered) from the table's in-memory
    /// copy, as `partitions` contiguous parts read in parallel.
    pub fn from_copy(
        snapshot: Snapshot,
        kind: TableKind,
        full_schema: SchemaRef,
        projection: Option<Vec<usize>>,
        filter: ScanFilter,
        rows: RecordBatch,
        partitions: usize,
    ) -> argus_engine::Result<GraphScanExec> {
        let mut exec =
            GraphScanExec::try_new(snapshot, kind, full_schema, projection, filter, None)?;
        let partitions = partitions.clamp(1, rows.num_rows().div_ceil(BATCH_ROWS).max(1));
        exec.properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(rows.schema()),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        exec.from_copy = Some(rows);
        Ok(exec)
    }

    /// Slices of this partition's share of the in-memory rows.
    fn copy_slices(rows: &RecordBatch, partition: usize, partitions: usize) -> Vec<RecordBatch> {
        let n = rows.num_rows();
        let per = n.div_ceil(partitions.max(1));
        let start = (partition * per).min(n);
        let end = (start + per).min(n);
        (start..end)
            .step_by(BATCH_ROWS)
            .map(|s| rows.slice(s, BATCH_ROWS.min(end - s)))
            .collect()
    }

    fn access_path(&self) -> String {
        let f = &self.filter;
        let mut parts = Vec::new();
        if let Some(k) = &f.keys {
            parts.push(format!("key lookup {k:?}"));
        }
        if let Some(ids) = &f.ids {
            parts.push(format!("id lookup {ids:?}"));
        }
        if let Some(s) = &f.src {
            parts.push(format!("out-adjacency of src {s:?}"));
        } else if let Some(d) = &f.dst {
            parts.push(format!("in-adjacency of dst {d:?}"));
        }
        if let (Some(_), Some(d)) = (&f.src, &f.dst) {
            parts.push(format!("dst in {d:?}"));
        }
        if let Some((lo, hi)) = f.time {
            let show = |t: i64| {
                if t == i64::MIN + 1 || t == i64::MAX {
                    "∞".to_string()
                } else {
                    argus_engine::time::format_micros(t)
                }
            };
            parts.push(format!("time [{}, {}]", show(lo), show(hi)));
        }
        let path = if parts.is_empty() {
            "full scan".to_string()
        } else {
            parts.join(", ")
        };
        if self.from_copy.is_some() {
            format!("{path} of in-memory copy")
        } else {
            path
        }
    }

    /// All rows this scan produces, as batches (lookups and adjacency scans are small; full
    /// scans are streamed by [`ExecutionPlan::execute`] instead).
    fn lookup_batches(&self) -> argus_engine::Result<Vec<RecordBatch>> {
        let snap = &self.snapshot;
        let f = &self.filter;
        match self.kind {
            TableKind::Nodes(label) => {
                let mut ids = Vec::new();
                if let Some(keys) = &f.keys {
                    for k in keys {
                        if let Some(id) = snap.node_id_in(label, k)? {
                            ids.push(id);
                        }
                    }
                    if let Some(only) = &f.ids {
                        ids.retain(|i| only.contains(i));
                    }
                } else if let Some(only) = &f.ids {
                    ids = only.clone();
                }
                // `ScanFilter` is public: one built elsewhere may repeat keys or ids.
                let ids = crate::table::first_occurrences(ids);
                Ok(vec![snap.nodes_by_ids(label, &ids, &self.projection)?])
            }
            TableKind::Edges(edge_type) => self.adjacency_batches(edge_type),
        }
    }

    fn adjacency_batches(&self, edge_type: CatalogId) -> argus_engine::Result<Vec<RecordBatch>> {
        let snap = &self.snapshot;
        let f = &self.filter;
        let def = snap.catalog().edge_type_by_id(edge_type)?;
        let (from_src, keys, label) = match (&f.src, &f.dst) {
            (Some(s), _) => (true, s, def.src_label),
            (None, Some(d)) => (false, d, def.dst_label),
            (None, None) => unreachable!("adjacency path needs src or dst"),
        };
        let dst_ids: Option<Vec<u64>> = match (&f.src, &f.dst) {
            (Some(_), Some(d)) => Some(
                d.iter()
                    .filter_map(|k| snap.node_id_in(def.dst_label, k).ok().flatten())
                    .collect(),
            ),
            _ => None,
        };
        let (since, until) = f.time.unwrap_or((i64::MIN, i64::MAX));
        let mut batches = Vec::new();
        for key in keys {
            let Some(node) = snap.node_id_in(label, key)? else {
                continue;
            };
            let query = NeighborQuery {
                edge_type: Some(def.name.clone()),
                direction: if from_src || def.undirected {
                    argus_engine::Direction::Out
                } else {
                    argus_engine::Direction::In
                },
                since: f.time.map(|_| since),
                until: f.time.map(|_| until),
                limit: None,
                oldest_first: true,
            };
            if from_src && !def.undirected {
                // Out-entries carry the edge's properties: no lookup per edge.
                let records: Vec<(u64, argus_engine::record::EdgeRecord)> = snap
                    .neighbor_edges_by_id(label, node, &query)?
                    .into_iter()
                    .filter(|(n, _)| dst_ids.as_ref().is_none_or(|d| d.contains(&n.node)))
                    .map(|(n, props)| {
                        let rec = argus_engine::record::EdgeRecord {
                            src: node,
                            dst: n.node,
                            time: n.time.unwrap_or(argus_engine::keys::NO_TIME),
                            props,
                        };
                        (n.edge_id, rec)
                    })
                    .collect();
                batches.push(snap.edges_from_records(edge_type, &records, &self.projection)?);
                continue;
            }
            let found = snap.neighbors_by_id(label, node, &query)?;
            let ids: Vec<u64> = found.iter().map(|n| n.edge_id).collect();
            let keep = |rec: &argus_engine::record::EdgeRecord| {
                // Undirected types keep an out-entry at both ends: keep the stored direction only.
                let end_matches = if from_src {
                    rec.src == node
                } else {
                    rec.dst == node
                };
                let dst_matches = dst_ids.as_ref().is_none_or(|d| d.contains(&rec.dst));
                end_matches && dst_matches
            };
            batches.push(snap.edges_by_ids(edge_type, &ids, &self.projection, &keep)?);
        }
        Ok(batches)
    }
}

impl DisplayAs for GraphScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let columns: Vec<String> = match &self.projection {
            Some(p) => p
                .iter()
                .map(|&i| self.full_schema.field(i).name().clone())
                .collect(),
            None => self
                .full_schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect(),
        };
        write!(
            f,
            "GraphScanExec: table={}, access={}, projection=[{}]",
            self.table_name,
            self.access_path(),
            columns.join(", ")
        )?;
        if let Some(l) = self.limit {
            write!(f, ", limit={l}")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for GraphScanExec {
    fn name(&self) -> &str {
        "GraphScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    /// Exact for scans of an in-memory copy (the rows are already selected), so the planner
    /// builds hash joins on the smaller side; unknown otherwise.
    fn statistics_from_inputs(
        &self,
        _input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        let schema = self.properties.eq_properties.schema().clone();
        let mut stats = Statistics::new_unknown(&schema);
        if let Some(rows) = &self.from_copy {
            let (count, bytes) = match args.partition() {
                Some(p) => {
                    let parts = self.properties.partitioning.partition_count();
                    let slices = Self::copy_slices(rows, p, parts);
                    (
                        slices.iter().map(RecordBatch::num_rows).sum::<usize>(),
                        slices.iter().map(RecordBatch::get_array_memory_size).sum(),
                    )
                }
                None => (rows.num_rows(), rows.get_array_memory_size()),
            };
            stats.num_rows = Precision::Exact(count);
            stats.total_byte_size = Precision::Inexact(bytes);
        }
        Ok(Arc::new(stats))
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let schema = self.properties.eq_properties.schema().clone();
        if let Some(rows) = &self.from_copy {
            let partitions = self.properties.partitioning.partition_count();
            let slices = Self::copy_slices(rows, partition, partitions);
            let stream = futures::stream::iter(slices.into_iter().map(Ok));
            return Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)));
        }
        let limit = self.limit.unwrap_or(usize::MAX);
        let batches: Box<dyn Iterator<Item = argus_engine::Result<RecordBatch>> + Send> =
            if self.filter.is_lookup() {
                Box::new(self.lookup_batches().map_err(to_df)?.into_iter().map(Ok))
            } else {
                match self.kind {
                    TableKind::Nodes(l) => {
                        let name = &self.snapshot.catalog().label_by_id(l).map_err(to_df)?.name;
                        Box::new(
                            self.snapshot
                                .scan_nodes(name, BATCH_ROWS, self.projection.clone())
                                .map_err(to_df)?,
                        )
                    }
                    TableKind::Edges(t) => {
                        let name = &self
                            .snapshot
                            .catalog()
                            .edge_type_by_id(t)
                            .map_err(to_df)?
                            .name;
                        Box::new(
                            self.snapshot
                                .scan_edges_in(
                                    name,
                                    BATCH_ROWS,
                                    self.projection.clone(),
                                    self.filter.time,
                                )
                                .map_err(to_df)?,
                        )
                    }
                }
            };
        let mut remaining = limit;
        let stream = futures::stream::iter(
            batches
                .map_while(move |b| {
                    if remaining == 0 {
                        return None;
                    }
                    Some(b.map(|batch| {
                        let take = batch.num_rows().min(remaining);
                        remaining -= take;
                        batch.slice(0, take)
                    }))
                })
                .map(|b| b.map_err(to_df)),
        );
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}
