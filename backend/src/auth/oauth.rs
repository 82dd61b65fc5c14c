//! Optional sign-in with Google and Microsoft: OAuth 2.0 authorization code flow with PKCE
//! (S256) and a state cookie, then the provider's OpenID Connect userinfo endpoint.
//!
//! `GET /api/auth/signin/{google,microsoft}` makes a fresh `state` and PKCE verifier, keeps both
//! in a short-lived HttpOnly cookie scoped to `/api/auth/signin` (SameSite=Lax, so the browser
//! sends it on the provider's top-level redirect back) and redirects to the provider. The
//! callback checks the state against the cookie, exchanges the code (with the verifier) at the
//! token endpoint, reads the userinfo, finds or creates the account, starts a session with the
//! same cookies as a password sign-in and redirects to the frontend. No token ever travels in a
//! URL; failures redirect to the frontend's `/login?oauthError=CODE`.
//!
//! Linking: an account is found by (provider, subject) first. An existing account with the same
//! email is linked only when the provider asserts `email_verified: true` (Google does;
//! Microsoft's userinfo does not, and an unverified claim must not take over an account).

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::cookies::read_cookie;
use super::{principal, sessions, tokens};
use crate::entities::{roles, users};
use crate::error::{AppError, ErrorBody};
use crate::state::AppState;

/// Name of the state cookie (`__Secure-` prefixed when auth cookies are secure).
const STATE_COOKIE: &str = "oauth_state";
/// Path of the state cookie: both the start and the callback routes live under it.
const STATE_PATH: &str = "/api/auth/signin";
/// Ten minutes to consent at the provider.
const STATE_MAX_AGE_SECS: i64 = 600;

/// One configured provider.
#[derive(Debug, Clone)]
pub struct Provider {
    /// `google` or `microsoft`: the path segment and the stored `users.provider`.
    pub name: &'static str,
    pub client_id: String,
    pub client_secret: SecretString,
    pub auth_url: String,
    pub token_url: String,
    pub userinfo_url: String,
    /// Whether a verified-email claim from this provider may link an existing account.
    pub trust_verified_email: bool,
}

/// The configured providers and where the browser reaches our callback.
#[derive(Debug, Clone, Default)]
pub struct OAuthSettings {
    pub providers: Vec<Provider>,
    /// Browser-facing origin of the API (`OAUTH_CALLBACK_BASE_URL`, default `FRONTEND_URL`,
    /// since the proxy serves the frontend and `/api` on one origin).
    pub callback_base: String,
    /// Where the browser lands after sign-in (`FRONTEND_URL`).
    pub frontend_url: String,
}

