//! MLflow 3 logged models: what `mlflow.<flavor>.log_model` creates, finalizes and tags,
//! and what `runs:/…` and `models:/m-…` URIs resolve through.

use aiops_core::service::AppState;

use crate::auth::Caller;
use aiops_core::search::parse_logged_model_filter;
use aiops_core::tracking::{NewLoggedModel, Param, RunTag};
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Map, Value};

use super::error::{ApiError, ApiResult};
use super::request::Fields;
use super::wire;

type Reply = ApiResult<Json<Value>>;

fn pairs(fields: &Fields, key: &str) -> ApiResult<Vec<(String, String)>> {
    fields
        .objects(key)?
        .iter()
        .map(|t| Ok((t.required_str("key")?, t.str("value")?.unwrap_or_default())))
        .collect()
}

fn tags(fields: &Fields) -> ApiResult<Vec<RunTag>> {
    Ok(pairs(fields, "tags")?
        .into_iter()
        .map(|(key, value)| RunTag { key, value })
        .collect())
}

fn params(fields: &Fields) -> ApiResult<Vec<Param>> {
    Ok(pairs(fields, "params")?
        .into_iter()
        .map(|(key, value)| Param { key, value })
        .collect())
}

pub async fn create(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let model = state
        .create_logged_model(
            &actor,
            NewLoggedModel {
                experiment_id: fields.required_str("experiment_id")?,
                name: fields.str("name")?,
                model_type: fields.str("model_type")?.unwrap_or_default(),
                source_run_id: fields.str("source_run_id")?.unwrap_or_default(),
                tags: tags(&fields)?,
                params: params(&fields)?,
            },
        )
        .await?;
    Ok(Json(json!({ "model": wire::logged_model(&model) })))
}

pub async fn get(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(model_id): Path<String>,
) -> Reply {
    let model = state.get_logged_model(&actor, &model_id).await?;
    Ok(Json(json!({ "model": wire::logged_model(&model) })))
}

/// `PATCH /logged-models/{id}`: finalize with a status (name or proto number).
pub async fn finalize(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(model_id): Path<String>,
    fields: Fields,
) -> Reply {
    let raw = fields.str("status")?.ok_or_else(|| ApiError::missing("status"))?;
    let status = match raw.as_str() {
        "1" => "LOGGED_MODEL_PENDING".to_string(),
        "2" => "LOGGED_MODEL_READY".to_string(),
        "3" => "LOGGED_MODEL_UPLOAD_FAILED".to_string(),
        other => other.to_string(),
    };
    let model = state.set_logged_model_status(&actor, &model_id, &status).await?;
    Ok(Json(json!({ "model": wire::logged_model(&model) })))
}

pub async fn delete(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(model_id): Path<String>,
) -> Reply {
    state.delete_logged_model(&actor, &model_id).await?;
    Ok(Json(json!({})))
}

pub async fn set_tags(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(model_id): Path<String>,
    fields: Fields,
) -> Reply {
    state
        .set_logged_model_tags(&actor, &model_id, &tags(&fields)?)
        .await?;
    let model = state.get_logged_model(&actor, &model_id).await?;
    Ok(Json(json!({ "model": wire::logged_model(&model) })))
}

pub async fn delete_tag(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((model_id, key)): Path<(String, String)>,
) -> Reply {
    state.delete_logged_model_tag(&actor, &model_id, &key).await?;
    Ok(Json(json!({})))
}

pub async fn log_params(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(model_id): Path<String>,
    fields: Fields,
) -> Reply {
    state
        .log_logged_model_params(&actor, &model_id, &params(&fields)?)
        .await?;
    Ok(Json(json!({})))
}

pub async fn search(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let experiment_ids = fields.str_list("experiment_ids")?;
    let filter = parse_logged_model_filter(&fields.str("filter")?.unwrap_or_default())?;
    let max_results = fields.max_results(100, 1000)?;
    let offset = wire::parse_page_token(fields.str("page_token")?.as_deref())?;
    let page = state
        .search_logged_models(&actor, &experiment_ids, filter.as_ref(), max_results, offset)
        .await?;
    let mut body = Map::new();
    if !page.items.is_empty() {
        body.insert(
            "models".into(),
            page.items.iter().map(wire::logged_model).collect(),
        );
    }
    if page.has_more {
        body.insert(
            "next_page_token".into(),
            json!(wire::page_token(offset + max_results)),
        );
    }
    Ok(Json(Value::Object(body)))
}
