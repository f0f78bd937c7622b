//! Sending webhook deliveries: MLflow's headers and HMAC signature, retries with backoff,
//! and the sender loop that drains the queue in the database (so a delivery outlives a
//! restart and never holds up the request that caused it).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::Notify;

use super::address::refusal;
use super::{TestResult, WebhookEvent};
use crate::store::webhooks::{Outbound, Outcome, WebhookStore};
use crate::{now_millis, CoreError, CoreResult};

/// MLflow's headers.
pub const SIGNATURE_HEADER: &str = "X-MLflow-Signature";
pub const TIMESTAMP_HEADER: &str = "X-MLflow-Timestamp";
pub const DELIVERY_ID_HEADER: &str = "X-MLflow-Delivery-Id";

/// How many queued deliveries one sender takes at a time.
const BATCH: i64 = 16;
/// How often the sender looks for due retries when nothing woke it.
const POLL: Duration = Duration::from_secs(1);
/// The longest wait between tries.
const MAX_BACKOFF_MS: i64 = 5 * 60 * 1000;
/// The longest receiver reply body kept for a test result.
const MAX_TEST_BODY: usize = 2000;

#[derive(Clone, Debug)]
pub struct SenderConfig {
    /// Deliver to loopback, private and link-local addresses too (a trusted network).
    pub allow_private: bool,
    /// URL schemes a webhook may use (MLflow allows only https unless configured).
    pub allowed_schemes: Vec<String>,
    /// Per try, connect to last byte.
    pub timeout: Duration,
    /// Tries before a delivery is given up as FAILED.
    pub max_attempts: i64,
}

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            allow_private: false,
            allowed_schemes: vec!["https".into()],
            timeout: Duration::from_secs(30),
            max_attempts: 5,
        }
    }
}

/// A name resolver that refuses non-public addresses (unless allowed): reqwest dials only
/// what this returns, so the check holds at connect time.
struct PublicResolver {
    allow_private: bool,
}

