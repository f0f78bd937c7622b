//! Users, grants, tokens and sessions in the store, and who-may-do-what in the service
//! layer, against SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use aiops_core::artifacts::LocalArtifactStore;
use aiops_core::auth::authenticator::Credentials;
use aiops_core::auth::{secret, Actor, Permission, ResourceKind};
use aiops_core::service::{AccessPolicy, AppState};
use aiops_core::store::prelude::*;
use aiops_core::store::SqlTrackingStore;
use aiops_core::tracking::{LifecycleStage, NewRun};
use aiops_core::CoreError;

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

sql_store_cases!(
    users_round_trip,
    grants_replace_and_revoke,
    tokens_and_sessions,
    password_change_ends_sessions_and_cached_logins,
    service_checks_permissions_once,
    refused_writes_leave_no_trace,
    first_start_makes_one_admin,
);

async fn app(store: Arc<SqlTrackingStore>) -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let artifacts = LocalArtifactStore::open(dir.path().to_str().unwrap())
        .await
        .unwrap();
    let state = AppState::new(store, Arc::new(artifacts), AccessPolicy::default()).unwrap();
    (state, dir)
}

async fn user(store: &dyn AuthStore, name: &str, admin: bool) -> Actor {
    let hash = secret::hash_password("password-123").unwrap();
    let user = store.create_user(name, &hash, admin).await.unwrap();
    Actor {
        user_id: Some(user.id),
        username: user.username,
        is_admin: user.is_admin,
    }
}

async fn users_round_trip(store: Arc<SqlTrackingStore>) {
    let hash = secret::hash_password("password-123").unwrap();
    let ada = store.create_user("ada", &hash, false).await.unwrap();
    assert!(!ada.is_admin);
    assert!(matches!(
        store.create_user("ada", &hash, false).await,
        Err(CoreError::AlreadyExists(_))
    ));
    let creds = store.credentials("ada").await.unwrap().unwrap();
    assert_eq!(creds.user, ada);
    assert!(secret::verify_password("password-123", &creds.password_hash));
    store.set_admin("ada", true).await.unwrap();
    let after = store.credentials("ada").await.unwrap().unwrap();
    assert!(after.user.is_admin);
    assert!(
        after.version > creds.version,
        "the admin flag moves the version on"
    );
    assert_eq!(store.count_admins().await.unwrap(), 1);
    assert_eq!(store.list_users().await.unwrap().len(), 1);
    store.delete_user("ada").await.unwrap();
    assert!(store.credentials("ada").await.unwrap().is_none());
    assert!(matches!(store.get_user("ada").await, Err(CoreError::NotFound(_))));
    assert!(matches!(
        store.delete_user("ada").await,
        Err(CoreError::NotFound(_))
    ));
}

async fn grants_replace_and_revoke(store: Arc<SqlTrackingStore>) {
    let ada = user(store.as_ref(), "ada", false).await.user_id.unwrap();
    let exp = store.create_experiment("e", None, &[], Some(ada)).await.unwrap();
    // The creator holds MANAGE from the same transaction.
    assert_eq!(
        store
            .permission(ResourceKind::Experiment, &exp, ada)
            .await
            .unwrap(),
        Some(Permission::Manage)
    );
    let bob = user(store.as_ref(), "bob", false).await.user_id.unwrap();
    assert_eq!(
        store
            .permission(ResourceKind::Experiment, &exp, bob)
            .await
            .unwrap(),
        None
    );
    store
        .grant(ResourceKind::Experiment, &exp, bob, Permission::Edit)
        .await
        .unwrap();
    store
        .grant(ResourceKind::Experiment, &exp, bob, Permission::Read)
        .await
        .unwrap();
    assert_eq!(
        store
            .permission(ResourceKind::Experiment, &exp, bob)
            .await
            .unwrap(),
        Some(Permission::Read)
    );
    store
        .grant(ResourceKind::RegisteredModel, "churn", bob, Permission::Use)
        .await
        .unwrap();
    assert_eq!(store.user_grants(bob).await.unwrap().len(), 2);
    assert_eq!(store.list_grants().await.unwrap().len(), 3);
    let run = store
        .create_run(NewRun {
            experiment_id: exp.clone(),
            ..NewRun::default()
        })
        .await
        .unwrap();
    assert_eq!(
        store.run_permission(&run.info.run_id, bob).await.unwrap(),
        (exp.clone(), Some(Permission::Read))
    );
    assert!(matches!(
        store.run_permission("nope", bob).await,
        Err(CoreError::NotFound(_))
    ));
    store.revoke(ResourceKind::Experiment, &exp, bob).await.unwrap();
    assert!(matches!(
        store.revoke(ResourceKind::Experiment, &exp, bob).await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .grant(ResourceKind::Experiment, "999999", bob, Permission::Read)
            .await,
        Err(CoreError::NotFound(_))
    ));
    // Deleting a user takes their grants along.
    store.delete_user("bob").await.unwrap();
    assert_eq!(store.list_grants().await.unwrap().len(), 1);
}

