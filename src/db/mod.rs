//! All SQL of PinGlass lives in this module: one file per aggregate, typed
//! functions over a `rusqlite::Connection`. Nothing outside `db/` writes SQL.
//!
//! The async code reaches the database through [`Db::run`], which takes a
//! pooled connection on tokio's blocking pool, so SQLite never stalls the
//! async executor threads.

pub mod ab;
pub(crate) mod alerts;
pub mod avatars;
pub(crate) mod backup;
pub mod dialogues;
pub mod events;
#[cfg(feature = "testkit")]
pub mod fixtures;
pub mod galleries;
pub(crate) mod housekeeping;
pub mod jobs;
pub mod loadtest;
pub(crate) mod ops;
pub mod payments;
pub mod portraits;
pub mod privacy;
pub mod queue;
pub mod referrals;
pub mod refunds;
pub mod reminders;
pub(crate) mod reports;
pub(crate) mod service_state;
pub mod users;

use std::path::Path;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, Row};
use rusqlite_migration::{M, Migrations};

pub(crate) type Pool = r2d2::Pool<SqliteConnectionManager>;

/// The versioned migrations, applied in order at start-up. Never edit a
/// shipped migration: add the next one.
pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("migrations/0001_init.sql")).foreign_key_check(),
        M::up(include_str!("migrations/0002_shared_gallery_live.sql")),
        M::up(include_str!("migrations/0003_referral.sql")),
        M::up(include_str!("migrations/0004_reminder_indexes.sql")),
        M::up(include_str!("migrations/0005_task_take.sql")),
        M::up(include_str!("migrations/0006_job_retry.sql")),
        M::up(include_str!("migrations/0007_queue_failed_at.sql")),
        M::up(include_str!("migrations/0008_data_deletion.sql")),
        M::up(include_str!("migrations/0009_photo_ahash.sql")),
        M::up(include_str!("migrations/0010_queue_open_by_chat.sql")),
        M::up(include_str!("migrations/0011_queue_open.sql")),
        M::up(include_str!("migrations/0012_queue_priority.sql")),
        M::up(include_str!("migrations/0013_payment_switch.sql")).foreign_key_check(),
        M::up(include_str!("migrations/0014_payment_terminal.sql")),
        M::up(include_str!("migrations/0015_refund_sent.sql")),
    ])
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("database migration: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("database task panicked or was cancelled: {0}")]
    Join(String),
}

/// Per-connection settings, applied by the pool to every new connection.
const CONNECTION_PRAGMAS: &str = "
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = NORMAL;
    PRAGMA foreign_keys = ON;
    PRAGMA busy_timeout = 5000;
";

/// A pool of SQLite connections with the schema migrated to the latest version.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").finish_non_exhaustive()
    }
}

impl Db {
    /// Opens (creating if needed) the database at `path`, applies pending
    /// migrations and returns the pool.
    pub fn open(path: &Path, pool_size: u32) -> Result<Db, DbError> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            // A missing directory gives a clearer error from SQLite itself.
            let _ = std::fs::create_dir_all(parent);
        }
        let manager = SqliteConnectionManager::file(path).with_init(|c: &mut Connection| {
            // Every transaction takes the write lock at BEGIN (waiting up
            // to busy_timeout): a deferred one that reads, then writes
            // fails at once with SQLITE_BUSY when another connection
            // committed in between, which busy_timeout does not cover.
            c.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
            c.execute_batch(CONNECTION_PRAGMAS)
        });
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .connection_timeout(Duration::from_secs(30))
            .build(manager)?;
        let mut conn = pool.get()?;
        migrations().to_latest(&mut conn)?;
        Ok(Db { pool })
    }

    /// The schema version of the open database (the number of applied migrations).
    pub fn schema_version(&self) -> Result<usize, DbError> {
        let conn = self.pool.get()?;
        Ok(match migrations().current_version(&conn)? {
            rusqlite_migration::SchemaVersion::Inside(v) => v.get(),
            _ => 0,
        })
    }

    /// Runs blocking database work on tokio's blocking pool.
    pub async fn run<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            work(&mut conn).map_err(DbError::from)
        })
        .await
        .map_err(|e| DbError::Join(e.to_string()))?
    }

    /// Runs blocking database work on the current thread (start-up, tools, tests).
    pub fn run_blocking<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, DbError> {
        let mut conn = self.pool.get()?;
        work(&mut conn).map_err(DbError::from)
    }
}

/// Milliseconds since the Unix epoch, the unit of every time column.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The names of the tables the schema creates, sorted (for tests and `migrate`).
pub fn table_names(conn: &Connection) -> Result<Vec<String>, rusqlite::Error> {
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )?;
    stmt.query_map([], |r| r.get(0))?.collect()
}

/// Whether a rusqlite error is a UNIQUE or PRIMARY KEY violation.
pub fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// A text column read into a Rust enum by `parse` (statuses are enums at this
/// boundary and strings in SQL), or a conversion error naming the value.
fn text_enum<T>(r: &Row<'_>, column: usize, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let text: String = r.get(column)?;
    parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Text,
            format!("unknown value {text:?}").into(),
        )
    })
}
