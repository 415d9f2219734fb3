//! Argus's storage engine: a typed, temporal property graph persisted in RocksDB (or sled),
//! embeddable in any Rust program.
//!
//! It keeps a catalog of node labels and edge types with typed properties, maps external keys
//! (`user`, `"42"`) to dense per-label ids, stores timestamped edges with out- and in-adjacency
//! ordered by time, and answers point reads, neighbourhood range scans and full scans as Arrow
//! record batches from consistent snapshots. It also bulk-loads CSV and Parquet. It must not
//! depend on SQL (DataFusion) or on any ML code: those layers sit above it.

pub mod arrow;
pub mod catalog;
pub mod check;
pub mod error;
pub mod graph;
pub mod keys;
pub mod load;
pub mod record;
pub mod storage;
pub mod table_cache;
pub mod time;

pub use catalog::{Catalog, EdgeTypeDef, LabelDef, PropType, PropertyDef, Value};
pub use error::{Error, Location, Result};
pub use graph::{
    Direction, Edge, GraphStore, Neighbor, NeighborIter, NeighborQuery, Node, Snapshot, WriteTxn,
    MAX_NEIGHBOR_LIMIT,
};
pub use keys::{Dir, EdgeId, Micros, NodeId};
pub use storage::{Backend, BackendKind, Durability, StoreOptions};
