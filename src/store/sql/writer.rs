//! The write transaction every write goes through ([`WriteTx`]), and SQLite's one writer
//! connection behind it ([`SqliteWriter`]).
//!
//! Why SQLite's writer lives outside sqlx's pool: every statement is a round trip to the
//! connection's worker thread (a wake-up there and one back), and the pool added two per
//! write: its `BEGIN`, and the ping it sends to every connection handed back (sqlx-core
//! 0.8's `return_to_pool`, with no way to turn it off). Here the writer keeps an empty
//! deferred transaction open between writes: each `COMMIT` is sent with the next `BEGIN`,
//! so a write costs its own statements and one more (none more for a write whose own
//! statements end with it: [`WriteTx::committed_by_statements`]). An empty deferred transaction holds
//! no lock and no snapshot (SQLite takes both at the first read), so readers, checkpoints
//! and other processes see no difference.

use std::sync::Arc;

use futures::TryStreamExt;
use sqlx::AnyConnection;
use sqlx::{Any, Executor, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::CoreResult;

/// SQLite's one writer connection and what its transaction is doing.
pub(super) struct SqliteWriter {
    conn: AnyConnection,
    state: State,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// An empty deferred transaction is open, ready for the next write.
    Ready,
    /// A write holds it, or one failed partway: its transaction may hold changes, or SQLite
    /// may have ended it (some errors roll back the whole transaction).
    Unsettled,
}

/// What ends a write on SQLite: its commit, and the next write's empty transaction.
pub(super) const COMMIT_AND_BEGIN: &str = "COMMIT; BEGIN";

/// The writer's turn: whoever holds the lock writes.
pub(super) type Turn = Arc<Mutex<SqliteWriter>>;

impl SqliteWriter {
    /// Takes over `conn` (already set up) and opens its first transaction.
    pub(super) async fn start(conn: AnyConnection) -> CoreResult<Turn> {
        let mut writer = SqliteWriter {
            conn,
            state: State::Unsettled,
        };
        writer.begin().await?;
        Ok(Arc::new(Mutex::new(writer)))
    }

    /// Rolls back whatever an earlier write left, and opens a fresh transaction.
    async fn settle(&mut self) -> CoreResult<()> {
        // Fails only when SQLite already ended the transaction: nothing to undo then.
        let _ = self.conn.execute("ROLLBACK").await;
        self.begin().await
    }

    /// Opens the empty deferred transaction the next write takes: no lock, no snapshot.
    async fn begin(&mut self) -> CoreResult<()> {
        self.conn.execute("BEGIN").await?;
        self.state = State::Ready;
        Ok(())
    }

    /// Commits and opens the next transaction in the same round trip.
    async fn commit(&mut self) -> CoreResult<()> {
        self.state = State::Unsettled;
        let mut done = self.conn.execute_many(COMMIT_AND_BEGIN);
        // The first result is the COMMIT's: an error before it means nothing was committed.
        done.try_next().await?;
        // A BEGIN that failed after the commit leaves the writer unsettled; the write stands.
        if let Ok(Some(_)) = done.try_next().await {
            drop(done);
            self.state = State::Ready;
        }
        Ok(())
    }
}

/// The writer's turn (SQLite) and its open transaction, taken together by
/// `SqlTrackingStore::write_tx`: the only way to write. It derefs to the connection the
/// write's statements run on. Dropped without [`WriteTx::commit`], it rolls back.
pub(super) struct WriteTx(Inner);

enum Inner {
    /// `None` once committed or handed to the rollback (see `Drop`).
    Sqlite(Option<OwnedMutexGuard<SqliteWriter>>),
    Postgres(Option<Transaction<'static, Any>>),
}

impl WriteTx {
    /// Waits for SQLite's writer and takes its transaction.
    pub(super) async fn sqlite(turn: &Turn) -> CoreResult<Self> {
        let mut writer = Arc::clone(turn).lock_owned().await;
        if writer.state != State::Ready {
            writer.settle().await?;
        }
        writer.state = State::Unsettled;
        Ok(WriteTx(Inner::Sqlite(Some(writer))))
    }

    /// A PostgreSQL transaction on a connection of the writers' pool.
    pub(super) fn postgres(tx: Transaction<'static, Any>) -> Self {
        WriteTx(Inner::Postgres(Some(tx)))
    }

    pub(super) async fn commit(mut self) -> CoreResult<()> {
        match &mut self.0 {
            Inner::Sqlite(writer) => {
                if let Some(writer) = writer.as_mut() {
                    writer.commit().await?;
                }
            }
            Inner::Postgres(tx) => {
                if let Some(tx) = tx.take() {
                    tx.commit().await?;
                }
            }
        }
        Ok(())
    }

    /// Ends a SQLite write whose own statements ended with [`COMMIT_AND_BEGIN`] and all ran:
    /// the writer is ready for the next write, as after [`WriteTx::commit`].
    pub(super) fn committed_by_statements(mut self) {
        if let Inner::Sqlite(Some(writer)) = &mut self.0 {
            writer.state = State::Ready;
        }
    }

    /// Runs `write` inside a savepoint of this transaction: kept if it succeeds, undone
    /// alone if it fails (its own error is returned; the transaction goes on). The outer
    /// error is one that undid more than the savepoint.
    pub(super) async fn savepoint<T>(
        &mut self,
        write: impl AsyncFnOnce(&mut AnyConnection) -> CoreResult<T>,
    ) -> CoreResult<CoreResult<T>> {
        let conn: &mut AnyConnection = self;
        conn.execute("SAVEPOINT write").await?;
        let result = write(&mut *conn).await;
        let end = match result {
            Ok(_) => "RELEASE write",
            Err(_) => "ROLLBACK TO write; RELEASE write",
        };
        conn.execute(end).await?;
        Ok(result)
    }
}

impl std::ops::Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match &self.0 {
            Inner::Sqlite(Some(writer)) => &writer.conn,
            Inner::Postgres(Some(tx)) => tx,
            _ => unreachable!("a WriteTx is only given up by commit, which consumes it"),
        }
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match &mut self.0 {
            Inner::Sqlite(Some(writer)) => &mut writer.conn,
            Inner::Postgres(Some(tx)) => tx,
            _ => unreachable!("a WriteTx is only given up by commit, which consumes it"),
        }
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        // PostgreSQL's transaction rolls back as it drops.
        let Inner::Sqlite(writer) = &mut self.0 else {
            return;
        };
        let Some(mut writer) = writer.take() else {
            return;
        };
        if writer.state == State::Ready {
            return;
        }
        // Rolled back at once, still in the turn: an open write would hold SQLite's write
        // lock and its snapshot, keeping other processes from writing and the WAL from being
        // checkpointed until the next write. Outside a runtime, the next turn settles it.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = writer.settle().await {
                    tracing::error!(error = %e, "rolling back an unfinished SQLite write failed");
                }
            });
        }
    }
}
