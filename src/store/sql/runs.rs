//! Runs and what is logged to them on the SQL store ([`RunStore`]).

use super::*;

#[async_trait::async_trait]
impl RunStore for SqlTrackingStore {
    async fn get_runs(&self, run_ids: &[String]) -> CoreResult<Vec<Run>> {
        SqlTrackingStore::get_runs(self, run_ids).await
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
            let mut tx = self.write_tx().await?;
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
            let mut tx = self.write_tx().await?;
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
        let mut tx = self.write_tx().await?;
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
        if let Some(batches) = &self.batches {
            return batches.log_batch(run_id, metrics, params, tags).await;
        }
        if let Writes::Postgres(pool) = &self.writes {
            if params.is_empty()
                && tags.is_empty()
                && !metrics.is_empty()
                && metrics.len() <= INSERT_CHUNK
                && postgres_metrics_alone(pool, run_id, metrics).await?
            {
                return Ok(());
            }
        }
        let mut tx = self.write_tx().await?;
        write_batch(self.backend, &mut tx, run_id, metrics, params, tags).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_tag(&self, run_id: &str, key: &str) -> CoreResult<()> {
        self.active_run(run_id).await?;
        let mut tx = self.write_tx().await?;
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
        let mut tx = self.write_tx().await?;
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
        let mut tx = self.write_tx().await?;
        for model in models {
            insert_model_link(&mut tx, run_id, "output", &model.model_id, model.step).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// One `log_batch` inside the caller's transaction: the run checked, then its params, tags
/// and metrics written. The caller commits (or, for SQLite's group commit, releases its savepoint).
pub(super) async fn write_batch(
    backend: Backend,
    tx: &mut AnyConnection,
    run_id: &str,
    metrics: &[Metric],
    params: &[Param],
    tags: &[RunTag],
) -> CoreResult<()> {
    if sqlite_metrics_alone_fits(backend, metrics, params, tags) {
        return sqlite_metrics_alone(tx, run_id, metrics).await;
    }
    // Checked inside the write: a run deleted meanwhile can't take the batch.
    let run = active_run_on(&mut *tx, run_id).await?;

    if !params.is_empty() {
        // A param is immutable once logged: same value again is fine, another is refused.
        // All placeholders of one statement share one style (sqlx counts `?` apart from `$N`).
        let marks = placeholder_list(backend, 1, params.len() + 1);
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
        // In key order, like tags and latest metrics: the same lock order in every batch.
        let mut unique: Vec<&Param> = params.iter().filter(|p| seen.insert(p.key.as_str())).collect();
        unique.sort_by(|a, b| a.key.cmp(&b.key));
        for chunk in unique.chunks(INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO params (run_uuid, key, value) VALUES {} ON CONFLICT (run_uuid, key) DO NOTHING",
                values_rows(backend, chunk.len(), 3)
            );
            let mut insert = sqlx::query(&sql);
            for p in chunk {
                insert = insert.bind(run_id).bind(&p.key).bind(&p.value);
            }
            insert.execute(&mut *tx).await?;
        }
    }

    insert_tags(backend, tx, run_id, tags).await?;
    if let Some(name) = tags.iter().rev().find(|t| t.key == RUN_NAME_TAG) {
        sqlx::query("UPDATE runs SET name = $1 WHERE run_uuid = $2")
            .bind(&name.value)
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
    }

    if !metrics.is_empty() {
        let latest = latest_candidates(metrics);
        if backend == Backend::Sqlite && metrics.len() <= INSERT_CHUNK {
            // Both statements in one call to SQLite's worker thread (a wake-up there and one
            // back on the runtime each). SQLite binds a multi-statement query's values in
            // order across its statements.
            let sql = format!(
                "{}; {}",
                skipping_metrics_insert(backend, metrics.len()),
                latest_upsert(backend, latest.len())
            );
            let query = bind_metrics(sqlx::query(&sql), run_id, metrics.iter());
            bind_latest(query, run_id, &latest, run.start_time)
                .execute(&mut *tx)
                .await?;
            return Ok(());
        }
        for chunk in metrics.chunks(INSERT_CHUNK) {
            insert_metric_rows(backend, tx, run_id, chunk).await?;
        }
        for chunk in latest.chunks(INSERT_CHUNK) {
            let sql = latest_upsert(backend, chunk.len());
            bind_latest(sqlx::query(&sql), run_id, chunk, run.start_time)
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(())
}

/// Whether a batch takes [`sqlite_metrics_alone`]: metrics alone, in one insert chunk.
pub(super) fn sqlite_metrics_alone_fits(
    backend: Backend,
    metrics: &[Metric],
    params: &[Param],
    tags: &[RunTag],
) -> bool {
    backend == Backend::Sqlite && params.is_empty() && tags.is_empty() && metrics.len() <= INSERT_CHUNK
}

/// A batch of metrics alone on SQLite (the common one: a training loop's flush): the run's
/// check, the points and the latest values in one call to the writer's thread, where a batch
/// with params or tags makes one call for each. The points and latest values are written
/// only if the run is active (checked by the statements themselves, so `then` may commit in
/// the same call); the run's row read beside them says why a refused batch was refused. No
/// constraint can fail for a missing run: the points have no foreign key (migration 11), and
/// the latest values take the run's start_time from its row, so without one there are none.
async fn sqlite_metrics_alone(tx: &mut AnyConnection, run_id: &str, metrics: &[Metric]) -> CoreResult<()> {
    let rows = sqlite_metrics_alone_statements(tx, run_id, metrics, "").await?;
    refuse_unless_active(run_id, &rows)
}

/// [`sqlite_metrics_alone`]'s statements, then `then`; the run's row, if there is one.
async fn sqlite_metrics_alone_statements(
    tx: &mut AnyConnection,
    run_id: &str,
    metrics: &[Metric],
    then: &str,
) -> CoreResult<Vec<AnyRow>> {
    let latest = latest_candidates(metrics);
    let backend = Backend::Sqlite;
    let select = format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_uuid = ?");
    let sql;
    let query = if metrics.is_empty() {
        sql = format!("{select}{then}");
        sqlx::query(&sql).bind(run_id)
    } else {
        // SQLite binds a multi-statement query's values in order across its statements.
        let source = format!(
            "SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, r.start_time \
             FROM (VALUES {}) AS v, runs r WHERE r.run_uuid = ? AND r.lifecycle_stage = 'active'",
            values_rows(backend, latest.len(), 6)
        );
        sql = format!(
            "{select}; INSERT OR IGNORE INTO metrics {METRIC_COLUMNS} SELECT * FROM (VALUES {}) \
             WHERE EXISTS (SELECT 1 FROM runs WHERE run_uuid = ? AND lifecycle_stage = 'active'); {}{then}",
            values_rows(backend, metrics.len(), 6),
            upsert_latest_from(&source)
        );
        let query = bind_metrics(sqlx::query(&sql).bind(run_id), run_id, metrics.iter()).bind(run_id);
        bind_metrics(query, run_id, latest.iter().copied()).bind(run_id)
    };
    Ok(query.fetch_all(&mut *tx).await?)
}

/// The batch's answer from the run's row read beside its statements.
fn refuse_unless_active(run_id: &str, rows: &[AnyRow]) -> CoreResult<()> {
    let run = run_info_from(rows.first().ok_or_else(|| run_not_found(run_id))?)?;
    refuse_inactive(&run)
}

/// A lone batch of metrics on SQLite ([`sqlite_metrics_alone_fits`]), committed in the same
/// call to the writer's thread as its statements: one wake-up of that thread and one back
/// on the runtime, where a commit of its own takes another of each. Safe because the
/// statements write nothing for a run that is missing or not active; a statement that fails
/// stops the rest, the commit among them, and the writer rolls back at its next turn.
pub(super) async fn sqlite_metrics_committed(
    mut tx: WriteTx,
    run_id: &str,
    metrics: &[Metric],
) -> CoreResult<()> {
    let rows =
        sqlite_metrics_alone_statements(&mut tx, run_id, metrics, &format!("; {COMMIT_AND_BEGIN}")).await?;
    // Every statement ran, the commit among them, whatever the run's check found.
    tx.committed_by_statements();
    refuse_unless_active(run_id, &rows)
}

/// A batch of metrics alone on PostgreSQL, in one statement and one round trip where the
/// general path takes seven (BEGIN, the run's check, a savepoint, the points, its release,
/// the latest values, COMMIT). One statement is a transaction of its own, and the run's
/// check is inside it: the points and latest values are written only if the run is active.
/// The points go in with a plain insert (see [`insert_metric_rows`]); `false` when one was
/// already stored, and then nothing was written and the general path takes the batch.
async fn postgres_metrics_alone(pool: &AnyPool, run_id: &str, metrics: &[Metric]) -> CoreResult<bool> {
    let backend = Backend::Postgres;
    let latest = latest_candidates(metrics);
    let columns = METRIC_COLUMNS;
    let latest_source = format!(
        "SELECT v.run_uuid, v.key, v.step, v.timestamp, v.value, v.is_nan, r.start_time \
         FROM (VALUES {}) AS v {columns} JOIN r ON r.lifecycle_stage = 'active' \
         WHERE NOT EXISTS ({LATER_STORED})",
        values_rows_from(backend, 2 + 6 * metrics.len(), latest.len(), 6)
    );
    let sql = format!(
        "WITH r AS (SELECT {RUN_COLUMNS} FROM runs WHERE run_uuid = $1), \
         points AS (INSERT INTO metrics {columns} SELECT * FROM (VALUES {}) AS v {columns} \
            WHERE EXISTS (SELECT 1 FROM r WHERE lifecycle_stage = 'active')), \
         latest AS ({}) \
         SELECT {RUN_COLUMNS} FROM r",
        values_rows_from(backend, 2, metrics.len(), 6),
        upsert_latest_from(&latest_source)
    );
    let query = bind_metrics(sqlx::query(&sql).bind(run_id), run_id, metrics.iter());
    let row = match bind_metrics(query, run_id, latest.iter().copied())
        .fetch_optional(pool)
        .await
    {
        Ok(row) => row,
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let run = run_info_from(&row.ok_or_else(|| run_not_found(run_id))?)?;
    refuse_inactive(&run)?;
    Ok(true)
}

/// The candidates for runs' latest metrics in a batch: one per key, the latest, in key
/// order. One per key because PostgreSQL refuses to upsert a row twice in one statement; in
/// key order so concurrent batches to one run wait for each other's rows instead of
/// deadlocking on PostgreSQL (a hash map's order differs per batch).
fn latest_candidates(metrics: &[Metric]) -> Vec<&Metric> {
    let mut latest: HashMap<&str, &Metric> = HashMap::new();
    for m in metrics {
        match latest.get(m.key.as_str()) {
            Some(current) if !is_later(m, current) => {}
            _ => {
                latest.insert(&m.key, m);
            }
        }
    }
    let mut latest: Vec<&Metric> = latest.into_values().collect();
    latest.sort_by(|a, b| a.key.cmp(&b.key));
    latest
}

/// Binds the values of [`latest_upsert`]'s rows. The run's start_time rides along so the
/// metric order's index carries MLflow's tie-break.
fn bind_latest<'q>(
    mut query: AnyQuery<'q>,
    run_id: &'q str,
    candidates: &[&'q Metric],
    start_time: i64,
) -> AnyQuery<'q> {
    for m in candidates {
        query = bind_metric(query, run_id, m).bind(start_time);
    }
    query
}

/// Upserts `rows` candidates for runs' latest metrics (run_uuid, key, step, timestamp,
/// value, is_nan, start_time each); a stored point stays unless the candidate is later.
fn latest_upsert(backend: Backend, rows: usize) -> String {
    let rows = values_rows(backend, rows, 7);
    // PostgreSQL locks the stored row of every conflict, even one the update's WHERE
    // then skips, and logs the lock: candidates that lose (an older step logged late,
    // the common case of scattered steps) are dropped first by a plain probe.
    // `EXPLAIN ANALYZE` of 500 such candidates: 3.6–4.2 ms to run without it, 1.1 ms with.
    let source = match backend {
        Backend::Postgres => format!(
            "SELECT v.run_uuid, v.key, v.step, v.timestamp, v.value, v.is_nan, v.start_time \
             FROM (VALUES {rows}) AS v (run_uuid, key, step, timestamp, value, is_nan, start_time) \
             WHERE NOT EXISTS ({LATER_STORED})"
        ),
        Backend::Sqlite => format!("VALUES {rows}"),
    };
    upsert_latest_from(&source)
}

/// Whether the stored latest value of candidate `v`'s key is at least as late (PostgreSQL).
const LATER_STORED: &str = "SELECT 1 FROM latest_metrics l WHERE l.run_uuid = v.run_uuid \
    AND l.key = v.key AND (l.step, l.timestamp, l.value) >= (v.step, v.timestamp, v.value)";

/// The upsert of runs' latest metrics from `source`, rows of (run_uuid, key, step,
/// timestamp, value, is_nan, start_time).
fn upsert_latest_from(source: &str) -> String {
    format!(
        "INSERT INTO latest_metrics (run_uuid, key, step, timestamp, value, is_nan, start_time) \
         {source} ON CONFLICT (run_uuid, key) DO UPDATE SET step = excluded.step, \
         timestamp = excluded.timestamp, value = excluded.value, is_nan = excluded.is_nan \
         WHERE excluded.step > latest_metrics.step \
            OR (excluded.step = latest_metrics.step AND excluded.timestamp > latest_metrics.timestamp) \
            OR (excluded.step = latest_metrics.step AND excluded.timestamp = latest_metrics.timestamp \
                AND excluded.value > latest_metrics.value)"
    )
}
