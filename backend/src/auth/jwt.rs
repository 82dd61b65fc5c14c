//! Access tokens: short-lived HS256 JWTs signed with SECRET_KEY. They carry the user id and the
//! user's token version, so bumping the version in the database invalidates every outstanding
//! access token of that user at its next use (see docs/auth.md).

use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The claims of an access token. `ver` is the user's `token_version` at issue time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: Uuid,
    pub ver: i64,
    pub iat: i64,
    pub exp: i64,
}

/// Why a presented access token was refused. The message never contains the token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is invalid")]
    Invalid,
}

/// Makes sure jsonwebtoken signs with aws-lc-rs, the one backend this crate enables.
///
/// jsonwebtoken 12 compiles with both backends or neither and only panics at the first
/// signature; calling this at startup turns that into an error we can report. Idempotent.
pub fn ensure_crypto_provider() -> Result<(), String> {
    let wanted: &'static CryptoProvider = &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
    // Installing fails harmlessly when a provider is already in place; what matters is which.
    let _ = wanted.install_default();
    match CryptoProvider::try_get_default() {
        Some(active) if std::ptr::eq(active, wanted) => Ok(()),
        Some(_) => Err("jsonwebtoken uses a crypto provider other than aws-lc-rs".into()),
        None => {
            Err("jsonwebtoken has no crypto provider (enable exactly its aws_lc_rs feature)".into())
        }
    }
}

/// Signing and verifying keys derived once from SECRET_KEY.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys([redacted])")
    }
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Result<Self, String> {
        ensure_crypto_provider()?;
        let encoding = EncodingKey::from_secret(secret).map_err(|e| format!("SECRET_KEY: {e}"))?;
        let decoding = DecodingKey::from_secret(secret).map_err(|e| format!("SECRET_KEY: {e}"))?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        Ok(Self {
            encoding,
            decoding,
            validation,
        })
    }

    /// Signs an access token for `user_id` valid `ttl_secs` from `now` (unix seconds).
    pub fn issue(&self, user_id: Uuid, version: i64, now: i64, ttl_secs: i64) -> String {
        let claims = AccessClaims {
            sub: user_id,
            ver: version,
            iat: now,
            exp: now + ttl_secs,
        };
        // HMAC signing over a serializable struct cannot fail once the key exists.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .unwrap_or_default()
    }

    pub fn verify(&self, token: &str) -> Result<AccessClaims, JwtError> {
        match jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation) {
            Ok(data) => Ok(data.claims),
            Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature) => {
                Err(JwtError::Expired)
            }
            Err(_) => Err(JwtError::Invalid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn provider_is_aws_lc() {
        assert_eq!(ensure_crypto_provider(), Ok(()));
    }

    #[test]
    fn round_trip_keeps_user_and_version() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let id = Uuid::new_v4();
        let token = keys.issue(id, 7, now(), 900);
        let claims = keys.verify(&token).unwrap();
        assert_eq!((claims.sub, claims.ver), (id, 7));
        assert_eq!(claims.exp - claims.iat, 900);
    }

    #[test]
    fn expired_token_is_refused_as_expired() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let token = keys.issue(Uuid::new_v4(), 0, now() - 1000, 900);
        assert_eq!(keys.verify(&token), Err(JwtError::Expired));
    }

    #[test]
    fn token_signed_with_another_key_is_invalid() {
        let a = JwtKeys::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let b = JwtKeys::new(b"another-secret-another-secret-xx").unwrap();
        let token = a.issue(Uuid::new_v4(), 0, now(), 900);
        assert_eq!(b.verify(&token), Err(JwtError::Invalid));
        assert_eq!(a.verify("not.a.jwt"), Err(JwtError::Invalid));
        assert_eq!(a.verify(""), Err(JwtError::Invalid));
    }

    #[test]
    fn tampered_payload_is_invalid() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let token = keys.issue(Uuid::new_v4(), 0, now(), 900);
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        let forged = AccessClaims {
            sub: Uuid::new_v4(),
            ver: 0,
            iat: now(),
            exp: now() + 900,
        };
        use base64::Engine;
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(keys.verify(&parts.join(".")), Err(JwtError::Invalid));
    }

    #[test]
    fn alg_none_is_refused() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef").unwrap();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = b64.encode(
            format!(
                r#"{{"sub":"{}","ver":0,"iat":{},"exp":{}}}"#,
                Uuid::new_v4(),
                now(),
                now() + 900
            )
            .as_bytes(),
        );
        assert_eq!(
            keys.verify(&format!("{header}.{body}.")),
            Err(JwtError::Invalid)
        );
    }
}
