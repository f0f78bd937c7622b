//! One run: its info, params, tags and latest metrics, a chart per metric, and a browser
//! for its artifacts with previews.

use aiops_core::tracking::Run;
use leptos::prelude::*;

use crate::components::chart::{ChartView, InteractiveChart};
use crate::components::ActionForm;
use crate::pages::manage::{Actions, Allowed, Description, ManagePanel, Target, NOTE_TAG};
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::format::{human_size, number, timestamp_utc};
use crate::view_state::{encode, with_query, QueryState};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunOverview {
    pub run: Run,
    pub experiment_name: String,
    /// What the caller may change here.
    pub allowed: Allowed,
    /// `mlflow.note.content` as sanitised HTML.
    pub description_html: Option<String>,
    /// (id, name) of the parent run, when this is a child run.
    pub parent: Option<(String, String)>,
    /// (id, name, status) of the child runs, newest first (at most [`MAX_CHILDREN`]).
    pub children: Vec<(String, String, String)>,
    /// (model id, name, flavors) of the logged models the run produced.
    pub models: Vec<(String, String, Vec<String>)>,
}

/// Child runs listed on a run's page.
pub const MAX_CHILDREN: i64 = 200;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricChart {
    pub key: String,
    pub chart: ChartView,
}

/// One page of a run's charts: a run may hold thousands of metrics, and a page must stay
/// a few hundred kilobytes whatever it holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChartPage {
    pub charts: Vec<MetricChart>,
    /// Index of the first chart on this page.
    pub first: usize,
    /// Metrics the run has in all.
    pub total: usize,
}

/// Charts drawn per page.
pub const CHARTS_PER_PAGE: usize = 12;
/// Rows a params, metrics or tags table shows; the rest are counted.
pub const TABLE_ROWS: usize = 200;
/// Characters of a param or tag value a table shows.
const VALUE_CHARS: usize = 500;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArtifactItem {
    /// Relative to the run's artifact root.
    pub path: String,
    pub is_dir: bool,
    pub size: Option<u64>,
}

/// What the preview pane shows for a file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Preview {
    Text {
        text: String,
        truncated: bool,
    },
    Json {
        text: String,
    },
    /// Markdown rendered to sanitised HTML.
    Markdown {
        html: String,
        truncated: bool,
    },
    Csv {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
        truncated: bool,
    },
    /// Loaded by the browser from the artifact route, never inlined into the page.
    Image {
        url: String,
    },
    TooLarge {
        size: u64,
    },
    Binary,
}

/// How much of a dataset's schema or profile the run page carries.
#[cfg(feature = "ssr")]
const PREVIEW_CHARS: usize = 2000;

