//! Deployments on the SQL store ([`DeploymentStore`]).

use sqlx::any::AnyRow;
use sqlx::Row;

use super::SqlTrackingStore;
use crate::store::deployments::{DeploymentStore, StoredDeployment};
use crate::{CoreError, CoreResult};

const COLUMNS: &str = "name, model_name, version, follows, previous_version, deployed_by, deployed_at";

fn not_found(name: &str) -> CoreError {
    CoreError::NotFound(format!("Deployment '{name}' not found"))
}

fn from_row(row: &AnyRow) -> CoreResult<StoredDeployment> {
    Ok(StoredDeployment {
        name: row.try_get("name")?,
        model_name: row.try_get("model_name")?,
        version: row.try_get("version")?,
        follows: row.try_get("follows")?,
        previous_version: row.try_get("previous_version")?,
        deployed_by: row.try_get("deployed_by")?,
        deployed_at: row.try_get("deployed_at")?,
    })
}

#[async_trait::async_trait]
impl DeploymentStore for SqlTrackingStore {
    async fn put_deployment(&self, d: StoredDeployment) -> CoreResult<StoredDeployment> {
        let (_writer, mut tx) = self.write_tx().await?;
        let sql = format!("SELECT {COLUMNS} FROM deployments WHERE name = $1");
        let before = sqlx::query(&sql)
            .bind(&d.name)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| from_row(&r))
            .transpose()?;
        let previous = match &before {
            Some(b) if b.model_name == d.model_name && b.version != d.version => Some(b.version),
            Some(b) if b.model_name == d.model_name => b.previous_version,
            _ => None,
        };
        sqlx::query(
            "INSERT INTO deployments (name, model_name, version, follows, previous_version, deployed_by, deployed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO UPDATE SET model_name = excluded.model_name, \
             version = excluded.version, follows = excluded.follows, previous_version = excluded.previous_version, \
             deployed_by = excluded.deployed_by, deployed_at = excluded.deployed_at",
        )
        .bind(&d.name)
        .bind(&d.model_name)
        .bind(d.version)
        .bind(&d.follows)
        .bind(previous)
        .bind(&d.deployed_by)
        .bind(d.deployed_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.get_deployment(&d.name).await
    }

    async fn get_deployment(&self, name: &str) -> CoreResult<StoredDeployment> {
        let sql = format!("SELECT {COLUMNS} FROM deployments WHERE name = $1");
        let row = sqlx::query(&sql)
            .bind(name)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| not_found(name))?;
        from_row(&row)
    }

    async fn list_deployments(&self) -> CoreResult<Vec<StoredDeployment>> {
        let sql = format!("SELECT {COLUMNS} FROM deployments ORDER BY name");
        sqlx::query(&sql)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(from_row)
            .collect()
    }

    async fn delete_deployment(&self, name: &str) -> CoreResult<()> {
        let (_writer, mut tx) = self.write_tx().await?;
        let deleted = sqlx::query("DELETE FROM deployments WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(not_found(name));
        }
        tx.commit().await?;
        Ok(())
    }
}
