//! Tracking operations: experiments, runs, metrics, searches and logged models, each
//! checked against the caller's permission on the experiment it belongs to.

use super::AppState;
use crate::artifacts::ArtifactPath;
use crate::auth::{Access, Actor, ResourceKind};
use crate::search::Filter;
use crate::store::{
    ExperimentPage, ExperimentSearch, LoggedModelPage, MetricRange, RunCount, RunPage, RunSearch,
};
use crate::tracking::{
    DatasetInput, Experiment, ExperimentSummary, ExperimentTag, LifecycleStage, LoggedModel, Metric,
    ModelOutput, NewLoggedModel, NewRun, Param, Run, RunInfo, RunTag, RunUpdate,
};
use crate::CoreResult;

impl AppState {
    // ---- experiments ----------------------------------------------------------------

    /// Any signed-in user may create an experiment, and holds MANAGE on it (MLflow's rule).
    pub async fn create_experiment(
        &self,
        actor: &Actor,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[ExperimentTag],
    ) -> CoreResult<String> {
        self.signed_in(actor)?;
        if let Some(location) = artifact_location {
            self.check_artifact_location(actor, &ArtifactPath::from_uri(location)?)?;
        }
        self.tracking
            .create_experiment(name, artifact_location, tags, actor.user_id)
            .await
    }

    pub async fn get_experiment(&self, actor: &Actor, experiment_id: &str) -> CoreResult<Experiment> {
        self.check_experiment(actor, experiment_id, Access::Read).await?;
        self.tracking.get_experiment(experiment_id).await
    }

    pub async fn get_experiment_by_name(&self, actor: &Actor, name: &str) -> CoreResult<Experiment> {
        let experiment = self.tracking.get_experiment_by_name(name).await?;
        self.check_experiment(actor, &experiment.experiment_id, Access::Read)
            .await?;
        Ok(experiment)
    }

    /// The experiments the actor may read, with run counts.
    pub async fn list_experiment_summaries(&self, actor: &Actor) -> CoreResult<Vec<ExperimentSummary>> {
        let grants = self.grants(actor, ResourceKind::Experiment).await?;
        let mut all = self.tracking.list_experiment_summaries().await?;
        all.retain(|e| self.can_read(actor, &grants, &e.experiment_id));
        Ok(all)
    }

    /// A search, without the experiments the actor may not read (as MLflow filters them).
    pub async fn search_experiments(
        &self,
        actor: &Actor,
        search: &ExperimentSearch,
    ) -> CoreResult<ExperimentPage> {
        let grants = self.grants(actor, ResourceKind::Experiment).await?;
        let mut page = self.tracking.search_experiments(search).await?;
        page.items
            .retain(|e| self.can_read(actor, &grants, &e.experiment_id));
        Ok(page)
    }

    pub async fn rename_experiment(
        &self,
        actor: &Actor,
        experiment_id: &str,
        new_name: &str,
    ) -> CoreResult<()> {
        self.check_experiment(actor, experiment_id, Access::Update)
            .await?;
        self.tracking.rename_experiment(experiment_id, new_name).await
    }

    pub async fn set_experiment_lifecycle(
        &self,
        actor: &Actor,
        experiment_id: &str,
        stage: LifecycleStage,
    ) -> CoreResult<()> {
        self.check_experiment(actor, experiment_id, Access::Delete)
            .await?;
        self.tracking.set_experiment_lifecycle(experiment_id, stage).await
    }

    pub async fn set_experiment_tag(
        &self,
        actor: &Actor,
        experiment_id: &str,
        key: &str,
        value: &str,
    ) -> CoreResult<()> {
        self.check_experiment(actor, experiment_id, Access::Update)
            .await?;
        self.tracking.set_experiment_tag(experiment_id, key, value).await
    }

    // ---- runs -----------------------------------------------------------------------

    pub async fn create_run(&self, actor: &Actor, run: NewRun) -> CoreResult<Run> {
        self.signed_in(actor)?;
        self.check_experiment(actor, &run.experiment_id, Access::Update)
            .await?;
        self.tracking.create_run(run).await
    }

    pub async fn get_run(&self, actor: &Actor, run_id: &str) -> CoreResult<Run> {
        self.check_run(actor, run_id, Access::Read).await?;
        self.tracking.get_run(run_id).await
    }

    pub async fn update_run(&self, actor: &Actor, run_id: &str, update: RunUpdate) -> CoreResult<RunInfo> {
        self.check_run(actor, run_id, Access::Update).await?;
        self.tracking.update_run(run_id, update).await
    }

    pub async fn set_run_lifecycle(
        &self,
        actor: &Actor,
        run_id: &str,
        stage: LifecycleStage,
    ) -> CoreResult<()> {
        self.check_run(actor, run_id, Access::Delete).await?;
        self.tracking.set_run_lifecycle(run_id, stage).await
    }

    pub async fn list_runs(
        &self,
        actor: &Actor,
        experiment_id: &str,
        limit: i64,
    ) -> CoreResult<Vec<RunInfo>> {
        self.check_experiment(actor, experiment_id, Access::Read).await?;
        self.tracking.list_runs(experiment_id, limit).await
    }

    pub async fn log_batch(
        &self,
        actor: &Actor,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[RunTag],
    ) -> CoreResult<()> {
        self.check_run(actor, run_id, Access::Update).await?;
        self.tracking.log_batch(run_id, metrics, params, tags).await
    }

