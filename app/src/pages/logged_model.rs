//! One logged model (MLflow 3's `models:/m-…`): its name, flavors, source run, params and
//! tags, the `MLmodel` file shown as it is, and its files to download; registering it
//! as a version of a registered model from here.

use aiops_core::tracking::LoggedModel;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::format::{human_size, timestamp_utc};
use crate::pages::runs::view::ErrorList;

/// Files listed on the page (the listing walks folders breadth-first up to this).
pub const MAX_FILES: usize = 500;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoggedModelView {
    pub model: LoggedModel,
    pub experiment_name: String,
    /// Flavor names from `MLmodel` (`python_function`, `sklearn`, `onnx`, …).
    pub flavors: Vec<String>,
    /// The `MLmodel` text, when there is one.
    pub mlmodel: Option<String>,
    /// (path relative to the model, size, download URL).
    pub files: Vec<(String, Option<u64>, String)>,
}

/// The top-level keys under `flavors:` in an MLmodel file (YAML, two-space indented).
pub fn flavors(mlmodel: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in mlmodel.lines() {
        if line.starts_with("flavors:") {
            inside = true;
            continue;
        }
        if !inside {
            continue;
        }
        if !line.starts_with(' ') && !line.trim().is_empty() {
            break;
        }
        let indented = line.len() - line.trim_start().len();
        if indented == 2 {
            if let Some(name) = line.trim().strip_suffix(':') {
                out.push(name.to_string());
            }
        }
    }
    out
}

#[server(prefix = "/_app", endpoint = "load_logged_model")]
pub async fn load_logged_model(model_id: String) -> Result<LoggedModelView, AppError> {
    use crate::view_state::encode;
    use aiops_core::artifacts::ArtifactPath;

    let (state, actor) = crate::state::caller()?;
    let model = state.get_logged_model(&actor, &model_id).await?;
    let experiment_name = state.get_experiment(&actor, &model.experiment_id).await?.name;
    let mut files = Vec::new();
    let mut folders = vec![String::new()];
    // Listings are bounded too: a tree of empty folders must not mean endless reads.
    let mut listed = 0;
    while let Some(folder) = folders.pop() {
        if files.len() >= MAX_FILES || listed >= MAX_FILES {
            break;
        }
        listed += 1;
        let dir = ArtifactPath::parse(&folder).map_err(|e| AppError::Invalid(e.to_string()))?;
        let (root, entries) = state.list_logged_model_files(&actor, &model_id, &dir).await?;
        let prefix = format!("{}/", root.as_str());
        for entry in entries {
            let relative = entry
                .path
                .strip_prefix(&prefix)
                .unwrap_or(&entry.path)
                .to_string();
            if entry.is_dir {
                folders.push(relative);
            } else {
                let download = crate::base::url(&format!(
                    "/ajax-api/2.0/mlflow-artifacts/artifacts/{}",
                    entry.path.split('/').map(encode).collect::<Vec<_>>().join("/")
                ));
                files.push((relative, entry.file_size, download));
            }
        }
    }
    files.sort();
    files.truncate(MAX_FILES);
    let mlmodel = if files.iter().any(|(p, ..)| p == "MLmodel") {
        let file = ArtifactPath::parse_file("MLmodel").map_err(|e| AppError::Invalid(e.to_string()))?;
        let (_, stream) = state.get_logged_model_file(&actor, &model_id, &file).await?;
        let bytes = aiops_core::artifacts::read_head(stream, 256 * 1024)
            .await
            .map_err(|e| AppError::from(aiops_core::CoreError::from(e)))?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    } else {
        None
    };
    Ok(LoggedModelView {
        flavors: mlmodel.as_deref().map(flavors).unwrap_or_default(),
        model,
        experiment_name,
        mlmodel,
        files,
    })
}

