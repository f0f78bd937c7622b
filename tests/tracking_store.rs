//! The same store cases against SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use aiops_core::store::prelude::*;
use aiops_core::store::RunCount;
use aiops_core::tracking::{
    Dataset, DatasetInput, ExperimentTag, LifecycleStage, Metric, ModelOutput, NewRun, Param, RunStatus,
    RunTag, RunUpdate,
};
use aiops_core::CoreError;

/// Runs each case once on a fresh SQLite store and once on a fresh PostgreSQL database.
macro_rules! store_cases {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let (store, _dir) = crate::common::sqlite_store().await;
                    super::$case(store.as_ref()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let store = crate::common::postgres_store().await;
                    super::$case(store.as_ref()).await;
                }
            )*
        }
    };
}

store_cases!(
    default_experiment_exists,
    create_get_and_list_experiments,
    refuses_bad_and_duplicate_experiment_names,
    experiment_lifecycle_and_tags,
    runs_have_info_tags_and_artifact_uri,
    runs_listed_newest_first,
    runs_load_in_the_order_asked,
    log_batch_keeps_histories_and_latest_values,
    params_are_immutable_and_batches_atomic,
    concurrent_batches_answer_for_themselves,
    nan_and_infinite_metrics_round_trip,
    latest_values_round_trip_exactly,
    dataset_inputs_and_model_outputs,
    update_and_delete_runs,
    unknown_ids_are_not_found,
    counts_matching_runs_up_to_a_cap,
    metric_order_pages_match_the_general_order,
    long_histories_page_by_keyset_and_sample_by_step,
);

fn metric(key: &str, value: f64, step: i64, timestamp: i64) -> Metric {
    Metric {
        key: key.into(),
        value,
        step,
        timestamp,
    }
}

/// The steps of a metric's whole history, in its order.
async fn history_steps(store: &dyn TrackingStore, run_id: &str, key: &str) -> Vec<i64> {
    store
        .get_metric_history(run_id, key)
        .await
        .unwrap()
        .iter()
        .map(|m| m.step)
        .collect()
}

pub(crate) async fn new_run(store: &dyn TrackingStore, experiment_id: &str, start_time: i64) -> String {
    store
        .create_run(NewRun {
            experiment_id: experiment_id.into(),
            user_id: "ada".into(),
            start_time,
            ..NewRun::default()
        })
        .await
        .unwrap()
        .info
        .run_id
}

async fn default_experiment_exists(store: &dyn TrackingStore) {
    let default = store.get_experiment("0").await.unwrap();
    assert_eq!(default.name, "Default");
    assert_eq!(default.artifact_location, "mlflow-artifacts:/0");
    assert_eq!(
        store
            .get_experiment_by_name("Default")
            .await
            .unwrap()
            .experiment_id,
        "0"
    );
    store.ping().await.unwrap();
}

async fn create_get_and_list_experiments(store: &dyn TrackingStore) {
    let tags = vec![ExperimentTag {
        key: "team".into(),
        value: "risk".into(),
    }];
    let id = store.create_experiment("churn", None, &tags, None).await.unwrap();
    let experiment = store.get_experiment(&id).await.unwrap();
    assert_eq!(experiment.name, "churn");
    assert_eq!(experiment.artifact_location, format!("mlflow-artifacts:/{id}"));
    assert_eq!(experiment.lifecycle_stage, LifecycleStage::Active);
    assert_eq!(experiment.tags, tags);
    assert!(experiment.creation_time > 0);

    let other = store
        .create_experiment("fraud", Some("mlflow-artifacts:/custom"), &[], None)
        .await
        .unwrap();
    assert_ne!(id, other);
    assert_eq!(
        store.get_experiment(&other).await.unwrap().artifact_location,
        "mlflow-artifacts:/custom"
    );

    new_run(store, &id, 0).await;
    new_run(store, &id, 0).await;
    let summaries = store.list_experiment_summaries().await.unwrap();
    let churn = summaries.iter().find(|s| s.name == "churn").unwrap();
    assert_eq!(churn.run_count, 2);
    assert!(churn.last_update_time >= experiment.creation_time);
    assert_eq!(summaries.iter().find(|s| s.name == "fraud").unwrap().run_count, 0);
    assert_eq!(summaries.len(), 3, "Default, churn and fraud");
}

async fn refuses_bad_and_duplicate_experiment_names(store: &dyn TrackingStore) {
    store.create_experiment("dup", None, &[], None).await.unwrap();
    assert!(matches!(
        store.create_experiment("dup", None, &[], None).await,
        Err(CoreError::AlreadyExists(_))
    ));
    assert!(matches!(
        store.create_experiment("  ", None, &[], None).await,
        Err(CoreError::InvalidParameter(_))
    ));
    assert!(matches!(
        store.create_experiment(&"x".repeat(501), None, &[], None).await,
        Err(CoreError::InvalidParameter(_))
    ));
    // Nothing half-made was left behind.
    assert_eq!(store.list_experiment_summaries().await.unwrap().len(), 2);
}

async fn experiment_lifecycle_and_tags(store: &dyn TrackingStore) {
    let id = store.create_experiment("life", None, &[], None).await.unwrap();
    store.set_experiment_tag(&id, "owner", "bob").await.unwrap();
    store.set_experiment_tag(&id, "owner", "eve").await.unwrap();
    let tags = store.get_experiment(&id).await.unwrap().tags;
    assert_eq!(
        tags,
        vec![ExperimentTag {
            key: "owner".into(),
            value: "eve".into()
        }]
    );

    store.rename_experiment(&id, "life2").await.unwrap();
    assert_eq!(
        store.get_experiment_by_name("life2").await.unwrap().experiment_id,
        id
    );
    assert!(matches!(
        store.rename_experiment(&id, "Default").await,
        Err(CoreError::AlreadyExists(_))
    ));

    store
        .set_experiment_lifecycle(&id, LifecycleStage::Deleted)
        .await
        .unwrap();
    assert_eq!(
        store.get_experiment(&id).await.unwrap().lifecycle_stage,
        LifecycleStage::Deleted
    );
    assert!(!store
        .list_experiment_summaries()
        .await
        .unwrap()
        .iter()
        .any(|s| s.experiment_id == id));
    assert!(matches!(
        store
            .create_run(NewRun {
                experiment_id: id.clone(),
                ..NewRun::default()
            })
            .await,
        Err(CoreError::InvalidParameter(_))
    ));
    store
        .set_experiment_lifecycle(&id, LifecycleStage::Active)
        .await
        .unwrap();
    assert!(matches!(
        store.set_experiment_lifecycle("0", LifecycleStage::Deleted).await,
        Err(CoreError::InvalidParameter(_))
    ));
}

