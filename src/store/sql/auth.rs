//! [`AuthStore`] on the SQL store: users, grants, tokens and sessions.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{is_unique_violation, parse_experiment_id, run_not_found, SqlTrackingStore};
use crate::auth::{Grant, Permission, ResourceKind, TokenInfo, User};
use crate::store::auth::{AuthStore, StoredCredentials, TokenOwner};
use crate::{now_millis, CoreError, CoreResult};

fn user_not_found(username: &str) -> CoreError {
    CoreError::NotFound(format!("User with username={username} not found"))
}

fn user_from(row: &AnyRow) -> CoreResult<User> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        is_admin: row.try_get::<i64, _>("is_admin")? != 0,
    })
}

fn token_from(row: &AnyRow) -> CoreResult<TokenInfo> {
    Ok(TokenInfo {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

fn permission_from(text: Option<String>) -> CoreResult<Option<Permission>> {
    text.map(|t| {
        Permission::parse(&t).ok_or_else(|| CoreError::Storage(format!("unknown permission {t:?} stored")))
    })
    .transpose()
}

/// The table and key column of a resource kind's grants (identifiers, never input).
fn grant_table(kind: ResourceKind) -> (&'static str, &'static str) {
    match kind {
        ResourceKind::Experiment => ("experiment_permissions", "experiment_id"),
        ResourceKind::RegisteredModel => ("registered_model_permissions", "name"),
    }
}

const GRANTS_SQL: &str = "SELECT 'experiment' AS kind, CAST(p.experiment_id AS TEXT) AS resource_id, \
       p.user_id, u.username, p.permission \
     FROM experiment_permissions p JOIN users u ON u.id = p.user_id WHERE {where} \
     UNION ALL \
     SELECT 'registered_model' AS kind, p.name AS resource_id, p.user_id, u.username, p.permission \
     FROM registered_model_permissions p JOIN users u ON u.id = p.user_id WHERE {where} \
     ORDER BY kind, resource_id, username";

fn grants_from(rows: &[AnyRow]) -> CoreResult<Vec<Grant>> {
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get("kind")?;
            Ok(Grant {
                kind: ResourceKind::parse(&kind).unwrap_or(ResourceKind::Experiment),
                resource_id: row.try_get("resource_id")?,
                user_id: row.try_get("user_id")?,
                username: row.try_get("username")?,
                permission: permission_from(Some(row.try_get("permission")?))?
                    .unwrap_or(Permission::NoPermissions),
            })
        })
        .collect()
}

impl SqlTrackingStore {
    /// Binds a resource id as its column's type: experiment ids are integers.
    fn resource_key(kind: ResourceKind, resource_id: &str) -> CoreResult<ResourceKey> {
        Ok(match kind {
            ResourceKind::Experiment => ResourceKey::Id(parse_experiment_id(resource_id)?),
            ResourceKind::RegisteredModel => ResourceKey::Name(resource_id.to_string()),
        })
    }
}

enum ResourceKey {
    Id(i64),
    Name(String),
}

impl ResourceKey {
    fn bind<'q>(
        &'q self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        match self {
            ResourceKey::Id(id) => query.bind(*id),
            ResourceKey::Name(name) => query.bind(name.as_str()),
        }
    }
}

