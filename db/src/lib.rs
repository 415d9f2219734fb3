//! The embeddable Argus database: one handle over a data directory that joins the graph store
//! (`argus-engine`) with the ML extensions (`argus-extensions`). It builds in-memory
//! projections of the stored graph for the models and the SQL layer's graph algorithms
//! ([`projection`]), node feature matrices
//! ([`features`], [`spectral`] coordinates) and sampled neighbourhoods ([`sampling`]); trains ([`train`]) and evaluates
//! ([`eval`]) fraud models ([`model`]), keeps them in the database ([`registry`]) and serves
//! scores with explanations ([`serving`]). The SQL layer and the Postgres
//! extension build on this API; neither the engine nor the extensions know about each other.

pub mod eval;
pub mod features;
pub mod labels;
pub mod model;
pub mod outbox;
mod packed;
pub mod projection;
pub mod recommend;
pub mod registry;
pub mod sampling;
pub mod serving;
pub mod spectral;
pub mod train;
pub mod transactions;

use std::path::Path;
use std::sync::{Arc, OnceLock};

pub use argus_engine::{Error, GraphStore, Result, Snapshot, StoreOptions};
pub use argus_extensions::ml::device::{Device, DeviceRequest};

/// An open Argus database.
#[derive(Clone)]
pub struct Database {
    store: Arc<GraphStore>,
    scorers: Arc<serving::ScorerCache>,
    device_request: DeviceRequest,
    device: Arc<OnceLock<std::result::Result<Device, String>>>,
}

impl Database {
    /// Open (or create) the data directory `dir` with default options.
    pub fn open(dir: impl AsRef<Path>) -> Result<Database> {
        Ok(Database::from_store(Arc::new(GraphStore::open(dir)?)))
    }

    /// Follow the store in `dir` read-only while another process owns and writes it
    /// ([`GraphStore::open_follower`]); `follower_dir` holds this follower's own files.
    /// Call [`Database::catch_up`] to see the owner's newer commits.
    pub fn follow(
        dir: impl AsRef<Path>,
        follower_dir: impl AsRef<Path>,
        options: StoreOptions,
    ) -> Result<Database> {
        Ok(Database::from_store(Arc::new(GraphStore::open_follower(
            dir,
            follower_dir,
            options,
        )?)))
    }

    /// For a follower: read the owner's commits since the last call (scorers rebuild when
    /// something changed). Returns whether anything did; a no-op for the owner.
    pub fn catch_up(&self) -> Result<bool> {
        self.store.catch_up()
    }

    /// Wrap an already open store. Models run on the CPU unless [`Database::with_device`]
    /// asks for another device.
    pub fn from_store(store: Arc<GraphStore>) -> Database {
        Database {
            store,
            scorers: Arc::default(),
            device_request: DeviceRequest::Cpu,
            device: Arc::default(),
        }
    }

    /// Run models (training, evaluation, scoring) on `request`'s device. The device opens on
    /// the first use; scorers built before the change keep their device.
    pub fn with_device(mut self, request: DeviceRequest) -> Database {
        self.device_request = request;
        self.device = Arc::default();
        self.scorers = Arc::default();
        self
    }

    /// The device models run on, opened on first use; an error says why a requested GPU
    /// cannot be used.
    pub fn device(&self) -> Result<Device> {
        self.device
            .get_or_init(|| Device::open(self.device_request))
            .clone()
            .map_err(Error::InvalidArgument)
    }

    /// The graph store.
    pub fn store(&self) -> &Arc<GraphStore> {
        &self.store
    }

    fn scorers(&self) -> &serving::ScorerCache {
        &self.scorers
    }

    /// A consistent read view.
    pub fn snapshot(&self) -> Snapshot {
        self.store.snapshot()
    }
}
