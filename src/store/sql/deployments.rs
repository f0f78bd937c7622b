//! Deployments on the SQL store ([`DeploymentStore`]).

use sqlx::any::AnyRow;
use sqlx::Row;

use super::SqlTrackingStore;
use crate::monitoring::{Latencies, StatsBucket};
use crate::store::deployments::{DeploymentStore, StoredDeployment};
use crate::{CoreError, CoreResult};

const COLUMNS: &str =
    "name, model_name, version, follows, previous_version, deployed_by, deployed_at, canary_version, canary_percent, \
     max_batch_size, batch_delay_us";

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
        canary_version: row.try_get("canary_version")?,
        canary_percent: row.try_get("canary_percent")?,
        max_batch_size: row.try_get("max_batch_size")?,
        batch_delay_us: row.try_get("batch_delay_us")?,
    })
}

#[async_trait::async_trait]
impl DeploymentStore for SqlTrackingStore {
    async fn put_deployment(&self, d: StoredDeployment) -> CoreResult<StoredDeployment> {
        let mut tx = self.write_tx().await?;
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
            "INSERT INTO deployments (name, model_name, version, follows, previous_version, deployed_by, deployed_at, \
             canary_version, canary_percent, max_batch_size, batch_delay_us) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (name) DO UPDATE SET model_name = excluded.model_name, version = excluded.version, follows = excluded.follows, \
             previous_version = excluded.previous_version, deployed_by = excluded.deployed_by, \
             deployed_at = excluded.deployed_at, canary_version = excluded.canary_version, \
             canary_percent = excluded.canary_percent, max_batch_size = excluded.max_batch_size, \
             batch_delay_us = excluded.batch_delay_us",
        )
        .bind(&d.name)
        .bind(&d.model_name)
        .bind(d.version)
        .bind(&d.follows)
        .bind(previous)
        .bind(&d.deployed_by)
        .bind(d.deployed_at)
        .bind(d.canary_version)
        .bind(d.canary_percent)
        .bind(d.max_batch_size)
        .bind(d.batch_delay_us)
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
        let mut tx = self.write_tx().await?;
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

    async fn put_stats(&self, replica: &str, buckets: &[StatsBucket]) -> CoreResult<()> {
        if buckets.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_tx().await?;
        for b in buckets {
            sqlx::query(
                "INSERT INTO inference_stats (bucket_start, deployment, version, replica, requests, errors, latencies) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (bucket_start, deployment, version, replica) \
                 DO UPDATE SET requests = excluded.requests, errors = excluded.errors, latencies = excluded.latencies",
            )
            .bind(b.start)
            .bind(&b.deployment)
            .bind(b.version)
            .bind(replica)
            .bind(i64::try_from(b.requests).unwrap_or(i64::MAX))
            .bind(i64::try_from(b.errors).unwrap_or(i64::MAX))
            .bind(b.latencies.to_text())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn stats_since(&self, since: i64) -> CoreResult<Vec<(String, StatsBucket)>> {
        let rows = sqlx::query(
            "SELECT bucket_start, deployment, version, replica, requests, errors, latencies \
             FROM inference_stats WHERE bucket_start >= $1 ORDER BY bucket_start",
        )
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let count = |column: &str| -> CoreResult<u64> {
                    Ok(u64::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0))
                };
                Ok((
                    row.try_get("replica")?,
                    StatsBucket {
                        deployment: row.try_get("deployment")?,
                        version: row.try_get("version")?,
                        start: row.try_get("bucket_start")?,
                        requests: count("requests")?,
                        errors: count("errors")?,
                        latencies: Latencies::from_text(&row.try_get::<String, _>("latencies")?),
                    },
                ))
            })
            .collect()
    }

    async fn prune_stats(&self, before: i64) -> CoreResult<u64> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("DELETE FROM inference_stats WHERE bucket_start < $1")
            .bind(before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