    pub async fn delete_tag(&self, actor: &Actor, run_id: &str, key: &str) -> CoreResult<()> {
        self.check_run(actor, run_id, Access::Update).await?;
        self.tracking.delete_tag(run_id, key).await
    }

    pub async fn log_inputs(
        &self,
        actor: &Actor,
        run_id: &str,
        datasets: &[DatasetInput],
        model_ids: &[String],
    ) -> CoreResult<()> {
        self.check_run(actor, run_id, Access::Update).await?;
        self.tracking.log_inputs(run_id, datasets, model_ids).await
    }

    pub async fn log_outputs(&self, actor: &Actor, run_id: &str, models: &[ModelOutput]) -> CoreResult<()> {
        self.check_run(actor, run_id, Access::Update).await?;
        self.tracking.log_outputs(run_id, models).await
    }

    // ---- metrics and searches -------------------------------------------------------

    pub async fn get_metric_history_page(
        &self,
        actor: &Actor,
        run_id: &str,
        key: &str,
        after: Option<&Metric>,
        offset: i64,
        limit: i64,
    ) -> CoreResult<Vec<Metric>> {
        self.check_run(actor, run_id, Access::Read).await?;
        self.tracking
            .get_metric_history_page(run_id, key, after, offset, limit)
            .await
    }

    /// Sampled histories of several runs; every run must be readable.
    pub async fn get_metric_history_sampled(
        &self,
        actor: &Actor,
        run_ids: &[String],
        key: &str,
        step_range: Option<(i64, i64)>,
        max_points: usize,
    ) -> CoreResult<Vec<(String, Metric)>> {
        for run_id in run_ids {
            self.check_run(actor, run_id, Access::Read).await?;
        }
        self.tracking
            .get_metric_history_sampled(run_ids, key, step_range, max_points)
            .await
    }

    pub async fn metric_ranges(&self, actor: &Actor, run_ids: &[String]) -> CoreResult<Vec<MetricRange>> {
        for run_id in run_ids {
            self.check_run(actor, run_id, Access::Read).await?;
        }
        self.tracking.metric_ranges(run_ids).await
    }

    /// Every experiment searched must be readable (one read of the caller's grants).
    pub async fn search_runs(&self, actor: &Actor, search: &RunSearch) -> CoreResult<RunPage> {
        self.check_experiments(actor, &search.experiment_ids, Access::Read)
            .await?;
        self.tracking.search_runs(search).await
    }

    /// How many runs a search matches, in bounded time (see [`SearchStore::count_runs`]).
    pub async fn count_runs(
        &self,
        actor: &Actor,
        search: &RunSearch,
        cap: i64,
        examine: i64,
    ) -> CoreResult<RunCount> {
        self.check_experiments(actor, &search.experiment_ids, Access::Read)
            .await?;
        self.tracking.count_runs(search, cap, examine).await
    }

    // ---- logged models --------------------------------------------------------------

    pub async fn create_logged_model(&self, actor: &Actor, model: NewLoggedModel) -> CoreResult<LoggedModel> {
        self.signed_in(actor)?;
        self.check_experiment(actor, &model.experiment_id, Access::Update)
            .await?;
        self.tracking.create_logged_model(model).await
    }

    pub async fn get_logged_model(&self, actor: &Actor, model_id: &str) -> CoreResult<LoggedModel> {
        self.check_logged_model(actor, model_id, Access::Read).await?;
        self.tracking.get_logged_model(model_id).await
    }

    pub async fn set_logged_model_status(
        &self,
        actor: &Actor,
        model_id: &str,
        status: &str,
    ) -> CoreResult<LoggedModel> {
        self.check_logged_model(actor, model_id, Access::Update).await?;
        self.tracking.set_logged_model_status(model_id, status).await
    }

    pub async fn set_logged_model_tags(
        &self,
        actor: &Actor,
        model_id: &str,
        tags: &[RunTag],
    ) -> CoreResult<()> {
        self.check_logged_model(actor, model_id, Access::Update).await?;
        self.tracking.set_logged_model_tags(model_id, tags).await
    }

    pub async fn delete_logged_model_tag(&self, actor: &Actor, model_id: &str, key: &str) -> CoreResult<()> {
        self.check_logged_model(actor, model_id, Access::Update).await?;
        self.tracking.delete_logged_model_tag(model_id, key).await
    }

    pub async fn log_logged_model_params(
        &self,
        actor: &Actor,
        model_id: &str,
        params: &[Param],
    ) -> CoreResult<()> {
        self.check_logged_model(actor, model_id, Access::Update).await?;
        self.tracking.log_logged_model_params(model_id, params).await
    }

    pub async fn delete_logged_model(&self, actor: &Actor, model_id: &str) -> CoreResult<()> {
        self.check_logged_model(actor, model_id, Access::Delete).await?;
        self.tracking.delete_logged_model(model_id).await
    }

    pub async fn search_logged_models(
        &self,
        actor: &Actor,
        experiment_ids: &[String],
        filter: Option<&Filter>,
        max_results: i64,
        offset: i64,
    ) -> CoreResult<LoggedModelPage> {
        self.check_experiments(actor, experiment_ids, Access::Read)
            .await?;
        self.tracking
            .search_logged_models(experiment_ids, filter, max_results, offset)
            .await
    }
}
