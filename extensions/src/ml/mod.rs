//! Graph machine learning: a message-passing node model ([`sage`]) trained and evaluated on an
//! in-memory graph ([`relation`]) and node features ([`matrix`]), over a device abstraction
//! ([`backend`]) with a CPU implementation ([`cpu`]), plus ranking [`metrics`].

pub mod backend;
pub mod cpu;
pub mod gbdt;
pub mod matrix;
pub mod metrics;
pub mod relation;
pub mod sage;
pub mod train;

#[cfg(test)]
mod gradient_tests;
