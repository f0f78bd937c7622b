//! Deployment operations: only administrators deploy, roll back and undeploy; signed-in
//! users see deployments; inference needs a signed-in caller unless
//! `--anonymous-inference`. A deployment that follows a stage or an alias is redeployed
//! when that moves (see [`AppState::redeploy_followers`]). A canary sends a share of a
//! deployment's requests to a second version until it is promoted or dropped. Inference
//! ([`AppState::infer`]) is the one operation the REST API and the inference page share.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::AppState;
use crate::artifacts::{collect, ArtifactPath};
use crate::auth::{Access, Actor};
use crate::deployments::{Canary, Deployment, Follows};
use crate::monitoring::{summarize, MonitorSeries};
use crate::serving::{Batching, Loaded, Role, Tensor, Timing};
use crate::store::deployments::StoredDeployment;
use crate::{now_millis, CoreError, CoreResult};

const WHAT: &str = "deploy models";
/// Largest ONNX file loaded (bytes are read into memory to build sessions).
const MAX_ONNX_BYTES: usize = 2 << 30;

/// One inference call's outcome.
pub struct Inferred {
    pub loaded: Arc<Loaded>,
    pub outputs: Vec<Tensor>,
    pub timing: Timing,
    /// From the parsed request to the outputs.
    pub total: Duration,
}

/// Rows in one batched run at most, and the longest wait for a batch to fill.
const MAX_BATCH: i64 = 4096;
const MAX_DELAY_US: i64 = 1_000_000;

/// The batching a stored deployment asks for.
fn batching_of(d: &StoredDeployment) -> Option<Batching> {
    (d.max_batch_size > 1).then(|| Batching {
        max_batch: usize::try_from(d.max_batch_size).unwrap_or(1),
        max_delay: Duration::from_micros(u64::try_from(d.batch_delay_us).unwrap_or(0)),
    })
}

