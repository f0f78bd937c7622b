//! Managing runs and experiments from their pages: rename, delete and restore, tags, and
//! the description (`mlflow.note.content`, as MLflow's UI keeps it) rendered as sanitised
//! Markdown. Each server function is one service call with the caller, which checks the
//! permission (EDIT to change, MANAGE to delete or restore).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::components::ActionForm;
use crate::error::AppError;

/// The tag MLflow's UI keeps a run's or an experiment's description in.
pub const NOTE_TAG: &str = "mlflow.note.content";

/// What the caller may do with a run or an experiment, so the page offers only that.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allowed {
    pub edit: bool,
    pub delete: bool,
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use aiops_core::auth::{Access, Actor};
    use aiops_core::service::AppState;

    use super::Allowed;

    /// Markdown as HTML with everything unsafe removed (scripts, event handlers, `javascript:`
    /// links, styles); links get `rel="noopener noreferrer"`.
    pub fn markdown(text: &str) -> String {
        use pulldown_cmark::{html, Options, Parser};
        let mut options = Options::empty();
        options.insert(Options::ENABLE_TABLES);
        options.insert(Options::ENABLE_STRIKETHROUGH);
        options.insert(Options::ENABLE_TASKLISTS);
        let mut out = String::new();
        html::push_html(&mut out, Parser::new_ext(text, options));
        ammonia::clean(&out)
    }

    /// A description tag's text as sanitised HTML; none when it is missing or blank.
    pub fn description(note: Option<&str>) -> Option<String> {
        note.filter(|n| !n.trim().is_empty()).map(markdown)
    }

    pub async fn allowed(state: &AppState, actor: &Actor, experiment_id: &str) -> Allowed {
        let held = state
            .experiment_permission(actor, experiment_id)
            .await
            .unwrap_or(aiops_core::auth::Permission::NoPermissions);
        Allowed {
            edit: held >= Access::Update.least(),
            delete: held >= Access::Delete.least(),
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn markdown_is_rendered_and_sanitised() {
            let html = super::markdown(
                "# Title\n\n**bold** [x](javascript:alert(1)) <script>alert(1)</script> <img src=x onerror=alert(1)>\n\n| a |\n|---|\n| 1 |",
            );
            assert!(html.contains("<h1>Title</h1>"));
            assert!(html.contains("<strong>bold</strong>"));
            assert!(html.contains("<table>"));
            assert!(!html.contains("<script"));
            assert!(!html.contains("javascript:"));
            assert!(!html.contains("onerror"));
        }
    }
}

#[cfg(feature = "ssr")]
fn required(value: &str, what: &str) -> Result<String, AppError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AppError::Invalid(format!("{what} must not be empty")));
    }
    Ok(value.to_string())
}

#[server(prefix = "/_app", endpoint = "rename_run")]
pub async fn rename_run(run_id: String, name: String) -> Result<(), AppError> {
    let name = required(&name, "A run name")?;
    let (state, actor) = crate::state::caller()?;
    let update = aiops_core::tracking::RunUpdate {
        run_name: Some(name),
        ..Default::default()
    };
    state.update_run(&actor, &run_id, update).await?;
    Ok(())
}

#[server(prefix = "/_app", endpoint = "set_run_deleted")]
pub async fn set_run_deleted(run_id: String, deleted: bool) -> Result<(), AppError> {
    use aiops_core::tracking::LifecycleStage;
    let (state, actor) = crate::state::caller()?;
    let stage = if deleted {
        LifecycleStage::Deleted
    } else {
        LifecycleStage::Active
    };
    Ok(state.set_run_lifecycle(&actor, &run_id, stage).await?)
}

#[server(prefix = "/_app", endpoint = "set_run_tag")]
pub async fn set_run_tag(run_id: String, key: String, value: String) -> Result<(), AppError> {
    let key = required(&key, "A tag key")?;
    let (state, actor) = crate::state::caller()?;
    let tag = aiops_core::tracking::RunTag { key, value };
    Ok(state.log_batch(&actor, &run_id, &[], &[], &[tag]).await?)
}

#[server(prefix = "/_app", endpoint = "delete_run_tag")]
pub async fn delete_run_tag(run_id: String, key: String) -> Result<(), AppError> {
    let (state, actor) = crate::state::caller()?;
    Ok(state.delete_tag(&actor, &run_id, &key).await?)
}