async fn runs_have_info_tags_and_artifact_uri(store: &dyn TrackingStore) {
    let id = store.create_experiment("runs", None, &[], None).await.unwrap();
    let run = store
        .create_run(NewRun {
            experiment_id: id.clone(),
            user_id: "ada".into(),
            run_name: Some("first".into()),
            start_time: 1_700_000_000_000,
            tags: vec![RunTag {
                key: "source".into(),
                value: "notebook".into(),
            }],
        })
        .await
        .unwrap();
    let info = &run.info;
    assert_eq!(info.run_id.len(), 32);
    assert!(info.run_id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(info.experiment_id, id);
    assert_eq!(info.run_name, "first");
    assert_eq!(info.user_id, "ada");
    assert_eq!(info.status, RunStatus::Running);
    assert_eq!(info.start_time, 1_700_000_000_000);
    assert_eq!(info.end_time, None);
    assert_eq!(
        info.artifact_uri,
        format!("mlflow-artifacts:/{id}/{}/artifacts", info.run_id)
    );
    let tag = |k: &str| run.tags.iter().find(|t| t.key == k).map(|t| t.value.clone());
    assert_eq!(tag("mlflow.runName").as_deref(), Some("first"));
    assert_eq!(tag("source").as_deref(), Some("notebook"));

    // Without a name the run gets a generated one, also carried as the tag.
    let unnamed = store
        .create_run(NewRun {
            experiment_id: id,
            ..NewRun::default()
        })
        .await
        .unwrap();
    assert!(!unnamed.info.run_name.is_empty());
    assert!(unnamed.info.start_time > 0);
    assert!(unnamed
        .tags
        .iter()
        .any(|t| t.key == "mlflow.runName" && t.value == unnamed.info.run_name));
}

async fn runs_listed_newest_first(store: &dyn TrackingStore) {
    let id = store.create_experiment("order", None, &[], None).await.unwrap();
    let old = new_run(store, &id, 1_000).await;
    let new = new_run(store, &id, 3_000).await;
    let mid = new_run(store, &id, 2_000).await;
    let listed: Vec<String> = store
        .list_runs(&id, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.run_id)
        .collect();
    assert_eq!(listed, vec![new, mid, old]);
    assert_eq!(store.list_runs(&id, 2).await.unwrap().len(), 2);
}

/// Runs load whole in the order asked: a repeated id comes back once, with its rows once,
/// and ids that are unknown, or two real ones joined by a comma, bring nothing.
async fn runs_load_in_the_order_asked(store: &dyn TrackingStore) {
    let id = store.create_experiment("loads", None, &[], None).await.unwrap();
    let (a, b) = (new_run(store, &id, 1).await, new_run(store, &id, 2).await);
    for run in [&a, &b] {
        let params = [Param {
            key: "lr".into(),
            value: format!("of {run}"),
        }];
        store
            .log_batch(
                run,
                &[metric("loss", 0.5, 0, 1), metric("loss", 0.25, 1, 2)],
                &params,
                &[],
            )
            .await
            .unwrap();
    }
    let asked = [
        b.clone(),
        "0".repeat(32),
        a.clone(),
        b.clone(),
        format!("{a},{b}"),
    ];
    let runs = store.get_runs(&asked).await.unwrap();
    let ids: Vec<&str> = runs.iter().map(|r| r.info.run_id.as_str()).collect();
    assert_eq!(ids, [b.as_str(), a.as_str()]);
    for run in &runs {
        assert_eq!(run.params.len(), 1, "{:?}", run.params);
        assert_eq!(run.params[0].value, format!("of {}", run.info.run_id));
        assert_eq!(run.metrics.len(), 1, "{:?}", run.metrics);
        assert_eq!(run.metrics[0].value, 0.25);
        assert_eq!(run.tags.iter().filter(|t| t.key == "mlflow.runName").count(), 1);
    }
    assert!(store.get_runs(&[]).await.unwrap().is_empty());
}

async fn log_batch_keeps_histories_and_latest_values(store: &dyn TrackingStore) {
    let run_id = new_run(store, "0", 0).await;
    let history: Vec<Metric> = (0..100)
        .map(|step| metric("loss", 1.0 / (step as f64 + 1.0), step, 1000 + step))
        .collect();
    store.log_batch(&run_id, &history, &[], &[]).await.unwrap();
    // An older point logged later must not replace the latest value.
    store
        .log_batch(&run_id, &[metric("loss", 9.0, 5, 5000)], &[], &[])
        .await
        .unwrap();
    // The same point twice is kept once.
    store
        .log_batch(&run_id, &[metric("loss", 9.0, 5, 5000)], &[], &[])
        .await
        .unwrap();
    store
        .log_batch(
            &run_id,
            &[
                metric("acc", 0.5, 0, 10),
                metric("acc", 0.7, 1, 10),
                metric("acc", 0.6, 1, 9),
            ],
            &[],
            &[],
        )
        .await
        .unwrap();

    let loss = store.get_metric_history(&run_id, "loss").await.unwrap();
    assert_eq!(loss.len(), 101);
    assert!(loss
        .windows(2)
        .all(|w| (w[0].step, w[0].timestamp) <= (w[1].step, w[1].timestamp)));
    let run = store.get_run(&run_id).await.unwrap();
    let latest = |k: &str| run.metrics.iter().find(|m| m.key == k).cloned().unwrap();
    assert_eq!(latest("loss").step, 99);
    assert!((latest("loss").value - 0.01).abs() < 1e-12);
    assert_eq!(
        (latest("acc").step, latest("acc").timestamp, latest("acc").value),
        (1, 10, 0.7)
    );

    // A batch that repeats a stored point and one of its own keeps each once and the
    // rest of the batch all the same (PostgreSQL retries it after the duplicate).
    let repeat = metric("loss", 9.0, 5, 5000);
    let fresh = metric("dup", 1.5, 3, 30);
    store
        .log_batch(
            &run_id,
            &[repeat, fresh.clone(), fresh, metric("dup", 2.5, 4, 40)],
            &[],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        store.get_metric_history(&run_id, "loss").await.unwrap().len(),
        101
    );
    let dup = store.get_metric_history(&run_id, "dup").await.unwrap();
    assert_eq!(dup.iter().map(|m| m.step).collect::<Vec<_>>(), [3, 4]);

    // Larger than one insert chunk.
    let wide: Vec<Metric> = (0..1000)
        .map(|i| metric(&format!("m{}", i % 7), i as f64, i, i))
        .collect();
    store.log_batch(&run_id, &wide, &[], &[]).await.unwrap();
    assert_eq!(store.get_metric_history(&run_id, "m3").await.unwrap().len(), 143);
    assert!(store
        .get_metric_history(&run_id, "missing")
        .await
        .unwrap()
        .is_empty());

    // Later batches move the latest values on: a later step, the same step logged later, and
    // the same step and time with a larger value; an earlier one among them changes nothing.
    store
        .log_batch(
            &run_id,
            &[
                metric("loss", 0.5, 200, 1),
                metric("acc", 0.6, 1, 11),
                metric("dup", 2.0, 4, 40),
                metric("m3", 0.0, 3, 3),
            ],
            &[],
            &[],
        )
        .await
        .unwrap();
    store
        .log_batch(&run_id, &[metric("dup", 3.0, 4, 40)], &[], &[])
        .await
        .unwrap();
    let run = store.get_run(&run_id).await.unwrap();
    let latest = |k: &str| {
        let m = run.metrics.iter().find(|m| m.key == k).unwrap();
        (m.step, m.timestamp, m.value)
    };
    assert_eq!(latest("loss"), (200, 1, 0.5));
    assert_eq!(latest("acc"), (1, 11, 0.6));
    assert_eq!(latest("dup"), (4, 40, 3.0));
    assert_eq!(latest("m3"), (997, 997, 997.0));
}

async fn params_are_immutable_and_batches_atomic(store: &dyn TrackingStore) {
    let run_id = new_run(store, "0", 0).await;
    let p = |k: &str, v: &str| Param {
        key: k.into(),
        value: v.into(),
    };
    let t = |k: &str, v: &str| RunTag {
        key: k.into(),
        value: v.into(),
    };
    store
        .log_batch(
            &run_id,
            &[],
            &[p("lr", "0.1"), p("depth", "3")],
            &[t("stage", "a")],
        )
        .await
        .unwrap();
    // Same value again is fine; tags overwrite.
    store
        .log_batch(&run_id, &[], &[p("lr", "0.1")], &[t("stage", "b")])
        .await
        .unwrap();

    let refused = store
        .log_batch(
            &run_id,
            &[metric("never", 1.0, 0, 0)],
            &[p("lr", "0.2"), p("new", "x")],
            &[t("stage", "c")],
        )
        .await;
    match refused {
        Err(CoreError::InvalidParameter(message)) => assert!(message.contains("lr"), "{message}"),
        other => panic!("expected InvalidParameter, got {other:?}"),
    }
    let run = store.get_run(&run_id).await.unwrap();
    assert_eq!(run.params, vec![p("depth", "3"), p("lr", "0.1")]);
    assert!(
        run.tags.contains(&t("stage", "b")),
        "the refused batch changed nothing"
    );
    assert!(run.metrics.is_empty());

    for bad in [
        store.log_batch(&run_id, &[], &[p("../up", "x")], &[]).await,
        store
            .log_batch(&run_id, &[], &[p("a", &"v".repeat(6001))], &[])
            .await,
        store
            .log_batch(&run_id, &[], &[p("a", "1"), p("a", "2")], &[])
            .await,
        store
            .log_batch(&run_id, &vec![metric("m", 1.0, 0, 0); 1001], &[], &[])
            .await,
    ] {
        assert!(matches!(bad, Err(CoreError::InvalidParameter(_))), "{bad:?}");
    }
    store.delete_tag(&run_id, "stage").await.unwrap();
    assert!(matches!(
        store.delete_tag(&run_id, "stage").await,
        Err(CoreError::NotFound(_))
    ));
}

/// Batches logged at once (on SQLite, committed together): each is written or refused on
/// its own, and a caller that goes away takes no other caller's batch with it.
async fn concurrent_batches_answer_for_themselves(store: &dyn TrackingStore) {
    let run_id = new_run(store, "0", 0).await;
    let gone = new_run(store, "0", 0).await;
    store
        .set_run_lifecycle(&gone, LifecycleStage::Deleted)
        .await
        .unwrap();
    let p = |k: &str, v: &str| Param {
        key: k.into(),
        value: v.into(),
    };
    store
        .log_batch(&run_id, &[], &[p("fixed", "1")], &[])
        .await
        .unwrap();

    // Polled once and dropped: queued (SQLite) or cut short (PostgreSQL), never the others' loss.
    let point = [metric("dropped", 0.5, 0, 0)];
    let mut dropped = Box::pin(store.log_batch(&run_id, &point, &[], &[]));
    let _ = futures::poll!(dropped.as_mut());
    drop(dropped);

    let batches: Vec<(String, Vec<Metric>, Vec<Param>)> = (0..16)
        .map(|i| {
            let value = if i == 5 { "2" } else { "1" };
            let params = vec![p(&format!("p{i}"), "x"), p("fixed", value)];
            let point = vec![metric("m", i as f64, i, 1000 + i)];
            // Metrics alone for the deleted run: SQLite checks those in the write's one statement.
            match i {
                7 => (gone.clone(), point, vec![]),
                _ => (run_id.clone(), point, params),
            }
        })
        .collect();
    let results = futures::future::join_all(
        batches
            .iter()
            .map(|(run, metrics, params)| store.log_batch(run, metrics, params, &[])),
    )
    .await;
    for (i, result) in results.iter().enumerate() {
        match i {
            5 => match result {
                Err(CoreError::InvalidParameter(m)) => assert!(m.contains("fixed"), "{m}"),
                other => panic!("batch 5 changes a param: {other:?}"),
            },
            7 => assert!(
                matches!(result, Err(CoreError::InvalidParameter(_))),
                "batch 7 is for a deleted run: {result:?}"
            ),
            _ => assert!(result.is_ok(), "batch {i}: {result:?}"),
        }
    }
    let expected: Vec<i64> = (0..16).filter(|i| *i != 5 && *i != 7).collect();
    assert_eq!(history_steps(store, &run_id, "m").await, expected);
    let run = store.get_run(&run_id).await.unwrap();
    let mut keys: Vec<&str> = run.params.iter().map(|p| p.key.as_str()).collect();
    keys.sort_unstable();
    let mut want: Vec<String> = expected.iter().map(|i| format!("p{i}")).collect();
    want.push("fixed".into());
    want.sort_unstable();
    assert_eq!(keys, want);
    assert!(run.params.contains(&p("fixed", "1")));
    assert_eq!(run.metrics.iter().find(|m| m.key == "m").unwrap().step, 15);
    let gone = store.get_run(&gone).await.unwrap();
    assert!(gone.params.is_empty() && gone.metrics.is_empty(), "{gone:?}");
}

async fn nan_and_infinite_metrics_round_trip(store: &dyn TrackingStore) {
    let run_id = new_run(store, "0", 0).await;
    let points = [
        metric("x", f64::NAN, 0, 1),
        metric("x", f64::INFINITY, 1, 1),
        metric("x", f64::NEG_INFINITY, 2, 1),
    ];
    store.log_batch(&run_id, &points, &[], &[]).await.unwrap();
    let history = store.get_metric_history(&run_id, "x").await.unwrap();
    assert!(history[0].value.is_nan());
    assert_eq!(history[1].value, f64::INFINITY);
    assert_eq!(history[2].value, f64::NEG_INFINITY);
}

/// Runs are read back with their latest metrics aggregated in SQL: values must keep every
/// bit (15-digit JSON output would not), and keys, params and tags keep their order.
async fn latest_values_round_trip_exactly(store: &dyn TrackingStore) {
    use aiops_core::store::RunSearch;
    let run_id = new_run(store, "0", 0).await;
    let values = [
        ("a", 0.1 + 0.2),
        ("b", 1.0 / 3.0),
        ("c", f64::MAX),
        ("d", f64::MIN_POSITIVE),
        ("e", 5e-324),
        ("f", -123_456_789.123_456_78),
        ("g", f64::INFINITY),
        ("h", f64::NEG_INFINITY),
        ("i", f64::NAN),
        ("j", 0.0),
    ];
    let points: Vec<Metric> = values.iter().rev().map(|(k, v)| metric(k, *v, 3, 7)).collect();
    let params = [
        Param {
            key: "z".into(),
            value: "last \"quoted\" ✓".into(),
        },
        Param {
            key: "a".into(),
            value: "[1, {\"x\": null}]".into(),
        },
    ];
    store.log_batch(&run_id, &points, &params, &[]).await.unwrap();
    let by_get = store.get_run(&run_id).await.unwrap();
    let by_search = store
        .search_runs(&RunSearch {
            experiment_ids: vec!["0".into()],
            max_results: 10,
            ..RunSearch::default()
        })
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|r| r.info.run_id == run_id)
        .unwrap();
    for run in [&by_get, &by_search] {
        let keys: Vec<&str> = run.metrics.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(keys, ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]);
        for (metric, (_, expected)) in run.metrics.iter().zip(values.iter()) {
            if expected.is_nan() {
                assert!(metric.value.is_nan());
            } else {
                assert_eq!(metric.value.to_bits(), expected.to_bits(), "{}", metric.key);
            }
            assert_eq!((metric.step, metric.timestamp), (3, 7));
        }
        assert_eq!(run.params[0].value, "[1, {\"x\": null}]");
        assert_eq!(run.params[1].value, "last \"quoted\" ✓");
    }
    // Histories come back aggregated too: exact values, in (step, timestamp, value) order, paged.
    let history: Vec<Metric> = [(2, 0.1 + 0.2), (0, 1.0 / 3.0), (1, f64::NAN), (1, 5e-324)]
        .iter()
        .map(|(step, v)| metric("hist", *v, *step, 9))
        .collect();
    store.log_batch(&run_id, &history, &[], &[]).await.unwrap();
    let all = store.get_metric_history(&run_id, "hist").await.unwrap();
    let steps: Vec<i64> = all.iter().map(|m| m.step).collect();
    assert_eq!(steps, [0, 1, 1, 2]);
    assert_eq!(all[0].value.to_bits(), (1.0f64 / 3.0).to_bits());
    assert!(
        all[1].value.is_nan(),
        "NaN is stored as 0, so it sorts before 5e-324"
    );
    assert_eq!(all[2].value.to_bits(), 5e-324f64.to_bits());
    assert_eq!(all[3].value.to_bits(), (0.1f64 + 0.2).to_bits());
    let page = store
        .get_metric_history_page(&run_id, "hist", None, 1, 2)
        .await
        .unwrap();
    assert_eq!(page.iter().map(|m| m.step).collect::<Vec<_>>(), [1, 1]);
    assert_eq!(page[1].value.to_bits(), 5e-324f64.to_bits());
    assert!(store
        .get_metric_history(&run_id, "none")
        .await
        .unwrap()
        .is_empty());
}

