//! The one middleware every request passes ([`front`]): the Host allow-list (DNS
//! rebinding), refusal of cross-site writes (CSRF), who is calling (`auth::caller`), HTTP
//! metrics, no redirect off-site, and the security headers on every reply. One layer, not
//! one per concern: a `from_fn` layer clones every layer below it on each request, and six
//! of them cost a fifth of an empty request (`/health`: 23,800 → 29,000 req/s as one).
//! HTML pages set their own Content-Security-Policy with a per-response nonce (`app::shell`);
//! everything else gets a policy that runs nothing.

use std::sync::Arc;

use aiops_core::service::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Which Host headers are answered.
#[derive(Clone, Debug)]
pub enum AllowedHosts {
    /// Any host (bound to a non-loopback address with no `--allowed-hosts`, or `*`).
    Any,
    /// Only these names (lower case, without port).
    Only(Arc<Vec<String>>),
}

impl AllowedHosts {
    /// Loopback binds answer loopback names only, plus `extra`; other binds answer `extra`
    /// if given, else anything.
    pub fn new(loopback: bool, extra: &[String]) -> Self {
        let extra: Vec<String> = extra
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        if extra.iter().any(|h| h == "*") || (!loopback && extra.is_empty()) {
            return AllowedHosts::Any;
        }
        let mut names = extra;
        if loopback {
            names.extend(["localhost", "127.0.0.1", "[::1]", "::1"].map(String::from));
        }
        AllowedHosts::Only(Arc::new(names))
    }

    fn allows(&self, host: Option<&str>) -> bool {
        match self {
            AllowedHosts::Any => true,
            AllowedHosts::Only(names) => host.is_some_and(|h| {
                let name = host_name(h);
                names.contains(&name)
                    || name.ends_with(".localhost") && names.iter().any(|n| n == "localhost")
            }),
        }
    }
}

/// The host part of a Host header value, lower case, without the port.
fn host_name(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    if host.starts_with('[') {
        // [::1]:3000
        return match host.find(']') {
            Some(end) => host[..=end].to_string(),
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name.to_string(),
        _ => host,
    }
}

fn request_host(req: &Request) -> Option<String> {
    req.headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
}

fn refuse(status: StatusCode, message: String) -> Response {
    (
        status,
        Json(json!({ "error_code": "PERMISSION_DENIED", "message": message })),
    )
        .into_response()
}

/// What [`front`] needs: the Host allow-list, the services (to know the caller), and the
/// scrape token that alone opens `/metrics` to Prometheus.
#[derive(Clone)]
pub struct Front {
    pub allowed: AllowedHosts,
    pub app: AppState,
    pub metrics_token: Option<Arc<str>>,
}

/// `Authorization: Bearer <--metrics-token>` on `/metrics`: a scraper needs no user account,
/// and the token opens nothing else. Compared in constant time.
fn is_scrape(front: &Front, req: &Request) -> bool {
    let Some(token) = &front.metrics_token else {
        return false;
    };
    if req.uri().path() != "/metrics" {
        return false;
    }
    let Some(sent) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let (a, b) = (sent.trim().as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Every request, once. A Host not served here is refused first (a page on another site
/// that rebinds its name to 127.0.0.1 arrives with its own name in Host).
pub async fn front(State(front): State<Front>, req: Request, next: Next) -> Response {
    let host = request_host(&req);
    if !front.allowed.allows(host.as_deref()) {
        let shown: String = host.unwrap_or_default().chars().take(100).collect();
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            format!("Host '{shown}' is not served here; start aiops with --allowed-hosts to add it"),
        );
    }
    let path = req.uri().path().to_string();
    let mut response = guarded(&front, req, next).await;
    let headers = response.headers_mut();
    keep_redirect_on_site(headers, host.as_deref());
    security_headers(headers);
    if response.status().is_success() {
        if let Some(policy) = asset_cache_policy(&path) {
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
        }
    }
    response
}

/// Bundles whose names carry a content hash (`/pkg/aiops.<hash>.wasm`) never change: cached
/// for a year. Unhashed assets are checked with the server each time.
fn asset_cache_policy(path: &str) -> Option<&'static str> {
    let name = path.strip_prefix("/pkg/")?;
    let hashed = name.split('.').count() >= 3
        && name.split('.').nth(1).is_some_and(|h| {
            h.len() >= 8
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    Some(if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    })
}

#[cfg(test)]
mod cache_tests {
    #[test]
    fn hashed_bundles_are_immutable() {
        use super::asset_cache_policy as policy;
        assert_eq!(
            policy("/pkg/aiops.Ab3dE9fG12.wasm"),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(policy("/pkg/aiops.css"), Some("no-cache"));
        assert_eq!(policy("/runs/1"), None);
    }
}

/// Writes from another site are refused: browsers mark them with `Sec-Fetch-Site` and
/// `Origin`; MLflow's clients send neither. Safe methods pass. Then the caller is known
/// (or turned away), and what reaches a route is counted.
async fn guarded(front: &Front, mut req: Request, next: Next) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) && is_cross_site(&req) {
        return refuse(
            StatusCode::FORBIDDEN,
            "Cross-site requests may not change anything here".into(),
        );
    }
    let actor = if is_scrape(front, &req) {
        aiops_core::auth::Actor::anonymous()
    } else {
        match crate::auth::caller(&front.app, &mut req).await {
            Ok(actor) => actor,
            Err(refused) => return refused,
        }
    };
    req.extensions_mut().insert(actor);
    let is_server_fn = req.uri().path().starts_with(aiops_app::SERVER_FN_PREFIX);
    let timer = crate::metrics::HttpTimer::start(&req);
    let mut response = next.run(req).await;
    if is_server_fn && response.status() == StatusCode::INTERNAL_SERVER_ERROR {
        response = server_fn_request_errors(response).await;
    }
    timer.finish(&response);
    response
}

fn is_cross_site(req: &Request) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if matches!(site, "cross-site" | "same-site") {
            return true;
        }
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => false,
        // A sandboxed frame or a privacy redirect: not our page.
        Some("null") => true,
        Some(origin) => {
            let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or(origin);
            let host = request_host(req).unwrap_or_default();
            !origin_host.eq_ignore_ascii_case(&host)
        }
    }
}

