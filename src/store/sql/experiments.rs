//! Experiments on the SQL store ([`ExperimentStore`]).

use super::*;

#[async_trait::async_trait]
impl ExperimentStore for SqlTrackingStore {
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
        let mut tx = self.write_tx().await?;
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
        let mut tx = self.write_tx().await?;
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
        let mut tx = self.write_tx().await?;
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
        let mut tx = self.write_tx().await?;
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
}