#[server(prefix = "/_app", endpoint = "load_run_overview")]
pub async fn load_run_overview(run_id: String) -> Result<RunOverview, AppError> {
    let (state, actor) = crate::state::caller()?;
    let mut run = state.get_run(&actor, &run_id).await?;
    // A dataset's schema and profile may be megabytes; the page shows only the start.
    for input in &mut run.inputs.dataset_inputs {
        for text in [&mut input.dataset.schema, &mut input.dataset.profile]
            .into_iter()
            .flatten()
        {
            if text.len() > PREVIEW_CHARS {
                let cut = (0..=PREVIEW_CHARS)
                    .rev()
                    .find(|i| text.is_char_boundary(*i))
                    .unwrap_or(0);
                text.truncate(cut);
                text.push('…');
            }
        }
    }
    let experiment_name = state.get_experiment(&actor, &run.info.experiment_id).await?.name;
    let allowed = crate::pages::manage::ssr::allowed(&state, &actor, &run.info.experiment_id).await;
    let description_html = crate::pages::manage::ssr::description(run.tag(NOTE_TAG));
    let parent_id = run
        .tag(crate::pages::experiments::runs::PARENT_TAG)
        .map(str::to_string);
    // A parent that is gone or unreadable is named by its id.
    let parent = match parent_id {
        Some(id) => {
            let name = state
                .get_run(&actor, &id)
                .await
                .map(|r| r.info.run_name)
                .unwrap_or_else(|_| id.clone());
            Some((id, name))
        }
        None => None,
    };
    let filter = aiops_core::search::parse_filter(&format!(
        "tags.`{}` = '{}'",
        crate::pages::experiments::runs::PARENT_TAG,
        run.info.run_id.replace('\'', "")
    ))
    .map_err(|e| AppError::Invalid(e.0))?;
    let search = aiops_core::store::RunSearch {
        experiment_ids: vec![run.info.experiment_id.clone()],
        filter,
        max_results: MAX_CHILDREN,
        ..Default::default()
    };
    let children = state
        .search_runs(&actor, &search)
        .await?
        .items
        .into_iter()
        .map(|r| (r.info.run_id, r.info.run_name, r.info.status.as_str().to_string()))
        .collect();
    let mut models: Vec<(String, String, Vec<String>)> = Vec::new();
    for output in run.outputs.model_outputs.iter().take(20) {
        if models.iter().any(|(id, ..)| id == &output.model_id) {
            continue;
        }
        let Ok(model) = state.get_logged_model(&actor, &output.model_id).await else {
            continue;
        };
        let mlmodel = aiops_core::artifacts::ArtifactPath::parse_file("MLmodel")
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        let flavors = match state
            .get_logged_model_file(&actor, &model.model_id, &mlmodel)
            .await
        {
            Ok((_, stream)) => aiops_core::artifacts::read_head(stream, 64 * 1024)
                .await
                .map(|b| crate::pages::logged_model::flavors(&String::from_utf8_lossy(&b)))
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        models.push((model.model_id, model.name, flavors));
    }
    Ok(RunOverview {
        run,
        experiment_name,
        allowed,
        description_html,
        parent,
        children,
        models,
    })
}

#[server(prefix = "/_app", endpoint = "run_charts")]
pub async fn run_charts(
    run_id: String,
    by_time: bool,
    smoothing: f64,
    log_y: bool,
    page: usize,
    xmin: String,
    xmax: String,
) -> Result<ChartPage, AppError> {
    use crate::charts::{chart_failed, line_chart, smooth, zoom_range, LineOptions, Series};
    use crate::pages::runs::series::{xy, MAX_POINTS};

    let (state, actor) = crate::state::caller()?;
    let run = state.get_run(&actor, &run_id).await?;
    let smoothing = if smoothing.is_finite() {
        smoothing.clamp(0.0, 0.99)
    } else {
        0.0
    };
    let total = run.metrics.len();
    let first = page.saturating_sub(1).saturating_mul(CHARTS_PER_PAGE).min(total);
    let x_zoom = zoom_range(&xmin, &xmax);
    // Zoomed in on steps: the sample is taken within the range, so detail appears.
    let step_range = x_zoom
        .filter(|_| !by_time)
        .map(|(lo, hi)| (lo.floor() as i64, hi.ceil() as i64));
    let mut charts = Vec::new();
    for metric in run.metrics.iter().skip(first).take(CHARTS_PER_PAGE) {
        let history = state
            .get_metric_history_sampled(
                &actor,
                std::slice::from_ref(&run_id),
                &metric.key,
                step_range,
                MAX_POINTS,
            )
            .await?;
        let points: Vec<_> = history.into_iter().map(|(_, m)| m).collect();
        let series = vec![Series {
            label: metric.key.clone(),
            points: smooth(&xy(&points, by_time), smoothing),
        }];
        let options = LineOptions {
            x_label: if by_time { "seconds" } else { "step" },
            y_label: &metric.key,
            log_y,
            width: 560,
            height: 300,
            x_zoom,
        };
        let chart = line_chart(&series, &options).map_err(chart_failed)?;
        charts.push(MetricChart {
            key: metric.key.clone(),
            chart,
        });
    }
    Ok(ChartPage { charts, first, total })
}

#[server(prefix = "/_app", endpoint = "run_artifacts")]
pub async fn run_artifacts(run_id: String, path: String) -> Result<Vec<ArtifactItem>, AppError> {
    use aiops_core::artifacts::ArtifactPath;
    let (state, actor) = crate::state::caller()?;
    let dir = ArtifactPath::parse(&path).map_err(|e| AppError::Invalid(e.to_string()))?;
    let (_, root, entries) = state.list_run_artifacts(&actor, &run_id, &dir).await?;
    let prefix = format!("{root}/");
    Ok(entries
        .into_iter()
        .map(|e| ArtifactItem {
            path: e.path.strip_prefix(&prefix).unwrap_or(&e.path).to_string(),
            is_dir: e.is_dir,
            size: e.file_size,
        })
        .collect())
}

/// Largest text shown inline, and largest image previewed (scaled by the browser).
#[cfg(feature = "ssr")]
const TEXT_PREVIEW_BYTES: usize = 256 * 1024;
#[cfg(feature = "ssr")]
const IMAGE_PREVIEW_BYTES: u64 = 32 * 1024 * 1024;

#[server(prefix = "/_app", endpoint = "artifact_preview")]
pub async fn artifact_preview(run_id: String, path: String) -> Result<Preview, AppError> {
    use aiops_core::artifacts::ArtifactPath;

    let (state, actor) = crate::state::caller()?;
    let file = ArtifactPath::parse_file(&path).map_err(|e| AppError::Invalid(e.to_string()))?;
    let parent = ArtifactPath::parse(file.as_str().rsplit_once('/').map(|(d, _)| d).unwrap_or(""))
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let (_, root, siblings) = state.list_run_artifacts(&actor, &run_id, &parent).await?;
    let full = root.join(&file);
    let size = siblings
        .into_iter()
        .find(|e| e.path == full.as_str())
        .and_then(|e| e.file_size)
        .ok_or_else(|| AppError::NotFound(format!("No artifact at '{path}'")))?;
    let extension = file
        .file_name()
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let is_image = matches!(
        extension.as_str(),
        "png" | "jpg" | "jpeg" | "gif" | "webp" | "svg"
    );
    if is_image {
        if size > IMAGE_PREVIEW_BYTES {
            return Ok(Preview::TooLarge { size });
        }
        return Ok(Preview::Image {
            url: crate::base::url(&format!(
                "/get-artifact?run_uuid={}&path={}",
                crate::view_state::encode(&run_id),
                crate::view_state::encode(file.as_str())
            )),
        });
    }
    let cap = TEXT_PREVIEW_BYTES;
    // Read at most `cap` bytes; the rest of a large file is never fetched.
    let (_, stream) = state.get_run_artifact(&actor, &run_id, &file).await?;
    let mut bytes = aiops_core::artifacts::read_head(stream, cap)
        .await
        .map_err(|e| AppError::from(aiops_core::CoreError::from(e)))?;
    let truncated = bytes.len() as u64 > cap as u64 || size > cap as u64;
    bytes.truncate(cap);
    let Ok(text) = String::from_utf8(bytes.clone()).or_else(|e| {
        // A cut in the middle of a character is not binary.
        let valid = e.utf8_error().valid_up_to();
        if truncated && bytes.len() - valid < 4 {
            String::from_utf8(bytes[..valid].to_vec())
        } else {
            Err(e)
        }
    }) else {
        return Ok(Preview::Binary);
    };
    match extension.as_str() {
        "json" if !truncated => Ok(match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) => Preview::Json {
                text: serde_json::to_string_pretty(&v).unwrap_or(text),
            },
            Err(_) => Preview::Text { text, truncated },
        }),
        "md" | "markdown" => Ok(Preview::Markdown {
            html: crate::pages::manage::ssr::markdown(&text),
            truncated,
        }),
        "csv" | "tsv" => {
            let sep = if extension == "tsv" { '\t' } else { ',' };
            let mut rows: Vec<Vec<String>> = text
                .lines()
                .take(201)
                .map(|l| l.split(sep).map(|c| c.trim_matches('"').to_string()).collect())
                .collect();
            let more = rows.len() > 200 || truncated;
            rows.truncate(200);
            let header = if rows.is_empty() {
                Vec::new()
            } else {
                rows.remove(0)
            };
            Ok(Preview::Csv {
                header,
                rows,
                truncated: more,
            })
        }
        _ => Ok(Preview::Text { text, truncated }),
    }
}