impl OAuthSettings {
    /// Reads `GOOGLE_*`, `MICROSOFT_*` and `OAUTH_CALLBACK_BASE_URL`; a provider is on when its
    /// client id and secret are both set. The endpoint variables exist for self-hosted or test
    /// providers; their defaults are the real ones.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Vec<String>> {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut errors = Vec::new();
        let url = |var: &str, default: &str, errors: &mut Vec<String>| -> String {
            let v = get(var).unwrap_or_else(|| default.to_string());
            if !(v.starts_with("https://") || v.starts_with("http://"))
                || reqwest::Url::parse(&v).is_err()
            {
                errors.push(format!("{var} must be an http(s) URL (got `{v}`)"));
            }
            v.trim_end_matches('/').to_string()
        };
        let frontend_url = url("FRONTEND_URL", "http://localhost:8080", &mut Vec::new());
        let callback_base = match get("OAUTH_CALLBACK_BASE_URL") {
            Some(_) => url("OAUTH_CALLBACK_BASE_URL", "", &mut errors),
            None => frontend_url.clone(),
        };
        let tenant = get("MICROSOFT_TENANT").unwrap_or_else(|| "common".into());
        if !tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            errors.push(format!(
                "MICROSOFT_TENANT must be a tenant id or name (got `{tenant}`)"
            ));
        }
        let ms_base = format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0");
        let specs: [(&'static str, &str, String, String, &str, bool); 2] = [
            (
                "google",
                "GOOGLE",
                "https://accounts.google.com/o/oauth2/v2/auth".into(),
                "https://oauth2.googleapis.com/token".into(),
                "https://openidconnect.googleapis.com/v1/userinfo",
                true,
            ),
            (
                "microsoft",
                "MICROSOFT",
                format!("{ms_base}/authorize"),
                format!("{ms_base}/token"),
                "https://graph.microsoft.com/oidc/userinfo",
                false,
            ),
        ];
        let mut providers = Vec::new();
        for (name, prefix, auth, token, userinfo, trust) in specs {
            let id_var = format!("{prefix}_CLIENT_ID");
            let secret_var = format!("{prefix}_CLIENT_SECRET");
            match (get(&id_var), get(&secret_var)) {
                (None, None) => {}
                (Some(client_id), Some(secret)) => providers.push(Provider {
                    name,
                    client_id,
                    client_secret: SecretString::from(secret),
                    auth_url: url(&format!("{prefix}_AUTH_URL"), &auth, &mut errors),
                    token_url: url(&format!("{prefix}_TOKEN_URL"), &token, &mut errors),
                    userinfo_url: url(&format!("{prefix}_USERINFO_URL"), userinfo, &mut errors),
                    trust_verified_email: trust,
                }),
                _ => errors.push(format!(
                    "{id_var} and {secret_var} must be set together (one is missing)"
                )),
            }
        }
        if errors.is_empty() {
            Ok(Self {
                providers,
                callback_base,
                frontend_url,
            })
        } else {
            Err(errors)
        }
    }

    fn provider(&self, name: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.name == name)
    }

    fn redirect_uri(&self, provider: &Provider) -> String {
        format!(
            "{}/api/auth/signin/{}/callback",
            self.callback_base, provider.name
        )
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn state_cookie_name(state: &AppState) -> String {
    if state.auth.settings.cookies.secure {
        format!("__Secure-{STATE_COOKIE}")
    } else {
        STATE_COOKIE.to_string()
    }
}

fn state_cookie(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let mut c = format!(
        "{}={value}; Path={STATE_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Lax",
        state_cookie_name(state)
    );
    if state.auth.settings.cookies.secure {
        c.push_str("; Secure");
    }
    // Our name and base64url/alphanumeric value: always a valid header.
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn redirect(location: &str) -> Response {
    let mut res = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn not_configured(name: &str) -> AppError {
    AppError::new(
        StatusCode::NOT_FOUND,
        "not_configured",
        format!("Sign-in with {name} is not configured on this server"),
    )
}

/// Redirect to the provider's consent page.
async fn start(state: AppState, name: &'static str) -> Result<Response, AppError> {
    let oauth = &state.auth.oauth;
    let provider = oauth.provider(name).ok_or_else(|| not_configured(name))?;
    let csrf_state = tokens::generate();
    let verifier = tokens::generate();
    let challenge = b64(&Sha256::digest(verifier.as_bytes()));
    let url = reqwest::Url::parse_with_params(
        &provider.auth_url,
        &[
            ("response_type", "code"),
            ("client_id", provider.client_id.as_str()),
            ("redirect_uri", oauth.redirect_uri(provider).as_str()),
            ("scope", "openid email profile"),
            ("state", csrf_state.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .map_err(|e| AppError::internal(anyhow::anyhow!("{name} authorization URL: {e}")))?;
    let mut res = redirect(url.as_str());
    res.headers_mut().append(
        header::SET_COOKIE,
        state_cookie(
            &state,
            &format!("{name}.{csrf_state}.{verifier}"),
            STATE_MAX_AGE_SECS,
        ),
    );
    Ok(res)
}

/// What the provider's userinfo endpoint tells us (OpenID Connect standard claims).
#[derive(Debug, Deserialize)]
struct UserInfo {
    sub: String,
    email: Option<String>,
    #[serde(default, deserialize_with = "bool_or_string")]
    email_verified: Option<bool>,
    given_name: Option<String>,
    family_name: Option<String>,
}

/// Some providers send `"email_verified": "true"`.
fn bool_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        B(bool),
        S(String),
    }
    Ok(match Option::<B>::deserialize(d)? {
        Some(B::B(b)) => Some(b),
        Some(B::S(s)) => Some(s.eq_ignore_ascii_case("true")),
        None => None,
    })
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
}

/// A failure shown to the user as `/login?oauthError=CODE`.
struct Refused(&'static str);

async fn exchange(
    state: &AppState,
    provider: &Provider,
    code: &str,
    verifier: &str,
) -> Result<UserInfo, Refused> {
    let oauth = &state.auth.oauth;
    let http = &state.auth.http;
    let res = http
        .post(&provider.token_url)
        .header(header::ACCEPT, "application/json")
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", oauth.redirect_uri(provider).as_str()),
            ("client_id", provider.client_id.as_str()),
            ("client_secret", provider.client_secret.expose_secret()),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .map_err(|e| {
            tracing::warn!(provider = provider.name, "token endpoint unreachable: {e}");
            Refused("oauth_failed")
        })?;
    if !res.status().is_success() {
        // The standard error code only: the body could echo what we sent.
        let status = res.status().as_u16();
        let error = res
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_default();
        tracing::warn!(
            provider = provider.name,
            status,
            error,
            "token endpoint refused the code"
        );
        return Err(Refused("oauth_failed"));
    }
    let token: TokenResponse = res.json().await.map_err(|e| {
        tracing::warn!(provider = provider.name, "token response unreadable: {e}");
        Refused("oauth_failed")
    })?;
    let res = http
        .get(&provider.userinfo_url)
        .bearer_auth(&token.access_token)
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| {
            tracing::warn!(
                provider = provider.name,
                "userinfo endpoint unreachable: {e}"
            );
            Refused("oauth_failed")
        })?;
    if !res.status().is_success() {
        tracing::warn!(
            provider = provider.name,
            status = res.status().as_u16(),
            "userinfo refused"
        );
        return Err(Refused("oauth_failed"));
    }
    res.json::<UserInfo>().await.map_err(|e| {
        tracing::warn!(provider = provider.name, "userinfo unreadable: {e}");
        Refused("oauth_failed")
    })
}

/// The account for this identity: by (provider, subject), else by verified email, else new.
async fn account(
    state: &AppState,
    provider: &Provider,
    info: &UserInfo,
) -> Result<Result<principal::Principal, Refused>, AppError> {
    let by_subject = users::Entity::find()
        .filter(users::Column::Provider.eq(provider.name))
        .filter(users::Column::ProviderId.eq(info.sub.as_str()))
        .filter(users::Column::DeletedAt.is_null())
        .one(&state.db)
        .await?;
    if let Some(u) = by_subject {
        return Ok(principal::load_by_id(&state.db, &state.auth.roles, u.id)
            .await?
            .ok_or(Refused("oauth_failed")));
    }
    let Some(email) = info
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| e.contains('@') && e.len() <= 254)
    else {
        return Ok(Err(Refused("oauth_no_email")));
    };
    let verified = info.email_verified == Some(true);
    if let Some(existing) =
        principal::load_by_email(&state.db, &state.auth.roles, &email.to_lowercase()).await?
    {
        if !(verified && provider.trust_verified_email) {
            return Ok(Err(Refused("oauth_email_in_use")));
        }
        users::Entity::update(users::ActiveModel {
            id: Set(existing.id),
            provider: Set(Some(provider.name.into())),
            provider_id: Set(Some(info.sub.clone())),
            email_verified: Set(true),
            updated_at: Set(Utc::now()),
            ..Default::default()
        })
        .exec(&state.db)
        .await?;
        tracing::info!(user_id = %existing.id, provider = provider.name, "linked an existing account by verified email");
        return Ok(
            principal::load_by_id(&state.db, &state.auth.roles, existing.id)
                .await?
                .ok_or(Refused("oauth_failed")),
        );
    }
    let role = roles::Entity::find()
        .filter(roles::Column::Name.eq("User"))
        .one(&state.db)
        .await?
        .ok_or_else(|| {
            AppError::internal(anyhow::anyhow!(
                "the `User` role is missing: run `backend seed`"
            ))
        })?;
    let clip = |s: &Option<String>| {
        s.as_deref()
            .map(|v| v.chars().take(100).collect::<String>())
    };
    let id = Uuid::new_v4();
    let now = Utc::now();
    users::Entity::insert(users::ActiveModel {
        id: Set(id),
        email: Set(email.to_string()),
        password_hash: Set(None),
        first_name: Set(clip(&info.given_name)),
        last_name: Set(clip(&info.family_name)),
        phone: Set(None),
        disabled: Set(false),
        email_verified: Set(verified),
        provider: Set(Some(provider.name.into())),
        provider_id: Set(Some(info.sub.clone())),
        role_id: Set(Some(role.id)),
        token_version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    })
    .exec_without_returning(&state.db)
    .await?;
    tracing::info!(user_id = %id, provider = provider.name, "account created by first OAuth sign-in");
    Ok(principal::load_by_id(&state.db, &state.auth.roles, id)
        .await?
        .ok_or(Refused("oauth_failed")))
}

async fn callback(
    state: AppState,
    name: &'static str,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, AppError> {
    let oauth = &state.auth.oauth;
    let provider = oauth.provider(name).ok_or_else(|| not_configured(name))?;
    // An unparsable query is treated like one without state: refused below.
    let query = query.map(|q| q.0).unwrap_or_default();
    let outcome = finish(&state, provider, &headers, &query).await?;
    let mut res = match outcome {
        Ok(issued) => {
            let cookies = &state.auth.settings.cookies;
            let mut res = redirect(&format!("{}/", oauth.frontend_url));
            let h = res.headers_mut();
            h.append(header::SET_COOKIE, cookies.access_cookie(&issued.access));
            h.append(
                header::SET_COOKIE,
                cookies.refresh_cookie(&issued.refresh, issued.refresh_max_age),
            );
            res
        }
        Err(Refused(code)) => redirect(&format!("{}/login?oauthError={code}", oauth.frontend_url)),
    };
    // The state is single-use, whatever happened.
    res.headers_mut()
        .append(header::SET_COOKIE, state_cookie(&state, "", 0));
    Ok(res)
}

async fn finish(
    state: &AppState,
    provider: &Provider,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Result<sessions::Issued, Refused>, AppError> {
    let cookie = read_cookie(headers, &state_cookie_name(state)).unwrap_or_default();
    let mut parts = cookie.splitn(3, '.');
    let (Some(cookie_provider), Some(expected), Some(verifier)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Ok(Err(Refused("oauth_state")));
    };
    let given = query.get("state").map(String::as_str).unwrap_or_default();
    // Compare digests: equal-length, so the comparison leaks nothing useful about the value.
    if cookie_provider != provider.name
        || !tokens::looks_valid(expected)
        || Sha256::digest(given.as_bytes()) != Sha256::digest(expected.as_bytes())
    {
        return Ok(Err(Refused("oauth_state")));
    }
    if let Some(error) = query.get("error") {
        tracing::info!(provider = provider.name, error = %error.chars().take(64).collect::<String>(), "provider returned an error");
        return Ok(Err(Refused("oauth_denied")));
    }
    let Some(code) = query
        .get("code")
        .filter(|c| !c.is_empty() && c.len() <= 4096)
    else {
        return Ok(Err(Refused("oauth_failed")));
    };
    let info = match exchange(state, provider, code, verifier).await {
        Ok(info) => info,
        Err(refused) => return Ok(Err(refused)),
    };
    let user = match account(state, provider, &info).await {
        Ok(Ok(user)) => user,
        Ok(Err(refused)) => return Ok(Err(refused)),
        // Two first sign-ins racing: the other one created the account.
        Err(e) if e.status == StatusCode::CONFLICT => return Ok(Err(Refused("oauth_failed"))),
        Err(e) => return Err(e),
    };
    if user.disabled {
        return Ok(Err(Refused("account_disabled")));
    }
    Ok(Ok(
        sessions::start(state, user.id, user.token_version).await?
    ))
}

const TAG: &str = "auth";

/// The sign-in providers this server offers, in a stable order.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProvidersResponse {
    /// `google` and/or `microsoft`; empty when none is configured.
    #[schema(example = json!(["google"]))]
    pub providers: Vec<&'static str>,
}

/// Which OAuth sign-in buttons the sign-in page shows (no secrets: names only).
#[utoipa::path(get, path = "/api/auth/providers", tag = TAG,
    responses((status = 200, description = "The configured providers", body = ProvidersResponse)))]
pub async fn providers(State(state): State<AppState>) -> Json<ProvidersResponse> {
    Json(ProvidersResponse {
        providers: state.auth.oauth.providers.iter().map(|p| p.name).collect(),
    })
}

/// Start sign-in with Google (when `GOOGLE_CLIENT_ID`/`GOOGLE_CLIENT_SECRET` are set).
#[utoipa::path(get, path = "/api/auth/signin/google", tag = TAG,
    responses(
        (status = 302, description = "To Google's consent page; sets the state cookie"),
        (status = 404, description = "Google sign-in is not configured", body = ErrorBody),
    ))]
