//! SQLite's WAL checkpoints, run beside the writer instead of inside its commits.
//!
//! Why: a checkpoint copies the WAL's pages into the database file and syncs both; run by
//! the writer (SQLite's automatic checkpoint), every write queued behind it waits that long.
//! Here a reader connection runs a passive checkpoint (it never blocks the writer or readers)
//! shortly after writes, on the other core. The writer still checkpoints by itself past
//! `wal_autocheckpoint` pages ([`super::WRITER_PRAGMAS`]): with a writer that never pauses, a
//! passive checkpoint never catches up, and only the writer's own lets the WAL start over.
//! SQLite alone (Python's `sqlite3`, batches of 500 keys at one random step, 16 a commit,
//! over a history of 500,000 points): 42–44 batches a second against 34.6, the WAL held at
//! 64 MiB; with no bound it grew to 554 MiB.

use std::sync::Weak;
use std::time::Duration;

use sqlx::AnyPool;
use tokio::sync::Mutex;

use super::writer::SqliteWriter;

/// How soon after a write the checkpoint runs, and how often while nothing is written.
const BUSY_EVERY: Duration = Duration::from_millis(50);
const IDLE_EVERY: Duration = Duration::from_secs(1);

/// Starts the checkpoints; they stop once the writer's turn is gone (the store dropped).
pub(super) fn spawn(readers: AnyPool, alive: Weak<Mutex<SqliteWriter>>) {
    tokio::spawn(async move {
        let mut every = IDLE_EVERY;
        let mut last = (0, 0);
        loop {
            tokio::time::sleep(every).await;
            if alive.strong_count() == 0 {
                return;
            }
            every = match passive(&readers).await {
                // The WAL changed since the last look: writes are going on.
                Ok(now) if now != last => {
                    last = now;
                    BUSY_EVERY
                }
                Ok(_) => IDLE_EVERY,
                Err(e) => {
                    tracing::warn!(error = %e, "a background WAL checkpoint failed");
                    IDLE_EVERY
                }
            };
        }
    });
}

/// One passive checkpoint: the WAL's pages and how many of them are in the database file.
async fn passive(readers: &AnyPool) -> Result<(i64, i64), sqlx::Error> {
    use sqlx::Row;
    // busy, pages in the WAL, pages copied (-1, -1 when not in WAL mode).
    let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(readers)
        .await?;
    Ok((row.try_get(1)?, row.try_get(2)?))
}
