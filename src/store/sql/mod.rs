//! The SQL tracking store over sqlx's `Any` driver.
//!
//! The two databases share every query: the schema uses only types both read the same
//! way (BIGINT/INTEGER, TEXT, DOUBLE/REAL). What differs per database lives here in
//! [`Backend`]: migrations, connection set-up, and SQLite's single writer.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor, Row};
use tokio::sync::{Mutex, MutexGuard};

mod auth;

use super::{ExperimentPage, ExperimentSearch, MetricRange, RunPage, RunSearch, TrackingStore};
use crate::search::sql::{
    compile_experiment_order, compile_filter, compile_run_order, Bind, SqlBuilder, Subject,
};
use crate::search::Filter;
use crate::tracking::{
    Dataset, DatasetInput, Experiment, ExperimentSummary, ExperimentTag, LifecycleStage, LoggedModel, Metric,
    ModelOutput, NewLoggedModel, NewRun, Param, Run, RunInfo, RunInputs, RunOutputs, RunStatus, RunTag,
    RunUpdate, LOGGED_MODEL_STATUSES, RUN_NAME_TAG,
};
use crate::validation;
use crate::{now_millis, CoreError, CoreResult};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Rows per multi-row INSERT: keeps bind parameters well under both databases' limits.
const INSERT_CHUNK: usize = 500;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> CoreResult<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(CoreError::Config(
                "database URL must start with sqlite: or postgres:// (postgresql://)".into(),
            ))
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

pub struct SqlTrackingStore {
    /// Reads.
    pool: AnyPool,
    /// Writes, apart from the readers' pool so a crowd of searches can never hold every
    /// connection while a write waits (SQLite: its one writer connection).
    write_pool: AnyPool,
    backend: Backend,
    /// SQLite allows one writer; taking turns here avoids SQLITE_BUSY on lock upgrades.
    write_lock: Option<Mutex<()>>,
}

/// The writer's turn (SQLite) and its open transaction, taken together by [`SqlTrackingStore::write_tx`].
type WriteTx<'a> = (Option<MutexGuard<'a, ()>>, sqlx::Transaction<'static, sqlx::Any>);

