//! Webhook operations: only administrators manage webhooks (their URLs and secrets are
//! the server's to keep); a model's deliveries are listed to those who may read the model.

use super::AppState;
use crate::auth::{Access, Actor};
use crate::store::Page;
use crate::webhooks::{valid_name, Delivery, NewWebhook, TestResult, Webhook, WebhookEvent, WebhookUpdate};
use crate::{CoreError, CoreResult};

const WHAT: &str = "manage webhooks";

fn check_fields(name: Option<&str>, events: Option<&[WebhookEvent]>) -> CoreResult<()> {
    if let Some(name) = name {
        if !valid_name(name) {
            return Err(CoreError::InvalidParameter(format!(
                "Webhook name '{name}' is invalid. It must start and end with a letter or digit, be at most \
                 63 characters long, and contain only letters, digits, dots (.), underscores (_), and hyphens (-)."
            )));
        }
    }
    if events.is_some_and(|e| e.is_empty()) {
        return Err(CoreError::InvalidParameter(
            "Webhook events cannot be empty".into(),
        ));
    }
    Ok(())
}

impl AppState {
    /// Only administrators manage webhooks. The REST handlers ask this before reading a
    /// request's fields, so a caller who may not learns nothing from validation errors.
    pub fn may_manage_webhooks(&self, actor: &Actor) -> CoreResult<()> {
        self.require_admin(actor, WHAT)
    }

    pub async fn create_webhook(&self, actor: &Actor, mut new: NewWebhook) -> CoreResult<Webhook> {
        self.require_admin(actor, WHAT)?;
        check_fields(Some(&new.name), Some(&new.events))?;
        new.url = new.url.trim().to_string();
        self.sender.check_url(&new.url).await?;
        new.events.dedup();
        self.webhooks.create_webhook(new).await
    }

    pub async fn get_webhook(&self, actor: &Actor, id: &str) -> CoreResult<Webhook> {
        self.require_admin(actor, WHAT)?;
        self.webhooks.get_webhook(id).await
    }

    pub async fn list_webhooks(
        &self,
        actor: &Actor,
        max_results: i64,
        offset: i64,
    ) -> CoreResult<Page<Webhook>> {
        self.require_admin(actor, WHAT)?;
        self.webhooks.list_webhooks(max_results, offset).await
    }

    pub async fn update_webhook(
        &self,
        actor: &Actor,
        id: &str,
        mut update: WebhookUpdate,
    ) -> CoreResult<Webhook> {
        self.require_admin(actor, WHAT)?;
        check_fields(update.name.as_deref(), update.events.as_deref())?;
        if let Some(url) = update.url.as_mut() {
            *url = url.trim().to_string();
            self.sender.check_url(url).await?;
        }
        self.webhooks.update_webhook(id, update).await
    }

    pub async fn delete_webhook(&self, actor: &Actor, id: &str) -> CoreResult<()> {
        self.require_admin(actor, WHAT)?;
        self.webhooks.delete_webhook(id).await
    }

    /// Sends an example of `event` (the webhook's first event by default) now and reports
    /// the receiver's answer; refused addresses come back as a failed result, as in MLflow.
    pub async fn test_webhook(
        &self,
        actor: &Actor,
        id: &str,
        event: Option<WebhookEvent>,
    ) -> CoreResult<TestResult> {
        self.require_admin(actor, WHAT)?;
        let (webhook, secret) = self.webhooks.webhook_target(id).await?;
        let event = event
            .or_else(|| webhook.events.first().copied())
            .ok_or_else(|| CoreError::InvalidParameter("The webhook has no events to test".into()))?;
        Ok(self.sender.test(&webhook.url, &secret, event).await)
    }

    /// Deliveries of one model's events (for its page; readers of the model may see them),
    /// or, for administrators, of one webhook or of all.
    pub async fn webhook_deliveries(
        &self,
        actor: &Actor,
        model_name: Option<&str>,
        webhook_id: Option<&str>,
        max_results: i64,
        offset: i64,
    ) -> CoreResult<Page<Delivery>> {
        match model_name {
            Some(name) if webhook_id.is_none() => self.check_model(actor, name, Access::Read).await?,
            _ => self.require_admin(actor, WHAT)?,
        }
        self.webhooks
            .deliveries(model_name, webhook_id, max_results, offset)
            .await
    }
}
