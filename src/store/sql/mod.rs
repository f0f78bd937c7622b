//! The SQL tracking store over sqlx's `Any` driver.
//!
//! The two databases share every query: the schema uses only types both read the same
//! way (BIGINT/INTEGER, TEXT, DOUBLE/REAL). What differs per database lives here in
//! [`Backend`]: migrations, connection set-up, and SQLite's single writer.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::AnyConnection;
use sqlx::{AnyPool, Executor, Row};

mod auth;
mod checkpoint;
mod deployments;
mod experiments;
mod group_commit;
mod logged_models;
mod metrics;
pub mod migrate;
mod registry;
mod runs;
mod search;
mod webhooks;
mod writer;

use super::{
    Database, ExperimentPage, ExperimentSearch, ExperimentStore, LoggedModelPage, LoggedModelStore,
    MetricRange, MetricStore, RunPage, RunSearch, RunStore, SearchStore,
};
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
pub use migrate::{MigrationMode, SchemaStatus};
use writer::{SqliteWriter, Turn, WriteTx, COMMIT_AND_BEGIN};

/// Rows per multi-row INSERT: keeps bind parameters well under both databases' limits.
const INSERT_CHUNK: usize = 500;

/// How long a PostgreSQL connection may sit idle in the pool before it is pinged on its
/// next use (see `connect_with`).
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Planner settings for aiops' own PostgreSQL sessions, each set only where the operator set
/// no value of their own (in the server's configuration, for the database or role, or in the
/// URL's `options`). aiops' reads walk indexes and probe rows by a run's id:
/// - `random_page_cost` 1.1, the value PostgreSQL's manual suggests for solid-state storage.
///   The default 4.0 prices an index probe as a seek on a spinning disk, so on small tables
///   the planner scanned the whole table once per run rather than probe the primary key:
///   loading 20 runs of a 200-run experiment ran 1.8 ms that way against 0.45–0.5 ms at 1.1.
/// - No Memoize: it caches probes by a repeated key, and a run's id repeats nowhere in a
///   walk (`EXPLAIN ANALYZE` of a filtered search over 100,000 runs: 0 hits, 1,201 misses).
/// - No parallel plans: no aiops query reads enough rows to pay for starting workers, and
///   weighing them took a third of that search's planning (1.35–1.42 ms to plan with them
///   and Memoize, 0.87–0.91 ms without; to run, 8.0–9.0 ms against 7.2–7.7 ms).
const SESSION_SETTINGS: &str = "SELECT set_config(s.name, s.value, false) \
     FROM (VALUES ('random_page_cost', '1.1'), ('enable_memoize', 'off'), \
     ('max_parallel_workers_per_gather', '0')) AS s (name, value) \
     JOIN pg_settings p ON p.name = s.name WHERE p.source = 'default'";

/// SQLite's one writer connection. A batch of metrics under many keys changes a B-tree
/// leaf per key: with the default checkpoint every 1,000 WAL pages, every second such
/// commit also copied its pages into the database file and synced it, and the default
/// 2 MiB cache read the leaves back each time (500 keys at random steps, `wrk` against the
/// server on a growing history: a median of 43 ms a call, 11 to 15 ms with these and a
/// 16 MiB cache, [`CACHE_PRAGMAS`]). The
/// checkpoints run beside the writer (`checkpoint`); the writer checkpoints by itself only
/// past 16,000 pages (62.5 MiB of WAL), the bound that lets the WAL start over while writes
/// never pause. The WAL file is cut back to 64 MiB after one.
const WRITER_PRAGMAS: &[&str] = &[
    "PRAGMA wal_autocheckpoint = 16000",
    "PRAGMA journal_size_limit = 67108864",
];

/// Page caches. Each connection keeps its own (SQLite is built without its shared page
/// cache group, `.cargo/config.toml`), so readers never wait on each other's lookups;
/// what bounds them together is SQLite's process-wide soft heap limit: past 32 MiB (what
/// the shared group held before: the writer's 16 MiB and 2 MiB for each of 8 readers), a
/// connection reuses its own oldest pages instead of taking more. Up to 16 MiB each
/// because a filtered search over 100,000 runs reads 8 to 12 MiB of pages (SQLite alone:
/// 11.6 ms with a 2 MiB cache, 7.8 ms with 12 MiB or more).
const CACHE_PRAGMAS: &[&str] = &["PRAGMA cache_size = -16384", "PRAGMA soft_heap_limit = 33554432"];

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

