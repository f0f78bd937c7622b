//! This replica's loaded models, by deployment name: the primary version and, during a
//! canary, a second version that takes a share of the traffic. A new version loads and
//! warms beside the old one and replaces it in one step; requests already running keep the
//! old model (they hold it) and finish on it. A version that fails to load leaves the old
//! one serving. Also counts every call: Triton's Prometheus metrics, and the 10-second
//! buckets the monitoring page reads from every replica.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

pub use aiops_predictor::{
    wire, Batching, DataType, Model, ModelConfig, PredictError, Tensor, TensorData, TensorSpec, Timing,
};

use crate::deployments::DeploymentStatus;
use crate::monitoring::{StatsBucket, BUCKET_MILLIS};

/// A model serving one version of a deployment.
pub struct Loaded {
    pub model_name: String,
    pub version: i64,
    /// The batching asked for (the model batches only when its signature allows).
    pub batching: Option<Batching>,
    pub model: Model,
    meters: Meters,
}

/// One deployment version's Prometheus handles, registered when it loads, so a request
/// increments counters instead of building label sets and looking up eight metrics.
struct Meters {
    deployment: Arc<str>,
    success: metrics::Counter,
    failure: metrics::Counter,
    count: metrics::Counter,
    exec: metrics::Counter,
    queue_us: metrics::Counter,
    compute_us: metrics::Counter,
    duration_us: metrics::Counter,
    latency: metrics::Histogram,
}

impl Meters {
    fn new(deployment: &str, version: i64) -> Meters {
        let labels = [
            ("model", deployment.to_string()),
            ("version", version.to_string()),
        ];
        Meters {
            deployment: Arc::from(deployment),
            success: metrics::counter!("nv_inference_request_success", &labels),
            failure: metrics::counter!("nv_inference_request_failure", &labels),
            count: metrics::counter!("nv_inference_count", &labels),
            exec: metrics::counter!("nv_inference_exec_count", &labels),
            queue_us: metrics::counter!("nv_inference_queue_duration_us", &labels),
            compute_us: metrics::counter!("nv_inference_compute_infer_duration_us", &labels),
            duration_us: metrics::counter!("nv_inference_request_duration_us", &labels),
            latency: metrics::histogram!("aiops_inference_latency_seconds", "deployment" => deployment.to_string()),
        }
    }
}

/// The primary version of a deployment, or its canary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Primary,
    Canary,
}

#[derive(Default)]
struct Slot {
    current: Option<Arc<Loaded>>,
    loading: Option<i64>,
    failed: Option<(i64, String)>,
}

pub struct Serving {
    slots: RwLock<HashMap<(String, Role), Slot>>,
    /// The canary's share of the traffic, per deployment (0 to 100).
    shares: RwLock<HashMap<String, u8>>,
    /// Counts requests, so a canary takes exactly its share (request n goes to the canary
    /// when n mod 100 is below the share).
    turn: AtomicU64,
    config: ModelConfig,
    /// Why no model can load here (ONNX Runtime missing), if so.
    unavailable: Option<String>,
    stats: Mutex<HashMap<BucketKey, (StatsBucket, bool)>>,
}

/// A monitoring bucket: deployment, version and start; with it, whether it changed since
/// it was last written.
type BucketKey = (Arc<str>, i64, i64);

/// Status, the version served now, and the last load error.
pub type SlotState = (DeploymentStatus, Option<i64>, String);

impl Serving {
    /// Loads ONNX Runtime from `library` (ORT_DYLIB_PATH); without it the server still runs,
    /// and every deployment fails with the reason.
    pub fn new(library: Option<PathBuf>, config: ModelConfig) -> Serving {
        let unavailable = match library {
            None => {
                Some("ONNX Runtime is not available: set ORT_DYLIB_PATH to libonnxruntime.so".to_string())
            }
            Some(path) => aiops_predictor::init(&path).err().map(|e| e.to_string()),
        };
        Serving {
            slots: RwLock::new(HashMap::new()),
            shares: RwLock::new(HashMap::new()),
            turn: AtomicU64::new(0),
            config,
            unavailable,
            stats: Mutex::new(HashMap::new()),
        }
    }

    fn loaded(&self, name: &str, role: Role) -> Option<Arc<Loaded>> {
        self.slots
            .read()
            .ok()?
            .get(&(name.to_string(), role))?
            .current
            .clone()
    }

    /// The model serving `name` now (the primary one).
    pub fn current(&self, name: &str) -> Option<Arc<Loaded>> {
        self.loaded(name, Role::Primary)
    }

