//! The embedded ONNX Runtime predictor: loads an ONNX model from bytes, reads its input and
//! output names, element types and shapes from the graph, checks requests against them
//! before ONNX Runtime sees them, and runs them on a bounded pool of sessions off the async
//! runtime (`Session::run` needs `&mut`, and a run blocks its thread). Server-only: this
//! crate never enters the WASM build.

mod batch;
mod tensor;
pub mod wire;

pub use batch::Batching;

pub use tensor::{DataType, Tensor, TensorData, TensorSpec};

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use batch::{Batcher, Job};
use std::time::{Duration, Instant};

use ort::environment::Environment;
use ort::session::Session;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Whose fault a failed prediction is.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    /// The request does not fit the model (name, type, shape, size): the caller's.
    #[error("{0}")]
    BadInput(String),
    /// Every session is busy and the queue is full: try again.
    #[error("the model is busy: its queue is full")]
    Busy,
    /// ONNX Runtime refused a request that fits the signature (a label the model does not
    /// know, say): the caller's, with ONNX Runtime's message.
    #[error("ONNX Runtime refused the request: {0}")]
    Rejected(String),
    /// The model could not be loaded (corrupt file, unsupported operator): ONNX Runtime's message.
    #[error("{0}")]
    Load(String),
    /// ONNX Runtime failed on a valid request, or is not available.
    #[error("{0}")]
    Runtime(String),
}

pub type PredictResult<T> = Result<T, PredictError>;

/// Where a request's time went (Triton's queue and compute durations).
#[derive(Clone, Copy, Debug, Default)]
pub struct Timing {
    /// Waiting for a free session.
    pub queue: Duration,
    /// ONNX Runtime's run, with the conversions around it.
    pub compute: Duration,
    /// Runs of the model this request counts (Triton's `exec_count`): 1, or under dynamic
    /// batching 1 for the first request of a batch and 0 for the others that joined it.
    pub executions: u64,
}

static ENVIRONMENT: OnceLock<Environment> = OnceLock::new();

/// Loads ONNX Runtime from `library` (the `onnxruntime==1.32.0` wheel's
/// `libonnxruntime.so`) and makes the process's one environment. Later calls return the
/// same environment.
pub fn init(library: &Path) -> PredictResult<()> {
    if ENVIRONMENT.get().is_some() {
        return Ok(());
    }
    let builder = ort::init_from(library).map_err(|e| {
        PredictError::Runtime(format!(
            "could not load ONNX Runtime from {}: {e}",
            library.display()
        ))
    })?;
    let environment = builder
        .with_name("aiops")
        .build()
        .map_err(|e| PredictError::Runtime(format!("ONNX Runtime environment: {e}")))?;
    let _ = ENVIRONMENT.set(environment);
    Ok(())
}

fn environment() -> PredictResult<&'static Environment> {
    ENVIRONMENT
        .get()
        .ok_or_else(|| PredictError::Runtime("ONNX Runtime is not loaded (set ORT_DYLIB_PATH)".into()))
}

/// How a model is served.
#[derive(Clone, Copy, Debug)]
pub struct ModelConfig {
    /// Sessions that run at once.
    pub sessions: usize,
    /// Threads each session uses inside one run.
    pub intra_threads: usize,
    /// Requests that may wait for a session; past that, [`PredictError::Busy`] at once.
    pub queue: usize,
    /// Dynamic batching, for models whose inputs and outputs have a dynamic first dimension.
    pub batching: Option<Batching>,
    /// A small request (at most [`INLINE_ELEMENTS`] input values) runs on the request's own
    /// thread when the model's small runs have taken less than this; zero sends every run
    /// to the blocking pool. See [`Model::infer_timed`].
    pub inline_below: Duration,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            sessions: 2,
            intra_threads: 1,
            queue: 256,
            batching: None,
            inline_below: Duration::from_micros(50),
        }
    }
}

/// Input values a request may hold and still run inline (a few rows of features).
pub const INLINE_ELEMENTS: usize = 256;