#[component]
pub fn RunPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let state = move || QueryState::from(query.get());
    let run_id = move || params.read().get("id").unwrap_or_default();
    let actions = Actions::new();
    // A running run's header and charts load again every few seconds, by themselves.
    let running = RwSignal::new(false);
    let tick = crate::components::refresh_tick(running.into());
    // Blocking: the response waits for it, so a missing one is a 404 on the wire, not a 200.
    // A finished change (rename, tag, delete) loads it again.
    let overview = Resource::new_blocking(
        move || (run_id(), actions.version(), tick.get()),
        |(id, _, _)| load_run_overview(id),
    );

    view! {
        <Title text="Run"/>
        <section class="page">
            <Transition fallback=|| view! { <p class="loading">"Loading run…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors/> }>
                    {move || Suspend::new(async move {
                        overview.await.map(|o| {
                            running.set(o.run.info.status == aiops_core::tracking::RunStatus::Running);
                            view! { <RunHeader overview=o actions/> }
                        })
                    })}
                </ErrorBoundary>
            </Transition>
            <MetricCharts run_id=Signal::derive(run_id) state=Signal::derive(state) tick/>
            <ArtifactBrowser run_id=Signal::derive(run_id) state=Signal::derive(state)/>
        </section>
    }
}

#[component]
pub fn ErrorList(errors: ArcRwSignal<Errors>) -> impl IntoView {
    view! {
        <p class="error" role="alert">
            {move || errors.get().into_iter().map(|(_, e)| e.to_string()).collect::<Vec<_>>().join("; ")}
        </p>
    }
}

