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

#[component]
pub fn Shell(children: Children) -> impl IntoView {
    let location = use_location();
    let is_current = move |href: &str| {
        let pathname = location.pathname.get();
        let path = crate::base::strip(&pathname);
        path.starts_with(href) || (href == "/experiments" && path == "/")
    };
    view! {
        <div class="app">
            <header class="topbar">
                <a class="brand" href=crate::base::url("/")>
                    <span class="brand-mark">"◆"</span>
                    " AI Ops Dashboard"
                </a>
                <nav class="nav" aria-label="Main">
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
