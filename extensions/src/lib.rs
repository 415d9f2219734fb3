//! Argus extensions: computation over in-memory graphs. That is graph algorithms for payments
//! fraud (components, shortest paths, time-bounded neighbourhoods, temporal cycles,
//! fan-in/fan-out bursts, PageRank) and the ML core in [`ml`] (graph neural networks and
//! gradient-boosted trees, on the CPU or, with the `cuda` feature, an NVIDIA GPU).
//!
//! Everything runs on a [`Csr`] built from a plain edge list over dense node indexes, so the
//! crate must not depend on storage (`argus-engine`), SQL (DataFusion) or RocksDB: callers build
//! the graph from whatever they hold, and GPU test binaries stay small. The temporal algorithms
//! need each node's edges sorted by time, with times, amounts and ids in separate compact
//! arrays; petgraph's graphs keep one generic weight per edge and order adjacency by insertion
//! or neighbour, and its algorithms know nothing of time, so it would add a dependency without
//! removing code. The graph algorithms run on one thread; the per-node passes (PageRank, fan)
//! split trivially across threads, with rayon (already used by the ML core) when that pays.
//!
//! Times are `i64` microseconds with [`NO_TIME`] (`i64::MIN`) for "none", amounts are `f64` with
//! NaN for "none", and results carry the caller's edge ids and types back untouched.

pub mod components;
pub mod csr;
pub mod cycles;
pub mod degree;
pub mod fan;
pub mod k_hop;
pub mod ml;
pub mod pagerank;
pub mod shortest_path;

pub use components::{component_sizes, connected_components, ComponentSize};
pub use csr::{Csr, CsrError, Direction, EdgeRef, EdgeRow, Edges, Undirected, MAX_EDGES, NO_TIME};
pub use cycles::{
    temporal_cycles, temporal_cycles_with_budget, Cycle, CycleSearch, DEFAULT_CYCLE_BUDGET,
    MAX_CYCLE_LEN,
};
pub use degree::degrees;
pub use fan::{fan, FanRow};
pub use k_hop::{k_hop, HopRow};
pub use pagerank::pagerank;
pub use shortest_path::{shortest_path, PathStep};
