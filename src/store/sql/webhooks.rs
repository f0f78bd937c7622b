//! Webhooks and their delivery queue on the SQL store ([`WebhookStore`]), and
//! [`enqueue_on`], which the registry store calls inside a change's transaction.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{ids_query, placeholders, SqlTrackingStore};
use crate::store::webhooks::{Outbound, Outcome, WebhookStore};
use crate::store::Page;
use crate::webhooks::{
    Delivery, DeliveryStatus, NewWebhook, Webhook, WebhookEvent, WebhookStatus, WebhookUpdate,
};
use crate::{now_millis, CoreError, CoreResult};

const WEBHOOK_COLUMNS: &str =
    "id, name, description, url, events, secret, status, creation_time, last_updated_time";

/// Longest error text kept per delivery.
const MAX_ERROR_LEN: usize = 500;

fn not_found(id: &str) -> CoreError {
    CoreError::NotFound(format!("Webhook with ID {id} not found"))
}

/// ` a.b c.d ` (see the `events` column).
fn events_column(events: &[WebhookEvent]) -> String {
    let mut text = String::from(" ");
    for e in events {
        text.push_str(e.name());
        text.push(' ');
    }
    text
}

fn webhook_from(row: &AnyRow) -> CoreResult<(Webhook, String)> {
    let events: String = row.try_get("events")?;
    let status: String = row.try_get("status")?;
    let secret: String = row.try_get("secret")?;
    Ok((
        Webhook {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            url: row.try_get("url")?,
            events: events
                .split_whitespace()
                .filter_map(WebhookEvent::parse)
                .collect(),
            status: WebhookStatus::parse(&status).unwrap_or(WebhookStatus::Disabled),
            has_secret: !secret.is_empty(),
            creation_time: row.try_get("creation_time")?,
            last_updated_time: row.try_get("last_updated_time")?,
        },
        secret,
    ))
}