#[component]
pub fn LoggedModelPage() -> impl IntoView {
    let params = use_params_map();
    let model_id = move || params.read().get("id").unwrap_or_default();
    // Blocking: a missing model is a 404 on the wire.
    let view = Resource::new_blocking(model_id, load_logged_model);
    view! {
        <Title text="Logged model"/>
        <section class="page">
            <Transition fallback=|| view! { <p class="loading">"Loading model…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors/> }>
                    {move || Suspend::new(async move { view.await.map(|v| view! { <LoggedModelView view=v/> }) })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}

#[component]
fn LoggedModelView(view: LoggedModelView) -> impl IntoView {
    let m = view.model;
    let kv = |pairs: Vec<(String, String)>| {
        if pairs.is_empty() {
            return view! { <tr><td class="hint">"None"</td></tr> }.into_any();
        }
        pairs
            .into_iter()
            .map(|(k, v)| view! { <tr><th scope="row">{k}</th><td>{v}</td></tr> })
            .collect_view()
            .into_any()
    };
    let params: Vec<(String, String)> = m
        .params
        .iter()
        .map(|p| (p.key.clone(), p.value.clone()))
        .collect();
    let tags: Vec<(String, String)> = m.tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect();
    let source = format!("models:/{}", m.model_id);
    let run_link = (!m.source_run_id.is_empty()).then(|| {
        let id = m.source_run_id.clone();
        view! { <a href=crate::base::url(&format!("/runs/{id}")) id="source-run">{id.clone()}</a> }
    });
    let files = view
        .files
        .into_iter()
        .map(|(path, size, href)| {
            view! {
                <li class="file">
                    <span class="mono">{path}</span>
                    <span class="hint">{size.map(human_size).unwrap_or_default()}</span>
                    <a href=href class="download" download="" rel="external">"Download"</a>
                </li>
            }
        })
        .collect_view();
    view! {
        <Title text=m.name.clone()/>
        <header class="page-header">
            <div>
                <a href=crate::base::url(&format!("/experiments/{}", m.experiment_id)) class="crumb">{view.experiment_name}</a>
                <h1 id="model-name">{m.name.clone()}</h1>
            </div>
            <span class="status">{m.status.trim_start_matches("LOGGED_MODEL_").to_string()}</span>
        </header>
        <div class="grid-3">
            <div class="card">
                <h2>"Logged model"</h2>
                <table class="kv"><tbody>
                    <tr><th scope="row">"Model ID"</th><td class="mono">{m.model_id.clone()}</td></tr>
                    <tr><th scope="row">"Flavors"</th><td id="flavors">{view.flavors.join(", ")}</td></tr>
                    <tr><th scope="row">"Source run"</th><td>{run_link}</td></tr>
                    <tr><th scope="row">"Created"</th><td>{timestamp_utc(m.creation_timestamp_ms)}</td></tr>
                    <tr><th scope="row">"URI"</th><td class="mono">{source.clone()}</td></tr>
                    <tr><th scope="row">"Artifacts"</th><td class="mono">{m.artifact_uri.clone()}</td></tr>
                </tbody></table>
            </div>
            <div class="card"><h2>"Parameters"</h2><table class="kv"><tbody>{kv(params)}</tbody></table></div>
            <div class="card"><h2>"Tags"</h2><table class="kv"><tbody>{kv(tags)}</tbody></table></div>
        </div>
        <div class="card">
            <h2>"Register"</h2>
            <crate::pages::runs::view::RegisterForm run_id=m.source_run_id.clone() source label="Register as:".to_string()/>
        </div>
        <div class="card" id="mlmodel">
            <h2>"MLmodel"</h2>
            {match view.mlmodel {
                Some(text) => view! { <pre class="text-preview">{text}</pre> }.into_any(),
                None => view! { <p class="hint">"No MLmodel file."</p> }.into_any(),
            }}
        </div>
        <div class="card">
            <h2>"Files"</h2>
            <ul class="artifact-list" id="model-files">{files}</ul>
        </div>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_flavor_names() {
        let text = "artifact_path: model\nflavors:\n  python_function:\n    env:\n      conda: conda.yaml\n  sklearn:\n    code: null\nmlflow_version: 3.17.2\n";
        assert_eq!(super::flavors(text), vec!["python_function", "sklearn"]);
        assert!(super::flavors("nothing").is_empty());
    }
}
