//! The `argus` Postgres extension: an existing PostgreSQL 15 calls Argus where its data already
//! lives — a trigger scores a payment as it is inserted, a query asks for an entity's fraud
//! score, its explanation or its neighbourhood, an API asks for a shopper's recommendations or
//! lookbook — and rows inserted in Postgres reach the graph.
//!
//! The extension is thin: each function parses its arguments, calls the `Database` API
//! (`argus-db`, tested with plain `cargo test`) and turns the result or the error into Postgres
//! terms. Reads follow the store read-only from every backend; writes go through a
//! transactional outbox applied by one background worker, the store's only writer. The design
//! and its crash behaviour are in `docs/postgres.md`.
// pgrx's generated glue between Postgres's C calling convention and these functions is unsafe
// code; the functions themselves hold none.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::ffi::CString;
use std::path::{Path, PathBuf};

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::prelude::*;

use argus_db::{Database, StoreOptions};

mod applier;
mod functions;
mod recs;

::pgrx::pg_module_magic!();

/// `argus.data_directory`: the Argus data directory the applier owns and backends follow.
pub(crate) static DATA_DIRECTORY: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(None);
/// `argus.default_model`: the model used when a function is called without one.
pub(crate) static DEFAULT_MODEL: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(None);
/// `argus.default_recommender`: the recommender used when a function is called without one.
pub(crate) static DEFAULT_RECOMMENDER: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(None);
/// `argus.database`: the database whose `argus.outbox` the applier drains.
pub(crate) static OUTBOX_DATABASE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"postgres"));

/// Registers the GUCs and, when the library is preloaded, the applier.
#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    GucRegistry::define_string_guc(
        c"argus.data_directory",
        c"The Argus data directory.",
        c"Owned by the argus applier (the store's only writer) and followed read-only by every backend.",
        &DATA_DIRECTORY,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"argus.default_model",
        c"The model used when a function is called without one.",
        c"Empty: the only registered model predicting the entity's label.",
        &DEFAULT_MODEL,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"argus.default_recommender",
        c"The recommender used when a function is called without one.",
        c"Empty: the only registered recommender.",
        &DEFAULT_RECOMMENDER,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"argus.database",
        c"The database holding argus.outbox, drained by the applier.",
        c"The database where CREATE EXTENSION argus ran.",
        &OUTBOX_DATABASE,
        GucContext::Suset,
        GucFlags::default(),
    );
    // SAFETY: a flag Postgres sets while it loads shared_preload_libraries.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        applier::register();
    }
}

/// A GUC's value, `None` when unset or empty.
pub(crate) fn setting(guc: &GucSetting<Option<CString>>) -> Option<String> {
    guc.get()
        .map(|c| c.to_string_lossy().trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The name to use: `given` when not blank, else the GUC `default`, else `fallback` (the only
/// one registered; an ERROR when there is none or several).
pub(crate) fn name_or_default(
    given: Option<&str>,
    default: &GucSetting<Option<CString>>,
    fallback: impl FnOnce() -> argus_db::Result<String>,
) -> String {
    match given.map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => m.to_string(),
        None => setting(default).unwrap_or_else(|| or_error(fallback())),
    }
}

/// The configured data directory, or an ERROR saying how to set it.
pub(crate) fn data_directory() -> PathBuf {
    match setting(&DATA_DIRECTORY) {
        Some(dir) => PathBuf::from(dir),
        None => error!(
            "argus.data_directory is not set: a superuser sets it in postgresql.conf (ALTER SYSTEM SET argus.data_directory = '/path')"
        ),
    }
}

/// Where this backend's follower keeps its own files.
pub(crate) fn follower_dir(data: &Path, pid: u32) -> PathBuf {
    data.join("followers").join(pid.to_string())
}

/// The file the applier rewrites after each store commit: a counter that lets a backend skip
/// catching up (milliseconds: RocksDB re-reads its manifest) when nothing was applied since its
/// last call, at the cost of one small file read.
pub(crate) fn applied_marker(data: &Path) -> PathBuf {
    data.join("followers").join("applied")
}

/// The applier's counter, `None` when the file is missing or unreadable (then every call
/// catches up).
pub(crate) fn read_applied_marker(data: &Path) -> Option<u64> {
    std::fs::read_to_string(applied_marker(data))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// This backend's follower of the store, opened on first use.
struct Follower {
    dir: PathBuf,
    db: Database,
    /// The applier's counter when this follower last caught up.
    caught_up_at: Option<u64>,
}

thread_local! {
    static FOLLOWER: RefCell<Option<Follower>> = const { RefCell::new(None) };
}

/// This backend's read-only view of the store, caught up with every write applied so far.
pub(crate) fn database() -> Database {
    let dir = data_directory();
    // Read before catching up: every write counted in it is then visible.
    let applied = read_applied_marker(&dir);
    let cached = FOLLOWER.with(|f| {
        f.borrow()
            .as_ref()
            .filter(|f| f.dir == dir)
            .map(|f| (f.db.clone(), f.caught_up_at))
    });
    let db = match cached {
        Some((db, caught_up_at)) if applied.is_some() && caught_up_at == applied => return db,
        Some((db, _)) => db,
        None => {
            if !dir.join("ARGUS").exists() {
                error!(
                    "argus.data_directory {} is not an Argus data directory (yet): the argus applier creates it when the server starts with argus in shared_preload_libraries",
                    dir.display()
                );
            }
            let own = follower_dir(&dir, std::process::id());
            // A directory left by an earlier backend with the same pid holds nothing of value.
            let _ = std::fs::remove_dir_all(&own);
            let options = StoreOptions {
                block_cache_bytes: 32 << 20,
                table_cache_bytes: 0,
                ..StoreOptions::default()
            };
            Database::follow(&dir, &own, options).unwrap_or_else(|e| error!("argus: {e}"))
        }
    };
    db.catch_up().unwrap_or_else(|e| error!("argus: {e}"));
    FOLLOWER.with(|f| {
        *f.borrow_mut() = Some(Follower {
            dir,
            db: db.clone(),
            caught_up_at: applied,
        })
    });
    db
}

/// An Argus error as a Postgres ERROR.
pub(crate) fn or_error<T>(r: argus_db::Result<T>) -> T {
    r.unwrap_or_else(|e| error!("argus: {e}"))
}

extension_sql_file!("../sql/outbox.sql", name = "outbox_tables");
extension_sql_file!("../sql/functions.sql", name = "sql_signatures", finalize);
