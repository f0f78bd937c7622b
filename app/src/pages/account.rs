//! Signing in and out, and the account page: change your password, make and revoke
//! access tokens. The session lives in an HttpOnly cookie the server sets.

use aiops_core::auth::{TokenInfo, User};
use leptos::prelude::*;

use crate::components::ActionForm;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::error::AppError;
use crate::format::timestamp_utc;

#[cfg(feature = "ssr")]
mod ssr {
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};

    use axum::http::request::Parts;
    use leptos::prelude::use_context;

    use crate::SESSION_COOKIE;

    pub fn parts() -> Option<Parts> {
        use_context::<Parts>()
    }

    /// The socket peer (never a header a client could forge).
    pub fn client_ip() -> IpAddr {
        parts()
            .and_then(|p| {
                p.extensions
                    .get::<axum::extract::ConnectInfo<SocketAddr>>()
                    .map(|c| c.0.ip())
            })
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    /// Secure cookies when the browser reached us over TLS (directly or through a proxy
    /// that says so).
    fn over_tls() -> bool {
        parts().is_some_and(|p| {
            p.uri.scheme_str() == Some("https")
                || p.headers
                    .get("x-forwarded-proto")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.eq_ignore_ascii_case("https"))
        })
    }

    pub fn set_cookie(value: &str, max_age_secs: i64) {
        let secure = if over_tls() { "; Secure" } else { "" };
        let cookie = format!(
            "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
        );
        if let (Some(response), Ok(value)) = (
            use_context::<leptos_axum::ResponseOptions>(),
            axum::http::HeaderValue::from_str(&cookie),
        ) {
            response.append_header(axum::http::header::SET_COOKIE, value);
        }
    }

    pub fn session_id() -> Option<String> {
        crate::session_cookie(&parts()?.headers)
    }

    /// Only a path on this site may follow a sign-in (never `//host` or a URL).
    pub fn local_path(next: &str) -> String {
        if next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") {
            next.to_string()
        } else {
            "/".to_string()
        }
    }
}

/// The signed-in user, if any (the header shows it).
#[server(prefix = "/_app", endpoint = "current_user")]
pub async fn current_user() -> Result<Option<User>, AppError> {
    let (state, actor) = crate::state::caller()?;
    Ok(state.current_user(&actor).ok())
}

/// Checks the password, sets the session cookie and goes on to `next`.
#[server(prefix = "/_app", endpoint = "sign_in")]
pub async fn sign_in(username: String, password: String, next: String) -> Result<(), AppError> {
    let state = crate::state::app_state()?;
    let (_, session) = state
        .sign_in(username.trim(), &password, ssr::client_ip())
        .await?;
    ssr::set_cookie(&session, aiops_core::service::SESSION_TTL_MS / 1000);
    leptos_axum::redirect(&crate::base::url(&ssr::local_path(&next)));
    Ok(())
}

#[server(prefix = "/_app", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    let state = crate::state::app_state()?;
    if let Some(session) = ssr::session_id() {
        state.sign_out(&session).await?;
    }
    ssr::set_cookie("", 0);
    leptos_axum::redirect(&crate::base::url("/login"));
    Ok(())
}

#[server(prefix = "/_app", endpoint = "change_password")]
pub async fn change_password(current_password: String, new_password: String) -> Result<(), AppError> {
    let (state, actor) = crate::state::caller()?;
    state
        .update_password(
            &actor,
            &actor.username,
            &new_password,
            Some(&current_password),
            ssr::client_ip(),
        )
        .await?;
    // The new password ended every session, this one included.
    leptos_axum::redirect(&crate::base::url("/login"));
    Ok(())
}

#[server(prefix = "/_app", endpoint = "list_tokens")]
pub async fn list_tokens() -> Result<Vec<TokenInfo>, AppError> {
    let (state, actor) = crate::state::caller()?;
    Ok(state.list_tokens(&actor).await?)
}

/// Makes a token and returns it: the only time it is ever shown.
#[server(prefix = "/_app", endpoint = "create_token")]
pub async fn create_token(name: String, days: String) -> Result<String, AppError> {
    let (state, actor) = crate::state::caller()?;
    let days = match days.trim() {
        "" | "never" => None,
        d => Some(
            d.parse::<i64>()
                .map_err(|_| AppError::Invalid("Days must be a whole number".into()))?,
        ),
    };
    Ok(state.create_token(&actor, &name, days).await?.token)
}