/// Every SQLite connection's settings, and the writer's own on top.
async fn set_up_sqlite(conn: &mut AnyConnection, writer: bool) -> Result<(), sqlx::Error> {
    let writer_only: &[&str] = if writer { WRITER_PRAGMAS } else { &[] };
    for pragma in [
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = NORMAL",
        "PRAGMA busy_timeout = 10000",
        "PRAGMA foreign_keys = ON",
        // MLflow's LIKE is case-sensitive; ILIKE is the insensitive one.
        "PRAGMA case_sensitive_like = ON",
        // A multi-row insert inside a transaction keeps a statement journal (every page it
        // changes, to undo the statement alone): in memory, not a temporary file per write.
        "PRAGMA temp_store = MEMORY",
    ]
    .iter()
    .chain(CACHE_PRAGMAS)
    .chain(writer_only)
    {
        conn.execute(*pragma).await?;
    }
    Ok(())
}

pub struct SqlTrackingStore {
    /// Reads.
    pool: AnyPool,
    /// Writes, apart from the readers so a crowd of searches can never hold every
    /// connection while a write waits.
    writes: Writes,
    backend: Backend,
    /// SQLite: `log_batch` calls waiting for the writer, committed together.
    batches: Option<Arc<group_commit::GroupCommit>>,
}

enum Writes {
    /// SQLite allows one writer: its connection, taken in turns (no SQLITE_BUSY on lock upgrades).
    Sqlite(Turn),
    /// PostgreSQL: a pool of connections of their own.
    Postgres(AnyPool),
}

impl SqlTrackingStore {
    /// Connects, applies the pending migrations, and returns the store.
    pub async fn connect(database_url: &str) -> CoreResult<Self> {
        Ok(Self::connect_with(database_url, MigrationMode::Auto).await?.0)
    }

