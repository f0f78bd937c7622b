//! Artifacts proxied through the server (`/api/2.0/mlflow-artifacts/...`) and the run
//! artifact listing. Every path goes through `ArtifactPath`, so nothing outside the
//! configured store can be named.

use aiops_app::state::AppState;
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

/// The store path behind an `mlflow-artifacts:/…` URI.
pub fn store_path(uri: &str) -> ApiResult<ArtifactPath> {
    Ok(ArtifactPath::from_uri(uri)?)
}

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
    Path(raw): Path<String>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let path = ArtifactPath::parse_file(&raw)?;
    let stream: ByteStream = Box::pin(body.into_data_stream().map_err(std::io::Error::other));
    state.artifacts.put(&path, stream).await?;
    Ok(Json(json!({})))
}

pub async fn download(State(state): State<AppState>, Path(raw): Path<String>) -> ApiResult<Response> {
    stream_file(&state, &ArtifactPath::parse_file(&raw)?).await
}

/// `GET /get-artifact?run_uuid=&path=` (MLflow's UI route): a run's file, as a download.
pub async fn download_run_artifact(State(state): State<AppState>, fields: Fields) -> ApiResult<Response> {
    let run = state.tracking.get_run(&fields.run_id()?).await?;
    let root = store_path(&run.info.artifact_uri)?;
    let file = ArtifactPath::parse_file(&fields.required_str("path")?)?;
    stream_file(&state, &root.join(&file)).await
}

/// Streams a stored file with a safe content type and as an attachment.
async fn stream_file(state: &AppState, path: &ArtifactPath) -> ApiResult<Response> {
    let stream = state.artifacts.get(path).await?;
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
    Ok(response)
}

pub async fn delete(State(state): State<AppState>, Path(raw): Path<String>) -> ApiResult<Json<Value>> {
    let path = ArtifactPath::parse_file(&raw)?;
    state.artifacts.delete(&path).await?;
    Ok(Json(json!({})))
}

/// `GET /api/2.0/mlflow-artifacts/artifacts?path=dir`: children of `dir`, named relative to it.
pub async fn list(State(state): State<AppState>, fields: Fields) -> ApiResult<Json<Value>> {
    let dir = parse_store_path(&fields.str("path")?.unwrap_or_default())?;
    let entries = state.artifacts.list(&dir).await?;
    let files: Vec<Value> = entries.iter().map(|e| wire::file_info(e, dir.as_str())).collect();
    Ok(Json(if files.is_empty() {
        json!({})
    } else {
        json!({ "files": files })
    }))
}

/// `GET /api/2.0/mlflow/artifacts/list?run_id=&path=`: a run's artifacts, relative to its root.
pub async fn list_run_artifacts(State(state): State<AppState>, fields: Fields) -> ApiResult<Json<Value>> {
    let run = state.tracking.get_run(&fields.run_id()?).await?;
    let root = store_path(&run.info.artifact_uri)?;
    let sub = parse_store_path(&fields.str("path")?.unwrap_or_default())?;
    let entries = state.artifacts.list(&root.join(&sub)).await?;
    let files: Vec<Value> = entries
        .iter()
        .map(|e| wire::file_info(e, root.as_str()))
        .collect();
    let mut body = json!({ "root_uri": run.info.artifact_uri });
    if !files.is_empty() {
        body["files"] = Value::Array(files);
    }
    Ok(Json(body))
}
