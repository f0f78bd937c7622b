//! Schema migrations on SQLite and PostgreSQL: the `auto`, `check` and `off` modes, a
//! schema newer than the binary (a rolling upgrade), a changed migration, a failed
//! migration letting go of the lock, several replicas starting at once, and what the
//! migrations that change stored rows do to them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use aiops_core::store::migrate::{self, builtin};
use aiops_core::store::{Backend, MetricStore, MigrationMode, SqlTrackingStore};
use sqlx::any::AnyConnectOptions;
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, Connection};

/// A database URL per backend: a file in a kept temporary folder, or a new PostgreSQL database.
async fn fresh_url(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display());
            (url, Some(dir))
        }
        Backend::Postgres => (common::fresh_postgres_url().await, None),
    }
}

macro_rules! migration_cases {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(aiops_core::store::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(aiops_core::store::Backend::Postgres).await;
                }
            )*
        }
    };
}

migration_cases!(
    modes_apply_check_and_skip,
    newer_schema_starts_changed_migration_does_not,
    failed_migration_lets_go_of_the_lock,
    latest_metrics_carry_their_run_start_time,
    metrics_keep_their_points_without_a_foreign_key,
);

/// Replicas share PostgreSQL; SQLite serves one process (compose and the chart refuse more).
#[tokio::test]
async fn postgres_replicas_starting_at_once_all_migrate() {
    replicas_starting_at_once_all_migrate(Backend::Postgres).await;
}

fn all_versions(backend: Backend) -> Vec<i64> {
    builtin(backend)
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| m.version)
        .collect()
}

async fn connection(url: &str) -> AnyConnection {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(url).await.unwrap()
}

async fn modes_apply_check_and_skip(backend: Backend) {
    let (url, _dir) = fresh_url(backend).await;
    let all = all_versions(backend);
    assert!(all.len() >= 8);

    // `off` touches nothing, so the empty database has no tables yet.
    let (_, status) = SqlTrackingStore::connect_with(&url, MigrationMode::Off)
        .await
        .unwrap();
    assert_eq!(status, Default::default());
    let mut conn = connection(&url).await;
    assert!(sqlx::query("SELECT COUNT(*) FROM experiments")
        .fetch_one(&mut conn)
        .await
        .is_err());

    // `check` refuses an empty database and names what is pending; it writes nothing.
    let err = SqlTrackingStore::connect_with(&url, MigrationMode::Check)
        .await
        .err()
        .expect("check must refuse a schema with pending migrations")
        .to_string();
    assert!(err.contains("pending") && err.contains("aiops migrate"), "{err}");
    assert!(err.contains(&format!("{}", all[0])), "{err}");
    assert!(sqlx::query("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .is_err());

    // `auto` applies them all, once.
    let (_, status) = SqlTrackingStore::connect_with(&url, MigrationMode::Auto)
        .await
        .unwrap();
    assert_eq!(status.applied_now, all);
    assert!(status.pending.is_empty() && status.newer.is_empty());
    let (_, again) = SqlTrackingStore::connect_with(&url, MigrationMode::Auto)
        .await
        .unwrap();
    assert!(again.applied_now.is_empty());
    assert_eq!(migrate::describe(&again), "schema up to date");
    let (_, checked) = SqlTrackingStore::connect_with(&url, MigrationMode::Check)
        .await
        .unwrap();
    assert_eq!(checked, Default::default());
}

async fn newer_schema_starts_changed_migration_does_not(backend: Backend) {
    let (url, _dir) = fresh_url(backend).await;
    SqlTrackingStore::connect(&url).await.unwrap();
    let mut conn = connection(&url).await;

    // A newer binary added migration 9999 (migrations only add): this one still starts, in
    // both modes, and says so.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from a newer aiops', TRUE, $1, 1)",
    )
    .bind(vec![0u8; 48])
    .execute(&mut conn)
    .await
    .unwrap();
    for mode in [MigrationMode::Auto, MigrationMode::Check] {
        let (store, status) = SqlTrackingStore::connect_with(&url, mode).await.unwrap();
        assert_eq!(status.newer, vec![9999], "{mode:?}");
        assert!(migrate::describe(&status).contains("9999 from a newer aiops"));
        // And it works.
        use aiops_core::store::ExperimentStore;
        let name = format!("after-upgrade-{mode:?}");
        let id = store.create_experiment(&name, None, &[], None).await.unwrap();
        assert_eq!(
            store.get_experiment_by_name(&name).await.unwrap().experiment_id,
            id
        );
    }

    // A migration whose text differs from this binary's is refused whatever the mode.
    sqlx::query("UPDATE _sqlx_migrations SET checksum = $1 WHERE version = 1")
        .bind(vec![1u8; 48])
        .execute(&mut conn)
        .await
        .unwrap();
    for mode in [MigrationMode::Auto, MigrationMode::Check] {
        let err = SqlTrackingStore::connect_with(&url, mode)
            .await
            .err()
            .expect("changed migration")
            .to_string();
        assert!(err.contains("migration 1") && err.contains("differs"), "{err}");
    }
}

/// A new database migrated only up to the built-in migration before `first_left_out`.
async fn schema_before(backend: Backend, first_left_out: &str) -> (String, Option<tempfile::TempDir>) {
    let (url, dir) = fresh_url(backend).await;
    let folder = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let mut older = Vec::new();
    for entry in std::fs::read_dir(format!("{}/migrations/{folder}", env!("CARGO_MANIFEST_DIR"))).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.as_str() < first_left_out {
            older.push((name, std::fs::read_to_string(&path).unwrap()));
        }
    }
    let files: Vec<(&str, &str)> = older.iter().map(|(n, s)| (n.as_str(), s.as_str())).collect();
    let (before, _files) = migrator_from(&files).await;
    sqlx::any::install_default_drivers();
    let options: AnyConnectOptions = url.parse().unwrap();
    migrate::migrate(&options, backend, &before, MigrationMode::Auto)
        .await
        .unwrap();
    (url, dir)
}

