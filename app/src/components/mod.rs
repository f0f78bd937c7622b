//! Widgets shared by several pages.

mod action_form;
pub mod chart;

pub use action_form::ActionForm;

use leptos::prelude::*;

use crate::error::AppError;

/// The errors of a page's actions (server actions' last results), one alert each.
pub fn action_errors(errors: impl IntoIterator<Item = Option<AppError>>) -> impl IntoView {
    errors
        .into_iter()
        .flatten()
        .map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })
        .collect_view()
}
