//! Deployments (`/api/2.0/aiops/deployments/...`): create, get, list, delete, roll back,
//! canaries (start, promote, drop), administrators only for changes; the monitoring
//! figures of every replica; a deployed version as a Triton model repository (a tar file).

use aiops_core::deployments::{Deployment, Follows};
use aiops_core::registry::Stage;
use aiops_core::service::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::request::Fields;
use crate::auth::Caller;

type Reply = ApiResult<Json<Value>>;

pub fn deployment_json(d: &Deployment) -> Value {
    let follows = match &d.follows {
        Follows::Version => Value::Null,
        Follows::Stage(s) => json!({ "stage": s.name() }),
        Follows::Alias(a) => json!({ "alias": a }),
    };
    json!({
        "name": d.name, "model_name": d.model_name, "version": d.version.to_string(),
        "follows": follows, "status": d.status.name(), "error": d.error,
        "serving_version": d.serving_version.map(|v| v.to_string()),
        "previous_version": d.previous_version.map(|v| v.to_string()),
        "deployed_by": d.deployed_by, "deployed_at": d.deployed_at,
        "max_batch_size": d.max_batch_size,
        "max_queue_delay_microseconds": d.batch_delay_us,
        "canary": d.canary.as_ref().map(|c| json!({
            "version": c.version.to_string(), "percent": c.percent,
            "status": c.status.name(), "error": c.error,
        })),
    })
}

fn reply(d: &Deployment) -> Reply {
    Ok(Json(json!({ "deployment": deployment_json(d) })))
}

pub async fn create_deployment(
    State(state): State<AppState>,
    Caller(actor): Caller,
    fields: Fields,
) -> Reply {
    state.may_deploy(&actor)?;
    let version = fields.str("version")?;
    let stage = fields.str("stage")?;
    let alias = fields.str("alias")?;
    let (follows, pinned) = match (version, stage, alias) {
        (Some(v), None, None) => {
            let v =
                v.trim().parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| {
                    ApiError::invalid(format!("version must be a positive integer, got '{v}'"))
                })?;
            (Follows::Version, Some(v))
        }
        (None, Some(s), None) => (
            Follows::Stage(
                Stage::parse(&s).ok_or_else(|| ApiError::invalid(format!("Unknown stage '{s}'")))?,
            ),
            None,
        ),
        (None, None, Some(a)) => (Follows::Alias(a), None),
        _ => {
            return Err(ApiError::invalid(
                "Give exactly one of 'version', 'stage' or 'alias'",
            ))
        }
    };
    let d = state
        .create_deployment(
            &actor,
            &fields.required_str("name")?,
            &fields.required_str("model_name")?,
            follows,
            pinned,
            (
                fields.i64("max_batch_size")?.unwrap_or(0),
                fields.i64("max_queue_delay_microseconds")?.unwrap_or(0),
            ),
        )
        .await?;
    reply(&d)
}

pub async fn get_deployment(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    reply(
        &state
            .get_deployment(&actor, &fields.required_str("name")?)
            .await?,
    )
}

pub async fn list_deployments(State(state): State<AppState>, Caller(actor): Caller) -> Reply {
    let all = state.list_deployments(&actor).await?;
    Ok(Json(
        json!({ "deployments": all.iter().map(deployment_json).collect::<Vec<_>>() }),
    ))
}

pub async fn delete_deployment(
    State(state): State<AppState>,
    Caller(actor): Caller,
    fields: Fields,
) -> Reply {
    state.may_deploy(&actor)?;
    state
        .delete_deployment(&actor, &fields.required_str("name")?)
        .await?;
    Ok(Json(json!({})))
}

pub async fn rollback_deployment(
    State(state): State<AppState>,
    Caller(actor): Caller,
    fields: Fields,
) -> Reply {
    state.may_deploy(&actor)?;
    reply(
        &state
            .rollback_deployment(&actor, &fields.required_str("name")?)
            .await?,
    )
}

/// Starts or changes a canary: `{"name", "version", "percent"}`.
pub async fn create_canary(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    state.may_deploy(&actor)?;
    let name = fields.required_str("name")?;
    let version = fields
        .i64("version")?
        .filter(|v| *v > 0)
        .ok_or_else(|| ApiError::invalid("version must be a positive integer"))?;
    let percent = fields
        .i64("percent")?
        .ok_or_else(|| ApiError::missing("percent"))?;
    reply(&state.set_canary(&actor, &name, version, percent).await?)
}

pub async fn promote_canary(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    state.may_deploy(&actor)?;
    reply(
        &state
            .promote_canary(&actor, &fields.required_str("name")?)
            .await?,
    )
}

pub async fn drop_canary(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    state.may_deploy(&actor)?;
    reply(&state.drop_canary(&actor, &fields.required_str("name")?).await?)
}

/// `?minutes=` (default 15): per deployment version, requests, errors, rate and latency
/// quantiles, all replicas counted, with 10-second points.
pub async fn get_monitoring(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let minutes = fields.i64("minutes")?.unwrap_or(15);
    let series = state.monitoring(&actor, minutes).await?;
    Ok(Json(json!({ "series": series })))
}

/// `?name=`: the deployed version as a Triton model repository, in a tar file:
/// `<name>/config.pbtxt` and `<name>/<version>/model.onnx`.
pub async fn export_deployment(
    State(state): State<AppState>,
    Caller(actor): Caller,
    fields: Fields,
) -> ApiResult<Response> {
    let name = fields.required_str("name")?;
    let parts = state.export_triton(&actor, &name).await?;
    let length: usize = parts.iter().map(Vec::len).sum();
    let disposition = format!("attachment; filename=\"{name}-triton.tar\"");
    // The parts one after another, the model's bytes moved into the body, not copied.
    let chunks = parts.map(|p| Ok::<_, std::convert::Infallible>(axum::body::Bytes::from(p)));
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-tar".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CONTENT_LENGTH, length.to_string()),
        ],
        axum::body::Body::from_stream(futures::stream::iter(chunks)),
    )
        .into_response())
}
