//! The experiments list: every active experiment with its run count and last update,
//! and a form that creates a new one in place.

use aiops_core::tracking::ExperimentSummary;
use leptos::prelude::*;

use crate::components::ActionForm;
use leptos_meta::Title;

use crate::error::AppError;
use crate::format::timestamp_utc;

#[server(prefix = "/_app", endpoint = "list_experiments")]
pub async fn list_experiments() -> Result<Vec<ExperimentSummary>, AppError> {
    let (state, actor) = crate::state::caller()?;
    Ok(state.list_experiment_summaries(&actor).await?)
}

/// Deleted experiments the caller may read (shown on request, to be restored).
#[server(prefix = "/_app", endpoint = "list_deleted_experiments")]
pub async fn list_deleted_experiments() -> Result<Vec<(String, String)>, AppError> {
    let (state, actor) = crate::state::caller()?;
    let search = aiops_core::store::ExperimentSearch {
        view: aiops_core::tracking::ViewType::DeletedOnly,
        max_results: 1000,
        ..Default::default()
    };
    Ok(state
        .search_experiments(&actor, &search)
        .await?
        .items
        .into_iter()
        .map(|e| (e.experiment_id, e.name))
        .collect())
}

/// Creates an experiment with the default artifact location; returns its id.
#[server(prefix = "/_app", endpoint = "create_experiment")]
pub async fn create_experiment(name: String) -> Result<String, AppError> {
    let name = aiops_core::validation::experiment_name(&name).map_err(AppError::Invalid)?;
    let (state, actor) = crate::state::caller()?;
    Ok(state.create_experiment(&actor, &name, None, &[]).await?)
}

#[component]
pub fn ExperimentsPage() -> impl IntoView {
    let create = ServerAction::<CreateExperiment>::new();
    // Refetch the list whenever a creation finishes.
    let experiments = Resource::new(move || create.version().get(), |_| list_experiments());
    let form_error = move || {
        create
            .value()
            .get()
            .and_then(|result| result.err())
            .map(|e| e.to_string())
    };
    let created_id = move || create.value().get().and_then(|result| result.ok());
    // After a successful create the field is emptied for the next name.
    let name_input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if created_id().is_some() {
            if let Some(input) = name_input.get() {
                input.set_value("");
            }
        }
    });

    let query = leptos_router::hooks::use_query_map();
    let show_deleted = move || query.read().get("deleted").is_some_and(|v| v == "1");
    let deleted = Resource::new(show_deleted, |show| async move {
        if show {
            list_deleted_experiments().await.map(Some)
        } else {
            Ok(None)
        }
    });
    view! {
        <Title text="Experiments"/>
        <section class="page">
            <header class="page-header">
                <h1>"Experiments"</h1>
                <a
                    class="button"
                    id="toggle-deleted"
                    href=move || if show_deleted() { "?".to_string() } else { "?deleted=1".to_string() }
                >
                    {move || if show_deleted() { "Hide deleted" } else { "Show deleted" }}
                </a>
            </header>
            <div class="card">
                <ActionForm action=create>
                    <div class="inline-form">
                        <label for="new-experiment-name">"New experiment"</label>
                        <input
                            id="new-experiment-name"
                            node_ref=name_input
                            type="text"
                            name="name"
                            placeholder="e.g. churn-model"
                            autocomplete="off"
                            maxlength="500"
                            aria-invalid=move || form_error().is_some().to_string()
                            aria-describedby="new-experiment-error"
                        />
                        <button type="submit" class="button primary" disabled=move || create.pending().get()>
                            "Create"
                        </button>
                    </div>
                </ActionForm>
                <p id="new-experiment-error" class="form-error" role="alert">
                    {form_error}
                </p>
            </div>
            <Transition fallback=|| view! { <p class="loading">"Loading experiments…"</p> }>
                <ErrorBoundary fallback=|errors| {
                    view! {
                        <p class="error" role="alert">
                            {move || {
                                errors.get().into_iter().map(|(_, e)| e.to_string()).collect::<Vec<_>>().join("; ")
                            }}
                        </p>
                    }
                }>
                    {move || Suspend::new(async move {
                        experiments
                            .await
                            .map(|list| view! { <ExperimentTable experiments=list highlight=created_id()/> })
                    })}
                </ErrorBoundary>
            </Transition>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    deleted.await.ok().flatten().map(|list| view! { <DeletedExperiments experiments=list/> })
                })}
            </Transition>
        </section>
    }
}

#[component]
fn ExperimentTable(experiments: Vec<ExperimentSummary>, highlight: Option<String>) -> impl IntoView {
    if experiments.is_empty() {
        return view! { <p class="empty">"No experiments yet. Create one above, or log a run with the MLflow client."</p> }
            .into_any();
    }
    view! {
        <table class="table" id="experiments-table">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"ID"</th>
                    <th scope="col" class="num">"Runs"</th>
                    <th scope="col">"Last update"</th>
                </tr>
            </thead>
            <tbody>
                {experiments
                    .into_iter()
                    .map(|e| {
                        let is_new = highlight.as_deref() == Some(e.experiment_id.as_str());
                        let id = e.experiment_id;
                        let id_attr = id.clone();
                        let id_link = id.clone();
                        view! {
                            <tr class:new-row=is_new data-experiment-id=id_attr>
                                <td class="name"><a href=crate::base::url(&format!("/experiments/{}", id_link))>{e.name}</a></td>
                                <td class="mono">{id}</td>
                                <td class="num">{e.run_count}</td>
                                <td>{timestamp_utc(e.last_update_time)}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// Deleted experiments, marked as such; each page has Restore for those allowed.
#[component]
fn DeletedExperiments(experiments: Vec<(String, String)>) -> impl IntoView {
    view! {
        <div class="card" id="deleted-experiments">
            <h2>"Deleted experiments"</h2>
            {if experiments.is_empty() {
                view! { <p class="empty">"None."</p> }.into_any()
            } else {
                view! {
                    <ul class="child-list">
                        {experiments
                            .into_iter()
                            .map(|(id, name)| view! {
                                <li data-experiment-id=id.clone()>
                                    <a href=crate::base::url(&format!("/experiments/{id}"))>{name}</a>" "
                                    <span class="status status-deleted">"deleted"</span>
                                </li>
                            })
                            .collect_view()}
                    </ul>
                }.into_any()
            }}
        </div>
    }
}
