//! Schema migrations: when they run (`AIOPS_MIGRATIONS=auto|check|off`, `aiops migrate`),
//! on which connection, and what a binary does with a schema newer than itself.
//!
//! They run on a connection of their own, closed afterwards whatever happened: sqlx takes
//! PostgreSQL's session-level advisory lock, and a migration that failed on a pooled
//! connection left that lock held by a connection the pool kept, so every other replica
//! waited on it for ever. Closing the session always lets it go.
//!
//! Migrations only add (tables, columns with defaults, indexes): `migrations/README.md`.
//! So a binary older than the schema keeps working, and starts with a warning naming the
//! newer migrations; this is what a rolling upgrade needs (old replicas still serving while
//! the first new one has migrated). A schema older than the binary is migrated (`auto`) or
//! refused with the pending list (`check`). An applied migration whose text changed is
//! always refused.

use std::str::FromStr;
use std::sync::LazyLock;

use sqlx::any::AnyConnectOptions;
use sqlx::migrate::{Migrate, Migrator};
use sqlx::{AnyConnection, ConnectOptions, Connection, Row};

use super::Backend;
use crate::{CoreError, CoreResult};

/// The migrations built into this binary, tolerating newer ones in the database.
static SQLITE_MIGRATIONS: LazyLock<Migrator> = LazyLock::new(|| {
    let mut m = sqlx::migrate!("./migrations/sqlite");
    m.set_ignore_missing(true);
    m
});
static POSTGRES_MIGRATIONS: LazyLock<Migrator> = LazyLock::new(|| {
    let mut m = sqlx::migrate!("./migrations/postgres");
    m.set_ignore_missing(true);
    m
});

/// What `connect` does about the schema.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MigrationMode {
    /// Apply pending migrations at start (the default).
    #[default]
    Auto,
    /// Apply nothing; refuse to start while migrations are pending (`aiops migrate` applies them).
    Check,
    /// Touch nothing and check nothing (the schema is managed elsewhere).
    Off,
}

impl FromStr for MigrationMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(MigrationMode::Auto),
            "check" => Ok(MigrationMode::Check),
            "off" => Ok(MigrationMode::Off),
            other => Err(format!("migrations must be auto, check or off, not {other:?}")),
        }
    }
}

/// Where the schema stands against this binary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchemaStatus {
    /// Migrations applied now (by this call).
    pub applied_now: Vec<i64>,
    /// This binary's migrations not in the database (after the call).
    pub pending: Vec<i64>,
    /// Migrations in the database that this binary does not know: a newer binary applied them.
    pub newer: Vec<i64>,
}

/// The migrations built into this binary for `backend`.
pub fn builtin(backend: Backend) -> &'static Migrator {
    match backend {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
        Backend::Postgres => &POSTGRES_MIGRATIONS,
    }
}

/// Brings the schema at `options` up to `migrator` as `mode` says, on a connection of its own.
/// `migrator` must tolerate newer migrations (`set_ignore_missing(true)`), as the built-in ones do.
pub async fn migrate(
    options: &AnyConnectOptions,
    backend: Backend,
    migrator: &Migrator,
    mode: MigrationMode,
) -> CoreResult<SchemaStatus> {
    if mode == MigrationMode::Off {
        return Ok(SchemaStatus::default());
    }
    let mut conn = options.connect().await?;
    // Under the lock, so what this call applies is told apart from what another replica
    // starting at the same moment applies. sqlx takes it once more inside `run_direct`
    // (PostgreSQL's advisory locks stack per session; SQLite has no lock: one process).
    conn.lock().await?;
    let result = migrate_on(&mut conn, backend, migrator, mode).await;
    let _ = conn.unlock().await;
    // Ends the session, and with it any advisory lock a failure left behind.
    let _ = conn.close().await;
    result
}