    /// The model that takes this request: with `split`, the canary for its share of the
    /// requests, the primary one otherwise. With `version`, whichever of the two serves it.
    pub fn route(&self, name: &str, version: Option<i64>, split: bool) -> Option<Arc<Loaded>> {
        let canary = self.loaded(name, Role::Canary);
        if let Some(v) = version {
            if let Some(c) = canary.filter(|c| c.version == v) {
                return Some(c);
            }
            return self.current(name);
        }
        let share = self
            .shares
            .read()
            .ok()
            .and_then(|s| s.get(name).copied())
            .unwrap_or(0);
        match canary {
            Some(c)
                if split
                    && share > 0
                    && self.turn.fetch_add(1, Ordering::Relaxed) % 100 < u64::from(share) =>
            {
                Some(c)
            }
            _ => self.current(name),
        }
    }

    pub fn state(&self, name: &str, role: Role) -> SlotState {
        let Ok(slots) = self.slots.read() else {
            return (DeploymentStatus::Failed, None, "serving state unavailable".into());
        };
        let Some(slot) = slots.get(&(name.to_string(), role)) else {
            return (DeploymentStatus::Loading, None, String::new());
        };
        let serving = slot.current.as_ref().map(|c| c.version);
        match (&slot.loading, &slot.failed) {
            (Some(_), _) => (DeploymentStatus::Loading, serving, String::new()),
            (None, Some((_, error))) => (DeploymentStatus::Failed, serving, error.clone()),
            (None, None) if serving.is_some() => (DeploymentStatus::Ready, serving, String::new()),
            (None, None) => (DeploymentStatus::Loading, None, String::new()),
        }
    }

    fn update(&self, name: &str, role: Role, f: impl FnOnce(&mut Slot)) {
        if let Ok(mut slots) = self.slots.write() {
            f(slots.entry((name.to_string(), role)).or_default());
        }
    }

    /// Records a load that could not even start (no .onnx file, unreadable files).
    pub fn fail(&self, name: &str, role: Role, version: i64, error: String) {
        self.update(name, role, |slot| {
            slot.loading = None;
            slot.failed = Some((version, error));
        });
    }

    /// Loads `bytes` as `version` of `name` off the async runtime, then swaps it in. A
    /// version the canary already serves moves over without loading again.
    pub async fn load(
        &self,
        name: &str,
        role: Role,
        model_name: &str,
        version: i64,
        batching: Option<Batching>,
        bytes: Vec<u8>,
    ) {
        if let Some(reason) = &self.unavailable {
            self.fail(name, role, version, reason.clone());
            return;
        }
        let same =
            |l: &Arc<Loaded>| l.version == version && l.model_name == model_name && l.batching == batching;
        if self.loaded(name, role).is_some_and(|c| same(&c)) {
            self.update(name, role, |slot| slot.failed = None);
            return;
        }
        if role == Role::Primary {
            if let Some(canary) = self.loaded(name, Role::Canary).filter(same) {
                self.swap_in(name, role, canary);
                return;
            }
        }
        self.update(name, role, |slot| slot.loading = Some(version));
        let config = ModelConfig {
            batching,
            ..self.config
        };
        let loaded = tokio::task::spawn_blocking(move || Model::load(&bytes, config)).await;
        match loaded {
            Ok(Ok(model)) => {
                let loaded = Arc::new(Loaded {
                    model_name: model_name.to_string(),
                    version,
                    batching,
                    model,
                    meters: Meters::new(name, version),
                });
                self.swap_in(name, role, loaded);
            }
            Ok(Err(e)) => self.fail(name, role, version, e.to_string()),
            Err(e) => self.fail(name, role, version, format!("loading stopped: {e}")),
        }
    }

    fn swap_in(&self, name: &str, role: Role, loaded: Arc<Loaded>) {
        self.update(name, role, |slot| {
            slot.current = Some(loaded);
            slot.loading = None;
            slot.failed = None;
        });
    }

    /// Whether `name` serves `version` with `batching` here.
    pub fn serves(&self, name: &str, role: Role, version: i64, batching: Option<Batching>) -> bool {
        self.loaded(name, role)
            .is_some_and(|l| l.version == version && l.batching == batching)
    }

    /// Whether `version` of `name` is loading or failed to load here (so it is not tried
    /// again until it changes).
    pub fn attempted(&self, name: &str, role: Role, version: i64) -> bool {
        self.slots
            .read()
            .ok()
            .and_then(|s| {
                s.get(&(name.to_string(), role)).map(|slot| {
                    slot.loading == Some(version) || slot.failed.as_ref().is_some_and(|f| f.0 == version)
                })
            })
            .unwrap_or(false)
    }

    /// Whether `name` is deployed here (loaded, loading or failed).
    pub fn knows(&self, name: &str) -> bool {
        self.slots
            .read()
            .map(|s| s.contains_key(&(name.to_string(), Role::Primary)))
            .unwrap_or(false)
    }

