//! Liveness and readiness.

use std::time::Duration;

use aiops_core::service::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// The process is up and serving.
pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can do its work: the database and the artifact store both answer.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let (database, artifacts) = tokio::join!(
        tokio::time::timeout(CHECK_TIMEOUT, state.tracking.ping()),
        tokio::time::timeout(CHECK_TIMEOUT, state.artifacts.ping()),
    );
    let database = check("database", database);
    let artifacts = check("artifact store", artifacts);
    let ok = database.is_ok() && artifacts.is_ok();
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ok { "ready" } else { "unavailable" },
        "checks": {
            "database": { "status": label(&database), "backend": state.tracking.backend().name() },
            "artifacts": { "status": label(&artifacts) },
        }
    });
    (status, Json(body))
}

fn check<E: std::fmt::Display>(
    what: &str,
    result: Result<Result<(), E>, tokio::time::error::Elapsed>,
) -> Result<(), ()> {
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::warn!(check = what, error = %e, "readiness check failed");
            Err(())
        }
        Err(_) => {
            tracing::warn!(check = what, "readiness check timed out");
            Err(())
        }
    }
}

fn label(result: &Result<(), ()>) -> &'static str {
    if result.is_ok() {
        "ok"
    } else {
        "unavailable"
    }
}