#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(reason) = addrs.iter().find_map(|a| refusal(a.ip(), allow_private)) {
                return Err(Box::new(Refused(format!("{host}: {reason}")))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// How one try went.
#[derive(Debug)]
enum Attempt {
    Answered {
        status: u16,
        body: String,
    },
    /// The address was refused: trying again would not help.
    Refused(String),
    /// No answer (connection, timeout): worth another try.
    Unreachable(String),
}

pub struct Sender {
    client: reqwest::Client,
    config: SenderConfig,
    wake: Notify,
}

impl Sender {
    pub fn new(config: SenderConfig) -> CoreResult<Sender> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            // A redirect could lead anywhere, an IP literal included, past the resolver.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would be the peer we check, not the receiver.
            .no_proxy()
            .dns_resolver(Arc::new(PublicResolver {
                allow_private: config.allow_private,
            }))
            .user_agent(concat!("aiops-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CoreError::Config(format!("webhook HTTP client: {e}")))?;
        Ok(Sender {
            client,
            config,
            wake: Notify::new(),
        })
    }

    pub fn config(&self) -> &SenderConfig {
        &self.config
    }

    /// Tells the sender loop that deliveries were queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Checks a webhook URL as it is saved: an allowed scheme, a host, and (unless private
    /// addresses are allowed) only public addresses behind it.
    pub async fn check_url(&self, url: &str) -> CoreResult<()> {
        let invalid =
            |why: String| CoreError::InvalidParameter(format!("Invalid webhook URL '{url}': {why}"));
        let parsed = reqwest::Url::parse(url.trim()).map_err(|e| invalid(e.to_string()))?;
        if !self
            .config
            .allowed_schemes
            .iter()
            .any(|s| s.eq_ignore_ascii_case(parsed.scheme()))
        {
            return Err(invalid(format!(
                "the scheme must be one of: {}",
                self.config.allowed_schemes.join(", ")
            )));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(invalid(
                "credentials in the URL are not allowed; use the secret".into(),
            ));
        }
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid("it has no host".into()))?;
        if self.config.allow_private {
            return Ok(());
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<IpAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => {
                let lookup = tokio::time::timeout(
                    Duration::from_secs(5),
                    tokio::net::lookup_host((bare, parsed.port_or_known_default().unwrap_or(443))),
                )
                .await
                .map_err(|_| invalid("resolving the host timed out".into()))?
                .map_err(|e| invalid(format!("the host does not resolve: {e}")))?;
                lookup.map(|a| a.ip()).collect()
            }
        };
        match addrs.into_iter().find_map(|ip| refusal(ip, false)) {
            Some(reason) => Err(invalid(reason)),
            None => Ok(()),
        }
    }

    /// One signed POST of `body`.
    async fn post(&self, url: &str, secret: &str, delivery_id: &str, body: &str) -> Attempt {
        // An IP literal is dialled without the resolver, so it is checked here.
        if let Ok(parsed) = reqwest::Url::parse(url) {
            let literal = match parsed.host() {
                Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
                _ => None,
            };
            if let Some(reason) = literal.and_then(|ip| refusal(ip, self.config.allow_private)) {
                return Attempt::Refused(reason);
            }
        }
        let timestamp = (now_millis() / 1000).to_string();
        let mut request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(DELIVERY_ID_HEADER, delivery_id)
            .header(TIMESTAMP_HEADER, &timestamp)
            .body(body.to_string());
        if !secret.is_empty() {
            request = request.header(SIGNATURE_HEADER, sign(secret, delivery_id, &timestamp, body));
        }
        match request.send().await {
            Ok(mut response) => {
                let status = response.status().as_u16();
                // Only the head of the reply is kept: a receiver cannot make us hold more.
                let mut head = Vec::new();
                while head.len() < MAX_TEST_BODY {
                    match response.chunk().await {
                        Ok(Some(chunk)) => head.extend_from_slice(&chunk),
                        _ => break,
                    }
                }
                head.truncate(MAX_TEST_BODY);
                Attempt::Answered {
                    status,
                    body: String::from_utf8_lossy(&head).into_owned(),
                }
            }
            Err(e) => match refused_in(&e) {
                Some(reason) => Attempt::Refused(reason),
                None => Attempt::Unreachable(error_chain(e)),
            },
        }
    }

    /// Sends MLflow's example payload for `event` at once and reports what came back
    /// (MLflow's `test_webhook`).
    pub async fn test(&self, url: &str, secret: &str, event: WebhookEvent) -> TestResult {
        let (entity, action) = event.parts();
        let body = serde_json::json!({
            "entity": entity,
            "action": action,
            "timestamp": crate::time::iso8601(now_millis()),
            "data": example_data(event),
        })
        .to_string();
        let id = uuid::Uuid::new_v4().to_string();
        match self.post(url, secret, &id, &body).await {
            Attempt::Answered { status, body } => TestResult {
                success: status < 400,
                response_status: Some(i64::from(status)),
                response_body: body,
                error_message: String::new(),
            },
            Attempt::Refused(why) | Attempt::Unreachable(why) => TestResult {
                success: false,
                error_message: format!("Failed to test webhook: {why}"),
                ..TestResult::default()
            },
        }
    }

    /// One try of a queued delivery, and what to record.
    async fn attempt(&self, delivery: &Outbound) -> Outcome {
        let retry_or_fail = |status: Option<i64>, error: String| {
            if delivery.attempts >= self.config.max_attempts {
                Outcome::Failed {
                    status,
                    error: format!("gave up after {} tries: {error}", delivery.attempts),
                }
            } else {
                let backoff = (1000i64 << (delivery.attempts - 1).clamp(0, 20)).min(MAX_BACKOFF_MS);
                Outcome::Retry {
                    status,
                    error,
                    at: now_millis() + backoff,
                }
            }
        };
        match self
            .post(&delivery.url, &delivery.secret, &delivery.id, &delivery.body)
            .await
        {
            Attempt::Answered { status, .. } if status < 300 => Outcome::Delivered {
                status: i64::from(status),
            },
            // Busy or broken receivers may recover; a client error will not.
            Attempt::Answered { status, .. } if status == 408 || status == 429 || status >= 500 => {
                retry_or_fail(Some(i64::from(status)), format!("HTTP {status}"))
            }
            Attempt::Answered { status, .. } => Outcome::Failed {
                status: Some(i64::from(status)),
                error: format!("HTTP {status}"),
            },
            Attempt::Refused(why) => Outcome::Failed {
                status: None,
                error: why,
            },
            Attempt::Unreachable(why) => retry_or_fail(None, why),
        }
    }

    /// The sender loop: takes due deliveries from the queue, sends them, records each
    /// outcome; sleeps until woken or for [`POLL`] when there is nothing to do. Every
    /// replica runs one; leases keep them from sending a delivery twice.
    pub async fn run(self: Arc<Self>, store: Arc<dyn WebhookStore>) {
        let lease_ms = i64::try_from(self.config.timeout.as_millis()).unwrap_or(i64::MAX / 2) + 30_000;
        loop {
            let batch = match store.claim_deliveries(BATCH, lease_ms).await {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook queue unavailable");
                    tokio::time::sleep(POLL).await;
                    continue;
                }
            };
            if batch.is_empty() {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(POLL) => {}
                }
                continue;
            }
            let sends = batch.iter().map(|delivery| {
                let sender = &self;
                let store = &store;
                async move {
                    let outcome = sender.attempt(delivery).await;
                    tracing::info!(
                        delivery = %delivery.id, webhook = %delivery.webhook_id, event = %delivery.event,
                        attempt = delivery.attempts, outcome = ?outcome, "webhook delivery"
                    );
                    if let Err(e) = store.finish_delivery(&delivery.id, outcome).await {
                        tracing::warn!(error = %e, delivery = %delivery.id, "could not record a webhook delivery");
                    }
                }
            });
            futures::future::join_all(sends).await;
        }
    }
}

