//! One experiment's runs table. The whole view (filter, sort, columns, selection, page)
//! lives in the URL, so a link reproduces exactly what the sender saw.

use aiops_core::tracking::{Experiment, Run};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use leptos_router::NavigateOptions;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::format::{number, timestamp_utc};
use crate::pages::manage::{Actions, Allowed, Description, ManagePanel, Target, NOTE_TAG};
use crate::view_state::{with_query, QueryState};

/// Runs per page of the table.
pub const PAGE_SIZE: i64 = 100;
/// Matches counted for the pager; past this the page says "more than".
pub const COUNT_CAP: i64 = 10_000;
/// With a filter, the pager counts matches among this many of the newest runs (each costs
/// the filter's checks, a few microseconds each); past them it says so. 10,000 took
/// PostgreSQL 120 ms on a million-run experiment, beside the page's own search.
pub const COUNT_EXAMINE: i64 = 5_000;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricSpan {
    pub run_id: String,
    pub key: String,
    pub min: f64,
    pub max: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunsTable {
    pub experiment: Experiment,
    pub runs: Vec<Run>,
    /// Whole-history min/max per run and metric, when asked for.
    pub spans: Vec<MetricSpan>,
    pub has_more: bool,
    /// Runs matching the filter, counted up to [`COUNT_CAP`].
    pub total: i64,
    /// More than [`COUNT_CAP`] match.
    pub total_capped: bool,
    /// The count looked at only this many (the newest) runs: more may match further on.
    pub total_examined: Option<i64>,
    /// Why the filter or sort was refused: the page stays, with no rows and this beside the box.
    pub filter_error: Option<String>,
    /// What the caller may change on the experiment.
    pub allowed: Allowed,
    /// The experiment's description (`mlflow.note.content`) as sanitised HTML.
    pub description_html: Option<String>,
}

#[server(prefix = "/_app", endpoint = "experiment_runs")]
pub async fn experiment_runs(
    experiment_id: String,
    filter: String,
    sort: String,
    page: i64,
    after: String,
    with_spans: bool,
    show_deleted: bool,
) -> Result<RunsTable, AppError> {
    use aiops_core::search::{parse_filter, parse_order_by};
    use aiops_core::store::RunSearch;

    let (state, actor) = crate::state::caller()?;
    let experiment = state.get_experiment(&actor, &experiment_id).await?;
    let allowed = crate::pages::manage::ssr::allowed(&state, &actor, &experiment_id).await;
    let description_html = crate::pages::manage::ssr::description(experiment.tag(NOTE_TAG));
    let searched = async {
        let filter = parse_filter(&filter).map_err(|e| AppError::Invalid(e.0))?;
        let order_by = if sort.trim().is_empty() {
            Vec::new()
        } else {
            vec![parse_order_by(&sort).map_err(|e| AppError::Invalid(e.0))?]
        };
        let search = RunSearch {
            experiment_ids: vec![experiment_id],
            filter,
            order_by,
            max_results: PAGE_SIZE,
            // Any page number parses; the offset saturates instead of overflowing.
            offset: page.max(0).saturating_mul(PAGE_SIZE),
            after: after.rsplit(',').next().and_then(parse_cursor),
            // Deleted runs only on request, marked as deleted in the table.
            view: if show_deleted {
                aiops_core::tracking::ViewType::All
            } else {
                aiops_core::tracking::ViewType::ActiveOnly
            },
        };
        let page = state.search_runs(&actor, &search).await?;
        let count = state
            .count_runs(&actor, &search, COUNT_CAP, COUNT_EXAMINE)
            .await?;
        Ok::<_, AppError>((page, count))
    };
    let (page, count) = match searched.await {
        Ok(found) => found,
        Err(AppError::Invalid(reason)) => {
            return Ok(RunsTable {
                experiment,
                runs: Vec::new(),
                spans: Vec::new(),
                has_more: false,
                total: 0,
                total_capped: false,
                total_examined: None,
                filter_error: Some(reason),
                allowed,
                description_html,
            })
        }
        Err(e) => return Err(e),
    };
    let spans = if with_spans {
        let ids: Vec<String> = page.items.iter().map(|r| r.info.run_id.clone()).collect();
        state
            .metric_ranges(&actor, &ids)
            .await?
            .into_iter()
            .map(|r| MetricSpan {
                run_id: r.run_id,
                key: r.key,
                min: r.min,
                max: r.max,
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut runs = page.items;
    // The table names datasets; their schema and profile (possibly megabytes) stay behind.
    for input in runs.iter_mut().flat_map(|r| r.inputs.dataset_inputs.iter_mut()) {
        input.dataset.schema = None;
        input.dataset.profile = None;
    }
    Ok(RunsTable {
        experiment,
        runs,
        spans,
        has_more: page.has_more,
        total: count.matched,
        total_capped: count.more,
        total_examined: count.examined,
        filter_error: None,
        allowed,
        description_html,
    })
}

/// `<start_time>:<run_id>` of the last row of the previous page (default order only). The
/// URL keeps the whole trail of them, comma-separated, so Previous is the trail less one.
#[cfg(feature = "ssr")]
fn parse_cursor(cursor: &str) -> Option<(i64, String)> {
    let (time, id) = cursor.split_once(':')?;
    Some((time.parse().ok()?, id.to_string()))
}

/// A table column: `metrics.<k>`, `params.<k>` or `tags.<k>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub kind: &'static str,
    pub key: String,
}

impl Column {
    fn parse(spec: &str) -> Option<Column> {
        let (kind, key) = spec.split_once('.')?;
        let kind = match kind {
            "metrics" => "metrics",
            "params" => "params",
            "tags" => "tags",
            _ => return None,
        };
        (!key.is_empty()).then(|| Column {
            kind,
            key: key.to_string(),
        })
    }

    pub fn spec(&self) -> String {
        format!("{}.{}", self.kind, self.key)
    }

    /// The order-by clause for this column, quoted so any key works.
    fn order_clause(&self, ascending: bool) -> String {
        format!(
            "{}.`{}` {}",
            self.kind,
            self.key.replace('`', ""),
            if ascending { "ASC" } else { "DESC" }
        )
    }

    fn cell(&self, run: &Run) -> Option<String> {
        match self.kind {
            "metrics" => run.metric(&self.key).map(number),
            "params" => run.param(&self.key).map(str::to_string),
            _ => run.tag(&self.key).map(str::to_string),
        }
    }
}

/// Every column the runs on this page could show, metrics first.
fn available_columns(runs: &[Run]) -> Vec<Column> {
    let mut metrics = std::collections::BTreeSet::new();
    let mut params = std::collections::BTreeSet::new();
    let mut tags = std::collections::BTreeSet::new();
    for run in runs {
        metrics.extend(run.metrics.iter().map(|m| m.key.clone()));
        params.extend(run.params.iter().map(|p| p.key.clone()));
        tags.extend(
            run.tags
                .iter()
                .filter(|t| !t.key.starts_with("mlflow."))
                .map(|t| t.key.clone()),
        );
    }
    let metrics = metrics.into_iter().map(|key| Column { kind: "metrics", key });
    let params = params.into_iter().map(|key| Column { kind: "params", key });
    let tags = tags.into_iter().map(|key| Column { kind: "tags", key });
    metrics.chain(params).chain(tags).collect()
}

/// The columns the URL asks for; by default the ones the filter and sort name come first,
/// then the first few metrics and params.
fn chosen_columns(cols: &str, named: &[Column], available: &[Column]) -> Vec<Column> {
    if !cols.is_empty() {
        return cols.split(',').filter_map(Column::parse).collect();
    }
    let metrics = available.iter().filter(|c| c.kind == "metrics").take(6);
    let params = available.iter().filter(|c| c.kind == "params").take(6);
    let mut chosen: Vec<Column> = named.to_vec();
    for col in metrics.chain(params) {
        if !chosen.contains(col) {
            chosen.push(col.clone());
        }
    }
    chosen
}

/// The `metrics.`, `params.` and `tags.` keys a filter or sort names, in order, once each
/// (plain, back-quoted or double-quoted keys).
pub fn columns_named_in(text: &str) -> Vec<Column> {
    let mut found: Vec<(usize, Column)> = Vec::new();
    let bytes = text.as_bytes();
    for kind in ["metrics", "params", "tags"] {
        let prefix = format!("{kind}.");
        let mut from = 0;
        while let Some(at) = text[from..].find(&prefix).map(|i| i + from) {
            from = at + prefix.len();
            let boundary = at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
            if !boundary {
                continue;
            }
            let rest = &text[from..];
            let key = match rest.chars().next() {
                Some(q @ ('`' | '"')) => rest[1..].split(q).next().filter(|_| rest[1..].contains(q)),
                _ => rest
                    .split(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':')))
                    .next(),
            };
            if let Some(key) = key.filter(|k| !k.is_empty()) {
                let col = Column {
                    kind,
                    key: key.to_string(),
                };
                if !found.iter().any(|(_, c)| *c == col) {
                    found.push((at, col));
                }
            }
        }
    }
    // The order they were written in, whatever their kind.
    found.sort_by_key(|(at, _)| *at);
    found.into_iter().map(|(_, c)| c).collect()
}

/// The tag MLflow sets on a child run.
pub const PARENT_TAG: &str = "mlflow.parentRunId";

/// One row of the nested table: which run, how deep, and how many children it has here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeRow {
    pub index: usize,
    pub depth: usize,
    pub children: usize,
}

