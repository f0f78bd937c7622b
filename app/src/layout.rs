//! The frame every page sits in: brand, navigation and the content area.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::pages::account::AccountMenu;

/// Sections of the dashboard, in navigation order.
const SECTIONS: [(&str, &str); 5] = [
    ("/experiments", "Experiments"),
    ("/models", "Models"),
    ("/deployments", "Deployments"),
    ("/inference", "Inference"),
    ("/monitoring", "Monitoring"),
];

/// The top-bar section a page belongs to: runs and comparisons are part of Experiments.
fn section_of(path: &str) -> &'static str {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    match first {
        "" | "experiments" | "runs" | "compare" | "logged-models" => "/experiments",
        "models" => "/models",
        "deployments" => "/deployments",
        "inference" => "/inference",
        "monitoring" => "/monitoring",
        _ => "",
    }
}

/// `/` puts the cursor in the page's search box, as on GitHub and in MLflow's UI (not while
/// typing in a field).
fn focus_search_on_slash() {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        let handle = window_event_listener(leptos::ev::keydown, |e| {
            if e.key() != "/" || e.ctrl_key() || e.meta_key() || e.alt_key() {
                return;
            }
            let typing = document()
                .active_element()
                .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
            if typing {
                return;
            }
            let search = document()
                .query_selector("input[type=search]")
                .ok()
                .flatten()
                .and_then(|el| el.dyn_into::<leptos::web_sys::HtmlElement>().ok());
            if let Some(search) = search {
                e.prevent_default();
                let _ = search.focus();
            }
        });
        on_cleanup(move || handle.remove());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn pages_belong_to_their_section() {
        use super::section_of;
        assert_eq!(section_of("/"), "/experiments");
        assert_eq!(section_of("/runs/abc"), "/experiments");
        assert_eq!(section_of("/compare"), "/experiments");
        assert_eq!(section_of("/experiments/3"), "/experiments");
        assert_eq!(section_of("/models/x/versions/2"), "/models");
        assert_eq!(section_of("/modelsx"), "");
        assert_eq!(section_of("/account"), "");
    }
}

#[component]
pub fn Shell(children: Children) -> impl IntoView {
    let location = use_location();
    let is_current = move |href: &str| {
        let pathname = location.pathname.get();
        let path = crate::base::strip(&pathname);
        section_of(path) == href
    };
    focus_search_on_slash();
    // On a phone the sections fold behind a menu button; any navigation folds them again.
    let menu_open = RwSignal::new(false);
    Effect::new(move |_| {
        location.pathname.track();
        menu_open.set(false);
    });
    view! {
        <div class="app">
            <header class="topbar" class:open=move || menu_open.get()>
                <a class="brand" href=crate::base::url("/")>
                    <span class="brand-mark">"◆"</span>
                    " AI Ops Dashboard"
                </a>
                <button
                    type="button"
                    class="menu-toggle"
                    aria-controls="main-nav"
                    aria-expanded=move || menu_open.get().to_string()
                    on:click=move |_| menu_open.update(|open| *open = !*open)
                >
                    "☰ Menu"
                </button>
                <nav class="nav" id="main-nav" aria-label="Main">
                    {SECTIONS
                        .into_iter()
                        .map(|(href, label)| {
                            view! {
                                <a href=crate::base::url(href) class=move || if is_current(href) { "nav-link active" } else { "nav-link" }>
                                    {label}
                                </a>
                            }
                        })
                        .collect_view()}
                </nav>
                <AccountMenu/>
            </header>
            <main class="content">{children()}</main>
        </div>
    }
}