async fn tokens_and_sessions(store: Arc<SqlTrackingStore>) {
    let (state, _dir) = app(store.clone()).await;
    let ada = user(store.as_ref(), "ada", false).await;
    let made = state.create_token(&ada, "ci", Some(30)).await.unwrap();
    let listed = state.list_tokens(&ada).await.unwrap();
    assert_eq!(listed, vec![made.info.clone()]);
    let who = state
        .authenticator
        .authenticate(&Credentials::Bearer(made.token.clone()), CLIENT)
        .await
        .unwrap();
    assert_eq!(who.username, "ada");
    assert!(state.list_tokens(&ada).await.unwrap()[0].last_used_at.is_some());
    // Another user cannot revoke it; its owner can, and then it stops working.
    let bob = user(store.as_ref(), "bob", false).await;
    assert!(matches!(
        state.revoke_token(&bob, made.info.id).await,
        Err(CoreError::NotFound(_))
    ));
    state.revoke_token(&ada, made.info.id).await.unwrap();
    assert!(matches!(
        state
            .authenticator
            .authenticate(&Credentials::Bearer(made.token), CLIENT)
            .await,
        Err(CoreError::Unauthenticated(_))
    ));
    assert!(state.create_token(&ada, "", None).await.is_err());
    assert!(state.create_token(&ada, "x", Some(0)).await.is_err());
    // Sessions.
    let (_, session) = state.sign_in("ada", "password-123", CLIENT).await.unwrap();
    let who = state
        .authenticator
        .authenticate(&Credentials::Session(session.clone()), CLIENT)
        .await
        .unwrap();
    assert_eq!(who.username, "ada");
    state.sign_out(&session).await.unwrap();
    assert!(state
        .authenticator
        .authenticate(&Credentials::Session(session), CLIENT)
        .await
        .is_err());
    assert!(matches!(
        state.sign_in("ada", "wrong-password", CLIENT).await,
        Err(CoreError::Unauthenticated(_))
    ));
}

async fn password_change_ends_sessions_and_cached_logins(store: Arc<SqlTrackingStore>) {
    let (state, _dir) = app(store.clone()).await;
    let ada = user(store.as_ref(), "ada", false).await;
    let basic = |password: &str| Credentials::Basic {
        username: "ada".into(),
        password: password.into(),
    };
    // Verified once, then from the cache.
    for _ in 0..2 {
        state
            .authenticator
            .authenticate(&basic("password-123"), CLIENT)
            .await
            .unwrap();
    }
    let (_, session) = state.sign_in("ada", "password-123", CLIENT).await.unwrap();
    state
        .update_password(&ada, "ada", "password-456", Some("password-123"), CLIENT)
        .await
        .unwrap();
    assert!(state
        .authenticator
        .authenticate(&basic("password-123"), CLIENT)
        .await
        .is_err());
    assert!(state
        .authenticator
        .authenticate(&Credentials::Session(session), CLIENT)
        .await
        .is_err());
    state
        .authenticator
        .authenticate(&basic("password-456"), CLIENT)
        .await
        .unwrap();
    // The admin flag, too, is read fresh with the cached login.
    store.set_admin("ada", true).await.unwrap();
    let who = state
        .authenticator
        .authenticate(&basic("password-456"), CLIENT)
        .await
        .unwrap();
    assert!(who.is_admin);
}

