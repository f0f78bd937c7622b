//! The error type of the app's server functions: what the browser is told. It travels
//! in MLflow's error body (`{"error_code": …, "message": …}`), with the same status a
//! REST call would get (set on the server from the core error).

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// The user's input was refused; the message says why and is shown beside the input.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// No (valid) sign-in.
    #[error("{0}")]
    Unauthenticated(String),
    /// Signed in, but not allowed.
    #[error("{0}")]
    PermissionDenied(String),
    /// Too many failed sign-ins.
    #[error("{0}")]
    TooManyAttempts(String),
    /// Not ready or overloaded (a model loading, a full queue): try again.
    #[error("{0}")]
    Unavailable(String),
    /// Something failed on the server; details are in the server log only.
    #[error("Something went wrong on the server. Try again, or see the server log.")]
    Internal,
    /// The request never reached the function or its answer could not be read.
    #[error("Request failed: {0}")]
    Transport(String),
}

impl AppError {
    /// MLflow's error code for the variant.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Invalid(_) => "INVALID_PARAMETER_VALUE",
            AppError::NotFound(_) => "RESOURCE_DOES_NOT_EXIST",
            AppError::AlreadyExists(_) => "RESOURCE_ALREADY_EXISTS",
            AppError::Unauthenticated(_) => "UNAUTHENTICATED",
            AppError::PermissionDenied(_) => "PERMISSION_DENIED",
            AppError::TooManyAttempts(_) => "REQUEST_LIMIT_EXCEEDED",
            AppError::Unavailable(_) => "TEMPORARILY_UNAVAILABLE",
            AppError::Internal => "INTERNAL_ERROR",
            AppError::Transport(_) => "BAD_REQUEST",
        }
    }

    /// The HTTP status the server answers with.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Invalid(_) | AppError::AlreadyExists(_) | AppError::Transport(_) => 400,
            AppError::NotFound(_) => 404,
            AppError::Unauthenticated(_) => 401,
            AppError::PermissionDenied(_) => 403,
            AppError::TooManyAttempts(_) => 429,
            AppError::Unavailable(_) => 503,
            AppError::Internal => 500,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Wire {
    error_code: String,
    message: String,
}

impl Serialize for AppError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Wire {
            error_code: self.code().to_string(),
            message: self.to_string(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for AppError {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Wire { error_code, message } = Wire::deserialize(deserializer)?;
        Ok(match error_code.as_str() {
            "INVALID_PARAMETER_VALUE" => AppError::Invalid(message),
            "RESOURCE_DOES_NOT_EXIST" => AppError::NotFound(message),
            "RESOURCE_ALREADY_EXISTS" => AppError::AlreadyExists(message),
            "UNAUTHENTICATED" => AppError::Unauthenticated(message),
            "PERMISSION_DENIED" => AppError::PermissionDenied(message),
            "REQUEST_LIMIT_EXCEEDED" => AppError::TooManyAttempts(message),
            "TEMPORARILY_UNAVAILABLE" => AppError::Unavailable(message),
            "INTERNAL_ERROR" => AppError::Internal,
            _ => AppError::Transport(message),
        })
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<aiops_core::CoreError> for AppError {
    fn from(e: aiops_core::CoreError) -> Self {
        use aiops_core::CoreError;
        let error = match e {
            CoreError::InvalidParameter(m) => AppError::Invalid(m),
            CoreError::InvalidPath(p) => AppError::Invalid(p.to_string()),
            CoreError::NotFound(m) => AppError::NotFound(m),
            CoreError::AlreadyExists(m) => AppError::AlreadyExists(m),
            CoreError::Unauthenticated(m) => AppError::Unauthenticated(m),
            CoreError::PermissionDenied(m) => AppError::PermissionDenied(m),
            e @ CoreError::TooManyAttempts { .. } => AppError::TooManyAttempts(e.to_string()),
            CoreError::Unavailable(m) => AppError::Unavailable(m),
            other => {
                tracing::error!(error = %other, "server function failed");
                AppError::Internal
            }
        };
        error.set_status();
        error
    }
}

#[cfg(feature = "ssr")]
impl AppError {
    /// Sets this error's status on the server function's response, so a refusal is a
    /// 401/403 on the wire as it is for REST calls, not a 500.
    pub fn set_status(&self) {
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(status) = axum::http::StatusCode::from_u16(self.status()) {
                response.set_status(status);
            }
        }
    }
}
