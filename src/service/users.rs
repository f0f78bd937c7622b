//! Users, grants, access tokens and sessions: MLflow's basic-auth operations and the
//! account and admin pages, with who-may-do-what checked here.

use std::net::IpAddr;

use super::AppState;
use crate::auth::secret::{self, digest};
use crate::auth::{
    validate_password, validate_username, Actor, Grant, Permission, ResourceKind, TokenInfo, User,
};
use crate::{now_millis, CoreError, CoreResult};

/// A browser session lasts a week.
pub const SESSION_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
/// Longest token name.
const MAX_TOKEN_NAME: usize = 100;
/// Longest token lifetime a user may ask for: a year.
const MAX_TOKEN_DAYS: i64 = 366;

/// A token as it is shown once, right after it is made.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct NewToken {
    pub token: String,
    pub info: TokenInfo,
}

fn invalid(message: String) -> CoreError {
    CoreError::InvalidParameter(message)
}

impl AppState {
    /// First start: with no admin, makes user `admin` with `password` (or a random one,
    /// returned so the caller can print it once). `None` when an admin exists.
    pub async fn bootstrap_admin(&self, password: Option<&str>) -> CoreResult<Option<String>> {
        if self.auth.count_admins().await? > 0 {
            return Ok(None);
        }
        let (password, generated) = match password {
            Some(p) => {
                validate_password(p).map_err(|e| CoreError::Config(format!("AIOPS_ADMIN_PASSWORD: {e}")))?;
                (p.to_string(), false)
            }
            None => (secret::new_password()?, true),
        };
        let hash = secret::hash_password(&password)?;
        match self.auth.create_user("admin", &hash, true).await {
            Ok(_) => {}
            // A non-admin user called `admin` exists: make it the admin, with this password.
            Err(CoreError::AlreadyExists(_)) => {
                self.auth.set_password("admin", &hash).await?;
                self.auth.set_admin("admin", true).await?;
            }
            Err(e) => return Err(e),
        }
        Ok(generated.then_some(password))
    }

    // ---- users ----------------------------------------------------------------------

    pub async fn create_user(&self, actor: &Actor, username: &str, password: &str) -> CoreResult<User> {
        self.require_admin(actor, "create users")?;
        validate_username(username).map_err(invalid)?;
        validate_password(password).map_err(invalid)?;
        let hash = secret::hash_password(password)?;
        self.auth.create_user(username, &hash, false).await
    }

    pub async fn get_user(&self, actor: &Actor, username: &str) -> CoreResult<User> {
        if actor.username != username || actor.is_anonymous() {
            self.require_admin(actor, "look up other users")?;
        }
        self.auth.get_user(username).await
    }

    pub async fn list_users(&self, actor: &Actor) -> CoreResult<Vec<User>> {
        self.require_admin(actor, "list users")?;
        self.auth.list_users().await
    }

    pub fn current_user(&self, actor: &Actor) -> CoreResult<User> {
        let id = self.user_id(actor)?;
        Ok(User {
            id,
            username: actor.username.clone(),
            is_admin: actor.is_admin,
        })
    }

    /// An admin sets anyone's password; a user changes their own with the current one.
    pub async fn update_password(
        &self,
        actor: &Actor,
        username: &str,
        password: &str,
        current_password: Option<&str>,
        client: IpAddr,
    ) -> CoreResult<()> {
        self.user_id(actor)?;
        if actor.username == username {
            let current = current_password.filter(|c| !c.is_empty()).ok_or_else(|| {
                invalid("Current password is required when changing your own password.".into())
            })?;
            self.authenticator
                .check_password(username, current, client)
                .await
                .map_err(|e| match e {
                    CoreError::Unauthenticated(_) => invalid("Current password does not match.".into()),
                    other => other,
                })?;
            if password == current {
                return Err(invalid(
                    "New password must differ from the current password.".into(),
                ));
            }
        } else {
            self.require_admin(actor, "change other users' passwords")?;
        }
        validate_password(password).map_err(invalid)?;
        let hash = secret::hash_password(password)?;
        self.auth.set_password(username, &hash).await
    }

    pub async fn update_admin(&self, actor: &Actor, username: &str, is_admin: bool) -> CoreResult<()> {
        self.require_admin(actor, "change who is an administrator")?;
        let user = self.auth.get_user(username).await?;
        if user.is_admin && !is_admin && self.auth.count_admins().await? <= 1 {
            return Err(invalid("The last administrator cannot be demoted.".into()));
        }
        self.auth.set_admin(username, is_admin).await
    }

