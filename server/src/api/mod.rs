//! The MLflow REST API, served under the client's and the web UI's prefixes.
//!
//! Every route is mounted through [`Routes::add`] with its access class, so the table the
//! refusal test walks (`aiops routes`) is the router itself: a route cannot be mounted
//! without saying who may call it.

pub mod artifacts;
pub mod compat;
pub mod deployments;
pub mod error;
pub mod inference;
pub mod logged_models;
pub mod registry;
pub mod request;
pub mod tracking;
pub mod users;
pub mod webhooks;
pub mod wire;

use aiops_core::service::AppState;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::{on, MethodFilter};
use axum::Router;
use serde::Serialize;

/// Who may call a route, as the refusal test checks it with a caller holding no
/// credentials, a reader (READ on the test experiment), an editor (EDIT) and an admin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Anyone, signed in or not.
    Public,
    /// Signed-in users who may read the resource.
    Read,
    /// Signed-in users who may change the resource (EDIT).
    Edit,
    /// Users who MANAGE the resource (delete, grant).
    Manage,
    /// Administrators only.
    Admin,
}

/// One mounted route.
#[derive(Clone, Debug, Serialize)]
pub struct RouteInfo {
    pub method: &'static str,
    pub path: String,
    pub class: Class,
}

/// A router that records what it mounts.
pub struct Routes {
    router: Router<AppState>,
    table: Vec<RouteInfo>,
}

impl Routes {
    fn new() -> Self {
        Routes {
            router: Router::new(),
            table: Vec::new(),
        }
    }

    fn add<H, T>(mut self, method: &'static str, path: &str, class: Class, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = match method {
            "GET" => MethodFilter::GET,
            "PUT" => MethodFilter::PUT,
            "PATCH" => MethodFilter::PATCH,
            "DELETE" => MethodFilter::DELETE,
            _ => MethodFilter::POST,
        };
        self.router = self.router.route(path, on(filter, handler));
        self.table.push(RouteInfo {
            method,
            path: path.to_string(),
            class,
        });
        self
    }

    /// Mounts `inner` under `prefix`, with its table.
    fn nest(mut self, prefix: &str, inner: Routes) -> Self {
        self.router = self.router.nest(prefix, inner.router);
        self.table.extend(inner.table.into_iter().map(|mut r| {
            r.path = format!("{prefix}{}", r.path);
            r
        }));
        self
    }

    fn layer_body_limit(mut self, limit: DefaultBodyLimit) -> Self {
        self.router = self.router.layer(limit);
        self
    }

    fn fallback_not_found(mut self) -> Self {
        self.router = self.router.fallback(compat::endpoint_not_found);
        self
    }

    pub fn into_parts(self) -> (Router<AppState>, Vec<RouteInfo>) {
        (self.router, self.table)
    }
}

/// Room for one dataset at MLflow's size limits plus its JSON escaping.
const LOG_INPUTS_BODY_LIMIT: usize = 40 << 20;

