//! Turns credentials (Basic, Bearer token, session cookie) into an [`Actor`].
//!
//! A Basic password costs an argon2 hash only the first time: a verified pair is cached
//! under a keyed digest with the user's `version`, and every request still reads the user
//! row, so a changed password, admin flag or deleted user is forgotten at once on every
//! replica. Repeated failures per username and per client address are slowed, then
//! refused for a while (never for good).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::secret::{self, digest};
use super::Actor;
use crate::auth::User;
use crate::store::auth::AuthStore;
use crate::{now_millis, CoreError, CoreResult};

/// Credentials as a request carried them.
#[derive(Clone)]
pub enum Credentials {
    Basic { username: String, password: String },
    Bearer(String),
    Session(String),
}

/// Failures within this window count together.
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// From this many failures on, each attempt waits [`SLOW_DOWN`] first (per username; a
/// client address, which may be a proxy or a NAT for many people, gets 4 times as many).
const SLOW_AFTER: u32 = 5;
const SLOW_DOWN: Duration = Duration::from_secs(1);
/// From this many failures on, attempts are refused (429) until [`LOCK_FOR`] has passed
/// since the last failure (per username; 5 times as many per client address).
const LOCK_AFTER: u32 = 10;
const LOCK_FOR: Duration = Duration::from_secs(5 * 60);
/// Bounds on the in-memory maps, so a flood of names cannot grow them without end.
const MAX_CACHED_LOGINS: usize = 10_000;
const MAX_TRACKED_FAILURES: usize = 100_000;
/// `last_used_at` is written at most this often per token (a write per request would
/// queue every API call behind SQLite's one writer).
const TOUCH_EVERY_MS: i64 = 60_000;

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    first: Instant,
    last: Instant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum FailureKey {
    User([u8; 32]),
    Client(IpAddr),
}

impl FailureKey {
    fn slow_after(self) -> u32 {
        match self {
            FailureKey::User(_) => SLOW_AFTER,
            FailureKey::Client(_) => SLOW_AFTER * 4,
        }
    }

    fn lock_after(self) -> u32 {
        match self {
            FailureKey::User(_) => LOCK_AFTER,
            FailureKey::Client(_) => LOCK_AFTER * 5,
        }
    }
}

pub struct Authenticator {
    store: Arc<dyn AuthStore>,
    /// Per-process key of the credential cache: its digests are useless elsewhere.
    key: [u8; 32],
    /// digest(key, username, password) → (user id, version) of a verified pair.
    logins: Mutex<HashMap<[u8; 32], (i64, i64)>>,
    failures: Mutex<HashMap<FailureKey, Failures>>,
    touched: Mutex<HashMap<i64, i64>>,
}

impl Authenticator {
    pub fn new(store: Arc<dyn AuthStore>) -> CoreResult<Authenticator> {
        let mut key = [0u8; 32];
        secret::fill_random(&mut key)?;
        Ok(Authenticator {
            store,
            key,
            logins: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            touched: Mutex::new(HashMap::new()),
        })
    }

    /// The signed-in user, or `Unauthenticated` / `TooManyAttempts`.
    pub async fn authenticate(&self, credentials: &Credentials, client: IpAddr) -> CoreResult<Actor> {
        match credentials {
            Credentials::Basic { username, password } => self.basic(username, password, client).await,
            Credentials::Bearer(token) => self.bearer(token, client).await,
            Credentials::Session(id) => match self.store.session_user(&digest(id), now_millis()).await? {
                Some(user) => Ok(actor(user)),
                None => Err(CoreError::Unauthenticated(
                    "Your session has ended; sign in again.".into(),
                )),
            },
        }
    }

    /// Checks a password without the cache (sign-in form, self-service password change),
    /// counting failures like any other attempt.
    pub async fn check_password(&self, username: &str, password: &str, client: IpAddr) -> CoreResult<User> {
        let keys = [self.user_key(username), FailureKey::Client(client)];
        self.wait_turn(&keys).await?;
        let row = self.store.credentials(username).await?;
        let verified = match &row {
            Some(row) => verify(password, &row.password_hash).await,
            None => {
                // Hash anyway, so a missing user takes as long as a wrong password.
                let _ = verify(password, dummy_hash()).await;
                false
            }
        };
        match row {
            Some(row) if verified => {
                self.forget_failures(&keys);
                Ok(row.user)
            }
            _ => {
                self.record_failure(&keys);
                Err(bad_credentials())
            }
        }
    }

    async fn basic(&self, username: &str, password: &str, client: IpAddr) -> CoreResult<Actor> {
        let keys = [self.user_key(username), FailureKey::Client(client)];
        // A pair verified before is let through while only the username is locked out:
        // an attacker failing against a name must not stop its owner's running scripts.
        self.check_locked(&keys[1..])?;
        let row = self.store.credentials(username).await?;
        let login_key = self.login_digest(username, password);
        if let Some(row) = &row {
            let cached = lock(&self.logins).get(&login_key).copied();
            if cached == Some((row.user.id, row.version)) {
                return Ok(actor(row.user.clone()));
            }
        }
        self.wait_turn(&keys).await?;
        let verified = match &row {
            Some(row) => verify(password, &row.password_hash).await,
            None => {
                let _ = verify(password, dummy_hash()).await;
                false
            }
        };
        match row {
            Some(row) if verified => {
                let mut logins = lock(&self.logins);
                if logins.len() >= MAX_CACHED_LOGINS {
                    logins.clear();
                }
                logins.insert(login_key, (row.user.id, row.version));
                drop(logins);
                self.forget_failures(&keys);
                Ok(actor(row.user))
            }
            _ => {
                self.record_failure(&keys);
                Err(bad_credentials())
            }
        }
    }

