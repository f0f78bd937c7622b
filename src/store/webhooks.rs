//! The webhook store: webhooks, and the queue of deliveries a registry change leaves for
//! the sender. Deliveries are queued by the registry store in the change's own transaction.

use crate::store::Page;
use crate::webhooks::{Delivery, NewWebhook, Webhook, WebhookUpdate};
use crate::CoreResult;

/// A delivery taken by a sender, with what it needs to send it.
#[derive(Clone, Debug)]
pub struct Outbound {
    pub id: String,
    pub webhook_id: String,
    pub url: String,
    pub secret: String,
    pub event: String,
    pub body: String,
    /// Tries so far, this one included.
    pub attempts: i64,
}

/// How a try ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered {
        status: i64,
    },
    /// Try again at `at` (milliseconds).
    Retry {
        status: Option<i64>,
        error: String,
        at: i64,
    },
    Failed {
        status: Option<i64>,
        error: String,
    },
}

#[async_trait::async_trait]
pub trait WebhookStore: Send + Sync {
    async fn create_webhook(&self, new: NewWebhook) -> CoreResult<Webhook>;
    async fn get_webhook(&self, id: &str) -> CoreResult<Webhook>;
    /// A webhook with its secret, for sending a test.
    async fn webhook_target(&self, id: &str) -> CoreResult<(Webhook, String)>;
    /// Webhooks, newest first.
    async fn list_webhooks(&self, max_results: i64, offset: i64) -> CoreResult<Page<Webhook>>;
    async fn update_webhook(&self, id: &str, update: WebhookUpdate) -> CoreResult<Webhook>;
    /// Deletes a webhook and its deliveries.
    async fn delete_webhook(&self, id: &str) -> CoreResult<()>;

    /// Takes up to `limit` due deliveries of active webhooks for `lease_ms`, counting the try.
    async fn claim_deliveries(&self, limit: i64, lease_ms: i64) -> CoreResult<Vec<Outbound>>;
    /// Records how a claimed try ended and releases the lease.
    async fn finish_delivery(&self, id: &str, outcome: Outcome) -> CoreResult<()>;
    /// Forgets finished deliveries (delivered or failed) last changed before `before`;
    /// pending ones stay whatever their age. Returns how many went.
    async fn prune_deliveries(&self, before: i64) -> CoreResult<u64>;
    /// Deliveries, newest first: of one model's events, or of one webhook, or all.
    async fn deliveries(
        &self,
        model_name: Option<&str>,
        webhook_id: Option<&str>,
        max_results: i64,
        offset: i64,
    ) -> CoreResult<Page<Delivery>>;
}