/// Routes under `/api/2.0/mlflow` (and the same under `/ajax-api/2.0/mlflow`).
fn mlflow_v2() -> Routes {
    use tracking as t;
    use Class::*;
    let log_inputs = t::log_inputs.layer(DefaultBodyLimit::max(LOG_INPUTS_BODY_LIMIT));
    Routes::new()
        // Any signed-in user may create an experiment (they then MANAGE it).
        .add("POST", "/experiments/create", Read, t::create_experiment)
        .add("GET", "/experiments/get", Read, t::get_experiment)
        .add("GET", "/experiments/get-by-name", Read, t::get_experiment_by_name)
        .add("POST", "/experiments/search", Read, t::search_experiments)
        .add("GET", "/experiments/search", Read, t::search_experiments)
        .add("POST", "/experiments/update", Edit, t::update_experiment)
        .add("POST", "/experiments/delete", Manage, t::delete_experiment)
        .add("POST", "/experiments/restore", Manage, t::restore_experiment)
        .add(
            "POST",
            "/experiments/set-experiment-tag",
            Edit,
            t::set_experiment_tag,
        )
        .add("POST", "/runs/create", Edit, t::create_run)
        .add("GET", "/runs/get", Read, t::get_run)
        .add("POST", "/runs/update", Edit, t::update_run)
        .add("POST", "/runs/delete", Manage, t::delete_run)
        .add("POST", "/runs/restore", Manage, t::restore_run)
        .add("POST", "/runs/log-batch", Edit, t::log_batch)
        .add("POST", "/runs/log-metric", Edit, t::log_metric)
        .add("POST", "/runs/log-parameter", Edit, t::log_param)
        .add("POST", "/runs/set-tag", Edit, t::set_tag)
        .add("POST", "/runs/delete-tag", Edit, t::delete_tag)
        .add("POST", "/runs/search", Read, t::search_runs)
        // A dataset may carry a 1 MiB schema and a 16 MiB profile (MLflow's limits).
        .add("POST", "/runs/log-inputs", Edit, log_inputs)
        .add("POST", "/runs/outputs", Edit, t::log_outputs)
        .add("GET", "/metrics/get-history", Read, t::get_metric_history)
        .add(
            "GET",
            "/metrics/get-history-bulk-interval",
            Read,
            t::get_metric_history_bulk_interval,
        )
        .add("GET", "/artifacts/list", Read, artifacts::list_run_artifacts)
        .add("POST", "/logged-models", Edit, logged_models::create)
        .add("POST", "/logged-models/search", Read, logged_models::search)
        .add("GET", "/logged-models/{model_id}", Read, logged_models::get)
        .add(
            "PATCH",
            "/logged-models/{model_id}",
            Edit,
            logged_models::finalize,
        )
        .add(
            "DELETE",
            "/logged-models/{model_id}",
            Manage,
            logged_models::delete,
        )
        .add(
            "PATCH",
            "/logged-models/{model_id}/tags",
            Edit,
            logged_models::set_tags,
        )
        .add(
            "DELETE",
            "/logged-models/{model_id}/tags/{tag_key}",
            Edit,
            logged_models::delete_tag,
        )
        .add(
            "POST",
            "/logged-models/{model_id}/params",
            Edit,
            logged_models::log_params,
        )
        .add("POST", "/registered-models/create", Read, registry::create_model)
        .add("GET", "/registered-models/get", Read, registry::get_model)
        .add("GET", "/registered-models/search", Read, registry::search_models)
        .add("POST", "/registered-models/search", Read, registry::search_models)
        .add("GET", "/model-versions/search", Read, registry::search_versions)
        .add("POST", "/model-versions/search", Read, registry::search_versions)
        .add("PATCH", "/registered-models/update", Edit, registry::update_model)
        .add(
            "POST",
            "/registered-models/rename",
            Manage,
            registry::rename_model,
        )
        .add(
            "DELETE",
            "/registered-models/delete",
            Manage,
            registry::delete_model,
        )
        .add(
            "POST",
            "/registered-models/set-tag",
            Edit,
            registry::set_model_tag,
        )
        .add(
            "DELETE",
            "/registered-models/delete-tag",
            Edit,
            registry::delete_model_tag,
        )
        .add(
            "POST",
            "/registered-models/get-latest-versions",
            Read,
            registry::latest_versions,
        )
        .add(
            "GET",
            "/registered-models/get-latest-versions",
            Read,
            registry::latest_versions,
        )
        .add("POST", "/registered-models/alias", Admin, registry::set_alias)
        .add(
            "DELETE",
            "/registered-models/alias",
            Admin,
            registry::delete_alias,
        )
        .add("GET", "/registered-models/alias", Read, registry::get_by_alias)
        .add("POST", "/model-versions/create", Edit, registry::create_version)
        .add("GET", "/model-versions/get", Read, registry::get_version)
        .add("PATCH", "/model-versions/update", Edit, registry::update_version)
        .add(
            "DELETE",
            "/model-versions/delete",
            Manage,
            registry::delete_version,
        )
        .add(
            "POST",
            "/model-versions/transition-stage",
            Admin,
            registry::transition_stage,
        )
        .add("POST", "/model-versions/set-tag", Edit, registry::set_version_tag)
        .add(
            "DELETE",
            "/model-versions/delete-tag",
            Edit,
            registry::delete_version_tag,
        )
        .add(
            "GET",
            "/model-versions/get-download-uri",
            Read,
            registry::download_uri,
        )
        .add("POST", "/users/create", Admin, users::create_user)
        .add("GET", "/users/get", Admin, users::get_user)
        .add("GET", "/users/list", Admin, users::list_users)
        .add("GET", "/users/current", Read, users::current_user)
        .add("PATCH", "/users/update-password", Admin, users::update_password)
        .add("PATCH", "/users/update-admin", Admin, users::update_admin)
        .add("DELETE", "/users/delete", Admin, users::delete_user)
        .add("POST", "/webhooks", Admin, webhooks::create_webhook)
        .add("GET", "/webhooks", Admin, webhooks::list_webhooks)
        .add("GET", "/webhooks/{webhook_id}", Admin, webhooks::get_webhook)
        .add("PATCH", "/webhooks/{webhook_id}", Admin, webhooks::update_webhook)
        .add(
            "DELETE",
            "/webhooks/{webhook_id}",
            Admin,
            webhooks::delete_webhook,
        )
        .add(
            "POST",
            "/webhooks/{webhook_id}/test",
            Admin,
            webhooks::test_webhook,
        )
        .fallback_not_found()
}