    async fn bearer(&self, token: &str, client: IpAddr) -> CoreResult<Actor> {
        let keys = [FailureKey::Client(client)];
        self.check_locked(&keys)?;
        let now = now_millis();
        let owner = self.store.token_owner(&digest(token)).await?;
        let Some(owner) = owner.filter(|o| o.expires_at.is_none_or(|at| at > now)) else {
            self.wait_turn(&keys).await?;
            self.record_failure(&keys);
            return Err(CoreError::Unauthenticated(
                "The access token is unknown, revoked or expired.".into(),
            ));
        };
        let due = {
            let mut touched = lock(&self.touched);
            let last = touched.get(&owner.token_id).copied().unwrap_or(i64::MIN);
            if now.saturating_sub(last) >= TOUCH_EVERY_MS {
                if touched.len() >= MAX_CACHED_LOGINS {
                    touched.clear();
                }
                touched.insert(owner.token_id, now);
                true
            } else {
                false
            }
        };
        if due {
            if let Err(e) = self.store.touch_token(owner.token_id, now).await {
                // The caller is signed in either way; only the "last used" column lags.
                tracing::warn!(error = %e, "could not record a token's last use");
            }
        }
        Ok(actor(owner.user))
    }

    fn user_key(&self, username: &str) -> FailureKey {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(b"user\0");
        h.update(username.as_bytes());
        FailureKey::User(h.finalize().into())
    }

    fn login_digest(&self, username: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update((username.len() as u64).to_le_bytes());
        h.update(username.as_bytes());
        h.update(password.as_bytes());
        h.finalize().into()
    }

    /// Refuses while any key is locked out.
    fn check_locked(&self, keys: &[FailureKey]) -> CoreResult<()> {
        let now = Instant::now();
        let failures = lock(&self.failures);
        for key in keys {
            if let Some(f) = failures.get(key) {
                if f.count >= key.lock_after() && now.duration_since(f.last) < LOCK_FOR {
                    let wait = LOCK_FOR.saturating_sub(now.duration_since(f.last));
                    return Err(CoreError::TooManyAttempts {
                        retry_after_secs: wait.as_secs().max(1),
                    });
                }
            }
        }
        Ok(())
    }

    /// Refuses while locked, and waits a little once failures pile up.
    async fn wait_turn(&self, keys: &[FailureKey]) -> CoreResult<()> {
        self.check_locked(keys)?;
        let slow = {
            let failures = lock(&self.failures);
            keys.iter()
                .any(|k| failures.get(k).is_some_and(|f| f.count >= k.slow_after()))
        };
        if slow {
            tokio::time::sleep(SLOW_DOWN).await;
        }
        Ok(())
    }

    fn record_failure(&self, keys: &[FailureKey]) {
        let now = Instant::now();
        let mut failures = lock(&self.failures);
        if failures.len() >= MAX_TRACKED_FAILURES {
            failures.retain(|_, f| now.duration_since(f.last) < FAILURE_WINDOW);
        }
        for key in keys {
            let entry = failures.entry(*key).or_insert(Failures {
                count: 0,
                first: now,
                last: now,
            });
            // A lock that has run its course starts the count again.
            if now.duration_since(entry.first) > FAILURE_WINDOW
                || (entry.count >= key.lock_after() && now.duration_since(entry.last) >= LOCK_FOR)
            {
                *entry = Failures {
                    count: 0,
                    first: now,
                    last: now,
                };
            }
            entry.count += 1;
            entry.last = now;
        }
    }

    /// A success clears the username's count; a client's count only ages out, so
    /// signing in to an account of one's own cannot reset a guessing run.
    fn forget_failures(&self, keys: &[FailureKey]) {
        let mut failures = lock(&self.failures);
        for key in keys.iter().filter(|k| matches!(k, FailureKey::User(_))) {
            failures.remove(key);
        }
    }
}

/// A hash verified against when the user is missing, made once per process.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| secret::hash_password("no such user").unwrap_or_default())
}

/// argon2 takes tens of milliseconds of CPU: off the async workers.
async fn verify(password: &str, hash: &str) -> bool {
    let (password, hash) = (password.to_string(), hash.to_string());
    tokio::task::spawn_blocking(move || secret::verify_password(&password, &hash))
        .await
        .unwrap_or(false)
}

fn actor(user: User) -> Actor {
    Actor {
        user_id: Some(user.id),
        username: user.username,
        is_admin: user.is_admin,
    }
}

fn bad_credentials() -> CoreError {
    CoreError::Unauthenticated("The username or password is incorrect.".into())
}

/// A poisoned map only means another request panicked mid-update; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