#[server(prefix = "/_app", endpoint = "rename_experiment")]
pub async fn rename_experiment(experiment_id: String, name: String) -> Result<(), AppError> {
    let name = aiops_core::validation::experiment_name(&name).map_err(AppError::Invalid)?;
    let (state, actor) = crate::state::caller()?;
    Ok(state.rename_experiment(&actor, &experiment_id, &name).await?)
}

#[server(prefix = "/_app", endpoint = "set_experiment_deleted")]
pub async fn set_experiment_deleted(experiment_id: String, deleted: bool) -> Result<(), AppError> {
    use aiops_core::tracking::LifecycleStage;
    let (state, actor) = crate::state::caller()?;
    let stage = if deleted {
        LifecycleStage::Deleted
    } else {
        LifecycleStage::Active
    };
    Ok(state
        .set_experiment_lifecycle(&actor, &experiment_id, stage)
        .await?)
}

#[server(prefix = "/_app", endpoint = "set_experiment_tag")]
pub async fn set_experiment_tag(experiment_id: String, key: String, value: String) -> Result<(), AppError> {
    let key = required(&key, "A tag key")?;
    let (state, actor) = crate::state::caller()?;
    Ok(state
        .set_experiment_tag(&actor, &experiment_id, &key, &value)
        .await?)
}

/// Which thing a management panel acts on.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    Run(String),
    Experiment(String),
}

impl Target {
    /// The form field naming the target, and its id.
    fn field(&self) -> (&'static str, String) {
        match self {
            Target::Run(id) => ("run_id", id.clone()),
            Target::Experiment(id) => ("experiment_id", id.clone()),
        }
    }
}

/// The actions of one page; their versions tell the page's data to load again.
#[derive(Clone, Copy)]
pub struct Actions {
    pub rename_run: ServerAction<RenameRun>,
    pub run_deleted: ServerAction<SetRunDeleted>,
    pub run_tag: ServerAction<SetRunTag>,
    pub run_untag: ServerAction<DeleteRunTag>,
    pub rename_experiment: ServerAction<RenameExperiment>,
    pub experiment_deleted: ServerAction<SetExperimentDeleted>,
    pub experiment_tag: ServerAction<SetExperimentTag>,
}

impl Actions {
    pub fn new() -> Self {
        Actions {
            rename_run: ServerAction::new(),
            run_deleted: ServerAction::new(),
            run_tag: ServerAction::new(),
            run_untag: ServerAction::new(),
            rename_experiment: ServerAction::new(),
            experiment_deleted: ServerAction::new(),
            experiment_tag: ServerAction::new(),
        }
    }

    /// Changes whenever any action finishes (a resource keyed on it loads again).
    pub fn version(&self) -> usize {
        self.rename_run.version().get()
            + self.run_deleted.version().get()
            + self.run_tag.version().get()
            + self.run_untag.version().get()
            + self.rename_experiment.version().get()
            + self.experiment_deleted.version().get()
            + self.experiment_tag.version().get()
    }

    /// The last refusal of any action, to show beside the panel.
    fn error(&self) -> Option<String> {
        fn err<T>(a: &ServerAction<T>) -> Option<String>
        where
            T: 'static + Send + Sync + Clone + leptos::server_fn::ServerFn<Output = (), Error = AppError>,
        {
            a.value().get().and_then(|r| r.err()).map(|e| e.to_string())
        }
        err(&self.rename_run)
            .or_else(|| err(&self.run_deleted))
            .or_else(|| err(&self.run_tag))
            .or_else(|| err(&self.run_untag))
            .or_else(|| err(&self.rename_experiment))
            .or_else(|| err(&self.experiment_deleted))
            .or_else(|| err(&self.experiment_tag))
    }
}

impl Default for Actions {
    fn default() -> Self {
        Self::new()
    }
}

/// The rendered description (or an invitation to write one) and its editor.
#[component]
pub fn Description(
    target: Target,
    html: Option<String>,
    source: String,
    allowed: Allowed,
    actions: Actions,
) -> impl IntoView {
    let shown = match html {
        Some(html) => view! { <div class="markdown" id="description" inner_html=html></div> }.into_any(),
        None => view! { <p class="hint" id="description">"No description."</p> }.into_any(),
    };
    let editor = allowed.edit.then(|| {
        let (id_field, id) = target.field();
        let fields = view! {
            <input type="hidden" name=id_field value=id/>
            <input type="hidden" name="key" value=NOTE_TAG/>
            <textarea name="value" rows="6" aria-label="Description (Markdown)">{source.clone()}</textarea>
            <button type="submit" class="button primary">"Save description"</button>
        };
        // The same fields; only the action differs (a run's tag or an experiment's).
        let form = match target {
            Target::Run(_) => view! { <ActionForm action=actions.run_tag>{fields}</ActionForm> }.into_any(),
            Target::Experiment(_) => {
                view! { <ActionForm action=actions.experiment_tag>{fields}</ActionForm> }.into_any()
            }
        };
        view! {
            <details class="edit-description">
                <summary>"Edit description"</summary>
                {form}
            </details>
        }
    });
    view! {
        <div class="card description">
            <h2>"Description"</h2>
            {shown}
            {editor}
        </div>
    }
}

