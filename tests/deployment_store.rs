//! Deployment store cases on SQLite and PostgreSQL: a deployment round-trips with its
//! canary and batching, a version change keeps the old one for rollback, and each replica's
//! monitoring buckets replace their earlier copy, are read back by time and pruned.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use aiops_core::monitoring::{summarize, Latencies, StatsBucket};
use aiops_core::store::deployments::{DeploymentStore, StoredDeployment};
use aiops_core::store::SqlTrackingStore;
use aiops_core::CoreError;

sql_store_cases!(deployments_round_trip, stats_replace_read_and_prune);

fn deployment(version: i64) -> StoredDeployment {
    StoredDeployment {
        name: "iris".into(),
        model_name: "iris-model".into(),
        version,
        follows: String::new(),
        previous_version: None,
        deployed_by: "admin".into(),
        deployed_at: 1_700_000_000_000,
        canary_version: None,
        canary_percent: 0,
        max_batch_size: 0,
        batch_delay_us: 0,
    }
}

async fn deployments_round_trip(store: Arc<SqlTrackingStore>) {
    let first = store.put_deployment(deployment(1)).await.unwrap();
    assert_eq!(first, deployment(1));
    let canary = store
        .put_deployment(StoredDeployment {
            canary_version: Some(3),
            canary_percent: 25,
            max_batch_size: 64,
            batch_delay_us: 500,
            ..deployment(1)
        })
        .await
        .unwrap();
    assert_eq!((canary.canary_version, canary.canary_percent), (Some(3), 25));
    assert_eq!((canary.max_batch_size, canary.batch_delay_us), (64, 500));
    assert_eq!(canary.previous_version, None);
    let promoted = store.put_deployment(deployment(3)).await.unwrap();
    assert_eq!((promoted.version, promoted.previous_version), (3, Some(1)));
    assert_eq!(promoted.canary_version, None);
    assert_eq!(store.list_deployments().await.unwrap(), vec![promoted]);
    store.delete_deployment("iris").await.unwrap();
    assert!(matches!(
        store.get_deployment("iris").await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_deployment("iris").await,
        Err(CoreError::NotFound(_))
    ));
}

fn bucket(start: i64, requests: u64, errors: u64) -> StatsBucket {
    let mut latencies = Latencies::default();
    for i in 0..requests {
        latencies.add(100 + i * 10);
    }
    StatsBucket {
        deployment: "iris".into(),
        version: 2,
        start,
        requests,
        errors,
        latencies,
    }
}

async fn stats_replace_read_and_prune(store: Arc<SqlTrackingStore>) {
    store.put_stats("a", &[bucket(10_000, 1, 0)]).await.unwrap();
    // The replica's later copy of the same bucket replaces the first.
    store
        .put_stats("a", &[bucket(10_000, 5, 1), bucket(20_000, 2, 0)])
        .await
        .unwrap();
    store.put_stats("b", &[bucket(20_000, 3, 3)]).await.unwrap();
    store.put_stats("b", &[]).await.unwrap();
    let rows = store.stats_since(0).await.unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.contains(&("a".to_string(), bucket(10_000, 5, 1))));
    assert!(rows.contains(&("b".to_string(), bucket(20_000, 3, 3))));
    let series = summarize(&rows, 0, 30_000);
    assert_eq!(series.len(), 1);
    assert_eq!(
        (series[0].requests, series[0].errors, series[0].replicas),
        (10, 4, 2)
    );
    assert_eq!(series[0].points.len(), 2);
    assert_eq!(store.stats_since(20_000).await.unwrap().len(), 2);
    assert_eq!(store.prune_stats(20_000).await.unwrap(), 1);
    assert_eq!(store.stats_since(0).await.unwrap().len(), 2);
}
