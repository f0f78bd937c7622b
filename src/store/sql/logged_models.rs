//! MLflow 3 logged models. on the SQL store ([`LoggedModelStore`]).

use super::search::IdPage;
use super::*;

#[async_trait::async_trait]
impl LoggedModelStore for SqlTrackingStore {
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
            let mut tx = self.write_tx().await?;
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
            let mut tx = self.write_tx().await?;
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
        let mut tx = self.write_tx().await?;
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
        let mut tx = self.write_tx().await?;
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
    ) -> CoreResult<LoggedModelPage> {
        let ids = experiment_id_list(experiment_ids)?;
        if ids.is_empty() {
            return Ok(LoggedModelPage::default());
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
        Ok(LoggedModelPage {
            items: models,
            has_more,
        })
    }
}

impl SqlTrackingStore {
    /// Sets tags or params of an existing logged model, in one transaction.
    async fn upsert_logged_model_pairs<'a>(
        &self,
        model_id: &str,
        table: &'static str,
        pairs: impl Iterator<Item = (&'a String, &'a String)>,
    ) -> CoreResult<()> {
        self.get_logged_model(model_id).await?;
        let mut tx = self.write_tx().await?;
        upsert_key_values(&mut tx, table, model_id, pairs).await?;
        tx.commit().await?;
        Ok(())
    }
}
