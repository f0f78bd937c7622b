//! Endpoints the MLflow 3.x client calls on the side of tracking.

use axum::Json;
use serde_json::{json, Value};

use super::error::ApiError;

/// What the client reads to learn how the server is set up. Multipart and presigned
/// uploads are off, so the client streams artifacts through the proxy routes.
pub async fn server_info() -> Json<Value> {
    Json(json!({
        "store_type": "SqlStore",
        "workspaces_enabled": false,
        "trace_archival_enabled": false,
        "multipart_uploads_enabled": false,
        "multipart_downloads_enabled": false,
        "presigned_upload_run_id_supported": false,
        "presigned_upload_model_id_supported": false,
        "features_enabled": { "gateway": false },
    }))
}

pub async fn endpoint_not_found() -> ApiError {
    ApiError::endpoint_not_found()
}
