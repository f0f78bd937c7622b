//! The stores: one interface per area (tracking, auth), both implemented by one SQL
//! store over SQLite or PostgreSQL.

pub mod auth;
pub mod deployments;
pub mod registry;
mod sql;
pub mod webhooks;

/// Every store trait, for calling store methods on a concrete store.
pub mod prelude {
    pub use super::auth::AuthStore;
    pub use super::deployments::DeploymentStore;
    pub use super::registry::RegistryStore;
    pub use super::webhooks::WebhookStore;
    pub use super::{
        Database, ExperimentStore, LoggedModelStore, MetricStore, RunStore, SearchStore, TrackingStore,
    };
}

pub use sql::migrate::{self, MigrationMode, SchemaStatus};
pub use sql::{Backend, SqlTrackingStore};

use std::sync::Arc;

use crate::search::{Filter, OrderBy};
use crate::tracking::{DatasetInput, LoggedModel, ModelOutput, NewLoggedModel};
use crate::tracking::{
    Experiment, ExperimentSummary, ExperimentTag, LifecycleStage, Metric, NewRun, Param, Run, RunInfo,
    RunTag, RunUpdate, ViewType,
};
use crate::CoreResult;

/// What any store answers: which database it is and whether it is up.
#[async_trait::async_trait]
pub trait Database: Send + Sync {
    /// Which database is behind the store.
    fn backend(&self) -> Backend;
    /// Checks that the database answers (readiness).
    async fn ping(&self) -> CoreResult<()>;
}

/// Experiments: create, read, rename, delete/restore, tag.
#[async_trait::async_trait]
pub trait ExperimentStore: Send + Sync {
    /// Creates an experiment; `artifact_location` defaults to `mlflow-artifacts:/<id>`.
    /// The `owner`, if any, is granted MANAGE in the same transaction.
    async fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[ExperimentTag],
        owner: Option<i64>,
    ) -> CoreResult<String>;
    async fn get_experiment(&self, experiment_id: &str) -> CoreResult<Experiment>;
    async fn get_experiment_by_name(&self, name: &str) -> CoreResult<Experiment>;
    /// Active experiments with run counts, most recently updated first.
    async fn list_experiment_summaries(&self) -> CoreResult<Vec<ExperimentSummary>>;
    async fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> CoreResult<()>;
    async fn set_experiment_lifecycle(&self, experiment_id: &str, stage: LifecycleStage) -> CoreResult<()>;
    async fn set_experiment_tag(&self, experiment_id: &str, key: &str, value: &str) -> CoreResult<()>;
}

/// Runs and what is logged to them: metrics, params, tags, inputs and outputs.
#[async_trait::async_trait]
pub trait RunStore: Send + Sync {
    async fn create_run(&self, run: NewRun) -> CoreResult<Run>;
    async fn get_run(&self, run_id: &str) -> CoreResult<Run>;
    /// Several runs in one read, in the order given; unknown ids are left out.
    async fn get_runs(&self, run_ids: &[String]) -> CoreResult<Vec<Run>>;
    async fn update_run(&self, run_id: &str, update: RunUpdate) -> CoreResult<RunInfo>;
    async fn set_run_lifecycle(&self, run_id: &str, stage: LifecycleStage) -> CoreResult<()>;
    /// Runs of an experiment, newest first (ties by run id), at most `limit`.
    async fn list_runs(&self, experiment_id: &str, limit: i64) -> CoreResult<Vec<RunInfo>>;

    /// Logs metrics, params and tags atomically: all of the batch or none of it.
    async fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[RunTag],
    ) -> CoreResult<()>;
    async fn delete_tag(&self, run_id: &str, key: &str) -> CoreResult<()>;
    /// Records datasets and logged models an active run read. A dataset is stored once per
    /// experiment by (name, digest); logging one again to the same run changes nothing.
    async fn log_inputs(
        &self,
        run_id: &str,
        datasets: &[DatasetInput],
        model_ids: &[String],
    ) -> CoreResult<()>;
    /// Records logged models an active run produced.
    async fn log_outputs(&self, run_id: &str, models: &[ModelOutput]) -> CoreResult<()>;
}

/// Metric histories: paged, sampled for charts, and their ranges.
#[async_trait::async_trait]
pub trait MetricStore: Send + Sync {
    /// The full history of one metric, by step then timestamp.
    async fn get_metric_history(&self, run_id: &str, key: &str) -> CoreResult<Vec<Metric>>;
    /// One page of a metric's history: `limit` points after the point `after` (the last
    /// of the previous page, if the caller has it), skipping `offset` more.
    async fn get_metric_history_page(
        &self,
        run_id: &str,
        key: &str,
        after: Option<&Metric>,
        offset: i64,
        limit: i64,
    ) -> CoreResult<Vec<Metric>>;
    /// Histories of one metric for several runs, each sampled down to at most
    /// `max_points` steps spread evenly over its range (first and last kept), for charts.
    async fn get_metric_history_sampled(
        &self,
        run_ids: &[String],
        key: &str,
        step_range: Option<(i64, i64)>,
        max_points: usize,
    ) -> CoreResult<Vec<(String, Metric)>>;

