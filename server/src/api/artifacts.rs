//! Artifacts proxied through the server (`/api/2.0/mlflow-artifacts/...`) and the run
//! artifact listing. Every path goes through `ArtifactPath`, so nothing outside the
//! configured store can be named.

use aiops_core::service::AppState;

use crate::auth::Caller;
use aiops_core::artifacts::{ArtifactPath, ByteStream};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::TryStreamExt;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::request::Fields;
use super::wire;

/// An experiment's artifact location must be inside this server's store.
pub fn validate_artifact_location(location: &str) -> ApiResult<()> {
    let path = ArtifactPath::from_uri(location).map_err(|e| {
        ApiError::invalid(format!(
            "Invalid artifact_location: {e}. It must be an mlflow-artifacts:/<path> URI inside the \
             server's artifact store"
        ))
    })?;
    if path.is_root() {
        return Err(ApiError::invalid(
            "artifact_location must name a folder inside the artifact store",
        ));
    }
    Ok(())
}

fn parse_store_path(raw: &str) -> ApiResult<ArtifactPath> {
    Ok(ArtifactPath::parse(raw)?)
}

pub async fn upload(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(raw): Path<String>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let path = ArtifactPath::parse_file(&raw)?;
    let stream: ByteStream = Box::pin(body.into_data_stream().map_err(std::io::Error::other));
    state.put_artifact(&actor, &path, stream).await?;
    Ok(Json(json!({})))
}

pub async fn download(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    let path = ArtifactPath::parse_file(&raw)?;
    let stream = state.get_artifact(&actor, &path).await?;
    Ok(file_response(&path, stream))
}

/// `GET /get-artifact?run_uuid=&path=` (MLflow's UI route): a run's file, as a download.
pub async fn download_run_artifact(
    State(state): State<AppState>,
    Caller(actor): Caller,
    fields: Fields,
) -> ApiResult<Response> {
    let file = ArtifactPath::parse_file(&fields.required_str("path")?)?;
    let (path, stream) = state.get_run_artifact(&actor, &fields.run_id()?, &file).await?;
    Ok(file_response(&path, stream))
}

/// One file of a model version, by name, version and path (MLflow's UI route).
pub async fn download_version_artifact(
    State(state): State<AppState>,
    Caller(actor): Caller,
    fields: Fields,
) -> ApiResult<Response> {
    let file = ArtifactPath::parse_file(&fields.required_str("path")?)?;
    let version = super::registry::version_of(&fields)?;
    let (path, stream) = state
        .get_version_file(&actor, &fields.required_str("name")?, version, &file)
        .await?;
    Ok(file_response(&path, stream))
}

/// A stored file with a safe content type and as an attachment.
fn file_response(path: &ArtifactPath, stream: ByteStream) -> Response {
    let mime = mime_guess::from_path(path.file_name()).first_or_octet_stream();
    // HTML must not run in our origin; everything else keeps its type for previews.
    let content_type = if mime.type_() == "text" && mime.subtype() == "html" {
        "text/plain; charset=utf-8".to_string()
    } else {
        mime.essence_str().to_string()
    };
    let disposition = format!(
        "attachment; filename=\"{}\"",
        path.file_name().replace(['"', '\\'], "_")
    );
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

pub async fn delete(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let path = ArtifactPath::parse_file(&raw)?;
    state.delete_artifact(&actor, &path).await?;
    Ok(Json(json!({})))
}

/// `GET /api/2.0/mlflow-artifacts/artifacts?path=dir`: children of `dir`, named relative to it.
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    fields: Fields,
) -> ApiResult<Json<Value>> {
    let dir = parse_store_path(&fields.str("path")?.unwrap_or_default())?;
    let entries = state.list_artifacts(&actor, &dir).await?;
    let files: Vec<Value> = entries.iter().map(|e| wire::file_info(e, dir.as_str())).collect();
    Ok(Json(if files.is_empty() {
        json!({})
    } else {
        json!({ "files": files })
    }))
}

/// `GET /api/2.0/mlflow/artifacts/list?run_id=&path=`: a run's artifacts, relative to its root.
pub async fn list_run_artifacts(
    State(state): State<AppState>,
    Caller(actor): Caller,
    fields: Fields,
) -> ApiResult<Json<Value>> {
    let sub = parse_store_path(&fields.str("path")?.unwrap_or_default())?;
    let (root_uri, root, entries) = state.list_run_artifacts(&actor, &fields.run_id()?, &sub).await?;
    let files: Vec<Value> = entries
        .iter()
        .map(|e| wire::file_info(e, root.as_str()))
        .collect();
    let mut body = json!({ "root_uri": root_uri });
    if !files.is_empty() {
        body["files"] = Value::Array(files);
    }
    Ok(Json(body))
}
