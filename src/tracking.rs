//! The tracking data model: experiments, runs, params, tags and metrics.
//!
//! Field names and enum spellings follow MLflow's wire format so the REST layer can
//! serialize these types directly.

use serde::{Deserialize, Serialize};

/// Whether an experiment or run is live or in the trash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleStage {
    #[default]
    Active,
    Deleted,
}

impl LifecycleStage {
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleStage::Active => "active",
            LifecycleStage::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(LifecycleStage::Active),
            "deleted" => Some(LifecycleStage::Deleted),
            _ => None,
        }
    }
}

/// A run's execution status, spelled as MLflow's `RunStatus` enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    #[default]
    Running,
    Scheduled,
    Finished,
    Failed,
    Killed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Scheduled => "SCHEDULED",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "RUNNING" => Some(RunStatus::Running),
            "SCHEDULED" => Some(RunStatus::Scheduled),
            "FINISHED" => Some(RunStatus::Finished),
            "FAILED" => Some(RunStatus::Failed),
            "KILLED" => Some(RunStatus::Killed),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExperimentTag {
    pub key: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    pub experiment_id: String,
    pub name: String,
    pub artifact_location: String,
    pub lifecycle_stage: LifecycleStage,
    pub creation_time: i64,
    pub last_update_time: i64,
    pub tags: Vec<ExperimentTag>,
}

impl Experiment {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
    }
}

/// One row of the experiments list page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExperimentSummary {
    pub experiment_id: String,
    pub name: String,
    pub run_count: i64,
    /// The later of the experiment's own update time and its newest run's start.
    pub last_update_time: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    pub key: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunTag {
    pub key: String,
    pub value: String,
}

/// One point of a metric's history. `value` may be NaN or infinite, as in MLflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub key: String,
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub run_id: String,
    pub experiment_id: String,
    pub run_name: String,
    pub user_id: String,
    pub status: RunStatus,
    pub start_time: i64,
    pub end_time: Option<i64>,
    pub artifact_uri: String,
    pub lifecycle_stage: LifecycleStage,
}

/// A run with its params, tags, the latest value of each metric, and what it read and wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub info: RunInfo,
    pub params: Vec<Param>,
    pub tags: Vec<RunTag>,
    pub metrics: Vec<Metric>,
    #[serde(default)]
    pub inputs: RunInputs,
    #[serde(default)]
    pub outputs: RunOutputs,
}

impl Run {
    /// The latest value of metric `key`.
    pub fn metric(&self, key: &str) -> Option<f64> {
        self.metrics.iter().find(|m| m.key == key).map(|m| m.value)
    }

    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.value.as_str())
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
    }
}

/// The input tag MLflow uses for a dataset's role ("training", "eval", ...).
pub const DATASET_CONTEXT_TAG: &str = "mlflow.data.context";

/// A dataset as MLflow describes it: identity (name, digest) plus where it came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dataset {
    pub name: String,
    pub digest: String,
    pub source_type: String,
    pub source: String,
    pub schema: Option<String>,
    pub profile: Option<String>,
}

/// A dataset a run read, with the input's own tags (e.g. `mlflow.data.context`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetInput {
    pub tags: Vec<RunTag>,
    pub dataset: Dataset,
}

impl DatasetInput {
    pub fn context(&self) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == DATASET_CONTEXT_TAG)
            .map(|t| t.value.as_str())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInputs {
    pub dataset_inputs: Vec<DatasetInput>,
    /// Ids of logged models the run used.
    pub model_inputs: Vec<String>,
}

/// A logged model a run produced, at a step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelOutput {
    pub model_id: String,
    pub step: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOutputs {
    pub model_outputs: Vec<ModelOutput>,
}

/// What a caller supplies to start a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NewRun {
    pub experiment_id: String,
    pub user_id: String,
    pub run_name: Option<String>,
    pub start_time: i64,
    pub tags: Vec<RunTag>,
}

/// Changes to a run's info (MLflow `runs/update`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunUpdate {
    pub status: Option<RunStatus>,
    pub end_time: Option<i64>,
    pub run_name: Option<String>,
}

/// Tag MLflow uses to carry the run name.
pub const RUN_NAME_TAG: &str = "mlflow.runName";
/// The experiment every MLflow server has; it cannot be deleted.
pub const DEFAULT_EXPERIMENT_ID: &str = "0";

/// Which lifecycle stages a search covers (MLflow `ViewType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ViewType {
    #[default]
    ActiveOnly,
    DeletedOnly,
    All,
}

impl ViewType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ACTIVE_ONLY" | "1" => Some(ViewType::ActiveOnly),
            "DELETED_ONLY" | "2" => Some(ViewType::DeletedOnly),
            "ALL" | "3" => Some(ViewType::All),
            _ => None,
        }
    }

    /// The lifecycle stages this view includes.
    pub fn stages(self) -> &'static [&'static str] {
        match self {
            ViewType::ActiveOnly => &["active"],
            ViewType::DeletedOnly => &["deleted"],
            ViewType::All => &["active", "deleted"],
        }
    }
}

/// An MLflow 3 logged model: the output of `log_model`, with its own artifact folder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoggedModel {
    pub model_id: String,
    pub experiment_id: String,
    pub name: String,
    pub artifact_uri: String,
    pub creation_timestamp_ms: i64,
    pub last_updated_timestamp_ms: i64,
    /// `LOGGED_MODEL_PENDING`, `LOGGED_MODEL_READY` or `LOGGED_MODEL_UPLOAD_FAILED`.
    pub status: String,
    pub model_type: String,
    pub source_run_id: String,
    pub tags: Vec<RunTag>,
    pub params: Vec<Param>,
}

/// The logged-model statuses MLflow knows.
pub const LOGGED_MODEL_STATUSES: [&str; 3] = [
    "LOGGED_MODEL_PENDING",
    "LOGGED_MODEL_READY",
    "LOGGED_MODEL_UPLOAD_FAILED",
];

/// What a caller supplies to create a logged model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NewLoggedModel {
    pub experiment_id: String,
    pub name: Option<String>,
    pub model_type: String,
    pub source_run_id: String,
    pub tags: Vec<RunTag>,
    pub params: Vec<Param>,
}
