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

    view! {
        <Title text="Experiments"/>
        <section class="page">
            <header class="page-header">
                <h1>"Experiments"</h1>
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
