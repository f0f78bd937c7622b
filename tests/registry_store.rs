//! Registry store cases on SQLite and PostgreSQL: models, versions, stages with
//! archiving, aliases, tags, renames, deletes, the audit trail, and two promotions at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use aiops_core::registry::{NewModelVersion, Stage, Tag};
use aiops_core::search::{
    parse_model_version_filter, parse_model_version_order_by, parse_registered_model_filter,
    parse_registered_model_order_by,
};
use aiops_core::store::registry::{Change, RegistryStore};
use aiops_core::store::SqlTrackingStore;
use aiops_core::CoreError;

sql_store_cases!(
    models_round_trip,
    versions_number_up_and_carry_tags,
    transition_archives_the_others_and_audits,
    aliases_move_and_resolve,
    rename_takes_versions_along,
    deletes_and_errors,
    concurrent_promotions_leave_one_in_production,
    searches_filter_order_and_page,
);

fn who() -> Change {
    Change {
        actor: "root".into(),
        comment: String::new(),
    }
}

async fn version(store: &SqlTrackingStore, name: &str, source: &str) -> i64 {
    store
        .create_model_version(
            NewModelVersion {
                name: name.into(),
                source: source.into(),
                ..NewModelVersion::default()
            },
            &who(),
        )
        .await
        .unwrap()
        .version
}

async fn models_round_trip(store: Arc<SqlTrackingStore>) {
    let tags = [Tag {
        key: "team".into(),
        value: "fraud".into(),
    }];
    let model = store
        .create_registered_model("churn", "predicts churn", &tags, None)
        .await
        .unwrap();
    assert_eq!(model.name, "churn");
    assert_eq!(model.description, "predicts churn");
    assert_eq!(model.tags, tags);
    assert!(model.latest_versions.is_empty());
    assert!(matches!(
        store.create_registered_model("churn", "", &[], None).await,
        Err(CoreError::AlreadyExists(_))
    ));
    assert!(matches!(
        store.create_registered_model(" ", "", &[], None).await,
        Err(CoreError::InvalidParameter(_))
    ));
    let updated = store.update_registered_model("churn", "v2").await.unwrap();
    assert_eq!(updated.description, "v2");
    store
        .set_registered_model_tag("churn", "owner", "ada")
        .await
        .unwrap();
    store.delete_registered_model_tag("churn", "team").await.unwrap();
    let got = store.get_registered_model("churn").await.unwrap();
    assert_eq!(
        got.tags,
        vec![Tag {
            key: "owner".into(),
            value: "ada".into()
        }]
    );
    for name in ["a-model", "b-model", "c-model"] {
        store.create_registered_model(name, "", &[], None).await.unwrap();
    }
    let like = parse_registered_model_filter("name LIKE '%-model'").unwrap();
    let page = store
        .search_registered_models(like.as_ref(), &[], 2, 0)
        .await
        .unwrap();
    assert_eq!(
        page.items.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        ["a-model", "b-model"]
    );
    assert!(page.has_more);
    let rest = store
        .search_registered_models(like.as_ref(), &[], 2, 2)
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert!(!rest.has_more);
}

