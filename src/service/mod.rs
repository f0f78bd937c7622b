//! The service layer: every operation the REST API and the dashboard's server functions
//! perform, each taking the caller ([`Actor`]) and checking permission here, once.
//!
//! [`AppState`] is the one application context (stores, artifact storage, the
//! authenticator and the access policy) shared by the server, the app and, later, the
//! predictor.

mod artifacts;
mod demo;
mod deployments;
pub mod export;
mod inference;
mod registry;
mod tracking;
mod users;
mod webhooks;

pub use demo::{demo_request, DemoReport, DEPLOYMENT as DEMO_DEPLOYMENT};
pub use deployments::Inferred;
pub use registry::VersionFiles;
pub use users::{NewToken, SESSION_TTL_MS};

use std::collections::HashMap;
use std::sync::Arc;

use crate::artifacts::ArtifactStore;
use crate::auth::authenticator::Authenticator;
use crate::auth::{Access, Actor, Permission, ResourceKind};
use crate::serving::{ModelConfig, Serving};
use crate::store::auth::AuthStore;
use crate::store::deployments::DeploymentStore;
use crate::store::registry::RegistryStore;
use crate::store::webhooks::WebhookStore;
use crate::store::{SqlTrackingStore, TrackingStore};
use crate::webhooks::delivery::{Sender, SenderConfig};
use crate::{CoreError, CoreResult};

/// Who may do what when no grant says otherwise.
#[derive(Clone, Copy, Debug)]
pub struct AccessPolicy {
    /// What a signed-in user may do on a resource they hold no grant on (MLflow's
    /// `default_permission`, READ unless configured).
    pub default_permission: Permission,
    /// Unauthenticated callers may read (`--anonymous-read`).
    pub anonymous_read: bool,
    /// No authentication at all: every caller acts as an administrator (`--disable-auth`,
    /// for a trusted single-user machine and for measuring what authentication costs).
    pub disabled: bool,
    /// Callers without credentials may run inference (`--anonymous-inference`).
    pub anonymous_inference: bool,
}

impl Default for AccessPolicy {
    fn default() -> Self {
        AccessPolicy {
            default_permission: Permission::Read,
            anonymous_read: false,
            disabled: false,
            anonymous_inference: false,
        }
    }
}

/// The services every entry point shares. Cloned for every request (by each middleware
/// and handler that takes it), so it is one `Arc`: a clone is one counter, not a dozen
/// counters that two cores would fight over.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// What [`AppState`] holds.
#[derive(Clone)]
pub struct Services {
    pub tracking: Arc<dyn TrackingStore>,
    pub auth: Arc<dyn AuthStore>,
    pub registry: Arc<dyn RegistryStore>,
    pub webhooks: Arc<dyn WebhookStore>,
    pub deployments: Arc<dyn DeploymentStore>,
    /// This replica's loaded models.
    pub serving: Arc<Serving>,
    /// Sends webhook deliveries (its loop is started by the server).
    pub sender: Arc<Sender>,
    pub artifacts: Arc<dyn ArtifactStore>,
    pub authenticator: Arc<Authenticator>,
    pub policy: AccessPolicy,
    /// This process's name in the monitoring statistics (random, one per start); shared,
    /// since the state is cloned for every request.
    pub replica: Arc<str>,
    /// Held while deployments change on this replica (an administrator's change, a sync
    /// pass), so a sync never applies what it read before a change after it.
    pub deploying: Arc<tokio::sync::Mutex<()>>,
    /// Held while this replica writes its monitoring counts, so a reader that flushes
    /// first sees counts a concurrent flush took.
    pub flushing: Arc<tokio::sync::Mutex<()>>,
}

impl AppState {
    /// One SQL store behind every store interface; webhooks as MLflow sends them by default
    /// (https to public addresses only).
    pub fn new(
        store: Arc<SqlTrackingStore>,
        artifacts: Arc<dyn ArtifactStore>,
        policy: AccessPolicy,
    ) -> CoreResult<AppState> {
        AppState::with_webhooks(store, artifacts, policy, SenderConfig::default())
    }

    pub fn with_webhooks(
        store: Arc<SqlTrackingStore>,
        artifacts: Arc<dyn ArtifactStore>,
        policy: AccessPolicy,
        webhooks: SenderConfig,
    ) -> CoreResult<AppState> {
        let auth: Arc<dyn AuthStore> = store.clone();
        let registry: Arc<dyn RegistryStore> = store.clone();
        Ok(AppState(Arc::new(Services {
            registry,
            webhooks: store.clone(),
            deployments: store.clone(),
            serving: Arc::new(Serving::new(None, ModelConfig::default())),
            sender: Arc::new(Sender::new(webhooks)?),
            tracking: store,
            authenticator: Arc::new(Authenticator::new(auth.clone())?),
            auth,
            artifacts,
            policy,
            replica: Arc::from(uuid::Uuid::new_v4().simple().to_string()),
            deploying: Arc::new(tokio::sync::Mutex::new(())),
            flushing: Arc::new(tokio::sync::Mutex::new(())),
        })))
    }

    /// The same services under another access policy.
    pub fn with_policy(mut self, policy: AccessPolicy) -> AppState {
        Arc::make_mut(&mut self.0).policy = policy;
        self
    }

    /// Serves models with ONNX Runtime from `serving` (the server makes it from ORT_DYLIB_PATH).
    pub fn with_serving(mut self, serving: Serving) -> AppState {
        Arc::make_mut(&mut self.0).serving = Arc::new(serving);
        self
    }

