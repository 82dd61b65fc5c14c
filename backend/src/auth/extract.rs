//! Request-side auth: the [`Auth`] extractor (Bearer header or access cookie → [`Principal`],
//! with the CSRF rule for cookie requests), the [`RateLimit`] extractor, and the helpers the
//! refresh/signout routes use to apply the same CSRF rule to the refresh cookie.

use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::csrf;
use super::jwt::JwtError;
use super::principal::{self, Principal};
use super::rate_limit::{Bucket, retry_after_secs};
use crate::error::AppError;
use crate::state::AppState;

/// An authenticated caller. `via_cookie` is false for `Authorization: Bearer`.
#[derive(Debug, Clone)]
pub struct Auth {
    pub principal: Principal,
    pub via_cookie: bool,
}

pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

pub fn peer_ip(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

pub fn client_ip(parts: &Parts, state: &AppState) -> IpAddr {
    state
        .auth
        .settings
        .trusted_proxies
        .client_ip(peer_ip(parts), &parts.headers)
}

/// The host the client addressed: `X-Forwarded-Host` from a trusted proxy, else `Host`.
fn request_host<'a>(parts: &'a Parts, state: &AppState) -> Option<&'a str> {
    let trusted = state.auth.settings.trusted_proxies.contains(peer_ip(parts));
    let forwarded = trusted
        .then(|| parts.headers.get("x-forwarded-host"))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim);
    forwarded
        .or_else(|| {
            parts
                .headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
        })
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
}

/// The CSRF rule (docs/auth.md) for a request authenticated by a cookie.
pub fn csrf_guard(parts: &Parts, state: &AppState) -> Result<(), AppError> {
    if !csrf::is_unsafe(&parts.method) {
        return Ok(());
    }
    csrf::check(
        &parts.headers,
        request_host(parts, state),
        &state.auth.allowed_origins,
    )
    .map_err(|e| AppError::new(StatusCode::FORBIDDEN, "csrf", e.to_string()))
}

pub fn session_ended() -> AppError {
    AppError::unauthorized("Your session has ended; please sign in again")
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let (token, via_cookie) = match bearer(&parts.headers) {
            Some(t) => (t, false),
            None => match state.auth.settings.cookies.read_access(&parts.headers) {
                Some(t) => (t, true),
                None => return Err(AppError::unauthorized("Authentication required")),
            },
        };
        if via_cookie {
            csrf_guard(parts, state)?;
        }
        let claims = state.auth.keys.verify(token).map_err(|e| match e {
            JwtError::Expired => AppError::new(
                StatusCode::UNAUTHORIZED,
                "token_expired",
                "The access token has expired; refresh it",
            ),
            JwtError::Invalid => AppError::unauthorized("The access token is invalid"),
        })?;
        let principal = principal::load_for_request(state, claims.sub)
            .await?
            .ok_or_else(session_ended)?;
        if principal.deleted || i64::from(principal.token_version) != claims.ver {
            return Err(session_ended());
        }
        if principal.disabled {
            return Err(disabled());
        }
        Ok(Auth {
            principal,
            via_cookie,
        })
    }
}

pub fn disabled() -> AppError {
    AppError::new(
        StatusCode::FORBIDDEN,
        "account_disabled",
        "Your account is disabled",
    )
}

/// `Some(auth)` when the request carries valid credentials, `None` otherwise.
pub async fn optional_auth(parts: &mut Parts, state: &AppState) -> Option<Auth> {
    Auth::from_request_parts(parts, state).await.ok()
}

/// A rate-limited route group, as a type.
pub trait Limited {
    const BUCKET: Bucket;
}
pub struct SigninGroup;
impl Limited for SigninGroup {
    const BUCKET: Bucket = Bucket::Signin;
}
pub struct SignupGroup;
impl Limited for SignupGroup {
    const BUCKET: Bucket = Bucket::Signup;
}
pub struct EmailGroup;
impl Limited for EmailGroup {
    const BUCKET: Bucket = Bucket::Email;
}

/// Extracting this spends one request of the client's allowance for group `G`.
pub struct RateLimit<G>(PhantomData<G>);

/// 429 with `Retry-After`.
pub struct TooManyRequests(u64);

impl IntoResponse for TooManyRequests {
    fn into_response(self) -> Response {
        let mut res = AppError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("Too many requests; try again in {} second(s)", self.0),
        )
        .into_response();
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(self.0));
        res
    }
}

impl<G: Limited + Send + Sync> FromRequestParts<AppState> for RateLimit<G> {
    type Rejection = TooManyRequests;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ip = client_ip(parts, state);
        state
            .auth
            .limiter
            .check(G::BUCKET, ip)
            .map(|()| RateLimit(PhantomData))
            .map_err(|wait| TooManyRequests(retry_after_secs(wait)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  xyz "),
        );
        assert_eq!(bearer(&h), Some("xyz"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
    }
}