/// Migration 11 rebuilds SQLite's metrics without their foreign key to runs (PostgreSQL's
/// 0010 dropped it): every point logged before it is still there, in the same table, and
/// the table no longer names runs.
async fn metrics_keep_their_points_without_a_foreign_key(backend: Backend) {
    let (url, _dir) = schema_before(backend, "0011").await;
    let mut conn = connection(&url).await;
    sqlx::query(
        "INSERT INTO runs (run_uuid, experiment_id, name, status, start_time, artifact_uri) \
         VALUES ('r1', 0, 'r1', 'FINISHED', 1, 'a')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    for (key, step, value) in [("loss", 0, 0.5), ("loss", 1, 0.25), ("acc", 0, 0.75)] {
        sqlx::query(&format!(
            "INSERT INTO metrics (run_uuid, key, step, timestamp, value, is_nan) \
             VALUES ('r1', '{key}', {step}, 10, {value}, 0)"
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    }

    let (store, _) = SqlTrackingStore::connect_with(&url, MigrationMode::Auto)
        .await
        .unwrap();
    let loss: Vec<(i64, f64)> = store
        .get_metric_history("r1", "loss")
        .await
        .unwrap()
        .iter()
        .map(|m| (m.step, m.value))
        .collect();
    assert_eq!(loss, [(0, 0.5), (1, 0.25)]);
    assert_eq!(store.get_metric_history("r1", "acc").await.unwrap().len(), 1);
    let foreign_keys = match backend {
        Backend::Sqlite => "SELECT COUNT(*) FROM pragma_foreign_key_list('metrics')",
        Backend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.table_constraints \
             WHERE table_name = 'metrics' AND constraint_type = 'FOREIGN KEY'"
        }
    };
    let (count,): (i64,) = sqlx::query_as(foreign_keys).fetch_one(&mut conn).await.unwrap();
    assert_eq!(count, 0);
}

/// A migrator from files written now (the way a broken migration would arrive).
async fn migrator_from(files: &[(&str, &str)]) -> (Migrator, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    for (name, sql) in files {
        std::fs::write(dir.path().join(name), sql).unwrap();
    }
    let mut m = Migrator::new(dir.path()).await.unwrap();
    m.set_ignore_missing(true);
    (m, dir)
}

async fn failed_migration_lets_go_of_the_lock(backend: Backend) {
    let (url, _dir) = fresh_url(backend).await;
    sqlx::any::install_default_drivers();
    let options: AnyConnectOptions = url.parse().unwrap();
    let good = ("1_first.sql", "CREATE TABLE first_table (x INTEGER);");
    let (broken, _b) = migrator_from(&[good, ("2_broken.sql", "CREATE TABLE broken (x INTEGER")]).await;
    let err = migrate::migrate(&options, backend, &broken, MigrationMode::Auto)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("migration"), "{err}");

    // The next attempt (another replica, a fixed binary) gets the lock at once and applies
    // the fixed migration; the failed one left no half-applied state behind.
    let (fixed, _f) = migrator_from(&[good, ("2_broken.sql", "CREATE TABLE fixed (x INTEGER);")]).await;
    let status = tokio::time::timeout(
        Duration::from_secs(20),
        migrate::migrate(&options, backend, &fixed, MigrationMode::Auto),
    )
    .await
    .expect("the failed migration's lock was never released")
    .unwrap();
    assert_eq!(status.applied_now, vec![2]);
    let mut conn = connection(&url).await;
    sqlx::query("SELECT COUNT(*) FROM fixed")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(sqlx::query("SELECT COUNT(*) FROM broken")
        .fetch_one(&mut conn)
        .await
        .is_err());
}

