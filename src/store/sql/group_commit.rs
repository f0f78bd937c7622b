//! SQLite's group commit: `log_batch` calls that queue behind the one writer are written in
//! one transaction, each inside a savepoint of its own, so a batch that fails (a changed
//! param, a deleted run) is rolled back alone and answered with its own error.
//!
//! Why: batches to one run under many keys change the same B-tree leaves (each key's
//! history, the run's latest metrics). Committed one by one, each batch writes those pages
//! to the WAL again; committed together, once. SQLite alone (Python's `sqlite3`, the
//! server's schema and pragmas, 480 batches of 500 keys at one random step each to one run):
//! 53–58 batches a second one per commit, 115–130 sixteen per commit.
//!
//! Only the caller that finds nobody writing starts a task that drains the queue, so a
//! lone batch costs a spawn and a channel, and a batch never waits for a group to fill.
//! The task, not a caller, holds the transaction: a caller that goes away (its client hung
//! up) cannot roll back the batches of others.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, PoisonError};

use futures::FutureExt;
use tokio::sync::oneshot;

use super::runs::{sqlite_metrics_alone_fits, sqlite_metrics_committed, write_batch};
use super::writer::{Turn, WriteTx};
use super::Backend;
use crate::tracking::{Metric, Param, RunTag};
use crate::{CoreError, CoreResult};

/// At most this many batches in one transaction (up to 1,000 metrics, 100 params and 100
/// tags each), so one commit stays short while other writes wait for the writer.
const MAX_GROUP: usize = 32;

/// One queued `log_batch` and where its answer goes.
struct Batch {
    run_id: String,
    metrics: Vec<Metric>,
    params: Vec<Param>,
    tags: Vec<RunTag>,
    done: oneshot::Sender<CoreResult<()>>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Batch>,
    /// A task is draining `waiting`; set and cleared under the queue's lock.
    draining: bool,
}

pub(super) struct GroupCommit {
    queue: std::sync::Mutex<Queue>,
    backend: Backend,
    /// The writer's turn, shared with every other write (`SqlTrackingStore::write_tx`).
    turn: Turn,
}

impl GroupCommit {
    pub(super) fn new(backend: Backend, turn: Turn) -> Arc<Self> {
        Arc::new(GroupCommit {
            queue: std::sync::Mutex::new(Queue::default()),
            backend,
            turn,
        })
    }

    /// Queues the (validated) batch and waits until its group is committed.
    pub(super) async fn log_batch(
        self: &Arc<Self>,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[RunTag],
    ) -> CoreResult<()> {
        let (done, answer) = oneshot::channel();
        let batch = Batch {
            run_id: run_id.to_owned(),
            metrics: metrics.to_vec(),
            params: params.to_vec(),
            tags: tags.to_vec(),
            done,
        };
        let start = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.waiting.push(batch);
            !std::mem::replace(&mut queue.draining, true)
        };
        if start {
            tokio::spawn(Arc::clone(self).drain());
        }
        answer.await.unwrap_or_else(|_| {
            Err(CoreError::Internal(
                "the batch writer stopped before answering".into(),
            ))
        })
    }

    /// Commits groups until the queue is empty.
    async fn drain(self: Arc<Self>) {
        loop {
            let group: Vec<Batch> = {
                let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                if queue.waiting.is_empty() {
                    queue.draining = false;
                    return;
                }
                let n = queue.waiting.len().min(MAX_GROUP);
                queue.waiting.drain(..n).collect()
            };
            // A panic would drop this group's answers (their callers get an internal error);
            // the queue behind it must still be drained.
            if AssertUnwindSafe(self.commit(group)).catch_unwind().await.is_err() {
                tracing::error!("a group of log_batch calls panicked while being written");
            }
        }
    }

    /// Writes the group in one transaction and answers each batch.
    async fn commit(&self, group: Vec<Batch>) {
        match self.write(&group).await {
            Ok(results) => {
                for (batch, result) in group.into_iter().zip(results) {
                    // A caller that went away no longer listens; its batch is written all the same.
                    let _ = batch.done.send(result);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, batches = group.len(), "a group of log_batch calls failed to commit");
                for batch in group {
                    let _ = batch.done.send(Err(shared(&e)));
                }
            }
        }
    }

    /// Each batch's own result, or the error that undid the whole group.
    async fn write(&self, group: &[Batch]) -> CoreResult<Vec<CoreResult<()>>> {
        let mut tx = WriteTx::sqlite(&self.turn).await?;
        if let [b] = group {
            if sqlite_metrics_alone_fits(self.backend, &b.metrics, &b.params, &b.tags) {
                return Ok(vec![sqlite_metrics_committed(tx, &b.run_id, &b.metrics).await]);
            }
            // Alone, the transaction is the batch's own: two statements fewer than a savepoint.
            let result = write_batch(self.backend, &mut tx, &b.run_id, &b.metrics, &b.params, &b.tags).await;
            if result.is_ok() {
                tx.commit().await?;
            }
            return Ok(vec![result]);
        }
        let mut results = Vec::with_capacity(group.len());
        for b in group {
            // A savepoint's rollback undoes this batch alone.
            results.push(
                tx.savepoint(async |conn| {
                    write_batch(self.backend, conn, &b.run_id, &b.metrics, &b.params, &b.tags).await
                })
                .await?,
            );
        }
        tx.commit().await?;
        Ok(results)
    }
}

/// The group's error for each of its batches (errors can't be cloned): a busy or failing
/// database stays what it is (503), anything else is internal (500).
fn shared(e: &CoreError) -> CoreError {
    match e {
        CoreError::Database(sqlx::Error::PoolTimedOut) => CoreError::Database(sqlx::Error::PoolTimedOut),
        CoreError::Database(sqlx::Error::Io(io)) => {
            CoreError::Database(sqlx::Error::Io(std::io::Error::new(io.kind(), io.to_string())))
        }
        other => CoreError::Internal(other.to_string()),
    }
}