/// `v1,<base64 HMAC-SHA256 of "{delivery_id}.{timestamp}.{body}">`, MLflow's signature.
pub fn sign(secret: &str, delivery_id: &str, timestamp: &str, body: &str) -> String {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(format!("{delivery_id}.{timestamp}.{body}").as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// The address refusal inside a request error, if that is what stopped it.
fn refused_in(error: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return Some(refused.0.clone());
        }
        source = e.source();
    }
    None
}

/// An error and its causes in one line (reqwest's own message is only the outermost),
/// without the URL: a webhook URL may itself be a secret, and delivery errors are logged and
/// shown to the model's readers.
fn error_chain(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// MLflow's example payloads, sent by a test.
fn example_data(event: WebhookEvent) -> serde_json::Value {
    use serde_json::json;
    let tags = json!({ "example_key": "example_value" });
    match event {
        WebhookEvent::RegisteredModelCreated => json!({
            "name": "example_model", "tags": tags, "description": "An example registered model",
        }),
        WebhookEvent::ModelVersionCreated => json!({
            "name": "example_model", "version": "1", "source": "models:/123", "run_id": "abcd1234abcd5678",
            "tags": tags, "description": "An example model version",
        }),
        WebhookEvent::ModelVersionTagSet => json!({
            "name": "example_model", "version": "1", "key": "example_key", "value": "example_value",
        }),
        WebhookEvent::ModelVersionTagDeleted => json!({
            "name": "example_model", "version": "1", "key": "example_key",
        }),
        WebhookEvent::ModelVersionAliasCreated => json!({
            "name": "example_model", "alias": "example_alias", "version": "1",
        }),
        WebhookEvent::ModelVersionAliasDeleted => {
            json!({ "name": "example_model", "alias": "example_alias" })
        }
        WebhookEvent::ModelVersionStageTransitioned => json!({
            "name": "example_model", "version": "1", "from_stage": "Staging", "to_stage": "Production",
            "user": "admin", "comment": "",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_mlflow() {
        // mlflow.webhooks.delivery._generate_hmac_signature("s3cret", "d-1", "1700000000", '{"a": 1}')
        assert_eq!(
            sign("s3cret", "d-1", "1700000000", "{\"a\": 1}"),
            "v1,cXba7k2h2S9JgnqN7BcpWvnFMfMoFMqAonfzn9WFZBg="
        );
    }
}
