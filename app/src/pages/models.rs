//! The registry pages: every model with its latest version per stage and its aliases, and
//! one model's versions where an admin promotes with a click (after a dialog that names
//! what will be archived), with the audit trail beneath. Non-admins see stages, no controls.

use aiops_core::registry::{AuditEntry, ModelVersion, RegisteredModel, Stage};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::format::timestamp_utc;

#[server(prefix = "/_app", endpoint = "list_models")]
pub async fn list_models() -> Result<Vec<RegisteredModel>, AppError> {
    let (state, actor) = crate::state::caller()?;
    Ok(state
        .search_registered_models(&actor, None, &[], 1000, 0)
        .await?
        .items)
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelView {
    pub model: RegisteredModel,
    pub versions: Vec<ModelVersion>,
    pub audit: Vec<AuditEntry>,
    /// The caller may change stages and aliases.
    pub can_promote: bool,
}

#[server(prefix = "/_app", endpoint = "load_model")]
pub async fn load_model(name: String) -> Result<ModelView, AppError> {
    use aiops_core::search::parse_model_version_filter;
    let (state, actor) = crate::state::caller()?;
    let model = state.get_registered_model(&actor, &name).await?;
    let filter = parse_model_version_filter(&format!("name = '{}'", name.replace('\'', "\\'")))
        .map_err(|e| AppError::Invalid(e.0))?;
    let versions = state
        .search_model_versions(&actor, filter.as_ref(), &[], 1000, 0)
        .await?
        .items;
    let audit = state.registry_audit(&actor, &name, 50, 0).await?.items;
    Ok(ModelView {
        model,
        versions,
        audit,
        can_promote: actor.is_admin,
    })
}

/// Moves a version to a stage; Staging and Production archive the one there before.
#[server(prefix = "/_app", endpoint = "promote_version")]
pub async fn promote_version(name: String, version: i64, stage: String) -> Result<(), AppError> {
    let (state, actor) = crate::state::caller()?;
    let stage = Stage::parse(&stage).ok_or_else(|| AppError::Invalid(format!("Unknown stage '{stage}'")))?;
    let archive = matches!(stage, Stage::Staging | Stage::Production);
    state
        .transition_stage(&actor, &name, version, stage, archive, "from the dashboard")
        .await?;
    Ok(())
}

#[server(prefix = "/_app", endpoint = "set_model_alias")]
pub async fn set_model_alias(name: String, version: i64, alias: String) -> Result<(), AppError> {
    let (state, actor) = crate::state::caller()?;
    Ok(state.set_alias(&actor, &name, alias.trim(), version).await?)
}

fn stage_class(stage: Stage) -> &'static str {
    match stage {
        Stage::Production => "status status-finished",
        Stage::Staging => "status status-running",
        Stage::Archived => "status status-failed",
        Stage::None => "status",
    }
}

