//! The deployments page: what serves, at which version, following what, its status on
//! this replica (a failed load's error in full), since when and by whom; administrators
//! deploy a registered version (pinned, or following a stage or an alias), roll back,
//! undeploy, and run a canary (a second version taking a share of the traffic) which they
//! promote or drop. Each row links to the inference page and to its Triton export.

use aiops_core::deployments::{Deployment, DeploymentStatus, Follows};
use leptos::prelude::*;

use crate::components::ActionForm;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::format::timestamp_utc;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeploymentsView {
    pub deployments: Vec<Deployment>,
    pub can_deploy: bool,
}

#[server(prefix = "/_app", endpoint = "list_deployments")]
pub async fn list_deployments() -> Result<DeploymentsView, AppError> {
    let (state, actor) = crate::state::caller()?;
    Ok(DeploymentsView {
        deployments: state.list_deployments(&actor).await?,
        can_deploy: state.may_deploy(&actor).is_ok(),
    })
}

/// Deploys `model_name`: `target` is a version number, a stage name or `@alias`.
#[server(prefix = "/_app", endpoint = "deploy_model")]
pub async fn deploy_model(name: String, model_name: String, target: String) -> Result<Deployment, AppError> {
    use aiops_core::registry::Stage;
    let (state, actor) = crate::state::caller()?;
    let target = target.trim();
    let (follows, version) = if let Some(alias) = target.strip_prefix('@') {
        (Follows::Alias(alias.to_string()), None)
    } else if let Some(stage) = Stage::parse(target) {
        (Follows::Stage(stage), None)
    } else {
        let v = target
            .trim_start_matches('v')
            .parse::<i64>()
            .map_err(|_| AppError::Invalid(format!("'{target}' is not a version, a stage or an @alias")))?;
        (Follows::Version, Some(v))
    };
    Ok(state
        .create_deployment(&actor, name.trim(), model_name.trim(), follows, version, (0, 0))
        .await?)
}

#[server(prefix = "/_app", endpoint = "rollback_deployment")]
pub async fn rollback_deployment(name: String) -> Result<Deployment, AppError> {
    let (state, actor) = crate::state::caller()?;
    Ok(state.rollback_deployment(&actor, &name).await?)
}

#[server(prefix = "/_app", endpoint = "undeploy")]
pub async fn undeploy(name: String) -> Result<(), AppError> {
    let (state, actor) = crate::state::caller()?;
    Ok(state.delete_deployment(&actor, &name).await?)
}

#[server(prefix = "/_app", endpoint = "start_canary")]
pub async fn start_canary(name: String, version: String, percent: String) -> Result<Deployment, AppError> {
    let (state, actor) = crate::state::caller()?;
    let number = |text: &str, what: &str| {
        text.trim()
            .trim_start_matches('v')
            .trim_end_matches('%')
            .parse::<i64>()
            .map_err(|_| AppError::Invalid(format!("'{text}' is not a {what}")))
    };
    let version = number(&version, "version number")?;
    let percent = number(&percent, "percentage")?;
    Ok(state.set_canary(&actor, name.trim(), version, percent).await?)
}

#[server(prefix = "/_app", endpoint = "promote_canary")]
pub async fn promote_canary(name: String) -> Result<Deployment, AppError> {
    let (state, actor) = crate::state::caller()?;
    Ok(state.promote_canary(&actor, &name).await?)
}

#[server(prefix = "/_app", endpoint = "drop_canary")]
pub async fn drop_canary(name: String) -> Result<Deployment, AppError> {
    let (state, actor) = crate::state::caller()?;
    Ok(state.drop_canary(&actor, &name).await?)
}

fn status_class(status: DeploymentStatus) -> &'static str {
    match status {
        DeploymentStatus::Ready => "status status-finished",
        DeploymentStatus::Loading => "status status-running",
        DeploymentStatus::Failed => "status status-failed",
    }
}

fn follows_text(follows: &Follows) -> String {
    match follows {
        Follows::Version => "pinned".into(),
        Follows::Stage(s) => format!("stage {}", s.name()),
        Follows::Alias(a) => format!("@{a}"),
    }
}

