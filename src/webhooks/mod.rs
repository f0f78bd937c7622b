//! Registry webhooks: MLflow 3's webhook entities and events (plus our own stage event),
//! and the deliveries queued for them. The types compile everywhere (the model page lists
//! deliveries); the sender and its address checks are server-only.

#[cfg(feature = "ssr")]
pub mod address;
#[cfg(feature = "ssr")]
pub mod delivery;

use serde::{Deserialize, Serialize};

/// What happened in the registry. MLflow's events by their `entity.action` names, and
/// `model_version.stage_transitioned`, which MLflow's client cannot name (so MLflow-shaped
/// replies leave it out of `events`, see [`WebhookEvent::is_mlflow`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WebhookEvent {
    RegisteredModelCreated,
    ModelVersionCreated,
    ModelVersionTagSet,
    ModelVersionTagDeleted,
    ModelVersionAliasCreated,
    ModelVersionAliasDeleted,
    ModelVersionStageTransitioned,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 7] = [
        WebhookEvent::RegisteredModelCreated,
        WebhookEvent::ModelVersionCreated,
        WebhookEvent::ModelVersionTagSet,
        WebhookEvent::ModelVersionTagDeleted,
        WebhookEvent::ModelVersionAliasCreated,
        WebhookEvent::ModelVersionAliasDeleted,
        WebhookEvent::ModelVersionStageTransitioned,
    ];

    /// (entity, action), lower case as in the delivered body.
    pub fn parts(self) -> (&'static str, &'static str) {
        match self {
            WebhookEvent::RegisteredModelCreated => ("registered_model", "created"),
            WebhookEvent::ModelVersionCreated => ("model_version", "created"),
            WebhookEvent::ModelVersionTagSet => ("model_version_tag", "set"),
            WebhookEvent::ModelVersionTagDeleted => ("model_version_tag", "deleted"),
            WebhookEvent::ModelVersionAliasCreated => ("model_version_alias", "created"),
            WebhookEvent::ModelVersionAliasDeleted => ("model_version_alias", "deleted"),
            WebhookEvent::ModelVersionStageTransitioned => ("model_version", "stage_transitioned"),
        }
    }

    /// `entity.action`, MLflow's spelling.
    pub fn name(self) -> &'static str {
        match self {
            WebhookEvent::RegisteredModelCreated => "registered_model.created",
            WebhookEvent::ModelVersionCreated => "model_version.created",
            WebhookEvent::ModelVersionTagSet => "model_version_tag.set",
            WebhookEvent::ModelVersionTagDeleted => "model_version_tag.deleted",
            WebhookEvent::ModelVersionAliasCreated => "model_version_alias.created",
            WebhookEvent::ModelVersionAliasDeleted => "model_version_alias.deleted",
            WebhookEvent::ModelVersionStageTransitioned => "model_version.stage_transitioned",
        }
    }

    /// Whether MLflow's client knows this event.
    pub fn is_mlflow(self) -> bool {
        self != WebhookEvent::ModelVersionStageTransitioned
    }

    /// From entity and action in either case (`MODEL_VERSION`/`CREATED` as MLflow's
    /// client sends them, or lower case).
    pub fn from_parts(entity: &str, action: &str) -> Option<WebhookEvent> {
        WebhookEvent::ALL.into_iter().find(|e| {
            let (en, ac) = e.parts();
            en.eq_ignore_ascii_case(entity) && ac.eq_ignore_ascii_case(action)
        })
    }

    /// From `entity.action`.
    pub fn parse(name: &str) -> Option<WebhookEvent> {
        let (entity, action) = name.trim().split_once('.')?;
        WebhookEvent::from_parts(entity, action)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WebhookStatus {
    Active,
    Disabled,
}

impl WebhookStatus {
    pub fn name(self) -> &'static str {
        match self {
            WebhookStatus::Active => "ACTIVE",
            WebhookStatus::Disabled => "DISABLED",
        }
    }

    pub fn parse(text: &str) -> Option<WebhookStatus> {
        [WebhookStatus::Active, WebhookStatus::Disabled]
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(text.trim()))
    }
}

/// A webhook as it is shown: never its secret, only whether it has one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    pub name: String,
    pub description: String,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    pub status: WebhookStatus,
    pub has_secret: bool,
    pub creation_time: i64,
    pub last_updated_time: i64,
}

#[derive(Clone, Debug)]
pub struct NewWebhook {
    pub name: String,
    pub description: String,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    pub secret: String,
    pub status: WebhookStatus,
}

/// A partial update: `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct WebhookUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub url: Option<String>,
    pub events: Option<Vec<WebhookEvent>>,
    pub secret: Option<String>,
    pub status: Option<WebhookStatus>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryStatus {
    /// Queued or waiting for its next try.
    Pending,
    Delivered,
    /// Refused, answered with a client error, or out of tries.
    Failed,
}

impl DeliveryStatus {
    pub fn name(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "PENDING",
            DeliveryStatus::Delivered => "DELIVERED",
            DeliveryStatus::Failed => "FAILED",
        }
    }

    pub fn parse(text: &str) -> DeliveryStatus {
        match text {
            "DELIVERED" => DeliveryStatus::Delivered,
            "FAILED" => DeliveryStatus::Failed,
            _ => DeliveryStatus::Pending,
        }
    }
}

/// One event sent (or to be sent) to one webhook, with its outcome so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Sent as `X-MLflow-Delivery-Id`; the same on every try.
    pub id: String,
    pub webhook_id: String,
    pub webhook_name: String,
    pub event: String,
    pub model_name: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    /// The receiver's last HTTP status, if it answered.
    pub last_status: Option<i64>,
    pub last_error: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What `test_webhook` reports (MLflow's `WebhookTestResult`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestResult {
    pub success: bool,
    pub response_status: Option<i64>,
    pub response_body: String,
    pub error_message: String,
}

/// MLflow's webhook name rule: 1 to 63 letters, digits, `.`, `_`, `-`, starting and ending
/// with a letter or digit.
pub fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge = |b: &u8| b.is_ascii_alphanumeric();
    (1..=63).contains(&bytes.len())
        && bytes.first().is_some_and(edge)
        && bytes.last().is_some_and(edge)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_both_spellings() {
        for e in WebhookEvent::ALL {
            assert_eq!(WebhookEvent::parse(e.name()), Some(e));
            let (entity, action) = e.parts();
            assert_eq!(
                WebhookEvent::from_parts(&entity.to_uppercase(), &action.to_uppercase()),
                Some(e)
            );
        }
        assert_eq!(WebhookEvent::parse("model_version.updated"), None);
        assert_eq!(WebhookEvent::parse("prompt.created"), None);
    }

    #[test]
    fn names_follow_mlflow() {
        assert!(valid_name("a"));
        assert!(valid_name("ci-hook_2.prod"));
        assert!(!valid_name(""));
        assert!(!valid_name("-x"));
        assert!(!valid_name("x."));
        assert!(!valid_name("has space"));
        assert!(valid_name(&"a".repeat(63)));
        assert!(!valid_name(&"a".repeat(64)));
    }
}