/// A loaded model: its signature and a pool of sessions.
pub struct Model {
    inputs: Vec<TensorSpec>,
    outputs: Vec<TensorSpec>,
    sessions: Arc<Mutex<Vec<Session>>>,
    running: Arc<Semaphore>,
    admitted: Arc<Semaphore>,
    batching: Option<Batching>,
    inline_below: Duration,
    /// How long small runs take (an average, in ns; `u64::MAX` until one has run).
    small_run_ns: Arc<AtomicU64>,
    /// The batcher's queue, started on the first request (it needs the async runtime).
    batcher: OnceLock<mpsc::UnboundedSender<Job>>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .finish()
    }
}

fn new_session(bytes: &[u8], config: &ModelConfig) -> PredictResult<Session> {
    let load = |e: ort::Error| PredictError::Load(e.to_string());
    Session::builder(environment()?)
        .map_err(load)?
        .with_intra_threads(config.intra_threads.max(1))
        .map_err(|e| PredictError::Load(e.to_string()))?
        .commit_from_memory(bytes)
        .map_err(load)
}

impl Model {
    /// Builds `config.sessions` sessions from an ONNX file's bytes. Blocking (it compiles
    /// the graph): call it off the async runtime.
    pub fn load(bytes: &[u8], config: ModelConfig) -> PredictResult<Model> {
        let first = new_session(bytes, &config)?;
        let inputs = first
            .inputs()
            .iter()
            .map(|o| TensorSpec::from_outlet(o.name(), o.dtype()))
            .collect::<PredictResult<Vec<_>>>()?;
        let outputs = first
            .outputs()
            .iter()
            .map(|o| TensorSpec::from_outlet(o.name(), o.dtype()))
            .collect::<PredictResult<Vec<_>>>()?;
        let mut sessions = vec![first];
        for _ in 1..config.sessions.max(1) {
            sessions.push(new_session(bytes, &config)?);
        }
        let count = sessions.len();
        Ok(Model {
            inputs,
            outputs,
            sessions: Arc::new(Mutex::new(sessions)),
            running: Arc::new(Semaphore::new(count)),
            admitted: Arc::new(Semaphore::new(count + config.queue)),
            batching: config.batching.filter(|b| b.max_batch > 1),
            inline_below: config.inline_below,
            small_run_ns: Arc::new(AtomicU64::new(u64::MAX)),
            batcher: OnceLock::new(),
        })
    }

    pub fn inputs(&self) -> &[TensorSpec] {
        &self.inputs
    }

    pub fn outputs(&self) -> &[TensorSpec] {
        &self.outputs
    }

    /// The batching this model does (none when its signature cannot batch).
    pub fn batching(&self) -> Option<Batching> {
        self.batching
            .filter(|_| batch::batchable(&self.inputs, &self.outputs))
    }

