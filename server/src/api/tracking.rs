//! MLflow tracking endpoints: experiments, runs, metrics, params, tags and searches.

use aiops_core::service::AppState;

use crate::auth::Caller;
use aiops_core::search::{parse_experiment_filter, parse_experiment_order_by, parse_filter, parse_order_by};
use aiops_core::store::{ExperimentSearch, RunSearch};
use aiops_core::tracking::{
    Dataset, DatasetInput, ExperimentTag, LifecycleStage, Metric, ModelOutput, NewRun, Param, RunStatus,
    RunTag, RunUpdate, ViewType,
};
use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};

use super::artifacts::validate_artifact_location;
use super::error::{ApiError, ApiResult};
use super::request::Fields;
use super::wire;

type Reply = ApiResult<Json<Value>>;

const MAX_SEARCH_RESULTS: i64 = 50_000;
const DEFAULT_SEARCH_RESULTS: i64 = 1_000;
/// The client asks for 25,000 points per history page.
const MAX_HISTORY_PAGE: i64 = 25_000;

fn empty() -> Reply {
    Ok(Json(json!({})))
}

fn tags_of(fields: &Fields) -> ApiResult<Vec<(String, String)>> {
    fields
        .objects("tags")?
        .iter()
        .map(|t| Ok((t.required_str("key")?, t.str("value")?.unwrap_or_default())))
        .collect()
}

fn max_results(fields: &Fields, default: i64, max: i64) -> ApiResult<i64> {
    let n = fields.i64("max_results")?.unwrap_or(default);
    if n < 1 || n > max {
        return Err(ApiError::invalid(format!(
            "Invalid value {n} for parameter 'max_results' supplied. It must be at most {max} and at least 1."
        )));
    }
    Ok(n)
}

fn view_type(fields: &Fields, key: &str) -> ApiResult<ViewType> {
    match fields.str(key)? {
        None => Ok(ViewType::ActiveOnly),
        Some(v) => {
            ViewType::parse(&v).ok_or_else(|| ApiError::invalid(format!("Invalid value '{v}' for {key}")))
        }
    }
}

// ---- experiments ----------------------------------------------------------------------

pub async fn create_experiment(
    State(state): State<AppState>,
    Caller(actor): Caller,
    fields: Fields,
) -> Reply {
    let name = fields.required_str("name")?;
    let location = fields.str("artifact_location")?.filter(|l| !l.is_empty());
    if let Some(location) = &location {
        validate_artifact_location(location)?;
    }
    let tags: Vec<ExperimentTag> = tags_of(&fields)?
        .into_iter()
        .map(|(key, value)| ExperimentTag { key, value })
        .collect();
    let id = state
        .create_experiment(&actor, &name, location.as_deref(), &tags)
        .await?;
    Ok(Json(json!({ "experiment_id": id })))
}

pub async fn get_experiment(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let id = fields.required_str("experiment_id")?;
    let experiment = state.get_experiment(&actor, &id).await?;
    Ok(Json(json!({ "experiment": wire::experiment(&experiment) })))
}

pub async fn get_experiment_by_name(
    State(state): State<AppState>,
    Caller(actor): Caller,
    fields: Fields,
) -> Reply {
    let name = fields.required_str("experiment_name")?;
    let experiment = state.get_experiment_by_name(&actor, &name).await?;
    Ok(Json(json!({ "experiment": wire::experiment(&experiment) })))
}

pub async fn search_experiments(
    State(state): State<AppState>,
    Caller(actor): Caller,
    fields: Fields,
) -> Reply {
    let search = ExperimentSearch {
        filter: parse_experiment_filter(&fields.str("filter")?.unwrap_or_default())?,
        view: view_type(&fields, "view_type")?,
        order_by: fields
            .str_list("order_by")?
            .iter()
            .map(|o| parse_experiment_order_by(o))
            .collect::<Result<_, _>>()?,
        max_results: max_results(&fields, DEFAULT_SEARCH_RESULTS, MAX_SEARCH_RESULTS)?,
        offset: wire::parse_page_token(fields.str("page_token")?.as_deref())?,
    };
    let page = state.search_experiments(&actor, &search).await?;
    let mut body = Map::new();
    if !page.items.is_empty() {
        body.insert(
            "experiments".into(),
            page.items.iter().map(wire::experiment).collect(),
        );
    }
    if page.has_more {
        body.insert(
            "next_page_token".into(),
            json!(wire::page_token(search.offset + search.max_results)),
        );
    }
    Ok(Json(Value::Object(body)))
}

