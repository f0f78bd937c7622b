//! This replica's loaded models, by deployment name. A new version loads and warms beside
//! the old one and replaces it in one step; requests already running keep the old model
//! (they hold it) and finish on it. A version that fails to load leaves the old one serving.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

pub use aiops_predictor::{
    DataType, Model, ModelConfig, PredictError, Tensor, TensorData, TensorSpec, Timing,
};

use crate::deployments::DeploymentStatus;

/// A model serving one version of a deployment.
pub struct Loaded {
    pub model_name: String,
    pub version: i64,
    pub model: Model,
}

#[derive(Default)]
struct Slot {
    current: Option<Arc<Loaded>>,
    loading: Option<i64>,
    failed: Option<(i64, String)>,
}

pub struct Serving {
    slots: RwLock<HashMap<String, Slot>>,
    config: ModelConfig,
    /// Why no model can load here (ONNX Runtime missing), if so.
    unavailable: Option<String>,
}

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
            config,
            unavailable,
        }
    }

    /// The model serving `name` now.
    pub fn current(&self, name: &str) -> Option<Arc<Loaded>> {
        self.slots.read().ok()?.get(name)?.current.clone()
    }

    /// Status, the version served now, and the last load error.
    pub fn state(&self, name: &str) -> (DeploymentStatus, Option<i64>, String) {
        let Ok(slots) = self.slots.read() else {
            return (DeploymentStatus::Failed, None, "serving state unavailable".into());
        };
        let Some(slot) = slots.get(name) else {
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

    fn update(&self, name: &str, f: impl FnOnce(&mut Slot)) {
        if let Ok(mut slots) = self.slots.write() {
            f(slots.entry(name.to_string()).or_default());
        }
    }

    /// Records a load that could not even start (no .onnx file, unreadable files).
    pub fn fail(&self, name: &str, version: i64, error: String) {
        self.update(name, |slot| {
            slot.loading = None;
            slot.failed = Some((version, error));
        });
    }

    /// Loads `bytes` as `version` of `name` off the async runtime, then swaps it in.
    pub async fn load(&self, name: &str, model_name: &str, version: i64, bytes: Vec<u8>) {
        if let Some(reason) = &self.unavailable {
            self.fail(name, version, reason.clone());
            return;
        }
        if self
            .current(name)
            .is_some_and(|c| c.version == version && c.model_name == model_name)
        {
            self.update(name, |slot| slot.failed = None);
            return;
        }
        self.update(name, |slot| slot.loading = Some(version));
        let config = self.config;
        let loaded = tokio::task::spawn_blocking(move || Model::load(&bytes, config)).await;
        match loaded {
            Ok(Ok(model)) => {
                let loaded = Arc::new(Loaded {
                    model_name: model_name.to_string(),
                    version,
                    model,
                });
                self.update(name, |slot| {
                    slot.current = Some(loaded);
                    slot.loading = None;
                    slot.failed = None;
                });
            }
            Ok(Err(e)) => self.fail(name, version, e.to_string()),
            Err(e) => self.fail(name, version, format!("loading stopped: {e}")),
        }
    }

    /// Whether `version` of `name` is loading or failed to load here (so it is not tried
    /// again until it changes).
    pub fn attempted(&self, name: &str, version: i64) -> bool {
        self.slots
            .read()
            .ok()
            .and_then(|s| {
                s.get(name).map(|slot| {
                    slot.loading == Some(version) || slot.failed.as_ref().is_some_and(|f| f.0 == version)
                })
            })
            .unwrap_or(false)
    }

    /// Whether `name` is deployed here (loaded, loading or failed).
    pub fn knows(&self, name: &str) -> bool {
        self.slots.read().map(|s| s.contains_key(name)).unwrap_or(false)
    }

    pub fn remove(&self, name: &str) {
        if let Ok(mut slots) = self.slots.write() {
            slots.remove(name);
        }
    }
}
