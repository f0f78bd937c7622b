//! Dynamic batching, as Triton's dynamic batcher does it: requests that arrive within a
//! delay of the first one are joined along their first (batch) dimension, run as one, and
//! the outputs split back by each request's rows. Only models whose inputs and outputs all
//! have a dynamic first dimension batch; requests whose other dimensions differ from the
//! batch being formed start the next one.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ort::session::Session;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::{run, PredictError, PredictResult, Tensor, TensorData, TensorSpec, Timing};

/// How requests are batched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batching {
    /// Rows in one run at most (a request larger than this runs alone).
    pub max_batch: usize,
    /// How long the first request of a batch waits for others.
    pub max_delay: Duration,
}

pub(crate) type Reply = oneshot::Sender<PredictResult<(Vec<Tensor>, Timing)>>;

pub(crate) struct Job {
    pub inputs: Vec<Tensor>,
    pub wanted: Vec<String>,
    pub queued: Instant,
    pub reply: Reply,
}

impl Job {
    fn rows(&self) -> usize {
        self.inputs
            .first()
            .and_then(|t| t.shape.first())
            .map_or(1, |d| usize::try_from(*d).unwrap_or(0))
    }

    /// The shapes past the batch dimension, by input: jobs batch together when equal.
    fn tail(&self) -> Vec<(String, Vec<i64>)> {
        let mut tail: Vec<(String, Vec<i64>)> = self
            .inputs
            .iter()
            .map(|t| (t.name.clone(), t.shape.iter().skip(1).copied().collect()))
            .collect();
        tail.sort();
        tail
    }
}

/// Whether a signature allows batching: every input and output has a dynamic first dimension.
pub(crate) fn batchable(inputs: &[TensorSpec], outputs: &[TensorSpec]) -> bool {
    inputs.iter().chain(outputs).all(|s| s.shape.first() == Some(&-1))
}

pub(crate) struct Batcher {
    pub batching: Batching,
    pub outputs: Vec<String>,
    pub sessions: Arc<Mutex<Vec<Session>>>,
    pub running: Arc<Semaphore>,
}

impl Batcher {
    /// Forms batches from `jobs` until the model is dropped (the channel closes).
    pub async fn serve(self, mut jobs: mpsc::UnboundedReceiver<Job>) {
        let mut carry: Option<Job> = None;
        loop {
            let first = match carry.take() {
                Some(job) => job,
                None => match jobs.recv().await {
                    Some(job) => job,
                    None => return,
                },
            };
            let deadline = tokio::time::Instant::from_std(first.queued + self.batching.max_delay);
            let tail = first.tail();
            let mut rows = first.rows();
            let mut batch = vec![first];
            while rows < self.batching.max_batch {
                match tokio::time::timeout_at(deadline, jobs.recv()).await {
                    Ok(Some(job)) if job.tail() == tail && rows + job.rows() <= self.batching.max_batch => {
                        rows += job.rows();
                        batch.push(job);
                    }
                    Ok(Some(job)) => {
                        carry = Some(job);
                        break;
                    }
                    Ok(None) | Err(_) => break,
                }
            }
            // Waiting for a free session here lets the next batch fill meanwhile.
            let Ok(permit) = self.running.clone().acquire_owned().await else {
                return;
            };
            let sessions = self.sessions.clone();
            let outputs = self.outputs.clone();
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                run_batch(&sessions, &outputs, batch);
            });
        }
    }
}

/// Runs the jobs as one request and answers each with its rows.
fn run_batch(sessions: &Mutex<Vec<Session>>, outputs: &[String], batch: Vec<Job>) {
    let started = Instant::now();
    let counts: Vec<usize> = batch.iter().map(Job::rows).collect();
    let total: usize = counts.iter().sum();
    let mut parts: Vec<Vec<Tensor>> = Vec::with_capacity(batch.len());
    let mut replies = Vec::with_capacity(batch.len());
    for job in batch {
        let queue = started.saturating_duration_since(job.queued);
        parts.push(job.inputs);
        replies.push((job.reply, job.wanted, queue));
    }
    let result = joined(parts, total).and_then(|inputs| {
        let mut session = sessions
            .lock()
            .map_err(|_| PredictError::Runtime("session pool poisoned".into()))?
            .pop()
            .ok_or(PredictError::Busy)?;
        let result = run(&mut session, inputs, outputs);
        if let Ok(mut pool) = sessions.lock() {
            pool.push(session);
        }
        result
    });
    let compute = started.elapsed();
    match result {
        Err(e) => {
            let message = e.to_string();
            for (reply, _, _) in replies {
                let again = match &e {
                    PredictError::BadInput(_) => PredictError::BadInput(message.clone()),
                    PredictError::Rejected(_) => PredictError::Rejected(message.clone()),
                    PredictError::Busy => PredictError::Busy,
                    _ => PredictError::Runtime(message.clone()),
                };
                let _ = reply.send(Err(again));
            }
        }
        Ok(all) => {
            let mut offset = 0;
            for (i, ((reply, wanted, queue), rows)) in replies.into_iter().zip(counts).enumerate() {
                let mine = all
                    .iter()
                    .filter(|t| wanted.is_empty() || wanted.contains(&t.name))
                    .map(|t| split(t, offset, rows, total))
                    .collect();
                offset += rows;
                let timing = Timing {
                    queue,
                    compute,
                    executions: u64::from(i == 0),
                };
                let _ = reply.send(Ok((mine, timing)));
            }
        }
    }
}

/// The jobs' inputs joined along the first dimension, by name.
fn joined(parts: Vec<Vec<Tensor>>, total: usize) -> PredictResult<Vec<Tensor>> {
    let Some(first) = parts.first() else {
        return Ok(Vec::new());
    };
    let names: Vec<(String, Vec<i64>)> = first.iter().map(|t| (t.name.clone(), t.shape.clone())).collect();
    let mut columns: Vec<Vec<TensorData>> = names.iter().map(|_| Vec::new()).collect();
    for part in parts {
        for tensor in part {
            if let Some(i) = names.iter().position(|(n, _)| *n == tensor.name) {
                columns[i].push(tensor.data);
            }
        }
    }
    names
        .into_iter()
        .zip(columns)
        .map(|((name, mut shape), data)| {
            if let Some(d) = shape.first_mut() {
                *d = i64::try_from(total).unwrap_or(i64::MAX);
            }
            let data = TensorData::concat(data)
                .ok_or_else(|| PredictError::BadInput(format!("input '{name}': element types differ")))?;
            Ok(Tensor { name, shape, data })
        })
        .collect()
}

/// Rows `offset..offset + rows` of an output of `total` rows.
fn split(t: &Tensor, offset: usize, rows: usize, total: usize) -> Tensor {
    let inner = t.data.len().checked_div(total).unwrap_or(0);
    let mut shape = t.shape.clone();
    if let Some(d) = shape.first_mut() {
        *d = i64::try_from(rows).unwrap_or(i64::MAX);
    }
    Tensor {
        name: t.name.clone(),
        shape,
        data: t.data.slice(offset * inner, (offset + rows) * inner),
    }
}