fn parent_of(run: &Run) -> Option<&str> {
    run.tag(PARENT_TAG)
}

/// The page's runs as a tree, as MLflow's table shows them: a child whose parent is on the
/// page sits under it (shown when the parent is in `open`); the rest keep the page's order.
pub fn tree_rows(runs: &[Run], open: &[String]) -> Vec<TreeRow> {
    let on_page = |id: &str| runs.iter().any(|r| r.info.run_id == id);
    let children_of = |id: &str| -> Vec<usize> {
        (0..runs.len())
            .filter(|&i| parent_of(&runs[i]) == Some(id))
            .collect()
    };
    fn walk(
        runs: &[Run],
        index: usize,
        depth: usize,
        open: &[String],
        children_of: &dyn Fn(&str) -> Vec<usize>,
        out: &mut Vec<TreeRow>,
    ) {
        let id = runs[index].info.run_id.as_str();
        let children = children_of(id);
        out.push(TreeRow {
            index,
            depth,
            children: children.len(),
        });
        // Depth is bounded so a cycle of parent tags cannot recurse forever.
        if depth < 8 && open.iter().any(|o| o == id) {
            for child in children {
                walk(runs, child, depth + 1, open, children_of, out);
            }
        }
    }
    let mut out = Vec::with_capacity(runs.len());
    for (i, run) in runs.iter().enumerate() {
        let nested = parent_of(run).is_some_and(|p| p != run.info.run_id && on_page(p));
        if !nested {
            walk(runs, i, 0, open, &children_of, &mut out);
        }
    }
    out
}