async fn versions_number_up_and_carry_tags(store: Arc<SqlTrackingStore>) {
    store.create_registered_model("m", "", &[], None).await.unwrap();
    assert_eq!(
        version(&store, "m", "mlflow-artifacts:/1/r/artifacts/model").await,
        1
    );
    assert_eq!(
        version(&store, "m", "mlflow-artifacts:/1/r/artifacts/model").await,
        2
    );
    store
        .set_model_version_tag("m", 2, "validated", "yes")
        .await
        .unwrap();
    let v2 = store.get_model_version("m", 2).await.unwrap();
    assert_eq!(v2.current_stage, Stage::None);
    assert_eq!(v2.status, "READY");
    assert_eq!(
        v2.tags,
        vec![Tag {
            key: "validated".into(),
            value: "yes".into()
        }]
    );
    store.delete_model_version_tag("m", 2, "validated").await.unwrap();
    assert!(store.get_model_version("m", 2).await.unwrap().tags.is_empty());
    let v1 = store.update_model_version("m", 1, "first").await.unwrap();
    assert_eq!(v1.description, "first");
    // A deleted number is never given again.
    store.delete_model_version("m", 2, &who()).await.unwrap();
    assert_eq!(version(&store, "m", "s").await, 3);
    let only_m = parse_model_version_filter("name = 'm'").unwrap();
    let page = store
        .search_model_versions(only_m.as_ref(), &[], 10, 0)
        .await
        .unwrap();
    assert_eq!(page.items.iter().map(|v| v.version).collect::<Vec<_>>(), [3, 1]);
    let latest = store.latest_versions("m", &[]).await.unwrap();
    assert_eq!(
        latest.iter().map(|v| v.version).collect::<Vec<_>>(),
        [3],
        "newest per stage"
    );
}

async fn transition_archives_the_others_and_audits(store: Arc<SqlTrackingStore>) {
    store.create_registered_model("m", "", &[], None).await.unwrap();
    for _ in 0..3 {
        version(&store, "m", "s").await;
    }
    store
        .transition_stage("m", 1, Stage::Production, false, &who())
        .await
        .unwrap();
    store
        .transition_stage("m", 2, Stage::Production, false, &who())
        .await
        .unwrap();
    let change = Change {
        actor: "root".into(),
        comment: "better AUC".into(),
    };
    let v3 = store
        .transition_stage("m", 3, Stage::Production, true, &change)
        .await
        .unwrap();
    assert_eq!(v3.current_stage, Stage::Production);
    for v in [1, 2] {
        assert_eq!(
            store.get_model_version("m", v).await.unwrap().current_stage,
            Stage::Archived
        );
    }
    let latest = store.latest_versions("m", &[Stage::Production]).await.unwrap();
    assert_eq!(latest.iter().map(|v| v.version).collect::<Vec<_>>(), [3]);
    let model = store.get_registered_model("m").await.unwrap();
    let stages: Vec<(i64, Stage)> = model
        .latest_versions
        .iter()
        .map(|v| (v.version, v.current_stage))
        .collect();
    assert_eq!(stages, [(2, Stage::Archived), (3, Stage::Production)]);
    let audit = store.audit("m", 100, 0).await.unwrap();
    let last = &audit.items[0];
    assert_eq!(
        (last.version, last.action.as_str()),
        (Some(3), "stage_transitioned")
    );
    assert_eq!(last.from_value.as_deref(), Some("None"));
    assert_eq!(last.to_value.as_deref(), Some("Production"));
    assert_eq!(
        (last.actor.as_str(), last.comment.as_str()),
        ("root", "better AUC")
    );
    let archived: Vec<i64> = audit
        .items
        .iter()
        .filter(|e| e.to_value.as_deref() == Some("Archived"))
        .filter_map(|e| e.version)
        .collect();
    assert_eq!(archived.len(), 2);
    // 3 created + 2 promoted + 2 archived + 1 promoted with archiving.
    assert_eq!(audit.items.len(), 8);
    let first_page = store.audit("m", 3, 0).await.unwrap();
    assert!(first_page.has_more && first_page.items.len() == 3);
}

