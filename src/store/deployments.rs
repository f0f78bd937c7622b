//! The deployment store: what each served name should run, shared by every replica.

use crate::monitoring::StatsBucket;
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
    /// A second version taking `canary_percent` of the traffic, if any.
    pub canary_version: Option<i64>,
    pub canary_percent: i64,
    /// Dynamic batching: rows per run at most (0: off), and the wait for more.
    pub max_batch_size: i64,
    pub batch_delay_us: i64,
}

#[async_trait::async_trait]
pub trait DeploymentStore: Send + Sync {
    /// Creates or changes a deployment; when its version changes, the old one becomes
    /// `previous_version` (for rollback).
    async fn put_deployment(&self, deployment: StoredDeployment) -> CoreResult<StoredDeployment>;
    async fn get_deployment(&self, name: &str) -> CoreResult<StoredDeployment>;
    async fn list_deployments(&self) -> CoreResult<Vec<StoredDeployment>>;
    async fn delete_deployment(&self, name: &str) -> CoreResult<()>;

    /// Writes this replica's monitoring buckets (each replaces the replica's earlier copy).
    async fn put_stats(&self, replica: &str, buckets: &[StatsBucket]) -> CoreResult<()>;
    /// Every replica's buckets that start at or after `since`, as (replica, bucket).
    async fn stats_since(&self, since: i64) -> CoreResult<Vec<(String, StatsBucket)>>;
    /// Forgets buckets that started before `before`; returns how many.
    async fn prune_stats(&self, before: i64) -> CoreResult<u64>;
}
