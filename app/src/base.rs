//! The path prefix the dashboard is served under (`aiops serve --base-path /aiops`), empty
//! by default. The server sets it once at start; the browser reads it from the page's
//! `<meta name="aiops-base">` before hydrating, so both render the same links. Every
//! absolute link, redirect and server-function call goes through [`url`].

use std::sync::OnceLock;

static BASE: OnceLock<String> = OnceLock::new();

/// Sets the prefix (once per process; later calls are ignored).
pub fn set(base: &str) {
    let _ = BASE.set(base.to_string());
}

/// The prefix: empty, or `/segment[/segment…]` without a trailing slash.
pub fn get() -> &'static str {
    BASE.get().map(String::as_str).unwrap_or("")
}

/// `path` under the prefix when it is absolute (`/runs/1` → `/aiops/runs/1`, `/` →
/// `/aiops`); relative links (`?page=2`) stay as they are.
pub fn url(path: &str) -> String {
    if path == "/" && !get().is_empty() {
        get().to_string()
    } else if path.starts_with('/') && !path.starts_with("//") {
        format!("{}{path}", get())
    } else {
        path.to_string()
    }
}

/// `path` without the prefix (`/aiops/models` → `/models`, `/aiops` → `/`).
pub fn strip(path: &str) -> &str {
    match path.strip_prefix(get()) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') || get().is_empty() => rest,
        _ => path,
    }
}

/// A `--base-path` value made canonical: `""` and `"/"` are none; otherwise it must start
/// with `/` and hold only URL-safe path characters, without empty, `.` or `..` segments.
pub fn normalize(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let bad = || {
        format!(
            "--base-path must look like /aiops (a path of letters, digits, '-', '_', '.', '~'), not {raw:?}"
        )
    };
    let rest = trimmed.strip_prefix('/').ok_or_else(bad)?;
    for segment in rest.split('/') {
        let safe = segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'));
        if segment.is_empty() || segment == "." || segment == ".." || !safe {
            return Err(bad());
        }
    }
    Ok(trimmed.to_string())
}

/// In the browser: the prefix from the page, for links and server-function calls.
#[cfg(feature = "hydrate")]
pub fn init_from_page() {
    let base = leptos::prelude::document()
        .query_selector("meta[name=aiops-base]")
        .ok()
        .flatten()
        .and_then(|m| m.get_attribute("content"))
        .unwrap_or_default();
    if !base.is_empty() {
        // Server functions are called at `<prefix>/_app/…`; the client wants a 'static str.
        leptos::server_fn::client::set_server_url(Box::leak(base.clone().into_boxed_str()));
    }
    set(&base);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths_are_made_canonical_or_refused() {
        assert_eq!(normalize("").as_deref(), Ok(""));
        assert_eq!(normalize("/").as_deref(), Ok(""));
        assert_eq!(normalize("/aiops/").as_deref(), Ok("/aiops"));
        assert_eq!(normalize(" /ml/aiops ").as_deref(), Ok("/ml/aiops"));
        for bad in ["aiops", "/a//b", "/a/../b", "/a b", "/a?b", "/%2e%2e", "/a#b"] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
    }
}