/// A long value cut for a table cell (the API returns it whole).
fn shorten(value: &str) -> String {
    match value.char_indices().nth(VALUE_CHARS) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_string(),
    }
}

#[component]
fn RunHeader(overview: RunOverview, actions: Actions) -> impl IntoView {
    let run = overview.run;
    let deleted = run.info.lifecycle_stage == aiops_core::tracking::LifecycleStage::Deleted;
    let note = run.tag(NOTE_TAG).unwrap_or_default().to_string();
    let parent = overview.parent.clone().map(|(id, name)| {
        view! {
            <p class="parent-run" id="parent-run">
                "Child of "<a href=crate::base::url(&format!("/runs/{id}"))>{name}</a>
            </p>
        }
    });
    let children = (!overview.children.is_empty()).then(|| {
        let count = overview.children.len();
        view! {
            <details class="card" id="child-runs" open={count <= 10}>
                <summary>{format!("Child runs ({count})")}</summary>
                <ul class="child-list">
                    {overview
                        .children
                        .iter()
                        .map(|(id, name, status)| view! {
                            <li>
                                <a href=crate::base::url(&format!("/runs/{id}"))>{name.clone()}</a>" "
                                <span class=format!("status status-{}", status.to_lowercase())>{status.clone()}</span>
                            </li>
                        })
                        .collect_view()}
                </ul>
            </details>
        }
    });
    let manage_tags: Vec<(String, String)> = run
        .tags
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    let target = Target::Run(run.info.run_id.clone());
    let info = run.info.clone();
    let duration = info
        .end_time
        .map(|end| format!("{:.1} s", (end - info.start_time) as f64 / 1000.0));
    let kv_rows = |pairs: Vec<(String, String)>| {
        if pairs.is_empty() {
            return view! { <tr><td class="hint">"None logged"</td></tr> }.into_any();
        }
        let total = pairs.len();
        let more = (total > TABLE_ROWS).then(|| {
            view! { <tr><td class="hint" colspan="2">{format!("… and {} more (first {TABLE_ROWS} of {total} shown)", total - TABLE_ROWS)}</td></tr> }
        });
        view! {
            {pairs
                .into_iter()
                .take(TABLE_ROWS)
                .map(|(k, v)| view! { <tr><th scope="row">{k}</th><td>{shorten(&v)}</td></tr> })
                .collect_view()}
            {more}
        }
        .into_any()
    };
    let params: Vec<(String, String)> = run
        .params
        .iter()
        .map(|p| (p.key.clone(), p.value.clone()))
        .collect();
    let metrics: Vec<(String, String)> = run
        .metrics
        .iter()
        .map(|m| (m.key.clone(), number(m.value)))
        .collect();
    let tags: Vec<(String, String)> = run
        .tags
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    view! {
        <Title text=info.run_name.clone()/>
        <header class="page-header">
            <div>
                <a href=crate::base::url(&format!("/experiments/{}", info.experiment_id)) class="crumb">{overview.experiment_name}</a>
                <h1 id="run-name">{info.run_name.clone()}</h1>
                {parent}
            </div>
            <span class="header-badges">
                {deleted.then(|| view! { <span class="status status-deleted" id="deleted-badge">"deleted"</span> })}
                <span class=format!("status status-{}", info.status.as_str().to_lowercase())>{info.status.as_str()}</span>
            </span>
        </header>
        <ManagePanel target=target.clone() name=info.run_name.clone() deleted tags=manage_tags allowed=overview.allowed actions/>
        <Description target html=overview.description_html.clone() source=note allowed=overview.allowed actions/>
        <div class="grid-3">
            <div class="card">
                <h2>"Info"</h2>
                <table class="kv"><tbody>
                    <tr><th scope="row">"Run ID"</th><td class="mono">{info.run_id.clone()}</td></tr>
                    <tr><th scope="row">"Started"</th><td>{timestamp_utc(info.start_time)}</td></tr>
                    <tr><th scope="row">"Duration"</th><td>{duration.unwrap_or_else(|| "running".into())}</td></tr>
                    <tr><th scope="row">"User"</th><td>{info.user_id.clone()}</td></tr>
                    <tr><th scope="row">"Artifacts"</th><td class="mono">{info.artifact_uri.clone()}</td></tr>
                </tbody></table>
            </div>
            <div class="card">
                <h2>"Parameters"</h2>
                <table class="kv" id="run-params"><tbody>{kv_rows(params)}</tbody></table>
            </div>
            <div class="card">
                <h2>"Metrics (latest)"</h2>
                <table class="kv" id="run-metrics"><tbody>{kv_rows(metrics)}</tbody></table>
            </div>
        </div>
        {children}
        <RunLineage run=run.clone() models=overview.models.clone()/>
        <details class="card">
            <summary>{format!("Tags ({})", tags.len())}</summary>
            <table class="kv"><tbody>{kv_rows(tags)}</tbody></table>
        </details>
    }
}

