//! MLflow's basic-auth API (`AuthServiceClient`): users and per-user resource permissions.

use aiops_core::auth::{Permission, ResourceKind, User};
use aiops_core::service::AppState;
use axum::extract::{ConnectInfo, State};
use axum::Json;
use serde_json::{json, Value};
use std::net::SocketAddr;

use super::error::{ApiError, ApiResult};
use super::request::Fields;
use crate::auth::Caller;

type Reply = ApiResult<Json<Value>>;

fn user_json(user: &User) -> Value {
    json!({ "id": user.id, "username": user.username, "is_admin": user.is_admin })
}

fn kind(fields: &Fields) -> ApiResult<ResourceKind> {
    let name = fields.required_str("resource_type")?;
    ResourceKind::parse(&name).ok_or_else(|| {
        ApiError::invalid(format!(
            "Invalid resource_type '{name}': expected 'experiment' or 'registered_model'"
        ))
    })
}

fn permission(fields: &Fields) -> ApiResult<Permission> {
    let name = fields.required_str("permission")?;
    Permission::parse(&name).ok_or_else(|| {
        ApiError::invalid(format!(
            "Invalid permission '{name}': expected one of READ, USE, EDIT, MANAGE, NO_PERMISSIONS"
        ))
    })
}

pub async fn create_user(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let user = state
        .create_user(
            &actor,
            &fields.required_str("username")?,
            &fields.required_str("password")?,
        )
        .await?;
    Ok(Json(json!({ "user": user_json(&user) })))
}

pub async fn get_user(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let user = state.get_user(&actor, &fields.required_str("username")?).await?;
    Ok(Json(json!({ "user": user_json(&user) })))
}

pub async fn list_users(State(state): State<AppState>, Caller(actor): Caller) -> Reply {
    let users = state.list_users(&actor).await?;
    Ok(Json(
        json!({ "users": users.iter().map(user_json).collect::<Vec<_>>() }),
    ))
}

pub async fn current_user(State(state): State<AppState>, Caller(actor): Caller) -> Reply {
    let user = state.current_user(&actor)?;
    Ok(Json(json!({ "user": user_json(&user), "is_basic_auth": true })))
}

pub async fn update_password(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Caller(actor): Caller,
    fields: Fields,
) -> Reply {
    state
        .update_password(
            &actor,
            &fields.required_str("username")?,
            &fields.required_str("password")?,
            fields.str("current_password")?.as_deref(),
            peer.ip(),
        )
        .await?;
    Ok(Json(json!({})))
}

pub async fn update_admin(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    state
        .update_admin(
            &actor,
            &fields.required_str("username")?,
            fields
                .bool("is_admin")?
                .ok_or_else(|| ApiError::missing("is_admin"))?,
        )
        .await?;
    Ok(Json(json!({})))
}

pub async fn delete_user(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    state
        .delete_user(&actor, &fields.required_str("username")?)
        .await?;
    Ok(Json(json!({})))
}

pub async fn grant_permission(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    state
        .grant_permission(
            &actor,
            &fields.required_str("username")?,
            kind(&fields)?,
            &fields.required_str("resource_id")?,
            permission(&fields)?,
        )
        .await?;
    Ok(Json(json!({})))
}

pub async fn revoke_permission(
    State(state): State<AppState>,
    Caller(actor): Caller,
    fields: Fields,
) -> Reply {
    state
        .revoke_permission(
            &actor,
            &fields.required_str("username")?,
            kind(&fields)?,
            &fields.required_str("resource_id")?,
        )
        .await?;
    Ok(Json(json!({})))
}

/// `allowed` mirrors MLflow's `can_use`.
pub async fn get_permission(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let permission = state
        .user_permission(
            &actor,
            &fields.required_str("username")?,
            kind(&fields)?,
            &fields.required_str("resource_id")?,
        )
        .await?;
    Ok(Json(json!({
        "allowed": permission >= Permission::Use,
        "permission": permission.name(),
    })))
}