pub async fn google(State(state): State<AppState>) -> Result<Response, AppError> {
    start(state, "google").await
}

/// Google's redirect back: checks the state, exchanges the code, signs in.
#[utoipa::path(get, path = "/api/auth/signin/google/callback", tag = TAG,
    params(
        ("code" = Option<String>, Query, description = "Authorization code"),
        ("state" = Option<String>, Query, description = "Must match the state cookie"),
        ("error" = Option<String>, Query, description = "Set by the provider when the user declined"),
    ),
    responses(
        (status = 302, description = "To the frontend: signed in (auth cookies set), or `/login?oauthError=CODE`"),
        (status = 404, description = "Google sign-in is not configured", body = ErrorBody),
    ))]
pub async fn google_callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, AppError> {
    callback(state, "google", headers, query).await
}

/// Start sign-in with Microsoft (when `MICROSOFT_CLIENT_ID`/`MICROSOFT_CLIENT_SECRET` are set).
#[utoipa::path(get, path = "/api/auth/signin/microsoft", tag = TAG,
    responses(
        (status = 302, description = "To Microsoft's consent page; sets the state cookie"),
        (status = 404, description = "Microsoft sign-in is not configured", body = ErrorBody),
    ))]
pub async fn microsoft(State(state): State<AppState>) -> Result<Response, AppError> {
    start(state, "microsoft").await
}