async fn service_checks_permissions_once(store: Arc<SqlTrackingStore>) {
    let (state, _dir) = app(store.clone()).await;
    let admin = user(store.as_ref(), "root", true).await;
    let owner = user(store.as_ref(), "ada", false).await;
    let other = user(store.as_ref(), "bob", false).await;
    let exp = state.create_experiment(&owner, "mine", None, &[]).await.unwrap();
    // Others read by default, but may not write or delete.
    state.get_experiment(&other, &exp).await.unwrap();
    let denied = state
        .create_run(
            &other,
            NewRun {
                experiment_id: exp.clone(),
                ..NewRun::default()
            },
        )
        .await;
    assert!(
        matches!(denied, Err(CoreError::PermissionDenied(_))),
        "{denied:?}"
    );
    assert!(matches!(
        state
            .set_experiment_lifecycle(&other, &exp, LifecycleStage::Deleted)
            .await,
        Err(CoreError::PermissionDenied(_))
    ));
    // Granting needs MANAGE (or admin).
    assert!(matches!(
        state
            .grant_permission(&other, "bob", ResourceKind::Experiment, &exp, Permission::Manage)
            .await,
        Err(CoreError::PermissionDenied(_))
    ));
    state
        .grant_permission(&owner, "bob", ResourceKind::Experiment, &exp, Permission::Edit)
        .await
        .unwrap();
    let run = state
        .create_run(
            &other,
            NewRun {
                experiment_id: exp.clone(),
                ..NewRun::default()
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        state
            .set_run_lifecycle(&other, &run.info.run_id, LifecycleStage::Deleted)
            .await,
        Err(CoreError::PermissionDenied(_))
    ));
    state
        .set_run_lifecycle(&owner, &run.info.run_id, LifecycleStage::Deleted)
        .await
        .unwrap();
    // NO_PERMISSIONS hides the experiment from lists.
    state
        .grant_permission(
            &admin,
            "bob",
            ResourceKind::Experiment,
            &exp,
            Permission::NoPermissions,
        )
        .await
        .unwrap();
    let listed = state.list_experiment_summaries(&other).await.unwrap();
    assert!(listed.iter().all(|e| e.experiment_id != exp));
    assert!(state
        .list_experiment_summaries(&owner)
        .await
        .unwrap()
        .iter()
        .any(|e| e.experiment_id == exp));
    // Anonymous callers may not write, and read only when the policy says so.
    let anonymous = Actor::anonymous();
    assert!(matches!(
        state.create_experiment(&anonymous, "anon", None, &[]).await,
        Err(CoreError::Unauthenticated(_))
    ));
    assert!(matches!(
        state.get_experiment(&anonymous, &exp).await,
        Err(CoreError::Unauthenticated(_))
    ));
    let open = state.clone().with_policy(AccessPolicy {
        anonymous_read: true,
        ..AccessPolicy::default()
    });
    open.get_experiment(&anonymous, &exp).await.unwrap();
    assert!(matches!(
        open.set_experiment_tag(&anonymous, &exp, "k", "v").await,
        Err(CoreError::Unauthenticated(_))
    ));
    // Only admins manage users.
    assert!(matches!(
        state.create_user(&owner, "eve", "password-123").await,
        Err(CoreError::PermissionDenied(_))
    ));
    state.create_user(&admin, "eve", "password-123").await.unwrap();
    assert!(matches!(
        state.delete_user(&admin, "root").await,
        Err(CoreError::InvalidParameter(_))
    ));
    assert!(matches!(
        state.update_admin(&admin, "root", false).await,
        Err(CoreError::InvalidParameter(_))
    ));
}

async fn refused_writes_leave_no_trace(store: Arc<SqlTrackingStore>) {
    let (state, _dir) = app(store.clone()).await;
    let owner = user(store.as_ref(), "ada", false).await;
    let other = user(store.as_ref(), "bob", false).await;
    let exp = state.create_experiment(&owner, "mine", None, &[]).await.unwrap();
    let run = state
        .create_run(
            &owner,
            NewRun {
                experiment_id: exp.clone(),
                ..NewRun::default()
            },
        )
        .await
        .unwrap();
    let metric = aiops_core::tracking::Metric {
        key: "loss".into(),
        value: 1.0,
        timestamp: 1,
        step: 0,
    };
    assert!(state
        .log_batch(&other, &run.info.run_id, &[metric], &[], &[])
        .await
        .is_err());
    assert!(state.set_experiment_tag(&other, &exp, "k", "v").await.is_err());
    let path = aiops_core::artifacts::ArtifactPath::parse_file(&format!("{exp}/x.txt")).unwrap();
    assert!(state
        .put_artifact(&other, &path, aiops_core::artifacts::stream_from(&b"x"[..]))
        .await
        .is_err());
    let got = store.get_run(&run.info.run_id).await.unwrap();
    assert!(got.metrics.is_empty());
    assert!(store.get_experiment(&exp).await.unwrap().tags.is_empty());
    assert!(state.list_artifacts(&owner, &path).await.unwrap().is_empty());
}

async fn first_start_makes_one_admin(store: Arc<SqlTrackingStore>) {
    let (state, _dir) = app(store.clone()).await;
    let generated = state.bootstrap_admin(None).await.unwrap().unwrap();
    assert_eq!(generated.len(), 20);
    assert!(state
        .bootstrap_admin(Some("another-password"))
        .await
        .unwrap()
        .is_none());
    let creds = store.credentials("admin").await.unwrap().unwrap();
    assert!(creds.user.is_admin);
    assert!(secret::verify_password(&generated, &creds.password_hash));
    assert!(matches!(state.bootstrap_admin(Some("short")).await, Ok(None)));
}