fn dataset_input(name: &str, digest: &str, context: &str) -> DatasetInput {
    DatasetInput {
        tags: vec![RunTag {
            key: "mlflow.data.context".into(),
            value: context.into(),
        }],
        dataset: Dataset {
            name: name.into(),
            digest: digest.into(),
            source_type: "local".into(),
            source: "{\"uri\": \"/data\"}".into(),
            schema: Some("{}".into()),
            profile: None,
        },
    }
}

async fn dataset_inputs_and_model_outputs(store: &dyn TrackingStore) {
    use aiops_core::search::parse_filter;
    use aiops_core::store::RunSearch;
    let experiment_id = store.create_experiment("lineage", None, &[], None).await.unwrap();
    let first = new_run(store, &experiment_id, 1).await;
    let second = new_run(store, &experiment_id, 2).await;
    let train = dataset_input("train", "aaa", "training");
    store
        .log_inputs(
            &first,
            &[
                train.clone(),
                dataset_input("eval", "bbb", "eval"),
                dataset_input("train", "aaa", "other"),
            ],
            &["m-1".into()],
        )
        .await
        .unwrap();
    store
        .log_inputs(&first, std::slice::from_ref(&train), &[])
        .await
        .unwrap();
    store
        .log_inputs(&second, &[dataset_input("train", "aaa", "retrain")], &[])
        .await
        .unwrap();
    store
        .log_outputs(
            &first,
            &[ModelOutput {
                model_id: "m-2".into(),
                step: 5,
            }],
        )
        .await
        .unwrap();

    let run = store.get_run(&first).await.unwrap();
    let names: Vec<(&str, Option<&str>)> = run
        .inputs
        .dataset_inputs
        .iter()
        .map(|i| (i.dataset.name.as_str(), i.context()))
        .collect();
    assert_eq!(names, [("eval", Some("eval")), ("train", Some("training"))]);
    assert_eq!(run.inputs.dataset_inputs[1], train);
    assert_eq!(run.inputs.model_inputs, ["m-1"]);
    assert_eq!(
        run.outputs.model_outputs,
        [ModelOutput {
            model_id: "m-2".into(),
            step: 5
        }]
    );

    let search = |filter: &str| RunSearch {
        experiment_ids: vec![experiment_id.clone()],
        filter: parse_filter(filter).unwrap(),
        max_results: 10,
        ..RunSearch::default()
    };
    let found = |page: aiops_core::store::RunPage| {
        let mut ids: Vec<String> = page.items.into_iter().map(|r| r.info.run_id).collect();
        ids.sort();
        ids
    };
    let mut both = vec![first.clone(), second.clone()];
    both.sort();
    assert_eq!(
        found(
            store
                .search_runs(&search("datasets.name = 'train'"))
                .await
                .unwrap()
        ),
        both
    );
    assert_eq!(
        found(
            store
                .search_runs(&search("datasets.context = 'retrain'"))
                .await
                .unwrap()
        ),
        std::slice::from_ref(&second)
    );
    assert_eq!(
        found(
            store
                .search_runs(&search("datasets.digest IN ('bbb')"))
                .await
                .unwrap()
        ),
        std::slice::from_ref(&first)
    );

    // Bad datasets and finished-but-deleted runs are refused and store nothing.
    let too_long = dataset_input("x", &"d".repeat(37), "training");
    assert!(matches!(
        store.log_inputs(&second, &[too_long], &[]).await,
        Err(CoreError::InvalidParameter(_))
    ));
    store
        .set_run_lifecycle(&second, LifecycleStage::Deleted)
        .await
        .unwrap();
    assert!(matches!(
        store
            .log_inputs(&second, &[dataset_input("late", "ccc", "x")], &[])
            .await,
        Err(CoreError::InvalidParameter(_))
    ));
    assert_eq!(
        store.get_run(&second).await.unwrap().inputs.dataset_inputs.len(),
        1
    );
}

