//! Compare runs, from one experiment or several: overlaid metric charts, a params and
//! metrics table with a differences-only switch, parallel coordinates and a scatter plot.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::components::chart::{ChartView, InteractiveChart, InteractiveParallel, ParallelView};
use crate::error::AppError;
use crate::pages::runs::view::ErrorList;
use crate::view_state::{with_query, QueryState};

/// Most runs one comparison draws.
pub const MAX_COMPARED: usize = 20;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComparedRun {
    pub run_id: String,
    pub run_name: String,
    pub experiment_id: String,
    pub experiment_name: String,
    pub color: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareRow {
    /// "param" or "metric".
    pub kind: String,
    pub key: String,
    pub values: Vec<Option<String>>,
    pub differs: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub runs: Vec<ComparedRun>,
    /// Ids in the link that name no run (left out, and named on the page).
    pub missing: Vec<String>,
    pub rows: Vec<CompareRow>,
    pub charts: Vec<(String, ChartView)>,
    /// Columns with numbers in them, for the scatter plot's axes.
    pub numeric_columns: Vec<String>,
    pub scatter: Option<(String, String, String)>,
    pub parallel: Option<ParallelView>,
}

#[server(prefix = "/_app", endpoint = "compare_runs")]
pub async fn compare_runs(
    run_ids: Vec<String>,
    x: String,
    y: String,
    xmin: String,
    xmax: String,
    pc: String,
) -> Result<Comparison, AppError> {
    use std::collections::BTreeSet;

    use crate::charts::{
        chart_failed, css_color, line_chart, parallel_coordinates, scatter_chart, zoom_range, LineOptions,
        Series,
    };
    use crate::format::number;
    use crate::pages::runs::series::{xy, MAX_POINTS};

    if run_ids.is_empty() {
        return Err(AppError::Invalid(
            "Choose runs to compare: /compare?runs=<id>,<id>".into(),
        ));
    }
    if run_ids.len() > MAX_COMPARED {
        return Err(AppError::Invalid(format!(
            "At most {MAX_COMPARED} runs can be compared at once"
        )));
    }
    let (state, actor) = crate::state::caller()?;
    let mut runs = Vec::new();
    let mut missing = Vec::new();
    for id in &run_ids {
        match state.get_run(&actor, id).await {
            Ok(run) => runs.push(run),
            // One stale id in a shared link: compare the others and say which one is gone.
            Err(aiops_core::CoreError::NotFound(_)) => missing.push(id.clone()),
            Err(e) => return Err(e.into()),
        }
    }
    if runs.is_empty() {
        return Err(AppError::from(aiops_core::CoreError::NotFound(format!(
            "No run has the id {}",
            missing.join(", ")
        ))));
    }
    let mut compared = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let experiment_name = state.get_experiment(&actor, &run.info.experiment_id).await?.name;
        compared.push(ComparedRun {
            run_id: run.info.run_id.clone(),
            run_name: run.info.run_name.clone(),
            experiment_id: run.info.experiment_id.clone(),
            experiment_name,
            color: css_color(i),
        });
    }

    let param_keys: BTreeSet<String> = runs
        .iter()
        .flat_map(|r| r.params.iter().map(|p| p.key.clone()))
        .collect();
    let metric_keys: BTreeSet<String> = runs
        .iter()
        .flat_map(|r| r.metrics.iter().map(|m| m.key.clone()))
        .collect();
    let mut rows = Vec::new();
    // Numeric value of a column per run, for the scatter and parallel plots.
    let mut numeric: Vec<(String, Vec<Option<f64>>)> = Vec::new();
    for key in &param_keys {
        let values: Vec<Option<String>> = runs.iter().map(|r| r.param(key).map(str::to_string)).collect();
        let parsed: Vec<Option<f64>> = values
            .iter()
            .map(|v| v.as_deref().and_then(|s| s.parse().ok()))
            .collect();
        if values.iter().flatten().count() > 0
            && parsed.iter().flatten().count() == values.iter().flatten().count()
        {
            numeric.push((format!("params.{key}"), parsed));
        }
        let differs = values.windows(2).any(|w| w[0] != w[1]);
        rows.push(CompareRow {
            kind: "param".into(),
            key: key.clone(),
            values,
            differs,
        });
    }
    for key in &metric_keys {
        let raw: Vec<Option<f64>> = runs.iter().map(|r| r.metric(key)).collect();
        let values: Vec<Option<String>> = raw.iter().map(|v| v.map(number)).collect();
        let differs = values.windows(2).any(|w| w[0] != w[1]);
        numeric.push((format!("metrics.{key}"), raw));
        rows.push(CompareRow {
            kind: "metric".into(),
            key: key.clone(),
            values,
            differs,
        });
    }

    let mut charts = Vec::new();
    let x_zoom = zoom_range(&xmin, &xmax);
    let step_range = x_zoom.map(|(lo, hi)| (lo.floor() as i64, hi.ceil() as i64));
    let drawn_ids: Vec<String> = runs.iter().map(|r| r.info.run_id.clone()).collect();
    for key in &metric_keys {
        let histories = state
            .get_metric_history_sampled(&actor, &drawn_ids, key, step_range, MAX_POINTS)
            .await?;
        let series: Vec<Series> = runs
            .iter()
            .map(|run| {
                let id = &run.info.run_id;
                let points: Vec<_> = histories
                    .iter()
                    .filter(|(r, _)| r == id)
                    .map(|(_, m)| m.clone())
                    .collect();
                Series {
                    label: run.info.run_name.clone(),
                    points: xy(&points, false),
                }
            })
            .collect();
        let options = LineOptions {
            x_label: "step",
            y_label: key,
            log_y: false,
            width: 560,
            height: 300,
            x_zoom,
        };
        let chart = line_chart(&series, &options).map_err(chart_failed)?;
        charts.push((key.clone(), chart));
    }

    let numeric_columns: Vec<String> = numeric.iter().map(|(name, _)| name.clone()).collect();
    let column = |name: &str| numeric.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let x_name = if numeric_columns.contains(&x) {
        x
    } else {
        numeric_columns.first().cloned().unwrap_or_default()
    };
    let y_name = if numeric_columns.contains(&y) {
        y
    } else {
        numeric_columns
            .iter()
            .rev()
            .find(|c| **c != x_name)
            .cloned()
            .unwrap_or_default()
    };
    let scatter = match (column(&x_name), column(&y_name)) {
        (Some(xs), Some(ys)) if x_name != y_name => {
            let points: Vec<(f64, f64, usize)> = xs
                .iter()
                .zip(ys.iter())
                .enumerate()
                .filter_map(|(i, (x, y))| Some(((*x)?, (*y)?, i)))
                .collect();
            let svg = scatter_chart(&points, &x_name, &y_name).map_err(chart_failed)?;
            Some((x_name, y_name, svg))
        }
        _ => None,
    };
    let parallel = if numeric.len() >= 2 {
        let axes: Vec<String> = numeric.iter().take(8).map(|(n, _)| n.clone()).collect();
        let lines: Vec<Vec<Option<f64>>> = (0..runs.len())
            .map(|i| numeric.iter().take(8).map(|(_, v)| v[i]).collect())
            .collect();
        let brushes: Vec<(usize, f64, f64)> = crate::components::chart::parse_brushes(&pc)
            .into_iter()
            .filter_map(|(name, lo, hi)| Some((axes.iter().position(|a| *a == name)?, lo, hi)))
            .collect();
        Some(parallel_coordinates(&axes, &lines, &brushes).map_err(chart_failed)?)
    } else {
        None
    };

    Ok(Comparison {
        runs: compared,
        missing,
        rows,
        charts,
        numeric_columns,
        scatter,
        parallel,
    })
}

