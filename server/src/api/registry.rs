//! MLflow's model registry endpoints: registered models, model versions, stages, aliases
//! and tags, plus our audit trail (`/api/2.0/aiops/registry/audit`).

use aiops_core::registry::{ModelVersion, NewModelVersion, RegisteredModel, Stage, Tag};
use aiops_core::service::AppState;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};

use super::error::{ApiError, ApiResult};
use super::request::Fields;
use super::wire;
use crate::auth::Caller;

type Reply = ApiResult<Json<Value>>;

const MAX_SEARCH_RESULTS: i64 = 10_000;

fn tags_json(tags: &[Tag]) -> Value {
    tags.iter()
        .map(|t| json!({ "key": t.key, "value": t.value }))
        .collect()
}

pub fn version_json(v: &ModelVersion) -> Value {
    let mut out = json!({
        "name": v.name,
        "version": v.version.to_string(),
        "creation_timestamp": v.creation_time,
        "last_updated_timestamp": v.last_updated_time,
        "current_stage": v.current_stage.name(),
        "description": v.description,
        "source": v.source,
        "run_id": v.run_id,
        "run_link": v.run_link,
        "status": v.status,
        "user_id": v.user_id,
    });
    if !v.tags.is_empty() {
        out["tags"] = tags_json(&v.tags);
    }
    if !v.aliases.is_empty() {
        out["aliases"] = json!(v.aliases);
    }
    if !v.model_id.is_empty() {
        out["model_id"] = json!(v.model_id);
    }
    out
}

pub fn model_json(m: &RegisteredModel) -> Value {
    let mut out = json!({
        "name": m.name,
        "creation_timestamp": m.creation_time,
        "last_updated_timestamp": m.last_updated_time,
        "description": m.description,
    });
    if !m.latest_versions.is_empty() {
        out["latest_versions"] = m.latest_versions.iter().map(version_json).collect();
    }
    if !m.tags.is_empty() {
        out["tags"] = tags_json(&m.tags);
    }
    if !m.aliases.is_empty() {
        out["aliases"] = m
            .aliases
            .iter()
            .map(|a| json!({ "alias": a.alias, "version": a.version.to_string() }))
            .collect();
    }
    out
}

pub(crate) fn version_of(fields: &Fields) -> ApiResult<i64> {
    let raw = fields.required_str("version")?;
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| ApiError::invalid(format!("Model version must be a positive integer, got '{raw}'")))
}

fn tags_of(fields: &Fields) -> ApiResult<Vec<Tag>> {
    fields
        .objects("tags")?
        .iter()
        .map(|t| {
            Ok(Tag {
                key: t.required_str("key")?,
                value: t.str("value")?.unwrap_or_default(),
            })
        })
        .collect()
}

// ---- registered models ----------------------------------------------------------------

pub async fn create_model(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let model = state
        .create_registered_model(
            &actor,
            &fields.required_str("name")?,
            &fields.str("description")?.unwrap_or_default(),
            &tags_of(&fields)?,
        )
        .await?;
    Ok(Json(json!({ "registered_model": model_json(&model) })))
}

pub async fn get_model(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let model = state
        .get_registered_model(&actor, &fields.required_str("name")?)
        .await?;
    Ok(Json(json!({ "registered_model": model_json(&model) })))
}

pub async fn update_model(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let model = state
        .update_registered_model(
            &actor,
            &fields.required_str("name")?,
            &fields.str("description")?.unwrap_or_default(),
        )
        .await?;
    Ok(Json(json!({ "registered_model": model_json(&model) })))
}

pub async fn rename_model(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let model = state
        .rename_registered_model(
            &actor,
            &fields.required_str("name")?,
            &fields.required_str("new_name")?,
        )
        .await?;
    Ok(Json(json!({ "registered_model": model_json(&model) })))
}

pub async fn delete_model(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    state
        .delete_registered_model(&actor, &fields.required_str("name")?)
        .await?;
    Ok(Json(json!({})))
}