    pub async fn delete_user(&self, actor: &Actor, username: &str) -> CoreResult<()> {
        self.require_admin(actor, "delete users")?;
        if actor.username == username {
            return Err(invalid(
                "Users cannot delete their own account. Ask another admin to delete this user instead."
                    .into(),
            ));
        }
        self.auth.delete_user(username).await
    }

    // ---- grants ---------------------------------------------------------------------

    /// Admins grant on anything; other users only on resources they MANAGE.
    async fn check_manages(&self, actor: &Actor, kind: ResourceKind, resource_id: &str) -> CoreResult<()> {
        self.signed_in(actor)?;
        if actor.is_admin {
            return Ok(());
        }
        let user = self.user_id(actor)?;
        let grant = self.auth.permission(kind, resource_id, user).await?;
        if grant.unwrap_or(self.policy.default_permission) >= Permission::Manage {
            return Ok(());
        }
        Err(CoreError::PermissionDenied(format!(
            "Permission denied: only administrators and users who MANAGE {} '{resource_id}' may change \
             its permissions.",
            kind.name()
        )))
    }

    pub async fn grant_permission(
        &self,
        actor: &Actor,
        username: &str,
        kind: ResourceKind,
        resource_id: &str,
        permission: Permission,
    ) -> CoreResult<()> {
        self.check_manages(actor, kind, resource_id).await?;
        let user = self.auth.get_user(username).await?;
        self.auth.grant(kind, resource_id, user.id, permission).await
    }

    pub async fn revoke_permission(
        &self,
        actor: &Actor,
        username: &str,
        kind: ResourceKind,
        resource_id: &str,
    ) -> CoreResult<()> {
        self.check_manages(actor, kind, resource_id).await?;
        let user = self.auth.get_user(username).await?;
        self.auth.revoke(kind, resource_id, user.id).await
    }

    /// A user's effective permission on a resource: for admins, the user themself, and
    /// the resource's managers.
    pub async fn user_permission(
        &self,
        actor: &Actor,
        username: &str,
        kind: ResourceKind,
        resource_id: &str,
    ) -> CoreResult<Permission> {
        if actor.username != username || actor.is_anonymous() {
            self.check_manages(actor, kind, resource_id).await?;
        }
        let user = self.auth.get_user(username).await?;
        if user.is_admin {
            return Ok(Permission::Manage);
        }
        let grant = self.auth.permission(kind, resource_id, user.id).await?;
        Ok(grant.unwrap_or(self.policy.default_permission))
    }

    /// Every grant, for the admin page.
    pub async fn list_grants(&self, actor: &Actor) -> CoreResult<Vec<Grant>> {
        self.require_admin(actor, "see every permission")?;
        self.auth.list_grants().await
    }

    // ---- tokens ---------------------------------------------------------------------

    pub async fn create_token(
        &self,
        actor: &Actor,
        name: &str,
        expires_in_days: Option<i64>,
    ) -> CoreResult<NewToken> {
        let user = self.user_id(actor)?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_TOKEN_NAME {
            return Err(invalid(format!(
                "A token needs a name of 1 to {MAX_TOKEN_NAME} characters."
            )));
        }
        let expires_at = match expires_in_days {
            None => None,
            Some(days) if (1..=MAX_TOKEN_DAYS).contains(&days) => {
                Some(now_millis() + days * 24 * 3600 * 1000)
            }
            Some(_) => return Err(invalid(format!("A token may last 1 to {MAX_TOKEN_DAYS} days."))),
        };
        let token = secret::new_token("aiops_")?;
        let info = self
            .auth
            .create_token(user, name, &digest(&token), expires_at)
            .await?;
        Ok(NewToken { token, info })
    }

    pub async fn list_tokens(&self, actor: &Actor) -> CoreResult<Vec<TokenInfo>> {
        let user = self.user_id(actor)?;
        self.auth.list_tokens(user).await
    }

    pub async fn revoke_token(&self, actor: &Actor, token_id: i64) -> CoreResult<()> {
        let user = self.user_id(actor)?;
        self.auth.delete_token(user, token_id).await
    }

    // ---- sessions -------------------------------------------------------------------

    /// Checks a password and opens a session; returns the session id for the cookie.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        client: IpAddr,
    ) -> CoreResult<(User, String)> {
        let user = self
            .authenticator
            .check_password(username, password, client)
            .await?;
        let session = secret::new_token("")?;
        self.auth
            .create_session(&digest(&session), user.id, now_millis() + SESSION_TTL_MS)
            .await?;
        Ok((user, session))
    }

    pub async fn sign_out(&self, session: &str) -> CoreResult<()> {
        self.auth.delete_session(&digest(session)).await
    }
}
