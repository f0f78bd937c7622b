//! AI Ops Dashboard web app: routes, pages with their server functions, and the hydrate entry.

// Deeply nested views (the run page) need more than the default 128 to compute their
// layouts in the release WASM build.
#![recursion_limit = "256"]

pub mod base;
#[cfg(feature = "ssr")]
pub mod charts;
pub mod components;
pub mod error;
pub mod format;
pub mod hash_routes;
pub mod layout;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod state;
pub mod view_state;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::layout::Shell;
use crate::pages::account::{AccountPage, LoginPage};
use crate::pages::admin::AdminPage;
use crate::pages::deployments::DeploymentsPage;
use crate::pages::experiments::list::ExperimentsPage;
use crate::pages::experiments::runs::ExperimentRunsPage;
use crate::pages::inference::InferencePage;
use crate::pages::logged_model::LoggedModelPage;
use crate::pages::models::{ModelPage, ModelsPage, VersionPage};
use crate::pages::monitoring::MonitoringPage;
use crate::pages::runs::compare::ComparePage;
use crate::pages::runs::view::RunPage;

/// Name of the WASM/JS/CSS bundle cargo-leptos writes under `/pkg`.
pub const BUNDLE_NAME: &str = "aiops";
/// The browser session cookie.
pub const SESSION_COOKIE: &str = "aiops_session";

/// The session cookie's value in a request's headers, if it has a non-empty one.
#[cfg(feature = "ssr")]
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty())
}
/// Server functions live under their own prefix so they never meet the MLflow `/api` routes.
pub const SERVER_FN_PREFIX: &str = "/_app";

/// The HTML document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_page_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="aiops-base" content=base::get()/>
                <link rel="icon" href=base::url("/favicon.svg") type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HashedStylesheet id="aiops" options=options.clone() root=base::get()/>
                <HydrationScripts options root=base::get()/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The document title. leptos_meta writes it into the server-rendered `<title>` as it is,
/// so on the server it is escaped here (a run named `</title><script>` stays text); in the
/// browser it goes to `document.title`, which is text already.
fn title_text(page: String) -> String {
    let title = format!("{page} · AI Ops Dashboard");
    #[cfg(feature = "ssr")]
    let title = format::escape_html(&title);
    title
}

/// The page's Content-Security-Policy: scripts only from this origin or carrying this
/// response's nonce (leptos adds it to its hydration scripts), WebAssembly allowed to
/// compile, nothing framed, no plugins, forms and links back to this origin.
#[cfg(feature = "ssr")]
fn set_page_security_policy() {
    let Some(nonce) = leptos::nonce::use_nonce() else {
        return;
    };
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = axum::http::HeaderValue::from_str(&policy) {
        response.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, value);
    }
}

/// The router's base: the browser sees the prefix in its address; the server's router sees
/// paths with it already taken off (the server nests the app under it).
fn router_base() -> String {
    if cfg!(feature = "hydrate") {
        base::get().to_string()
    } else {
        String::new()
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title formatter=title_text/>
        <Router base=router_base()>
            <Shell>
                <Routes fallback=pages::placeholder::NotFound>
                    <Route path=path!("/") view=ExperimentsPage/>
                    <Route path=path!("/experiments") view=ExperimentsPage/>
                    <Route path=path!("/experiments/:id") view=ExperimentRunsPage/>
                    <Route path=path!("/runs/:id") view=RunPage/>
                    <Route path=path!("/compare") view=ComparePage/>
                    <Route path=path!("/logged-models/:id") view=LoggedModelPage/>
                    <Route path=path!("/models") view=ModelsPage/>
                    <Route path=path!("/models/:name") view=ModelPage/>
                    <Route path=path!("/models/:name/versions/:version") view=VersionPage/>
                    <Route path=path!("/deployments") view=DeploymentsPage/>
                    <Route path=path!("/inference") view=InferencePage/>
                    <Route path=path!("/monitoring") view=MonitoringPage/>
                    <Route path=path!("/login") view=LoginPage/>
                    <Route path=path!("/account") view=AccountPage/>
                    <Route path=path!("/admin") view=AdminPage/>
                </Routes>
            </Shell>
        </Router>
    }
}