async fn update_and_delete_runs(store: &dyn TrackingStore) {
    let run_id = new_run(store, "0", 0).await;
    let info = store
        .update_run(
            &run_id,
            RunUpdate {
                status: Some(RunStatus::Finished),
                end_time: Some(42),
                run_name: Some("renamed".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (info.status, info.end_time, info.run_name.as_str()),
        (RunStatus::Finished, Some(42), "renamed")
    );
    let run = store.get_run(&run_id).await.unwrap();
    assert!(run
        .tags
        .iter()
        .any(|t| t.key == "mlflow.runName" && t.value == "renamed"));

    store
        .set_run_lifecycle(&run_id, LifecycleStage::Deleted)
        .await
        .unwrap();
    assert_eq!(
        store.get_run(&run_id).await.unwrap().info.lifecycle_stage,
        LifecycleStage::Deleted
    );
    assert!(matches!(
        store
            .log_batch(&run_id, &[metric("m", 1.0, 0, 0)], &[], &[])
            .await,
        Err(CoreError::InvalidParameter(_))
    ));
    assert!(store.list_runs("0", 10).await.unwrap().is_empty());
    store
        .set_run_lifecycle(&run_id, LifecycleStage::Active)
        .await
        .unwrap();
    assert_eq!(store.list_runs("0", 10).await.unwrap().len(), 1);
    // The refused batch left nothing behind.
    assert!(history_steps(store, &run_id, "m").await.is_empty());
    assert!(!store
        .get_run(&run_id)
        .await
        .unwrap()
        .metrics
        .iter()
        .any(|m| m.key == "m"));
}

async fn unknown_ids_are_not_found(store: &dyn TrackingStore) {
    let missing = "0123456789abcdef0123456789abcdef";
    assert!(matches!(
        store.get_run(missing).await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        store.get_experiment("999").await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        store.get_experiment("not-a-number").await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        store.get_experiment_by_name("nope").await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        store.log_batch(missing, &[], &[], &[]).await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .log_batch(missing, &[metric("m", 1.0, 0, 0)], &[], &[])
            .await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        store.get_metric_history(missing, "m").await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        store.set_run_lifecycle(missing, LifecycleStage::Deleted).await,
        Err(CoreError::NotFound(_))
    ));
}

async fn counts_matching_runs_up_to_a_cap(store: &dyn TrackingStore) {
    use aiops_core::search::parse_filter;
    use aiops_core::store::RunSearch;
    let id = store.create_experiment("counted", None, &[], None).await.unwrap();
    for i in 0..7 {
        let run = new_run(store, &id, 1_000 + i).await;
        store
            .log_batch(&run, &[metric("acc", i as f64 / 10.0, 0, 1)], &[], &[])
            .await
            .unwrap();
    }
    let search = |filter: &str| RunSearch {
        experiment_ids: vec![id.clone()],
        filter: parse_filter(filter).unwrap(),
        max_results: 2,
        ..RunSearch::default()
    };
    let count = |matched, more, examined| RunCount {
        matched,
        more,
        examined,
    };
    let counted = |filter: &str, cap, examine| {
        let search = search(filter);
        async move { store.count_runs(&search, cap, examine).await.unwrap() }
    };
    assert_eq!(counted("", 100, 100).await, count(7, false, None));
    assert_eq!(
        counted("metrics.acc >= 0.4", 100, 100).await,
        count(3, false, None)
    );
    // At the cap exactly: not capped; one past it: capped at the cap.
    assert_eq!(counted("", 7, 100).await, count(7, false, None));
    assert_eq!(counted("", 6, 100).await, count(6, true, None));
    assert_eq!(counted("metrics.acc > 5", 6, 100).await, count(0, false, None));
    // With a filter, only the newest `examine` runs are looked at (the newest have the
    // highest acc here), and the count says so when there are more; without, it doesn't.
    assert_eq!(counted("metrics.acc >= 0.4", 100, 7).await, count(3, false, None));
    assert_eq!(
        counted("metrics.acc >= 0.4", 100, 6).await,
        count(3, false, Some(6))
    );
    assert_eq!(
        counted("metrics.acc >= 0.4", 100, 2).await,
        count(2, false, Some(2))
    );
    assert_eq!(counted("metrics.acc >= 0.4", 1, 2).await, count(1, true, Some(2)));
    assert_eq!(counted("", 100, 2).await, count(7, false, None));
}

/// The single-metric order walks the metric's index, then the runs without it; every page
/// size must give exactly the order the general ORDER BY gives (ties, NaN, missing, filter).
async fn metric_order_pages_match_the_general_order(store: &dyn TrackingStore) {
    use aiops_core::search::{parse_filter, parse_order_by};
    use aiops_core::store::RunSearch;
    let id = store
        .create_experiment("metric-order", None, &[], None)
        .await
        .unwrap();
    let values = [
        Some(0.5),
        Some(0.9),
        Some(0.5),
        None,
        Some(f64::NAN),
        Some(0.1),
        None,
        Some(0.9),
        Some(0.7),
    ];
    for (i, v) in values.iter().enumerate() {
        let run = new_run(store, &id, 1_000 + (i as i64 / 2)).await;
        let mut metrics = vec![metric("other", i as f64, 0, 1)];
        if let Some(v) = v {
            metrics.push(metric("m", *v, 0, 1));
        }
        // A param too, so filters probe params as well as metrics on both paths.
        let parity = Param {
            key: "parity".into(),
            value: if i % 2 == 0 { "even" } else { "odd" }.into(),
        };
        store.log_batch(&run, &metrics, &[parity], &[]).await.unwrap();
    }
    for (filter, ascending) in [
        ("", false),
        ("", true),
        ("metrics.other >= 2", false),
        ("metrics.other >= 1 and params.parity = 'even'", true),
    ] {
        let dir = if ascending { "ASC" } else { "DESC" };
        let search = |order: Vec<&str>, max_results: i64, offset: i64| RunSearch {
            experiment_ids: vec![id.clone()],
            filter: parse_filter(filter).unwrap(),
            order_by: order.into_iter().map(|o| parse_order_by(o).unwrap()).collect(),
            max_results,
            offset,
            ..RunSearch::default()
        };
        // Two clauses take the general path; the second is the tie-break both use.
        let general: Vec<String> = store
            .search_runs(&search(
                vec![&format!("metrics.m {dir}"), "attributes.start_time DESC"],
                100,
                0,
            ))
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|r| r.info.run_id)
            .collect();
        for size in [1, 2, 3, 100] {
            let mut paged = Vec::new();
            let mut offset = 0;
            loop {
                let page = store
                    .search_runs(&search(vec![&format!("metrics.m {dir}")], size, offset))
                    .await
                    .unwrap();
                paged.extend(page.items.into_iter().map(|r| r.info.run_id));
                if !page.has_more {
                    break;
                }
                offset += size;
            }
            assert_eq!(paged, general, "filter '{filter}', {dir}, pages of {size}");
        }
        // A page past the end is empty.
        let past = store
            .search_runs(&search(vec![&format!("metrics.m {dir}")], 5, 50))
            .await
            .unwrap();
        assert!(past.items.is_empty() && !past.has_more);
    }
}

mod keyset {
    use aiops_core::store::{RunSearch, TrackingStore};

    async fn pages_cover_every_run_once(store: &dyn TrackingStore) {
        let id = store.create_experiment("keyset", None, &[], None).await.unwrap();
        // Ties on start_time must not lose or repeat runs across page boundaries.
        for i in 0..25 {
            super::new_run(store, &id, 1_000 + (i / 3)).await;
        }
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .search_runs(&RunSearch {
                    experiment_ids: vec![id.clone()],
                    max_results: 4,
                    after: after.clone(),
                    ..RunSearch::default()
                })
                .await
                .unwrap();
            let last = page
                .items
                .last()
                .map(|r| (r.info.start_time, r.info.run_id.clone()));
            seen.extend(page.items.into_iter().map(|r| r.info.run_id));
            if !page.has_more {
                break;
            }
            after = last;
        }
        let all: Vec<String> = store
            .list_runs(&id, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.run_id)
            .collect();
        assert_eq!(seen, all);
    }

    #[tokio::test]
    async fn sqlite() {
        let (store, _dir) = crate::common::sqlite_store().await;
        pages_cover_every_run_once(store.as_ref()).await;
    }

    #[tokio::test]
    async fn postgres() {
        let store = crate::common::postgres_store().await;
        pages_cover_every_run_once(store.as_ref()).await;
    }
}

