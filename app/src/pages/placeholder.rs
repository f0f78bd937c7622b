//! The page for addresses that have none.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
fn Upcoming(title: &'static str, summary: &'static str) -> impl IntoView {
    view! {
        <Title text=title/>
        <section class="page">
            <header class="page-header">
                <h1>{title}</h1>
            </header>
            <p class="empty">{summary}</p>
        </section>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! { <Upcoming title="Page not found" summary="There is no page at this address."/> }
}
