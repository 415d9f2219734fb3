//! Argus's SQL layer: every node label and edge type of a data directory as a DataFusion table
//! read from one storage snapshot per statement, with key and time-range pushdown into storage
//! scans, and graph and model functions callable from SQL. It builds on the engine (storage) and
//! the Database API (`argus-db`) and never the other way round; the `argus` command line and its
//! interactive shell live in `argus-cli`, so embedding SQL pulls no terminal or argument parsing.

pub mod algorithms;
pub mod functions;
pub mod ml_functions;
pub mod optimizer;
pub mod recs_functions;
pub mod scan;
pub mod session;
pub mod table;

use datafusion::error::DataFusionError;

pub use session::ArgusSession;

/// Map an engine error to DataFusion's, keeping its category: bad requests become planning
/// errors (shown to the user as such), storage failures execution errors.
pub fn to_df(e: argus_engine::Error) -> DataFusionError {
    use argus_engine::Error as E;
    match e {
        E::NotFound(_) | E::Schema(_) | E::InvalidArgument(_) | E::Input { .. } => {
            DataFusionError::Plan(e.to_string())
        }
        other => DataFusionError::External(Box::new(other)),
    }
}
