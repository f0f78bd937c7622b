//! Webhook store cases on SQLite and PostgreSQL: webhooks round-trip without showing their
//! secret, registry changes queue deliveries for their subscribers only (in the change's
//! transaction), and the queue hands each due delivery to one sender at a time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use aiops_core::registry::{NewModelVersion, Stage};
use aiops_core::store::registry::{Change, RegistryStore};
use aiops_core::store::webhooks::{Outcome, WebhookStore};
use aiops_core::store::SqlTrackingStore;
use aiops_core::webhooks::{DeliveryStatus, NewWebhook, WebhookEvent, WebhookStatus, WebhookUpdate};
use aiops_core::{now_millis, CoreError};

sql_store_cases!(
    webhooks_round_trip,
    registry_changes_queue_deliveries_for_subscribers,
    the_queue_leases_retries_and_finishes,
);

fn hook(name: &str, events: &[WebhookEvent]) -> NewWebhook {
    NewWebhook {
        name: name.into(),
        description: String::new(),
        url: "https://hooks.example.com/in".into(),
        events: events.to_vec(),
        secret: "s3cret".into(),
        status: WebhookStatus::Active,
    }
}

fn who() -> Change {
    Change {
        actor: "root".into(),
        comment: "ship it".into(),
    }
}

async fn webhooks_round_trip(store: Arc<SqlTrackingStore>) {
    let created = store
        .create_webhook(hook("ci", &[WebhookEvent::ModelVersionCreated]))
        .await
        .unwrap();
    assert!(created.has_secret);
    assert_eq!(created.events, [WebhookEvent::ModelVersionCreated]);
    let (_, secret) = store.webhook_target(&created.id).await.unwrap();
    assert_eq!(secret, "s3cret");
    for n in 0..3 {
        store
            .create_webhook(hook(&format!("h{n}"), &[WebhookEvent::RegisteredModelCreated]))
            .await
            .unwrap();
    }
    let first = store.list_webhooks(3, 0).await.unwrap();
    assert_eq!(first.items.len(), 3);
    assert!(first.has_more);
    let rest = store.list_webhooks(3, 3).await.unwrap();
    assert_eq!(rest.items.len(), 1);
    assert!(!rest.has_more);

    let updated = store
        .update_webhook(
            &created.id,
            WebhookUpdate {
                description: Some("builds".into()),
                events: Some(vec![
                    WebhookEvent::ModelVersionStageTransitioned,
                    WebhookEvent::ModelVersionAliasCreated,
                ]),
                status: Some(WebhookStatus::Disabled),
                ..WebhookUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "ci");
    assert_eq!(updated.description, "builds");
    assert_eq!(updated.status, WebhookStatus::Disabled);
    assert_eq!(updated.events.len(), 2);
    assert_eq!(store.webhook_target(&created.id).await.unwrap().1, "s3cret");

    store.delete_webhook(&created.id).await.unwrap();
    assert!(matches!(
        store.get_webhook(&created.id).await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_webhook(&created.id).await,
        Err(CoreError::NotFound(_))
    ));
}

async fn registry_changes_queue_deliveries_for_subscribers(store: Arc<SqlTrackingStore>) {
    let versions = store
        .create_webhook(hook(
            "versions",
            &[
                WebhookEvent::ModelVersionCreated,
                WebhookEvent::ModelVersionStageTransitioned,
            ],
        ))
        .await
        .unwrap();
    let models = store
        .create_webhook(hook("models", &[WebhookEvent::RegisteredModelCreated]))
        .await
        .unwrap();
    let mut off = hook("off", &[WebhookEvent::ModelVersionCreated]);
    off.status = WebhookStatus::Disabled;
    store.create_webhook(off).await.unwrap();

    store
        .create_registered_model("fraud", "", &[], None)
        .await
        .unwrap();
    for _ in 0..2 {
        store
            .create_model_version(
                NewModelVersion {
                    name: "fraud".into(),
                    source: "runs:/r/model".into(),
                    ..NewModelVersion::default()
                },
                &who(),
            )
            .await
            .unwrap();
    }
    store
        .transition_stage("fraud", 1, Stage::Production, false, &who())
        .await
        .unwrap();
    // Version 2 to Production archives version 1: two stage events.
    store
        .transition_stage("fraud", 2, Stage::Production, true, &who())
        .await
        .unwrap();
    // Nobody listens for tags.
    store.set_model_version_tag("fraud", 1, "k", "v").await.unwrap();

    let all = store.deliveries(Some("fraud"), None, 100, 0).await.unwrap();
    let count = |id: &str, event: &str| {
        all.items
            .iter()
            .filter(|d| d.webhook_id == id && d.event == event)
            .count()
    };
    assert_eq!(count(&models.id, "registered_model.created"), 1);
    assert_eq!(count(&versions.id, "model_version.created"), 2);
    assert_eq!(count(&versions.id, "model_version.stage_transitioned"), 3);
    assert_eq!(all.items.len(), 6, "{:?}", all.items);
    assert!(all
        .items
        .iter()
        .all(|d| d.status == DeliveryStatus::Pending && d.attempts == 0));
    assert_eq!(
        store
            .deliveries(None, Some(&models.id), 100, 0)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert!(store
        .deliveries(Some("other"), None, 100, 0)
        .await
        .unwrap()
        .items
        .is_empty());

    // The body is MLflow's, with the data of the change.
    let claimed = store.claim_deliveries(100, 60_000).await.unwrap();
    assert_eq!(claimed.len(), 6);
    let created = claimed
        .iter()
        .find(|d| d.event == "model_version.created")
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&created.body).unwrap();
    assert_eq!(body["entity"], "model_version");
    assert_eq!(body["action"], "created");
    assert_eq!(body["data"]["name"], "fraud");
    assert_eq!(body["data"]["source"], "runs:/r/model");
    assert!(body["timestamp"].as_str().unwrap().ends_with("+00:00"));
    let archived = claimed.iter().any(|d| {
        let body: serde_json::Value = serde_json::from_str(&d.body).unwrap();
        body["data"]["version"] == "1" && body["data"]["to_stage"] == "Archived"
    });
    assert!(archived);

    // A change that fails queues nothing: the delivery is part of its transaction.
    let before = store.deliveries(None, None, 100, 0).await.unwrap().items.len();
    assert!(store
        .create_registered_model("fraud", "", &[], None)
        .await
        .is_err());
    assert_eq!(
        store.deliveries(None, None, 100, 0).await.unwrap().items.len(),
        before
    );
}

async fn the_queue_leases_retries_and_finishes(store: Arc<SqlTrackingStore>) {
    let webhook = store
        .create_webhook(hook("q", &[WebhookEvent::RegisteredModelCreated]))
        .await
        .unwrap();
    for name in ["a", "b", "c"] {
        store.create_registered_model(name, "", &[], None).await.unwrap();
    }
    let first = store.claim_deliveries(2, 60_000).await.unwrap();
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|d| d.attempts == 1 && d.secret == "s3cret"));
    // Leased ones are not handed out again; the third is.
    let second = store.claim_deliveries(10, 60_000).await.unwrap();
    assert_eq!(second.len(), 1);
    assert!(store.claim_deliveries(10, 60_000).await.unwrap().is_empty());

    store
        .finish_delivery(&first[0].id, Outcome::Delivered { status: 204 })
        .await
        .unwrap();
    store
        .finish_delivery(
            &first[1].id,
            Outcome::Retry {
                status: Some(500),
                error: "HTTP 500".into(),
                at: now_millis() - 1,
            },
        )
        .await
        .unwrap();
    store
        .finish_delivery(
            &second[0].id,
            Outcome::Retry {
                status: None,
                error: "connection refused".into(),
                at: now_millis() + 3_600_000,
            },
        )
        .await
        .unwrap();
    // The due retry comes back with its try counted; the later one waits.
    let again = store.claim_deliveries(10, 60_000).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, first[1].id);
    assert_eq!(again[0].attempts, 2);
    store
        .finish_delivery(
            &again[0].id,
            Outcome::Failed {
                status: Some(410),
                error: "HTTP 410".into(),
            },
        )
        .await
        .unwrap();

    let listed = store.deliveries(None, Some(&webhook.id), 10, 0).await.unwrap();
    let by_id = |id: &str| listed.items.iter().find(|d| d.id == id).unwrap().clone();
    let delivered = by_id(&first[0].id);
    assert_eq!(delivered.status, DeliveryStatus::Delivered);
    assert_eq!(delivered.last_status, Some(204));
    assert_eq!(delivered.webhook_name, "q");
    let failed = by_id(&first[1].id);
    assert_eq!(failed.status, DeliveryStatus::Failed);
    assert_eq!(failed.attempts, 2);
    assert_eq!(failed.last_error, "HTTP 410");
    let waiting = by_id(&second[0].id);
    assert_eq!(waiting.status, DeliveryStatus::Pending);
    assert_eq!(waiting.last_status, None);
    // Retention: finished deliveries older than the cut go, pending ones stay.
    assert_eq!(store.prune_deliveries(now_millis() - 60_000).await.unwrap(), 0);
    assert_eq!(store.prune_deliveries(now_millis() + 1).await.unwrap(), 2);
    let left = store.deliveries(None, Some(&webhook.id), 10, 0).await.unwrap();
    assert_eq!(left.items.len(), 1);
    assert_eq!(left.items[0].id, second[0].id);

    // A disabled webhook's queued deliveries wait for it to be switched back on.
    store.create_registered_model("d", "", &[], None).await.unwrap();
    let toggle = |status| WebhookUpdate {
        status: Some(status),
        ..WebhookUpdate::default()
    };
    store
        .update_webhook(&webhook.id, toggle(WebhookStatus::Disabled))
        .await
        .unwrap();
    assert!(store.claim_deliveries(10, 60_000).await.unwrap().is_empty());
    store
        .update_webhook(&webhook.id, toggle(WebhookStatus::Active))
        .await
        .unwrap();
    assert_eq!(store.claim_deliveries(10, 60_000).await.unwrap().len(), 1);
    // Deleting a webhook takes its deliveries with it.
    store.delete_webhook(&webhook.id).await.unwrap();
    assert!(store
        .deliveries(None, None, 10, 0)
        .await
        .unwrap()
        .items
        .is_empty());
}
