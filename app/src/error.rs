//! The error type of the app's server functions: what the browser is told.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// The user's input was refused; the message says why and is shown beside the input.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// Something failed on the server; details are in the server log only.
    #[error("Something went wrong on the server. Try again, or see the server log.")]
    Internal,
    /// The request never reached the function or its answer could not be read.
    #[error("Request failed: {0}")]
    Transport(String),
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
        match e {
            CoreError::InvalidParameter(m) => AppError::Invalid(m),
            CoreError::InvalidPath(p) => AppError::Invalid(p.to_string()),
            CoreError::NotFound(m) => AppError::NotFound(m),
            CoreError::AlreadyExists(m) => AppError::AlreadyExists(m),
            other => {
                tracing::error!(error = %other, "server function failed");
                AppError::Internal
            }
        }
    }
}
