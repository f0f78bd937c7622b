//! The model registry on the SQL store ([`RegistryStore`]).
//!
//! Reads load a page of models or versions with a fixed number of queries (rows, then their
//! tags and aliases for all of them at once), never one query per row.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::search::IdPage;
use super::webhooks::enqueue_on;
use super::{bind_value, ids_query, is_unique_violation, placeholders, SqlTrackingStore};
use crate::registry::{Alias, AuditEntry, ModelVersion, NewModelVersion, RegisteredModel, Stage, Tag};
use crate::search::sql::{compile_filter, compile_registry_order, SqlBuilder, Subject};
use crate::search::{Filter, OrderBy};
use crate::store::registry::{Change, RegistryStore};
use crate::store::Page;
use crate::validation;
use crate::webhooks::WebhookEvent;
use crate::{now_millis, CoreError, CoreResult};

const VERSION_COLUMNS: &str = "name, version, creation_time, last_updated_time, description, user_id, \
     current_stage, source, run_id, run_link, model_id, status";
/// The same columns, qualified, for queries that join model_versions `v`.
const VERSION_COLUMNS_V: &str =
    "v.name, v.version, v.creation_time, v.last_updated_time, v.description, v.user_id, \
     v.current_stage, v.source, v.run_id, v.run_link, v.model_id, v.status";
const MODEL_COLUMNS: &str = "name, creation_time, last_updated_time, description";

fn model_not_found(name: &str) -> CoreError {
    CoreError::NotFound(format!("Registered Model with name={name} not found"))
}

fn version_not_found(name: &str, version: i64) -> CoreError {
    CoreError::NotFound(format!(
        "Model Version (name={name}, version={version}) not found"
    ))
}

fn version_from(row: &AnyRow) -> CoreResult<ModelVersion> {
    let stage: String = row.try_get("current_stage")?;
    Ok(ModelVersion {
        name: row.try_get("name")?,
        version: row.try_get("version")?,
        creation_time: row.try_get("creation_time")?,
        last_updated_time: row.try_get("last_updated_time")?,
        description: row.try_get("description")?,
        user_id: row.try_get("user_id")?,
        current_stage: Stage::parse(&stage).unwrap_or(Stage::None),
        source: row.try_get("source")?,
        run_id: row.try_get("run_id")?,
        run_link: row.try_get("run_link")?,
        model_id: row.try_get("model_id")?,
        status: row.try_get("status")?,
        tags: Vec::new(),
        aliases: Vec::new(),
    })
}

/// Longest registered model name (MLflow's column is 256).
const MAX_MODEL_NAME_LEN: usize = 256;
/// Longest registry tag value (MLflow's 5,000).
const MAX_REGISTRY_TAG_VALUE_LEN: usize = 5000;

fn check_name(name: &str) -> CoreResult<()> {
    if name.trim().is_empty() {
        return Err(CoreError::InvalidParameter(
            "Registered model name cannot be empty.".into(),
        ));
    }
    if name.chars().count() > MAX_MODEL_NAME_LEN {
        return Err(CoreError::InvalidParameter(format!(
            "Registered model name is longer than {MAX_MODEL_NAME_LEN} characters."
        )));
    }
    Ok(())
}

fn check_tag(key: &str, value: &str) -> CoreResult<()> {
    validation::entity_key("Tag", key).map_err(CoreError::InvalidParameter)?;
    if value.chars().count() > MAX_REGISTRY_TAG_VALUE_LEN {
        return Err(CoreError::InvalidParameter(format!(
            "Tag '{key}' value exceeds the maximum length of {MAX_REGISTRY_TAG_VALUE_LEN}"
        )));
    }
    Ok(())
}

