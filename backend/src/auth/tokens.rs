//! Opaque secrets handed to clients (refresh tokens, password-reset and email-verification
//! tokens): 256 random bits, URL-safe base64. Only their SHA-256 digest is ever stored, so a
//! database leak does not yield usable tokens.

use base64::Engine;
use sha2::{Digest, Sha256};

/// Length in characters of an encoded token (32 bytes, base64url without padding).
pub const TOKEN_LEN: usize = 43;

/// A fresh random token, as given to the client.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a token: lowercase hex SHA-256.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Cheap shape check before touching the database: refuses anything that cannot be ours.
pub fn looks_valid(token: &str) -> bool {
    token.len() == TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_and_distinct() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_LEN);
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&a)
            .unwrap();
        assert_eq!(raw.len(), 32);
        assert!(looks_valid(&a));
    }

    #[test]
    fn hash_is_sha256_hex_and_not_the_token() {
        // Known vector: SHA-256("abc").
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let t = generate();
        assert_ne!(hash(&t), t);
        assert_eq!(hash(&t), hash(&t));
    }

    #[test]
    fn shape_check_refuses_foreign_strings() {
        assert!(!looks_valid(""));
        assert!(!looks_valid("short"));
        assert!(!looks_valid(&"a".repeat(44)));
        assert!(!looks_valid(&format!("{}=", &"a".repeat(42))));
        assert!(!looks_valid(&"é".repeat(21)));
    }
}