#[component]
pub fn ModelsPage() -> impl IntoView {
    let models = Resource::new(|| (), |_| list_models());
    view! {
        <Title text="Models"/>
        <section class="page">
            <header class="page-header"><h1>"Models"</h1></header>
            <Transition fallback=|| view! { <p class="loading">"Loading models…"</p> }>
                {move || models.get().map(|r| match r {
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <p class="empty">"No registered models yet. Register one with mlflow.register_model(…)."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <table class="table" id="models-table">
                            <thead><tr>
                                <th scope="col">"Name"</th><th scope="col">"Latest versions"</th>
                                <th scope="col">"Aliases"</th><th scope="col">"Last change"</th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|m| view! {
                                    <tr>
                                        <td class="name"><a href=format!("/models/{}", m.name)>{m.name.clone()}</a></td>
                                        <td>{m.latest_versions.iter().map(|v| view! {
                                            <span class=stage_class(v.current_stage)>{format!("v{} {}", v.version, v.current_stage.name())}</span>" "
                                        }).collect_view()}</td>
                                        <td>{m.aliases.iter().map(|a| format!("@{} → v{}", a.alias, a.version)).collect::<Vec<_>>().join(", ")}</td>
                                        <td>{timestamp_utc(m.last_updated_time)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}

/// What the confirmation dialog is about to do.
#[derive(Clone, Debug, PartialEq)]
struct Pending {
    version: i64,
    stage: Stage,
    /// Versions now in that stage, which the promotion archives.
    archives: Vec<i64>,
}

#[component]
pub fn ModelPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let promote = ServerAction::<PromoteVersion>::new();
    let alias = ServerAction::<SetModelAlias>::new();
    let data = Resource::new(
        move || (name(), promote.version().get(), alias.version().get()),
        |(name, _, _)| load_model(name),
    );
    let pending = RwSignal::new(None::<Pending>);
    let promote_error = move || promote.value().get().and_then(|r| r.err()).map(|e| e.to_string());
    let alias_error = move || alias.value().get().and_then(|r| r.err()).map(|e| e.to_string());
    view! {
        <Title text=move || format!("Model {}", name())/>
        <section class="page">
            <header class="page-header">
                <div><p class="crumb"><a href="/models">"Models"</a></p><h1>{name}</h1></div>
            </header>
            {move || promote_error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || alias_error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || pending.get().map(|p| {
                let model = name();
                let archives = if p.archives.is_empty() {
                    "No other version is archived.".to_string()
                } else {
                    format!("Version {} will be archived.", p.archives.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", "))
                };
                view! {
                    <div class="card dialog" role="dialog" aria-modal="true" aria-labelledby="promote-title">
                        <h2 id="promote-title">{format!("Move version {} to {}?", p.version, p.stage.name())}</h2>
                        <p data-testid="promote-consequence">{archives}</p>
                        <button class="button primary" on:click=move |_| {
                            promote.dispatch(PromoteVersion { name: model.clone(), version: p.version, stage: p.stage.name().to_string() });
                            pending.set(None);
                        }>"Confirm"</button>
                        " "
                        <button class="button" on:click=move |_| pending.set(None)>"Cancel"</button>
                    </div>
                }
            })}
            <Transition fallback=|| view! { <p class="loading">"Loading model…"</p> }>
                {move || data.get().map(|r| match r {
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(view) => {
                        let versions = view.versions.clone();
                        let can_promote = view.can_promote;
                        view! {
                            <p>{view.model.description.clone()}</p>
                            {(!can_promote).then(|| view! {
                                <p class="hint" data-testid="promotion-note">"Only administrators change stages and aliases."</p>
                            })}
                            <table class="table" id="versions-table">
                                <thead><tr>
                                    <th scope="col">"Version"</th><th scope="col">"Stage"</th><th scope="col">"Aliases"</th>
                                    <th scope="col">"Source run"</th><th scope="col">"Created"</th>
                                    {can_promote.then(|| view! { <th scope="col">"Promote"</th> })}
                                </tr></thead>
                                <tbody>
                                    {view.versions.iter().map(|v| {
                                        let version = v.version;
                                        let all = versions.clone();
                                        let ask = move |stage: Stage| {
                                            let archives = all.iter()
                                                .filter(|o| o.version != version && o.current_stage == stage
                                                    && matches!(stage, Stage::Staging | Stage::Production))
                                                .map(|o| o.version).collect();
                                            pending.set(Some(Pending { version, stage, archives }));
                                        };
                                        let model_name = v.name.clone();
                                        view! {
                                            <tr data-version=version>
                                                <td class="mono">{format!("v{version}")}</td>
                                                <td><span class=stage_class(v.current_stage) data-testid="stage">{v.current_stage.name()}</span></td>
                                                <td>{v.aliases.iter().map(|a| format!("@{a}")).collect::<Vec<_>>().join(" ")}</td>
                                                <td>{(!v.run_id.is_empty()).then(|| view! {
                                                    <a class="mono" href=format!("/runs/{}", v.run_id)>{v.run_id.chars().take(8).collect::<String>()}</a>
                                                })}</td>
                                                <td>{timestamp_utc(v.creation_time)}</td>
                                                {can_promote.then(|| {
                                                    let ask = ask.clone();
                                                    let ask2 = ask.clone();
                                                    let ask3 = ask.clone();
                                                    view! {
                                                        <td class="actions">
                                                            <button class="button" on:click=move |_| ask(Stage::Staging)>"Staging"</button>" "
                                                            <button class="button" on:click=move |_| ask2(Stage::Production)>"Production"</button>" "
                                                            <button class="button" on:click=move |_| ask3(Stage::Archived)>"Archive"</button>" "
                                                            <ActionForm action=alias attr:class="inline-form">
                                                                <input type="hidden" name="name" value=model_name.clone()/>
                                                                <input type="hidden" name="version" value=version.to_string()/>
                                                                <input name="alias" placeholder="alias" aria-label=format!("Alias for version {version}") required/>
                                                                <button type="submit" class="button">"Set alias"</button>
                                                            </ActionForm>
                                                        </td>
                                                    }
                                                })}
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <h2>"History"</h2>
                            <table class="table" id="audit-table">
                                <thead><tr><th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"What"</th><th scope="col">"Comment"</th></tr></thead>
                                <tbody>
                                    {view.audit.iter().map(|e| view! {
                                        <tr>
                                            <td>{timestamp_utc(e.at)}</td>
                                            <td>{e.actor.clone()}</td>
                                            <td>{format!("{}{}: {} → {}", e.version.map(|v| format!("v{v} ")).unwrap_or_default(),
                                                e.action.replace('_', " "), e.from_value.clone().unwrap_or_default(), e.to_value.clone().unwrap_or_default())}</td>
                                            <td>{e.comment.clone()}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    }
                })}
            </Transition>
        </section>
    }
}
