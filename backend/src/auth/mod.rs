//! Authentication: access JWTs, rotating refresh tokens, auth cookies, CSRF and rate limiting,
//! password and email flows. The rules are written down in backend/docs/auth.md.
//!
//! Map: [`settings`] (AUTH_* variables), [`jwt`], [`tokens`] (opaque secrets), [`cookies`],
//! [`client_ip`] + [`rate_limit`], [`csrf`], [`principal`] (who is calling, one query) +
//! [`role_cache`],
//! [`extract`] (the `Auth` extractor), [`sessions`] (refresh families), [`handlers`] (routes),
//! [`oauth`] (Google / Microsoft sign-in).

pub mod client_ip;
pub mod cookies;
pub mod csrf;
pub mod domain;
pub mod extract;
pub mod handlers;
pub mod jwt;
pub mod oauth;
pub mod one_time;
pub mod principal;
pub mod rate_limit;
pub mod role_cache;
pub mod sessions;
pub mod settings;
pub mod tokens;

use std::time::Duration;

use anyhow::{Context, anyhow};
use secrecy::ExposeSecret;

use crate::config::{Config, CorsOrigins, Mode};
use crate::mail::Mailer;

pub use extract::Auth;
pub use handlers::router;
pub use principal::Principal;

/// Everything the auth routes share, built once at startup.
#[derive(Debug)]
pub struct AuthState {
    pub keys: jwt::JwtKeys,
    pub settings: settings::SessionSettings,
    pub limiter: rate_limit::RateLimiter,
    pub mailer: Mailer,
    /// Origins accepted by the CSRF check besides our own host (ALLOWED_ORIGINS).
    pub allowed_origins: Vec<String>,
    pub mode: Mode,
    /// Configured OAuth providers (none unless their client id/secret are set).
    pub oauth: oauth::OAuthSettings,
    /// Client for the OAuth token and userinfo endpoints.
    pub http: reqwest::Client,
    /// A hash verified when the email is unknown, so both failures cost the same argon2 work.
    dummy_hash: tokio::sync::OnceCell<String>,
    /// Roles and their permission names (see `role_cache` for when it is invalidated).
    pub roles: role_cache::RoleCache,
}

impl AuthState {
    pub fn new(config: &Config) -> anyhow::Result<AuthState> {
        let keys = jwt::JwtKeys::new(config.secret_key.expose_secret().as_bytes())
            .map_err(|e| anyhow!(e))?;
        let settings = config
            .auth
            .session
            .clone()
            .context("auth settings missing (configuration was not validated)")?;
        let mail = config
            .auth
            .mail
            .clone()
            .context("mail settings missing (configuration was not validated)")?;
        let mailer = Mailer::new(&mail, config.data_dir.join("outbox")).map_err(|e| anyhow!(e))?;
        let allowed_origins = match &config.cors {
            CorsOrigins::List(list) => list.clone(),
            CorsOrigins::ReflectAny => Vec::new(),
        };
        let oauth = config.auth.oauth.clone().unwrap_or_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the OAuth HTTP client")?;
        Ok(AuthState {
            keys,
            oauth,
            http,
            limiter: rate_limit::RateLimiter::new(
                settings.rate_limit_max,
                settings.rate_limit_window,
            ),
            settings,
            mailer,
            allowed_origins,
            mode: config.mode,
            dummy_hash: tokio::sync::OnceCell::new(),
            roles: role_cache::RoleCache::default(),
        })
    }

    pub fn access_ttl_secs(&self) -> i64 {
        self.settings.access_ttl.as_secs() as i64
    }

    pub fn refresh_ttl(&self) -> Duration {
        self.settings.refresh_ttl
    }

    /// A valid hash of a random password, made with this mode's parameters on first use.
    pub async fn dummy_hash(&self) -> anyhow::Result<String> {
        self.dummy_hash
            .get_or_try_init(|| async {
                crate::password::hash(self.mode, tokens::generate().into()).await
            })
            .await
            .cloned()
    }
}