fn delivery_from(row: &AnyRow) -> CoreResult<Delivery> {
    let status: String = row.try_get("status")?;
    Ok(Delivery {
        id: row.try_get("id")?,
        webhook_id: row.try_get("webhook_id")?,
        webhook_name: row.try_get("webhook_name")?,
        event: row.try_get("event")?,
        model_name: row.try_get("model_name")?,
        status: DeliveryStatus::parse(&status),
        attempts: row.try_get("attempts")?,
        last_status: row.try_get("last_status")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Queues `event` for every active webhook subscribed to it, in the caller's transaction,
/// with MLflow's body: `{"entity", "action", "timestamp", "data"}`.
pub(super) async fn enqueue_on(
    tx: &mut AnyConnection,
    event: WebhookEvent,
    model_name: &str,
    data: serde_json::Value,
) -> CoreResult<()> {
    let pattern = format!("% {} %", event.name());
    let subscribers: Vec<String> =
        sqlx::query("SELECT id FROM webhooks WHERE status = 'ACTIVE' AND events LIKE $1")
            .bind(&pattern)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
    if subscribers.is_empty() {
        return Ok(());
    }
    let now = now_millis();
    let (entity, action) = event.parts();
    let body = serde_json::json!({
        "entity": entity,
        "action": action,
        "timestamp": crate::time::iso8601(now),
        "data": data,
    })
    .to_string();
    for webhook_id in subscribers {
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, webhook_id, event, model_name, body, next_attempt_at, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6, $6)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(&webhook_id)
        .bind(event.name())
        .bind(model_name)
        .bind(&body)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

impl SqlTrackingStore {
    async fn webhook_row(&self, id: &str) -> CoreResult<(Webhook, String)> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| not_found(id))?;
        webhook_from(&row)
    }
}

#[async_trait::async_trait]
impl WebhookStore for SqlTrackingStore {
    async fn create_webhook(&self, new: NewWebhook) -> CoreResult<Webhook> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let now = now_millis();
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO webhooks (id, name, description, url, events, secret, status, creation_time, \
             last_updated_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(&id)
        .bind(&new.name)
        .bind(&new.description)
        .bind(&new.url)
        .bind(events_column(&new.events))
        .bind(&new.secret)
        .bind(new.status.name())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.get_webhook(&id).await
    }

    async fn get_webhook(&self, id: &str) -> CoreResult<Webhook> {
        Ok(self.webhook_row(id).await?.0)
    }

    async fn webhook_target(&self, id: &str) -> CoreResult<(Webhook, String)> {
        self.webhook_row(id).await
    }

    async fn list_webhooks(&self, max_results: i64, offset: i64) -> CoreResult<Page<Webhook>> {
        let sql = format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY creation_time DESC, id LIMIT $1 OFFSET $2"
        );
        let rows = sqlx::query(&sql)
            .bind(max_results + 1)
            .bind(offset)
            .fetch_all(self.pool())
            .await?;
        let items = rows
            .iter()
            .map(|r| webhook_from(r).map(|(w, _)| w))
            .collect::<CoreResult<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, max_results))
    }

    async fn update_webhook(&self, id: &str, update: WebhookUpdate) -> CoreResult<Webhook> {
        let mut tx = self.write_tx().await?;
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| not_found(id))?;
        let (current, secret) = webhook_from(&row)?;
        sqlx::query(
            "UPDATE webhooks SET name = $1, description = $2, url = $3, events = $4, secret = $5, \
             status = $6, last_updated_time = $7 WHERE id = $8",
        )
        .bind(update.name.unwrap_or(current.name))
        .bind(update.description.unwrap_or(current.description))
        .bind(update.url.unwrap_or(current.url))
        .bind(events_column(&update.events.unwrap_or(current.events)))
        .bind(update.secret.unwrap_or(secret))
        .bind(update.status.unwrap_or(current.status).name())
        .bind(now_millis())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.get_webhook(id).await
    }

    async fn delete_webhook(&self, id: &str) -> CoreResult<()> {
        let mut tx = self.write_tx().await?;
        // Deliveries go first so SQLite needs no foreign-key cascade to be switched on.
        sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(not_found(id));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn claim_deliveries(&self, limit: i64, lease_ms: i64) -> CoreResult<Vec<Outbound>> {
        let now = now_millis();
        let mut tx = self.write_tx().await?;
        // The conditions stand on the UPDATE itself too: when two replicas pick the same
        // row, PostgreSQL re-checks them on the row the first one wrote, and the second skips it.
        let claimed = sqlx::query(
            "UPDATE webhook_deliveries SET claimed_until = $1, attempts = attempts + 1 \
             WHERE status = 'PENDING' AND next_attempt_at <= $2 AND claimed_until <= $2 AND id IN ( \
               SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
               WHERE d.status = 'PENDING' AND d.next_attempt_at <= $2 AND d.claimed_until <= $2 \
                 AND w.status = 'ACTIVE' \
               ORDER BY d.next_attempt_at LIMIT $3) \
             RETURNING id, webhook_id, event, body, attempts",
        )
        .bind(now + lease_ms)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let webhook_ids: Vec<String> = claimed
            .iter()
            .map(|r| r.try_get("webhook_id"))
            .collect::<Result<_, _>>()?;
        let sql = format!(
            "SELECT id, url, secret FROM webhooks WHERE id IN ({})",
            placeholders(self.backend, 1, webhook_ids.len())
        );
        let targets: std::collections::HashMap<String, (String, String)> = ids_query(&sql, &webhook_ids)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("id")?, (r.try_get("url")?, r.try_get("secret")?))))
            .collect::<CoreResult<_>>()?;
        claimed
            .iter()
            .filter_map(|row| {
                let webhook_id: String = row.try_get("webhook_id").ok()?;
                let (url, secret) = targets.get(&webhook_id)?.clone();
                Some(Ok(Outbound {
                    id: row.try_get("id").ok()?,
                    webhook_id,
                    url,
                    secret,
                    event: row.try_get("event").ok()?,
                    body: row.try_get("body").ok()?,
                    attempts: row.try_get("attempts").ok()?,
                }))
            })
            .collect()
    }

    async fn finish_delivery(&self, id: &str, outcome: Outcome) -> CoreResult<()> {
        let now = now_millis();
        let (status, code, error, next) = match outcome {
            Outcome::Delivered { status } => (DeliveryStatus::Delivered, Some(status), String::new(), now),
            Outcome::Retry { status, error, at } => (DeliveryStatus::Pending, status, error, at),
            Outcome::Failed { status, error } => (DeliveryStatus::Failed, status, error, now),
        };
        let error: String = error.chars().take(MAX_ERROR_LEN).collect();
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "UPDATE webhook_deliveries SET status = $1, last_status = $2, last_error = $3, \
             next_attempt_at = $4, claimed_until = 0, updated_at = $5 WHERE id = $6",
        )
        .bind(status.name())
        .bind(code)
        .bind(error)
        .bind(next)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn deliveries(
        &self,
        model_name: Option<&str>,
        webhook_id: Option<&str>,
        max_results: i64,
        offset: i64,
    ) -> CoreResult<Page<Delivery>> {
        let rows = sqlx::query(
            "SELECT d.id, d.webhook_id, w.name AS webhook_name, d.event, d.model_name, d.status, \
             d.attempts, d.last_status, d.last_error, d.created_at, d.updated_at \
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
             WHERE ($1 IS NULL OR d.model_name = $1) AND ($2 IS NULL OR d.webhook_id = $2) \
             ORDER BY d.created_at DESC, d.id LIMIT $3 OFFSET $4",
        )
        .bind(model_name)
        .bind(webhook_id)
        .bind(max_results + 1)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        let items = rows.iter().map(delivery_from).collect::<CoreResult<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, max_results))
    }

    async fn prune_deliveries(&self, before: i64) -> CoreResult<u64> {
        let mut tx = self.write_tx().await?;
        let done =
            sqlx::query("DELETE FROM webhook_deliveries WHERE status <> 'PENDING' AND updated_at < $1")
                .bind(before)
                .execute(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