pub async fn set_model_tag(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    state
        .set_registered_model_tag(
            &actor,
            &fields.required_str("name")?,
            &fields.required_str("key")?,
            &fields.str("value")?.unwrap_or_default(),
        )
        .await?;
    Ok(Json(json!({})))
}

pub async fn delete_model_tag(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    state
        .delete_registered_model_tag(
            &actor,
            &fields.required_str("name")?,
            &fields.required_str("key")?,
        )
        .await?;
    Ok(Json(json!({})))
}

pub async fn latest_versions(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let stages = fields
        .str_list("stages")?
        .iter()
        .map(|s| {
            Stage::parse(s).ok_or_else(|| ApiError::invalid(format!("Invalid Model Version stage: {s}")))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let versions = state
        .latest_versions(&actor, &fields.required_str("name")?, &stages)
        .await?;
    Ok(Json(if versions.is_empty() {
        json!({})
    } else {
        json!({ "model_versions": versions.iter().map(version_json).collect::<Vec<_>>() })
    }))
}

// ---- model versions -------------------------------------------------------------------

pub async fn create_version(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let version = state
        .create_model_version(
            &actor,
            NewModelVersion {
                name: fields.required_str("name")?,
                source: fields.required_str("source")?,
                run_id: fields.str("run_id")?.unwrap_or_default(),
                run_link: fields.str("run_link")?.unwrap_or_default(),
                model_id: fields.str("model_id")?.unwrap_or_default(),
                description: fields.str("description")?.unwrap_or_default(),
                user_id: actor.username.clone(),
                tags: tags_of(&fields)?,
            },
        )
        .await?;
    Ok(Json(json!({ "model_version": version_json(&version) })))
}

pub async fn get_version(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let version = state
        .get_model_version(&actor, &fields.required_str("name")?, version_of(&fields)?)
        .await?;
    Ok(Json(json!({ "model_version": version_json(&version) })))
}

pub async fn update_version(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let version = state
        .update_model_version(
            &actor,
            &fields.required_str("name")?,
            version_of(&fields)?,
            &fields.str("description")?.unwrap_or_default(),
        )
        .await?;
    Ok(Json(json!({ "model_version": version_json(&version) })))
}

pub async fn delete_version(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    state
        .delete_model_version(&actor, &fields.required_str("name")?, version_of(&fields)?)
        .await?;
    Ok(Json(json!({})))
}

pub async fn transition_stage(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let stage_text = fields.required_str("stage")?;
    let stage = Stage::parse(&stage_text)
        .ok_or_else(|| ApiError::invalid(format!("Invalid Model Version stage: {stage_text}")))?;
    let version = state
        .transition_stage(
            &actor,
            &fields.required_str("name")?,
            version_of(&fields)?,
            stage,
            fields.bool("archive_existing_versions")?.unwrap_or(false),
            &fields.str("comment")?.unwrap_or_default(),
        )
        .await?;
    Ok(Json(json!({ "model_version": version_json(&version) })))
}

pub async fn set_version_tag(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    state
        .set_model_version_tag(
            &actor,
            &fields.required_str("name")?,
            version_of(&fields)?,
            &fields.required_str("key")?,
            &fields.str("value")?.unwrap_or_default(),
        )
        .await?;
    Ok(Json(json!({})))
}

pub async fn delete_version_tag(
    State(state): State<AppState>,
    Caller(actor): Caller,
    fields: Fields,
) -> Reply {
    state
        .delete_model_version_tag(
            &actor,
            &fields.required_str("name")?,
            version_of(&fields)?,
            &fields.required_str("key")?,
        )
        .await?;
    Ok(Json(json!({})))
}

pub async fn download_uri(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let version = state
        .get_model_version(&actor, &fields.required_str("name")?, version_of(&fields)?)
        .await?;
    Ok(Json(json!({ "artifact_uri": version.source })))
}

// ---- aliases ----------------------------------------------------------------------------

pub async fn set_alias(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    state
        .set_alias(
            &actor,
            &fields.required_str("name")?,
            &fields.required_str("alias")?,
            version_of(&fields)?,
        )
        .await?;
    Ok(Json(json!({})))
}

pub async fn delete_alias(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    state
        .delete_alias(
            &actor,
            &fields.required_str("name")?,
            &fields.required_str("alias")?,
        )
        .await?;
    Ok(Json(json!({})))
}

pub async fn get_by_alias(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let version = state
        .version_by_alias(
            &actor,
            &fields.required_str("name")?,
            &fields.required_str("alias")?,
        )
        .await?;
    Ok(Json(json!({ "model_version": version_json(&version) })))
}

// ---- audit ------------------------------------------------------------------------------

pub async fn audit(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let max_results = fields.max_results(100, MAX_SEARCH_RESULTS)?;
    let offset = wire::parse_page_token(fields.str("page_token")?.as_deref())?;
    let page = state
        .registry_audit(&actor, &fields.required_str("name")?, max_results, offset)
        .await?;
    let entries = page
        .items
        .iter()
        .map(|e| {
            json!({
                "id": e.id, "name": e.name, "version": e.version.map(|v| v.to_string()),
                "action": e.action, "from": e.from_value, "to": e.to_value,
                "user": e.actor, "comment": e.comment, "timestamp": e.at,
            })
        })
        .collect();
    Ok(Json(wire::paged(
        "entries",
        entries,
        page.has_more,
        offset + max_results,
    )))
}

// ---- searches -----------------------------------------------------------------------------

fn search_page(fields: &Fields) -> ApiResult<(i64, i64)> {
    let max_results = fields.i64("max_results")?.unwrap_or(100);
    if !(1..=MAX_SEARCH_RESULTS).contains(&max_results) {
        return Err(ApiError::invalid(format!(
            "Invalid value {max_results} for parameter 'max_results' supplied. It must be at most \
             {MAX_SEARCH_RESULTS} and at least 1."
        )));
    }
    Ok((
        max_results,
        wire::parse_page_token(fields.str("page_token")?.as_deref())?,
    ))
}

fn paged(key: &str, items: Vec<Value>, has_more: bool, next: i64) -> Value {
    let mut body = Map::new();
    if !items.is_empty() {
        body.insert(key.into(), Value::Array(items));
    }
    if has_more {
        body.insert("next_page_token".into(), json!(wire::page_token(next)));
    }
    Value::Object(body)
}

pub async fn search_models(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    use aiops_core::search::{parse_registered_model_filter, parse_registered_model_order_by};
    let filter = parse_registered_model_filter(&fields.str("filter")?.unwrap_or_default())?;
    let order_by = fields
        .str_list("order_by")?
        .iter()
        .map(|o| parse_registered_model_order_by(o))
        .collect::<Result<Vec<_>, _>>()?;
    let (max_results, offset) = search_page(&fields)?;
    let page = state
        .search_registered_models(&actor, filter.as_ref(), &order_by, max_results, offset)
        .await?;
    let items = page.items.iter().map(model_json).collect();
    Ok(Json(paged(
        "registered_models",
        items,
        page.has_more,
        offset + max_results,
    )))
}

pub async fn search_versions(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    use aiops_core::search::{parse_model_version_filter, parse_model_version_order_by};
    let filter = parse_model_version_filter(&fields.str("filter")?.unwrap_or_default())?;
    let order_by = fields
        .str_list("order_by")?
        .iter()
        .map(|o| parse_model_version_order_by(o))
        .collect::<Result<Vec<_>, _>>()?;
    let (max_results, offset) = search_page(&fields)?;
    let page = state
        .search_model_versions(&actor, filter.as_ref(), &order_by, max_results, offset)
        .await?;
    let items = page.items.iter().map(version_json).collect();
    Ok(Json(paged(
        "model_versions",
        items,
        page.has_more,
        offset + max_results,
    )))
}