/// Readers must never starve the writer: with every reader connection held (as a crowd of
/// slow searches would), a write still goes through at once instead of queueing for a
/// connection until the pool gives up. Both databases.
async fn writes_pass_while_readers_hold_every_connection(store: aiops_core::store::SqlTrackingStore) {
    let experiment_id = store
        .create_experiment("writer-not-starved", None, &[], None)
        .await
        .unwrap();
    let run = store
        .create_run(NewRun {
            experiment_id,
            user_id: "u".into(),
            run_name: None,
            start_time: 1,
            tags: vec![],
        })
        .await
        .unwrap();
    let pool = store.pool();
    let mut held = Vec::new();
    while let Ok(Ok(conn)) = tokio::time::timeout(std::time::Duration::from_millis(500), pool.acquire()).await
    {
        held.push(conn);
    }
    assert!(held.len() >= 8, "held {} reader connections", held.len());
    // Before the writer had connections of its own, this waited for a reader's connection
    // until the pool timed out.
    store
        .log_batch(
            &run.info.run_id,
            &[metric("m", 1.0, 0, 1)],
            &[Param {
                key: "p".into(),
                value: "v".into(),
            }],
            &[],
        )
        .await
        .unwrap();
    drop(held);
    let stored = store.get_run(&run.info.run_id).await.unwrap();
    assert_eq!((stored.metrics.len(), stored.params.len()), (1, 1));
}

