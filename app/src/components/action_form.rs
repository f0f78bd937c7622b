//! `ActionForm` that posts under the base path. Leptos's own writes the server function's
//! bare path (`/_app/…`) into the form's `action`, which misses the app behind a path prefix
//! when a form is sent before the page hydrates. Same props and behaviour otherwise.

use leptos::form::FromFormData;
use leptos::prelude::*;
use leptos::server_fn::client::Client;
use leptos::server_fn::codec::PostUrl;
use leptos::server_fn::error::{IntoAppError, ServerFnErrorErr};
use leptos::server_fn::request::ClientReq;
use leptos::server_fn::{Http, ServerFn};
use serde::de::DeserializeOwned;

#[component]
pub fn ActionForm<ServFn, OutputProtocol>(
    /// The action the form dispatches.
    action: ServerAction<ServFn>,
    children: Children,
) -> impl IntoView
where
    ServFn:
        DeserializeOwned + ServerFn<Protocol = Http<PostUrl, OutputProtocol>> + Clone + Send + Sync + 'static,
    <<ServFn::Client as Client<ServFn::Error>>::Request as ClientReq<ServFn::Error>>::FormData:
        From<leptos::web_sys::FormData>,
    ServFn::Output: Send + Sync + 'static,
    ServFn::Error: Send + Sync + 'static,
    <ServFn as ServerFn>::Client: Client<<ServFn as ServerFn>::Error>,
{
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        if ev.default_prevented() {
            return;
        }
        ev.prevent_default();
        match ServFn::from_event(&ev) {
            Ok(input) => {
                action.dispatch(input);
            }
            Err(e) => {
                action.value().set(Some(Err(
                    ServerFnErrorErr::Serialization(e.to_string()).into_app_error()
                )));
                action.version().update(|n| *n += 1);
            }
        }
    };
    view! {
        <form action=crate::base::url(ServFn::url()) method="post" on:submit=on_submit>
            {children()}
        </form>
    }
}
