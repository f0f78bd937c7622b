//! Who is calling: reads Basic, Bearer or the session cookie on every request
//! ([`caller`], which `guard::front` runs and whose [`Actor`] it puts in the request for
//! handlers and server functions), and turns away callers without credentials (401 for
//! APIs, the login page for page views). What an actor may do is decided by the service
//! layer, never here.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use aiops_core::auth::authenticator::Credentials;
use aiops_core::auth::Actor;
use aiops_core::service::AppState;
use aiops_core::CoreError;
use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;

use crate::api::error::ApiError;

/// Paths anyone may fetch: probes, the login page and what it needs to load.
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/health" | "/ready" | "/login" | "/_app/sign_in" | "/v2" | "/v2/health/live" | "/v2/health/ready"
    ) || is_static(path)
}

/// The site's own scripts, styles and icons: the same for everyone.
fn is_static(path: &str) -> bool {
    path.starts_with("/pkg/") || matches!(path, "/favicon.ico" | "/favicon.svg")
}

/// Paths answered with JSON (401 there; page views are sent to the login page instead).
fn is_api(path: &str) -> bool {
    [
        "/api/",
        "/ajax-api/",
        "/_app/",
        "/get-artifact",
        "/model-versions/",
        "/v2/",
        "/invocations/",
        "/metrics",
    ]
    .iter()
    .any(|p| path.starts_with(p))
}

/// The handler-side view of the caller, put in place by [`authenticate`].
pub struct Caller(pub Actor);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Actor>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| ApiError::from(CoreError::Unauthenticated("Sign in first.".into())))
    }
}

/// The client's address: the socket peer (a proxy's own address behind a load balancer,
/// which then throttles as one client; never a header a client could forge).
fn client_ip(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Credentials the request carries: the Authorization header first, then the cookie.
/// `Err` for an Authorization header we cannot read.
fn credentials(headers: &HeaderMap) -> Result<Option<Credentials>, CoreError> {
    // An empty header is no header (some clients send one when they have nothing to say).
    if let Some(value) = headers.get(header::AUTHORIZATION).filter(|v| !v.is_empty()) {
        let bad = || CoreError::Unauthenticated("The Authorization header is malformed.".into());
        let value = value.to_str().map_err(|_| bad())?.trim();
        let (scheme, rest) = value.split_once(' ').ok_or_else(bad)?;
        let rest = rest.trim();
        return if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .map_err(|_| bad())?;
            let text = String::from_utf8(decoded).map_err(|_| bad())?;
            let (username, password) = text.split_once(':').ok_or_else(bad)?;
            Ok(Some(Credentials::Basic {
                username: username.to_string(),
                password: password.to_string(),
            }))
        } else if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
            Ok(Some(Credentials::Bearer(rest.to_string())))
        } else {
            Err(CoreError::Unauthenticated(
                "Unsupported Authorization scheme: use Basic or Bearer.".into(),
            ))
        };
    }
    Ok(aiops_app::session_cookie(headers).map(Credentials::Session))
}

/// Who is calling: every request gets an [`Actor`] or is turned away (the response to
/// send). Run once per request by `guard::front`; `&mut` because a shared `&Request`
/// is not `Send` (its body is not `Sync`).
pub async fn caller(state: &AppState, req: &mut Request) -> Result<Actor, Response> {
    if state.policy.disabled {
        return Ok(Actor {
            user_id: None,
            username: "admin".into(),
            is_admin: true,
        });
    }
    let path = req.uri().path();
    // No credential lookup (a session query) per asset.
    if is_static(path) {
        return Ok(Actor::anonymous());
    }
    let client = client_ip(req);
    let outcome = match credentials(req.headers()) {
        Ok(Some(credentials)) => {
            let is_session = matches!(credentials, Credentials::Session(_));
            match state.authenticator.authenticate(&credentials, client).await {
                Ok(actor) => Ok(Some(actor)),
                // A stale cookie is no credential at all: the caller is treated as signed out.
                Err(CoreError::Unauthenticated(_)) if is_session => Ok(None),
                Err(e) => Err(e),
            }
        }
        Ok(None) => Ok(None),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(Some(actor)) => Ok(actor),
        Ok(None) if state.policy.anonymous_read || is_public(path) => Ok(Actor::anonymous()),
        // `--anonymous-inference`: the inference API alone needs no credentials.
        Ok(None)
            if state.policy.anonymous_inference
                && (path.starts_with("/v2/") || path.starts_with("/invocations/")) =>
        {
            Ok(Actor::anonymous())
        }
        Ok(None) => Err(unauthenticated(
            req,
            path,
            "Sign in, or send Basic or Bearer credentials.",
        )),
        Err(CoreError::Unauthenticated(message)) if !is_public(path) => {
            Err(unauthenticated(req, path, &message))
        }
        // On the login page itself, bad credentials are simply no credentials.
        Err(CoreError::Unauthenticated(_)) => Ok(Actor::anonymous()),
        Err(e) => Err(ApiError::from(e).into_response()),
    }
}

/// 401 for APIs (with a Basic challenge for non-browser clients), the login page for views.
fn unauthenticated(req: &Request, path: &str, message: &str) -> Response {
    let page_view = !is_api(path) && matches!(*req.method(), Method::GET | Method::HEAD);
    if page_view {
        let next = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let target = aiops_app::base::url(&format!(
            "/login?next={}",
            url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        ));
        return Redirect::to(&target).into_response();
    }
    let mut response = if path.starts_with("/v2/") {
        // The inference API's own error format.
        crate::api::inference::V2Error::new(axum::http::StatusCode::UNAUTHORIZED, message).into_response()
    } else {
        ApiError::from(CoreError::Unauthenticated(message.to_string())).into_response()
    };
    // A browser's own calls (server functions) get no challenge: it would pop up the
    // browser's password dialog over the dashboard.
    let from_browser_page = path.starts_with("/_app/") && req.headers().contains_key("sec-fetch-site");
    if !from_browser_page {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"aiops\", charset=\"UTF-8\""),
        );
    }
    response
}
