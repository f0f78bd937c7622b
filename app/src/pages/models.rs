//! The registry pages: every model with its latest version per stage and its aliases; one
//! model's versions where an admin promotes with a click (after a dialog that names what
//! will be archived), its description and tags (editable by those who may), the audit
//! trail and webhook deliveries; and one version's run, files and signature.
//! Non-admins see stages, no promotion controls.

use aiops_core::registry::{AuditEntry, ModelVersion, RegisteredModel, Stage, Tag};
use aiops_core::tracking::Run;
use aiops_core::webhooks::Delivery;
use leptos::prelude::*;

use crate::components::ActionForm;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::format::{number, timestamp_utc};
use crate::pages::runs::view::ArtifactItem;

#[cfg(feature = "ssr")]
mod ssr {
    /// The `signature:` block of an MLmodel file (its inputs and outputs), as written.
    pub fn signature_of(mlmodel: &str) -> Option<String> {
        let mut lines = mlmodel.lines().skip_while(|l| !l.starts_with("signature:"));
        let first = lines.next()?;
        let mut block = vec![first.to_string()];
        block.extend(
            lines
                .take_while(|l| l.is_empty() || l.starts_with(' ') || l.starts_with('\t'))
                .map(str::to_string),
        );
        Some(block.join("\n").trim_end().to_string())
    }

    /// Whether a search box entry is a filter expression rather than part of a name.
    pub fn reads_as_filter(q: &str) -> bool {
        let lower = q.to_ascii_lowercase();
        ["=", "<", ">", " like ", " ilike ", " in ", "tags.", " is "]
            .iter()
            .any(|op| lower.contains(op))
    }

    /// Metrics shown per version on the model page.
    pub const KEY_METRICS: usize = 3;

    /// Largest MLmodel file read for its signature.
    pub const MLMODEL_BYTES: usize = 256 * 1024;
}

