//! Registry operations, with who-may-do-what: reading a model needs READ on it, changing
//! its description, tags or versions EDIT, deleting MANAGE; stages and aliases are for
//! administrators only. Any signed-in user may register a model and MANAGEs it.

use super::AppState;
use crate::auth::{Access, Actor, ResourceKind};
use crate::registry::{AuditEntry, ModelVersion, NewModelVersion, RegisteredModel, Stage, Tag};
use crate::store::registry::Change;
use crate::store::Page;
use crate::CoreResult;

fn change(actor: &Actor, comment: &str) -> Change {
    Change {
        actor: actor.username.clone(),
        comment: comment.to_string(),
    }
}

impl AppState {
    pub(crate) async fn check_model(&self, actor: &Actor, name: &str, access: Access) -> CoreResult<()> {
        let grant = match actor.user_id {
            Some(user) if !actor.is_admin => {
                self.auth
                    .permission(ResourceKind::RegisteredModel, name, user)
                    .await?
            }
            _ => None,
        };
        self.require(actor, grant, access, || format!("registered model '{name}'"))
    }

    pub async fn create_registered_model(
        &self,
        actor: &Actor,
        name: &str,
        description: &str,
        tags: &[Tag],
    ) -> CoreResult<RegisteredModel> {
        self.signed_in(actor)?;
        let model = self
            .registry
            .create_registered_model(name, description, tags, actor.user_id)
            .await?;
        self.sender.wake();
        Ok(model)
    }

    pub async fn get_registered_model(&self, actor: &Actor, name: &str) -> CoreResult<RegisteredModel> {
        self.check_model(actor, name, Access::Read).await?;
        self.registry.get_registered_model(name).await
    }

    pub async fn update_registered_model(
        &self,
        actor: &Actor,
        name: &str,
        description: &str,
    ) -> CoreResult<RegisteredModel> {
        self.check_model(actor, name, Access::Update).await?;
        self.registry.update_registered_model(name, description).await
    }

    pub async fn rename_registered_model(
        &self,
        actor: &Actor,
        name: &str,
        new_name: &str,
    ) -> CoreResult<RegisteredModel> {
        self.check_model(actor, name, Access::Manage).await?;
        self.registry.rename_registered_model(name, new_name).await
    }

    pub async fn delete_registered_model(&self, actor: &Actor, name: &str) -> CoreResult<()> {
        self.check_model(actor, name, Access::Delete).await?;
        self.registry
            .delete_registered_model(name, &change(actor, ""))
            .await
    }

    pub async fn set_registered_model_tag(
        &self,
        actor: &Actor,
        name: &str,
        key: &str,
        value: &str,
    ) -> CoreResult<()> {
        self.check_model(actor, name, Access::Update).await?;
        self.registry.set_registered_model_tag(name, key, value).await
    }

    pub async fn delete_registered_model_tag(&self, actor: &Actor, name: &str, key: &str) -> CoreResult<()> {
        self.check_model(actor, name, Access::Update).await?;
        self.registry.delete_registered_model_tag(name, key).await
    }

    /// A search, without the models the actor may not read (as MLflow filters them).
    pub async fn search_registered_models(
        &self,
        actor: &Actor,
        filter: Option<&crate::search::Filter>,
        order_by: &[crate::search::OrderBy],
        max_results: i64,
        offset: i64,
    ) -> CoreResult<Page<RegisteredModel>> {
        let grants = self.grants(actor, ResourceKind::RegisteredModel).await?;
        let mut page = self
            .registry
            .search_registered_models(filter, order_by, max_results, offset)
            .await?;
        page.items.retain(|m| self.can_read(actor, &grants, &m.name));
        Ok(page)
    }

    pub async fn search_model_versions(
        &self,
        actor: &Actor,
        filter: Option<&crate::search::Filter>,
        order_by: &[crate::search::OrderBy],
        max_results: i64,
        offset: i64,
    ) -> CoreResult<Page<ModelVersion>> {
        let grants = self.grants(actor, ResourceKind::RegisteredModel).await?;
        let mut page = self
            .registry
            .search_model_versions(filter, order_by, max_results, offset)
            .await?;
        page.items.retain(|v| self.can_read(actor, &grants, &v.name));
        Ok(page)
    }

    pub async fn latest_versions(
        &self,
        actor: &Actor,
        name: &str,
        stages: &[Stage],
    ) -> CoreResult<Vec<ModelVersion>> {
        self.check_model(actor, name, Access::Read).await?;
        self.registry.latest_versions(name, stages).await
    }

    pub async fn create_model_version(
        &self,
        actor: &Actor,
        version: NewModelVersion,
    ) -> CoreResult<ModelVersion> {
        self.signed_in(actor)?;
        self.check_model(actor, &version.name, Access::Update).await?;
        self.check_version_source(actor, &version).await?;
        let created = self
            .registry
            .create_model_version(version, &change(actor, ""))
            .await?;
        self.sender.wake();
        Ok(created)
    }