pub async fn update_experiment(
    State(state): State<AppState>,
    Caller(actor): Caller,
    fields: Fields,
) -> Reply {
    let id = fields.required_str("experiment_id")?;
    if let Some(new_name) = fields.str("new_name")?.filter(|n| !n.is_empty()) {
        state.rename_experiment(&actor, &id, &new_name).await?;
    }
    empty()
}

pub async fn delete_experiment(
    State(state): State<AppState>,
    Caller(actor): Caller,
    fields: Fields,
) -> Reply {
    let id = fields.required_str("experiment_id")?;
    state
        .set_experiment_lifecycle(&actor, &id, LifecycleStage::Deleted)
        .await?;
    empty()
}

pub async fn restore_experiment(
    State(state): State<AppState>,
    Caller(actor): Caller,
    fields: Fields,
) -> Reply {
    let id = fields.required_str("experiment_id")?;
    state
        .set_experiment_lifecycle(&actor, &id, LifecycleStage::Active)
        .await?;
    empty()
}

pub async fn set_experiment_tag(
    State(state): State<AppState>,
    Caller(actor): Caller,
    fields: Fields,
) -> Reply {
    let id = fields.required_str("experiment_id")?;
    let key = fields.required_str("key")?;
    let value = fields.str("value")?.unwrap_or_default();
    state.set_experiment_tag(&actor, &id, &key, &value).await?;
    empty()
}

// ---- runs -----------------------------------------------------------------------------

pub async fn create_run(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let tags = tags_of(&fields)?
        .into_iter()
        .map(|(key, value)| RunTag { key, value })
        .collect();
    let run = state
        .create_run(
            &actor,
            NewRun {
                experiment_id: fields
                    .str("experiment_id")?
                    .filter(|e| !e.is_empty())
                    .unwrap_or_else(|| "0".into()),
                user_id: fields.str("user_id")?.unwrap_or_default(),
                run_name: fields.str("run_name")?,
                start_time: fields.i64("start_time")?.unwrap_or(0),
                tags,
            },
        )
        .await?;
    Ok(Json(json!({ "run": wire::run(&run) })))
}

pub async fn get_run(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let run = state.get_run(&actor, &fields.run_id()?).await?;
    Ok(Json(json!({ "run": wire::run(&run) })))
}

pub async fn update_run(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let run_id = fields.run_id()?;
    let status = match fields.str("status")? {
        None => None,
        Some(s) => {
            Some(RunStatus::parse(&s).ok_or_else(|| ApiError::invalid(format!("Invalid run status '{s}'")))?)
        }
    };
    let info = state
        .update_run(
            &actor,
            &run_id,
            RunUpdate {
                status,
                end_time: fields.i64("end_time")?,
                run_name: fields.str("run_name")?,
            },
        )
        .await?;
    Ok(Json(json!({ "run_info": wire::run_info(&info) })))
}

pub async fn delete_run(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    state
        .set_run_lifecycle(&actor, &fields.run_id()?, LifecycleStage::Deleted)
        .await?;
    empty()
}

pub async fn restore_run(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    state
        .set_run_lifecycle(&actor, &fields.run_id()?, LifecycleStage::Active)
        .await?;
    empty()
}

fn metric_of(m: &Fields) -> ApiResult<Metric> {
    Ok(Metric {
        key: m.required_str("key")?,
        value: m.f64("value")?.ok_or_else(|| ApiError::missing("value"))?,
        timestamp: m
            .i64("timestamp")?
            .ok_or_else(|| ApiError::missing("timestamp"))?,
        step: m.i64("step")?.unwrap_or(0),
    })
}