/// A `Location` that leaves this site (a server function's "back to the Referer") becomes `/`.
fn keep_redirect_on_site(headers: &mut HeaderMap, host: Option<&str>) {
    let Some(location) = headers.get(header::LOCATION).and_then(|v| v.to_str().ok()) else {
        return;
    };
    let on_site = if location.starts_with("//") || location.starts_with("/\\") {
        false
    } else if location.starts_with('/') {
        true
    } else if let Some((_, rest)) = location.split_once("://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        host.is_some_and(|h| authority.eq_ignore_ascii_case(h))
    } else {
        // Relative ("runs/1") stays on this site.
        !location.contains(':')
    };
    if !on_site {
        headers.insert(header::LOCATION, HeaderValue::from_static("/"));
    }
}

/// The policy for anything that is not an HTML page (API replies, artifacts, assets): an
/// uploaded HTML artifact opened in a tab runs nothing and can't be framed. Downloads stay
/// allowed: Chromium cancels an attachment whose response is sandboxed without it.
const NON_PAGE_CSP: &str = "default-src 'none'; frame-ancestors 'none'; sandbox allow-downloads";

/// Security headers on every reply; a page's own CSP (with its nonce) is kept.
fn security_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(NON_PAGE_CSP),
        );
    }
}

/// Longest server-function error body looked at.
const SERVER_FN_ERROR_BYTES: usize = 64 * 1024;

/// Leptos answers 500 when a server function's arguments do not parse, before the function
/// runs; that is the caller's mistake (its body says `BAD_REQUEST`), so it becomes a 400.
/// The function's own errors already carry their status.
async fn server_fn_request_errors(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, SERVER_FN_ERROR_BYTES).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let is_request_error =
        serde_json::from_slice::<serde_json::Value>(&bytes).is_ok_and(|v| v["error_code"] == "BAD_REQUEST");
    if is_request_error {
        parts.status = StatusCode::BAD_REQUEST;
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_binds_answer_loopback_names() {
        let allowed = AllowedHosts::new(true, &[]);
        for ok in [
            "127.0.0.1:3000",
            "localhost",
            "LOCALHOST:1",
            "[::1]:3000",
            "app.localhost:3000",
        ] {
            assert!(allowed.allows(Some(ok)), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:3000",
            "127.0.0.1.evil.example",
            "localhost.evil",
        ] {
            assert!(!allowed.allows(Some(bad)), "{bad}");
        }
        assert!(!allowed.allows(None));
        let more = AllowedHosts::new(true, &["aiops.internal".into()]);
        assert!(more.allows(Some("aiops.internal:8080")));
        assert!(matches!(AllowedHosts::new(false, &[]), AllowedHosts::Any));
        assert!(matches!(
            AllowedHosts::new(true, &["*".into()]),
            AllowedHosts::Any
        ));
    }

    #[test]
    fn redirects_stay_on_site() {
        for (location, host, expected) in [
            ("https://evil.example/x", Some("127.0.0.1:3000"), "/"),
            ("//evil.example/x", Some("127.0.0.1:3000"), "/"),
            ("/\\evil.example", Some("127.0.0.1:3000"), "/"),
            ("javascript:alert(1)", Some("127.0.0.1:3000"), "/"),
            (
                "http://127.0.0.1:3000/runs/1",
                Some("127.0.0.1:3000"),
                "http://127.0.0.1:3000/runs/1",
            ),
            ("/experiments/1", Some("127.0.0.1:3000"), "/experiments/1"),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::LOCATION, HeaderValue::from_static(location));
            keep_redirect_on_site(&mut headers, host);
            assert_eq!(
                headers.get(header::LOCATION).and_then(|v| v.to_str().ok()),
                Some(expected)
            );
        }
    }
}