/// The models matching `q`: MLflow's filter grammar when it reads as a filter
/// (`tags.team = 'fraud'`, `name LIKE 'churn%'`), else a name search.
#[server(prefix = "/_app", endpoint = "list_models")]
pub async fn list_models(q: String) -> Result<Vec<RegisteredModel>, AppError> {
    use aiops_core::search::parse_registered_model_filter;
    let (state, actor) = crate::state::caller()?;
    let q = q.trim();
    let text = if q.is_empty() || ssr::reads_as_filter(q) {
        q.to_string()
    } else {
        format!("name ILIKE '%{}%'", q.replace('\\', "\\\\").replace('\'', "\\'"))
    };
    let filter = parse_registered_model_filter(&text).map_err(|e| AppError::Invalid(e.0))?;
    Ok(state
        .search_registered_models(&actor, filter.as_ref(), &[], 1000, 0)
        .await?
        .items)
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelView {
    pub model: RegisteredModel,
    pub versions: Vec<ModelVersion>,
    pub audit: Vec<AuditEntry>,
    pub deliveries: Vec<Delivery>,
    /// The first few latest metrics of each version's source run, by run id (runs the
    /// caller may read).
    pub run_metrics: Vec<(String, Vec<(String, f64)>)>,
    /// The caller may change stages and aliases.
    pub can_promote: bool,
    /// The caller may edit the description and tags.
    pub can_edit: bool,
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
    let deliveries = state
        .webhook_deliveries(&actor, Some(&name), None, 20, 0)
        .await?
        .items;
    let run_metrics = state
        .version_runs(&actor, &versions)
        .await?
        .into_iter()
        .map(|run| {
            let metrics = run
                .metrics
                .iter()
                .take(ssr::KEY_METRICS)
                .map(|m| (m.key.clone(), m.value))
                .collect();
            (run.info.run_id, metrics)
        })
        .collect();
    Ok(ModelView {
        can_edit: state.can_edit_model(&actor, &name).await,
        run_metrics,
        model,
        versions,
        audit,
        deliveries,
        can_promote: actor.is_admin,
    })
}

#[server(prefix = "/_app", endpoint = "update_model_description")]
pub async fn update_model_description(name: String, description: String) -> Result<(), AppError> {
    let (state, actor) = crate::state::caller()?;
    state.update_registered_model(&actor, &name, &description).await?;
    Ok(())
}

#[server(prefix = "/_app", endpoint = "set_model_tag")]
pub async fn set_model_tag(name: String, key: String, value: String) -> Result<(), AppError> {
    let (state, actor) = crate::state::caller()?;
    Ok(state
        .set_registered_model_tag(&actor, &name, key.trim(), &value)
        .await?)
}

#[server(prefix = "/_app", endpoint = "delete_model_tag")]
pub async fn delete_model_tag(name: String, key: String) -> Result<(), AppError> {
    let (state, actor) = crate::state::caller()?;
    Ok(state.delete_registered_model_tag(&actor, &name, &key).await?)
}

/// From a run's page: registers one of the run's logged models (`models:/m-…`) or one of
/// its artifact folders (a path) as a new version, making the model if it is new.
#[server(prefix = "/_app", endpoint = "register_model")]
pub async fn register_model(run_id: String, path: String, name: String) -> Result<ModelVersion, AppError> {
    use aiops_core::artifacts::ArtifactPath;
    let (state, actor) = crate::state::caller()?;
    let source = if path.starts_with("models:/") {
        path
    } else {
        let path = ArtifactPath::parse(&path).map_err(|e| AppError::Invalid(e.to_string()))?;
        format!("runs:/{run_id}/{}", path.as_str())
    };
    Ok(state.register_model(&actor, &name, &source, &run_id).await?)
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VersionView {
    pub version: ModelVersion,
    /// The run that logged it, when the caller may read that run.
    pub run: Option<Run>,
    /// Files in the version's folder (top level).
    pub files: Vec<ArtifactItem>,
    /// The MLmodel file's `signature:` block, if it has one.
    pub signature: Option<String>,
}

#[server(prefix = "/_app", endpoint = "load_version")]
pub async fn load_version(name: String, version: i64) -> Result<VersionView, AppError> {
    use aiops_core::artifacts::{read_head, ArtifactPath};
    let (state, actor) = crate::state::caller()?;
    // One resolution of the version's folder serves the listing and the MLmodel read.
    let listed = state
        .list_version_files(&actor, &name, version, &ArtifactPath::root())
        .await?;
    let (v, dir) = (listed.version, listed.dir);
    let run = match v.run_id.is_empty() {
        true => None,
        false => state.get_run(&actor, &v.run_id).await.ok(),
    };
    let prefix = format!("{}/", dir.as_str());
    let files = listed
        .entries
        .into_iter()
        .map(|e| ArtifactItem {
            path: e.path.strip_prefix(&prefix).unwrap_or(&e.path).to_string(),
            is_dir: e.is_dir,
            size: e.file_size,
        })
        .collect::<Vec<_>>();
    let signature = match files.iter().any(|f| f.path == "MLmodel") {
        false => None,
        true => {
            let file = ArtifactPath::parse_file("MLmodel").map_err(|e| AppError::Invalid(e.to_string()))?;
            let stream = state.artifacts.get(&dir.join(&file)).await?;
            let head = read_head(stream, ssr::MLMODEL_BYTES)
                .await
                .map_err(|e| AppError::from(aiops_core::CoreError::from(e)))?;
            let text = String::from_utf8_lossy(&head[..head.len().min(ssr::MLMODEL_BYTES)]).into_owned();
            ssr::signature_of(&text)
        }
    };
    Ok(VersionView {
        version: v,
        run,
        files,
        signature,
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
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let models = Resource::new(q, list_models);
    view! {
        <Title text="Models"/>
        <section class="page">
            <header class="page-header"><h1>"Models"</h1></header>
            <form class="card search-form" method="get" action="">
                <label for="model-search">"Search models"</label>
                <input id="model-search" type="search" name="q" value=q autocomplete="off"
                    placeholder="a name, or tags.team = 'fraud'"/>
                <button type="submit" class="button primary">"Search"</button>
            </form>
            <Transition fallback=|| view! { <p class="loading">"Loading models…"</p> }>
                {move || models.get().map(|r| match r {
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(list) if list.is_empty() && q().is_empty() => view! {
                        <p class="empty">"No registered models yet. Register one with mlflow.register_model(…)."</p>
                    }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <p class="empty">"No model matches this search."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <table class="table" id="models-table">
                            <thead><tr>
                                <th scope="col">"Name"</th><th scope="col">"Latest versions"</th>
                                <th scope="col">"Aliases"</th><th scope="col">"Tags"</th><th scope="col">"Last change"</th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|m| view! {
                                    <tr>
                                        <td class="name"><a href=crate::base::url(&format!("/models/{}", m.name))>{m.name.clone()}</a></td>
                                        <td>{m.latest_versions.iter().map(|v| view! {
                                            <span class=stage_class(v.current_stage)>{format!("v{} {}", v.version, v.current_stage.name())}</span>" "
                                        }).collect_view()}</td>
                                        <td>{m.aliases.iter().map(|a| format!("@{} → v{}", a.alias, a.version)).collect::<Vec<_>>().join(", ")}</td>
                                        <td class="mono">{m.tags.iter().map(|t| format!("{}={}", t.key, t.value)).collect::<Vec<_>>().join(", ")}</td>
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

/// The model's name in a path segment.
fn model_href(name: &str) -> String {
    crate::base::url(&format!("/models/{}", crate::view_state::encode(name)))
}

#[component]
pub fn ModelPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let promote = ServerAction::<PromoteVersion>::new();
    let alias = ServerAction::<SetModelAlias>::new();
    let describe = ServerAction::<UpdateModelDescription>::new();
    let tag_set = ServerAction::<SetModelTag>::new();
    let tag_delete = ServerAction::<DeleteModelTag>::new();
    // Blocking: the response waits for it, so a missing one is a 404 on the wire, not a 200.
    let data = Resource::new_blocking(
        move || {
            (
                name(),
                promote.version().get(),
                alias.version().get(),
                describe.version().get(),
                tag_set.version().get() + tag_delete.version().get(),
            )
        },
        |(name, ..)| load_model(name),
    );
    let pending = RwSignal::new(None::<Pending>);
    // The versions ticked for comparison, with their runs.
    let chosen = RwSignal::new(Vec::<(i64, String)>::new());
    let errors = move || {
        crate::components::action_errors([
            promote.value().get().and_then(|r| r.err()),
            alias.value().get().and_then(|r| r.err()),
            describe.value().get().and_then(|r| r.err()),
            tag_set.value().get().and_then(|r| r.err()),
            tag_delete.value().get().and_then(|r| r.err()),
        ])
    };
    view! {
        <Title text=move || format!("Model {}", name())/>
        <section class="page">
            <header class="page-header">
                <div><p class="crumb"><a href=crate::base::url("/models")>"Models"</a></p><h1>{name}</h1></div>
            </header>
            {errors}
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
                        let model_name = view.model.name.clone();
                        view! {
                            <ModelAbout model=view.model.clone() can_edit=view.can_edit describe tag_set tag_delete/>
                            {(!can_promote).then(|| view! {
                                <p class="hint" data-testid="promotion-note">"Only administrators change stages and aliases."</p>
                            })}
                            <h2>"Versions"</h2>
                            <div class="table-scroll">
                            <table class="table" id="versions-table">
                                <thead><tr>
                                    <th scope="col"><span class="visually-hidden">"Compare"</span></th>
                                    <th scope="col">"Version"</th><th scope="col">"Stage"</th><th scope="col">"Aliases"</th>
                                    <th scope="col">"Source run"</th><th scope="col">"Key metrics"</th><th scope="col">"Created"</th>
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
                                        let run_id = v.run_id.clone();
                                        let tick = run_id.clone();
                                        view! {
                                            <tr data-version=version>
                                                <td>{(!run_id.is_empty()).then(|| view! {
                                                    <input type="checkbox" aria-label=format!("Compare version {version}")
                                                        on:change=move |ev| {
                                                            let on = event_target_checked(&ev);
                                                            chosen.update(|c| {
                                                                c.retain(|(v, _)| *v != version);
                                                                if on { c.push((version, tick.clone())); }
                                                            });
                                                        }/>
                                                })}</td>
                                                <td class="mono"><a href=format!("{}/versions/{version}", model_href(&model_name))>{format!("v{version}")}</a></td>
                                                <td><span class=stage_class(v.current_stage) data-testid="stage">{v.current_stage.name()}</span></td>
                                                <td>{v.aliases.iter().map(|a| format!("@{a}")).collect::<Vec<_>>().join(" ")}</td>
                                                <td>{(!v.run_id.is_empty()).then(|| view! {
                                                    <a class="mono" href=crate::base::url(&format!("/runs/{}", v.run_id))>{v.run_id.chars().take(8).collect::<String>()}</a>
                                                })}</td>
                                                <td class="mono">{view.run_metrics.iter().find(|(r, _)| *r == v.run_id)
                                                    .map(|(_, ms)| ms.iter().map(|(k, x)| format!("{k} {}", number(*x))).collect::<Vec<_>>().join(" · "))
                                                    .unwrap_or_default()}</td>
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
                            </div>
                            {move || {
                                let c = chosen.get();
                                let mut runs: Vec<String> = Vec::new();
                                for (_, run) in &c {
                                    if !runs.contains(run) {
                                        runs.push(run.clone());
                                    }
                                }
                                (c.len() >= 2).then(|| view! {
                                    <p><a class="button" id="compare-versions" href=crate::base::url(&format!("/compare?runs={}", runs.join(",")))>
                                        {format!("Compare the runs of {} versions", c.len())}
                                    </a></p>
                                })
                            }}
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
                            <h2>"Webhook deliveries"</h2>
                            {if view.deliveries.is_empty() {
                                view! { <p class="empty" id="deliveries-empty">"No webhook deliveries for this model."</p> }.into_any()
                            } else {
                                view! {
                                    <table class="table" id="deliveries-table">
                                        <thead><tr>
                                            <th scope="col">"When"</th><th scope="col">"Webhook"</th><th scope="col">"Event"</th>
                                            <th scope="col">"Outcome"</th><th scope="col">"Tries"</th><th scope="col">"Last answer"</th>
                                        </tr></thead>
                                        <tbody>
                                            {view.deliveries.iter().map(|d| view! {
                                                <tr>
                                                    <td>{timestamp_utc(d.created_at)}</td>
                                                    <td>{d.webhook_name.clone()}</td>
                                                    <td class="mono">{d.event.clone()}</td>
                                                    <td><span class=delivery_class(d.status)>{d.status.name()}</span></td>
                                                    <td>{d.attempts}</td>
                                                    <td>{match (d.last_status, d.last_error.is_empty()) {
                                                        (Some(code), true) => format!("HTTP {code}"),
                                                        (_, false) => d.last_error.clone(),
                                                        (None, true) => "—".to_string(),
                                                    }}</td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                }.into_any()
                            }}
                            <p class="hint">{format!("Versions are loaded with MlflowClient().get_model_version(\"{model_name}\", …).")}</p>
                        }.into_any()
                    }
                })}
            </Transition>
        </section>
    }
}

fn delivery_class(status: aiops_core::webhooks::DeliveryStatus) -> &'static str {
    use aiops_core::webhooks::DeliveryStatus;
    match status {
        DeliveryStatus::Delivered => "status status-finished",
        DeliveryStatus::Pending => "status status-running",
        DeliveryStatus::Failed => "status status-failed",
    }
}

/// The description and tags, with forms for those who may edit them.
#[component]
fn ModelAbout(
    model: RegisteredModel,
    can_edit: bool,
    describe: ServerAction<UpdateModelDescription>,
    tag_set: ServerAction<SetModelTag>,
    tag_delete: ServerAction<DeleteModelTag>,
) -> impl IntoView {
    let name = model.name.clone();
    let (name_for_description, name_for_tag) = (name.clone(), name.clone());
    let tags: Vec<Tag> = model.tags.clone();
    view! {
        <div class="card" id="model-about">
            {if can_edit {
                view! {
                    <ActionForm action=describe attr:class="stack-form">
                        <input type="hidden" name="name" value=name_for_description/>
                        <label for="model-description">"Description"</label>
                        <textarea id="model-description" name="description" rows="3">{model.description.clone()}</textarea>
                        <button type="submit" class="button">"Save description"</button>
                    </ActionForm>
                }.into_any()
            } else {
                view! { <p id="model-description">{model.description.clone()}</p> }.into_any()
            }}
            <h3>"Tags"</h3>
            {if tags.is_empty() {
                view! { <p class="empty">"No tags."</p> }.into_any()
            } else {
                view! {
                    <ul class="tag-list" id="model-tags">
                        {tags.into_iter().map(|t| {
                            let (model, key) = (name.clone(), t.key.clone());
                            view! {
                                <li>
                                    <span class="mono">{format!("{} = {}", t.key, t.value)}</span>
                                    {can_edit.then(|| view! {
                                        " "
                                        <button class="button" aria-label=format!("Delete tag {}", t.key) on:click=move |_| {
                                            tag_delete.dispatch(DeleteModelTag { name: model.clone(), key: key.clone() });
                                        }>"Delete"</button>
                                    })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {can_edit.then(|| view! {
                <ActionForm action=tag_set attr:class="inline-form">
                    <input type="hidden" name="name" value=name_for_tag/>
                    <input name="key" placeholder="key" aria-label="Tag key" required/>
                    <input name="value" placeholder="value" aria-label="Tag value"/>
                    <button type="submit" class="button">"Set tag"</button>
                </ActionForm>
            })}
        </div>
    }
}

#[component]
pub fn VersionPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let version = move || {
        params
            .read()
            .get("version")
            .and_then(|v| v.trim_start_matches('v').parse::<i64>().ok())
            .unwrap_or(0)
    };
    // Blocking: the response waits for it, so a missing one is a 404 on the wire, not a 200.
    let data = Resource::new_blocking(move || (name(), version()), |(n, v)| load_version(n, v));
    view! {
        <Title text=move || format!("{} v{}", name(), version())/>
        <section class="page">
            <header class="page-header">
                <div>
                    <p class="crumb"><a href=crate::base::url("/models")>"Models"</a>" / "<a href=move || model_href(&name())>{name}</a></p>
                    <h1>{move || format!("{} version {}", name(), version())}</h1>
                </div>
            </header>
            <Transition fallback=|| view! { <p class="loading">"Loading version…"</p> }>
                {move || data.get().map(|r| match r {
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(view) => {
                        let v = view.version.clone();
                        let download = |path: &str| crate::base::url(&format!(
                            "/model-versions/get-artifact?name={}&version={}&path={}",
                            crate::view_state::encode(&v.name), v.version, crate::view_state::encode(path)
                        ));
                        view! {
                            <div class="card" id="version-summary">
                                <dl class="facts">
                                    <dt>"Stage"</dt><dd><span class=stage_class(v.current_stage)>{v.current_stage.name()}</span></dd>
                                    <dt>"Aliases"</dt><dd>{v.aliases.iter().map(|a| format!("@{a}")).collect::<Vec<_>>().join(" ")}</dd>
                                    <dt>"Source"</dt><dd class="mono">{v.source.clone()}</dd>
                                    <dt>"Run"</dt><dd>{(!v.run_id.is_empty()).then(|| view! {
                                        <a class="mono" href=crate::base::url(&format!("/runs/{}", v.run_id))>{v.run_id.clone()}</a>
                                    })}</dd>
                                    <dt>"Created"</dt><dd>{timestamp_utc(v.creation_time)}{(!v.user_id.is_empty()).then(|| format!(" by {}", v.user_id))}</dd>
                                    <dt>"Description"</dt><dd>{v.description.clone()}</dd>
                                    <dt>"Tags"</dt><dd class="mono">{v.tags.iter().map(|t| format!("{}={}", t.key, t.value)).collect::<Vec<_>>().join(", ")}</dd>
                                </dl>
                            </div>
                            <div class="card" id="version-signature">
                                <h2>"Signature"</h2>
                                {match view.signature.clone() {
                                    Some(sig) => view! { <pre class="text-preview">{sig}</pre> }.into_any(),
                                    None => view! { <p class="empty">"No signature in this version's MLmodel file."</p> }.into_any(),
                                }}
                            </div>
                            <div class="card" id="version-files">
                                <h2>"Files"</h2>
                                {if view.files.is_empty() {
                                    view! { <p class="empty">"No files found at the version's source."</p> }.into_any()
                                } else {
                                    view! {
                                        <ul class="artifact-list">
                                            {view.files.iter().map(|f| if f.is_dir {
                                                view! { <li class="dir">{format!("{}/", f.path)}</li> }.into_any()
                                            } else {
                                                view! {
                                                    <li class="file">
                                                        <a href=download(&f.path) download="" rel="external">{f.path.clone()}</a>
                                                        <span class="hint">{f.size.map(crate::format::human_size).unwrap_or_default()}</span>
                                                    </li>
                                                }.into_any()
                                            }).collect_view()}
                                        </ul>
                                    }.into_any()
                                }}
                            </div>
                            {view.run.clone().map(|run| view! {
                                <div class="card" id="version-run">
                                    <h2>"Source run"</h2>
                                    <div class="two-col">
                                        <table class="table"><caption>"Metrics"</caption><tbody>
                                            {run.metrics.iter().map(|m| view! {
                                                <tr><th scope="row">{m.key.clone()}</th><td class="num">{number(m.value)}</td></tr>
                                            }).collect_view()}
                                        </tbody></table>
                                        <table class="table"><caption>"Parameters"</caption><tbody>
                                            {run.params.iter().map(|p| view! {
                                                <tr><th scope="row">{p.key.clone()}</th><td class="mono">{p.value.clone()}</td></tr>
                                            }).collect_view()}
                                        </tbody></table>
                                    </div>
                                </div>
                            })}
                        }.into_any()
                    }
                })}
            </Transition>
        </section>
    }
}