fn mlflow_v3() -> Routes {
    use Class::*;
    Routes::new()
        .add("GET", "/server-info", Read, compat::server_info)
        .add("POST", "/logged-models/search", Read, logged_models::search)
        .add(
            "POST",
            "/users/permissions/grant",
            Manage,
            users::grant_permission,
        )
        .add(
            "POST",
            "/users/permissions/revoke",
            Manage,
            users::revoke_permission,
        )
        .add("GET", "/users/permissions/get", Manage, users::get_permission)
}

fn mlflow_artifacts() -> Routes {
    use Class::*;
    Routes::new()
        .add("GET", "/artifacts", Read, artifacts::list)
        .add("GET", "/artifacts/{*path}", Read, artifacts::download)
        .add("PUT", "/artifacts/{*path}", Edit, artifacts::upload)
        .add("DELETE", "/artifacts/{*path}", Manage, artifacts::delete)
        // Uploads stream to the store, so they may be larger than any JSON body.
        .layer_body_limit(DefaultBodyLimit::disable())
        .fallback_not_found()
}

/// Every REST route, with its table.
pub fn routes() -> Routes {
    let mut routes = Routes::new()
        .add("GET", "/health", Class::Public, crate::health::health)
        .add("GET", "/ready", Class::Public, crate::health::ready)
        .add("GET", "/metrics", Class::Read, crate::metrics::get_metrics)
        .add(
            "GET",
            "/get-artifact",
            Class::Read,
            artifacts::download_run_artifact,
        )
        .add(
            "GET",
            "/model-versions/get-artifact",
            Class::Read,
            artifacts::download_version_artifact,
        );
    for prefix in ["/api", "/ajax-api"] {
        routes = routes
            .nest(&format!("{prefix}/2.0/mlflow"), mlflow_v2())
            .nest(&format!("{prefix}/2.0/mlflow-artifacts"), mlflow_artifacts())
            .nest(&format!("{prefix}/3.0/mlflow"), mlflow_v3())
            .add(
                "GET",
                &format!("{prefix}/2.0/aiops/registry/audit"),
                Class::Read,
                registry::audit,
            )
            .add(
                "GET",
                &format!("{prefix}/2.0/aiops/runs/export-csv"),
                Class::Read,
                tracking::export_runs_csv,
            )
            .add(
                "GET",
                &format!("{prefix}/2.0/aiops/metrics/history-csv"),
                Class::Read,
                tracking::export_metric_history_csv,
            )
            .add(
                "GET",
                &format!("{prefix}/2.0/aiops/registry/webhook-deliveries"),
                Class::Read,
                webhooks::list_deliveries,
            )
            .nest(&format!("{prefix}/2.0/aiops/deployments"), aiops_deployments());
    }
    routes
        .add("GET", "/v2", Class::Public, inference::server_metadata)
        .add("POST", "/invocations/{name}", Class::Read, inference::invocations)
        .nest("/v2", inference_v2())
}

fn aiops_deployments() -> Routes {
    use deployments as d;
    use Class::*;
    Routes::new()
        .add("POST", "/create", Admin, d::create_deployment)
        .add("GET", "/get", Read, d::get_deployment)
        .add("GET", "/list", Read, d::list_deployments)
        .add("POST", "/delete", Admin, d::delete_deployment)
        .add("POST", "/rollback", Admin, d::rollback_deployment)
        .add("POST", "/canary", Admin, d::create_canary)
        .add("POST", "/promote-canary", Admin, d::promote_canary)
        .add("POST", "/drop-canary", Admin, d::drop_canary)
        .add("GET", "/monitoring", Read, d::get_monitoring)
        .add("GET", "/export", Read, d::export_deployment)
}

/// The Open Inference Protocol v2 (Triton's and KServe's REST API).
fn inference_v2() -> Routes {
    use inference as i;
    use Class::*;
    Routes::new()
        .add("GET", "/health/live", Public, i::live)
        .add("GET", "/health/ready", Public, i::ready)
        .add("GET", "/models/{name}", Read, i::model_metadata)
        .add("GET", "/models/{name}/ready", Read, i::model_ready)
        .add("POST", "/models/{name}/infer", Read, i::infer)
        .add(
            "GET",
            "/models/{name}/versions/{version}",
            Read,
            i::version_metadata,
        )
        .add(
            "GET",
            "/models/{name}/versions/{version}/ready",
            Read,
            i::version_ready,
        )
        .add(
            "POST",
            "/models/{name}/versions/{version}/infer",
            Read,
            i::infer_version,
        )
        // Batches of rows: up to 64 MiB a request.
        .layer_body_limit(DefaultBodyLimit::max(64 << 20))
}
