//! The deployment store: what each served name should run, shared by every replica.

use crate::CoreResult;

/// A deployment as stored (its status lives in each replica's predictor).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDeployment {
    pub name: String,
    pub model_name: String,
    pub version: i64,
    /// '', 'stage:…' or 'alias:…' (`Follows::to_text`).
    pub follows: String,
    pub previous_version: Option<i64>,
    pub deployed_by: String,
    pub deployed_at: i64,
}

#[async_trait::async_trait]
pub trait DeploymentStore: Send + Sync {
    /// Creates or changes a deployment; when its version changes, the old one becomes
    /// `previous_version` (for rollback).
    async fn put_deployment(&self, deployment: StoredDeployment) -> CoreResult<StoredDeployment>;
    async fn get_deployment(&self, name: &str) -> CoreResult<StoredDeployment>;
    async fn list_deployments(&self) -> CoreResult<Vec<StoredDeployment>>;
    async fn delete_deployment(&self, name: &str) -> CoreResult<()>;
}
