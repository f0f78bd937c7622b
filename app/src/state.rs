//! The web server's state: the core [`AppState`] (services, shared with the REST layer)
//! plus Leptos' options, and how a server function finds both it and its caller.

use aiops_core::auth::Actor;
use aiops_core::service::AppState;
use leptos::prelude::*;

use crate::error::AppError;

#[derive(Clone)]
pub struct WebState {
    pub app: AppState,
    pub leptos_options: LeptosOptions,
}

impl axum::extract::FromRef<WebState> for LeptosOptions {
    fn from_ref(state: &WebState) -> Self {
        state.leptos_options.clone()
    }
}

impl axum::extract::FromRef<WebState> for AppState {
    fn from_ref(state: &WebState) -> Self {
        state.app.clone()
    }
}

/// The services, as the server provided them to this request's reactive context.
pub fn app_state() -> Result<AppState, AppError> {
    use_context::<WebState>().map(|s| s.app).ok_or_else(|| {
        tracing::error!("WebState missing from the server function context");
        AppError::Internal
    })
}

/// The caller of this request, as the server's authentication put it in the request.
/// Missing means the request bypassed authentication: refuse, never assume.
pub fn actor() -> Result<Actor, AppError> {
    use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Actor>().cloned())
        .ok_or_else(|| {
            let error = AppError::Unauthenticated("Sign in first.".to_string());
            error.set_status();
            error
        })
}

/// Both at once, for a server function's first line.
pub fn caller() -> Result<(AppState, Actor), AppError> {
    Ok((app_state()?, actor()?))
}
