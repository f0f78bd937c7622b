//! The admin page: add users, make them administrators, grant and revoke permissions,
//! and see who can do what. Every server function here is refused to non-admins by the
//! service layer; the page itself says so instead of showing controls.

use aiops_core::auth::{Grant, User};
use leptos::prelude::*;

use crate::components::ActionForm;
use leptos_meta::Title;

use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdminData {
    pub users: Vec<User>,
    pub grants: Vec<Grant>,
}

#[server(prefix = "/_app", endpoint = "admin_view")]
pub async fn admin_view() -> Result<AdminData, AppError> {
    let (state, actor) = crate::state::caller()?;
    Ok(AdminData {
        users: state.list_users(&actor).await?,
        grants: state.list_grants(&actor).await?,
    })
}

#[server(prefix = "/_app", endpoint = "add_user")]
pub async fn add_user(username: String, password: String) -> Result<(), AppError> {
    let (state, actor) = crate::state::caller()?;
    state.create_user(&actor, username.trim(), &password).await?;
    Ok(())
}

#[server(prefix = "/_app", endpoint = "set_admin")]
pub async fn set_admin(username: String, is_admin: bool) -> Result<(), AppError> {
    let (state, actor) = crate::state::caller()?;
    Ok(state.update_admin(&actor, &username, is_admin).await?)
}

#[server(prefix = "/_app", endpoint = "grant_permission")]
pub async fn grant_permission(
    username: String,
    resource_type: String,
    resource_id: String,
    permission: String,
) -> Result<(), AppError> {
    use aiops_core::auth::{Permission, ResourceKind};
    let (state, actor) = crate::state::caller()?;
    let kind = ResourceKind::parse(&resource_type)
        .ok_or_else(|| AppError::Invalid(format!("Unknown resource type '{resource_type}'")))?;
    let permission = Permission::parse(&permission)
        .ok_or_else(|| AppError::Invalid(format!("Unknown permission '{permission}'")))?;
    Ok(state
        .grant_permission(&actor, username.trim(), kind, resource_id.trim(), permission)
        .await?)
}

#[server(prefix = "/_app", endpoint = "revoke_permission")]
pub async fn revoke_permission(
    username: String,
    resource_type: String,
    resource_id: String,
) -> Result<(), AppError> {
    use aiops_core::auth::ResourceKind;
    let (state, actor) = crate::state::caller()?;
    let kind = ResourceKind::parse(&resource_type)
        .ok_or_else(|| AppError::Invalid(format!("Unknown resource type '{resource_type}'")))?;
    Ok(state
        .revoke_permission(&actor, &username, kind, &resource_id)
        .await?)
}

#[component]
pub fn AdminPage() -> impl IntoView {
    let add = ServerAction::<AddUser>::new();
    let set = ServerAction::<SetAdmin>::new();
    let grant = ServerAction::<GrantPermission>::new();
    let revoke = ServerAction::<RevokePermission>::new();
    let data = Resource::new(
        move || {
            (
                add.version().get(),
                set.version().get(),
                grant.version().get(),
                revoke.version().get(),
            )
        },
        |_| admin_view(),
    );
    let error_of = |e: Option<Result<(), AppError>>| e.and_then(|r| r.err()).map(|e| e.to_string());
    view! {
        <Title text="Admin"/>
        <h1>"Users and permissions"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <p class="error" role="alert" data-testid="admin-refused">{e.to_string()}</p> }.into_any(),
                Ok(view) => view! {
                    <section>
                        <h2>"Users"</h2>
                        <table class="table">
                            <thead><tr><th>"User"</th><th>"Administrator"</th><th></th></tr></thead>
                            <tbody>
                                {view.users.into_iter().map(|u| {
                                    let name = u.username.clone();
                                    let make = !u.is_admin;
                                    view! {
                                        <tr>
                                            <td>{u.username.clone()}</td>
                                            <td>{if u.is_admin { "yes" } else { "no" }}</td>
                                            <td><button on:click=move |_| { set.dispatch(SetAdmin { username: name.clone(), is_admin: make }); }>
                                                {if make { "Make admin" } else { "Remove admin" }}
                                            </button></td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        {move || error_of(set.value().get()).map(|e| view! { <p class="error" role="alert">{e}</p> })}
                        <ActionForm action=add attr:class="form">
                            <label>"Username" <input name="username" required/></label>
                            <label>"Password" <input name="password" type="password" required minlength="8" autocomplete="new-password"/></label>
                            <button type="submit">"Add user"</button>
                            {move || error_of(add.value().get()).map(|e| view! { <p class="error" role="alert">{e}</p> })}
                        </ActionForm>
                    </section>
                    <section>
                        <h2>"Who can do what"</h2>
                        <p class="hint">"Users without a grant get the server's default permission; administrators may do everything."</p>
                        <table class="table" data-testid="grants">
                            <thead><tr><th>"Resource"</th><th>"User"</th><th>"Permission"</th><th></th></tr></thead>
                            <tbody>
                                {view.grants.into_iter().map(|g| {
                                    let (user, kind, id) = (g.username.clone(), g.kind.name().to_string(), g.resource_id.clone());
                                    view! {
                                        <tr>
                                            <td>{format!("{} {}", g.kind.name(), g.resource_id)}</td>
                                            <td>{g.username.clone()}</td>
                                            <td>{g.permission.name()}</td>
                                            <td><button on:click=move |_| { revoke.dispatch(RevokePermission {
                                                username: user.clone(), resource_type: kind.clone(), resource_id: id.clone() }); }>"Revoke"</button></td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        <ActionForm action=grant attr:class="form">
                            <label>"User" <input name="username" required/></label>
                            <label>"Resource"
                                <select name="resource_type">
                                    <option value="experiment">"experiment"</option>
                                    <option value="registered_model">"registered model"</option>
                                </select>
                            </label>
                            <label>"Experiment id or model name" <input name="resource_id" required/></label>
                            <label>"Permission"
                                <select name="permission">
                                    <option>"READ"</option><option>"USE"</option><option>"EDIT"</option>
                                    <option>"MANAGE"</option><option>"NO_PERMISSIONS"</option>
                                </select>
                            </label>
                            <button type="submit">"Grant"</button>
                            {move || error_of(grant.value().get()).map(|e| view! { <p class="error" role="alert">{e}</p> })}
                            {move || error_of(revoke.value().get()).map(|e| view! { <p class="error" role="alert">{e}</p> })}
                        </ActionForm>
                    </section>
                }.into_any(),
            })}
        </Suspense>
    }
}