    /// Registers `source` as a new version of `name`, creating the model first if it does
    /// not exist yet (the run page's "Register model", like `mlflow.register_model`).
    pub async fn register_model(
        &self,
        actor: &Actor,
        name: &str,
        source: &str,
        run_id: &str,
    ) -> CoreResult<ModelVersion> {
        match self.create_registered_model(actor, name.trim(), "", &[]).await {
            Ok(_) | Err(crate::CoreError::AlreadyExists(_)) => {}
            Err(e) => return Err(e),
        }
        self.create_model_version(
            actor,
            NewModelVersion {
                name: name.trim().to_string(),
                source: source.to_string(),
                run_id: run_id.to_string(),
                user_id: actor.username.clone(),
                ..NewModelVersion::default()
            },
        )
        .await
    }

    /// The source runs of these versions that the actor may read, in one read.
    pub async fn version_runs(
        &self,
        actor: &Actor,
        versions: &[ModelVersion],
    ) -> CoreResult<Vec<crate::tracking::Run>> {
        let mut ids: Vec<String> = versions
            .iter()
            .map(|v| v.run_id.clone())
            .filter(|id| !id.is_empty())
            .collect();
        ids.sort();
        ids.dedup();
        let grants = self.grants(actor, ResourceKind::Experiment).await?;
        let mut runs = self.tracking.get_runs(&ids).await?;
        runs.retain(|r| self.can_read(actor, &grants, &r.info.experiment_id));
        Ok(runs)
    }

    /// Deployments following this model's stages or aliases catch up, without holding up
    /// the registry change.
    fn follow_in_background(&self, name: &str) {
        let (state, name) = (self.clone(), name.to_string());
        tokio::spawn(async move { state.redeploy_followers(&name).await });
    }

    /// Whether the actor may edit the model's description and tags (for the page's controls;
    /// the operations check again).
    pub async fn can_edit_model(&self, actor: &Actor, name: &str) -> bool {
        self.check_model(actor, name, Access::Update).await.is_ok()
    }

    pub async fn get_model_version(
        &self,
        actor: &Actor,
        name: &str,
        version: i64,
    ) -> CoreResult<ModelVersion> {
        self.check_model(actor, name, Access::Read).await?;
        self.registry.get_model_version(name, version).await
    }

    pub async fn update_model_version(
        &self,
        actor: &Actor,
        name: &str,
        version: i64,
        description: &str,
    ) -> CoreResult<ModelVersion> {
        self.check_model(actor, name, Access::Update).await?;
        self.registry
            .update_model_version(name, version, description)
            .await
    }

    pub async fn delete_model_version(&self, actor: &Actor, name: &str, version: i64) -> CoreResult<()> {
        self.check_model(actor, name, Access::Delete).await?;
        self.registry
            .delete_model_version(name, version, &change(actor, ""))
            .await
    }

    /// Stage changes are for administrators only, whatever a user's grants.
    pub async fn transition_stage(
        &self,
        actor: &Actor,
        name: &str,
        version: i64,
        stage: Stage,
        archive_existing: bool,
        comment: &str,
    ) -> CoreResult<ModelVersion> {
        self.require_admin(actor, "change a model version's stage")?;
        let moved = self
            .registry
            .transition_stage(name, version, stage, archive_existing, &change(actor, comment))
            .await?;
        self.sender.wake();
        self.follow_in_background(name);
        Ok(moved)
    }

    pub async fn set_model_version_tag(
        &self,
        actor: &Actor,
        name: &str,
        version: i64,
        key: &str,
        value: &str,
    ) -> CoreResult<()> {
        self.check_model(actor, name, Access::Update).await?;
        self.registry
            .set_model_version_tag(name, version, key, value)
            .await?;
        self.sender.wake();
        Ok(())
    }

    pub async fn delete_model_version_tag(
        &self,
        actor: &Actor,
        name: &str,
        version: i64,
        key: &str,
    ) -> CoreResult<()> {
        self.check_model(actor, name, Access::Update).await?;
        self.registry.delete_model_version_tag(name, version, key).await?;
        self.sender.wake();
        Ok(())
    }

    /// Aliases are for administrators only.
    pub async fn set_alias(&self, actor: &Actor, name: &str, alias: &str, version: i64) -> CoreResult<()> {
        self.require_admin(actor, "set a model alias")?;
        self.registry
            .set_alias(name, alias, version, &change(actor, ""))
            .await?;
        self.sender.wake();
        self.follow_in_background(name);
        Ok(())
    }

    pub async fn delete_alias(&self, actor: &Actor, name: &str, alias: &str) -> CoreResult<()> {
        self.require_admin(actor, "delete a model alias")?;
        self.registry
            .delete_alias(name, alias, &change(actor, ""))
            .await?;
        self.sender.wake();
        Ok(())
    }

