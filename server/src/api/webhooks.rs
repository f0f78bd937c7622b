//! MLflow 3's webhook endpoints (`/mlflow/webhooks`, as `MlflowClient.create_webhook` and
//! friends call them), and the deliveries of a model's events
//! (`/api/2.0/aiops/registry/webhook-deliveries`).

use aiops_core::service::AppState;
use aiops_core::webhooks::{Delivery, NewWebhook, Webhook, WebhookEvent, WebhookStatus, WebhookUpdate};
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::request::Fields;
use super::wire;
use crate::auth::Caller;

type Reply = ApiResult<Json<Value>>;

const MAX_LIST_RESULTS: i64 = 1000;

/// MLflow's shape. Events MLflow's client cannot parse (our stage event) are listed apart,
/// under `aiops_events`, so the client still reads the rest.
pub fn webhook_json(w: &Webhook) -> Value {
    let (mlflow, ours): (Vec<WebhookEvent>, Vec<WebhookEvent>) = w.events.iter().partition(|e| e.is_mlflow());
    let events: Vec<Value> = mlflow
        .iter()
        .map(|e| {
            let (entity, action) = e.parts();
            json!({ "entity": entity.to_uppercase(), "action": action.to_uppercase() })
        })
        .collect();
    let mut out = json!({
        "webhook_id": w.id,
        "name": w.name,
        "description": w.description,
        "url": w.url,
        "events": events,
        "status": w.status.name(),
        "creation_timestamp": w.creation_time,
        "last_updated_timestamp": w.last_updated_time,
    });
    if !ours.is_empty() {
        out["aiops_events"] = ours.iter().map(|e| e.name()).collect();
    }
    out
}

fn delivery_json(d: &Delivery) -> Value {
    json!({
        "delivery_id": d.id, "webhook_id": d.webhook_id, "webhook_name": d.webhook_name,
        "event": d.event, "name": d.model_name, "status": d.status.name(), "attempts": d.attempts,
        "last_status": d.last_status, "last_error": d.last_error,
        "creation_timestamp": d.created_at, "last_updated_timestamp": d.updated_at,
    })
}

fn bad_event(what: &str) -> ApiError {
    let known: Vec<&str> = WebhookEvent::ALL.iter().map(|e| e.name()).collect();
    ApiError::invalid(format!(
        "Invalid webhook event {what}: the events are {}",
        known.join(", ")
    ))
}

fn event_of(parts: &Fields) -> ApiResult<WebhookEvent> {
    let entity = parts.str("entity")?.unwrap_or_default();
    let action = parts.str("action")?.unwrap_or_default();
    WebhookEvent::from_parts(&entity, &action).ok_or_else(|| bad_event(&format!("'{entity}.{action}'")))
}

/// `events` (and `aiops_events`): `{"entity", "action"}` objects as MLflow's client sends
/// them, or `entity.action` strings. `None` when neither is given.
fn events_of(fields: &Fields) -> ApiResult<Option<Vec<WebhookEvent>>> {
    let mut events = Vec::new();
    let mut given = false;
    for key in ["events", "aiops_events"] {
        let Some(value) = fields.0.get(key).filter(|v| !v.is_null()) else {
            continue;
        };
        given = true;
        let items = value.as_array().ok_or_else(|| {
            ApiError::invalid(format!("Invalid value for parameter '{key}': expected a list"))
        })?;
        for item in items {
            let event = match item {
                Value::String(name) => {
                    WebhookEvent::parse(name).ok_or_else(|| bad_event(&format!("'{name}'")))?
                }
                Value::Object(parts) => event_of(&Fields(parts.clone()))?,
                other => return Err(bad_event(&other.to_string())),
            };
            if !events.contains(&event) {
                events.push(event);
            }
        }
    }
    Ok(given.then_some(events))
}

fn status_of(fields: &Fields) -> ApiResult<Option<WebhookStatus>> {
    fields
        .str("status")?
        .map(|s| {
            WebhookStatus::parse(&s).ok_or_else(|| {
                ApiError::invalid(format!("Invalid webhook status '{s}': use ACTIVE or DISABLED"))
            })
        })
        .transpose()
}

fn webhook_reply(webhook: &Webhook) -> Reply {
    Ok(Json(json!({ "webhook": webhook_json(webhook) })))
}

pub async fn create_webhook(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    state.may_manage_webhooks(&actor)?;
    let new = NewWebhook {
        name: fields.required_str("name")?,
        description: fields.str("description")?.unwrap_or_default(),
        url: fields.required_str("url")?,
        events: events_of(&fields)?.ok_or_else(|| ApiError::missing("events"))?,
        secret: fields.str("secret")?.unwrap_or_default(),
        status: status_of(&fields)?.unwrap_or(WebhookStatus::Active),
    };
    webhook_reply(&state.create_webhook(&actor, new).await?)
}

pub async fn list_webhooks(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    state.may_manage_webhooks(&actor)?;
    let max_results = fields.max_results(100, MAX_LIST_RESULTS)?;
    let offset = wire::parse_page_token(fields.str("page_token")?.as_deref())?;
    let page = state.list_webhooks(&actor, max_results, offset).await?;
    let items = page.items.iter().map(webhook_json).collect();
    Ok(Json(wire::paged(
        "webhooks",
        items,
        page.has_more,
        offset + max_results,
    )))
}

pub async fn get_webhook(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Reply {
    webhook_reply(&state.get_webhook(&actor, &id).await?)
}

pub async fn update_webhook(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    fields: Fields,
) -> Reply {
    state.may_manage_webhooks(&actor)?;
    let update = WebhookUpdate {
        name: fields.str("name")?,
        description: fields.str("description")?,
        url: fields.str("url")?,
        events: events_of(&fields)?,
        secret: fields.str("secret")?,
        status: status_of(&fields)?,
    };
    webhook_reply(&state.update_webhook(&actor, &id, update).await?)
}

/// MLflow's client sends no body with a DELETE.
pub async fn delete_webhook(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Reply {
    state.delete_webhook(&actor, &id).await?;
    Ok(Json(json!({})))
}

pub async fn test_webhook(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    fields: Fields,
) -> Reply {
    state.may_manage_webhooks(&actor)?;
    let event = fields
        .object("event")?
        .map(|parts| event_of(&parts))
        .transpose()?;
    let result = state.test_webhook(&actor, &id, event).await?;
    let mut out = json!({ "success": result.success });
    if let Some(status) = result.response_status {
        out["response_status"] = json!(status);
    }
    if !result.response_body.is_empty() {
        out["response_body"] = json!(result.response_body);
    }
    if !result.error_message.is_empty() {
        out["error_message"] = json!(result.error_message);
    }
    Ok(Json(json!({ "result": out })))
}

/// `?name=` a model's deliveries (readers of the model), or `?webhook_id=` one webhook's
/// (administrators).
pub async fn list_deliveries(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let max_results = fields.max_results(100, MAX_LIST_RESULTS)?;
    let offset = wire::parse_page_token(fields.str("page_token")?.as_deref())?;
    let name = fields.str("name")?.filter(|n| !n.is_empty());
    let webhook_id = fields.str("webhook_id")?.filter(|n| !n.is_empty());
    let page = state
        .webhook_deliveries(
            &actor,
            name.as_deref(),
            webhook_id.as_deref(),
            max_results,
            offset,
        )
        .await?;
    let items = page.items.iter().map(delivery_json).collect();
    Ok(Json(wire::paged(
        "deliveries",
        items,
        page.has_more,
        offset + max_results,
    )))
}