#[server(prefix = "/_app", endpoint = "revoke_token")]
pub async fn revoke_token(id: i64) -> Result<(), AppError> {
    let (state, actor) = crate::state::caller()?;
    Ok(state.revoke_token(&actor, id).await?)
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/".to_string());
    let action = ServerAction::<SignIn>::new();
    let error = move || action.value().get().and_then(|r| r.err()).map(|e| e.to_string());
    view! {
        <Title text="Sign in"/>
        <section class="login">
            <h1>"Sign in"</h1>
            <ActionForm action=action attr:class="form login-form">
                <input type="hidden" name="next" prop:value=next/>
                <label>"Username" <input name="username" autocomplete="username" required/></label>
                <label>
                    "Password"
                    <input name="password" type="password" autocomplete="current-password" required/>
                </label>
                <button type="submit" disabled=move || action.pending().get()>"Sign in"</button>
                {move || error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            </ActionForm>
        </section>
    }
}

/// The header's account corner: who is signed in, and sign out.
#[component]
pub fn AccountMenu() -> impl IntoView {
    // Asked again on every navigation: signing in or out moves to another page.
    let location = leptos_router::hooks::use_location();
    let user = Resource::new(move || location.pathname.get(), |_| current_user());
    let sign_out = ServerAction::<SignOut>::new();
    view! {
        <Suspense fallback=|| ()>
            {move || {
                user.get()
                    .and_then(|r| r.ok())
                    .flatten()
                    .map(|u| {
                        view! {
                            <div class="account-menu">
                                <a class="nav-link" href=crate::base::url("/account") data-testid="signed-in-user">
                                    {u.username.clone()}
                                </a>
                                {u.is_admin.then(|| view! { <a class="nav-link" href=crate::base::url("/admin")>"Admin"</a> })}
                                <ActionForm action=sign_out attr:class="inline-form">
                                    <button type="submit" class="link-button">"Sign out"</button>
                                </ActionForm>
                            </div>
                        }
                    })
            }}
        </Suspense>
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let change = ServerAction::<ChangePassword>::new();
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_tokens(),
    );
    let change_error = move || change.value().get().and_then(|r| r.err()).map(|e| e.to_string());
    let new_token = move || create.value().get().and_then(|r| r.ok());
    let create_error = move || create.value().get().and_then(|r| r.err()).map(|e| e.to_string());
    view! {
        <Title text="Account"/>
        <h1>"Account"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || user.get().and_then(|r| r.ok()).flatten().map(|u| view! {
                <p>"Signed in as " <strong>{u.username.clone()}</strong>
                    {if u.is_admin { " (administrator)" } else { "" }}</p>
            })}
        </Suspense>
        <section>
            <h2>"Change password"</h2>
            <ActionForm action=change attr:class="form">
                <label>"Current password"
                    <input name="current_password" type="password" autocomplete="current-password" required/></label>
                <label>"New password (8 characters or more)"
                    <input name="new_password" type="password" autocomplete="new-password" required minlength="8"/></label>
                <button type="submit">"Change password"</button>
                {move || change_error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            </ActionForm>
        </section>
        <section>
            <h2>"Access tokens"</h2>
            <p class="hint">"For scripts: MLFLOW_TRACKING_TOKEN=<token>, or an Authorization: Bearer header."</p>
            <ActionForm action=create attr:class="form">
                <label>"Name" <input name="name" required maxlength="100"/></label>
                <label>"Expires after (days, empty for never)" <input name="days" inputmode="numeric"/></label>
                <button type="submit">"Create token"</button>
                {move || create_error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            </ActionForm>
            {move || new_token().map(|t| view! {
                <p class="notice" data-testid="new-token">"Copy this token now; it will not be shown again: "
                    <code>{t}</code></p>
            })}
            <Suspense fallback=|| ()>
                {move || tokens.get().map(|r| match r {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p>"No tokens."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="table">
                            <thead><tr><th>"Name"</th><th>"Created"</th><th>"Expires"</th><th>"Last used"</th><th></th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|t| {
                                    let id = t.id;
                                    view! {
                                        <tr>
                                            <td>{t.name}</td>
                                            <td>{timestamp_utc(t.created_at)}</td>
                                            <td>{t.expires_at.map(timestamp_utc).unwrap_or_else(|| "never".into())}</td>
                                            <td>{t.last_used_at.map(timestamp_utc).unwrap_or_else(|| "never".into())}</td>
                                            <td><button on:click=move |_| { revoke.dispatch(RevokeToken { id }); }>"Revoke"</button></td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Suspense>
        </section>
    }
}
