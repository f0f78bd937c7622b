//! Deployments: which registered model version a served name runs, what it follows (a
//! stage or an alias, redeployed when that moves), and how it is doing on this replica.
//! The types compile everywhere (the deployments page uses them).

use serde::{Deserialize, Serialize};

use crate::registry::Stage;

/// What a deployment follows: a pinned version, or whatever a stage or alias points at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Follows {
    Version,
    Stage(Stage),
    Alias(String),
}

impl Follows {
    /// As stored: '', 'stage:Production', 'alias:champion'.
    pub fn to_text(&self) -> String {
        match self {
            Follows::Version => String::new(),
            Follows::Stage(s) => format!("stage:{}", s.name()),
            Follows::Alias(a) => format!("alias:{a}"),
        }
    }

    pub fn from_text(text: &str) -> Follows {
        if let Some(stage) = text.strip_prefix("stage:").and_then(Stage::parse) {
            Follows::Stage(stage)
        } else if let Some(alias) = text.strip_prefix("alias:") {
            Follows::Alias(alias.to_string())
        } else {
            Follows::Version
        }
    }
}

/// LOADING, READY or FAILED on this replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeploymentStatus {
    Loading,
    Ready,
    Failed,
}

impl DeploymentStatus {
    pub fn name(self) -> &'static str {
        match self {
            DeploymentStatus::Loading => "LOADING",
            DeploymentStatus::Ready => "READY",
            DeploymentStatus::Failed => "FAILED",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    pub name: String,
    pub model_name: String,
    /// The version it should serve.
    pub version: i64,
    pub follows: Follows,
    pub previous_version: Option<i64>,
    pub deployed_by: String,
    pub deployed_at: i64,
    pub status: DeploymentStatus,
    /// The version this replica serves now (during a swap or after a failed load, the old one).
    pub serving_version: Option<i64>,
    /// The last load's error (ONNX Runtime's message), when it failed.
    pub error: String,
    /// A second version taking a share of the traffic, if any.
    pub canary: Option<Canary>,
    /// Dynamic batching: rows per run at most (0: off), and how long a request waits for others.
    pub max_batch_size: i64,
    pub batch_delay_us: i64,
}

/// A canary: a second version that takes `percent` of a deployment's requests until it is
/// promoted (it becomes the deployment's version) or dropped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Canary {
    pub version: i64,
    pub percent: u8,
    /// Its status on this replica.
    pub status: DeploymentStatus,
    pub error: String,
}

/// An input or output of a served model, as the inference page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureTensor {
    pub name: String,
    /// The protocol's name: FP32, INT64, BYTES…
    pub datatype: String,
    /// Dynamic dimensions are -1.
    pub shape: Vec<i64>,
}

/// What the inference page needs to build a form for a deployment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InferenceTarget {
    pub deployment: String,
    pub model_name: String,
    pub version: i64,
    pub inputs: Vec<SignatureTensor>,
    pub outputs: Vec<SignatureTensor>,
    /// One name per form field: the example's column names when they fit, else
    /// `input[i]` for a feature matrix, or the inputs' names.
    pub fields: Vec<String>,
    /// Values to start the form with: the first row of the version's
    /// `input_example.json` when it fits the fields, else zeros (and "text" for strings).
    pub example: Vec<String>,
    /// Whether `example` came from the version's `input_example.json`.
    pub has_example: bool,
    /// The same row as a request in the protocol's JSON, for the JSON editor.
    pub example_request: String,
}

/// One output of a call, values flat in row-major order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InferenceOutput {
    pub name: String,
    pub datatype: String,
    pub shape: Vec<i64>,
    /// Every value as text.
    pub values: Vec<String>,
    /// The values as numbers (empty for BYTES).
    pub numbers: Vec<f64>,
}

/// A test call's outputs and where its time went on the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InferenceOutcome {
    pub version: i64,
    pub outputs: Vec<InferenceOutput>,
    /// From the parsed request to the outputs.
    pub latency_us: f64,
    pub compute_us: f64,
    pub queue_us: f64,
}

/// One CSV line: cells quoted when they hold a comma, a quote or a line break (the
/// inference page sends its form as one).
pub fn csv_line(cells: &[String]) -> String {
    cells
        .iter()
        .map(|c| {
            if c.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}