    /// What the actor holds on a resource, given their explicit grant (if any).
    fn effective(&self, actor: &Actor, grant: Option<Permission>) -> Permission {
        if actor.is_admin {
            Permission::Manage
        } else if actor.is_anonymous() {
            if self.policy.anonymous_read {
                Permission::Read
            } else {
                Permission::NoPermissions
            }
        } else {
            grant.unwrap_or(self.policy.default_permission)
        }
    }

    fn require(
        &self,
        actor: &Actor,
        grant: Option<Permission>,
        access: Access,
        what: impl FnOnce() -> String,
    ) -> CoreResult<()> {
        if self.effective(actor, grant) >= access.least() {
            Ok(())
        } else {
            Err(denied(actor, access, &what()))
        }
    }

    /// The actor may act on an experiment as `access` asks.
    pub(crate) async fn check_experiment(
        &self,
        actor: &Actor,
        experiment_id: &str,
        access: Access,
    ) -> CoreResult<()> {
        if self.experiment_permission(actor, experiment_id).await? >= access.least() {
            Ok(())
        } else {
            Err(denied(actor, access, &format!("experiment {experiment_id}")))
        }
    }

    /// The actor may act on a run (through its experiment) as `access` asks.
    pub(crate) async fn check_run(&self, actor: &Actor, run_id: &str, access: Access) -> CoreResult<()> {
        if actor.is_admin {
            return Ok(());
        }
        let (experiment, grant) = match actor.user_id {
            Some(user) => self.auth.run_permission(run_id, user).await?,
            None => (String::new(), None),
        };
        self.require(actor, grant, access, || format!("experiment {experiment}"))
    }

    pub(crate) async fn check_logged_model(
        &self,
        actor: &Actor,
        model_id: &str,
        access: Access,
    ) -> CoreResult<()> {
        if actor.is_admin {
            return Ok(());
        }
        let (experiment, grant) = match actor.user_id {
            Some(user) => self.auth.logged_model_permission(model_id, user).await?,
            None => (String::new(), None),
        };
        self.require(actor, grant, access, || format!("experiment {experiment}"))
    }

    /// The experiments (of `ids`) the actor may read, with one read of their grants.
    pub(crate) async fn check_experiments(
        &self,
        actor: &Actor,
        ids: &[String],
        access: Access,
    ) -> CoreResult<()> {
        if actor.is_admin {
            return Ok(());
        }
        let grants = self.grants(actor, ResourceKind::Experiment).await?;
        for id in ids {
            let grant = grants.get(id.trim()).copied();
            self.require(actor, grant, access, || format!("experiment {id}"))?;
        }
        Ok(())
    }

    /// The actor's explicit grants on one kind of resource, by resource id (empty for
    /// admins and anonymous callers, who hold none).
    pub(crate) async fn grants(
        &self,
        actor: &Actor,
        kind: ResourceKind,
    ) -> CoreResult<HashMap<String, Permission>> {
        Ok(match actor.user_id {
            Some(user) if !actor.is_admin => self
                .auth
                .user_grants(user)
                .await?
                .into_iter()
                .filter(|g| g.kind == kind)
                .map(|g| (g.resource_id, g.permission))
                .collect(),
            _ => HashMap::new(),
        })
    }

    /// True when the actor may read an experiment, given their grants.
    pub(crate) fn can_read(
        &self,
        actor: &Actor,
        grants: &HashMap<String, Permission>,
        experiment_id: &str,
    ) -> bool {
        self.effective(actor, grants.get(experiment_id).copied()) >= Permission::Read
    }

    /// Anything that writes needs a signed-in user (or, with authentication off, the
    /// local administrator, who has no user row).
    pub(crate) fn signed_in(&self, actor: &Actor) -> CoreResult<()> {
        if actor.user_id.is_some() || actor.is_admin {
            Ok(())
        } else {
            Err(CoreError::Unauthenticated("Sign in to make changes.".into()))
        }
    }

    /// The caller's own user id, for what belongs to a user (tokens, sessions, grants).
    pub(crate) fn user_id(&self, actor: &Actor) -> CoreResult<i64> {
        actor
            .user_id
            .ok_or_else(|| CoreError::Unauthenticated("Sign in first.".into()))
    }

    /// Admin-only operations: stages, aliases, deployments, user management.
    /// What the actor holds on an experiment, in one read of their grant (for pages to
    /// offer only what the caller may do; every operation still checks on its own).
    pub async fn experiment_permission(&self, actor: &Actor, experiment_id: &str) -> CoreResult<Permission> {
        let grant = match actor.user_id {
            Some(user) if !actor.is_admin => {
                self.auth
                    .permission(ResourceKind::Experiment, experiment_id, user)
                    .await?
            }
            _ => None,
        };
        Ok(self.effective(actor, grant))
    }

    pub fn require_admin(&self, actor: &Actor, what: &str) -> CoreResult<()> {
        if actor.is_anonymous() {
            return Err(CoreError::Unauthenticated("Sign in first.".into()));
        }
        if actor.is_admin {
            Ok(())
        } else {
            Err(CoreError::PermissionDenied(format!(
                "Permission denied: only administrators may {what}."
            )))
        }
    }
}

fn denied(actor: &Actor, access: Access, what: &str) -> CoreError {
    if actor.is_anonymous() {
        return CoreError::Unauthenticated("Sign in first.".into());
    }
    CoreError::PermissionDenied(format!(
        "Permission denied: user '{}' may not {} {what}.",
        actor.username,
        access.verb()
    ))
}
