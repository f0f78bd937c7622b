//! The one application context, shared by the REST handlers and the server functions.

use std::sync::Arc;

use aiops_core::artifacts::ArtifactStore;
use aiops_core::store::TrackingStore;
use leptos::prelude::*;

use crate::error::AppError;

#[derive(Clone)]
pub struct AppState {
    pub tracking: Arc<dyn TrackingStore>,
    pub artifacts: Arc<dyn ArtifactStore>,
    pub leptos_options: LeptosOptions,
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The state the server provided to this request's reactive context.
pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the server function context");
        AppError::Internal
    })
}
