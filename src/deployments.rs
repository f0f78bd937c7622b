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
}
