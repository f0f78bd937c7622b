//! The auth store: users, per-resource grants, access tokens and browser sessions.
//! Implemented by the same SQL store as tracking, so one database holds everything.

use crate::auth::{Grant, Permission, ResourceKind, TokenInfo, User};
use crate::CoreResult;

/// What a credential check reads with the user row: the hash to verify, and the version
/// that tells a cache whether its entry is still good.
#[derive(Clone, Debug)]
pub struct StoredCredentials {
    pub user: User,
    pub password_hash: String,
    pub version: i64,
}

/// The user a token belongs to, with the token's own record.
#[derive(Clone, Debug)]
pub struct TokenOwner {
    pub user: User,
    pub token_id: i64,
    pub expires_at: Option<i64>,
}

#[async_trait::async_trait]
pub trait AuthStore: Send + Sync {
    /// Fails with `AlreadyExists` when the name is taken.
    async fn create_user(&self, username: &str, password_hash: &str, is_admin: bool) -> CoreResult<User>;
    async fn get_user(&self, username: &str) -> CoreResult<User>;
    async fn list_users(&self) -> CoreResult<Vec<User>>;
    async fn count_admins(&self) -> CoreResult<i64>;
    /// The row a password check reads; `None` when there is no such user.
    async fn credentials(&self, username: &str) -> CoreResult<Option<StoredCredentials>>;
    /// Sets a password, moves the user's version on and ends their browser sessions.
    async fn set_password(&self, username: &str, password_hash: &str) -> CoreResult<()>;
    /// Sets the admin flag and moves the user's version on.
    async fn set_admin(&self, username: &str, is_admin: bool) -> CoreResult<()>;
    /// Deletes a user with their grants, tokens and sessions.
    async fn delete_user(&self, username: &str) -> CoreResult<()>;

    /// The user's explicit grant on one resource, if any.
    async fn permission(
        &self,
        kind: ResourceKind,
        resource_id: &str,
        user_id: i64,
    ) -> CoreResult<Option<Permission>>;
    /// A run's experiment and the user's explicit grant on it, in one read.
    async fn run_permission(&self, run_id: &str, user_id: i64) -> CoreResult<(String, Option<Permission>)>;
    /// A logged model's experiment and the user's explicit grant on it, in one read.
    async fn logged_model_permission(
        &self,
        model_id: &str,
        user_id: i64,
    ) -> CoreResult<(String, Option<Permission>)>;
    /// Every explicit grant of one user.
    async fn user_grants(&self, user_id: i64) -> CoreResult<Vec<Grant>>;
    /// Every explicit grant (the admin page's "who can do what").
    async fn list_grants(&self) -> CoreResult<Vec<Grant>>;
    /// Sets a user's grant on a resource (replacing any). An experiment must exist.
    async fn grant(
        &self,
        kind: ResourceKind,
        resource_id: &str,
        user_id: i64,
        permission: Permission,
    ) -> CoreResult<()>;
    async fn revoke(&self, kind: ResourceKind, resource_id: &str, user_id: i64) -> CoreResult<()>;

    async fn create_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
        expires_at: Option<i64>,
    ) -> CoreResult<TokenInfo>;
    async fn list_tokens(&self, user_id: i64) -> CoreResult<Vec<TokenInfo>>;
    /// Deletes one of the user's tokens; `NotFound` if it is not theirs.
    async fn delete_token(&self, user_id: i64, token_id: i64) -> CoreResult<()>;
    async fn token_owner(&self, token_hash: &str) -> CoreResult<Option<TokenOwner>>;
    async fn touch_token(&self, token_id: i64, at: i64) -> CoreResult<()>;

    async fn create_session(&self, id_hash: &str, user_id: i64, expires_at: i64) -> CoreResult<()>;
    /// The user of a session that has not expired at `now`.
    async fn session_user(&self, id_hash: &str, now: i64) -> CoreResult<Option<User>>;
    async fn delete_session(&self, id_hash: &str) -> CoreResult<()>;
}
