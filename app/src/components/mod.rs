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

/// Seconds between refreshes of a page showing a running run.
pub const REFRESH_SECONDS: u64 = 5;

/// A counter that goes up every [`REFRESH_SECONDS`] while `active` holds, in the browser
/// only: resources keyed on it load again by themselves (running runs' rows and charts),
/// with no page reload. It stops as soon as nothing on the page is running.
pub fn refresh_tick(active: Signal<bool>) -> ReadSignal<u32> {
    let (tick, set_tick) = signal(0u32);
    #[cfg(feature = "hydrate")]
    {
        let handle = StoredValue::new_local(None::<leptos::prelude::IntervalHandle>);
        Effect::new(move |_| {
            if let Some(h) = handle.get_value() {
                h.clear();
            }
            let next = active
                .get()
                .then(|| {
                    set_interval_with_handle(
                        move || set_tick.update(|t| *t += 1),
                        std::time::Duration::from_secs(REFRESH_SECONDS),
                    )
                    .ok()
                })
                .flatten();
            handle.set_value(next);
        });
        on_cleanup(move || {
            if let Some(h) = handle.get_value() {
                h.clear();
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (active, set_tick);
    tick
}