    /// Connects, deals with the schema as `mode` says, and returns the store and where
    /// the schema stands.
    pub async fn connect_with(database_url: &str, mode: MigrationMode) -> CoreResult<(Self, SchemaStatus)> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(database_url)?;
        let options = AnyConnectOptions::from_str(database_url)
            .map_err(|e| CoreError::Config(format!("invalid database URL: {e}")))?;
        // sqlx's own test pings before every acquire; each pool chooses its own below.
        let pool_options = || {
            AnyPoolOptions::new()
                .acquire_timeout(Duration::from_secs(5))
                .test_before_acquire(false)
        };
        let (pool, writes) = match backend {
            Backend::Sqlite => {
                // The writer connects first, so the database file and WAL mode exist
                // before the readers open it. It is held outside sqlx's pool (`writer`).
                let mut writer = <AnyConnection as sqlx::Connection>::connect_with(&options).await?;
                set_up_sqlite(&mut writer, true).await?;
                // A SQLite connection is a file handle in this process: it cannot go stale
                // the way a network connection can, so it is not pinged before each use
                // (the ping cost a worker-thread round trip, as much as a point query).
                let readers = pool_options()
                    .max_connections(8)
                    .after_connect(|conn, _meta| Box::pin(set_up_sqlite(conn, false)))
                    .connect_with(options.clone())
                    .await?;
                (readers, Err(writer))
            }
            Backend::Postgres => {
                // A network connection can go stale while it sits idle (a restarted server,
                // a proxy's idle cut), so one idle past PING_AFTER_IDLE is pinged before use
                // and replaced if the ping fails. One handed back moments ago is not: that
                // ping was a round trip before every statement, 4 of them in a search.
                let pool_options = || {
                    pool_options()
                        .before_acquire(|conn, meta| {
                            Box::pin(async move {
                                Ok(meta.idle_for < PING_AFTER_IDLE
                                    || sqlx::Connection::ping(conn).await.is_ok())
                            })
                        })
                        .after_connect(|conn, _meta| {
                            Box::pin(async move {
                                conn.execute(SESSION_SETTINGS).await?;
                                Ok(())
                            })
                        })
                };
                // Writes get connections of their own here too, so readers can't queue them out.
                let write_pool = pool_options()
                    .max_connections(4)
                    .connect_with(options.clone())
                    .await?;
                (
                    pool_options()
                        .max_connections(16)
                        .connect_with(options.clone())
                        .await?,
                    Ok(Writes::Postgres(write_pool)),
                )
            }
        };
        let status = migrate::migrate(&options, backend, migrate::builtin(backend), mode).await?;
        let (writes, batches) = match writes {
            Ok(writes) => (writes, None),
            // SQLite's writer, its first transaction opened on the migrated schema: batches
            // committed together, checkpoints beside it while it lives.
            Err(writer) => {
                let turn = SqliteWriter::start(writer).await?;
                checkpoint::spawn(pool.clone(), Arc::downgrade(&turn));
                let batches = group_commit::GroupCommit::new(backend, Arc::clone(&turn));
                (Writes::Sqlite(turn), Some(batches))
            }
        };
        let store = SqlTrackingStore {
            pool,
            writes,
            backend,
            batches,
        };
        Ok((store, status))
    }

    /// The readers' pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The only way to write (SQLite's queued batches take the same turn in
    /// `group_commit`): the writer's turn and a transaction on a writer's connection,
    /// together. Dropping it without `commit` rolls back, then lets go of the turn.
    async fn write_tx(&self) -> CoreResult<WriteTx> {
        match &self.writes {
            Writes::Sqlite(turn) => WriteTx::sqlite(turn).await,
            Writes::Postgres(pool) => Ok(WriteTx::postgres(pool.begin().await?)),
        }
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
    /// Points of one history in its stored order (step, timestamp, value, is_nan), those
    /// within `steps`, after the point `after` if given (keyset: a page costs the same at
    /// any depth), then skipping `offset`.
    async fn metric_points(
        &self,
        run_id: &str,
        key: &str,
        steps: (i64, i64),
        after: Option<&Metric>,
        offset: i64,
        limit: i64,
    ) -> CoreResult<Vec<Metric>> {
        let keyset = if after.is_some() {
            " AND (step, timestamp, value, is_nan) > ($7, $8, $9, $10)"
        } else {
            ""
        };
        let sql = self.history_sql(&format!(
            "SELECT value, timestamp, step, is_nan FROM metrics \
             WHERE run_uuid = $1 AND key = $2 AND step >= $3 AND step <= $4{keyset} \
             ORDER BY step, timestamp, value, is_nan LIMIT $5 OFFSET $6"
        ));
        self.history_rows(key, &sql, |q| {
            let q = q
                .bind(run_id)
                .bind(key)
                .bind(steps.0)
                .bind(steps.1)
                .bind(limit)
                .bind(offset);
            match after {
                Some(m) => {
                    let (value, is_nan) = stored_value(m.value);
                    q.bind(m.step).bind(m.timestamp).bind(value).bind(is_nan)
                }
                None => q,
            }
        })
        .await
    }

    /// `rows`, a query of a history's `value, timestamp, step, is_nan`, aggregated into one
    /// JSON text, so a page crosses from SQLite's worker thread once and values keep every
    /// bit; [`Self::history_rows`] runs it.
    fn history_sql(&self, rows: &str) -> String {
        let aggregate = json_rows(
            self.backend,
            &format!("{}, timestamp, step, is_nan", exact_value_text(self.backend)),
        );
        format!("SELECT {aggregate} AS points FROM ({rows}) x")
    }

    /// Runs a [`Self::history_sql`] query with its binds: the points, in stored order.
    async fn history_rows<'q>(
        &self,
        key: &str,
        sql: &'q str,
        bind: impl FnOnce(AnyQuery<'q>) -> AnyQuery<'q>,
    ) -> CoreResult<Vec<Metric>> {
        let json: String = bind(sqlx::query(sql))
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
    refuse_inactive(&info)?;
    Ok(info)
}

fn refuse_inactive(run: &RunInfo) -> CoreResult<()> {
    if run.lifecycle_stage != LifecycleStage::Active {
        return Err(CoreError::InvalidParameter(format!(
            "The run {} must be in the 'active' state. Current state is {}.",
            run.run_id,
            run.lifecycle_stage.as_str()
        )));
    }
    Ok(())
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
        .then(stored_value(a.value).1.cmp(&stored_value(b.value).1))
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
impl Database for SqlTrackingStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn ping(&self) -> CoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
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
    tx: &mut AnyConnection,
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
    .execute(&mut *tx)
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

async fn insert_tags(
    backend: Backend,
    tx: &mut AnyConnection,
    run_id: &str,
    tags: &[RunTag],
) -> CoreResult<()> {
    // Last value wins for a key repeated in one batch (PostgreSQL refuses a double upsert).
    let mut last: HashMap<&str, &RunTag> = HashMap::new();
    for tag in tags {
        last.insert(&tag.key, tag);
    }
    // In key order: concurrent batches lock the same rows in the same order (PostgreSQL
    // would otherwise find deadlocks between them).
    let mut unique: Vec<&RunTag> = last.into_values().collect();
    unique.sort_by(|a, b| a.key.cmp(&b.key));
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
        insert.execute(&mut *tx).await?;
    }
    Ok(())
}

/// Upserts key/value rows of one owner into `table` (tags or params of a logged model).
async fn upsert_key_values<'a>(
    tx: &mut AnyConnection,
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
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// One metric's `run_uuid, key, step, timestamp, value, is_nan`, as stored.
fn bind_metric<'q>(query: AnyQuery<'q>, run_id: &'q str, m: &'q Metric) -> AnyQuery<'q> {
    let (value, is_nan) = stored_value(m.value);
    query
        .bind(run_id)
        .bind(&m.key)
        .bind(m.step)
        .bind(m.timestamp)
        .bind(value)
        .bind(is_nan)
}

