//! Shared test set-up: a fresh database or bucket per test on the real servers that
//! `scripts/test.sh` starts (a throwaway PostgreSQL cluster and an s3s-fs S3 server).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use aiops_core::artifacts::{ArtifactStore, LocalArtifactStore, S3ArtifactStore};
use aiops_core::store::{SqlTrackingStore, TrackingStore};
use sqlx::Connection;

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the suite with scripts/test.sh, which starts PostgreSQL and S3 for it")
    })
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// A SQLite store in its own temporary folder (kept alive by the returned guard).
pub async fn sqlite_store() -> (Arc<dyn TrackingStore>, tempfile::TempDir) {
    let (store, dir) = sqlite_sql_store().await;
    (store, dir)
}

/// The URL of a new, empty database on the test PostgreSQL cluster.
pub async fn fresh_postgres_url() -> String {
    let admin = required_env("AIOPS_TEST_POSTGRES_URL");
    let name = unique("t_");
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map(|(base, _)| base).unwrap();
    format!("{base}/{name}")
}

pub async fn postgres_store() -> Arc<dyn TrackingStore> {
    postgres_sql_store().await
}

pub struct S3Settings {
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
}

pub fn s3_settings() -> S3Settings {
    S3Settings {
        endpoint: required_env("AIOPS_TEST_S3_ENDPOINT"),
        access_key: required_env("AIOPS_TEST_S3_ACCESS_KEY"),
        secret_key: required_env("AIOPS_TEST_S3_SECRET_KEY"),
    }
}

/// A new bucket on the test S3 server; returns its name.
pub async fn fresh_bucket() -> String {
    let s3 = s3_settings();
    let bucket = unique("b");
    let store =
        S3ArtifactStore::with_static_credentials(&s3.endpoint, &s3.access_key, &s3.secret_key, &bucket, "");
    store
        .client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    bucket
}

pub async fn s3_store(prefix: &str) -> Arc<dyn ArtifactStore> {
    let s3 = s3_settings();
    let bucket = fresh_bucket().await;
    Arc::new(S3ArtifactStore::with_static_credentials(
        &s3.endpoint,
        &s3.access_key,
        &s3.secret_key,
        &bucket,
        prefix,
    ))
}

pub async fn local_store() -> (Arc<dyn ArtifactStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalArtifactStore::open(dir.path().join("artifacts"))
        .await
        .unwrap();
    (Arc::new(store), dir)
}

/// A SQLite store with both of its interfaces (tracking and auth).
pub async fn sqlite_sql_store() -> (Arc<SqlTrackingStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
    (Arc::new(SqlTrackingStore::connect(&url).await.unwrap()), dir)
}

/// A PostgreSQL store with both of its interfaces, on a new database.
pub async fn postgres_sql_store() -> Arc<SqlTrackingStore> {
    let url = fresh_postgres_url().await;
    Arc::new(SqlTrackingStore::connect(&url).await.unwrap())
}

/// Runs each case (an `async fn(Arc<SqlTrackingStore>)`) once on a fresh SQLite store and
/// once on a fresh PostgreSQL database.
#[macro_export]
macro_rules! sql_store_cases {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let (store, _dir) = $crate::common::sqlite_sql_store().await;
                    super::$case(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let store = $crate::common::postgres_sql_store().await;
                    super::$case(store).await;
                }
            )*
        }
    };
}
