//! The argus applier: the background worker that owns the store (its only writer) and applies
//! committed outbox rows in batches, exactly once (`argus_db::outbox`).

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::time::Duration;

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::prelude::*;
use pgrx::JsonB;

use argus_db::outbox::{applied_ids, apply_outbox, GraphOp};
use argus_engine::GraphStore;

use crate::{applied_marker, read_applied_marker, setting, DATA_DIRECTORY, OUTBOX_DATABASE};

/// Outbox rows per batch (one store transaction).
const BATCH: i64 = 1000;
/// How long the applier sleeps when the outbox is empty.
const IDLE: Duration = Duration::from_millis(20);

pub(crate) fn register() {
    BackgroundWorkerBuilder::new("argus applier")
        .set_function("argus_applier_main")
        .set_library("argus")
        .enable_spi_access()
        .set_restart_time(Some(Duration::from_secs(1)))
        .load();
}

/// Count one more store commit in the applied marker (see [`crate::applied_marker`]): write a
/// new file and rename it over the old one, so a reader sees the old or the new count, whole.
fn mark_applied(dir: &Path, count: &mut u64) {
    *count += 1;
    let marker = applied_marker(dir);
    let fresh = marker.with_extension("new");
    let written = std::fs::create_dir_all(dir.join("followers"))
        .and_then(|()| std::fs::write(&fresh, count.to_string()))
        .and_then(|()| std::fs::rename(&fresh, &marker));
    if let Err(e) = written {
        // Backends then keep catching up on every call, as without a marker: slower, not wrong.
        log!("argus applier: cannot write {}: {e}", marker.display());
        let _ = std::fs::remove_file(&marker);
    }
}

/// Remove the follower directories of backends that no longer exist.
fn prune_followers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir.join("followers")) else {
        return;
    };
    for entry in entries.flatten() {
        // Only backends' directories (named by pid); the applied marker stays.
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn argus_applier_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let database = setting(&OUTBOX_DATABASE).unwrap_or_else(|| "postgres".to_string());
    BackgroundWorker::connect_worker_to_spi(Some(&database), None);
    let Some(dir) = setting(&DATA_DIRECTORY) else {
        log!("argus applier: argus.data_directory is not set; nothing to apply");
        while BackgroundWorker::wait_latch(Some(Duration::from_secs(60))) {}
        return;
    };
    let store = match GraphStore::open(&dir) {
        Ok(store) => store,
        Err(e) => {
            // Exits; the postmaster starts the applier again a second later.
            log!("argus applier: cannot open {dir}: {e}");
            return;
        }
    };
    prune_followers(Path::new(&dir));
    // A restarted applier reopened the store: every follower catches up once. The count starts
    // from the clock when that is ahead, so a lost marker file never repeats an earlier count.
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let mut applied = read_applied_marker(Path::new(&dir))
        .unwrap_or(0)
        .max(since_epoch);
    mark_applied(Path::new(&dir), &mut applied);
    log!("argus applier: applying argus.outbox of database {database} to {dir}");
    let mut idle = false;
    while BackgroundWorker::wait_latch(Some(if idle { IDLE } else { Duration::ZERO })) {
        let store = AssertUnwindSafe(&store);
        let marker = AssertUnwindSafe((Path::new(&dir), &mut applied));
        let outcome = BackgroundWorker::transaction(move || {
            let AssertUnwindSafe((dir, applied)) = { marker };
            round(&store, dir, applied)
        });
        idle = match outcome {
            Ok(n) => n == 0,
            Err(e) => {
                log!("argus applier: {e}; retrying");
                true
            }
        };
    }
}

/// One batch: apply, then settle the rows in the outbox, in one Postgres transaction (the
/// caller's). Returns how many rows it settled.
fn round(store: &GraphStore, dir: &Path, applied: &mut u64) -> Result<usize, String> {
    let exists = Spi::get_one::<bool>("SELECT to_regclass('argus.outbox') IS NOT NULL")
        .map_err(|e| e.to_string())?
        .unwrap_or(false);
    if !exists {
        return Ok(0); // CREATE EXTENSION argus has not run in this database yet
    }
    let recorded = applied_ids(&store.snapshot()).map_err(|e| e.to_string())?;
    let rows: Vec<(i64, Option<JsonB>)> = Spi::connect(|client| {
        client
            .select(
                "SELECT id, op FROM argus.outbox ORDER BY id LIMIT $1",
                None,
                &[BATCH.into()],
            )?
            .map(|row| Ok((row.get::<i64>(1)?.unwrap_or(0), row.get::<JsonB>(2)?)))
            .collect::<Result<Vec<_>, pgrx::spi::Error>>()
    })
    .map_err(|e| e.to_string())?;
    if rows.is_empty() && recorded.is_empty() {
        return Ok(0);
    }
    let still_queued: Vec<i64> = if recorded.is_empty() {
        Vec::new()
    } else {
        Spi::connect(|client| {
            client
                .select(
                    "SELECT id FROM argus.outbox WHERE id = ANY($1)",
                    None,
                    &[recorded.clone().into()],
                )?
                .map(|row| Ok(row.get::<i64>(1)?.unwrap_or(0)))
                .collect::<Result<Vec<_>, pgrx::spi::Error>>()
        })
        .map_err(|e| e.to_string())?
    };
    let mut ops = Vec::with_capacity(rows.len());
    let mut unreadable = Vec::new();
    for (id, op) in &rows {
        match op
            .as_ref()
            .map(|JsonB(v)| serde_json::from_value::<GraphOp>(v.clone()))
        {
            Some(Ok(op)) => ops.push((*id, op)),
            Some(Err(e)) => unreadable.push((*id, format!("not a graph operation: {e}"))),
            None => unreadable.push((*id, "empty operation".to_string())),
        }
    }
    let mut outcome = apply_outbox(store, &ops, &still_queued).map_err(|e| e.to_string())?;
    // Before the outbox rows go (what `wait_applied` waits for): a backend that sees them gone
    // sees the new count too, and catches up.
    mark_applied(dir, applied);
    outcome.rejected.extend(unreadable);
    Spi::connect_mut(|client| {
        for (id, error) in &outcome.rejected {
            client.update(
                "INSERT INTO argus.outbox_rejected (id, op, error) \
                 SELECT id, op, $2 FROM argus.outbox WHERE id = $1 ON CONFLICT (id) DO NOTHING",
                None,
                &[(*id).into(), error.as_str().into()],
            )?;
        }
        client.update(
            "DELETE FROM argus.outbox WHERE id = ANY($1)",
            None,
            &[outcome.settled().into()],
        )?;
        Ok::<_, pgrx::spi::Error>(())
    })
    .map_err(|e| e.to_string())?;
    Ok(outcome.settled().len())
}