    fn batcher(&self, batching: Batching) -> &mpsc::UnboundedSender<Job> {
        self.batcher.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let batcher = Batcher {
                batching,
                outputs: self.outputs.iter().map(|o| o.name.clone()).collect(),
                sessions: self.sessions.clone(),
                running: self.running.clone(),
            };
            tokio::spawn(batcher.serve(rx));
            tx
        })
    }

    /// Checks a request against the graph: every input present once by name, with its
    /// element type, a shape that fits (dynamic dimensions as -1) and as many values as the
    /// shape holds; requested outputs must exist.
    pub fn validate(&self, inputs: &[Tensor], requested: &[String]) -> PredictResult<()> {
        for spec in &self.inputs {
            let given: Vec<&Tensor> = inputs.iter().filter(|t| t.name == spec.name).collect();
            let tensor = match given.as_slice() {
                [one] => *one,
                [] => return Err(PredictError::BadInput(format!("missing input '{}'", spec.name))),
                _ => {
                    return Err(PredictError::BadInput(format!(
                        "input '{}' given more than once",
                        spec.name
                    )))
                }
            };
            tensor.check_against(spec)?;
        }
        if let Some(extra) = inputs
            .iter()
            .find(|t| !self.inputs.iter().any(|s| s.name == t.name))
        {
            let known: Vec<&str> = self.inputs.iter().map(|s| s.name.as_str()).collect();
            return Err(PredictError::BadInput(format!(
                "unexpected input '{}': the model's inputs are {}",
                extra.name,
                known.join(", ")
            )));
        }
        if let Some(unknown) = requested
            .iter()
            .find(|r| !self.outputs.iter().any(|o| &o.name == *r))
        {
            return Err(PredictError::BadInput(format!("unknown output '{unknown}'")));
        }
        Ok(())
    }

    /// Runs a validated request; `requested` empty means every output. Waits for a free
    /// session, or answers [`PredictError::Busy`] at once when the queue is full.
    pub async fn infer(&self, inputs: Vec<Tensor>, requested: Vec<String>) -> PredictResult<Vec<Tensor>> {
        self.infer_timed(inputs, requested)
            .await
            .map(|(outputs, _)| outputs)
    }

    /// [`Model::infer`], with where the time went.
    pub async fn infer_timed(
        &self,
        inputs: Vec<Tensor>,
        requested: Vec<String>,
    ) -> PredictResult<(Vec<Tensor>, Timing)> {
        self.validate(&inputs, &requested)?;
        let queued = Instant::now();
        let _admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| PredictError::Busy)?;
        if let Some(batching) = self.batching() {
            let (reply, answer) = oneshot::channel();
            let job = Job {
                inputs,
                wanted: requested,
                queued,
                reply,
            };
            self.batcher(batching)
                .send(job)
                .map_err(|_| PredictError::Runtime("the batcher stopped".into()))?;
            return answer
                .await
                .map_err(|_| PredictError::Runtime("the batcher dropped a request".into()))?;
        }
        let _running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| PredictError::Busy)?;
        let sessions = self.sessions.clone();
        let wanted: Vec<String> = if requested.is_empty() {
            self.outputs.iter().map(|o| o.name.clone()).collect()
        } else {
            requested
        };
        let queue = queued.elapsed();
        let small = inputs.iter().map(|t| t.data.len()).sum::<usize>() <= INLINE_ELEMENTS;
        let small_run_ns = self.small_run_ns.clone();
        let job = move || {
            let started = Instant::now();
            let mut session = sessions
                .lock()
                .map_err(|_| PredictError::Runtime("session pool poisoned".into()))?
                .pop()
                .ok_or(PredictError::Busy)?;
            let result = run(&mut session, inputs, &wanted);
            if let Ok(mut pool) = sessions.lock() {
                pool.push(session);
            }
            let compute = started.elapsed();
            if small {
                // An average that follows the last few dozen small runs.
                let ns = u64::try_from(compute.as_nanos()).unwrap_or(u64::MAX);
                let _ = small_run_ns.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                    Some(if old == u64::MAX {
                        ns
                    } else {
                        old - old / 16 + ns / 16
                    })
                });
            }
            result.map(|outputs| {
                let timing = Timing {
                    queue,
                    compute,
                    executions: 1,
                };
                (outputs, timing)
            })
        };
        // Off the async runtime, except a small request to a model whose small runs take
        // less than `inline_below` (tens of µs): handing it to the blocking pool and back
        // costs more than the run (two thread wake-ups, measured in `bench/serving.py`),
        // and Tokio's own guideline allows a task that long between awaits. A run that
        // turns slow raises the average, and the next ones go back to the pool.
        let cheap = u128::from(self.small_run_ns.load(Ordering::Relaxed)) < self.inline_below.as_nanos();
        if small && cheap {
            return job();
        }
        tokio::task::spawn_blocking(job)
            .await
            .map_err(|e| PredictError::Runtime(format!("inference task failed: {e}")))?
    }
}

pub(crate) fn run(
    session: &mut Session,
    inputs: Vec<Tensor>,
    wanted: &[String],
) -> PredictResult<Vec<Tensor>> {
    let values = inputs
        .into_iter()
        .map(|t| Ok((t.name.clone(), t.into_value()?)))
        .collect::<PredictResult<Vec<_>>>()?;
    let outputs = session
        .run(values)
        .map_err(|e| PredictError::Rejected(e.to_string()))?;
    wanted
        .iter()
        .map(|name| {
            let value = outputs
                .get(name)
                .ok_or_else(|| PredictError::Runtime(format!("ONNX Runtime returned no output '{name}'")))?;
            Tensor::from_value(name, value)
        })
        .collect()
}
