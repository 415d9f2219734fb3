//! One SQL session over a data directory: tables for every label and edge type, the graph
//! functions, and a fresh snapshot before each statement.

use std::sync::Arc;

use argus_engine::GraphStore;
use datafusion::dataframe::DataFrame;
use datafusion::error::Result;
use datafusion::execution::context::SessionContext;
use datafusion::prelude::SessionConfig;
use parking_lot::RwLock;

use crate::table::{GraphTable, SnapshotSlot, TableKind};
use crate::{functions, to_df};

/// How a table is named in SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    /// Name in SQL.
    pub name: String,
    /// What it shows.
    pub kind: TableKind,
}

/// Table names of a catalog. Labels keep their names; an edge type whose name is also a label's
/// is exposed as `<name>_edges` (documented in `docs/sql.md`).
pub fn table_names(catalog: &argus_engine::Catalog) -> Vec<TableName> {
    let mut out: Vec<TableName> = catalog
        .labels
        .iter()
        .map(|l| TableName {
            name: l.name.clone(),
            kind: TableKind::Nodes(l.id),
        })
        .collect();
    for t in &catalog.edge_types {
        let name = if catalog.labels.iter().any(|l| l.name == t.name) {
            format!("{}_edges", t.name)
        } else {
            t.name.clone()
        };
        out.push(TableName {
            name,
            kind: TableKind::Edges(t.id),
        });
    }
    out
}

/// A DataFusion session over a [`GraphStore`].
pub struct ArgusSession {
    store: Arc<GraphStore>,
    ctx: SessionContext,
    slot: SnapshotSlot,
    registered: RwLock<Arc<argus_engine::Catalog>>,
}

impl ArgusSession {
    /// A session over `store`, with its tables and functions registered.
    pub fn new(store: Arc<GraphStore>) -> Result<ArgusSession> {
        ArgusSession::on_device(store, argus_db::DeviceRequest::Cpu)
    }

    /// A session whose model functions (`fraud_score`, ...) run on `device`.
    pub fn on_device(
        store: Arc<GraphStore>,
        device: argus_db::DeviceRequest,
    ) -> Result<ArgusSession> {
        let config = SessionConfig::new()
            .with_information_schema(true)
            .with_target_partitions(2)
            // Dimension tables (merchants, cards) are joined to millions of edges: broadcast a
            // build side of up to 64 MiB / 2 M rows instead of hash-partitioning both sides.
            .set_usize(
                "datafusion.optimizer.hash_join_single_partition_threshold",
                64 << 20,
            )
            .set_usize(
                "datafusion.optimizer.hash_join_single_partition_threshold_rows",
                2_000_000,
            )
            .with_default_catalog_and_schema("argus", "graph");
        let ctx = SessionContext::new_with_config(config);
        for rule in crate::optimizer::rules() {
            ctx.add_optimizer_rule(rule);
        }
        let snapshot = store.snapshot();
        let catalog = Arc::new(snapshot.catalog().clone());
        let slot: SnapshotSlot = Arc::new(RwLock::new(snapshot));
        let session = ArgusSession {
            store,
            ctx,
            slot,
            registered: RwLock::new(catalog.clone()),
        };
        session.register_tables(&catalog)?;
        functions::register(&session.ctx, session.slot.clone());
        let db = argus_db::Database::from_store(session.store.clone()).with_device(device);
        crate::recs_functions::register(&session.ctx, db.clone());
        crate::ml_functions::register(&session.ctx, db, session.slot.clone());
        Ok(session)
    }

    fn register_tables(&self, catalog: &argus_engine::Catalog) -> Result<()> {
        for t in table_names(catalog) {
            let table = GraphTable::new(t.kind, self.slot.clone()).map_err(to_df)?;
            self.ctx.deregister_table(t.name.as_str())?;
            self.ctx.register_table(t.name.as_str(), Arc::new(table))?;
        }
        Ok(())
    }

    /// Take a fresh snapshot for the next statement; re-register tables if the catalog changed.
    pub fn refresh(&self) -> Result<()> {
        let snapshot = self.store.snapshot();
        let changed = snapshot.catalog() != self.registered.read().as_ref();
        let catalog = Arc::new(snapshot.catalog().clone());
        *self.slot.write() = snapshot;
        if changed {
            self.register_tables(&catalog)?;
            *self.registered.write() = catalog;
        }
        Ok(())
    }

    /// Plan one statement against a fresh snapshot.
    pub async fn sql(&self, query: &str) -> Result<DataFrame> {
        self.refresh()?;
        self.ctx.sql(query).await
    }

    /// The DataFusion context (for registering more functions or tables).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// The store behind the session.
    pub fn store(&self) -> &Arc<GraphStore> {
        &self.store
    }
}