pub async fn log_batch(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let run_id = fields.run_id()?;
    let metrics = fields
        .objects("metrics")?
        .iter()
        .map(metric_of)
        .collect::<ApiResult<Vec<_>>>()?;
    let params = fields
        .objects("params")?
        .iter()
        .map(|p| {
            Ok(Param {
                key: p.required_str("key")?,
                value: p.str("value")?.unwrap_or_default(),
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let tags = tags_of(&fields)?
        .into_iter()
        .map(|(key, value)| RunTag { key, value })
        .collect::<Vec<_>>();
    state.log_batch(&actor, &run_id, &metrics, &params, &tags).await?;
    empty()
}

pub async fn log_metric(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let run_id = fields.run_id()?;
    let metric = metric_of(&fields)?;
    state.log_batch(&actor, &run_id, &[metric], &[], &[]).await?;
    empty()
}

pub async fn log_param(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let run_id = fields.run_id()?;
    let param = Param {
        key: fields.required_str("key")?,
        value: fields.str("value")?.unwrap_or_default(),
    };
    state.log_batch(&actor, &run_id, &[], &[param], &[]).await?;
    empty()
}

pub async fn set_tag(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let run_id = fields.run_id()?;
    let tag = RunTag {
        key: fields.required_str("key")?,
        value: fields.str("value")?.unwrap_or_default(),
    };
    state.log_batch(&actor, &run_id, &[], &[], &[tag]).await?;
    empty()
}

pub async fn delete_tag(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let run_id = fields.run_id()?;
    state
        .delete_tag(&actor, &run_id, &fields.required_str("key")?)
        .await?;
    empty()
}

fn dataset_input_of(input: &Fields) -> ApiResult<DatasetInput> {
    let dataset = input
        .object("dataset")?
        .ok_or_else(|| ApiError::missing("dataset"))?;
    let text = |key: &str| -> ApiResult<String> { Ok(dataset.str(key)?.unwrap_or_default()) };
    Ok(DatasetInput {
        tags: tags_of(input)?
            .into_iter()
            .map(|(key, value)| RunTag { key, value })
            .collect(),
        dataset: Dataset {
            name: text("name")?,
            digest: text("digest")?,
            source_type: text("source_type")?,
            source: text("source")?,
            schema: dataset.str("schema")?,
            profile: dataset.str("profile")?,
        },
    })
}

/// `mlflow.log_input`: datasets (and logged models) the run read.
pub async fn log_inputs(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let run_id = fields.run_id()?;
    let datasets = fields
        .objects("datasets")?
        .iter()
        .map(dataset_input_of)
        .collect::<ApiResult<Vec<_>>>()?;
    let models = fields
        .objects("models")?
        .iter()
        .map(|m| m.required_str("model_id"))
        .collect::<ApiResult<Vec<_>>>()?;
    state.log_inputs(&actor, &run_id, &datasets, &models).await?;
    empty()
}

/// Logged models the run produced (`log_model` in MLflow 3).
pub async fn log_outputs(State(state): State<AppState>, Caller(actor): Caller, fields: Fields) -> Reply {
    let run_id = fields.run_id()?;
    let models = fields
        .objects("models")?
        .iter()
        .map(|m| {
            Ok(ModelOutput {
                model_id: m.required_str("model_id")?,
                step: m.i64("step")?.unwrap_or(0),
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    state.log_outputs(&actor, &run_id, &models).await?;
    empty()
}

pub async fn search_runs(
    State(state): State<AppState>,
    Caller(actor): Caller,
    fields: Fields,
) -> ApiResult<Json<RunsPage>> {
    let search = RunSearch {
        experiment_ids: fields.str_list("experiment_ids")?,
        filter: parse_filter(&fields.str("filter")?.unwrap_or_default())?,
        view: view_type(&fields, "run_view_type")?,
        order_by: fields
            .str_list("order_by")?
            .iter()
            .map(|o| parse_order_by(o))
            .collect::<Result<_, _>>()?,
        max_results: max_results(&fields, DEFAULT_SEARCH_RESULTS, MAX_SEARCH_RESULTS)?,
        offset: wire::parse_page_token(fields.str("page_token")?.as_deref())?,
        after: wire::parse_run_page_cursor(fields.str("page_token")?.as_deref())?,
    };
    let page = state.search_runs(&actor, &search).await?;
    // In the default order the token also carries where this page ended (keyset).
    let next_page_token = page.has_more.then(|| {
        let last = page
            .items
            .last()
            .filter(|_| search.order_by.is_empty())
            .map(|r| (r.info.start_time, r.info.run_id.as_str()));
        wire::run_page_token(search.offset + search.max_results, last)
    });
    Ok(Json(RunsPage {
        next_page_token,
        runs: page.items,
    }))
}

/// A page of `search_runs`, written straight to the reply (see [`wire::RunOut`]).
#[derive(serde::Serialize)]
pub struct RunsPage {
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "wire::runs")]
    runs: Vec<aiops_core::tracking::Run>,
}

/// Sampled points of several runs, each with its run's id (see [`wire::MetricOut`]).
#[derive(serde::Serialize)]
pub struct BulkPage {
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "wire::run_metrics")]
    metrics: Vec<(String, aiops_core::tracking::Metric)>,
}

/// A page of a metric's history, written straight to the reply (see [`wire::MetricOut`]).
#[derive(serde::Serialize)]
pub struct MetricsPage {
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "wire::metrics")]
    metrics: Vec<aiops_core::tracking::Metric>,
}

/// `GET /api/2.0/aiops/runs/export-csv?experiment_id=&filter=&order_by=&columns=`: the
/// runs table a user is looking at, as a CSV download (`columns` as the page names them,
/// comma-separated; none means every metric and param).
pub async fn export_runs_csv(
    State(state): State<AppState>,
    Caller(actor): Caller,
    fields: Fields,
) -> ApiResult<axum::response::Response> {
    use aiops_core::service::export::ExportColumn;
    use axum::http::{header, HeaderValue};
    use axum::response::IntoResponse;

    let experiment_id = fields.required_str("experiment_id")?;
    let order_by = match fields.str("order_by")? {
        Some(o) if !o.trim().is_empty() => vec![parse_order_by(&o)?],
        _ => Vec::new(),
    };
    let search = RunSearch {
        experiment_ids: vec![experiment_id.clone()],
        filter: parse_filter(&fields.str("filter")?.unwrap_or_default())?,
        view: view_type(&fields, "run_view_type")?,
        order_by,
        ..RunSearch::default()
    };
    let mut columns = Vec::new();
    for spec in fields
        .str("columns")?
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
    {
        columns.push(ExportColumn::parse(spec).ok_or_else(|| {
            ApiError::invalid(format!(
                "Invalid column '{spec}': use metrics.<key>, params.<key> or tags.<key>"
            ))
        })?);
    }
    let csv = state.export_runs_csv(&actor, &search, &columns).await?;
    let mut response = csv.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let digits: String = experiment_id.chars().filter(char::is_ascii_digit).collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"runs-{digits}.csv\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

// ---- metrics --------------------------------------------------------------------------

/// `GET /api/2.0/aiops/metrics/history-csv?run_id=&metric_key=`: a metric's whole history
/// as CSV, streamed (see [`AppState::metric_history_csv`]).
pub async fn export_metric_history_csv(
    State(state): State<AppState>,
    Caller(actor): Caller,
    fields: Fields,
) -> ApiResult<axum::response::Response> {
    use axum::http::{header, HeaderValue};
    use axum::response::IntoResponse;

    let run_id = fields.run_id()?;
    let key = fields.required_str("metric_key")?;
    let csv = state.metric_history_csv(actor, run_id, key.clone()).await?;
    let mut response = axum::body::Body::from_stream(csv).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let safe: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}.csv\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

pub async fn get_metric_history(
    State(state): State<AppState>,
    Caller(actor): Caller,
    fields: Fields,
) -> ApiResult<Json<MetricsPage>> {
    let run_id = fields.run_id()?;
    let key = fields.required_str("metric_key")?;
    let limit = max_results(&fields, MAX_HISTORY_PAGE, MAX_HISTORY_PAGE)?;
    let token = fields.str("page_token")?;
    let offset = wire::parse_page_token(token.as_deref())?;
    // Our own tokens carry the last point, so the next page starts there (offset 0 past it).
    let after = wire::parse_history_cursor(token.as_deref(), &key)?;
    let skip = if after.is_some() { 0 } else { offset };
    let points = state
        .get_metric_history_page(&actor, &run_id, &key, after.as_ref(), skip, limit + 1)
        .await?;
    let page = aiops_core::store::Page::from_overfetch(points, limit);
    let next_page_token = page
        .items
        .last()
        .filter(|_| page.has_more)
        .map(|last| wire::history_page_token(offset + limit, last));
    Ok(Json(MetricsPage {
        next_page_token,
        metrics: page.items,
    }))
}

pub async fn get_metric_history_bulk_interval(
    State(state): State<AppState>,
    Caller(actor): Caller,
    fields: Fields,
) -> ApiResult<Json<BulkPage>> {
    let run_ids = fields.str_list("run_ids")?;
    if run_ids.is_empty() {
        return Err(ApiError::missing("run_ids"));
    }
    if run_ids.len() > 100 {
        return Err(ApiError::invalid("At most 100 run_ids may be requested at once"));
    }
    let key = fields.required_str("metric_key")?;
    let max_points = usize::try_from(max_results(&fields, 320, 2_500)?).unwrap_or(320);
    let range = match (fields.i64("start_step")?, fields.i64("end_step")?) {
        (None, None) => None,
        (start, end) => Some((start.unwrap_or(i64::MIN), end.unwrap_or(i64::MAX))),
    };
    if let Some((start, end)) = range {
        if start > end {
            return Err(ApiError::invalid(
                "end_step must be greater than or equal to start_step",
            ));
        }
    }
    let points = state
        .get_metric_history_sampled(&actor, &run_ids, &key, range, max_points)
        .await?;
    Ok(Json(BulkPage { metrics: points }))
}