/// The datasets a run read and the logged models it produced; shown only when there are any.
#[component]
fn RunLineage(run: Run, models: Vec<(String, String, Vec<String>)>) -> impl IntoView {
    let inputs = run.inputs.dataset_inputs;
    let outputs = run.outputs.model_outputs;
    (!inputs.is_empty() || !outputs.is_empty()).then(|| {
        let dataset_rows = inputs
            .into_iter()
            .map(|input| {
                let context = input.context().unwrap_or("").to_string();
                let d = input.dataset;
                let schema = d.schema.unwrap_or_default();
                let source_title = d.source.clone();
                view! {
                    <tr>
                        <td>{d.name}</td>
                        <td>{context}</td>
                        <td class="mono">{d.digest}</td>
                        <td>{d.source_type}</td>
                        <td class="mono clip" title=source_title>{d.source}</td>
                        <td>
                            <details><summary>"schema"</summary><pre class="schema">{schema}</pre></details>
                        </td>
                    </tr>
                }
            })
            .collect::<Vec<_>>();
        let has_datasets = !dataset_rows.is_empty();
        let run_id = run.info.run_id.clone();
        let model_rows = outputs
            .into_iter()
            .map(|m| {
                let source = format!("models:/{}", m.model_id);
                let href = crate::base::url(&format!("/logged-models/{}", m.model_id));
                let (name, flavors) = models
                    .iter()
                    .find(|(id, ..)| *id == m.model_id)
                    .map(|(_, name, flavors)| (name.clone(), flavors.join(", ")))
                    .unwrap_or_default();
                view! {
                    <tr>
                        <td><a href=href class="logged-model-link">{if name.is_empty() { m.model_id.clone() } else { name }}</a>
                            <div class="hint mono">{m.model_id}</div></td>
                        <td>{flavors}</td>
                        <td>{m.step}</td>
                        <td><RegisterForm run_id=run_id.clone() source label="Register:".to_string()/></td>
                    </tr>
                }
            })
            .collect::<Vec<_>>();
        let has_models = !model_rows.is_empty();
        view! {
            <div class="card" id="run-lineage">
                <h2>"Datasets and models"</h2>
                {has_datasets.then(|| view! {
                    <div class="table-scroll">
                    <table class="table" id="run-datasets">
                        <thead><tr>
                            <th>"Dataset"</th><th>"Context"</th><th>"Digest"</th><th>"Source type"</th>
                            <th>"Source"</th><th>"Schema"</th>
                        </tr></thead>
                        <tbody>{dataset_rows}</tbody>
                    </table>
                    </div>
                })}
                {has_models.then(|| view! {
                    <div class="table-scroll">
                    <table class="table" id="run-models">
                        <thead><tr><th>"Logged model"</th><th>"Flavors"</th><th>"Step"</th><th>"Registry"</th></tr></thead>
                        <tbody>{model_rows}</tbody>
                    </table>
                    </div>
                })}
            </div>
        }
    })
}