/// Who may call each server function, by path (`aiops routes` prints it; the refusal
/// test fails on any server function missing here). Classes as in the REST table.
#[cfg(feature = "ssr")]
const SERVER_FN_CLASSES: &[(&str, &str)] = &[
    ("/_app/sign_in", "public"),
    ("/_app/current_user", "read"),
    ("/_app/sign_out", "read"),
    ("/_app/change_password", "read"),
    ("/_app/list_tokens", "read"),
    ("/_app/create_token", "read"),
    ("/_app/revoke_token", "read"),
    ("/_app/list_experiments", "read"),
    ("/_app/create_experiment", "read"),
    ("/_app/experiment_runs", "read"),
    ("/_app/load_run_overview", "read"),
    ("/_app/run_charts", "read"),
    ("/_app/run_artifacts", "read"),
    ("/_app/artifact_preview", "read"),
    ("/_app/compare_runs", "read"),
    ("/_app/list_deleted_experiments", "read"),
    ("/_app/load_logged_model", "read"),
    ("/_app/rename_run", "edit"),
    ("/_app/set_run_tag", "edit"),
    ("/_app/delete_run_tag", "edit"),
    ("/_app/set_run_deleted", "manage"),
    ("/_app/rename_experiment", "edit"),
    ("/_app/set_experiment_tag", "edit"),
    ("/_app/set_experiment_deleted", "manage"),
    ("/_app/list_models", "read"),
    ("/_app/load_model", "read"),
    ("/_app/promote_version", "admin"),
    ("/_app/set_model_alias", "admin"),
    ("/_app/update_model_description", "edit"),
    ("/_app/set_model_tag", "edit"),
    ("/_app/delete_model_tag", "edit"),
    ("/_app/register_model", "edit"),
    ("/_app/load_version", "read"),
    ("/_app/list_deployments", "read"),
    ("/_app/deploy_model", "admin"),
    ("/_app/rollback_deployment", "admin"),
    ("/_app/undeploy", "admin"),
    ("/_app/start_canary", "admin"),
    ("/_app/promote_canary", "admin"),
    ("/_app/drop_canary", "admin"),
    ("/_app/inference_view", "read"),
    ("/_app/test_inference", "read"),
    ("/_app/monitoring_view", "read"),
    ("/_app/admin_view", "admin"),
    ("/_app/add_user", "admin"),
    ("/_app/set_admin", "admin"),
    ("/_app/grant_permission", "manage"),
    ("/_app/revoke_permission", "manage"),
];

/// Every registered server function with its class (`null` when it has none).
#[cfg(feature = "ssr")]
pub fn server_fn_table() -> Vec<serde_json::Value> {
    let mut rows: Vec<serde_json::Value> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, method)| {
            let class = SERVER_FN_CLASSES
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, c)| *c);
            serde_json::json!({ "method": method.as_str(), "path": path, "class": class })
        })
        .collect();
    rows.sort_by_key(|r| r["path"].as_str().map(str::to_string));
    rows
}

/// Every page route: the login page is public, every other page needs a reader.
#[cfg(feature = "ssr")]
pub fn page_table() -> Vec<serde_json::Value> {
    leptos_axum::generate_route_list(App)
        .iter()
        .map(|r| {
            let class = if r.path() == "/login" { "public" } else { "read" };
            serde_json::json!({ "method": "GET", "path": r.path(), "class": class })
        })
        .collect()
}

/// The browser entry: takes over the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    base::init_from_page();
    // A link the MLflow client printed (`/#/experiments/2/runs/<id>`): go to that page.
    let location = leptos::prelude::window().location();
    if let Some(target) = location
        .hash()
        .ok()
        .as_deref()
        .and_then(hash_routes::mlflow_hash_route)
    {
        if location.replace(&base::url(&target)).is_ok() {
            return;
        }
    }
    leptos::mount::hydrate_body(App);
    // A signal for browser tests and scripts that the page is interactive now.
    if let Some(body) = leptos::prelude::document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
