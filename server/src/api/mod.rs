//! The MLflow REST API, served under the client's and the web UI's prefixes.

pub mod artifacts;
pub mod compat;
pub mod error;
pub mod logged_models;
pub mod request;
pub mod tracking;
pub mod wire;

use aiops_app::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post};
use axum::Router;

/// Room for one dataset at MLflow's size limits plus its JSON escaping.
const LOG_INPUTS_BODY_LIMIT: usize = 40 << 20;

/// Routes under `/api/2.0/mlflow` (and the same under `/ajax-api/2.0/mlflow`).
fn mlflow_v2() -> Router<AppState> {
    use tracking as t;
    Router::new()
        .route("/experiments/create", post(t::create_experiment))
        .route("/experiments/get", get(t::get_experiment))
        .route("/experiments/get-by-name", get(t::get_experiment_by_name))
        .route(
            "/experiments/search",
            post(t::search_experiments).get(t::search_experiments),
        )
        .route("/experiments/update", post(t::update_experiment))
        .route("/experiments/delete", post(t::delete_experiment))
        .route("/experiments/restore", post(t::restore_experiment))
        .route("/experiments/set-experiment-tag", post(t::set_experiment_tag))
        .route("/runs/create", post(t::create_run))
        .route("/runs/get", get(t::get_run))
        .route("/runs/update", post(t::update_run))
        .route("/runs/delete", post(t::delete_run))
        .route("/runs/restore", post(t::restore_run))
        .route("/runs/log-batch", post(t::log_batch))
        .route("/runs/log-metric", post(t::log_metric))
        .route("/runs/log-parameter", post(t::log_param))
        .route("/runs/set-tag", post(t::set_tag))
        .route("/runs/delete-tag", post(t::delete_tag))
        .route("/runs/search", post(t::search_runs))
        // A dataset may carry a 1 MiB schema and a 16 MiB profile (MLflow's limits).
        .route(
            "/runs/log-inputs",
            post(t::log_inputs).layer(DefaultBodyLimit::max(LOG_INPUTS_BODY_LIMIT)),
        )
        .route("/runs/outputs", post(t::log_outputs))
        .route("/metrics/get-history", get(t::get_metric_history))
        .route(
            "/metrics/get-history-bulk-interval",
            get(t::get_metric_history_bulk_interval),
        )
        .route("/artifacts/list", get(artifacts::list_run_artifacts))
        .route("/logged-models", post(logged_models::create))
        .route("/logged-models/search", post(logged_models::search))
        .route(
            "/logged-models/{model_id}",
            get(logged_models::get)
                .patch(logged_models::finalize)
                .delete(logged_models::delete),
        )
        .route("/logged-models/{model_id}/tags", patch(logged_models::set_tags))
        .route(
            "/logged-models/{model_id}/tags/{tag_key}",
            delete(logged_models::delete_tag),
        )
        .route(
            "/logged-models/{model_id}/params",
            post(logged_models::log_params),
        )
        .fallback(compat::endpoint_not_found)
}

fn mlflow_artifacts() -> Router<AppState> {
    Router::new()
        .route("/artifacts", get(artifacts::list))
        .route(
            "/artifacts/{*path}",
            get(artifacts::download)
                .put(artifacts::upload)
                .delete(artifacts::delete),
        )
        // Uploads stream to the store, so they may be larger than any JSON body.
        .layer(DefaultBodyLimit::disable())
        .fallback(compat::endpoint_not_found)
}

pub fn router() -> Router<AppState> {
    let mut router = Router::new().route("/get-artifact", get(artifacts::download_run_artifact));
    for prefix in ["/api", "/ajax-api"] {
        router = router
            .nest(&format!("{prefix}/2.0/mlflow"), mlflow_v2())
            .nest(&format!("{prefix}/2.0/mlflow-artifacts"), mlflow_artifacts())
            .route(
                &format!("{prefix}/3.0/mlflow/server-info"),
                get(compat::server_info),
            )
            .route(
                &format!("{prefix}/3.0/mlflow/logged-models/search"),
                post(logged_models::search),
            );
    }
    router
}