impl SqlTrackingStore {
    /// Connects, applies the pending migrations, and returns the store.
    pub async fn connect(database_url: &str) -> CoreResult<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(database_url)?;
        let options = AnyConnectOptions::from_str(database_url)
            .map_err(|e| CoreError::Config(format!("invalid database URL: {e}")))?;
        let pool_options = || {
            AnyPoolOptions::new()
                .acquire_timeout(Duration::from_secs(5))
                .test_before_acquire(true)
        };
        let (pool, write_pool) = match backend {
            Backend::Sqlite => {
                let sqlite = |max: u32| {
                    pool_options().max_connections(max).after_connect(|conn, _meta| {
                        Box::pin(async move {
                            for pragma in [
                                "PRAGMA journal_mode = WAL",
                                "PRAGMA synchronous = NORMAL",
                                "PRAGMA busy_timeout = 10000",
                                "PRAGMA foreign_keys = ON",
                                // MLflow's LIKE is case-sensitive; ILIKE is the insensitive one.
                                "PRAGMA case_sensitive_like = ON",
                            ] {
                                conn.execute(pragma).await?;
                            }
                            Ok(())
                        })
                    })
                };
                // The writer connects first, so the database file and WAL mode exist
                // before the readers open it.
                let write_pool = sqlite(1).connect_with(options.clone()).await?;
                SQLITE_MIGRATIONS.run(&write_pool).await?;
                (sqlite(8).connect_with(options).await?, write_pool)
            }
            Backend::Postgres => {
                // Writes get connections of their own here too, so readers can't queue them out.
                let write_pool = pool_options()
                    .max_connections(4)
                    .connect_with(options.clone())
                    .await?;
                POSTGRES_MIGRATIONS.run(&write_pool).await?;
                (
                    pool_options().max_connections(16).connect_with(options).await?,
                    write_pool,
                )
            }
        };
        Ok(SqlTrackingStore {
            pool,
            write_pool,
            backend,
            write_lock: (backend == Backend::Sqlite).then(|| Mutex::new(())),
        })
    }

    /// The readers' pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The only way to write: the writer's turn and a transaction on the writer's
    /// connection, together. Dropping it without `commit` rolls back, then lets go of the turn.
    async fn write_tx(&self) -> CoreResult<WriteTx<'_>> {
        let turn = match &self.write_lock {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        let tx = self.write_pool.begin().await?;
        Ok((turn, tx))
    }

    async fn experiment_where(&self, clause: &str, bind: BindValue<'_>) -> CoreResult<Option<Experiment>> {
        let sql = format!(
            "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time \
             FROM experiments WHERE {clause}"
        );
        let query = sqlx::query(&sql);
        let query = match bind {
            BindValue::Int(v) => query.bind(v),
            BindValue::Text(v) => query.bind(v),
        };
        let Some(row) = query.fetch_optional(&self.pool).await? else {
            return Ok(None);
        };
        let id: i64 = row.try_get("experiment_id")?;
        let tags =
            sqlx::query("SELECT key, value FROM experiment_tags WHERE experiment_id = $1 ORDER BY key")
                .bind(id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| {
                    Ok(ExperimentTag {
                        key: r.try_get("key")?,
                        value: r.try_get("value")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(Some(Experiment {
            experiment_id: id.to_string(),
            name: row.try_get("name")?,
            artifact_location: row.try_get("artifact_location")?,
            lifecycle_stage: stage_from(&row.try_get::<String, _>("lifecycle_stage")?),
            creation_time: row.try_get("creation_time")?,
            last_update_time: row.try_get("last_update_time")?,
            tags,
        }))
    }

    async fn run_info(&self, run_id: &str) -> CoreResult<RunInfo> {
        run_info_on(&self.pool, run_id).await
    }

    async fn active_run(&self, run_id: &str) -> CoreResult<RunInfo> {
        active_run_on(&self.pool, run_id).await
    }

    /// One metric's points with steps in `steps`, by step, timestamp and value, paged.
    /// They come back as one aggregated JSON value: rows cross from SQLite's worker
    /// thread one at a time, which made long histories cost microseconds per point.
    async fn metric_points(
        &self,
        run_id: &str,
        key: &str,
        steps: (i64, i64),
        offset: i64,
        limit: i64,
    ) -> CoreResult<Vec<Metric>> {
        let aggregate = json_rows(
            self.backend,
            &format!("{}, timestamp, step, is_nan", exact_value_text(self.backend)),
        );
        let sql = format!(
            "SELECT {aggregate} AS points FROM (SELECT value, timestamp, step, is_nan FROM metrics \
             WHERE run_uuid = $1 AND key = $2 AND step >= $3 AND step <= $4 \
             ORDER BY step, timestamp, value LIMIT $5 OFFSET $6) x"
        );
        let json: String = sqlx::query(&sql)
            .bind(run_id)
            .bind(key)
            .bind(steps.0)
            .bind(steps.1)
            .bind(limit)
            .bind(offset)
            .fetch_one(&self.pool)
            .await?
            .try_get("points")?;
        let rows: Vec<(String, i64, i64, i64)> =
            serde_json::from_str(&json).map_err(|_| aggregate_error("metric history"))?;
        let mut points = rows
            .into_iter()
            .map(|(value, timestamp, step, is_nan)| {
                Ok(Metric {
                    key: key.to_string(),
                    value: stored_double(&value, is_nan)?,
                    timestamp,
                    step,
                })
            })
            .collect::<CoreResult<Vec<_>>>()?;
        // Aggregates need not keep their input's order; the page itself was chosen in order.
        points.sort_by(history_order);
        Ok(points)
    }
}

enum BindValue<'a> {
    Int(i64),
    Text(&'a str),
}

const RUN_COLUMNS: &str =
    "run_uuid, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri";

fn stage_from(s: &str) -> LifecycleStage {
    LifecycleStage::parse(s).unwrap_or(LifecycleStage::Active)
}

fn run_info_from(row: &AnyRow) -> CoreResult<RunInfo> {
    let experiment_id: i64 = row.try_get("experiment_id")?;
    Ok(RunInfo {
        run_id: row.try_get("run_uuid")?,
        experiment_id: experiment_id.to_string(),
        run_name: row.try_get("name")?,
        user_id: row.try_get("user_id")?,
        status: RunStatus::parse(&row.try_get::<String, _>("status")?).unwrap_or_default(),
        start_time: row.try_get("start_time")?,
        end_time: row.try_get("end_time")?,
        artifact_uri: row.try_get("artifact_uri")?,
        lifecycle_stage: stage_from(&row.try_get::<String, _>("lifecycle_stage")?),
    })
}

/// A run's info, read on `executor`: the readers' pool, or a write transaction when the
/// check guards that write.
async fn run_info_on<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    executor: E,
    run_id: &str,
) -> CoreResult<RunInfo> {
    let row = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_uuid = $1"))
        .bind(run_id)
        .fetch_optional(executor)
        .await?
        .ok_or_else(|| run_not_found(run_id))?;
    run_info_from(&row)
}

/// Like [`run_info_on`], refusing a deleted run.
async fn active_run_on<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    executor: E,
    run_id: &str,
) -> CoreResult<RunInfo> {
    let info = run_info_on(executor, run_id).await?;
    if info.lifecycle_stage != LifecycleStage::Active {
        return Err(CoreError::InvalidParameter(format!(
            "The run {run_id} must be in the 'active' state. Current state is {}.",
            info.lifecycle_stage.as_str()
        )));
    }
    Ok(info)
}

fn run_not_found(run_id: &str) -> CoreError {
    CoreError::NotFound(format!("Run with id={run_id} not found"))
}

fn experiment_not_found(experiment_id: &str) -> CoreError {
    CoreError::NotFound(format!("No Experiment with id={experiment_id} exists"))
}

/// Experiment ids are decimal strings on the wire; anything else names no experiment.
fn parse_experiment_id(experiment_id: &str) -> CoreResult<i64> {
    experiment_id
        .trim()
        .parse::<i64>()
        .map_err(|_| experiment_not_found(experiment_id))
}

/// The experiments a search names, deduplicated; ids that are not numbers match nothing.
/// A list longer than MLflow's clients ever send is refused (each id is a bound value).
fn experiment_id_list(ids: &[String]) -> CoreResult<Vec<i64>> {
    if ids.len() > validation::MAX_SEARCH_EXPERIMENT_IDS {
        return Err(CoreError::InvalidParameter(format!(
            "A search may name at most {} experiment ids; got {}",
            validation::MAX_SEARCH_EXPERIMENT_IDS,
            ids.len()
        )));
    }
    let mut parsed: Vec<i64> = ids.iter().filter_map(|id| id.trim().parse().ok()).collect();
    parsed.sort_unstable();
    parsed.dedup();
    Ok(parsed)
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// NaN is stored as 0 with a flag: SQLite turns NaN into NULL.
fn stored_value(value: f64) -> (f64, i64) {
    if value.is_nan() {
        (0.0, 1)
    } else {
        (value, 0)
    }
}

/// A history's order, as stored: step, then timestamp, then value (NaN counts as 0).
fn history_order(a: &Metric, b: &Metric) -> std::cmp::Ordering {
    (a.step, a.timestamp)
        .cmp(&(b.step, b.timestamp))
        .then(stored_value(a.value).0.total_cmp(&stored_value(b.value).0))
}

/// MLflow's "latest" point: the last in history order.
fn is_later(a: &Metric, b: &Metric) -> bool {
    history_order(a, b) == std::cmp::Ordering::Greater
}

fn validate_batch(metrics: &[Metric], params: &[Param], tags: &[RunTag]) -> CoreResult<()> {
    let invalid = CoreError::InvalidParameter;
    if metrics.len() > validation::MAX_METRICS_PER_BATCH {
        return Err(invalid(format!(
            "A batch logging request can contain at most {} metrics. Got {} metrics.",
            validation::MAX_METRICS_PER_BATCH,
            metrics.len()
        )));
    }
    if params.len() + tags.len() > validation::MAX_PARAMS_TAGS_PER_BATCH {
        return Err(invalid(format!(
            "A batch logging request can contain at most {} params and tags. Got {} params and tags.",
            validation::MAX_PARAMS_TAGS_PER_BATCH,
            params.len() + tags.len()
        )));
    }
    if metrics.len() + params.len() + tags.len() > validation::MAX_ENTITIES_PER_BATCH {
        return Err(invalid(format!(
            "A batch logging request can contain at most {} metrics, params and tags in total.",
            validation::MAX_ENTITIES_PER_BATCH
        )));
    }
    for m in metrics {
        validation::entity_key("Metric", &m.key).map_err(invalid)?;
    }
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for p in params {
        validation::entity_key("Param", &p.key).map_err(invalid)?;
        if p.value.chars().count() > validation::MAX_PARAM_VALUE_LENGTH {
            return Err(invalid(format!(
                "Param value for key '{}' exceeds the maximum length of {}",
                p.key,
                validation::MAX_PARAM_VALUE_LENGTH
            )));
        }
        if let Some(previous) = seen.insert(&p.key, &p.value) {
            if previous != p.value {
                return Err(invalid(format!(
                    "Duplicate parameter keys with different values in one batch: '{}'",
                    p.key
                )));
            }
        }
    }
    for t in tags {
        validation::entity_key("Tag", &t.key).map_err(invalid)?;
        if t.value.chars().count() > validation::MAX_TAG_VALUE_LENGTH {
            return Err(invalid(format!(
                "Tag value for key '{}' exceeds the maximum length of {}",
                t.key,
                validation::MAX_TAG_VALUE_LENGTH
            )));
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl TrackingStore for SqlTrackingStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn ping(&self) -> CoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[ExperimentTag],
        owner: Option<i64>,
    ) -> CoreResult<String> {
        let name = validation::experiment_name(name).map_err(CoreError::InvalidParameter)?;
        for tag in tags {
            validation::experiment_tag(&tag.key, &tag.value).map_err(CoreError::InvalidParameter)?;
        }
        let now = now_millis();
        let (_writer, mut tx) = self.write_tx().await?;
        let inserted = sqlx::query(
            "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) \
             VALUES ($1, $2, 'active', $3, $3) RETURNING experiment_id",
        )
        .bind(&name)
        .bind(artifact_location.unwrap_or(""))
        .bind(now)
        .fetch_one(&mut *tx)
        .await;
        let id: i64 = match inserted {
            Ok(row) => row.try_get("experiment_id")?,
            Err(e) if is_unique_violation(&e) => {
                return Err(CoreError::AlreadyExists(format!(
                    "Experiment(name={name}) already exists."
                )))
            }
            Err(e) => return Err(e.into()),
        };
        if artifact_location.is_none() {
            sqlx::query("UPDATE experiments SET artifact_location = $1 WHERE experiment_id = $2")
                .bind(format!("mlflow-artifacts:/{id}"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        for tag in tags {
            sqlx::query(
                "INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
            )
            .bind(id)
            .bind(&tag.key)
            .bind(&tag.value)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(owner) = owner {
            sqlx::query(
                "INSERT INTO experiment_permissions (experiment_id, user_id, permission) VALUES ($1, $2, 'MANAGE')",
            )
            .bind(id)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(id.to_string())
    }

    async fn get_experiment(&self, experiment_id: &str) -> CoreResult<Experiment> {
        let id = parse_experiment_id(experiment_id)?;
        self.experiment_where("experiment_id = $1", BindValue::Int(id))
            .await?
            .ok_or_else(|| experiment_not_found(experiment_id))
    }

    async fn get_experiment_by_name(&self, name: &str) -> CoreResult<Experiment> {
        self.experiment_where("name = $1", BindValue::Text(name))
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("Could not find experiment with name '{name}'")))
    }

    async fn list_experiment_summaries(&self) -> CoreResult<Vec<ExperimentSummary>> {
        let rows = sqlx::query(
            "SELECT e.experiment_id, e.name, e.last_update_time, \
               (SELECT COUNT(*) FROM runs r WHERE r.experiment_id = e.experiment_id \
                  AND r.lifecycle_stage = 'active') AS run_count, \
               (SELECT MAX(r.start_time) FROM runs r WHERE r.experiment_id = e.experiment_id) AS last_run_start \
             FROM experiments e WHERE e.lifecycle_stage = 'active'",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut summaries = rows
            .iter()
            .map(|row| {
                let id: i64 = row.try_get("experiment_id")?;
                let updated: i64 = row.try_get("last_update_time")?;
                let last_run: Option<i64> = row.try_get("last_run_start")?;
                Ok(ExperimentSummary {
                    experiment_id: id.to_string(),
                    name: row.try_get("name")?,
                    run_count: row.try_get("run_count")?,
                    last_update_time: updated.max(last_run.unwrap_or(0)),
                })
            })
            .collect::<CoreResult<Vec<_>>>()?;
        summaries.sort_by(|a, b| {
            b.last_update_time
                .cmp(&a.last_update_time)
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(summaries)
    }

    async fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> CoreResult<()> {
        let id = parse_experiment_id(experiment_id)?;
        let new_name = validation::experiment_name(new_name).map_err(CoreError::InvalidParameter)?;
        let (_writer, mut tx) = self.write_tx().await?;
        let result =
            sqlx::query("UPDATE experiments SET name = $1, last_update_time = $2 WHERE experiment_id = $3")
                .bind(&new_name)
                .bind(now_millis())
                .bind(id)
                .execute(&mut *tx)
                .await;
        match result {
            Ok(done) if done.rows_affected() == 0 => Err(experiment_not_found(experiment_id)),
            Ok(_) => Ok(tx.commit().await?),
            Err(e) if is_unique_violation(&e) => Err(CoreError::AlreadyExists(format!(
                "Experiment(name={new_name}) already exists."
            ))),
            Err(e) => Err(e.into()),
        }
    }

    async fn set_experiment_lifecycle(&self, experiment_id: &str, stage: LifecycleStage) -> CoreResult<()> {
        let id = parse_experiment_id(experiment_id)?;
        if id == 0 && stage == LifecycleStage::Deleted {
            return Err(CoreError::InvalidParameter(
                "Cannot delete the default experiment '0'.".into(),
            ));
        }
        let (_writer, mut tx) = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE experiments SET lifecycle_stage = $1, last_update_time = $2 WHERE experiment_id = $3",
        )
        .bind(stage.as_str())
        .bind(now_millis())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if done.rows_affected() == 0 {
            return Err(experiment_not_found(experiment_id));
        }
        Ok(())
    }

    async fn set_experiment_tag(&self, experiment_id: &str, key: &str, value: &str) -> CoreResult<()> {
        let id = parse_experiment_id(experiment_id)?;
        validation::experiment_tag(key, value).map_err(CoreError::InvalidParameter)?;
        let experiment = self.get_experiment(experiment_id).await?;
        if experiment.lifecycle_stage != LifecycleStage::Active {
            return Err(CoreError::InvalidParameter(format!(
                "The experiment {experiment_id} must be in the 'active' state."
            )));
        }
        let (_writer, mut tx) = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
        )
        .bind(id)
        .bind(key)
        .bind(value)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_run(&self, run: NewRun) -> CoreResult<Run> {
        validation::user_id(&run.user_id).map_err(CoreError::InvalidParameter)?;
        let experiment = self.get_experiment(&run.experiment_id).await?;
        if experiment.lifecycle_stage != LifecycleStage::Active {
            return Err(CoreError::InvalidParameter(format!(
                "The experiment {} must be in the 'active' state. Current state is deleted.",
                run.experiment_id
            )));
        }
        let run_id = uuid::Uuid::new_v4().simple().to_string();
        // The name comes from run_name, else the mlflow.runName tag, else a generated one.
        let tag_name = run
            .tags
            .iter()
            .find(|t| t.key == RUN_NAME_TAG)
            .map(|t| t.value.clone());
        let name = run
            .run_name
            .clone()
            .filter(|n| !n.is_empty())
            .or(tag_name)
            .unwrap_or_else(|| generated_run_name(&run_id));
        let start_time = if run.start_time > 0 {
            run.start_time
        } else {
            now_millis()
        };
        let artifact_uri = format!(
            "{}/{run_id}/artifacts",
            experiment.artifact_location.trim_end_matches('/')
        );
        let mut tags: Vec<RunTag> = run.tags.into_iter().filter(|t| t.key != RUN_NAME_TAG).collect();
        tags.push(RunTag {
            key: RUN_NAME_TAG.into(),
            value: name.clone(),
        });
        validate_batch(&[], &[], &tags)?;

        let experiment_id = parse_experiment_id(&experiment.experiment_id)?;
        {
            let (_writer, mut tx) = self.write_tx().await?;
            sqlx::query(
                "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, end_time, \
                 lifecycle_stage, artifact_uri) VALUES ($1, $2, $3, $4, $5, $6, NULL, 'active', $7)",
            )
            .bind(&run_id)
            .bind(experiment_id)
            .bind(&name)
            .bind(&run.user_id)
            .bind(RunStatus::Running.as_str())
            .bind(start_time)
            .bind(&artifact_uri)
            .execute(&mut *tx)
            .await?;
            insert_tags(self.backend, &mut tx, &run_id, &tags).await?;
            tx.commit().await?;
        }
        self.get_run(&run_id).await
    }

    async fn get_run(&self, run_id: &str) -> CoreResult<Run> {
        self.get_runs(&[run_id.to_string()])
            .await?
            .pop()
            .ok_or_else(|| run_not_found(run_id))
    }

    async fn update_run(&self, run_id: &str, update: RunUpdate) -> CoreResult<RunInfo> {
        let info = self.active_run(run_id).await?;
        if let Some(name) = &update.run_name {
            if name.chars().count() > validation::MAX_TAG_VALUE_LENGTH {
                return Err(CoreError::InvalidParameter("run_name is too long".into()));
            }
        }
        {
            let (_writer, mut tx) = self.write_tx().await?;
            sqlx::query("UPDATE runs SET status = $1, end_time = $2, name = $3 WHERE run_uuid = $4")
                .bind(update.status.unwrap_or(info.status).as_str())
                .bind(update.end_time.or(info.end_time))
                .bind(
                    update
                        .run_name
                        .as_deref()
                        .filter(|n| !n.is_empty())
                        .unwrap_or(&info.run_name),
                )
                .bind(run_id)
                .execute(&mut *tx)
                .await?;
            if let Some(name) = update.run_name.as_deref().filter(|n| !n.is_empty()) {
                insert_tags(
                    self.backend,
                    &mut tx,
                    run_id,
                    &[RunTag {
                        key: RUN_NAME_TAG.into(),
                        value: name.into(),
                    }],
                )
                .await?;
            }
            tx.commit().await?;
        }
        self.run_info(run_id).await
    }

    async fn set_run_lifecycle(&self, run_id: &str, stage: LifecycleStage) -> CoreResult<()> {
        let (_writer, mut tx) = self.write_tx().await?;
        let deleted_time = (stage == LifecycleStage::Deleted).then(now_millis);
        let done = sqlx::query("UPDATE runs SET lifecycle_stage = $1, deleted_time = $2 WHERE run_uuid = $3")
            .bind(stage.as_str())
            .bind(deleted_time)
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if done.rows_affected() == 0 {
            return Err(run_not_found(run_id));
        }
        Ok(())
    }

    async fn list_runs(&self, experiment_id: &str, limit: i64) -> CoreResult<Vec<RunInfo>> {
        let id = parse_experiment_id(experiment_id)?;
        sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE experiment_id = $1 AND lifecycle_stage = 'active' \
             ORDER BY start_time DESC, run_uuid ASC LIMIT $2"
        ))
        .bind(id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(run_info_from)
        .collect()
    }

    async fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[RunTag],
    ) -> CoreResult<()> {
        validate_batch(metrics, params, tags)?;
        let (_writer, mut tx) = self.write_tx().await?;
        // Checked inside the write: a run deleted meanwhile can't take the batch.
        active_run_on(&mut *tx, run_id).await?;

        if !params.is_empty() {
            // A param is immutable once logged: same value again is fine, another is refused.
            // All placeholders of one statement share one style (sqlx counts `?` apart from `$N`).
            let marks = placeholder_list(self.backend, 1, params.len() + 1);
            let sql = format!(
                "SELECT key, value FROM params WHERE run_uuid = {} AND key IN ({})",
                marks[0],
                marks[1..].join(", ")
            );
            let mut existing = sqlx::query(&sql).bind(run_id);
            for p in params {
                existing = existing.bind(&p.key);
            }
            for row in existing.fetch_all(&mut *tx).await? {
                let key: String = row.try_get("key")?;
                let old: String = row.try_get("value")?;
                if let Some(new) = params.iter().find(|p| p.key == key && p.value != old) {
                    return Err(CoreError::InvalidParameter(format!(
                        "Changing param values is not allowed. Param with key='{key}' was already logged with \
                         value='{old}' for run ID='{run_id}'. Attempted logging new value '{}'.",
                        new.value
                    )));
                }
            }
            let mut seen = HashSet::new();
            let unique: Vec<&Param> = params.iter().filter(|p| seen.insert(p.key.as_str())).collect();
            for chunk in unique.chunks(INSERT_CHUNK) {
                let sql = format!(
                    "INSERT INTO params (run_uuid, key, value) VALUES {} ON CONFLICT (run_uuid, key) DO NOTHING",
                    values_rows(self.backend, chunk.len(), 3)
                );
                let mut insert = sqlx::query(&sql);
                for p in chunk {
                    insert = insert.bind(run_id).bind(&p.key).bind(&p.value);
                }
                insert.execute(&mut *tx).await?;
            }
        }

        insert_tags(self.backend, &mut tx, run_id, tags).await?;
        if let Some(name) = tags.iter().rev().find(|t| t.key == RUN_NAME_TAG) {
            sqlx::query("UPDATE runs SET name = $1 WHERE run_uuid = $2")
                .bind(&name.value)
                .bind(run_id)
                .execute(&mut *tx)
                .await?;
        }

        if !metrics.is_empty() {
            for chunk in metrics.chunks(INSERT_CHUNK) {
                let sql = format!(
                    "INSERT INTO metrics (run_uuid, key, step, timestamp, value, is_nan) VALUES {} \
                     ON CONFLICT DO NOTHING",
                    values_rows(self.backend, chunk.len(), 6)
                );
                bind_metrics(sqlx::query(&sql), run_id, chunk.iter())
                    .execute(&mut *tx)
                    .await?;
            }
            // One candidate per key: PostgreSQL refuses to upsert a row twice in one statement.
            let mut latest: HashMap<&str, &Metric> = HashMap::new();
            for m in metrics {
                match latest.get(m.key.as_str()) {
                    Some(current) if !is_later(m, current) => {}
                    _ => {
                        latest.insert(&m.key, m);
                    }
                }
            }
            let latest: Vec<&Metric> = latest.into_values().collect();
            for chunk in latest.chunks(INSERT_CHUNK) {
                let sql = format!(
                    "INSERT INTO latest_metrics (run_uuid, key, step, timestamp, value, is_nan) VALUES {} \
                     ON CONFLICT (run_uuid, key) DO UPDATE SET step = excluded.step, \
                     timestamp = excluded.timestamp, value = excluded.value, is_nan = excluded.is_nan \
                     WHERE excluded.step > latest_metrics.step \
                        OR (excluded.step = latest_metrics.step AND excluded.timestamp > latest_metrics.timestamp) \
                        OR (excluded.step = latest_metrics.step AND excluded.timestamp = latest_metrics.timestamp \
                            AND excluded.value > latest_metrics.value)",
                    values_rows(self.backend, chunk.len(), 6)
                );
                bind_metrics(sqlx::query(&sql), run_id, chunk.iter().copied())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn delete_tag(&self, run_id: &str, key: &str) -> CoreResult<()> {
        self.active_run(run_id).await?;
        let (_writer, mut tx) = self.write_tx().await?;
        let done = sqlx::query("DELETE FROM tags WHERE run_uuid = $1 AND key = $2")
            .bind(run_id)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if done.rows_affected() == 0 {
            return Err(CoreError::NotFound(format!(
                "No tag with name: {key} in run with id {run_id}"
            )));
        }
        Ok(())
    }

    async fn log_inputs(
        &self,
        run_id: &str,
        datasets: &[DatasetInput],
        model_ids: &[String],
    ) -> CoreResult<()> {
        validation::dataset_inputs(datasets).map_err(CoreError::InvalidParameter)?;
        let info = self.active_run(run_id).await?;
        let experiment_id = parse_experiment_id(&info.experiment_id)?;
        let (_writer, mut tx) = self.write_tx().await?;
        // The first of several inputs with the same (name, digest) wins, as in MLflow.
        let mut seen = HashSet::new();
        for input in datasets
            .iter()
            .filter(|i| seen.insert((i.dataset.name.as_str(), i.dataset.digest.as_str())))
        {
            let d = &input.dataset;
            sqlx::query(
                "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, source_type, source, \
                 dataset_schema, profile) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (experiment_id, name, digest) DO NOTHING",
            )
            .bind(uuid::Uuid::new_v4().simple().to_string())
            .bind(experiment_id)
            .bind(&d.name)
            .bind(&d.digest)
            .bind(&d.source_type)
            .bind(&d.source)
            .bind(d.schema.as_deref())
            .bind(d.profile.as_deref())
            .execute(&mut *tx)
            .await?;
            let dataset_uuid: String = sqlx::query(
                "SELECT dataset_uuid FROM datasets WHERE experiment_id = $1 AND name = $2 AND digest = $3",
            )
            .bind(experiment_id)
            .bind(&d.name)
            .bind(&d.digest)
            .fetch_one(&mut *tx)
            .await?
            .try_get("dataset_uuid")?;
            let tags: Vec<(&str, &str)> = input
                .tags
                .iter()
                .map(|t| (t.key.as_str(), t.value.as_str()))
                .collect();
            let tags = serde_json::to_string(&tags)
                .map_err(|e| CoreError::InvalidParameter(format!("Invalid input tags: {e}")))?;
            sqlx::query(
                "INSERT INTO run_dataset_inputs (run_uuid, dataset_uuid, context, tags) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (run_uuid, dataset_uuid) DO NOTHING",
            )
            .bind(run_id)
            .bind(&dataset_uuid)
            .bind(input.context())
            .bind(&tags)
            .execute(&mut *tx)
            .await?;
        }
        for model_id in model_ids {
            insert_model_link(&mut tx, run_id, "input", model_id, 0).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn log_outputs(&self, run_id: &str, models: &[ModelOutput]) -> CoreResult<()> {
        self.active_run(run_id).await?;
        let (_writer, mut tx) = self.write_tx().await?;
        for model in models {
            insert_model_link(&mut tx, run_id, "output", &model.model_id, model.step).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_metric_history(&self, run_id: &str, key: &str) -> CoreResult<Vec<Metric>> {
        self.get_metric_history_page(run_id, key, 0, i64::MAX).await
    }

    async fn get_metric_history_page(
        &self,
        run_id: &str,
        key: &str,
        offset: i64,
        limit: i64,
    ) -> CoreResult<Vec<Metric>> {
        self.run_info(run_id).await?;
        self.metric_points(run_id, key, (i64::MIN, i64::MAX), offset, limit)
            .await
    }

    async fn get_metric_history_sampled(
        &self,
        run_ids: &[String],
        key: &str,
        step_range: Option<(i64, i64)>,
        max_points: usize,
    ) -> CoreResult<Vec<(String, Metric)>> {
        let steps = step_range.unwrap_or((i64::MIN, i64::MAX));
        let mut out = Vec::new();
        for run_id in run_ids {
            let points = self.metric_points(run_id, key, steps, 0, i64::MAX).await?;
            out.extend(
                sample_evenly(points, max_points)
                    .into_iter()
                    .map(|m| (run_id.clone(), m)),
            );
        }
        Ok(out)
    }

    async fn metric_ranges(&self, run_ids: &[String]) -> CoreResult<Vec<MetricRange>> {
        if run_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT run_uuid, key, MIN(value) AS min_value, MAX(value) AS max_value FROM metrics \
             WHERE run_uuid IN ({}) AND is_nan = 0 GROUP BY run_uuid, key",
            placeholders(self.backend, 1, run_ids.len())
        );
        ids_query(&sql, run_ids)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                Ok(MetricRange {
                    run_id: row.try_get("run_uuid")?,
                    key: row.try_get("key")?,
                    min: row.try_get("min_value")?,
                    max: row.try_get("max_value")?,
                })
            })
            .collect()
    }

    async fn search_runs(&self, search: &RunSearch) -> CoreResult<RunPage> {
        let mut b = SqlBuilder::new(1);
        let experiment_ids = experiment_id_list(&search.experiment_ids)?;
        if experiment_ids.is_empty() {
            return Ok(RunPage::default());
        }
        let (joins, order) = compile_run_order(&mut b, &search.order_by);
        let experiments = experiment_ids
            .iter()
            .map(|id| b.bind(Bind::Int(*id)))
            .collect::<Vec<_>>()
            .join(", ");
        let stages = search
            .view
            .stages()
            .iter()
            .map(|s| b.bind(Bind::Text((*s).into())))
            .collect::<Vec<_>>()
            .join(", ");
        let mut sql = format!(
            "SELECT r.run_uuid FROM runs r{joins} WHERE r.experiment_id IN ({experiments}) \
             AND r.lifecycle_stage IN ({stages})"
        );
        // Keyset paging walks the (experiment_id, start_time DESC, run_uuid) index from the
        // last row seen, so page 1,000 costs what page 1 does.
        let keyset = search
            .order_by
            .is_empty()
            .then_some(search.after.as_ref())
            .flatten();
        if let Some((start_time, run_id)) = keyset {
            let t = b.bind(Bind::Int(*start_time));
            let t2 = b.bind(Bind::Int(*start_time));
            let id = b.bind(Bind::Text(run_id.clone()));
            sql.push_str(&format!(
                " AND (r.start_time < {t} OR (r.start_time = {t2} AND r.run_uuid > {id}))"
            ));
        }
        let offset = if keyset.is_some() { 0 } else { search.offset };
        let page = IdPage {
            max_results: search.max_results,
            offset,
        };
        let (ids, has_more) = self
            .search_ids::<String>(
                b,
                sql,
                Subject::Runs,
                search.filter.as_ref(),
                &order,
                page,
                "run_uuid",
            )
            .await?;
        Ok(RunPage {
            runs: self.get_runs(&ids).await?,
            has_more,
        })
    }

    async fn search_experiments(&self, search: &ExperimentSearch) -> CoreResult<ExperimentPage> {
        let mut b = SqlBuilder::new(1);
        let stages = search
            .view
            .stages()
            .iter()
            .map(|s| b.bind(Bind::Text((*s).into())))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("SELECT e.experiment_id FROM experiments e WHERE e.lifecycle_stage IN ({stages})");
        let order = compile_experiment_order(&search.order_by);
        let page = IdPage {
            max_results: search.max_results,
            offset: search.offset,
        };
        let (ids, has_more) = self
            .search_ids::<i64>(
                b,
                sql,
                Subject::Experiments,
                search.filter.as_ref(),
                &order,
                page,
                "experiment_id",
            )
            .await?;
        let mut experiments = Vec::new();
        for id in &ids {
            if let Some(e) = self
                .experiment_where("experiment_id = $1", BindValue::Int(*id))
                .await?
            {
                experiments.push(e);
            }
        }
        Ok(ExperimentPage {
            experiments,
            has_more,
        })
    }

    async fn create_logged_model(&self, model: NewLoggedModel) -> CoreResult<LoggedModel> {
        let experiment = self.get_experiment(&model.experiment_id).await?;
        if experiment.lifecycle_stage != LifecycleStage::Active {
            return Err(CoreError::InvalidParameter(format!(
                "The experiment {} must be in the 'active' state.",
                model.experiment_id
            )));
        }
        if !model.source_run_id.is_empty() {
            self.run_info(&model.source_run_id).await?;
        }
        validate_batch(&[], &model.params, &model.tags)?;
        let model_id = format!("m-{}", uuid::Uuid::new_v4().simple());
        let name = model
            .name
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| generated_run_name(&model_id[2..]));
        if name.chars().count() > validation::MAX_ENTITY_KEY_LENGTH {
            return Err(CoreError::InvalidParameter(
                "Logged model name is too long".into(),
            ));
        }
        let location = format!(
            "{}/models/{model_id}/artifacts",
            experiment.artifact_location.trim_end_matches('/')
        );
        let now = now_millis();
        {
            let (_writer, mut tx) = self.write_tx().await?;
            sqlx::query(
                "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, \
                 creation_timestamp_ms, last_updated_timestamp_ms, status, model_type, source_run_id) \
                 VALUES ($1, $2, $3, $4, $5, $5, 'LOGGED_MODEL_PENDING', $6, $7)",
            )
            .bind(&model_id)
            .bind(parse_experiment_id(&experiment.experiment_id)?)
            .bind(&name)
            .bind(&location)
            .bind(now)
            .bind(&model.model_type)
            .bind(&model.source_run_id)
            .execute(&mut *tx)
            .await?;
            upsert_key_values(
                &mut tx,
                "logged_model_tags",
                &model_id,
                model.tags.iter().map(|t| (&t.key, &t.value)),
            )
            .await?;
            upsert_key_values(
                &mut tx,
                "logged_model_params",
                &model_id,
                model.params.iter().map(|p| (&p.key, &p.value)),
            )
            .await?;
            tx.commit().await?;
        }
        self.get_logged_model(&model_id).await
    }

    async fn get_logged_model(&self, model_id: &str) -> CoreResult<LoggedModel> {
        let row = sqlx::query(
            "SELECT model_id, experiment_id, name, artifact_location, creation_timestamp_ms, \
             last_updated_timestamp_ms, status, model_type, source_run_id FROM logged_models \
             WHERE model_id = $1 AND lifecycle_stage = 'active'",
        )
        .bind(model_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| CoreError::NotFound(format!("Logged model with ID '{model_id}' not found")))?;
        let pairs = |table: &'static str| {
            let sql = format!("SELECT key, value FROM {table} WHERE model_id = $1 ORDER BY key");
            async move {
                let rows = sqlx::query(&sql).bind(model_id).fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| Ok((r.try_get::<String, _>("key")?, r.try_get::<String, _>("value")?)))
                    .collect::<CoreResult<Vec<_>>>()
            }
        };
        let tags = pairs("logged_model_tags").await?;
        let params = pairs("logged_model_params").await?;
        let experiment_id: i64 = row.try_get("experiment_id")?;
        Ok(LoggedModel {
            model_id: row.try_get("model_id")?,
            experiment_id: experiment_id.to_string(),
            name: row.try_get("name")?,
            artifact_uri: row.try_get("artifact_location")?,
            creation_timestamp_ms: row.try_get("creation_timestamp_ms")?,
            last_updated_timestamp_ms: row.try_get("last_updated_timestamp_ms")?,
            status: row.try_get("status")?,
            model_type: row.try_get("model_type")?,
            source_run_id: row.try_get("source_run_id")?,
            tags: tags
                .into_iter()
                .map(|(key, value)| RunTag { key, value })
                .collect(),
            params: params
                .into_iter()
                .map(|(key, value)| Param { key, value })
                .collect(),
        })
    }

    async fn set_logged_model_status(&self, model_id: &str, status: &str) -> CoreResult<LoggedModel> {
        if !LOGGED_MODEL_STATUSES.contains(&status) {
            return Err(CoreError::InvalidParameter(format!(
                "Invalid logged model status '{status}'"
            )));
        }
        self.get_logged_model(model_id).await?;
        {
            let (_writer, mut tx) = self.write_tx().await?;
            sqlx::query(
                "UPDATE logged_models SET status = $1, last_updated_timestamp_ms = $2 WHERE model_id = $3",
            )
            .bind(status)
            .bind(now_millis())
            .bind(model_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        self.get_logged_model(model_id).await
    }

    async fn set_logged_model_tags(&self, model_id: &str, tags: &[RunTag]) -> CoreResult<()> {
        validate_batch(&[], &[], tags)?;
        self.upsert_logged_model_pairs(
            model_id,
            "logged_model_tags",
            tags.iter().map(|t| (&t.key, &t.value)),
        )
        .await
    }

    async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> CoreResult<()> {
        self.get_logged_model(model_id).await?;
        let (_writer, mut tx) = self.write_tx().await?;
        sqlx::query("DELETE FROM logged_model_tags WHERE model_id = $1 AND key = $2")
            .bind(model_id)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn log_logged_model_params(&self, model_id: &str, params: &[Param]) -> CoreResult<()> {
        validate_batch(&[], params, &[])?;
        self.upsert_logged_model_pairs(
            model_id,
            "logged_model_params",
            params.iter().map(|p| (&p.key, &p.value)),
        )
        .await
    }

    async fn delete_logged_model(&self, model_id: &str) -> CoreResult<()> {
        self.get_logged_model(model_id).await?;
        let (_writer, mut tx) = self.write_tx().await?;
        sqlx::query("UPDATE logged_models SET lifecycle_stage = 'deleted' WHERE model_id = $1")
            .bind(model_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn search_logged_models(
        &self,
        experiment_ids: &[String],
        filter: Option<&Filter>,
        max_results: i64,
        offset: i64,
    ) -> CoreResult<(Vec<LoggedModel>, bool)> {
        let ids = experiment_id_list(experiment_ids)?;
        if ids.is_empty() {
            return Ok((Vec::new(), false));
        }
        let mut b = SqlBuilder::new(1);
        let list = ids
            .iter()
            .map(|id| b.bind(Bind::Int(*id)))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT m.model_id FROM logged_models m WHERE m.experiment_id IN ({list}) AND m.lifecycle_stage = 'active'"
        );
        let order = "m.creation_timestamp_ms DESC, m.model_id ASC";
        let page = IdPage { max_results, offset };
        let (found, has_more) = self
            .search_ids::<String>(b, sql, Subject::LoggedModels, filter, order, page, "model_id")
            .await?;
        let mut models = Vec::new();
        for id in &found {
            models.push(self.get_logged_model(id).await?);
        }
        Ok((models, has_more))
    }
}

/// Which slice of a search's results to return.
#[derive(Clone, Copy)]
struct IdPage {
    max_results: i64,
    offset: i64,
}

impl SqlTrackingStore {
    /// The ids a search selects: `sql` (a SELECT of one id column with its own conditions)
    /// plus the compiled `filter`, `order` and the page. One extra row is fetched to tell
    /// whether more follow; at most `max_results` ids are returned.
    #[allow(clippy::too_many_arguments)]
    async fn search_ids<T>(
        &self,
        mut b: SqlBuilder,
        mut sql: String,
        subject: Subject,
        filter: Option<&Filter>,
        order: &str,
        page: IdPage,
        column: &str,
    ) -> CoreResult<(Vec<T>, bool)>
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        if let Some(filter) = filter {
            sql.push_str(" AND ");
            sql.push_str(&compile_filter(&mut b, subject, filter));
        }
        let limit = b.bind(Bind::Int(page.max_results + 1));
        let offset = b.bind(Bind::Int(page.offset));
        sql.push_str(&format!(" ORDER BY {order} LIMIT {limit} OFFSET {offset}"));
        let mut query = sqlx::query(&sql);
        for bind in &b.binds {
            query = bind_value(query, bind);
        }
        let mut ids: Vec<T> = query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get(column))
            .collect::<Result<_, _>>()?;
        let has_more = ids.len() as i64 > page.max_results;
        ids.truncate(usize::try_from(page.max_results).unwrap_or(0));
        Ok((ids, has_more))
    }

    /// Sets tags or params of an existing logged model, in one transaction.
    async fn upsert_logged_model_pairs<'a>(
        &self,
        model_id: &str,
        table: &'static str,
        pairs: impl Iterator<Item = (&'a String, &'a String)>,
    ) -> CoreResult<()> {
        self.get_logged_model(model_id).await?;
        let (_writer, mut tx) = self.write_tx().await?;
        upsert_key_values(&mut tx, table, model_id, pairs).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Full runs for `ids`, in the order given, in one query: each run's params, tags and
    /// latest metrics come back aggregated as JSON text, one row per run. Rows cross from
    /// SQLite's worker thread one at a time, so 21 rows cost far less than 21 x 20.
    pub async fn get_runs(&self, ids: &[String]) -> CoreResult<Vec<Run>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = hydrate_runs_sql(self.backend, &placeholders(self.backend, 1, ids.len()));
        let rows = ids_query(&sql, ids).fetch_all(&self.pool).await?;
        let mut runs: HashMap<String, Run> = HashMap::with_capacity(rows.len());
        for row in &rows {
            let info = run_info_from(row)?;
            let mut params: Vec<Param> = pairs_from_json(&row.try_get::<String, _>("params_json")?)?
                .into_iter()
                .map(|(key, value)| Param { key, value })
                .collect();
            let mut tags: Vec<RunTag> = pairs_from_json(&row.try_get::<String, _>("tags_json")?)?
                .into_iter()
                .map(|(key, value)| RunTag { key, value })
                .collect();
            let mut metrics = metrics_from_json(&row.try_get::<String, _>("metrics_json")?)?;
            let dataset_inputs = datasets_from_json(&row.try_get::<String, _>("datasets_json")?)?;
            let (model_inputs, model_outputs) =
                model_links_from_json(&row.try_get::<String, _>("models_json")?)?;
            params.sort_by(|a, b| a.key.cmp(&b.key));
            tags.sort_by(|a, b| a.key.cmp(&b.key));
            metrics.sort_by(|a, b| a.key.cmp(&b.key));
            runs.insert(
                info.run_id.clone(),
                Run {
                    info,
                    params,
                    tags,
                    metrics,
                    inputs: RunInputs {
                        dataset_inputs,
                        model_inputs,
                    },
                    outputs: RunOutputs { model_outputs },
                },
            );
        }
        Ok(ids.iter().filter_map(|id| runs.remove(id)).collect())
    }
}

/// One row per run: its columns plus params, tags and latest metrics as JSON arrays of
/// arrays. Metric values travel as text that round-trips exactly (SQLite's `quote()`
/// falls back to 20 digits when 15 would lose bits; PostgreSQL prints the shortest exact
/// form), because both databases' JSON number output keeps only 15 digits or less.
fn hydrate_runs_sql(backend: Backend, list: &str) -> String {
    // `from` names its rows `x`; each aggregate is one run's rows as a JSON array of arrays.
    let aggregate = |columns: &str, from: &str| {
        format!(
            "(SELECT {} FROM {from} WHERE x.run_uuid = r.run_uuid)",
            json_rows(backend, columns)
        )
    };
    let value_text = exact_value_text(backend);
    format!(
        "SELECT r.run_uuid, r.experiment_id, r.name, r.user_id, r.status, r.start_time, r.end_time, \
         r.lifecycle_stage, r.artifact_uri, {} AS params_json, {} AS tags_json, {} AS metrics_json, \
         {} AS datasets_json, {} AS models_json FROM runs r WHERE r.run_uuid IN ({list})",
        aggregate("key, value", "params x"),
        aggregate("key, value", "tags x"),
        aggregate(
            &format!("key, {value_text}, timestamp, step, is_nan"),
            "latest_metrics x"
        ),
        aggregate(
            "d.name, d.digest, d.source_type, d.source, d.dataset_schema, d.profile, x.tags",
            "run_dataset_inputs x JOIN datasets d ON d.dataset_uuid = x.dataset_uuid"
        ),
        aggregate("direction, model_id, step", "run_model_links x"),
    )
}

/// `[[name, digest, source_type, source, schema, profile, tags_json], ...]`.
fn datasets_from_json(json: &str) -> CoreResult<Vec<DatasetInput>> {
    type Row = (
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        String,
    );
    let rows: Vec<Row> = serde_json::from_str(json).map_err(|_| aggregate_error("datasets"))?;
    let mut inputs = rows
        .into_iter()
        .map(|(name, digest, source_type, source, schema, profile, tags)| {
            Ok(DatasetInput {
                tags: pairs_from_json(&tags)?
                    .into_iter()
                    .map(|(key, value)| RunTag { key, value })
                    .collect(),
                dataset: Dataset {
                    name,
                    digest,
                    source_type,
                    source,
                    schema,
                    profile,
                },
            })
        })
        .collect::<CoreResult<Vec<_>>>()?;
    inputs.sort_by(|a, b| (&a.dataset.name, &a.dataset.digest).cmp(&(&b.dataset.name, &b.dataset.digest)));
    Ok(inputs)
}

/// `[[direction, model_id, step], ...]` split into the run's inputs and outputs.
fn model_links_from_json(json: &str) -> CoreResult<(Vec<String>, Vec<ModelOutput>)> {
    let mut rows: Vec<(String, String, i64)> =
        serde_json::from_str(json).map_err(|_| aggregate_error("model links"))?;
    rows.sort();
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    for (direction, model_id, step) in rows {
        if direction == "input" {
            inputs.push(model_id);
        } else {
            outputs.push(ModelOutput { model_id, step });
        }
    }
    Ok((inputs, outputs))
}

/// An aggregate turning the selected rows into JSON text `[[columns...], ...]` (`[]` for none).
fn json_rows(backend: Backend, columns: &str) -> String {
    match backend {
        Backend::Sqlite => format!("json_group_array(json_array({columns}))"),
        Backend::Postgres => format!("COALESCE(json_agg(json_build_array({columns}))::text, '[]')"),
    }
}

/// The `value` column as text that parses back to the same double (see [`hydrate_runs_sql`]).
fn exact_value_text(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "quote(value)",
        Backend::Postgres => "value::text",
    }
}

fn aggregate_error(what: &str) -> CoreError {
    CoreError::Database(sqlx::Error::Decode(
        format!("malformed aggregated {what} from the database").into(),
    ))
}

/// `[[key, value], ...]` as aggregated by [`hydrate_runs_sql`].
fn pairs_from_json(json: &str) -> CoreResult<Vec<(String, String)>> {
    serde_json::from_str(json).map_err(|_| aggregate_error("key/value pairs"))
}

/// `[[key, value_text, timestamp, step, is_nan], ...]` as aggregated by [`hydrate_runs_sql`].
fn metrics_from_json(json: &str) -> CoreResult<Vec<Metric>> {
    let rows: Vec<(String, String, i64, i64, i64)> =
        serde_json::from_str(json).map_err(|_| aggregate_error("metrics"))?;
    rows.into_iter()
        .map(|(key, value, timestamp, step, is_nan)| {
            Ok(Metric {
                key,
                value: stored_double(&value, is_nan)?,
                timestamp,
                step,
            })
        })
        .collect()
}

/// A metric value as [`exact_value_text`] printed it, with its NaN flag. SQLite writes
/// infinities as `9.0e+999` (which Rust parses to infinity by overflow), PostgreSQL as
/// `Infinity`.
fn stored_double(text: &str, is_nan: i64) -> CoreResult<f64> {
    if is_nan != 0 {
        return Ok(f64::NAN);
    }
    text.trim()
        .parse::<f64>()
        .map_err(|_| aggregate_error("metric value"))
}

async fn insert_model_link(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    run_id: &str,
    direction: &str,
    model_id: &str,
    step: i64,
) -> CoreResult<()> {
    if model_id.is_empty() {
        return Err(CoreError::InvalidParameter(
            "A model's model_id must not be empty".into(),
        ));
    }
    sqlx::query(
        "INSERT INTO run_model_links (run_uuid, direction, model_id, step) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING",
    )
    .bind(run_id)
    .bind(direction)
    .bind(model_id)
    .bind(step)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn ids_query<'q>(sql: &'q str, ids: &'q [String]) -> AnyQuery<'q> {
    ids.iter()
        .fold(sqlx::query(sql), |query, id| query.bind(id.as_str()))
}

fn bind_value<'q>(query: AnyQuery<'q>, bind: &'q Bind) -> AnyQuery<'q> {
    match bind {
        Bind::Text(t) => query.bind(t.as_str()),
        Bind::Int(i) => query.bind(*i),
        Bind::Float(f) => query.bind(*f),
    }
}

/// At most `max_points` of `points`, evenly spread, always keeping the first and last.
fn sample_evenly(points: Vec<Metric>, max_points: usize) -> Vec<Metric> {
    if points.len() <= max_points || max_points < 2 {
        return points;
    }
    let last = points.len() - 1;
    let mut picked: Vec<usize> = (0..max_points).map(|i| i * last / (max_points - 1)).collect();
    picked.dedup();
    picked
        .into_iter()
        .filter_map(|i| points.get(i).cloned())
        .collect()
}

async fn insert_tags(
    backend: Backend,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    run_id: &str,
    tags: &[RunTag],
) -> CoreResult<()> {
    // Last value wins for a key repeated in one batch (PostgreSQL refuses a double upsert).
    let mut last: HashMap<&str, &RunTag> = HashMap::new();
    for tag in tags {
        last.insert(&tag.key, tag);
    }
    let unique: Vec<&RunTag> = last.into_values().collect();
    for chunk in unique.chunks(INSERT_CHUNK) {
        let sql = format!(
            "INSERT INTO tags (run_uuid, key, value) VALUES {} \
             ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
            values_rows(backend, chunk.len(), 3)
        );
        let mut insert = sqlx::query(&sql);
        for t in chunk {
            insert = insert.bind(run_id).bind(&t.key).bind(&t.value);
        }
        insert.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Upserts key/value rows of one owner into `table` (tags or params of a logged model).
async fn upsert_key_values<'a>(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    table: &'static str,
    owner: &str,
    pairs: impl Iterator<Item = (&'a String, &'a String)>,
) -> CoreResult<()> {
    let mut last: HashMap<&String, &String> = HashMap::new();
    for (k, v) in pairs {
        last.insert(k, v);
    }
    for (key, value) in last {
        sqlx::query(&format!(
            "INSERT INTO {table} (model_id, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value"
        ))
        .bind(owner)
        .bind(key.as_str())
        .bind(value.as_str())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

fn bind_metrics<'q>(
    mut query: AnyQuery<'q>,
    run_id: &'q str,
    metrics: impl Iterator<Item = &'q Metric>,
) -> AnyQuery<'q> {
    for m in metrics {
        let (value, is_nan) = stored_value(m.value);
        query = query
            .bind(run_id)
            .bind(&m.key)
            .bind(m.step)
            .bind(m.timestamp)
            .bind(value)
            .bind(is_nan);
    }
    query
}

/// Placeholders for `count` values bound in order, numbered from `first`.
///
/// PostgreSQL needs `$N` (the Any driver's query builder writes `?`, which it refuses).
/// SQLite gets anonymous `?`: it numbers each one after the highest number so far, so the
/// binding is the same, and it skips SQLite's per-bind scan of named parameters, which
/// made large statements quadratic (3,000 binds: ~15 ms instead of under 1 ms).
/// A statement must use one style throughout: sqlx numbers anonymous `?` apart from `$N`.
fn placeholder_list(backend: Backend, first: usize, count: usize) -> Vec<String> {
    match backend {
        Backend::Sqlite => vec!["?".to_string(); count],
        Backend::Postgres => (first..first + count).map(|i| format!("${i}")).collect(),
    }
}

fn placeholders(backend: Backend, first: usize, count: usize) -> String {
    placeholder_list(backend, first, count).join(", ")
}

/// `($1, $2, $3), ($4, $5, $6), …` for a multi-row VALUES list.
fn values_rows(backend: Backend, rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", placeholders(backend, r * columns + 1, columns)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A readable default name, like MLflow's "adjective-noun-123".
fn generated_run_name(run_id: &str) -> String {
    const ADJECTIVES: [&str; 16] = [
        "brave", "calm", "clever", "bold", "bright", "eager", "gentle", "keen", "lucky", "merry", "nimble",
        "quiet", "rapid", "sharp", "swift", "wise",
    ];
    const NOUNS: [&str; 16] = [
        "otter", "falcon", "lynx", "heron", "panda", "wolf", "koala", "raven", "tiger", "whale", "fox",
        "owl", "seal", "crane", "bison", "gecko",
    ];
    let n = u64::from_str_radix(run_id.get(..8).unwrap_or("0"), 16).unwrap_or(0);
    let adjective = ADJECTIVES[(n % 16) as usize];
    let noun = NOUNS[((n / 16) % 16) as usize];
    format!("{adjective}-{noun}-{}", (n / 256) % 1000)
}
