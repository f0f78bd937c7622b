//! AI Ops Dashboard web app: routes, pages with their server functions, and the hydrate entry.

#[cfg(feature = "ssr")]
pub mod charts;
pub mod error;
pub mod format;
pub mod layout;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod state;
pub mod view_state;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::layout::Shell;
use crate::pages::experiments::list::ExperimentsPage;
use crate::pages::experiments::runs::ExperimentRunsPage;
use crate::pages::placeholder::{DeploymentsPage, InferencePage, ModelsPage, MonitoringPage};
use crate::pages::runs::compare::ComparePage;
use crate::pages::runs::view::RunPage;

/// Name of the WASM/JS/CSS bundle cargo-leptos writes under `/pkg`.
pub const BUNDLE_NAME: &str = "aiops";
/// Server functions live under their own prefix so they never meet the MLflow `/api` routes.
pub const SERVER_FN_PREFIX: &str = "/_app";

/// The HTML document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="aiops" href=format!("/pkg/{BUNDLE_NAME}.css")/>
        <Title formatter=|page: String| format!("{page} · AI Ops Dashboard")/>
        <Router>
            <Shell>
                <Routes fallback=pages::placeholder::NotFound>
                    <Route path=path!("/") view=ExperimentsPage/>
                    <Route path=path!("/experiments") view=ExperimentsPage/>
                    <Route path=path!("/experiments/:id") view=ExperimentRunsPage/>
                    <Route path=path!("/runs/:id") view=RunPage/>
                    <Route path=path!("/compare") view=ComparePage/>
                    <Route path=path!("/models") view=ModelsPage/>
                    <Route path=path!("/deployments") view=DeploymentsPage/>
                    <Route path=path!("/inference") view=InferencePage/>
                    <Route path=path!("/monitoring") view=MonitoringPage/>
                </Routes>
            </Shell>
        </Router>
    }
}

/// The browser entry: takes over the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
    // A signal for browser tests and scripts that the page is interactive now.
    if let Some(body) = leptos::prelude::document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