async fn aliases_move_and_resolve(store: Arc<SqlTrackingStore>) {
    store.create_registered_model("m", "", &[], None).await.unwrap();
    version(&store, "m", "s1").await;
    version(&store, "m", "s2").await;
    store.set_alias("m", "champion", 1, &who()).await.unwrap();
    assert_eq!(
        store.version_by_alias("m", "champion").await.unwrap().source,
        "s1"
    );
    store.set_alias("m", "champion", 2, &who()).await.unwrap();
    let v2 = store.version_by_alias("m", "champion").await.unwrap();
    assert_eq!(
        (v2.version, v2.aliases.clone()),
        (2, vec!["champion".to_string()])
    );
    let model = store.get_registered_model("m").await.unwrap();
    assert_eq!(model.aliases.len(), 1);
    assert_eq!(model.aliases[0].version, 2);
    assert!(matches!(
        store.set_alias("m", "latest", 1, &who()).await,
        Err(CoreError::InvalidParameter(_))
    ));
    assert!(matches!(
        store.set_alias("m", "v3", 1, &who()).await,
        Err(CoreError::InvalidParameter(_))
    ));
    assert!(matches!(
        store.set_alias("m", "x", 9, &who()).await,
        Err(CoreError::NotFound(_))
    ));
    store.delete_alias("m", "champion", &who()).await.unwrap();
    assert!(matches!(
        store.version_by_alias("m", "champion").await,
        Err(CoreError::InvalidParameter(_))
    ));
    let actions: Vec<String> = store
        .audit("m", 10, 0)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| format!("{}:{}", e.action, e.to_value.unwrap_or_default()))
        .collect();
    assert_eq!(
        actions[..3],
        ["alias_deleted:", "alias_set:champion@2", "alias_set:champion@1"]
    );
}

async fn rename_takes_versions_along(store: Arc<SqlTrackingStore>) {
    store.create_registered_model("old", "", &[], None).await.unwrap();
    version(&store, "old", "s").await;
    store.set_model_version_tag("old", 1, "k", "v").await.unwrap();
    store.set_alias("old", "prod", 1, &who()).await.unwrap();
    let renamed = store.rename_registered_model("old", "new").await.unwrap();
    assert_eq!(renamed.name, "new");
    let v = store.get_model_version("new", 1).await.unwrap();
    assert_eq!(v.tags.len(), 1);
    assert_eq!(v.aliases, vec!["prod".to_string()]);
    assert!(matches!(
        store.get_registered_model("old").await,
        Err(CoreError::NotFound(_))
    ));
    assert!(!store.audit("new", 10, 0).await.unwrap().items.is_empty());
    store
        .create_registered_model("other", "", &[], None)
        .await
        .unwrap();
    assert!(matches!(
        store.rename_registered_model("other", "new").await,
        Err(CoreError::AlreadyExists(_))
    ));
}

async fn deletes_and_errors(store: Arc<SqlTrackingStore>) {
    assert!(matches!(
        store.get_registered_model("none").await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        store.get_model_version("none", 1).await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .create_model_version(
                NewModelVersion {
                    name: "none".into(),
                    source: "s".into(),
                    ..NewModelVersion::default()
                },
                &who()
            )
            .await,
        Err(CoreError::NotFound(_))
    ));
    store.create_registered_model("m", "", &[], None).await.unwrap();
    version(&store, "m", "s").await;
    assert!(matches!(
        store
            .transition_stage("m", 7, Stage::Staging, false, &who())
            .await,
        Err(CoreError::NotFound(_))
    ));
    // A refused transition left no audit line.
    assert_eq!(store.audit("m", 10, 0).await.unwrap().items.len(), 1);
    store.delete_registered_model("m", &who()).await.unwrap();
    assert!(matches!(
        store.get_model_version("m", 1).await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_registered_model("m", &who()).await,
        Err(CoreError::NotFound(_))
    ));
}

/// Two admins promote different versions to Production with archiving at the same moment:
/// exactly one version ends up there.
async fn concurrent_promotions_leave_one_in_production(store: Arc<SqlTrackingStore>) {
    store.create_registered_model("m", "", &[], None).await.unwrap();
    for _ in 0..6 {
        version(&store, "m", "s").await;
    }
    for round in 0..5 {
        let tasks: Vec<_> = (1..=6)
            .map(|v| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .transition_stage("m", v, Stage::Production, true, &who())
                        .await
                        .unwrap()
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let in_production = store
            .search_model_versions(None, &[], 100, 0)
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|v| v.current_stage == Stage::Production)
            .count();
        assert_eq!(in_production, 1, "round {round}");
    }
}