async fn migrate_on(
    conn: &mut AnyConnection,
    backend: Backend,
    migrator: &Migrator,
    mode: MigrationMode,
) -> CoreResult<SchemaStatus> {
    let before = applied(conn, backend).await?;
    check_applied(migrator, &before)?;
    let mut status = SchemaStatus {
        newer: before
            .iter()
            .map(|(v, _)| *v)
            .filter(|v| !migrator.version_exists(*v))
            .collect(),
        ..SchemaStatus::default()
    };
    let pending: Vec<i64> = ours(migrator)
        .map(|m| m.version)
        .filter(|v| !before.iter().any(|(a, _)| a == v))
        .collect();
    if mode == MigrationMode::Check {
        if !pending.is_empty() {
            return Err(CoreError::Config(format!(
                "the database schema is behind this binary: migrations {} are pending; \
                 run `aiops migrate` (or start with AIOPS_MIGRATIONS=auto)",
                list(&pending)
            )));
        }
        return Ok(status);
    }
    if pending.is_empty() {
        return Ok(status);
    }
    // Each pending migration in its own transaction.
    migrator.run_direct(conn).await?;
    let after = applied(conn, backend).await?;
    status.applied_now = pending
        .iter()
        .copied()
        .filter(|v| after.iter().any(|(a, _)| a == v))
        .collect();
    status.pending = ours(migrator)
        .map(|m| m.version)
        .filter(|v| !after.iter().any(|(a, _)| a == v))
        .collect();
    Ok(status)
}

fn ours(migrator: &Migrator) -> impl Iterator<Item = &sqlx::migrate::Migration> {
    migrator.iter().filter(|m| !m.migration_type.is_down_migration())
}

/// An applied migration whose text differs from this binary's, or one that failed half-way,
/// is refused whatever the mode: the schema is not what the code expects.
fn check_applied(migrator: &Migrator, applied: &[(i64, Vec<u8>)]) -> CoreResult<()> {
    for (version, checksum) in applied {
        if let Some(ours) = ours(migrator).find(|m| m.version == *version) {
            if ours.checksum.as_ref() != checksum.as_slice() {
                return Err(CoreError::Config(format!(
                    "migration {version} ({}) in the database differs from this binary's; \
                     the schema was changed by a different build",
                    ours.description
                )));
            }
        }
    }
    Ok(())
}

/// The successfully applied migrations, without creating anything (`check` writes nothing).
async fn applied(conn: &mut AnyConnection, backend: Backend) -> CoreResult<Vec<(i64, Vec<u8>)>> {
    let exists_sql = match backend {
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
        }
        Backend::Postgres => {
            "SELECT COUNT(*) FROM pg_catalog.pg_tables \
             WHERE tablename = '_sqlx_migrations' AND schemaname = current_schema()"
        }
    };
    let exists: i64 = sqlx::query_scalar(exists_sql).fetch_one(&mut *conn).await?;
    if exists == 0 {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "SELECT version, CASE WHEN success THEN 1 ELSE 0 END AS ok, checksum FROM _sqlx_migrations ORDER BY version",
    )
        .fetch_all(&mut *conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let version: i64 = row.try_get("version")?;
        if row.try_get::<i64, _>("ok")? == 0 {
            return Err(CoreError::Migration(sqlx::migrate::MigrateError::Dirty(version)));
        }
        out.push((version, row.try_get("checksum")?));
    }
    Ok(out)
}

fn list(versions: &[i64]) -> String {
    versions.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
}

/// The status line `aiops migrate` prints and `serve` logs.
pub fn describe(status: &SchemaStatus) -> String {
    let mut parts = Vec::new();
    if status.applied_now.is_empty() {
        parts.push("schema up to date".to_string());
    } else {
        parts.push(format!("applied migrations {}", list(&status.applied_now)));
    }
    if !status.pending.is_empty() {
        parts.push(format!("pending: {}", list(&status.pending)));
    }
    if !status.newer.is_empty() {
        parts.push(format!(
            "the database has migrations {} from a newer aiops (they only add, so this binary runs)",
            list(&status.newer)
        ));
    }
    parts.join("; ")
}