#[component]
pub fn ExperimentRunsPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let state = move || QueryState::from(query.get());
    let experiment_id = move || params.read().get("id").unwrap_or_default();
    let actions = Actions::new();
    // While a run on the page is running, the table loads again every few seconds.
    let running = RwSignal::new(false);
    let tick = crate::components::refresh_tick(running.into());

    // Blocking: the response waits for it, so a missing one is a 404 on the wire, not a 200.
    let table = Resource::new_blocking(
        move || (experiment_id(), state(), actions.version(), tick.get()),
        |(id, s, _, _)| {
            experiment_runs(
                id,
                s.get("q"),
                s.get("sort"),
                s.get("page").parse().unwrap_or(0),
                s.get("after"),
                s.get("spans") == "1",
                s.get("deleted") == "1",
            )
        },
    );

    view! {
        <Title text="Runs"/>
        <section class="page">
            <Transition fallback=|| view! { <p class="loading">"Loading runs…"</p> }>
                {move || Suspend::new(async move {
                    let loaded = table.await;
                    let any_running = loaded.as_ref().is_ok_and(|t| {
                        t.runs.iter().any(|r| r.info.status == aiops_core::tracking::RunStatus::Running)
                    });
                    running.set(any_running);
                    match loaded {
                        Ok(t) => view! { <RunsView table=t state=state() actions/> }.into_any(),
                        Err(e) => view! { <RunsError error=e state=state() experiment_id=experiment_id()/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// A refused filter keeps the search box, with the reason beside it.
#[component]
fn RunsError(error: AppError, state: QueryState, experiment_id: String) -> impl IntoView {
    let is_input_error = matches!(error, AppError::Invalid(_));
    view! {
        <header class="page-header">
            <h1>"Runs"</h1>
            <a href=crate::base::url("/experiments")>"All experiments"</a>
        </header>
        {is_input_error.then(|| view! { <SearchBox state=state.clone()/> })}
        <p class="form-error search-error" role="alert" data-experiment=experiment_id>{error.to_string()}</p>
    }
}

/// Attributes and dataset fields the filter grammar knows, offered as the user types.
const FILTER_FIELDS: [&str; 12] = [
    "attributes.run_name",
    "attributes.status",
    "attributes.start_time",
    "attributes.end_time",
    "attributes.user_id",
    "attributes.run_id",
    "attributes.artifact_uri",
    "datasets.name",
    "datasets.digest",
    "datasets.context",
    "tags.`mlflow.parentRunId`",
    "tags.`mlflow.runName`",
];

/// What the filter grammar can name here: the fields above and the page's runs' keys
/// (back-quoted when they hold characters an identifier cannot).
fn filter_vocabulary(columns: &[Column]) -> Vec<String> {
    let mut out: Vec<String> = columns
        .iter()
        .map(|c| {
            let plain = c.key.chars().all(|ch| ch.is_alphanumeric() || ch == '_');
            if plain {
                format!("{}.{}", c.kind, c.key)
            } else {
                format!("{}.`{}`", c.kind, c.key.replace('`', ""))
            }
        })
        .collect();
    out.extend(FILTER_FIELDS.iter().map(|f| f.to_string()));
    out
}

/// Completions for the word being typed: the whole text with that word completed, as a
/// `<datalist>` offers them (the browser lists options containing what is typed).
pub fn complete(text: &str, vocabulary: &[String]) -> Vec<String> {
    let start = text
        .rfind(|c: char| c.is_whitespace() || c == '(')
        .map(|i| i + 1)
        .unwrap_or(0);
    let word = &text[start..];
    if word.is_empty() {
        return Vec::new();
    }
    let lower = word.to_lowercase();
    vocabulary
        .iter()
        .filter(|v| v.to_lowercase().starts_with(&lower) && v.as_str() != word)
        .take(20)
        .map(|v| format!("{}{v} ", &text[..start]))
        .collect()
}

#[component]
fn SearchBox(state: QueryState, #[prop(optional)] vocabulary: Vec<String>) -> impl IntoView {
    let current = state.get("q");
    let typed = RwSignal::new(current.clone());
    let vocabulary = StoredValue::new(vocabulary);
    let options = move || {
        vocabulary
            .with_value(|v| complete(&typed.get(), v))
            .into_iter()
            .map(|o| view! { <option value=o></option> })
            .collect_view()
    };
    view! {
        <form class="card search-form" method="get" action="">
            <label for="run-filter">"Filter runs"</label>
            <input
                id="run-filter"
                type="search"
                name="q"
                value=current
                placeholder="metrics.accuracy > 0.9 AND params.model = 'cnn'"
                autocomplete="off"
                list="run-filter-keys"
                on:input=move |e| typed.set(event_target_value(&e))
            />
            <datalist id="run-filter-keys">{options}</datalist>
            // Keep the rest of the view when the filter changes.
            {["sort", "cols", "sel", "spans", "deleted", "open"]
                .into_iter()
                .filter(|k| !state.get(k).is_empty())
                .map(|k| view! { <input type="hidden" name=k value=state.get(k)/> })
                .collect_view()}
            <button type="submit" class="button primary">"Search"</button>
        </form>
    }
}

#[component]
fn RunsView(table: RunsTable, state: QueryState, actions: Actions) -> impl IntoView {
    let available = available_columns(&table.runs);
    let named = columns_named_in(&format!("{} {}", state.get("q"), state.get("sort")));
    let columns = chosen_columns(&state.get("cols"), &named, &available);
    let selected: Vec<String> = state.list("sel");
    let sort = state.get("sort");
    let show_spans = state.get("spans") == "1";
    let page: i64 = state.get("page").parse().unwrap_or(0);
    let experiment = table.experiment.clone();
    let experiment_deleted = experiment.lifecycle_stage == aiops_core::tracking::LifecycleStage::Deleted;
    let note = experiment.tag(NOTE_TAG).unwrap_or_default().to_string();
    let experiment_tags: Vec<(String, String)> = experiment
        .tags
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    let compare_href = crate::base::url(&format!("/compare?runs={}", selected.join(",")));

    let header_cells = columns
        .iter()
        .map(|col| {
            let (next, marker) = sort_toggle(&sort, col.order_clause(true), col.order_clause(false));
            let href = with_query(&state, &[("sort", next.as_str()), ("page", ""), ("after", "")]);
            view! {
                <th scope="col" class=format!("col-{}", col.kind) data-column=col.spec()>
                    <a data-noscroll="" href=href class="sort-link">{col.key.clone()}{marker}</a>
                </th>
            }
        })
        .collect_view();

    // Run attributes sort like any other column; the default order is newest first.
    let attribute_headers = [
        ("Run", "run_name"),
        ("Status", "status"),
        ("Started", "start_time"),
    ]
    .into_iter()
    .map(|(label, attribute)| {
        let (next, marker) = sort_toggle(
            &sort,
            format!("attributes.{attribute} ASC"),
            format!("attributes.{attribute} DESC"),
        );
        let href = with_query(&state, &[("sort", next.as_str()), ("page", ""), ("after", "")]);
        view! {
            <th scope="col" data-column=format!("attributes.{attribute}")>
                <a data-noscroll="" href=href class="sort-link">{label}{marker}</a>
            </th>
        }
    })
    .collect_view();

    // Datasets get a column when any run on the page logged one; a chip filters by it.
    let show_datasets = table.runs.iter().any(|r| !r.inputs.dataset_inputs.is_empty());
    let dataset_chips = |run: &Run| {
        run.inputs
            .dataset_inputs
            .iter()
            .map(|input| {
                let name = input.dataset.name.clone();
                let label = match input.context() {
                    Some(context) => format!("{name} ({context})"),
                    None => name.clone(),
                };
                let filter = format!("datasets.name = '{}'", name.replace('\'', "''"));
                let href = with_query(&state, &[("q", filter.as_str()), ("page", ""), ("after", "")]);
                view! { <a href=href class="chip dataset" title=input.dataset.digest.clone()>{label}</a> }
            })
            .collect_view()
    };
    let open = state.list("open");
    let rows = tree_rows(&table.runs, &open)
        .into_iter()
        .map(|TreeRow { index, depth, children }| {
            let run = &table.runs[index];
            let id = run.info.run_id.clone();
            let is_selected = selected.contains(&id);
            let mut next_selection = selected.clone();
            if is_selected {
                next_selection.retain(|s| s != &id);
            } else {
                next_selection.push(id.clone());
            }
            let is_open = open.contains(&id);
            let expander = (children > 0).then(|| {
                let mut next_open = open.clone();
                if is_open {
                    next_open.retain(|o| o != &id);
                } else {
                    next_open.push(id.clone());
                }
                let href = with_query(&state, &[("open", next_open.join(",").as_str())]);
                let label = format!("{} {children}", if is_open { "▾" } else { "▸" });
                let title = format!("{} {children} child run{}", if is_open { "Hide" } else { "Show" }, if children == 1 { "" } else { "s" });
                view! { <a data-noscroll="" href=href class="expander" aria-expanded=is_open.to_string() title=title>{label}</a> }
            });
            let deleted = run.info.lifecycle_stage == aiops_core::tracking::LifecycleStage::Deleted;
            let toggle_href = with_query(&state, &[("sel", next_selection.join(",").as_str())]);
            let cells = columns
                .iter()
                .map(|col| {
                    let value = col.cell(run).unwrap_or_default();
                    let span = (show_spans && col.kind == "metrics")
                        .then(|| table.spans.iter().find(|s| s.run_id == id && s.key == col.key))
                        .flatten()
                        .map(|s| format!("{} … {}", number(s.min), number(s.max)));
                    view! {
                        <td class=if col.kind == "metrics" { "num" } else { "" }>
                            {value}
                            {span.map(|s| view! { <span class="span">{s}</span> })}
                        </td>
                    }
                })
                .collect_view();
            view! {
                <tr class:selected=is_selected class:child={depth > 0} class:deleted=deleted data-run-id=id.clone() data-depth=depth.to_string()>
                    <td class="select">
                        <SelectToggle href=toggle_href checked=is_selected label=run.info.run_name.clone()/>
                    </td>
                    <td class="name" style=format!("padding-left: {}px", 12 + depth * 18)>
                        {(depth > 0).then(|| view! { <span class="branch" aria-hidden="true">"↳ "</span> })}
                        <a href=crate::base::url(&format!("/runs/{id}")) title=run.info.run_name.clone()>{run.info.run_name.clone()}</a>
                        {expander}
                        {deleted.then(|| view! { <span class="status status-deleted">"deleted"</span> })}
                    </td>
                    <td><span class=format!("status status-{}", run.info.status.as_str().to_lowercase())>{run.info.status.as_str()}</span></td>
                    <td class="time">{timestamp_utc(run.info.start_time)}</td>
                    {show_datasets.then(|| view! { <td class="datasets">{dataset_chips(run)}</td> })}
                    {cells}
                </tr>
            }
        })
        .collect_view();

    let column_picker = available
        .iter()
        .map(|col| {
            let spec = col.spec();
            let shown = columns.contains(col);
            let mut next: Vec<String> = columns.iter().map(Column::spec).collect();
            if shown {
                next.retain(|s| s != &spec);
            } else {
                next.push(spec.clone());
            }
            let href = with_query(&state, &[("cols", next.join(",").as_str())]);
            view! {
                <a data-noscroll="" href=href class=if shown { "chip on" } else { "chip" } data-column=spec>
                    {format!("{}: {}", &col.kind[..col.kind.len() - 1], col.key)}
                </a>
            }
        })
        .collect_view();

    let spans_href = with_query(&state, &[("spans", if show_spans { "" } else { "1" })]);
    let show_deleted = state.get("deleted") == "1";
    let deleted_href = with_query(
        &state,
        &[
            ("deleted", if show_deleted { "" } else { "1" }),
            ("page", ""),
            ("after", ""),
        ],
    );
    // The default order pages by keyset (fast at any depth), the URL keeping the trail of
    // cursors; other orders page by number.
    let keyset = sort.is_empty();
    let trail = state.list("after");
    let cursor = table
        .runs
        .last()
        .map(|r| format!("{}:{}", r.info.start_time, r.info.run_id));
    let page_index = if keyset { trail.len() as i64 } else { page };
    let first_href = (page_index > 0).then(|| with_query(&state, &[("page", ""), ("after", "")]));
    let prev_href = (page_index > 0).then(|| {
        if keyset {
            let back = trail[..trail.len() - 1].join(",");
            with_query(&state, &[("after", back.as_str())])
        } else {
            with_query(&state, &[("page", (page - 1).to_string().as_str())])
        }
    });
    let next_href = match (table.has_more, keyset, cursor) {
        (true, true, Some(cursor)) => {
            let mut next = trail.clone();
            next.push(cursor);
            Some(with_query(&state, &[("after", next.join(",").as_str())]))
        }
        (true, false, _) => Some(with_query(
            &state,
            &[("page", page.saturating_add(1).to_string().as_str())],
        )),
        _ => None,
    };
    let pages = (table.total.max(1) + PAGE_SIZE - 1) / PAGE_SIZE;
    let position = if let Some(examined) = table.total_examined {
        format!(
            "Page {} · {}{} matching runs among the newest {} (more may match in older runs)",
            page_index.saturating_add(1),
            if table.total_capped { "more than " } else { "" },
            crate::format::thousands(table.total),
            crate::format::thousands(examined)
        )
    } else if table.total_capped {
        format!(
            "Page {} · more than {} matching runs",
            page_index.saturating_add(1),
            crate::format::thousands(table.total)
        )
    } else {
        format!(
            "Page {} of {} · {} matching run{}",
            page_index.saturating_add(1),
            pages,
            crate::format::thousands(table.total),
            if table.total == 1 { "" } else { "s" }
        )
    };
    let run_count = table.runs.len();
    // The same search, every matching run, as a file: the columns shown, in their order.
    let csv_href = {
        let cols: Vec<String> = columns.iter().map(Column::spec).collect();
        crate::base::url(&format!(
            "/ajax-api/2.0/aiops/runs/export-csv?experiment_id={}&filter={}&order_by={}&columns={}",
            crate::view_state::encode(&experiment.experiment_id),
            crate::view_state::encode(&state.get("q")),
            crate::view_state::encode(&sort),
            crate::view_state::encode(&cols.join(",")),
        ))
    };

    view! {
        <Title text=experiment.name.clone()/>
        <header class="page-header">
            <div>
                <a href=crate::base::url("/experiments") class="crumb">"Experiments"</a>
                <h1>{experiment.name.clone()}</h1>
                {experiment_deleted.then(|| view! { <span class="status status-deleted" id="deleted-badge">"deleted"</span> })}
            </div>
            <div class="actions">
                <a href=csv_href class="button" id="download-csv" download="" rel="external">"Download CSV"</a>
                <a data-noscroll="" href=deleted_href class="button" id="toggle-deleted">{if show_deleted { "Hide deleted" } else { "Show deleted" }}</a>
                <a data-noscroll="" href=spans_href class="button">{if show_spans { "Hide min/max" } else { "Show min/max" }}</a>
                {if selected.len() >= 2 {
                    view! { <a href=compare_href class="button primary" id="compare-link">{format!("Compare {} runs", selected.len())}</a> }.into_any()
                } else {
                    view! { <span class="hint">"Select two or more runs to compare"</span> }.into_any()
                }}
            </div>
        </header>
        <ManagePanel
            target=Target::Experiment(experiment.experiment_id.clone())
            name=experiment.name.clone()
            deleted=experiment_deleted
            tags=experiment_tags
            allowed=table.allowed
            actions
        />
        {(table.description_html.is_some() || table.allowed.edit).then(|| view! {
            <Description
                target=Target::Experiment(experiment.experiment_id.clone())
                html=table.description_html.clone()
                source=note.clone()
                allowed=table.allowed
                actions
            />
        })}
        <SearchBox state=state.clone() vocabulary=filter_vocabulary(&available)/>
        {table.filter_error.clone().map(|reason| view! { <p class="form-error search-error" role="alert">{reason}</p> })}
        <details class="card columns">
            <summary>"Columns"</summary>
            <div class="chips">{column_picker}</div>
        </details>
        {if run_count == 0 {
            view! { <p class="empty">"No runs match."</p> }.into_any()
        } else {
            view! {
                <div class="table-scroll">
                    <table class="table runs-table" id="runs-table">
                        <thead>
                            <tr>
                                <th scope="col" class="select"></th>
                                {attribute_headers}
                                {show_datasets.then(|| view! { <th scope="col">"Datasets"</th> })}
                                {header_cells}
                            </tr>
                        </thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            }.into_any()
        }}
        <nav class="pager" aria-label="Pages">
            {first_href.map(|h| view! { <a href=h class="button">"⇤ First"</a> })}
            {prev_href.map(|h| view! { <a href=h class="button" id="prev-page" rel="prev">"← Previous"</a> })}
            <span class="hint" id="page-position">{position}</span>
            {next_href.map(|h| view! { <a href=h class="button" id="next-page" rel="next">"Next →"</a> })}
        </nav>
    }
}

/// The order a header click asks for next (descending first, then ascending) and the
/// marker showing the current one.
fn sort_toggle(current: &str, asc: String, desc: String) -> (String, &'static str) {
    if current == desc {
        (asc, " ▼")
    } else if current == asc {
        (desc, " ▲")
    } else {
        (desc, "")
    }
}

/// A checkbox that is really a link: selection lives in the URL.
#[component]
fn SelectToggle(href: String, checked: bool, label: String) -> impl IntoView {
    let navigate = leptos_router::hooks::use_navigate();
    let target = href.clone();
    view! {
        <input
            type="checkbox"
            aria-label=format!("Select {label}")
            prop:checked=checked
            on:change=move |_| navigate(&target, NavigateOptions { scroll: false, replace: true, ..Default::default() })
        />
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, parent: Option<&str>) -> Run {
        let mut run: Run = serde_json::from_value(serde_json::json!({
            "info": {"run_id": id, "experiment_id": "1", "run_name": id, "user_id": "", "status": "FINISHED",
                     "start_time": 0, "end_time": null, "artifact_uri": "", "lifecycle_stage": "active"},
            "params": [], "tags": [], "metrics": []
        }))
        .unwrap();
        if let Some(p) = parent {
            run.tags.push(aiops_core::tracking::RunTag {
                key: PARENT_TAG.into(),
                value: p.into(),
            });
        }
        run
    }

    #[test]
    fn children_nest_under_their_parent_when_open() {
        let runs = vec![
            run("c1", Some("p")),
            run("p", None),
            run("c2", Some("p")),
            run("g", Some("c2")),
            run("o", Some("elsewhere")),
        ];
        let shape = |open: &[&str]| -> Vec<(usize, usize, usize)> {
            let open: Vec<String> = open.iter().map(|s| s.to_string()).collect();
            tree_rows(&runs, &open)
                .into_iter()
                .map(|r| (r.index, r.depth, r.children))
                .collect()
        };
        // Closed: the parent (2 children) and the orphan whose parent is not on the page.
        assert_eq!(shape(&[]), vec![(1, 0, 2), (4, 0, 0)]);
        assert_eq!(shape(&["p"]), vec![(1, 0, 2), (0, 1, 0), (2, 1, 1), (4, 0, 0)]);
        assert_eq!(
            shape(&["p", "c2"]),
            vec![(1, 0, 2), (0, 1, 0), (2, 1, 1), (3, 2, 0), (4, 0, 0)]
        );
        // A run naming itself as parent is still shown.
        assert_eq!(tree_rows(&[run("x", Some("x"))], &[]).len(), 1);
    }

    #[test]
    fn completes_the_word_being_typed() {
        let vocabulary = vec![
            "metrics.acc".to_string(),
            "metrics.loss".into(),
            "params.lr".into(),
        ];
        assert_eq!(
            complete("met", &vocabulary),
            vec!["metrics.acc ", "metrics.loss "]
        );
        assert_eq!(
            complete("metrics.acc > 1 AND pa", &vocabulary),
            vec!["metrics.acc > 1 AND params.lr "]
        );
        assert_eq!(complete("(PARAMS.L", &vocabulary), vec!["(params.lr "]);
        assert!(complete("metrics.acc > 1 ", &vocabulary).is_empty());
        assert!(complete("metrics.acc", &vocabulary).is_empty());
    }

    #[test]
    fn filter_and_sort_name_their_columns() {
        let named =
            columns_named_in("metrics.acc > 0.9 AND params.`learning rate` = '1' metrics.`loss` DESC");
        let specs: Vec<String> = named.iter().map(Column::spec).collect();
        assert_eq!(specs, vec!["metrics.acc", "params.learning rate", "metrics.loss"]);
        assert!(columns_named_in("attributes.status = 'FINISHED'").is_empty());
        assert!(columns_named_in("xmetrics.a > 1").is_empty());
        assert_eq!(columns_named_in("tags.team = 'a' AND tags.team != 'b'").len(), 1);
    }
}
