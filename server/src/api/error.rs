//! MLflow's error format: `{"error_code": "...", "message": "..."}` with its status mapping.
//! User mistakes are always 4xx (the client retries 5xx for minutes); internal details are
//! logged, never sent.

use aiops_core::CoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds to wait before trying again (`Retry-After`), for 429s.
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "INVALID_PARAMETER_VALUE",
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "BAD_REQUEST",
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "BAD_REQUEST",
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "RESOURCE_DOES_NOT_EXIST",
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn already_exists(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "RESOURCE_ALREADY_EXISTS",
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn endpoint_not_found() -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "ENDPOINT_NOT_FOUND",
            message: "No API endpoint at this path".into(),
            retry_after: None,
        }
    }

    pub fn internal() -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "INTERNAL_ERROR",
            message: "An internal error occurred; see the server log".into(),
            retry_after: None,
        }
    }

    pub fn unavailable() -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "TEMPORARILY_UNAVAILABLE",
            message: "A backing service is unavailable; try again shortly".into(),
            retry_after: None,
        }
    }

    /// MLflow's wording for a missing required field.
    pub fn missing(field: &str) -> Self {
        ApiError::invalid(format!(
            "Missing value for required parameter '{field}'. See the API docs for more information about request parameters."
        ))
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::InvalidParameter(m) => ApiError::invalid(m),
            CoreError::InvalidPath(p) => ApiError::invalid(p.to_string()),
            CoreError::NotFound(m) => ApiError::not_found(m),
            CoreError::AlreadyExists(m) => ApiError::already_exists(m),
            CoreError::Unauthenticated(m) => ApiError {
                status: StatusCode::UNAUTHORIZED,
                code: "UNAUTHENTICATED",
                message: m,
                retry_after: None,
            },
            CoreError::PermissionDenied(m) => ApiError {
                status: StatusCode::FORBIDDEN,
                code: "PERMISSION_DENIED",
                message: m,
                retry_after: None,
            },
            e @ CoreError::TooManyAttempts { retry_after_secs } => ApiError {
                status: StatusCode::TOO_MANY_REQUESTS,
                code: "REQUEST_LIMIT_EXCEEDED",
                message: e.to_string(),
                retry_after: Some(retry_after_secs),
            },
            CoreError::Unavailable(m) => ApiError {
                message: m,
                ..ApiError::unavailable()
            },
            CoreError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) => {
                tracing::error!(error = %e, "database unavailable");
                ApiError::unavailable()
            }
            other => {
                tracing::error!(error = %other, "request failed");
                ApiError::internal()
            }
        }
    }
}

impl From<aiops_core::search::SearchError> for ApiError {
    fn from(e: aiops_core::search::SearchError) -> Self {
        ApiError::invalid(e.0)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(json!({ "error_code": self.code, "message": self.message })),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

impl From<aiops_core::artifacts::PathError> for ApiError {
    fn from(e: aiops_core::artifacts::PathError) -> Self {
        ApiError::invalid(e.to_string())
    }
}