    /// Min and max over the whole history of every metric of these runs.
    async fn metric_ranges(&self, run_ids: &[String]) -> CoreResult<Vec<MetricRange>>;
}

/// Searches over runs and experiments (filters compiled to bound SQL).
#[async_trait::async_trait]
pub trait SearchStore: Send + Sync {
    /// Runs matching a search, in the requested order.
    async fn search_runs(&self, search: &RunSearch) -> CoreResult<RunPage>;
    /// How many runs match a search (paging and order ignored), in bounded time: counting
    /// no further than `cap` matches, and with a filter, looking at no more than `examine`
    /// runs (the newest), since each costs the filter's checks. See [`RunCount`].
    async fn count_runs(&self, search: &RunSearch, cap: i64, examine: i64) -> CoreResult<RunCount>;
    /// Experiments matching a search, in the requested order.
    async fn search_experiments(&self, search: &ExperimentSearch) -> CoreResult<ExperimentPage>;
}

/// MLflow 3 logged models.
#[async_trait::async_trait]
pub trait LoggedModelStore: Send + Sync {
    async fn create_logged_model(&self, model: NewLoggedModel) -> CoreResult<LoggedModel>;
    async fn get_logged_model(&self, model_id: &str) -> CoreResult<LoggedModel>;
    async fn set_logged_model_status(&self, model_id: &str, status: &str) -> CoreResult<LoggedModel>;
    async fn set_logged_model_tags(&self, model_id: &str, tags: &[RunTag]) -> CoreResult<()>;
    async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> CoreResult<()>;
    async fn log_logged_model_params(&self, model_id: &str, params: &[Param]) -> CoreResult<()>;
    async fn delete_logged_model(&self, model_id: &str) -> CoreResult<()>;
    /// Logged models of these experiments matching `filter`, newest first.
    async fn search_logged_models(
        &self,
        experiment_ids: &[String],
        filter: Option<&Filter>,
        max_results: i64,
        offset: i64,
    ) -> CoreResult<LoggedModelPage>;
}

/// The whole tracking store: every area above, implemented by one SQL store.
pub trait TrackingStore:
    Database + ExperimentStore + RunStore + MetricStore + SearchStore + LoggedModelStore
{
}

impl<T: Database + ExperimentStore + RunStore + MetricStore + SearchStore + LoggedModelStore> TrackingStore
    for T
{
}

#[derive(Clone, Debug, PartialEq)]
pub struct MetricRange {
    pub run_id: String,
    pub key: String,
    pub min: f64,
    pub max: f64,
}

/// A run search, already parsed and validated.
#[derive(Clone, Debug, Default)]
pub struct RunSearch {
    pub experiment_ids: Vec<String>,
    pub filter: Option<Filter>,
    pub view: ViewType,
    pub order_by: Vec<OrderBy>,
    pub max_results: i64,
    pub offset: i64,
    /// Keyset paging for the default order (newest first): start after this
    /// `(start_time, run_id)`. Ignored when `order_by` is given.
    pub after: Option<(i64, String)>,
}

/// One page of a search: the items, and whether more follow.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Page {
            items: Vec::new(),
            has_more: false,
        }
    }
}

impl<T> Page<T> {
    /// A page from a read that asked for one row more than `max_results`: that extra row,
    /// when it came, only says that more follow.
    pub fn from_overfetch(mut items: Vec<T>, max_results: i64) -> Page<T> {
        let has_more = items.len() as i64 > max_results;
        items.truncate(usize::try_from(max_results).unwrap_or(0));
        Page { items, has_more }
    }
}

pub type RunPage = Page<Run>;

/// A bounded count of the runs a search matches ([`SearchStore::count_runs`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunCount {
    /// Matches counted, at most the cap.
    pub matched: i64,
    /// More than `matched` match: the cap was reached.
    pub more: bool,
    /// With a filter, the search reaches past the runs that were examined: `matched` counts
    /// the matches among this many (the newest) only, and more may match further on.
    pub examined: Option<i64>,
}
pub type ExperimentPage = Page<Experiment>;
pub type LoggedModelPage = Page<LoggedModel>;

#[derive(Clone, Debug, Default)]
pub struct ExperimentSearch {
    pub filter: Option<Filter>,
    pub view: ViewType,
    pub order_by: Vec<OrderBy>,
    pub max_results: i64,
    pub offset: i64,
}

/// Opens the store named by a database URL (`sqlite://…` or `postgres://…`) and migrates it.
pub async fn open_store(database_url: &str) -> CoreResult<Arc<SqlTrackingStore>> {
    Ok(Arc::new(SqlTrackingStore::connect(database_url).await?))
}

/// Opens the store, dealing with the schema as `mode` says; also says where the schema stands.
pub async fn open_store_with(
    database_url: &str,
    mode: MigrationMode,
) -> CoreResult<(Arc<SqlTrackingStore>, SchemaStatus)> {
    let (store, status) = SqlTrackingStore::connect_with(database_url, mode).await?;
    Ok((Arc::new(store), status))
}
