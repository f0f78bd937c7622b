//! Who is calling and what they may do: MLflow's permission levels, the caller
//! ([`Actor`]) every service operation takes, and the user records the admin pages show.
//! The types compile everywhere; hashing and credential checks sit behind `ssr`.

#[cfg(feature = "ssr")]
pub mod authenticator;
#[cfg(feature = "ssr")]
pub mod secret;

use serde::{Deserialize, Serialize};

/// MLflow's permission levels, in order: each includes what the ones before it allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Permission {
    NoPermissions,
    Read,
    Use,
    Edit,
    Manage,
}

impl Permission {
    pub const ALL: [Permission; 5] = [
        Permission::NoPermissions,
        Permission::Read,
        Permission::Use,
        Permission::Edit,
        Permission::Manage,
    ];

    /// MLflow's name (`READ`, `USE`, `EDIT`, `MANAGE`, `NO_PERMISSIONS`).
    pub fn name(self) -> &'static str {
        match self {
            Permission::NoPermissions => "NO_PERMISSIONS",
            Permission::Read => "READ",
            Permission::Use => "USE",
            Permission::Edit => "EDIT",
            Permission::Manage => "MANAGE",
        }
    }

    pub fn parse(name: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// What a permission is asked for, with the least level that allows it (MLflow's
/// `can_read`, `can_use`, `can_update`, `can_delete`, `can_manage`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Use,
    Update,
    Delete,
    Manage,
}

impl Access {
    pub fn least(self) -> Permission {
        match self {
            Access::Read => Permission::Read,
            Access::Use => Permission::Use,
            Access::Update => Permission::Edit,
            Access::Delete | Access::Manage => Permission::Manage,
        }
    }

    /// The verb used in refusals ("may not update experiment 3").
    pub fn verb(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Use => "use",
            Access::Update => "update",
            Access::Delete => "delete",
            Access::Manage => "manage",
        }
    }
}

/// The kinds of resource permissions are granted on (MLflow's `resource_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResourceKind {
    Experiment,
    RegisteredModel,
}

impl ResourceKind {
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::Experiment => "experiment",
            ResourceKind::RegisteredModel => "registered_model",
        }
    }

    pub fn parse(name: &str) -> Option<ResourceKind> {
        match name {
            "experiment" => Some(ResourceKind::Experiment),
            "registered_model" => Some(ResourceKind::RegisteredModel),
            _ => None,
        }
    }
}

/// The caller of an operation, as the server authenticated it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// `None` for an anonymous reader (`--anonymous-read`).
    pub user_id: Option<i64>,
    pub username: String,
    pub is_admin: bool,
}

impl Actor {
    pub fn anonymous() -> Actor {
        Actor {
            user_id: None,
            username: String::new(),
            is_admin: false,
        }
    }

    pub fn is_anonymous(&self) -> bool {
        self.user_id.is_none()
    }
}

/// A user as the API and the admin page show it (never the password hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub is_admin: bool,
}

/// One explicit grant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub kind: ResourceKind,
    /// An experiment id, or a registered model's name.
    pub resource_id: String,
    pub user_id: i64,
    pub username: String,
    pub permission: Permission,
}

/// An access token as its owner sees it on the account page (never the token itself).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// Longest username accepted (MLflow stores 255).
pub const MAX_USERNAME_LEN: usize = 255;
/// Shortest password accepted when one is set.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longest password accepted: argon2 takes any length, but hashing megabytes per try is a
/// cheap way to burn our CPU.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// A username we accept: 1–255 characters, no control characters, no `:` (Basic
/// credentials split at the first colon).
pub fn validate_username(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("Username cannot be empty.".into());
    }
    if name.chars().count() > MAX_USERNAME_LEN {
        return Err(format!("Username is longer than {MAX_USERNAME_LEN} characters."));
    }
    if name.chars().any(|c| c.is_control() || c == ':') {
        return Err("Username cannot contain ':' or control characters.".into());
    }
    if name.trim() != name {
        return Err("Username cannot start or end with spaces.".into());
    }
    Ok(())
}

pub fn validate_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(format!(
            "Password must be at least {MIN_PASSWORD_LEN} characters."
        ));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(format!("Password is longer than {MAX_PASSWORD_LEN} bytes."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_names_round_trip_in_order() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.name()), Some(p));
        }
        assert!(Permission::NoPermissions < Permission::Read);
        assert!(Permission::Edit < Permission::Manage);
        assert_eq!(Permission::parse("read"), None);
    }

    #[test]
    fn usernames() {
        assert!(validate_username("alice").is_ok());
        assert!(validate_username("").is_err());
        assert!(validate_username("a:b").is_err());
        assert!(validate_username(&"x".repeat(255)).is_ok());
        assert!(validate_username(&"x".repeat(256)).is_err());
    }
}