fn bind_metrics<'q>(
    mut query: AnyQuery<'q>,
    run_id: &'q str,
    metrics: impl Iterator<Item = &'q Metric>,
) -> AnyQuery<'q> {
    for m in metrics {
        query = bind_metric(query, run_id, m);
    }
    query
}

/// One chunk of a run's metric points. A point logged twice (same key, step, timestamp
/// and value) is kept once, as in MLflow. SQLite finds a duplicate in the insert's own
/// B-tree descent; PostgreSQL's `ON CONFLICT` probes the index before inserting each row as
/// well, which took 40% of a 500-metric batch. So there the plain insert goes first, in a
/// savepoint, and the probing one runs only after it met a duplicate.
///
/// SQLite gets `OR IGNORE` rather than `ON CONFLICT DO NOTHING`: a statement that cannot
/// fail halfway (no abort on a constraint; migration 11 dropped the foreign key) needs no
/// statement journal inside the transaction, where SQLite copies every page the statement
/// changes before changing it. SQLite alone (Python's `sqlite3`, 500 keys at one random
/// step over 150 points each): 3.7–4.0 ms a batch against 4.4–4.9 ms.
async fn insert_metric_rows(
    backend: Backend,
    tx: &mut AnyConnection,
    run_id: &str,
    chunk: &[Metric],
) -> CoreResult<()> {
    if backend == Backend::Postgres {
        let plain = metrics_insert("INSERT", backend, chunk.len());
        let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
        match bind_metrics(sqlx::query(&plain), run_id, chunk.iter())
            .execute(&mut *savepoint)
            .await
        {
            Ok(_) => return Ok(savepoint.commit().await?),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => savepoint.rollback().await?,
            Err(e) => return Err(e.into()),
        }
    }
    let skipping = skipping_metrics_insert(backend, chunk.len());
    bind_metrics(sqlx::query(&skipping), run_id, chunk.iter())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// A metric point's columns, in the order [`bind_metric`] binds them.
const METRIC_COLUMNS: &str = "(run_uuid, key, step, timestamp, value, is_nan)";

/// `verb` (an insert) of `rows` metric points ([`METRIC_COLUMNS`]).
fn metrics_insert(verb: &str, backend: Backend, rows: usize) -> String {
    format!(
        "{verb} INTO metrics {METRIC_COLUMNS} VALUES {}",
        values_rows(backend, rows, 6)
    )
}

/// Inserts `rows` metric points, skipping any already stored ([`insert_metric_rows`]).
fn skipping_metrics_insert(backend: Backend, rows: usize) -> String {
    match backend {
        Backend::Sqlite => metrics_insert("INSERT OR IGNORE", backend, rows),
        Backend::Postgres => format!(
            "{} ON CONFLICT DO NOTHING",
            metrics_insert("INSERT", backend, rows)
        ),
    }
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
    values_rows_from(backend, 1, rows, columns)
}

/// [`values_rows`] numbered from `first`, for a list after other values in one statement.
fn values_rows_from(backend: Backend, first: usize, rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", placeholders(backend, first + r * columns, columns)))
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
