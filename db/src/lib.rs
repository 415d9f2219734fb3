//! The embeddable Argus database: one handle over a data directory that joins the graph store
//! (`argus-engine`) with the ML extensions (`argus-extensions`). It builds in-memory
//! projections of the stored graph for the models ([`projection`]), node feature matrices
//! ([`features`]), and runs training and evaluation ([`eval`]). The SQL layer and the Postgres
//! extension build on this API; neither the engine nor the extensions know about each other.

pub mod eval;
pub mod features;
pub mod projection;

use std::path::Path;
use std::sync::Arc;

pub use argus_engine::{Error, GraphStore, Result, Snapshot, StoreOptions};

/// An open Argus database.
#[derive(Clone)]
pub struct Database {
    store: Arc<GraphStore>,
}

impl Database {
    /// Open (or create) the data directory `dir` with default options.
    pub fn open(dir: impl AsRef<Path>) -> Result<Database> {
        Ok(Database::from_store(Arc::new(GraphStore::open(dir)?)))
    }

    /// Wrap an already open store.
    pub fn from_store(store: Arc<GraphStore>) -> Database {
        Database { store }
    }

    /// The graph store.
    pub fn store(&self) -> &Arc<GraphStore> {
        &self.store
    }

    /// A consistent read view.
    pub fn snapshot(&self) -> Snapshot {
        self.store.snapshot()
    }
}