    /// The deployments this replica knows.
    pub fn names(&self) -> Vec<String> {
        self.slots
            .read()
            .map(|s| {
                s.keys()
                    .filter(|(_, role)| *role == Role::Primary)
                    .map(|(name, _)| name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How many deployments this replica serves from a loaded model, and how many failed
    /// to load (`aiops_deployments_ready` and `aiops_deployments_failed`).
    pub fn readiness(&self) -> (usize, usize) {
        let names = self.names();
        let states = names.iter().map(|n| self.state(n, Role::Primary).0);
        states.fold((0, 0), |(ready, failed), status| match status {
            DeploymentStatus::Ready => (ready + 1, failed),
            DeploymentStatus::Failed => (ready, failed + 1),
            _ => (ready, failed),
        })
    }

    /// Sets the canary's share of `name`'s traffic (0 sends it nothing). Every sync calls
    /// this, so an unchanged share takes no write lock (requests read it).
    pub fn set_share(&self, name: &str, percent: u8) {
        let percent = percent.min(100);
        let unchanged = self
            .shares
            .read()
            .is_ok_and(|s| s.get(name).copied().unwrap_or(0) == percent);
        if unchanged {
            return;
        }
        if let Ok(mut shares) = self.shares.write() {
            shares.insert(name.to_string(), percent);
        }
    }

    /// Stops the canary of `name` (its requests in flight finish on it). A deployment with
    /// no canary, the common case on every sync, takes no write lock.
    pub fn drop_canary(&self, name: &str) {
        self.set_share(name, 0);
        let key = (name.to_string(), Role::Canary);
        if self.slots.read().is_ok_and(|s| !s.contains_key(&key)) {
            return;
        }
        if let Ok(mut slots) = self.slots.write() {
            slots.remove(&key);
        }
    }

    pub fn remove(&self, name: &str) {
        self.drop_canary(name);
        if let Ok(mut slots) = self.slots.write() {
            slots.remove(&(name.to_string(), Role::Primary));
        }
        if let Ok(mut shares) = self.shares.write() {
            shares.remove(name);
        }
    }

    /// Counts one call whatever its outcome: Triton's metrics by model and version, the
    /// latency histogram per deployment, and this replica's monitoring bucket. `ran` is the
    /// rows and where the time went, for a call that produced outputs.
    pub fn record(&self, loaded: &Loaded, ran: Option<(u64, Timing)>, total: Duration) {
        let m = &loaded.meters;
        match ran {
            Some((rows, timing)) => {
                m.success.increment(1);
                m.count.increment(rows);
                m.exec.increment(timing.executions);
                m.queue_us.increment(timing.queue.as_micros() as u64);
                m.compute_us.increment(timing.compute.as_micros() as u64);
            }
            None => m.failure.increment(1),
        }
        m.duration_us.increment(total.as_micros() as u64);
        m.latency.record(total.as_secs_f64());
        let version = loaded.version;
        let start = crate::now_millis() / BUCKET_MILLIS * BUCKET_MILLIS;
        if let Ok(mut stats) = self.stats.lock() {
            let (bucket, dirty) = stats
                .entry((m.deployment.clone(), version, start))
                .or_insert_with(|| {
                    (
                        StatsBucket {
                            deployment: m.deployment.to_string(),
                            version,
                            start,
                            ..StatsBucket::default()
                        },
                        true,
                    )
                });
            bucket.requests += 1;
            if ran.is_none() {
                bucket.errors += 1;
            }
            bucket.latencies.add(total.as_micros() as u64);
            *dirty = true;
        }
    }

    /// Marks buckets that could not be written as changed again, so the next flush retries.
    pub fn unflushed(&self, buckets: &[StatsBucket]) {
        if let Ok(mut stats) = self.stats.lock() {
            for b in buckets {
                if let Some((_, dirty)) =
                    stats.get_mut(&(Arc::from(b.deployment.as_str()), b.version, b.start))
                {
                    *dirty = true;
                }
            }
        }
    }

    /// The buckets that changed since the last call (to be written to the database), and
    /// forgets those that can no longer change.
    pub fn changed_stats(&self) -> Vec<StatsBucket> {
        let now = crate::now_millis();
        let Ok(mut stats) = self.stats.lock() else {
            return Vec::new();
        };
        let changed = stats
            .values_mut()
            .filter(|(_, dirty)| *dirty)
            .map(|(bucket, dirty)| {
                *dirty = false;
                bucket.clone()
            })
            .collect();
        stats.retain(|_, (bucket, dirty)| *dirty || bucket.start + 2 * BUCKET_MILLIS > now);
        changed
    }
}
