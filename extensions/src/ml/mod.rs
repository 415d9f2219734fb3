//! Graph machine learning: a message-passing node model ([`sage`]) trained and evaluated on an
//! in-memory graph ([`relation`]) and node features ([`matrix`]), over a device abstraction
//! ([`backend`]) with a CPU implementation ([`cpu`]) and, with the `cuda` feature, a CUDA one
//! (`cuda`), chosen at run time by [`device`]; plus ranking [`metrics`], boosted trees ([`gbdt`])
//! and [`spectral`] coordinates of nodes.

pub mod backend;
pub mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod device;
pub mod gbdt;
pub mod matrix;
pub mod metrics;
pub mod recommend;
pub mod relation;
pub mod sage;
pub mod spectral;
pub mod train;

#[cfg(test)]
mod gradient_tests;