#[tokio::test]
async fn sqlite_writes_pass_while_readers_hold_every_connection() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("w.db").display());
    let store = aiops_core::store::SqlTrackingStore::connect(&url).await.unwrap();
    writes_pass_while_readers_hold_every_connection(store).await;
}

#[tokio::test]
async fn postgres_writes_pass_while_readers_hold_every_connection() {
    let url = common::fresh_postgres_url().await;
    let store = aiops_core::store::SqlTrackingStore::connect(&url).await.unwrap();
    writes_pass_while_readers_hold_every_connection(store).await;
}

async fn long_histories_page_by_keyset_and_sample_by_step(store: &dyn TrackingStore) {
    let exp = store.create_experiment("long", None, &[], None).await.unwrap();
    let run_id = new_run(store, &exp, 1_000).await;
    // Steps 0..=999 (step 500 twice, at two timestamps; step 7 as NaN), logged out of order.
    let mut points: Vec<Metric> = (0..1000)
        .rev()
        .map(|step| {
            metric(
                "long",
                if step == 7 { f64::NAN } else { step as f64 / 3.0 },
                step,
                5,
            )
        })
        .collect();
    points.push(metric("long", 0.25, 500, 6));
    for chunk in points.chunks(400) {
        store.log_batch(&run_id, chunk, &[], &[]).await.unwrap();
    }
    let all = store.get_metric_history(&run_id, "long").await.unwrap();
    assert_eq!(all.len(), 1001);

    // Keyset pages (each after the previous page's last point) give the whole history once.
    let mut paged: Vec<Metric> = Vec::new();
    loop {
        let page = store
            .get_metric_history_page(&run_id, "long", paged.last(), 0, 64)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        paged.extend(page);
    }
    let key = |m: &Metric| (m.step, m.timestamp, m.value.to_bits());
    assert_eq!(
        paged.iter().map(key).collect::<Vec<_>>(),
        all.iter().map(key).collect::<Vec<_>>()
    );

    // Sampled: few enough points come back whole; more are cut to evenly spread steps.
    let ids = [run_id.clone()];
    let whole = store
        .get_metric_history_sampled(&ids, "long", None, 1001)
        .await
        .unwrap();
    assert_eq!(whole.len(), 1001);
    let sampled = store
        .get_metric_history_sampled(&ids, "long", None, 10)
        .await
        .unwrap();
    let steps: Vec<i64> = sampled.iter().map(|(_, m)| m.step).collect();
    assert_eq!(steps.first(), Some(&0));
    assert_eq!(steps.last(), Some(&999));
    assert!(steps.windows(2).all(|w| w[0] < w[1]), "{steps:?}");
    assert!((8..=10).contains(&steps.len()), "{steps:?}");
    let ranged = store
        .get_metric_history_sampled(&ids, "long", Some((100, 600)), 6)
        .await
        .unwrap();
    let steps: Vec<i64> = ranged.iter().map(|(_, m)| m.step).collect();
    // Both points of step 500 come back: a sampled step keeps all its points.
    assert_eq!(steps, [100, 200, 300, 400, 500, 500, 600]);
}