    pub async fn version_by_alias(&self, actor: &Actor, name: &str, alias: &str) -> CoreResult<ModelVersion> {
        self.check_model(actor, name, Access::Read).await?;
        self.registry.version_by_alias(name, alias).await
    }

    pub async fn registry_audit(
        &self,
        actor: &Actor,
        name: &str,
        max_results: i64,
        offset: i64,
    ) -> CoreResult<Page<AuditEntry>> {
        self.check_model(actor, name, Access::Read).await?;
        self.registry.audit(name, max_results, offset).await
    }
}

impl AppState {
    /// The artifact folder a version's source names. Reading a version lets one read its
    /// files, as in MLflow, whatever one may do on the experiment that logged them.
    pub async fn version_artifact_dir(
        &self,
        actor: &Actor,
        name: &str,
        version: i64,
    ) -> CoreResult<(ModelVersion, crate::artifacts::ArtifactPath)> {
        use crate::artifacts::ArtifactPath;
        let v = self.get_model_version(actor, name, version).await?;
        let source = v.source.trim();
        let dir = if let Some(rest) = source.strip_prefix("runs:/") {
            let (run_id, path) = rest.split_once('/').unwrap_or((rest, ""));
            let run = self.tracking.get_run(run_id).await?;
            ArtifactPath::from_uri(&run.info.artifact_uri)?.join(&ArtifactPath::parse(path)?)
        } else if let Some(model_id) = source.strip_prefix("models:/") {
            let model = self.tracking.get_logged_model(model_id).await?;
            ArtifactPath::from_uri(&model.artifact_uri)?
        } else {
            ArtifactPath::from_uri(source)?
        };
        Ok((v, dir))
    }

    /// The version, its folder, and the files in it (`sub` below it), resolved once.
    pub async fn list_version_files(
        &self,
        actor: &Actor,
        name: &str,
        version: i64,
        sub: &crate::artifacts::ArtifactPath,
    ) -> CoreResult<VersionFiles> {
        let (version, dir) = self.version_artifact_dir(actor, name, version).await?;
        let entries = self.artifacts.list(&dir.join(sub)).await?;
        Ok(VersionFiles {
            version,
            dir,
            entries,
        })
    }

    /// Opens one file of a version (MLflow's `/model-versions/get-artifact`).
    pub async fn get_version_file(
        &self,
        actor: &Actor,
        name: &str,
        version: i64,
        file: &crate::artifacts::ArtifactPath,
    ) -> CoreResult<(crate::artifacts::ArtifactPath, crate::artifacts::ByteStream)> {
        let (_, dir) = self.version_artifact_dir(actor, name, version).await?;
        let path = dir.join(file);
        let stream = self.artifacts.get(&path).await?;
        Ok((path, stream))
    }
}

/// A version with its folder and the files listed there.
pub struct VersionFiles {
    pub version: crate::registry::ModelVersion,
    pub dir: crate::artifacts::ArtifactPath,
    pub entries: Vec<crate::artifacts::ArtifactEntry>,
}

impl AppState {
    /// A version's source must lie in this server's store and be readable by its creator:
    /// `runs:/<run_id>/<path>`, `models:/m-<id>` (a logged model) or `mlflow-artifacts:/<path>`.
    /// A local path, another scheme, or a traversal is refused (MLflow's CVE-2023-6831 class).
    async fn check_version_source(&self, actor: &Actor, version: &NewModelVersion) -> CoreResult<()> {
        use crate::artifacts::ArtifactPath;
        use crate::CoreError;
        let source = version.source.trim();
        if let Some(rest) = source.strip_prefix("runs:/") {
            let (run_id, path) = rest.split_once('/').unwrap_or((rest, ""));
            if run_id.is_empty() {
                return Err(CoreError::InvalidParameter(format!(
                    "Invalid model version source '{source}'"
                )));
            }
            ArtifactPath::parse(path)?;
            return self.check_run(actor, run_id, Access::Read).await;
        }
        if let Some(model_id) = source.strip_prefix("models:/") {
            if !model_id.starts_with("m-") || model_id.contains('/') {
                return Err(CoreError::InvalidParameter(format!(
                    "Invalid model version source '{source}': a models:/ source must name a logged model (models:/m-…)"
                )));
            }
            return self.check_logged_model(actor, model_id, Access::Read).await;
        }
        if source.starts_with(crate::artifacts::ARTIFACT_SCHEME) {
            let path = ArtifactPath::from_uri(source)?;
            return self.check_artifact_path(actor, &path, Access::Read).await;
        }
        Err(CoreError::InvalidParameter(format!(
            "Invalid model version source '{source}': it must be runs:/, models:/m-… or mlflow-artifacts:/ \
             inside this server's artifact store"
        )))
    }
}