fn no_canary(name: &str) -> CoreError {
    CoreError::InvalidParameter(format!("Deployment '{name}' has no canary"))
}

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

    /// The first `.onnx` file among a version's files, as `actor` may read it.
    async fn onnx_bytes(&self, actor: &Actor, model_name: &str, version: i64) -> CoreResult<Vec<u8>> {
        let super::VersionFiles { dir, entries, .. } = self
            .list_version_files(actor, model_name, version, &ArtifactPath::root())
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

    /// Loads a deployment's version (or its canary's) on this replica; a failure is
    /// recorded, not returned.
    async fn load_version(&self, d: &StoredDeployment, role: Role, version: i64) {
        match self.onnx_bytes(&system(), &d.model_name, version).await {
            Ok(bytes) => {
                self.serving
                    .load(&d.name, role, &d.model_name, version, batching_of(d), bytes)
                    .await
            }
            Err(e) => self.serving.fail(&d.name, role, version, e.to_string()),
        }
    }

    /// Brings this replica to what `d` says: its version, its canary and the canary's share.
    /// A version that failed to load here is tried again only when `retry` (an
    /// administrator's action), not on every sync.
    async fn load_deployment(&self, d: &StoredDeployment, retry: bool) {
        let batching = batching_of(d);
        if !self.serving.serves(&d.name, Role::Primary, d.version, batching)
            && (retry || !self.serving.attempted(&d.name, Role::Primary, d.version))
        {
            self.load_version(d, Role::Primary, d.version).await;
        }
        match d.canary_version {
            Some(canary) => {
                if !self.serving.serves(&d.name, Role::Canary, canary, batching)
                    && (retry || !self.serving.attempted(&d.name, Role::Canary, canary))
                {
                    self.load_version(d, Role::Canary, canary).await;
                }
                self.serving
                    .set_share(&d.name, u8::try_from(d.canary_percent).unwrap_or(0));
            }
            None => self.serving.drop_canary(&d.name),
        }
    }

    /// Stores a changed deployment, brings this replica to it, and answers with its view.
    async fn apply(&self, changed: StoredDeployment) -> CoreResult<Deployment> {
        let stored = self.deployments.put_deployment(changed).await?;
        self.load_deployment(&stored, true).await;
        Ok(self.view(stored))
    }

    fn view(&self, d: StoredDeployment) -> Deployment {
        let (status, serving_version, error) = self.serving.state(&d.name, Role::Primary);
        let canary = d.canary_version.map(|version| {
            let (status, _, error) = self.serving.state(&d.name, Role::Canary);
            Canary {
                version,
                percent: u8::try_from(d.canary_percent).unwrap_or(0),
                status,
                error,
            }
        });
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
            canary,
            max_batch_size: d.max_batch_size,
            batch_delay_us: d.batch_delay_us,
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
        batching: (i64, i64),
    ) -> CoreResult<Deployment> {
        self.require_admin(actor, WHAT)?;
        let _deploying = self.deploying.lock().await;
        check_name(name)?;
        let (max_batch_size, batch_delay_us) = batching;
        if !(0..=MAX_BATCH).contains(&max_batch_size) || !(0..=MAX_DELAY_US).contains(&batch_delay_us) {
            return Err(CoreError::InvalidParameter(format!(
                "max_batch_size must be 0 to {MAX_BATCH} and max_queue_delay_microseconds 0 to {MAX_DELAY_US}"
            )));
        }
        if follows == Follows::Version && version.is_none() {
            return Err(CoreError::InvalidParameter(
                "Give one of 'version', 'stage' or 'alias'".into(),
            ));
        }
        let resolved = self
            .resolve_version(model_name, &follows, version.unwrap_or(0))
            .await?;
        self.serving.drop_canary(name);
        self.apply(StoredDeployment {
            name: name.to_string(),
            model_name: model_name.to_string(),
            version: resolved,
            follows: follows.to_text(),
            previous_version: None,
            deployed_by: actor.username.clone(),
            deployed_at: now_millis(),
            canary_version: None,
            canary_percent: 0,
            max_batch_size,
            batch_delay_us,
        })
        .await
    }

    /// Starts (or changes) a canary: `version` of the deployment's model loads beside the
    /// current one and takes `percent` of the requests; waits for the load.
    pub async fn set_canary(
        &self,
        actor: &Actor,
        name: &str,
        version: i64,
        percent: i64,
    ) -> CoreResult<Deployment> {
        self.require_admin(actor, WHAT)?;
        let _deploying = self.deploying.lock().await;
        if !(0..=100).contains(&percent) {
            return Err(CoreError::InvalidParameter(format!(
                "The canary's percent must be 0 to 100, not {percent}"
            )));
        }
        let current = self.deployments.get_deployment(name).await?;
        let version = self
            .registry
            .get_model_version(&current.model_name, version)
            .await?
            .version;
        if version == current.version {
            return Err(CoreError::InvalidParameter(format!(
                "Version {version} already serves '{name}'; a canary needs another version"
            )));
        }
        self.apply(StoredDeployment {
            canary_version: Some(version),
            canary_percent: percent,
            ..current
        })
        .await
    }

    /// The canary becomes the deployment's version (pinned); the old one is kept for rollback.
    pub async fn promote_canary(&self, actor: &Actor, name: &str) -> CoreResult<Deployment> {
        self.require_admin(actor, WHAT)?;
        let _deploying = self.deploying.lock().await;
        let current = self.deployments.get_deployment(name).await?;
        let version = current.canary_version.ok_or_else(|| no_canary(name))?;
        self.apply(StoredDeployment {
            version,
            follows: Follows::Version.to_text(),
            deployed_by: actor.username.clone(),
            deployed_at: now_millis(),
            canary_version: None,
            canary_percent: 0,
            ..current
        })
        .await
    }

    /// Stops the canary: every request goes to the deployment's version again.
    pub async fn drop_canary(&self, actor: &Actor, name: &str) -> CoreResult<Deployment> {
        self.require_admin(actor, WHAT)?;
        let _deploying = self.deploying.lock().await;
        let current = self.deployments.get_deployment(name).await?;
        current.canary_version.ok_or_else(|| no_canary(name))?;
        self.apply(StoredDeployment {
            canary_version: None,
            canary_percent: 0,
            ..current
        })
        .await
    }

    /// The deployed version as a Triton model repository, for a caller who may read the
    /// model: a tar file in three parts (see [`crate::triton::repository_tar`]). The
    /// signature is the one this replica loaded.
    pub async fn export_triton(&self, actor: &Actor, name: &str) -> CoreResult<[Vec<u8>; 3]> {
        let d = self.deployments.get_deployment(name).await?;
        let bytes = self.onnx_bytes(actor, &d.model_name, d.version).await?;
        let loaded = self.served(name, Some(d.version)).map_err(|_| {
            CoreError::Unavailable(format!(
                "Version {} of '{name}' is not loaded here yet; try again when it is READY",
                d.version
            ))
        })?;
        let model = &loaded.model;
        crate::triton::repository_tar(name, d.version, model.inputs(), model.outputs(), bytes)
            .map_err(|e| CoreError::Internal(format!("writing the Triton repository: {e}")))
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
        let _deploying = self.deploying.lock().await;
        self.deployments.delete_deployment(name).await?;
        self.serving.remove(name);
        Ok(())
    }

    /// Back to the version served before the last change, pinned there.
    pub async fn rollback_deployment(&self, actor: &Actor, name: &str) -> CoreResult<Deployment> {
        self.require_admin(actor, WHAT)?;
        let _deploying = self.deploying.lock().await;
        let current = self.deployments.get_deployment(name).await?;
        let previous = current.previous_version.ok_or_else(|| {
            CoreError::InvalidParameter(format!(
                "Deployment '{name}' has no earlier version to roll back to"
            ))
        })?;
        self.apply(StoredDeployment {
            version: previous,
            follows: Follows::Version.to_text(),
            deployed_by: actor.username.clone(),
            deployed_at: now_millis(),
            canary_version: None,
            canary_percent: 0,
            ..current
        })
        .await
    }

    /// Redeploys the deployments of `model_name` that follow a stage or alias which now
    /// points elsewhere (after a promotion or an alias move). Failures are recorded on the
    /// deployment; the registry change stands.
    pub async fn redeploy_followers(&self, model_name: &str) {
        let _deploying = self.deploying.lock().await;
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
                        Ok(stored) => self.load_deployment(&stored, true).await,
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
        let _deploying = self.deploying.lock().await;
        let Ok(all) = self.deployments.list_deployments().await else {
            return;
        };
        for d in &all {
            self.load_deployment(d, false).await;
        }
        for name in self.serving.names() {
            if !all.iter().any(|d| d.name == name) {
                self.serving.remove(&name);
            }
        }
        // Per replica, so an alert can tell a replica that serves nothing.
        let (ready, failed) = self.serving.readiness();
        metrics::gauge!("aiops_deployments_ready").set(ready as f64);
        metrics::gauge!("aiops_deployments_failed").set(failed as f64);
    }

    /// Inference needs a signed-in caller unless `--anonymous-inference`.
    fn may_infer(&self, actor: &Actor) -> CoreResult<()> {
        if actor.is_anonymous() && !self.policy.anonymous_inference && !self.policy.disabled {
            return Err(CoreError::Unauthenticated(
                "Sign in (Basic or Bearer) to run inference.".into(),
            ));
        }
        Ok(())
    }

    /// The model that takes an inference call on `name` (at `version`, if given; else the
    /// canary takes its share).
    pub fn model_for_inference(
        &self,
        actor: &Actor,
        name: &str,
        version: Option<i64>,
    ) -> CoreResult<Arc<Loaded>> {
        self.may_infer(actor)?;
        self.pick(name, version, true)
    }

    /// The model `name` serves (at `version`, if given) for metadata and readiness, with
    /// inference's access rule: the primary version unless another is named.
    pub fn model_info(&self, actor: &Actor, name: &str, version: Option<i64>) -> CoreResult<Arc<Loaded>> {
        self.may_infer(actor)?;
        self.pick(name, version, false)
    }

    /// Runs one inference call on `name` (at `version`, if given; else the canary takes its
    /// share) and counts it, whatever the outcome. `parse` reads the request against the
    /// model's signature: its error is the caller's (400).
    pub async fn infer(
        &self,
        actor: &Actor,
        name: &str,
        version: Option<i64>,
        parse: impl FnOnce(&Loaded) -> Result<(Vec<Tensor>, Vec<String>), String>,
    ) -> CoreResult<Inferred> {
        let loaded = self.model_for_inference(actor, name, version)?;
        let started = Instant::now();
        let (inputs, requested) = match parse(&loaded) {
            Ok(parsed) => parsed,
            Err(message) => {
                self.serving.record(&loaded, None, started.elapsed());
                return Err(CoreError::InvalidParameter(message));
            }
        };
        let rows = inputs
            .first()
            .and_then(|t| t.shape.first())
            .map(|d| u64::try_from(*d).unwrap_or(0))
            .unwrap_or(1);
        let result = loaded.model.infer_timed(inputs, requested).await;
        let total = started.elapsed();
        let ran = result.as_ref().ok().map(|(_, timing)| (rows, *timing));
        self.serving.record(&loaded, ran, total);
        let (outputs, timing) = result?;
        Ok(Inferred {
            loaded,
            outputs,
            timing,
            total,
        })
    }

    /// Writes this replica's monitoring buckets that changed (every few seconds, and before
    /// the monitoring page reads), and forgets buckets older than a day.
    pub async fn flush_stats(&self) {
        let _flushing = self.flushing.lock().await;
        let changed = self.serving.changed_stats();
        if let Err(e) = self.deployments.put_stats(&self.replica, &changed).await {
            tracing::warn!(error = %e, "could not write inference statistics");
            self.serving.unflushed(&changed);
        }
    }

    /// Retention: monitoring buckets are kept a day, finished webhook deliveries 30 days.
    pub async fn prune_history(&self) {
        const DAY: i64 = 24 * 3600 * 1000;
        if let Err(e) = self.deployments.prune_stats(now_millis() - DAY).await {
            tracing::warn!(error = %e, "could not prune inference statistics");
        }
        if let Err(e) = self.webhooks.prune_deliveries(now_millis() - 30 * DAY).await {
            tracing::warn!(error = %e, "could not prune webhook deliveries");
        }
    }

    /// Every deployment version's traffic over the last `minutes`, all replicas counted.
    pub async fn monitoring(&self, actor: &Actor, minutes: i64) -> CoreResult<Vec<MonitorSeries>> {
        self.require(actor, None, Access::Read, || "deployments".to_string())?;
        if !(1..=24 * 60).contains(&minutes) {
            return Err(CoreError::InvalidParameter(format!(
                "minutes must be 1 to 1440, not {minutes}"
            )));
        }
        self.flush_stats().await;
        let now = now_millis();
        let since = now - minutes * 60_000;
        let rows = self
            .deployments
            .stats_since(since - crate::monitoring::BUCKET_MILLIS)
            .await?;
        Ok(summarize(&rows, since, now))
    }

    /// The model serving `name` (at `version`, if given), for metadata and readiness: 503
    /// while a deployment has no model loaded yet, 404 for names nothing deploys.
    pub fn served(&self, name: &str, version: Option<i64>) -> CoreResult<Arc<Loaded>> {
        self.pick(name, version, false)
    }

    /// The primary model of `name`, or the one serving `version`; for an inference call
    /// (`split`) without a version, the canary takes its share.
    fn pick(&self, name: &str, version: Option<i64>, split: bool) -> CoreResult<Arc<Loaded>> {
        let loaded = self.serving.route(name, version, split).ok_or_else(|| {
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