#[async_trait::async_trait]
impl AuthStore for SqlTrackingStore {
    async fn create_user(&self, username: &str, password_hash: &str, is_admin: bool) -> CoreResult<User> {
        let mut tx = self.write_tx().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (username, password_hash, is_admin, version, created_at) \
             VALUES ($1, $2, $3, 1, $4) RETURNING id, username, is_admin",
        )
        .bind(username)
        .bind(password_hash)
        .bind(i64::from(is_admin))
        .bind(now_millis())
        .fetch_one(&mut *tx)
        .await;
        let user = match inserted {
            Ok(row) => user_from(&row)?,
            Err(e) if is_unique_violation(&e) => {
                return Err(CoreError::AlreadyExists(format!(
                    "User '{username}' already exists."
                )))
            }
            Err(e) => return Err(e.into()),
        };
        tx.commit().await?;
        Ok(user)
    }

    async fn get_user(&self, username: &str) -> CoreResult<User> {
        let row = sqlx::query("SELECT id, username, is_admin FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref()
            .map(user_from)
            .transpose()?
            .ok_or_else(|| user_not_found(username))
    }

    async fn list_users(&self) -> CoreResult<Vec<User>> {
        let rows = sqlx::query("SELECT id, username, is_admin FROM users ORDER BY username")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(user_from).collect()
    }

    async fn count_admins(&self) -> CoreResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE is_admin <> 0")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    async fn credentials(&self, username: &str) -> CoreResult<Option<StoredCredentials>> {
        let row = sqlx::query(
            "SELECT id, username, is_admin, password_hash, version FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(StoredCredentials {
                user: user_from(&row)?,
                password_hash: row.try_get("password_hash")?,
                version: row.try_get("version")?,
            })
        })
        .transpose()
    }

    async fn set_password(&self, username: &str, password_hash: &str) -> CoreResult<()> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "UPDATE users SET password_hash = $1, version = version + 1 WHERE username = $2 RETURNING id",
        )
        .bind(password_hash)
        .bind(username)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| user_not_found(username))?;
        let id: i64 = row.try_get("id")?;
        // A new password ends every browser session of the user, on every replica.
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_admin(&self, username: &str, is_admin: bool) -> CoreResult<()> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("UPDATE users SET is_admin = $1, version = version + 1 WHERE username = $2")
            .bind(i64::from(is_admin))
            .bind(username)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(user_not_found(username));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn delete_user(&self, username: &str) -> CoreResult<()> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("DELETE FROM users WHERE username = $1")
            .bind(username)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(user_not_found(username));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn permission(
        &self,
        kind: ResourceKind,
        resource_id: &str,
        user_id: i64,
    ) -> CoreResult<Option<Permission>> {
        let key = match Self::resource_key(kind, resource_id) {
            Ok(key) => key,
            // An id that is no number names no experiment, so nobody holds a grant on it.
            Err(_) => return Ok(None),
        };
        let sql = match kind {
            ResourceKind::Experiment => {
                "SELECT permission FROM experiment_permissions WHERE experiment_id = $1 AND user_id = $2"
            }
            ResourceKind::RegisteredModel => {
                "SELECT permission FROM registered_model_permissions WHERE name = $1 AND user_id = $2"
            }
        };
        let row = key
            .bind(sqlx::query(sql))
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?;
        permission_from(row.map(|r| r.try_get("permission")).transpose()?)
    }

    async fn run_permission(&self, run_id: &str, user_id: i64) -> CoreResult<(String, Option<Permission>)> {
        let row = sqlx::query(
            "SELECT r.experiment_id, p.permission FROM runs r \
             LEFT JOIN experiment_permissions p ON p.experiment_id = r.experiment_id AND p.user_id = $2 \
             WHERE r.run_uuid = $1",
        )
        .bind(run_id)
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| run_not_found(run_id))?;
        let experiment: i64 = row.try_get("experiment_id")?;
        Ok((
            experiment.to_string(),
            permission_from(row.try_get("permission")?)?,
        ))
    }

    async fn logged_model_permission(
        &self,
        model_id: &str,
        user_id: i64,
    ) -> CoreResult<(String, Option<Permission>)> {
        let row = sqlx::query(
            "SELECT m.experiment_id, p.permission FROM logged_models m \
             LEFT JOIN experiment_permissions p ON p.experiment_id = m.experiment_id AND p.user_id = $2 \
             WHERE m.model_id = $1",
        )
        .bind(model_id)
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| CoreError::NotFound(format!("Logged model with id={model_id} not found")))?;
        let experiment: i64 = row.try_get("experiment_id")?;
        Ok((
            experiment.to_string(),
            permission_from(row.try_get("permission")?)?,
        ))
    }

    async fn user_grants(&self, user_id: i64) -> CoreResult<Vec<Grant>> {
        let sql = GRANTS_SQL.replace("{where}", "p.user_id = $1");
        let rows = sqlx::query(&sql).bind(user_id).fetch_all(self.pool()).await?;
        grants_from(&rows)
    }

    async fn list_grants(&self) -> CoreResult<Vec<Grant>> {
        let sql = GRANTS_SQL.replace("{where}", "1 = 1");
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        grants_from(&rows)
    }

    async fn grant(
        &self,
        kind: ResourceKind,
        resource_id: &str,
        user_id: i64,
        permission: Permission,
    ) -> CoreResult<()> {
        let key = Self::resource_key(kind, resource_id)?;
        let (table, column) = grant_table(kind);
        let mut tx = self.write_tx().await?;
        if let ResourceKey::Id(id) = key {
            let exists = sqlx::query("SELECT 1 AS one FROM experiments WHERE experiment_id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Err(super::experiment_not_found(resource_id));
            }
        }
        let sql = format!(
            "INSERT INTO {table} ({column}, user_id, permission) VALUES ($1, $2, $3) \
             ON CONFLICT ({column}, user_id) DO UPDATE SET permission = excluded.permission"
        );
        key.bind(sqlx::query(&sql))
            .bind(user_id)
            .bind(permission.name())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn revoke(&self, kind: ResourceKind, resource_id: &str, user_id: i64) -> CoreResult<()> {
        let key = Self::resource_key(kind, resource_id)?;
        let (table, column) = grant_table(kind);
        let mut tx = self.write_tx().await?;
        let sql = format!("DELETE FROM {table} WHERE {column} = $1 AND user_id = $2");
        let done = key
            .bind(sqlx::query(&sql))
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(CoreError::NotFound(format!(
                "No permission on {} '{resource_id}' was granted to this user",
                kind.name()
            )));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn create_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
        expires_at: Option<i64>,
    ) -> CoreResult<TokenInfo> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "INSERT INTO access_tokens (user_id, name, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id, name, created_at, expires_at, last_used_at",
        )
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(now_millis())
        .bind(expires_at)
        .fetch_one(&mut *tx)
        .await?;
        let token = token_from(&row)?;
        tx.commit().await?;
        Ok(token)
    }

    async fn list_tokens(&self, user_id: i64) -> CoreResult<Vec<TokenInfo>> {
        let rows = sqlx::query(
            "SELECT id, name, created_at, expires_at, last_used_at FROM access_tokens \
             WHERE user_id = $1 ORDER BY created_at DESC, id DESC",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(token_from).collect()
    }

    async fn delete_token(&self, user_id: i64, token_id: i64) -> CoreResult<()> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("DELETE FROM access_tokens WHERE id = $1 AND user_id = $2")
            .bind(token_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(CoreError::NotFound(format!("Token {token_id} not found")));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn token_owner(&self, token_hash: &str) -> CoreResult<Option<TokenOwner>> {
        let row = sqlx::query(
            "SELECT u.id, u.username, u.is_admin, t.id AS token_id, t.expires_at \
             FROM access_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(TokenOwner {
                user: user_from(&row)?,
                token_id: row.try_get("token_id")?,
                expires_at: row.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    async fn touch_token(&self, token_id: i64, at: i64) -> CoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE access_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(at)
            .bind(token_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_session(&self, id_hash: &str, user_id: i64, expires_at: i64) -> CoreResult<()> {
        let now = now_millis();
        let mut tx = self.write_tx().await?;
        // Expired sessions go as new ones come, so the table never grows without bound.
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id_hash)
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session_user(&self, id_hash: &str, now: i64) -> CoreResult<Option<User>> {
        let row = sqlx::query(
            "SELECT u.id, u.username, u.is_admin FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id_hash = $1 AND s.expires_at > $2",
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(user_from).transpose()
    }

    async fn delete_session(&self, id_hash: &str) -> CoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