/// Microsoft's redirect back: checks the state, exchanges the code, signs in.
#[utoipa::path(get, path = "/api/auth/signin/microsoft/callback", tag = TAG,
    params(
        ("code" = Option<String>, Query, description = "Authorization code"),
        ("state" = Option<String>, Query, description = "Must match the state cookie"),
        ("error" = Option<String>, Query, description = "Set by the provider when the user declined"),
    ),
    responses(
        (status = 302, description = "To the frontend: signed in (auth cookies set), or `/login?oauthError=CODE`"),
        (status = 404, description = "Microsoft sign-in is not configured", body = ErrorBody),
    ))]
pub async fn microsoft_callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, AppError> {
    callback(state, "microsoft", headers, query).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<OAuthSettings, Vec<String>> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        OAuthSettings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn off_unless_both_client_variables_are_set() {
        assert!(settings(&[]).unwrap().providers.is_empty());
        let errs = settings(&[("GOOGLE_CLIENT_ID", "x")]).unwrap_err();
        assert!(errs[0].contains("GOOGLE_CLIENT_SECRET"), "{errs:?}");
        let s = settings(&[
            ("MICROSOFT_CLIENT_ID", "id"),
            ("MICROSOFT_CLIENT_SECRET", "s"),
            ("MICROSOFT_TENANT", "contoso.example"),
            ("FRONTEND_URL", "https://app.example/"),
        ])
        .unwrap();
        let p = s.provider("microsoft").unwrap();
        assert_eq!(
            p.token_url,
            "https://login.microsoftonline.com/contoso.example/oauth2/v2.0/token"
        );
        assert_eq!(
            s.redirect_uri(p),
            "https://app.example/api/auth/signin/microsoft/callback"
        );
        let errs = settings(&[
            ("GOOGLE_CLIENT_ID", "x"),
            ("GOOGLE_CLIENT_SECRET", "y"),
            ("GOOGLE_TOKEN_URL", "ftp://nope"),
        ])
        .unwrap_err();
        assert!(errs[0].contains("GOOGLE_TOKEN_URL"), "{errs:?}");
    }
}