#[component]
fn MetricCharts(run_id: Signal<String>, state: Signal<QueryState>, tick: ReadSignal<u32>) -> impl IntoView {
    let charts = Resource::new(
        move || (run_id.get(), state.get(), tick.get()),
        |(id, s, _)| {
            let smoothing = s.get("smooth").parse().unwrap_or(0.0);
            let page = s.get("charts").parse().unwrap_or(1);
            run_charts(
                id,
                s.get("x") == "time",
                smoothing,
                s.get("log") == "1",
                page,
                s.get("xmin"),
                s.get("xmax"),
            )
        },
    );
    let link = move |changes: &[(&str, &str)]| with_query(&state.get(), changes);
    view! {
        <div class="card">
            <div class="chart-controls">
                <h2>"Metrics"</h2>
                <span class="segmented">
                    <a data-noscroll="" href=move || link(&[("x", "")]) class:on=move || state.get().get("x") != "time">"Step"</a>
                    <a data-noscroll="" href=move || link(&[("x", "time")]) class:on=move || state.get().get("x") == "time">"Time"</a>
                </span>
                <span class="segmented">
                    {["0", "0.6", "0.9"]
                        .into_iter()
                        .map(|w| {
                            let label = if w == "0" { "No smoothing".to_string() } else { format!("Smooth {w}") };
                            let value = if w == "0" { "" } else { w };
                            view! {
                                <a data-noscroll="" href=move || link(&[("smooth", value)]) class:on=move || state.get().get("smooth") == value>
                                    {label.clone()}
                                </a>
                            }
                        })
                        .collect_view()}
                </span>
                <span class="segmented">
                    <a data-noscroll="" href=move || link(&[("log", "")]) class:on=move || state.get().get("log") != "1">"Linear"</a>
                    <a data-noscroll="" href=move || link(&[("log", "1")]) class:on=move || state.get().get("log") == "1">"Log"</a>
                </span>
            </div>
            <Transition fallback=|| view! { <p class="loading">"Drawing charts…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors/> }>
                    {move || Suspend::new(async move {
                        charts.await.map(|page| {
                            if page.total == 0 {
                                return view! { <p class="empty">"This run has no metrics."</p> }.into_any();
                            }
                            let ChartPage { charts, first, total } = page;
                            let current = first / CHARTS_PER_PAGE + 1;
                            let pages = total.div_ceil(CHARTS_PER_PAGE);
                            let prev = (current > 1).then(|| (current - 1).to_string());
                            let next = (current < pages).then(|| (current + 1).to_string());
                            let pager = (pages > 1).then(|| view! {
                                <nav class="pager" aria-label="Chart pages">
                                    {prev.map(|p| view! { <a data-noscroll="" href=move || link(&[("charts", if p == "1" { "" } else { p.as_str() })]) rel="prev">"← Previous"</a> })}
                                    <span id="chart-range">{format!("Charts {}–{} of {total}", first + 1, first + charts.len())}</span>
                                    {next.map(|p| view! { <a data-noscroll="" href=move || link(&[("charts", p.as_str())]) rel="next">"Next →"</a> })}
                                </nav>
                            });
                            view! {
                                {pager}
                                <div class="charts">
                                    {charts
                                        .into_iter()
                                        .map(|c| {
                                            let caption = c.key.clone();
                                            let metric = c.key.clone();
                                            // The whole history, streamed by the server as CSV.
                                            let csv = crate::base::url(&format!(
                                                "/ajax-api/2.0/aiops/metrics/history-csv?run_id={}&metric_key={}",
                                                crate::view_state::encode(&run_id.get_untracked()),
                                                crate::view_state::encode(&c.key),
                                            ));
                                            view! {
                                                <figure class="chart" data-metric=metric>
                                                    <figcaption>
                                                        {caption}
                                                        <a class="chart-csv" href=csv download="" rel="external" title="The whole history as CSV">"CSV"</a>
                                                    </figcaption>
                                                    <InteractiveChart chart=c.chart metric=c.key/>
                                                </figure>
                                            }
                                        })
                                        .collect_view()}
                                </div>
                            }
                            .into_any()
                        })
                    })}
                </ErrorBoundary>
            </Transition>
        </div>
    }
}

/// "Register model": an artifact folder (a path) or a logged model (`models:/m-…`) of the
/// run as a new version of a (new or existing) registered model, as
/// `mlflow.register_model(uri, name)` does.
#[component]
pub fn RegisterForm(run_id: String, source: String, label: String) -> impl IntoView {
    use crate::pages::models::RegisterModel;
    let register = ServerAction::<RegisterModel>::new();
    let outcome = move || {
        register.value().get().map(|r| match r {
            Ok(v) => view! {
                <p class="notice" role="status">
                    <a href=crate::base::url(&format!("/models/{}/versions/{}", encode(&v.name), v.version))>
                        {format!("Registered {} version {}", v.name, v.version)}
                    </a>
                </p>
            }
            .into_any(),
            Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
        })
    };
    view! {
        <ActionForm action=register attr:class="inline-form register-model">
            <input type="hidden" name="run_id" value=run_id/>
            <input type="hidden" name="path" value=source/>
            <label>{label}" "<input name="name" placeholder="model name" aria-label="Model name" required/></label>
            <button type="submit" class="button">"Register model"</button>
        </ActionForm>
        {outcome}
    }
}

#[component]
fn ArtifactBrowser(run_id: Signal<String>, state: Signal<QueryState>) -> impl IntoView {
    let dir = move || state.get().get("path");
    let file = move || state.get().get("file");
    let listing = Resource::new(move || (run_id.get(), dir()), |(id, d)| run_artifacts(id, d));
    let preview = Resource::new(
        move || (run_id.get(), file()),
        |(id, f)| async move {
            if f.is_empty() {
                Ok(None)
            } else {
                artifact_preview(id, f).await.map(Some)
            }
        },
    );
    let crumbs = move || {
        let d = dir();
        let mut acc = String::new();
        let mut out = vec![(
            "artifacts".to_string(),
            with_query(&state.get(), &[("path", ""), ("file", "")]),
        )];
        for part in d.split('/').filter(|p| !p.is_empty()) {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(part);
            out.push((
                part.to_string(),
                with_query(&state.get(), &[("path", acc.as_str()), ("file", "")]),
            ));
        }
        out.into_iter()
            .map(|(label, href)| view! { <a data-noscroll="" href=href>{label}</a>" / " })
            .collect_view()
    };
    view! {
        <div class="card artifacts" id="artifacts">
            <h2>"Artifacts"</h2>
            <nav class="crumbs" aria-label="Artifact folders">{crumbs}</nav>
            {move || {
                let d = dir();
                (!d.is_empty()).then(|| {
                    let label = format!("Register {d}/ as a model version:");
                    view! { <RegisterForm run_id=run_id.get() source=d label/> }
                })
            }}
            <div class="artifact-panes">
                <Transition fallback=|| view! { <p class="loading">"Listing…"</p> }>
                    <ErrorBoundary fallback=|errors| view! { <ErrorList errors/> }>
                        {move || Suspend::new(async move {
                            let items = listing.await?;
                            let s = state.get();
                            let id = run_id.get();
                            Ok::<_, AppError>(if items.is_empty() {
                                view! { <p class="empty">"No artifacts here."</p> }.into_any()
                            } else {
                                view! {
                                    <ul class="artifact-list">
                                        {items
                                            .into_iter()
                                            .map(|item| {
                                                let name = item.path.rsplit('/').next().unwrap_or(&item.path).to_string();
                                                if item.is_dir {
                                                    let href = with_query(&s, &[("path", item.path.as_str()), ("file", "")]);
                                                    view! { <li class="dir"><a data-noscroll="" href=href>{format!("{name}/")}</a></li> }.into_any()
                                                } else {
                                                    let href = with_query(&s, &[("file", item.path.as_str())]);
                                                    let download = crate::base::url(&format!("/get-artifact?run_uuid={}&path={}", encode(&id), encode(&item.path)));
                                                    view! {
                                                        <li class="file">
                                                            <a data-noscroll="" href=href class="preview-link">{name}</a>
                                                            <span class="hint">{item.size.map(human_size).unwrap_or_default()}</span>
                                                            <a href=download class="download" download="" rel="external">"Download"</a>
                                                        </li>
                                                    }.into_any()
                                                }
                                            })
                                            .collect_view()}
                                    </ul>
                                }.into_any()
                            })
                        })}
                    </ErrorBoundary>
                </Transition>
                <div class="preview" id="artifact-preview">
                    <Transition fallback=|| view! { <p class="loading">"Loading preview…"</p> }>
                        <ErrorBoundary fallback=|errors| view! { <ErrorList errors/> }>
                            {move || Suspend::new(async move { preview.await.map(|p| view! { <PreviewPane preview=p/> }) })}
                        </ErrorBoundary>
                    </Transition>
                </div>
            </div>
        </div>
    }
}

#[component]
fn PreviewPane(preview: Option<Preview>) -> impl IntoView {
    match preview {
        None => view! { <p class="hint">"Choose a file to preview it."</p> }.into_any(),
        Some(Preview::Text { text, truncated }) => view! {
            <pre class="text-preview">{text}</pre>
            {truncated.then(|| view! { <p class="hint">"Preview truncated; download for the whole file."</p> })}
        }
        .into_any(),
        Some(Preview::Markdown { html, truncated }) => view! {
            <div class="markdown markdown-preview" inner_html=html></div>
            {truncated.then(|| view! { <p class="hint">"Preview truncated; download for the whole file."</p> })}
        }
        .into_any(),
        Some(Preview::Json { text }) => view! { <pre class="text-preview json">{text}</pre> }.into_any(),
        Some(Preview::Csv { header, rows, truncated }) => view! {
            <div class="table-scroll">
                <table class="table csv-preview">
                <thead><tr>{header.into_iter().map(|c| view! { <th scope="col">{c}</th> }).collect_view()}</tr></thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|row| view! { <tr>{row.into_iter().map(|c| view! { <td>{c}</td> }).collect_view()}</tr> })
                        .collect_view()}
                </tbody></table>
            </div>
            {truncated.then(|| view! { <p class="hint">"First rows only; download for the whole file."</p> })}
        }
        .into_any(),
        Some(Preview::Image { url }) => {
            let href = url.clone();
            view! {
            <a href=href target="_blank" rel="noopener"><img class="image-preview" src=url alt="artifact preview"/></a>
            }
            .into_any()
        }
        Some(Preview::TooLarge { size }) => view! {
            <p class="hint">{format!("This file is {} — too large to preview. Use Download.", human_size(size))}</p>
        }
        .into_any(),
        Some(Preview::Binary) => view! { <p class="hint">"Binary file: no preview. Use Download."</p> }.into_any(),
    }
}