async fn searches_filter_order_and_page(store: Arc<SqlTrackingStore>) {
    for (name, team) in [("fraud-a", "risk"), ("fraud-b", "risk"), ("churn", "growth")] {
        let tags = [Tag {
            key: "team".into(),
            value: team.into(),
        }];
        store
            .create_registered_model(name, "", &tags, None)
            .await
            .unwrap();
        for run in ["run-1", "run-2"] {
            store
                .create_model_version(
                    NewModelVersion {
                        name: name.into(),
                        source: format!("runs:/{run}/model"),
                        run_id: run.into(),
                        tags: vec![Tag {
                            key: "data".into(),
                            value: format!("{name}-{run}"),
                        }],
                        ..NewModelVersion::default()
                    },
                    &who(),
                )
                .await
                .unwrap();
        }
    }
    let names = |page: aiops_core::store::Page<aiops_core::registry::RegisteredModel>| {
        page.items.into_iter().map(|m| m.name).collect::<Vec<_>>()
    };
    let filter = parse_registered_model_filter("name LIKE 'fraud%'").unwrap();
    let desc = [parse_registered_model_order_by("name DESC").unwrap()];
    let found = store
        .search_registered_models(filter.as_ref(), &desc, 10, 0)
        .await
        .unwrap();
    assert_eq!(names(found), ["fraud-b", "fraud-a"]);
    let filter = parse_registered_model_filter("tags.team = 'growth' OR name = 'fraud-a'").unwrap();
    let found = store
        .search_registered_models(filter.as_ref(), &[], 10, 0)
        .await
        .unwrap();
    assert_eq!(names(found), ["churn", "fraud-a"]);
    let first = store.search_registered_models(None, &[], 2, 0).await.unwrap();
    assert!(first.has_more);
    let rest = store.search_registered_models(None, &[], 2, 2).await.unwrap();
    assert_eq!(
        names(first).into_iter().chain(names(rest)).collect::<Vec<_>>(),
        ["churn", "fraud-a", "fraud-b"]
    );

    let filter = parse_model_version_filter("name = 'churn' AND run_id IN ('run-2')").unwrap();
    let found = store
        .search_model_versions(filter.as_ref(), &[], 10, 0)
        .await
        .unwrap();
    assert_eq!(
        found
            .items
            .iter()
            .map(|v| (v.name.as_str(), v.version))
            .collect::<Vec<_>>(),
        [("churn", 2)]
    );
    let filter = parse_model_version_filter("tags.data = 'fraud-b-run-1'").unwrap();
    let found = store
        .search_model_versions(filter.as_ref(), &[], 10, 0)
        .await
        .unwrap();
    assert_eq!(
        found
            .items
            .iter()
            .map(|v| (v.name.as_str(), v.version))
            .collect::<Vec<_>>(),
        [("fraud-b", 1)]
    );
    let filter =
        parse_model_version_filter("source_path LIKE 'runs:/run-1/%' AND version_number >= 1").unwrap();
    let order = [parse_model_version_order_by("name ASC").unwrap()];
    let found = store
        .search_model_versions(filter.as_ref(), &order, 2, 0)
        .await
        .unwrap();
    assert!(found.has_more);
    assert_eq!(
        found.items.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
        ["churn", "fraud-a"]
    );
    // A missing tag differs from any value (the client's prompt filter relies on it).
    let filter = parse_registered_model_filter("tags.`mlflow.prompt.is_prompt` != 'true'").unwrap();
    let found = store
        .search_registered_models(filter.as_ref(), &[], 10, 0)
        .await
        .unwrap();
    assert_eq!(found.items.len(), 3);
    assert!(parse_model_version_filter("metrics.x > 1").is_err());
    assert!(parse_registered_model_filter("run_id = 'x'").is_err());
}
