//! The one error type of the domain core. Variants say whose fault it is, so the
//! server can map them to 4xx (the caller's) or 5xx (ours) without guessing.

use crate::artifacts::PathError;

pub type CoreResult<T> = Result<T, CoreError>;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The caller sent something we refuse (MLflow `INVALID_PARAMETER_VALUE`).
    #[error("{0}")]
    InvalidParameter(String),
    /// The thing named does not exist (MLflow `RESOURCE_DOES_NOT_EXIST`).
    #[error("{0}")]
    NotFound(String),
    /// A unique name is taken (MLflow `RESOURCE_ALREADY_EXISTS`).
    #[error("{0}")]
    AlreadyExists(String),
    /// No credentials, or wrong ones (HTTP 401 `UNAUTHENTICATED`).
    #[error("{0}")]
    Unauthenticated(String),
    /// Signed in, but not allowed (HTTP 403 `PERMISSION_DENIED`).
    #[error("{0}")]
    PermissionDenied(String),
    /// Too many failed sign-ins from this client or for this user (HTTP 429).
    #[error("Too many failed sign-in attempts; try again in {retry_after_secs} seconds.")]
    TooManyAttempts { retry_after_secs: u64 },
    /// Not ready or overloaded (a model loading, a full queue): try again (HTTP 503).
    #[error("{0}")]
    Unavailable(String),
    /// An artifact path tried to leave the store or was malformed.
    #[error(transparent)]
    InvalidPath(#[from] PathError),
    /// The database failed; details are logged, never sent to clients.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The database schema could not be brought up to date.
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The artifact store failed; details are logged, never sent to clients.
    #[error("artifact storage error: {0}")]
    Storage(String),
    /// Our own fault elsewhere (ONNX Runtime failing on a valid request); logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
    /// Bad configuration at start-up (URLs, folders).
    #[error("configuration error: {0}")]
    Config(String),
}

impl CoreError {
    /// True when the caller, not the server, is at fault.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            CoreError::InvalidParameter(_)
                | CoreError::NotFound(_)
                | CoreError::AlreadyExists(_)
                | CoreError::InvalidPath(_)
                | CoreError::Unauthenticated(_)
                | CoreError::PermissionDenied(_)
                | CoreError::TooManyAttempts { .. }
        )
    }
}

impl From<std::io::Error> for CoreError {
    fn from(e: std::io::Error) -> Self {
        CoreError::Storage(e.to_string())
    }
}

impl From<aiops_predictor::PredictError> for CoreError {
    /// A request that does not fit the model, or that ONNX Runtime refuses, is the caller's;
    /// a full queue is 503; the rest is ours.
    fn from(e: aiops_predictor::PredictError) -> Self {
        use aiops_predictor::PredictError;
        match e {
            PredictError::BadInput(m) => CoreError::InvalidParameter(m),
            PredictError::Rejected(_) => CoreError::InvalidParameter(e.to_string()),
            PredictError::Busy => CoreError::Unavailable(e.to_string()),
            PredictError::Load(m) | PredictError::Runtime(m) => CoreError::Internal(m),
        }
    }
}
