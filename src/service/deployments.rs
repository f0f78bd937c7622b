//! Deployment operations: only administrators deploy, roll back and undeploy; signed-in
//! users see deployments; inference needs a signed-in caller unless
//! `--anonymous-inference`. A deployment that follows a stage or an alias is redeployed
//! when that moves (see [`AppState::redeploy_followers`]).

use std::sync::Arc;

use super::AppState;
use crate::artifacts::{collect, ArtifactPath};
use crate::auth::{Access, Actor};
use crate::deployments::{Deployment, Follows};
use crate::serving::Loaded;
use crate::store::deployments::StoredDeployment;
use crate::{now_millis, CoreError, CoreResult};

const WHAT: &str = "deploy models";
/// Largest ONNX file loaded (bytes are read into memory to build sessions).
const MAX_ONNX_BYTES: usize = 2 << 30;

/// The server's own access, for loading what an administrator deployed.
fn system() -> Actor {
    Actor {
        user_id: None,
        username: "aiops".into(),
        is_admin: true,
    }
}

/// Deployment names go into URLs (`/v2/models/<name>`): letters, digits, `.`, `_`, `-`.
fn check_name(name: &str) -> CoreResult<()> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(CoreError::InvalidParameter(format!(
            "Invalid deployment name '{name}': 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )))
    }
}

impl AppState {
    /// Only administrators deploy; the REST handlers ask before reading fields.
    pub fn may_deploy(&self, actor: &Actor) -> CoreResult<()> {
        self.require_admin(actor, WHAT)
    }

    /// The version `follows` points at now (`pinned` for a pinned version).
    async fn resolve_version(&self, model_name: &str, follows: &Follows, pinned: i64) -> CoreResult<i64> {
        match follows {
            Follows::Version => Ok(self.registry.get_model_version(model_name, pinned).await?.version),
            Follows::Stage(stage) => self
                .registry
                .latest_versions(model_name, &[*stage])
                .await?
                .first()
                .map(|v| v.version)
                .ok_or_else(|| {
                    CoreError::InvalidParameter(format!(
                        "Model '{model_name}' has no version in {}",
                        stage.name()
                    ))
                }),
            Follows::Alias(alias) => Ok(self.registry.version_by_alias(model_name, alias).await?.version),
        }
    }

    /// The first `.onnx` file among a version's files.
    async fn onnx_bytes(&self, model_name: &str, version: i64) -> CoreResult<Vec<u8>> {
        let (dir, entries) = self
            .list_version_files(&system(), model_name, version, &ArtifactPath::root())
            .await?;
        let file = entries
            .iter()
            .find(|e| !e.is_dir && e.path.ends_with(".onnx"))
            .ok_or_else(|| {
                CoreError::InvalidParameter(format!(
                    "Version {version} of '{model_name}' has no .onnx file in its folder ({})",
                    dir.as_str()
                ))
            })?;
        if file.file_size.is_some_and(|s| s > MAX_ONNX_BYTES as u64) {
            return Err(CoreError::InvalidParameter(format!(
                "{} is larger than 2 GiB",
                file.path
            )));
        }
        let path = ArtifactPath::parse_file(&file.path)?;
        let stream = self.artifacts.get(&path).await?;
        collect(stream)
            .await
            .map_err(|e| CoreError::Storage(format!("reading {}: {e}", file.path)))
    }

    /// Loads a deployment's version on this replica; a failure is recorded, not returned.
    async fn load_deployment(&self, d: &StoredDeployment) {
        match self.onnx_bytes(&d.model_name, d.version).await {
            Ok(bytes) => self.serving.load(&d.name, &d.model_name, d.version, bytes).await,
            Err(e) => self.serving.fail(&d.name, d.version, e.to_string()),
        }
    }

    fn view(&self, d: StoredDeployment) -> Deployment {
        let (status, serving_version, error) = self.serving.state(&d.name);
        Deployment {
            follows: Follows::from_text(&d.follows),
            name: d.name,
            model_name: d.model_name,
            version: d.version,
            previous_version: d.previous_version,
            deployed_by: d.deployed_by,
            deployed_at: d.deployed_at,
            status,
            serving_version,
            error,
        }
    }

    /// Deploys `model_name` at a version, or following a stage or an alias; waits for the
    /// load and answers with its outcome (READY, or FAILED with ONNX Runtime's message while
    /// any earlier version keeps serving).
    pub async fn create_deployment(
        &self,
        actor: &Actor,
        name: &str,
        model_name: &str,
        follows: Follows,
        version: Option<i64>,
    ) -> CoreResult<Deployment> {
        self.require_admin(actor, WHAT)?;
        check_name(name)?;
        if follows == Follows::Version && version.is_none() {
            return Err(CoreError::InvalidParameter(
                "Give one of 'version', 'stage' or 'alias'".into(),
            ));
        }
        let resolved = self
            .resolve_version(model_name, &follows, version.unwrap_or(0))
            .await?;
        let stored = self
            .deployments
            .put_deployment(StoredDeployment {
                name: name.to_string(),
                model_name: model_name.to_string(),
                version: resolved,
                follows: follows.to_text(),
                previous_version: None,
                deployed_by: actor.username.clone(),
                deployed_at: now_millis(),
            })
            .await?;
        self.load_deployment(&stored).await;
        Ok(self.view(stored))
    }

    pub async fn get_deployment(&self, actor: &Actor, name: &str) -> CoreResult<Deployment> {
        self.require(actor, None, Access::Read, || "deployments".to_string())?;
        Ok(self.view(self.deployments.get_deployment(name).await?))
    }

    pub async fn list_deployments(&self, actor: &Actor) -> CoreResult<Vec<Deployment>> {
        self.require(actor, None, Access::Read, || "deployments".to_string())?;
        let stored = self.deployments.list_deployments().await?;
        Ok(stored.into_iter().map(|d| self.view(d)).collect())
    }

    pub async fn delete_deployment(&self, actor: &Actor, name: &str) -> CoreResult<()> {
        self.require_admin(actor, WHAT)?;
        self.deployments.delete_deployment(name).await?;
        self.serving.remove(name);
        Ok(())
    }

    /// Back to the version served before the last change, pinned there.
    pub async fn rollback_deployment(&self, actor: &Actor, name: &str) -> CoreResult<Deployment> {
        self.require_admin(actor, WHAT)?;
        let current = self.deployments.get_deployment(name).await?;
        let previous = current.previous_version.ok_or_else(|| {
            CoreError::InvalidParameter(format!(
                "Deployment '{name}' has no earlier version to roll back to"
            ))
        })?;
        let stored = self
            .deployments
            .put_deployment(StoredDeployment {
                version: previous,
                follows: Follows::Version.to_text(),
                deployed_by: actor.username.clone(),
                deployed_at: now_millis(),
                ..current
            })
            .await?;
        self.load_deployment(&stored).await;
        Ok(self.view(stored))
    }

    /// Redeploys the deployments of `model_name` that follow a stage or alias which now
    /// points elsewhere (after a promotion or an alias move). Failures are recorded on the
    /// deployment; the registry change stands.
    pub async fn redeploy_followers(&self, model_name: &str) {
        let Ok(all) = self.deployments.list_deployments().await else {
            return;
        };
        for d in all.into_iter().filter(|d| d.model_name == model_name) {
            let follows = Follows::from_text(&d.follows);
            if follows == Follows::Version {
                continue;
            }
            match self.resolve_version(model_name, &follows, d.version).await {
                Ok(version) if version != d.version => {
                    let next = StoredDeployment {
                        version,
                        deployed_at: now_millis(),
                        ..d
                    };
                    match self.deployments.put_deployment(next).await {
                        Ok(stored) => self.load_deployment(&stored).await,
                        Err(e) => tracing::warn!(error = %e, "could not redeploy a follower"),
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(deployment = %d.name, error = %e, "a followed stage or alias no longer resolves")
                }
            }
        }
    }

    /// Loads every stored deployment this replica does not serve at its version yet (at
    /// start, and periodically so replicas follow each other's changes).
    pub async fn sync_deployments(&self) {
        let Ok(all) = self.deployments.list_deployments().await else {
            return;
        };
        for d in &all {
            let (_, serving, _) = self.serving.state(&d.name);
            if serving != Some(d.version) && !self.serving.attempted(&d.name, d.version) {
                self.load_deployment(d).await;
            }
        }
    }

    /// The model serving `name` (at `version`, if given) for an inference call.
    pub fn model_for_inference(
        &self,
        actor: &Actor,
        name: &str,
        version: Option<i64>,
    ) -> CoreResult<Arc<Loaded>> {
        if actor.is_anonymous() && !self.policy.anonymous_inference && !self.policy.disabled {
            return Err(CoreError::Unauthenticated(
                "Sign in (Basic or Bearer) to run inference.".into(),
            ));
        }
        self.served(name, version)
    }

    /// The model serving `name` (at `version`, if given), for metadata and readiness: 503
    /// while a deployment has no model loaded yet, 404 for names nothing deploys.
    pub fn served(&self, name: &str, version: Option<i64>) -> CoreResult<Arc<Loaded>> {
        let loaded = self.serving.current(name).ok_or_else(|| {
            if self.serving.knows(name) {
                CoreError::Unavailable(format!("Model '{name}' is not ready"))
            } else {
                CoreError::NotFound(format!("Unknown model '{name}'"))
            }
        })?;
        match version {
            Some(v) if v != loaded.version => Err(CoreError::NotFound(format!(
                "Version {v} of model '{name}' is not served (version {} is)",
                loaded.version
            ))),
            _ => Ok(loaded),
        }
    }
}