async fn audit_on(
    tx: &mut AnyConnection,
    name: &str,
    version: Option<i64>,
    action: &'static str,
    from: Option<&str>,
    to: Option<&str>,
    change: &Change,
) -> CoreResult<()> {
    sqlx::query(
        "INSERT INTO registry_audit (name, version, action, from_value, to_value, actor, comment, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(name)
    .bind(version)
    .bind(action)
    .bind(from)
    .bind(to)
    .bind(&change.actor)
    .bind(&change.comment)
    .bind(now_millis())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Tags as the webhook bodies carry them: `{"key": "value"}`.
fn tag_map(tags: &[Tag]) -> serde_json::Value {
    tags.iter()
        .map(|t| (t.key.clone(), serde_json::Value::from(t.value.clone())))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Our `model_version.stage_transitioned` event, for one version that moved.
async fn stage_event_on(
    tx: &mut AnyConnection,
    name: &str,
    version: i64,
    from: Stage,
    to: Stage,
    change: &Change,
) -> CoreResult<()> {
    enqueue_on(
        tx,
        WebhookEvent::ModelVersionStageTransitioned,
        name,
        serde_json::json!({
            "name": name, "version": version.to_string(), "from_stage": from.name(),
            "to_stage": to.name(), "user": change.actor, "comment": change.comment,
        }),
    )
    .await
}

/// The newest version in each stage of the models named by `list` (bound placeholders):
/// per model and stage, one MAX over the (name, stage, version) index, a seek each, so a
/// model with thousands of versions costs what one with four does.
fn latest_versions_sql(list: &str) -> String {
    // CROSS JOIN keeps SQLite's join order: the few (model, stage) maxima first, then a
    // primary-key lookup each (the other order ran the subqueries once per version).
    format!(
        "SELECT {VERSION_COLUMNS_V} FROM ( \
           SELECT m.name AS n, (SELECT MAX(x.version) FROM model_versions x \
                                WHERE x.name = m.name AND x.current_stage = s.stage) AS newest \
           FROM registered_models m CROSS JOIN (SELECT 'None' AS stage UNION ALL SELECT 'Staging' \
             UNION ALL SELECT 'Production' UNION ALL SELECT 'Archived') s \
           WHERE m.name IN ({list})) l \
         CROSS JOIN model_versions v WHERE v.name = l.n AND v.version = l.newest"
    )
}

async fn touch_model(tx: &mut AnyConnection, name: &str, at: i64) -> CoreResult<()> {
    sqlx::query("UPDATE registered_models SET last_updated_time = $1 WHERE name = $2")
        .bind(at)
        .bind(name)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn version_row_on(tx: &mut AnyConnection, name: &str, version: i64) -> CoreResult<ModelVersion> {
    let sql = format!("SELECT {VERSION_COLUMNS} FROM model_versions WHERE name = $1 AND version = $2");
    let row = sqlx::query(&sql)
        .bind(name)
        .bind(version)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| version_not_found(name, version))?;
    version_from(&row)
}

impl SqlTrackingStore {
    /// Fills in the tags and aliases of these versions: two queries for all of them.
    async fn complete_versions(&self, mut versions: Vec<ModelVersion>) -> CoreResult<Vec<ModelVersion>> {
        let names: Vec<String> = {
            let mut n: Vec<String> = versions.iter().map(|v| v.name.clone()).collect();
            n.sort();
            n.dedup();
            n
        };
        if names.is_empty() {
            return Ok(versions);
        }
        let list = placeholders(self.backend, 1, names.len());
        let tags_sql = format!(
            "SELECT name, version, key, value FROM model_version_tags WHERE name IN ({list}) ORDER BY key"
        );
        let aliases_sql = format!(
            "SELECT name, version, alias FROM registered_model_aliases WHERE name IN ({list}) ORDER BY alias"
        );
        let mut tags: HashMap<(String, i64), Vec<Tag>> = HashMap::new();
        for row in ids_query(&tags_sql, &names).fetch_all(self.pool()).await? {
            tags.entry((row.try_get("name")?, row.try_get("version")?))
                .or_default()
                .push(Tag {
                    key: row.try_get("key")?,
                    value: row.try_get("value")?,
                });
        }
        let mut aliases: HashMap<(String, i64), Vec<String>> = HashMap::new();
        for row in ids_query(&aliases_sql, &names).fetch_all(self.pool()).await? {
            aliases
                .entry((row.try_get("name")?, row.try_get("version")?))
                .or_default()
                .push(row.try_get("alias")?);
        }
        for v in &mut versions {
            let key = (v.name.clone(), v.version);
            v.tags = tags.remove(&key).unwrap_or_default();
            v.aliases = aliases.remove(&key).unwrap_or_default();
        }
        Ok(versions)
    }

    /// Loads these models with their tags, aliases and latest version per stage: four
    /// queries for any number of models.
    async fn load_models(&self, names: &[String]) -> CoreResult<Vec<RegisteredModel>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let list = placeholders(self.backend, 1, names.len());
        let models_sql = format!("SELECT {MODEL_COLUMNS} FROM registered_models WHERE name IN ({list})");
        let tags_sql =
            format!("SELECT name, key, value FROM registered_model_tags WHERE name IN ({list}) ORDER BY key");
        let aliases_sql = format!(
            "SELECT name, alias, version FROM registered_model_aliases WHERE name IN ({list}) ORDER BY alias"
        );
        let latest_sql = latest_versions_sql(&list);
        let rows = ids_query(&models_sql, names).fetch_all(self.pool()).await?;
        let mut tags: HashMap<String, Vec<Tag>> = HashMap::new();
        for row in ids_query(&tags_sql, names).fetch_all(self.pool()).await? {
            tags.entry(row.try_get("name")?).or_default().push(Tag {
                key: row.try_get("key")?,
                value: row.try_get("value")?,
            });
        }
        let mut aliases: HashMap<String, Vec<Alias>> = HashMap::new();
        for row in ids_query(&aliases_sql, names).fetch_all(self.pool()).await? {
            aliases.entry(row.try_get("name")?).or_default().push(Alias {
                alias: row.try_get("alias")?,
                version: row.try_get("version")?,
            });
        }
        let latest_rows = ids_query(&latest_sql, names).fetch_all(self.pool()).await?;
        let latest = self
            .complete_versions(latest_rows.iter().map(version_from).collect::<CoreResult<_>>()?)
            .await?;
        let mut by_model: HashMap<String, Vec<ModelVersion>> = HashMap::new();
        for v in latest {
            by_model.entry(v.name.clone()).or_default().push(v);
        }
        let mut models = rows
            .iter()
            .map(|row| {
                let name: String = row.try_get("name")?;
                let mut latest_versions = by_model.remove(&name).unwrap_or_default();
                latest_versions.sort_by_key(|v| v.version);
                Ok(RegisteredModel {
                    tags: tags.remove(&name).unwrap_or_default(),
                    aliases: aliases.remove(&name).unwrap_or_default(),
                    latest_versions,
                    creation_time: row.try_get("creation_time")?,
                    last_updated_time: row.try_get("last_updated_time")?,
                    description: row.try_get("description")?,
                    name,
                })
            })
            .collect::<CoreResult<Vec<_>>>()?;
        // In the order asked for.
        let order: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
        models.sort_by_key(|m| order.get(m.name.as_str()).copied().unwrap_or(usize::MAX));
        Ok(models)
    }
}

#[async_trait::async_trait]
impl RegistryStore for SqlTrackingStore {
    async fn create_registered_model(
        &self,
        name: &str,
        description: &str,
        tags: &[Tag],
        owner: Option<i64>,
    ) -> CoreResult<RegisteredModel> {
        check_name(name)?;
        for tag in tags {
            check_tag(&tag.key, &tag.value)?;
        }
        let now = now_millis();
        let mut tx = self.write_tx().await?;
        let inserted = sqlx::query(
            "INSERT INTO registered_models (name, creation_time, last_updated_time, description) VALUES ($1, $2, $2, $3)",
        )
        .bind(name)
        .bind(now)
        .bind(description)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(CoreError::AlreadyExists(format!(
                    "Registered Model (name={name}) already exists."
                )))
            }
            Err(e) => return Err(e.into()),
        }
        for tag in tags {
            sqlx::query(
                "INSERT INTO registered_model_tags (name, key, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
            )
            .bind(name)
            .bind(&tag.key)
            .bind(&tag.value)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(owner) = owner {
            sqlx::query(
                "INSERT INTO registered_model_permissions (name, user_id, permission) VALUES ($1, $2, 'MANAGE') \
                 ON CONFLICT (name, user_id) DO UPDATE SET permission = excluded.permission",
            )
            .bind(name)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        }
        enqueue_on(
            &mut tx,
            WebhookEvent::RegisteredModelCreated,
            name,
            serde_json::json!({ "name": name, "tags": tag_map(tags), "description": description }),
        )
        .await?;
        tx.commit().await?;
        self.get_registered_model(name).await
    }

    async fn get_registered_model(&self, name: &str) -> CoreResult<RegisteredModel> {
        self.load_models(&[name.to_string()])
            .await?
            .pop()
            .ok_or_else(|| model_not_found(name))
    }

    async fn update_registered_model(&self, name: &str, description: &str) -> CoreResult<RegisteredModel> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE registered_models SET description = $1, last_updated_time = $2 WHERE name = $3",
        )
        .bind(description)
        .bind(now_millis())
        .bind(name)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(model_not_found(name));
        }
        tx.commit().await?;
        self.get_registered_model(name).await
    }

    async fn rename_registered_model(&self, name: &str, new_name: &str) -> CoreResult<RegisteredModel> {
        check_name(new_name)?;
        let mut tx = self.write_tx().await?;
        // Versions, tags and aliases follow through ON UPDATE CASCADE; grants are keyed by
        // name without a foreign key (they may name models not yet made), so move them here.
        let renamed =
            sqlx::query("UPDATE registered_models SET name = $1, last_updated_time = $2 WHERE name = $3")
                .bind(new_name)
                .bind(now_millis())
                .bind(name)
                .execute(&mut *tx)
                .await;
        match renamed {
            Ok(done) if done.rows_affected() == 0 => return Err(model_not_found(name)),
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(CoreError::AlreadyExists(format!(
                    "Registered Model (name={new_name}) already exists."
                )))
            }
            Err(e) => return Err(e.into()),
        }
        sqlx::query("UPDATE registered_model_permissions SET name = $1 WHERE name = $2")
            .bind(new_name)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE registry_audit SET name = $1 WHERE name = $2")
            .bind(new_name)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.get_registered_model(new_name).await
    }

    async fn delete_registered_model(&self, name: &str, change: &Change) -> CoreResult<()> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("DELETE FROM registered_models WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(model_not_found(name));
        }
        sqlx::query("DELETE FROM registered_model_permissions WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        audit_on(&mut tx, name, None, "model_deleted", None, None, change).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn search_registered_models(
        &self,
        filter: Option<&Filter>,
        order_by: &[OrderBy],
        max_results: i64,
        offset: i64,
    ) -> CoreResult<Page<RegisteredModel>> {
        let order = compile_registry_order(Subject::RegisteredModels, order_by);
        let (names, has_more) = self
            .search_ids::<String>(
                SqlBuilder::new(1),
                "SELECT rm.name FROM registered_models rm WHERE 1 = 1".to_string(),
                Subject::RegisteredModels,
                filter,
                &order,
                IdPage { max_results, offset },
                "name",
            )
            .await?;
        Ok(Page {
            items: self.load_models(&names).await?,
            has_more,
        })
    }

    async fn search_model_versions(
        &self,
        filter: Option<&Filter>,
        order_by: &[OrderBy],
        max_results: i64,
        offset: i64,
    ) -> CoreResult<Page<ModelVersion>> {
        let mut b = SqlBuilder::new(1);
        let mut sql = format!("SELECT {VERSION_COLUMNS} FROM model_versions v WHERE 1 = 1");
        if let Some(filter) = filter {
            sql.push_str(" AND ");
            sql.push_str(&compile_filter(&mut b, Subject::ModelVersions, filter));
        }
        let limit = b.bind(crate::search::sql::Bind::Int(max_results + 1));
        let skip = b.bind(crate::search::sql::Bind::Int(offset));
        let order = compile_registry_order(Subject::ModelVersions, order_by);
        sql.push_str(&format!(" ORDER BY {order} LIMIT {limit} OFFSET {skip}"));
        let mut query = sqlx::query(&sql);
        for bind in &b.binds {
            query = bind_value(query, bind);
        }
        let rows = query.fetch_all(self.pool()).await?;
        let versions = rows.iter().map(version_from).collect::<CoreResult<Vec<_>>>()?;
        let page = Page::from_overfetch(versions, max_results);
        Ok(Page {
            items: self.complete_versions(page.items).await?,
            has_more: page.has_more,
        })
    }

    async fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> CoreResult<()> {
        check_tag(key, value)?;
        let mut tx = self.write_tx().await?;
        let exists = sqlx::query("SELECT 1 AS one FROM registered_models WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(model_not_found(name));
        }
        sqlx::query(
            "INSERT INTO registered_model_tags (name, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(key)
        .bind(value)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_registered_model_tag(&self, name: &str, key: &str) -> CoreResult<()> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("DELETE FROM registered_model_tags WHERE name = $1 AND key = $2")
            .bind(name)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(CoreError::NotFound(format!(
                "No tag with key '{key}' on registered model '{name}'"
            )));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn latest_versions(&self, name: &str, stages: &[Stage]) -> CoreResult<Vec<ModelVersion>> {
        let names = [name.to_string()];
        let sql = latest_versions_sql(&placeholders(self.backend, 1, 1));
        let rows = ids_query(&sql, &names).fetch_all(self.pool()).await?;
        if rows.is_empty() {
            // No versions, or no model.
            self.get_registered_model(name).await?;
            return Ok(Vec::new());
        }
        let mut versions: Vec<ModelVersion> = rows
            .iter()
            .map(version_from)
            .filter(|v| {
                v.as_ref()
                    .map_or(true, |v| stages.is_empty() || stages.contains(&v.current_stage))
            })
            .collect::<CoreResult<_>>()?;
        versions.sort_by_key(|v| v.version);
        self.complete_versions(versions).await
    }

    async fn create_model_version(&self, new: NewModelVersion, change: &Change) -> CoreResult<ModelVersion> {
        for tag in &new.tags {
            check_tag(&tag.key, &tag.value)?;
        }
        let now = now_millis();
        let mut tx = self.write_tx().await?;
        // The next number, taken under the write lock (SQLite) or the row lock (PostgreSQL).
        let row = sqlx::query(
            "UPDATE registered_models SET last_version = last_version + 1, last_updated_time = $1 \
             WHERE name = $2 RETURNING last_version",
        )
        .bind(now)
        .bind(&new.name)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| model_not_found(&new.name))?;
        let version: i64 = row.try_get("last_version")?;
        sqlx::query(
            "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, \
             current_stage, source, run_id, run_link, model_id, status) \
             VALUES ($1, $2, $3, $3, $4, $5, 'None', $6, $7, $8, $9, 'READY')",
        )
        .bind(&new.name)
        .bind(version)
        .bind(now)
        .bind(&new.description)
        .bind(&new.user_id)
        .bind(&new.source)
        .bind(&new.run_id)
        .bind(&new.run_link)
        .bind(&new.model_id)
        .execute(&mut *tx)
        .await?;
        for tag in &new.tags {
            sqlx::query(
                "INSERT INTO model_version_tags (name, version, key, value) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
            )
            .bind(&new.name)
            .bind(version)
            .bind(&tag.key)
            .bind(&tag.value)
            .execute(&mut *tx)
            .await?;
        }
        audit_on(
            &mut tx,
            &new.name,
            Some(version),
            "version_created",
            None,
            Some(&new.source),
            change,
        )
        .await?;
        enqueue_on(
            &mut tx,
            WebhookEvent::ModelVersionCreated,
            &new.name,
            serde_json::json!({
                "name": new.name, "version": version.to_string(), "source": new.source,
                "run_id": new.run_id, "tags": tag_map(&new.tags), "description": new.description,
            }),
        )
        .await?;
        tx.commit().await?;
        self.get_model_version(&new.name, version).await
    }

    async fn get_model_version(&self, name: &str, version: i64) -> CoreResult<ModelVersion> {
        let sql = format!("SELECT {VERSION_COLUMNS} FROM model_versions WHERE name = $1 AND version = $2");
        let row = sqlx::query(&sql)
            .bind(name)
            .bind(version)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| version_not_found(name, version))?;
        self.complete_versions(vec![version_from(&row)?])
            .await?
            .pop()
            .ok_or_else(|| version_not_found(name, version))
    }

    async fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: &str,
    ) -> CoreResult<ModelVersion> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE model_versions SET description = $1, last_updated_time = $2 WHERE name = $3 AND version = $4",
        )
        .bind(description)
        .bind(now_millis())
        .bind(name)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(version_not_found(name, version));
        }
        tx.commit().await?;
        self.get_model_version(name, version).await
    }

    async fn delete_model_version(&self, name: &str, version: i64, change: &Change) -> CoreResult<()> {
        let mut tx = self.write_tx().await?;
        let existing = version_row_on(&mut tx, name, version).await?;
        sqlx::query("DELETE FROM registered_model_aliases WHERE name = $1 AND version = $2")
            .bind(name)
            .bind(version)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM model_versions WHERE name = $1 AND version = $2")
            .bind(name)
            .bind(version)
            .execute(&mut *tx)
            .await?;
        touch_model(&mut tx, name, now_millis()).await?;
        audit_on(
            &mut tx,
            name,
            Some(version),
            "version_deleted",
            Some(existing.current_stage.name()),
            None,
            change,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn transition_stage(
        &self,
        name: &str,
        version: i64,
        stage: Stage,
        archive_existing: bool,
        change: &Change,
    ) -> CoreResult<ModelVersion> {
        let now = now_millis();
        let mut tx = self.write_tx().await?;
        // Lock the model row first (PostgreSQL), so two promotions of one model take turns
        // and exactly one version ends up in the stage.
        let locked = sqlx::query("UPDATE registered_models SET last_updated_time = $1 WHERE name = $2")
            .bind(now)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if locked.rows_affected() == 0 {
            return Err(model_not_found(name));
        }
        let current = version_row_on(&mut tx, name, version).await?;
        if archive_existing && matches!(stage, Stage::Staging | Stage::Production) {
            let others = sqlx::query(
                "SELECT version FROM model_versions WHERE name = $1 AND current_stage = $2 AND version <> $3",
            )
            .bind(name)
            .bind(stage.name())
            .bind(version)
            .fetch_all(&mut *tx)
            .await?;
            for row in others {
                let other: i64 = row.try_get("version")?;
                sqlx::query(
                    "UPDATE model_versions SET current_stage = 'Archived', last_updated_time = $1 \
                     WHERE name = $2 AND version = $3",
                )
                .bind(now)
                .bind(name)
                .bind(other)
                .execute(&mut *tx)
                .await?;
                audit_on(
                    &mut tx,
                    name,
                    Some(other),
                    "stage_transitioned",
                    Some(stage.name()),
                    Some(Stage::Archived.name()),
                    change,
                )
                .await?;
                stage_event_on(&mut tx, name, other, stage, Stage::Archived, change).await?;
            }
        }
        sqlx::query(
            "UPDATE model_versions SET current_stage = $1, last_updated_time = $2 WHERE name = $3 AND version = $4",
        )
        .bind(stage.name())
        .bind(now)
        .bind(name)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        audit_on(
            &mut tx,
            name,
            Some(version),
            "stage_transitioned",
            Some(current.current_stage.name()),
            Some(stage.name()),
            change,
        )
        .await?;
        stage_event_on(&mut tx, name, version, current.current_stage, stage, change).await?;
        tx.commit().await?;
        self.get_model_version(name, version).await
    }

    async fn set_model_version_tag(
        &self,
        name: &str,
        version: i64,
        key: &str,
        value: &str,
    ) -> CoreResult<()> {
        check_tag(key, value)?;
        let mut tx = self.write_tx().await?;
        version_row_on(&mut tx, name, version).await?;
        sqlx::query(
            "INSERT INTO model_version_tags (name, version, key, value) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(version)
        .bind(key)
        .bind(value)
        .execute(&mut *tx)
        .await?;
        enqueue_on(
            &mut tx,
            WebhookEvent::ModelVersionTagSet,
            name,
            serde_json::json!({ "name": name, "version": version.to_string(), "key": key, "value": value }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_model_version_tag(&self, name: &str, version: i64, key: &str) -> CoreResult<()> {
        let mut tx = self.write_tx().await?;
        version_row_on(&mut tx, name, version).await?;
        sqlx::query("DELETE FROM model_version_tags WHERE name = $1 AND version = $2 AND key = $3")
            .bind(name)
            .bind(version)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        enqueue_on(
            &mut tx,
            WebhookEvent::ModelVersionTagDeleted,
            name,
            serde_json::json!({ "name": name, "version": version.to_string(), "key": key }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_alias(&self, name: &str, alias: &str, version: i64, change: &Change) -> CoreResult<()> {
        validation::entity_key("Alias", alias).map_err(CoreError::InvalidParameter)?;
        if alias.eq_ignore_ascii_case("latest")
            || (alias.starts_with('v') && alias[1..].parse::<i64>().is_ok())
        {
            return Err(CoreError::InvalidParameter(format!(
                "'{alias}' is reserved: aliases may not be 'latest' or look like a version ('v3')"
            )));
        }
        let mut tx = self.write_tx().await?;
        version_row_on(&mut tx, name, version).await?;
        let before =
            sqlx::query("SELECT version FROM registered_model_aliases WHERE name = $1 AND alias = $2")
                .bind(name)
                .bind(alias)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get::<i64, _>("version"))
                .transpose()?;
        sqlx::query(
            "INSERT INTO registered_model_aliases (name, alias, version) VALUES ($1, $2, $3) \
             ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
        )
        .bind(name)
        .bind(alias)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        let from = before.map(|v| format!("{alias}@{v}"));
        let to = format!("{alias}@{version}");
        audit_on(
            &mut tx,
            name,
            Some(version),
            "alias_set",
            from.as_deref(),
            Some(&to),
            change,
        )
        .await?;
        enqueue_on(
            &mut tx,
            WebhookEvent::ModelVersionAliasCreated,
            name,
            serde_json::json!({ "name": name, "alias": alias, "version": version.to_string() }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_alias(&self, name: &str, alias: &str, change: &Change) -> CoreResult<()> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "DELETE FROM registered_model_aliases WHERE name = $1 AND alias = $2 RETURNING version",
        )
        .bind(name)
        .bind(alias)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| {
            CoreError::NotFound(format!(
                "Registered model alias {alias} not found on model {name}"
            ))
        })?;
        let version: i64 = row.try_get("version")?;
        let from = format!("{alias}@{version}");
        audit_on(
            &mut tx,
            name,
            Some(version),
            "alias_deleted",
            Some(&from),
            None,
            change,
        )
        .await?;
        enqueue_on(
            &mut tx,
            WebhookEvent::ModelVersionAliasDeleted,
            name,
            serde_json::json!({ "name": name, "alias": alias }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn version_by_alias(&self, name: &str, alias: &str) -> CoreResult<ModelVersion> {
        let row = sqlx::query("SELECT version FROM registered_model_aliases WHERE name = $1 AND alias = $2")
            .bind(name)
            .bind(alias)
            .fetch_optional(self.pool())
            .await?
            // MLflow answers an unknown alias with INVALID_PARAMETER_VALUE (400).
            .ok_or_else(|| {
                CoreError::InvalidParameter(format!("Registered model alias {alias} not found."))
            })?;
        self.get_model_version(name, row.try_get("version")?).await
    }

    async fn audit(&self, name: &str, max_results: i64, offset: i64) -> CoreResult<Page<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT id, name, version, action, from_value, to_value, actor, comment, at FROM registry_audit \
             WHERE name = $1 ORDER BY id DESC LIMIT $2 OFFSET $3",
        )
        .bind(name)
        .bind(max_results + 1)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    version: r.try_get("version")?,
                    action: r.try_get("action")?,
                    from_value: r.try_get("from_value")?,
                    to_value: r.try_get("to_value")?,
                    actor: r.try_get("actor")?,
                    comment: r.try_get("comment")?,
                    at: r.try_get("at")?,
                })
            })
            .collect::<CoreResult<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, max_results))
    }
}
