//! Secrets: argon2id password hashes, random tokens, and the digests tokens and
//! session ids are stored and looked up by.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest, Sha256};

use crate::{CoreError, CoreResult};

/// An argon2id hash in PHC format (argon2's defaults: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> CoreResult<String> {
    let mut salt = [0u8; 16];
    fill_random(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| CoreError::Config(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CoreError::Config(format!("password hashing failed: {e}")))
}

/// True when `password` matches the stored hash; a malformed hash matches nothing.
pub fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(hash) => Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

/// Fills `buf` from the operating system's generator.
pub fn fill_random(buf: &mut [u8]) -> CoreResult<()> {
    getrandom::getrandom(buf).map_err(|e| CoreError::Config(format!("no randomness: {e}")))
}

/// A fresh secret: 32 random bytes as URL-safe text, behind a recognisable prefix.
pub fn new_token(prefix: &str) -> CoreResult<String> {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes)?;
    Ok(format!("{prefix}{}", hex(&bytes)))
}

/// A password for the first admin when none is configured: 20 characters.
pub fn new_password() -> CoreResult<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = [0u8; 20];
    fill_random(&mut bytes)?;
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
}

/// The digest a token or session id is stored under: tokens carry 256 random bits, so a
/// plain SHA-256 is enough (no salt or slow hash needed) and lookups stay one indexed read.
pub fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() -> CoreResult<()> {
        let a = hash_password("correct horse")?;
        let b = hash_password("correct horse")?;
        assert_ne!(a, b, "salted");
        assert!(a.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &a));
        assert!(!verify_password("correct horsE", &a));
        assert!(!verify_password("x", "not a hash"));
        Ok(())
    }

    #[test]
    fn tokens_are_random() -> CoreResult<()> {
        let a = new_token("aiops_")?;
        assert_eq!(a.len(), 6 + 64);
        assert_ne!(a, new_token("aiops_")?);
        assert_eq!(digest(&a).len(), 64);
        assert_eq!(new_password()?.len(), 20);
        Ok(())
    }
}
