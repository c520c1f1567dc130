//! The database's online backup: SQLite's backup API copies a consistent
//! snapshot while the bot keeps writing. The copy is one step, a single
//! read transaction: in WAL mode it does not block the writers, and no write
//! in between can make it start over.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

/// Writes a snapshot of `conn`'s database to a new file at `path`.
pub(crate) fn snapshot_to(conn: &Connection, path: &Path) -> rusqlite::Result<()> {
    let mut copy = Connection::open(path)?;
    let backup = rusqlite::backup::Backup::new(conn, &mut copy)?;
    // -1: every page in one step. Busy or Locked: a writer holds the lock
    // for a moment; the step is tried again.
    loop {
        match backup.step(-1)? {
            rusqlite::backup::StepResult::Done => break,
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    drop(backup);
    // One self-contained file: no WAL beside it.
    copy.pragma_update(None, "journal_mode", "DELETE")?;
    Ok(())
}