/// A connection PostgreSQL dropped while it sat in the pool (a restarted server, a proxy's
/// idle cut) is found by the ping on its first use after a second idle, and replaced: no
/// read or write sees it.
#[tokio::test]
async fn postgres_replaces_connections_dropped_while_idle() {
    use sqlx::Connection;
    let url = common::fresh_postgres_url().await;
    let store = aiops_core::store::SqlTrackingStore::connect(&url).await.unwrap();
    let id = store.create_experiment("idle", None, &[], None).await.unwrap();
    let run = new_run(&store, &id, 1).await;
    let mut admin = sqlx::AnyConnection::connect(&url).await.unwrap();
    let dropped: i64 = sqlx::query_scalar(
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(dropped >= 2, "dropped {dropped} connections");
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    for _ in 0..20 {
        store.get_experiment(&id).await.unwrap();
    }
    store
        .log_batch(&run, &[metric("m", 1.0, 0, 1)], &[], &[])
        .await
        .unwrap();
    assert_eq!(store.get_run(&run).await.unwrap().metrics.len(), 1);
}

/// aiops' PostgreSQL sessions price a random read as solid-state storage does and plan
/// without Memoize or parallel workers, unless the operator chose a value: for the
/// database, or in the URL's `options`.
#[tokio::test]
async fn postgres_sessions_keep_the_operators_planner_settings() {
    use sqlx::Connection;
    let settings = |store: &aiops_core::store::SqlTrackingStore| {
        let pool = store.pool().clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT current_setting('random_page_cost') || ' ' || current_setting('enable_memoize') \
                 || ' ' || current_setting('max_parallel_workers_per_gather')",
            )
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let url = common::fresh_postgres_url().await;
    let store = aiops_core::store::SqlTrackingStore::connect(&url).await.unwrap();
    assert_eq!(settings(&store).await, "1.1 off 0");
    let in_url = format!("{url}?options=-c%20random_page_cost%3D2.5%20-c%20enable_memoize%3Don");
    let store = aiops_core::store::SqlTrackingStore::connect(&in_url)
        .await
        .unwrap();
    assert_eq!(settings(&store).await, "2.5 on 0");
    let mut admin = sqlx::AnyConnection::connect(&url).await.unwrap();
    let name: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    for setting in ["random_page_cost = 3", "max_parallel_workers_per_gather = 1"] {
        sqlx::query(&format!("ALTER DATABASE {name} SET {setting}"))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    let store = aiops_core::store::SqlTrackingStore::connect(&url).await.unwrap();
    assert_eq!(settings(&store).await, "3 off 1");
}

/// SQLite's WAL reaches the database file without the writer checkpointing: a few hundred
/// pages stay far below its own bound (16,000), so only the background checkpoint moves them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_checkpoints_run_beside_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let store = aiops_core::store::SqlTrackingStore::connect(&url).await.unwrap();
    // Let the checkpoint of the migrations' pages pass before measuring.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let before = std::fs::metadata(&path).unwrap().len();
    let run_id = new_run(&store, "0", 0).await;
    for batch in 0..20 {
        let points: Vec<Metric> = (0..500)
            .map(|k| metric(&format!("key-{k:03}"), k as f64, batch, batch))
            .collect();
        store.log_batch(&run_id, &points, &[], &[]).await.unwrap();
    }
    let wal = std::fs::metadata(dir.path().join("c.db-wal")).unwrap().len();
    assert!(wal > 1 << 20, "the batches are in the WAL: {wal} bytes");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = std::fs::metadata(&path).unwrap().len();
        if now > before + (512 << 10) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint copied the WAL into the database file in 10 s ({before} -> {now} bytes)"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// SQLite's writer keeps a transaction open between writes (each COMMIT is sent with the
/// next BEGIN), and that transaction holds nothing: after a write that committed, another
/// process writes at once (no wait for SQLite's write lock), and after one that failed
/// inside its transaction, a checkpoint can empty the WAL (no snapshot kept). The writer
/// goes on writing after both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_writer_holds_nothing_between_writes() {
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{ConnectOptions, Row};
    use std::str::FromStr;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("w.db").display());
    let store = aiops_core::store::SqlTrackingStore::connect(&url).await.unwrap();
    let run_id = new_run(&store, "0", 0).await;
    let fixed = |value: &str| Param {
        key: "fixed".into(),
        value: value.into(),
    };
    store
        .log_batch(&run_id, &[metric("m", 1.0, 0, 0)], &[fixed("1")], &[])
        .await
        .unwrap();
    // Another process: no busy timeout, so a lock held by the writer fails it at once.
    let mut outsider = SqliteConnectOptions::from_str(&url)
        .unwrap()
        .busy_timeout(std::time::Duration::ZERO)
        .connect()
        .await
        .unwrap();
    sqlx::query("CREATE TABLE outsider (x INTEGER)")
        .execute(&mut outsider)
        .await
        .expect("the writer holds SQLite's write lock between writes");

    // Fails inside the write, after reading the stored param.
    let refused = store.log_batch(&run_id, &[], &[fixed("2")], &[]).await;
    assert!(
        matches!(refused, Err(CoreError::InvalidParameter(_))),
        "{refused:?}"
    );
    // The failed write is rolled back beside its answer: give it a moment, no more.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&mut outsider)
            .await
            .unwrap();
        if row.get::<i64, _>(0) == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a snapshot is still held 2 s after a failed write"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        std::fs::metadata(dir.path().join("w.db-wal")).unwrap().len(),
        0,
        "the checkpoint emptied the WAL"
    );
    sqlx::query("INSERT INTO outsider (x) VALUES (1)")
        .execute(&mut outsider)
        .await
        .unwrap();
    store
        .log_batch(&run_id, &[metric("m", 2.0, 1, 1)], &[fixed("1")], &[])
        .await
        .unwrap();
    assert_eq!(history_steps(&store, &run_id, "m").await, [0, 1]);
}