/// Rename, delete or restore, and tag: what the caller may do, nothing else.
#[component]
pub fn ManagePanel(
    target: Target,
    name: String,
    deleted: bool,
    tags: Vec<(String, String)>,
    allowed: Allowed,
    actions: Actions,
) -> impl IntoView {
    if !allowed.edit && !allowed.delete {
        return ().into_any();
    }
    let (id_field, id) = target.field();
    let is_run = matches!(target, Target::Run(_));
    let rename = allowed.edit.then(|| {
        let fields = view! {
            <input type="hidden" name=id_field value=id.clone()/>
            <label>"Name "<input type="text" name="name" value=name.clone() aria-label="New name" required/></label>
            <button type="submit" class="button">"Rename"</button>
        };
        if is_run {
            view! { <ActionForm action=actions.rename_run attr:class="inline-form" attr:id="rename-form">{fields}</ActionForm> }.into_any()
        } else {
            view! { <ActionForm action=actions.rename_experiment attr:class="inline-form" attr:id="rename-form">{fields}</ActionForm> }.into_any()
        }
    });
    let lifecycle = allowed.delete.then(|| {
        let label = if deleted { "Restore" } else { "Delete" };
        let class = if deleted { "button" } else { "button danger" };
        let fields = view! {
            <input type="hidden" name=id_field value=id.clone()/>
            <input type="hidden" name="deleted" value=(!deleted).to_string()/>
            <button type="submit" class=class id="lifecycle-button">{label}</button>
        };
        if is_run {
            view! { <ActionForm action=actions.run_deleted attr:class="inline-form">{fields}</ActionForm> }.into_any()
        } else {
            view! { <ActionForm action=actions.experiment_deleted attr:class="inline-form">{fields}</ActionForm> }.into_any()
        }
    });
    // User tags are edited here; MLflow's own (`mlflow.*`) are shown with the rest but kept.
    let user_tags: Vec<(String, String)> = tags
        .into_iter()
        .filter(|(k, _)| !k.starts_with("mlflow."))
        .collect();
    let tag_rows = user_tags
        .into_iter()
        .map(|(key, value)| {
            let (run_id, tag_key, label) = (id.clone(), key.clone(), format!("Remove tag {key}"));
            let remove = (allowed.edit && is_run).then(move || {
                view! {
                    <ActionForm action=actions.run_untag attr:class="inline-form">
                        <input type="hidden" name="run_id" value=run_id/>
                        <input type="hidden" name="key" value=tag_key/>
                        <button type="submit" class="link-button" aria-label=label>"Remove"</button>
                    </ActionForm>
                }
            });
            view! { <li class="chip tag"><span class="mono">{key.clone()}" = "{value}</span>{remove}</li> }
        })
        .collect_view();
    let add_tag = allowed.edit.then(|| {
        let fields = view! {
            <input type="hidden" name=id_field value=id.clone()/>
            <input type="text" name="key" placeholder="key" aria-label="Tag key" required/>
            <input type="text" name="value" placeholder="value" aria-label="Tag value"/>
            <button type="submit" class="button">"Set tag"</button>
        };
        if is_run {
            view! { <ActionForm action=actions.run_tag attr:class="inline-form" attr:id="tag-form">{fields}</ActionForm> }.into_any()
        } else {
            view! { <ActionForm action=actions.experiment_tag attr:class="inline-form" attr:id="tag-form">{fields}</ActionForm> }.into_any()
        }
    });
    view! {
        // Open again after a change, where the user was working.
        <details class="card manage" id="manage" open=move || { actions.version() > 0 }>
            <summary>"Manage"</summary>
            <div class="manage-body">
                {rename}
                {lifecycle}
                <ul class="tag-list">{tag_rows}</ul>
                {add_tag}
                <p class="form-error" role="alert">{move || actions.error()}</p>
            </div>
        </details>
    }
    .into_any()
}
