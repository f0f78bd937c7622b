//! The registry store: registered models, versions, stages, aliases, tags and the audit
//! trail. Every change that the audit records is written in the same transaction as it.

use crate::registry::{AuditEntry, ModelVersion, NewModelVersion, RegisteredModel, Stage, Tag};
use crate::search::{Filter, OrderBy};
use crate::store::Page;
use crate::CoreResult;

/// Who made a registry change and why, for the audit trail.
#[derive(Clone, Debug, Default)]
pub struct Change {
    pub actor: String,
    pub comment: String,
}

#[async_trait::async_trait]
pub trait RegistryStore: Send + Sync {
    /// Fails with `AlreadyExists` when the name is taken. The `owner`, if any, is granted
    /// MANAGE on the model in the same transaction.
    async fn create_registered_model(
        &self,
        name: &str,
        description: &str,
        tags: &[Tag],
        owner: Option<i64>,
    ) -> CoreResult<RegisteredModel>;
    async fn get_registered_model(&self, name: &str) -> CoreResult<RegisteredModel>;
    async fn update_registered_model(&self, name: &str, description: &str) -> CoreResult<RegisteredModel>;
    /// Renames a model; its versions, tags, aliases and grants follow.
    async fn rename_registered_model(&self, name: &str, new_name: &str) -> CoreResult<RegisteredModel>;
    async fn delete_registered_model(&self, name: &str, change: &Change) -> CoreResult<()>;
    /// Models matching a parsed filter, in the requested order (attributes only).
    async fn search_registered_models(
        &self,
        filter: Option<&Filter>,
        order_by: &[OrderBy],
        max_results: i64,
        offset: i64,
    ) -> CoreResult<Page<RegisteredModel>>;
    /// Versions matching a parsed filter, in the requested order.
    async fn search_model_versions(
        &self,
        filter: Option<&Filter>,
        order_by: &[OrderBy],
        max_results: i64,
        offset: i64,
    ) -> CoreResult<Page<ModelVersion>>;
    async fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> CoreResult<()>;
    async fn delete_registered_model_tag(&self, name: &str, key: &str) -> CoreResult<()>;

    /// The newest version in each of `stages` (every stage when empty).
    async fn latest_versions(&self, name: &str, stages: &[Stage]) -> CoreResult<Vec<ModelVersion>>;
    async fn create_model_version(
        &self,
        version: NewModelVersion,
        change: &Change,
    ) -> CoreResult<ModelVersion>;
    async fn get_model_version(&self, name: &str, version: i64) -> CoreResult<ModelVersion>;
    async fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: &str,
    ) -> CoreResult<ModelVersion>;
    async fn delete_model_version(&self, name: &str, version: i64, change: &Change) -> CoreResult<()>;
    /// Moves a version to `stage`; with `archive_existing`, every other version in that
    /// stage goes to Archived in the same transaction (and is audited too).
    async fn transition_stage(
        &self,
        name: &str,
        version: i64,
        stage: Stage,
        archive_existing: bool,
        change: &Change,
    ) -> CoreResult<ModelVersion>;
    async fn set_model_version_tag(&self, name: &str, version: i64, key: &str, value: &str)
        -> CoreResult<()>;
    async fn delete_model_version_tag(&self, name: &str, version: i64, key: &str) -> CoreResult<()>;

    /// Points an alias at a version (moving it if it pointed elsewhere).
    async fn set_alias(&self, name: &str, alias: &str, version: i64, change: &Change) -> CoreResult<()>;
    async fn delete_alias(&self, name: &str, alias: &str, change: &Change) -> CoreResult<()>;
    async fn version_by_alias(&self, name: &str, alias: &str) -> CoreResult<ModelVersion>;

    /// A model's audit trail, newest first.
    async fn audit(&self, name: &str, max_results: i64, offset: i64) -> CoreResult<Page<AuditEntry>>;
}