#[component]
pub fn ComparePage() -> impl IntoView {
    let query = use_query_map();
    let state = move || QueryState::from(query.get());
    // Blocking: the response waits for it, so a missing one is a 404 on the wire, not a 200.
    let comparison = Resource::new_blocking(state, |s| async move {
        // No runs chosen: nothing to ask the server (the page explains what to do instead).
        if s.list("runs").is_empty() {
            return Ok(None);
        }
        compare_runs(
            s.list("runs"),
            s.get("x"),
            s.get("y"),
            s.get("xmin"),
            s.get("xmax"),
            s.get("pc"),
        )
        .await
        .map(Some)
    });
    view! {
        <Title text="Compare runs"/>
        <section class="page">
            <header class="page-header"><h1>"Compare runs"</h1></header>
            <Transition fallback=|| view! { <p class="loading">"Comparing…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors/> }>
                    {move || Suspend::new(async move {
                        comparison.await.map(|c| match c {
                            Some(c) => view! { <CompareView comparison=c state=state()/> }.into_any(),
                            None => view! {
                                <div class="card" id="compare-empty">
                                    <p class="empty">"No runs chosen yet. Tick two or more runs in an experiment's table, then press Compare."</p>
                                    <p><a class="button" href=crate::base::url("/experiments")>"Go to experiments"</a></p>
                                </div>
                            }.into_any(),
                        })
                    })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}

#[component]
fn CompareView(comparison: Comparison, state: QueryState) -> impl IntoView {
    let missing = (!comparison.missing.is_empty()).then(|| {
        view! {
            <p class="error" role="alert" id="compare-missing">
                {format!("Left out, no such run: {}", comparison.missing.join(", "))}
            </p>
        }
    });
    let diff_only = state.get("diff") == "1";
    let diff_href = with_query(&state, &[("diff", if diff_only { "" } else { "1" })]);
    let legend = comparison
        .runs
        .iter()
        .map(|r| {
            view! {
                <li>
                    <span class="swatch" style=format!("background: {}", r.color)></span>
                    <a href=crate::base::url(&format!("/runs/{}", r.run_id))>{r.run_name.clone()}</a>
                    <span class="hint">" in "<a href=crate::base::url(&format!("/experiments/{}", r.experiment_id))>{r.experiment_name.clone()}</a></span>
                </li>
            }
        })
        .collect_view();
    let head = comparison
        .runs
        .iter()
        .map(|r| view! { <th scope="col">{r.run_name.clone()}</th> })
        .collect_view();
    let rows = comparison
        .rows
        .iter()
        .filter(|row| !diff_only || row.differs)
        .map(|row| {
            view! {
                <tr class:differs=row.differs data-kind=row.kind.clone()>
                    <th scope="row"><span class="hint">{row.kind.clone()}" "</span>{row.key.clone()}</th>
                    {row.values.iter().map(|v| view! { <td>{v.clone().unwrap_or_else(|| "—".into())}</td> }).collect_view()}
                </tr>
            }
        })
        .collect_view();
    let axis_picker = |axis: &'static str, current: String| {
        let options = comparison
            .numeric_columns
            .iter()
            .map(|c| {
                let href = with_query(&state, &[(axis, c.as_str())]);
                let on = *c == current;
                view! { <a data-noscroll="" href=href class=if on { "chip on" } else { "chip" }>{c.clone()}</a> }
            })
            .collect_view();
        view! { <div class="chips"><span class="hint">{format!("{axis} axis:")}</span>{options}</div> }
    };
    let (scatter_view, x_pick, y_pick) = match comparison.scatter.clone() {
        Some((x, y, svg)) => (
            view! { <div class="svg" id="scatter" inner_html=svg></div> }.into_any(),
            axis_picker("x", x),
            axis_picker("y", y),
        ),
        None => (
            view! { <p class="empty">"Needs two numeric columns."</p> }.into_any(),
            axis_picker("x", String::new()),
            axis_picker("y", String::new()),
        ),
    };
    view! {
        {missing}
        <div class="card"><ul class="legend">{legend}</ul></div>
        <div class="card">
            <h2>"Metrics"</h2>
            <div class="charts" id="compare-charts">
                {comparison
                    .charts
                    .into_iter()
                    .map(|(key, chart)| {
                        let caption = key.clone();
                        let metric = key.clone();
                        view! {
                        <figure class="chart" data-metric=metric>
                            <figcaption>{caption}</figcaption>
                            <InteractiveChart chart metric=key/>
                        </figure>
                        }
                    })
                    .collect_view()}
            </div>
        </div>
        <div class="card">
            <div class="chart-controls">
                <h2>"Parameters and metrics"</h2>
                <a data-noscroll="" href=diff_href class="button" id="diff-toggle" aria-pressed=diff_only.to_string()>
                    {if diff_only { "Show all rows" } else { "Differences only" }}
                </a>
            </div>
            <div class="table-scroll">
                <table class="table compare-table" id="compare-table">
                    <thead><tr><th scope="col">"Key"</th>{head}</tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </div>
        <div>
            <div class="card">
                <h2>"Parallel coordinates"</h2>
                {match comparison.parallel {
                    Some(chart) => {
                        let kept: Vec<String> = comparison
                            .runs
                            .iter()
                            .zip(chart.selected.iter())
                            .filter(|(_, s)| **s)
                            .map(|(r, _)| r.run_name.clone())
                            .collect();
                        let filtered = !state.get("pc").is_empty();
                        let clear = with_query(&state, &[("pc", "")]);
                        let total = comparison.runs.len();
                        view! {
                            <InteractiveParallel chart/>
                            {filtered.then(|| view! {
                                <p class="hint" id="parallel-kept">
                                    {format!("{} of {total} runs in range: {}", kept.len(), kept.join(", "))}
                                    " · "<a href=clear>"Clear ranges"</a>
                                </p>
                            })}
                            {(!filtered).then(|| view! { <p class="hint">"Drag along an axis to keep only the runs in a range."</p> })}
                        }.into_any()
                    }
                    None => view! { <p class="empty">"Needs two numeric columns."</p> }.into_any(),
                }}
            </div>
            <div class="card">
                <h2>"Scatter"</h2>
                {x_pick}
                {y_pick}
                {scatter_view}
            </div>
        </div>
    }
}