#[component]
pub fn DeploymentsPage() -> impl IntoView {
    let deploy = ServerAction::<DeployModel>::new();
    let rollback = ServerAction::<RollbackDeployment>::new();
    let remove = ServerAction::<Undeploy>::new();
    let canary = ServerAction::<StartCanary>::new();
    let promote = ServerAction::<PromoteCanary>::new();
    let drop = ServerAction::<DropCanary>::new();
    let data = Resource::new(
        move || {
            (
                deploy.version().get(),
                rollback.version().get(),
                remove.version().get(),
                canary.version().get(),
                promote.version().get(),
                drop.version().get(),
            )
        },
        |_| list_deployments(),
    );
    let errors = move || {
        crate::components::action_errors([
            deploy.value().get().and_then(|r| r.err()),
            rollback.value().get().and_then(|r| r.err()),
            remove.value().get().and_then(|r| r.err()),
            canary.value().get().and_then(|r| r.err()),
            promote.value().get().and_then(|r| r.err()),
            drop.value().get().and_then(|r| r.err()),
        ])
    };
    view! {
        <Title text="Deployments"/>
        <section class="page">
            <header class="page-header"><h1>"Deployments"</h1></header>
            {errors}
            <Transition fallback=|| view! { <p class="loading">"Loading deployments…"</p> }>
                {move || data.get().map(|r| match r {
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(view) => {
                        let can_deploy = view.can_deploy;
                        view! {
                            {can_deploy.then(|| view! {
                                <ActionForm action=deploy attr:class="card inline-form" attr:id="deploy-form">
                                    <input name="name" placeholder="deployment name" aria-label="Deployment name" required/>
                                    <input name="model_name" placeholder="registered model" aria-label="Registered model" required/>
                                    <input name="target" placeholder="3, Production or @champion" aria-label="Version, stage or alias" required/>
                                    <button type="submit" class="button primary">"Deploy"</button>
                                </ActionForm>
                                <ActionForm action=canary attr:class="card inline-form" attr:id="canary-form">
                                    <input name="name" placeholder="deployment name" aria-label="Canary deployment" required/>
                                    <input name="version" placeholder="canary version" aria-label="Canary version" required/>
                                    <input name="percent" placeholder="10%" aria-label="Canary traffic percent" required/>
                                    <button type="submit" class="button">"Start canary"</button>
                                </ActionForm>
                            })}
                            {if view.deployments.is_empty() {
                                view! { <p class="empty">"Nothing is deployed yet."</p> }.into_any()
                            } else {
                                view! {
                                    <div class="table-scroll">
                                    <table class="table" id="deployments-table">
                                        <thead><tr>
                                            <th scope="col">"Name"</th><th scope="col">"Model"</th><th scope="col">"Version"</th>
                                            <th scope="col">"Follows"</th><th scope="col">"Status"</th>
                                            <th scope="col">"Traffic"</th><th scope="col">"Since"</th>
                                            <th scope="col">"By"</th><th scope="col">"Use"</th>
                                            {can_deploy.then(|| view! { <th scope="col">"Actions"</th> })}
                                        </tr></thead>
                                        <tbody>
                                            {view.deployments.into_iter().map(|d| {
                                                let (n1, n2) = (d.name.clone(), d.name.clone());
                                                let (n3, n4) = (d.name.clone(), d.name.clone());
                                                let traffic = match &d.canary {
                                                    Some(c) => format!("v{} {}% · canary v{} {}% ({})", d.version, 100 - u32::from(c.percent), c.version, c.percent, c.status.name()),
                                                    None => format!("v{} 100%", d.version),
                                                };
                                                let canary_error = d.canary.as_ref().map(|c| c.error.clone()).filter(|e| !e.is_empty());
                                                let has_canary = d.canary.is_some();
                                                let encoded = crate::view_state::encode(&d.name);
                                                let serving = match d.serving_version {
                                                    Some(v) if v != d.version => format!("v{} (serving v{v})", d.version),
                                                    _ => format!("v{}", d.version),
                                                };
                                                view! {
                                                    <tr data-deployment=d.name.clone()>
                                                        <td class="mono">{d.name.clone()}</td>
                                                        <td><a href=crate::base::url(&format!("/models/{}", crate::view_state::encode(&d.model_name)))>{d.model_name.clone()}</a></td>
                                                        <td>{serving}</td>
                                                        <td>{follows_text(&d.follows)}</td>
                                                        <td>
                                                            <span class=status_class(d.status) data-testid="status">{d.status.name()}</span>
                                                            {(!d.error.is_empty()).then(|| view! { <pre class="error-detail">{d.error.clone()}</pre> })}
                                                        </td>
                                                        <td data-testid="traffic">
                                                            {traffic}
                                                            {canary_error.map(|e| view! { <pre class="error-detail">{e}</pre> })}
                                                        </td>
                                                        <td>{timestamp_utc(d.deployed_at)}</td>
                                                        <td>{d.deployed_by.clone()}</td>
                                                        <td class="actions">
                                                            <a href=crate::base::url(&format!("/inference?deployment={encoded}"))>"Test"</a>" · "
                                                            <a href=crate::base::url(&format!("/api/2.0/aiops/deployments/export?name={encoded}")) rel="external" download="">"Triton export"</a>
                                                        </td>
                                                        {can_deploy.then(|| view! {
                                                            <td class="actions">
                                                                {d.previous_version.map(|p| view! {
                                                                    <button class="button" on:click=move |_| {
                                                                        rollback.dispatch(RollbackDeployment { name: n1.clone() });
                                                                    }>{format!("Roll back to v{p}")}</button>" "
                                                                })}
                                                                {has_canary.then(|| view! {
                                                                    <button class="button" on:click=move |_| {
                                                                        promote.dispatch(PromoteCanary { name: n3.clone() });
                                                                    }>"Promote canary"</button>" "
                                                                    <button class="button" on:click=move |_| {
                                                                        drop.dispatch(DropCanary { name: n4.clone() });
                                                                    }>"Drop canary"</button>" "
                                                                })}
                                                                <button class="button" on:click=move |_| {
                                                                    remove.dispatch(Undeploy { name: n2.clone() });
                                                                }>"Undeploy"</button>
                                                            </td>
                                                        })}
                                                    </tr>
                                                }
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                    </div>
                                }.into_any()
                            }}
                        }.into_any()
                    }
                })}
            </Transition>
        </section>
    }
}