async fn replicas_starting_at_once_all_migrate(backend: Backend) {
    let (url, _dir) = fresh_url(backend).await;
    let starts = (0..4).map(|_| SqlTrackingStore::connect_with(&url, MigrationMode::Auto));
    let results = futures::future::join_all(starts).await;
    let mut applied = Vec::new();
    for result in results {
        let (_, status) = result.unwrap();
        assert!(status.pending.is_empty());
        applied.extend(status.applied_now);
    }
    // Each migration applied by exactly one of them.
    applied.sort_unstable();
    assert_eq!(applied, all_versions(backend));
    let mut conn = connection(&url).await;
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows as usize, all_versions(backend).len());
}

/// Migration 9 copies each run's start_time into its latest metrics (the metric order's
/// index): rows already there are filled in, and so are rows a binary older than the
/// schema writes without it during a rolling upgrade.
async fn latest_metrics_carry_their_run_start_time(backend: Backend) {
    let (url, _dir) = schema_before(backend, "0009").await;

    let mut conn = connection(&url).await;
    let old_row = |run: &'static str| {
        format!(
            "INSERT INTO latest_metrics (run_uuid, key, step, timestamp, value, is_nan) \
             VALUES ('{run}', 'm', 0, 1, 0.5, 0)"
        )
    };
    for (run, start) in [("r1", 111), ("r2", 222)] {
        sqlx::query(&format!(
            "INSERT INTO runs (run_uuid, experiment_id, name, status, start_time, artifact_uri) \
             VALUES ('{run}', 0, '{run}', 'FINISHED', {start}, 'a')"
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    }
    sqlx::query(&old_row("r1")).execute(&mut conn).await.unwrap();

    SqlTrackingStore::connect_with(&url, MigrationMode::Auto)
        .await
        .unwrap();
    // A binary older than migration 9 keeps writing rows without the column.
    sqlx::query(&old_row("r2")).execute(&mut conn).await.unwrap();
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT run_uuid, start_time FROM latest_metrics ORDER BY run_uuid")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(rows, [("r1".to_string(), 111), ("r2".to_string(), 222)]);
}
