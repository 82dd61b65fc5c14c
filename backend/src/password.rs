//! Password hashing with argon2id, PHC strings (`$argon2id$v=19$m=...`). Hashing is CPU- and
//! memory-heavy on purpose, so it runs in `spawn_blocking` and never stalls the async workers.
//!
//! Parameters: 19 MiB, 2 passes, 1 lane in every mode but test (OWASP's minimum for argon2id);
//! test mode uses the cheapest legal parameters so test suites stay fast. Verification reads the
//! parameters from the stored hash, so hashes made in either mode verify in both.
//!
//! At most one hash or verification per CPU core runs at a time; the rest wait (asynchronously)
//! for a slot. More at once would not finish sooner on the same cores, but each holds its 19 MiB:
//! 64 concurrent signins used to push the process past 4 GB. Now memory stays bounded, and the
//! other routes keep their threads.

use anyhow::{Context, anyhow};
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};

use crate::config::Mode;

/// Slots for concurrent argon2 work: one per core.
fn slots() -> std::sync::Arc<tokio::sync::Semaphore> {
    static SLOTS: std::sync::OnceLock<std::sync::Arc<tokio::sync::Semaphore>> =
        std::sync::OnceLock::new();
    SLOTS
        .get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            std::sync::Arc::new(tokio::sync::Semaphore::new(cores))
        })
        .clone()
}

fn hasher(mode: Mode) -> anyhow::Result<Argon2<'static>> {
    let params = if mode == Mode::Test {
        Params::new(Params::MIN_M_COST, 1, 1, None)
    } else {
        // OWASP Password Storage Cheat Sheet: m=19456 KiB, t=2, p=1.
        Params::new(19 * 1024, 2, 1, None)
    }
    .map_err(|e| anyhow!("argon2 parameters: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hash a password (fresh random salt) into a PHC string.
pub async fn hash(mode: Mode, password: SecretString) -> anyhow::Result<String> {
    let slot = slots().acquire_owned().await.context("password slots")?;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let phc = hasher(mode)?
            .hash_password(password.expose_secret().as_bytes())
            .map_err(|e| anyhow!("hashing the password: {e}"))?;
        Ok(phc.to_string())
    })
    .await
    .context("password hashing task")?
}

/// `Ok(true)` if `password` matches `phc`. A malformed stored hash is an error, not a mismatch.
pub async fn verify(password: SecretString, phc: String) -> anyhow::Result<bool> {
    let slot = slots().acquire_owned().await.context("password slots")?;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let parsed =
            PasswordHash::new(&phc).map_err(|e| anyhow!("stored password hash is invalid: {e}"))?;
        Ok(Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .context("password verification task")?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        for mode in [Mode::Test, Mode::Production] {
            let h = hash(mode, SecretString::from("correct horse".to_owned()))
                .await
                .expect("hash");
            assert!(h.starts_with("$argon2id$v=19$"), "{h}");
            if mode == Mode::Production {
                assert!(h.contains("m=19456,t=2,p=1"), "{h}");
            }
            assert!(
                verify(SecretString::from("correct horse".to_owned()), h.clone())
                    .await
                    .expect("verify")
            );
            assert!(
                !verify(SecretString::from("wrong".to_owned()), h)
                    .await
                    .expect("verify")
            );
        }
    }

    #[tokio::test]
    async fn garbage_hash_is_an_error() {
        assert!(
            verify(SecretString::from("x".to_owned()), "nope".to_owned())
                .await
                .is_err()
        );
    }
}