/// Readers keep page caches of their own, with no process-wide lock between them: the
/// bundled SQLite is built without its shared cache group (`.cargo/config.toml`; a build
/// that lost the flag fails here), each connection may cache 16 MiB, and the soft heap
/// limit bounds them together.
#[tokio::test]
async fn sqlite_readers_keep_their_own_page_caches() {
    use sqlx::Row;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("p.db").display());
    let store = aiops_core::store::SqlTrackingStore::connect(&url).await.unwrap();
    let mut reader = store.pool().acquire().await.unwrap();
    let options: Vec<String> = sqlx::query("PRAGMA compile_options")
        .fetch_all(&mut *reader)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<String, _>(0))
        .collect();
    assert!(
        options.iter().any(|o| o.starts_with("THREADSAFE=1")),
        "{options:?}"
    );
    assert!(
        !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
        "SQLite was built with its shared page cache group: {options:?}"
    );
    let cache: i64 = sqlx::query("PRAGMA cache_size")
        .fetch_one(&mut *reader)
        .await
        .unwrap()
        .get(0);
    assert_eq!(cache, -16384);
    let limit: i64 = sqlx::query("PRAGMA soft_heap_limit")
        .fetch_one(&mut *reader)
        .await
        .unwrap()
        .get(0);
    assert_eq!(limit, 32 << 20);
}
