//! Authentication: access JWTs, rotating refresh tokens, auth cookies, CSRF and rate limiting.
//! The rules are written down in backend/docs/auth.md.

pub mod client_ip;
pub mod cookies;
pub mod csrf;
pub mod jwt;
pub mod rate_limit;
pub mod settings;
pub mod tokens;
