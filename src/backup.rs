//! The ledger survives the disk: online backups of the SQLite database into
//! the object store (Cloudflare R2 in production), and `pinglass restore`.
//!
//! A snapshot (`db::backup`, SQLite's backup API: consistent while the bot
//! runs) is taken every `[backup] interval_minutes` and once more at a
//! graceful stop, uploaded as `backups/pinglass-<UTC time>.sqlite3`, and the
//! oldest beyond `[backup] keep` are deleted. The recovery point is at most
//! one interval: a host lost at any moment is rebuilt from the latest
//! snapshot, and the side task resumes every payment and job it holds
//! (payments are read again from T-Bank, tasks from Kie).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::db::{self, Db};
use crate::store::ObjectStore;

/// Where the snapshots live in the object store.
const PREFIX: &str = "backups/";

/// One snapshot written.
#[derive(Debug)]
pub(crate) struct Written {
    pub(crate) key: String,
    pub(crate) bytes: usize,
    pub(crate) took: Duration,
}

/// Takes a snapshot, uploads it, and deletes the snapshots beyond `keep`.
/// `work_dir` holds the snapshot file while it is uploaded.
pub(crate) async fn backup_once(
    db: &Db,
    store: &ObjectStore,
    clock: &Clock,
    work_dir: &Path,
    keep: usize,
) -> anyhow::Result<Written> {
    let started = Instant::now();
    let stamp = chrono::DateTime::from_timestamp_millis(clock.now_ms())
        .unwrap_or_default()
        .format("%Y%m%dT%H%M%S%3fZ");
    let key = format!("{PREFIX}pinglass-{stamp}.sqlite3");
    std::fs::create_dir_all(work_dir)
        .with_context(|| format!("creating {}", work_dir.display()))?;
    let file = work_dir.join(format!("pinglass-backup-{stamp}.sqlite3.part"));
    let _ = std::fs::remove_file(&file);
    let path = file.clone();
    db.run(move |c| db::backup::snapshot_to(c, &path))
        .await
        .context("taking the database snapshot")?;
    let read = tokio::fs::read(&file).await;
    let _ = std::fs::remove_file(&file);
    let bytes = read.context("reading the snapshot")?;
    let size = bytes.len();
    store
        .put(&key, Bytes::from(bytes), "application/vnd.sqlite3")
        .await
        .with_context(|| format!("uploading {key}"))?;
    prune(store, keep).await?;
    Ok(Written {
        key,
        bytes: size,
        took: started.elapsed(),
    })
}

/// Deletes the oldest snapshots beyond the newest `keep`.
async fn prune(store: &ObjectStore, keep: usize) -> anyhow::Result<()> {
    let keys = snapshots(store).await?;
    for key in keys.iter().take(keys.len().saturating_sub(keep.max(1))) {
        store
            .delete(key)
            .await
            .with_context(|| format!("deleting the old backup {key}"))?;
    }
    Ok(())
}

/// The snapshots in the store, oldest first (the names sort by time).
async fn snapshots(store: &ObjectStore) -> anyhow::Result<Vec<String>> {
    let mut keys = store.list(PREFIX).await.context("listing the backups")?;
    keys.retain(|key| key.ends_with(".sqlite3"));
    keys.sort();
    Ok(keys)
}

/// The periodic backups, until `stop` turns true (the last one is taken by
/// the stop itself, after the dispatcher and the side task ended).
pub(crate) async fn run(
    db: Db,
    store: ObjectStore,
    clock: std::sync::Arc<Clock>,
    settings: Settings,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(settings.interval) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        log(backup_once(&db, &store, &clock, &settings.work_dir, settings.keep).await);
    }
}

/// Logs the outcome of one backup.
pub(crate) fn log(outcome: anyhow::Result<Written>) {
    match outcome {
        Ok(written) => {
            crate::ops::metrics::backup_written(written.bytes as u64, written.took);
            tracing::info!(
            key = %written.key,
            bytes = written.bytes,
            took_ms = u64::try_from(written.took.as_millis()).unwrap_or(u64::MAX),
            "database backup written"
            );
        }
        Err(error) => tracing::error!(error = format!("{error:#}"), "database backup failed"),
    }
}

/// `[backup]`, resolved.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) interval: Duration,
    pub(crate) keep: usize,
    pub(crate) work_dir: PathBuf,
}

impl Settings {
    pub(crate) fn of(config: &crate::config::Config) -> Settings {
        Settings {
            interval: Duration::from_secs_f64(config.backup.interval_minutes * 60.0),
            keep: config.backup.keep as usize,
            // Beside the database: the same disk, and nothing in the ZIP
            // work directory, which start-up empties.
            work_dir: config
                .database
                .path
                .parent()
                .filter(|dir| !dir.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        }
    }
}

/// `pinglass restore`: the latest snapshot in the object store becomes the
/// database. Refuses to overwrite a database that exists.
pub async fn restore(config: &crate::config::Config) -> anyhow::Result<String> {
    let path = &config.database.path;
    if path.exists() {
        anyhow::bail!(
            "{} exists: move it away first (restore never overwrites a database)",
            path.display()
        );
    }
    let store = crate::services::store_for_tools(config)?;
    let keys = snapshots(&store).await?;
    let latest = keys
        .last()
        .context("no backup in the object store (backups/ is empty)")?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let part = path.with_extension("restoring");
    store
        .get_to_file(latest, &part)
        .await
        .with_context(|| format!("downloading {latest}"))?;
    std::fs::rename(&part, path)
        .with_context(|| format!("moving the backup to {}", path.display()))?;
    // Opening runs the migrations a newer binary may add.
    let db = Db::open(path, 1).with_context(|| format!("opening {}", path.display()))?;
    let version = db.schema_version()?;
    Ok(format!(
        "restored {latest} to {} (schema version {version})",
        path.display()
    ))
}
