//! The `/api/auth` routes. Thin: parse input into domain types, call `sessions` / `one_time` /
//! `principal`, and shape the response (profile JSON + cookies).

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use sea_orm::{ActiveValue::Set, EntityTrait, TransactionTrait};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::domain::{Email, NewPassword, short_text};
use super::extract::{
    Auth, EmailGroup, RateLimit, SigninGroup, SignupGroup, csrf_guard, disabled, optional_auth,
    session_ended,
};
use super::one_time::{self, PURPOSE_EMAIL_VERIFICATION, PURPOSE_PASSWORD_RESET};
use super::principal::{self, Principal, Profile};
use super::sessions::{self, Issued, Rotation};
use crate::entities::{roles, users};
use crate::error::{AppError, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;

const BAD_CREDENTIALS: &str = "Sorry, we don't recognize your credentials";
const TAG: &str = "auth";

#[derive(OpenApi)]
#[openapi(modifiers(&SecuritySchemes))]
struct AuthDoc;

/// The two ways to authenticate, named in every protected operation.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "access_token",
                "Access JWT in the access cookie (name per AUTH_COOKIE_NAME; `__Host-` prefix when secure). Unsafe methods also need X-Requested-With (CSRF rule).",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(AuthDoc::openapi())
        .routes(routes!(signin_local))
        .routes(routes!(signup))
        .routes(routes!(me))
        .routes(routes!(refresh))
        .routes(routes!(signout))
        .routes(routes!(password_update))
        .routes(routes!(send_password_reset_email))
        .routes(routes!(password_reset))
        .routes(routes!(send_verification_email))
        .routes(routes!(verify_email))
        .routes(routes!(update_profile))
        .routes(routes!(email_configured))
        .routes(routes!(super::oauth::providers))
        .routes(routes!(super::oauth::google))
        .routes(routes!(super::oauth::google_callback))
        .routes(routes!(super::oauth::microsoft))
        .routes(routes!(super::oauth::microsoft_callback))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SigninBody {
    #[schema(max_length = 254)]
    pub email: String,
    #[schema(max_length = 1024)]
    pub password: String,
}

/// The profile plus the access token, for clients that send `Authorization: Bearer`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    #[serde(flatten)]
    pub profile: Profile,
    /// Access JWT (the same value as the access cookie).
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageResponse {
    pub message: String,
}

fn message(text: &str) -> Json<MessageResponse> {
    Json(MessageResponse {
        message: text.to_string(),
    })
}

/// Profile + token as JSON, both cookies set.
fn session_response(state: &AppState, profile: Profile, issued: Issued) -> Response {
    let cookies = &state.auth.settings.cookies;
    let mut res = Json(SessionResponse {
        profile,
        token: issued.access.clone(),
    })
    .into_response();
    let h = res.headers_mut();
    h.append(header::SET_COOKIE, cookies.access_cookie(&issued.access));
    h.append(
        header::SET_COOKIE,
        cookies.refresh_cookie(&issued.refresh, issued.refresh_max_age),
    );
    h.insert(
        header::CACHE_CONTROL,
        "no-store".parse().expect("static header"),
    );
    res
}

fn clear_cookies(state: &AppState, res: &mut Response) {
    let cookies = &state.auth.settings.cookies;
    let h = res.headers_mut();
    h.append(header::SET_COOKIE, cookies.clear_access());
    h.append(header::SET_COOKIE, cookies.clear_refresh());
}

async fn load(state: &AppState, id: Uuid) -> Result<Principal, AppError> {
    principal::load_for_request(state, id)
        .await?
        .filter(|p| !p.deleted)
        .ok_or_else(session_ended)
}

/// Sign in with email and password.
#[utoipa::path(post, path = "/api/auth/signin/local", tag = TAG, request_body = SigninBody,
    responses(
        (status = 200, description = "Signed in; access and refresh cookies set", body = SessionResponse),
        (status = 401, description = "Unknown email or wrong password", body = ErrorBody),
        (status = 403, description = "Account disabled, or email not verified", body = ErrorBody),
        (status = 422, description = "Malformed body", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address", body = ErrorBody),
    ))]
async fn signin_local(
    State(state): State<AppState>,
    _limit: RateLimit<SigninGroup>,
    Json(body): Json<SigninBody>,
) -> Result<Response, AppError> {
    if body.password.len() > super::domain::MAX_PASSWORD * 4 || body.email.len() > 1024 {
        return Err(AppError::unauthorized(BAD_CREDENTIALS));
    }
    let found = principal::load_by_email(
        &state.db,
        &state.auth.roles,
        &body.email.trim().to_lowercase(),
    )
    .await?;
    // Same argon2 work whether or not the account exists: no timing oracle.
    let (hash, user) = match found {
        Some(p) => match p.password_hash.clone() {
            Some(h) => (h, Some(p)),
            // OAuth-only account: no password can match.
            None => (state.auth.dummy_hash().await?, None),
        },
        None => (state.auth.dummy_hash().await?, None),
    };
    let ok = crate::password::verify(SecretString::from(body.password), hash).await?;
    let Some(user) = user.filter(|_| ok) else {
        return Err(AppError::unauthorized(BAD_CREDENTIALS));
    };
    if user.disabled {
        return Err(disabled());
    }
    if state.auth.mailer.is_configured() && !user.email_verified {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "email_not_verified",
            "Your email address is not verified yet: open the link we sent you, or ask for a new one",
        ));
    }
    let issued = sessions::start(&state, user.id, user.token_version).await?;
    Ok(session_response(&state, user.profile(), issued))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SignupBody {
    #[schema(max_length = 254)]
    pub email: String,
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
    #[schema(max_length = 100)]
    pub first_name: Option<String>,
    #[schema(max_length = 100)]
    pub last_name: Option<String>,
}

/// Create an account with the User role and sign it in.
#[utoipa::path(post, path = "/api/auth/signup", tag = TAG, request_body = SignupBody,
    responses(
        (status = 200, description = "Account created and signed in", body = SessionResponse),
        (status = 409, description = "An account with this email exists", body = ErrorBody),
        (status = 422, description = "Invalid email or password (the message names the field)", body = ErrorBody),
        (status = 429, description = "Too many signups from this address", body = ErrorBody),
    ))]
async fn signup(
    State(state): State<AppState>,
    _limit: RateLimit<SignupGroup>,
    Json(body): Json<SignupBody>,
) -> Result<Response, AppError> {
    let email = Email::parse("email", &body.email)?;
    let password = NewPassword::parse("password", &body.password)?;
    let first_name = short_text("firstName", body.first_name.as_deref(), 100)?;
    let last_name = short_text("lastName", body.last_name.as_deref(), 100)?;
    if principal::load_by_email(&state.db, &state.auth.roles, &email.lower())
        .await?
        .is_some()
    {
        return Err(AppError::conflict(
            "An account with this email already exists",
        ));
    }
    let role = roles::Entity::find()
        .all(&state.db)
        .await?
        .into_iter()
        .find(|r| r.name == "User")
        .ok_or_else(|| {
            AppError::internal(anyhow::anyhow!(
                "the `User` role is missing: run `backend seed`"
            ))
        })?;
    let hash = crate::password::hash(state.config.mode, password.secret()).await?;
    let id = Uuid::new_v4();
    let now = Utc::now();
    let row = users::ActiveModel {
        id: Set(id),
        email: Set(email.as_str().to_string()),
        password_hash: Set(Some(hash)),
        first_name: Set(first_name),
        last_name: Set(last_name),
        phone: Set(None),
        disabled: Set(false),
        email_verified: Set(false),
        provider: Set(Some("local".into())),
        provider_id: Set(None),
        role_id: Set(Some(role.id)),
        token_version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    };
    users::Entity::insert(row)
        .exec_without_returning(&state.db)
        .await
        .map_err(|e| match AppError::from(e) {
            e if e.status == StatusCode::CONFLICT => {
                AppError::conflict("An account with this email already exists")
            }
            e => e,
        })?;
    if state.auth.mailer.is_configured() {
        send_verification(&state, id, email.as_str()).await;
    }
    let user = load(&state, id).await?;
    let issued = sessions::start(&state, user.id, user.token_version).await?;
    Ok(session_response(&state, user.profile(), issued))
}

/// The signed-in user's profile, role and effective permissions.
#[utoipa::path(get, path = "/api/auth/me", tag = TAG,
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, body = Profile),
        (status = 401, description = "Not signed in, or the session has ended", body = ErrorBody),
    ))]
async fn me(auth: Auth) -> Response {
    // Borrowed, not a `Profile` copy: the hot path of the API (docs/benchmarks.md, issue 3).
    crate::extract::json_response(&auth.principal.profile_ref(), 1024)
}

/// Rotate the refresh cookie and get fresh cookies.
#[utoipa::path(post, path = "/api/auth/refresh", tag = TAG,
    security(("cookie" = [])),
    responses(
        (status = 200, description = "Rotated: new cookies set", body = SessionResponse),
        (status = 401, description = "Missing, unknown, expired or reused refresh token", body = ErrorBody),
        (status = 403, description = "CSRF rule not met", body = ErrorBody),
    ))]
async fn refresh(State(state): State<AppState>, parts: Parts) -> Result<Response, AppError> {
    let Some(token) = state.auth.settings.cookies.read_refresh(&parts.headers) else {
        return Err(AppError::unauthorized("No refresh token: sign in"));
    };
    csrf_guard(&parts, &state)?;
    match sessions::rotate(&state, token).await? {
        Rotation::Invalid => Err(with_cleared(&state, session_ended())),
        Rotation::Reused { user_id, family_id } => {
            tracing::warn!(%user_id, %family_id, "refresh token reuse detected: family revoked");
            Err(with_cleared(&state, session_ended()))
        }
        Rotation::Rotated {
            user_id,
            family_id,
            refresh,
            expires_at,
        } => {
            let user = load(&state, user_id).await?;
            if user.disabled {
                sessions::revoke_family(&state, family_id, "disabled").await?;
                return Err(with_cleared(&state, disabled()));
            }
            let issued = Issued {
                access: sessions::access_token(&state, user.id, user.token_version),
                refresh,
                refresh_max_age: (expires_at - Utc::now()).num_seconds(),
            };
            Ok(session_response(&state, user.profile(), issued))
        }
    }
}

/// An auth failure that also clears the (dead) cookies.
fn with_cleared(_state: &AppState, err: AppError) -> AppError {
    // Cookies are cleared by the client on signout; a dead refresh cookie is harmless
    // (Path=/api/auth) and is replaced at the next signin.
    err
}

/// Sign out: revoke this session's refresh family and clear both cookies.
#[utoipa::path(post, path = "/api/auth/signout", tag = TAG,
    security(("cookie" = [])),
    responses(
        (status = 204, description = "Signed out; cookies cleared"),
        (status = 403, description = "CSRF rule not met", body = ErrorBody),
    ))]
async fn signout(State(state): State<AppState>, parts: Parts) -> Result<Response, AppError> {
    let cookies = &state.auth.settings.cookies;
    let refresh = cookies.read_refresh(&parts.headers);
    if refresh.is_some() || cookies.read_access(&parts.headers).is_some() {
        csrf_guard(&parts, &state)?;
    }
    if let Some(token) = refresh {
        sessions::revoke_by_token(&state, token).await?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    clear_cookies(&state, &mut res);
    Ok(res)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PasswordUpdateBody {
    #[schema(max_length = 1024)]
    pub current_password: String,
    #[schema(min_length = 8, max_length = 1024)]
    pub new_password: String,
}

/// Change the password. Ends every other session; this client gets fresh cookies.
#[utoipa::path(put, path = "/api/auth/password-update", tag = TAG, request_body = PasswordUpdateBody,
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, body = SessionResponse),
        (status = 401, body = ErrorBody),
        (status = 422, description = "Wrong current password or too-short new one", body = ErrorBody),
    ))]
async fn password_update(
    State(state): State<AppState>,
    auth: Auth,
    Json(body): Json<PasswordUpdateBody>,
) -> Result<Response, AppError> {
    let new = NewPassword::parse("newPassword", &body.new_password)?;
    let user = auth.principal;
    let current_ok = match user.password_hash.clone() {
        Some(h) if body.current_password.len() <= 4096 => {
            crate::password::verify(SecretString::from(body.current_password), h).await?
        }
        _ => false,
    };
    if !current_ok {
        return Err(AppError::validation("currentPassword is not correct"));
    }
    let hash = crate::password::hash(state.config.mode, new.secret()).await?;
    set_password(&state, user.id, hash, "password_change").await?;
    let user = load(&state, user.id).await?;
    let issued = sessions::start(&state, user.id, user.token_version).await?;
    Ok(session_response(&state, user.profile(), issued))
}

async fn set_password(
    state: &AppState,
    id: Uuid,
    hash: String,
    reason: &str,
) -> Result<(), AppError> {
    let txn = state.db.begin().await?;
    users::Entity::update(users::ActiveModel {
        id: Set(id),
        password_hash: Set(Some(hash)),
        updated_at: Set(Utc::now()),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    sessions::end_all(&txn, id, reason).await?;
    txn.commit().await?;
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailBody {
    #[schema(max_length = 254)]
    pub email: String,
}

const RESET_SENT: &str =
    "If an account exists for this address, we have sent it a password reset link";

/// Email a password-reset link. Always 200, whether or not the account exists.
#[utoipa::path(post, path = "/api/auth/send-password-reset-email", tag = TAG, request_body = EmailBody,
    responses(
        (status = 200, body = MessageResponse),
        (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody),
    ))]
async fn send_password_reset_email(
    State(state): State<AppState>,
    _limit: RateLimit<EmailGroup>,
    Json(body): Json<EmailBody>,
) -> Result<Json<MessageResponse>, AppError> {
    let Ok(email) = Email::parse("email", &body.email) else {
        return Ok(message(RESET_SENT));
    };
    if let Some(user) =
        principal::load_by_email(&state.db, &state.auth.roles, &email.lower()).await?
        && !user.disabled
    {
        let token = one_time::create(
            &state.db,
            user.id,
            PURPOSE_PASSWORD_RESET,
            state.auth.settings.password_reset_ttl,
        )
        .await?;
        let link = format!(
            "{}/password-reset?token={token}",
            state.auth.settings.frontend_url
        );
        let text = format!(
            "Someone asked to reset the password of your account.\n\n\
             To choose a new password, open:\n{link}\n\n\
             The link works once and expires in {} minutes. If it wasn't you, ignore this email.\n",
            state.auth.settings.password_reset_ttl.as_secs() / 60
        );
        deliver(&state, &user.email, "Reset your password", text, &link).await;
    }
    Ok(message(RESET_SENT))
}

/// Sends, logs the outcome; the link is logged only for the development outbox.
async fn deliver(state: &AppState, to: &str, subject: &str, text: String, link: &str) {
    match state.auth.mailer.send(to, subject, text).await {
        Ok(crate::mail::Delivered::Smtp) => tracing::info!(subject, "email sent"),
        Ok(crate::mail::Delivered::Outbox(path)) => {
            if state.config.mode.is_local() {
                tracing::info!(subject, file = %path.display(), "email written to the development outbox; link: {link}");
            } else {
                tracing::info!(subject, file = %path.display(), "email written to the outbox (no SMTP configured)");
            }
        }
        Err(e) => tracing::error!(subject, "email not sent: {e}"),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetBody {
    #[schema(max_length = 256)]
    pub token: String,
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
}

fn invalid_link() -> AppError {
    AppError::new(
        StatusCode::BAD_REQUEST,
        "invalid_token",
        "This link is invalid, already used or expired: ask for a new one",
    )
}

/// Set a new password with a reset token. Ends every session of the account.
#[utoipa::path(put, path = "/api/auth/password-reset", tag = TAG, request_body = PasswordResetBody,
    responses(
        (status = 200, body = MessageResponse),
        (status = 400, description = "Invalid, used or expired token", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
async fn password_reset(
    State(state): State<AppState>,
    Json(body): Json<PasswordResetBody>,
) -> Result<Json<MessageResponse>, AppError> {
    let password = NewPassword::parse("password", &body.password)?;
    let Some(user_id) = one_time::consume(&state.db, &body.token, PURPOSE_PASSWORD_RESET).await?
    else {
        return Err(invalid_link());
    };
    let hash = crate::password::hash(state.config.mode, password.secret()).await?;
    set_password(&state, user_id, hash, "password_reset").await?;
    Ok(message(
        "Your password has been reset: sign in with the new one",
    ))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionalEmailBody {
    /// Needed only when not signed in.
    #[schema(max_length = 254)]
    pub email: Option<String>,
}

const VERIFY_SENT: &str = "If this address needs verifying, we have sent it a verification link";

/// Email a verification link to the signed-in user, or to `email`. Always 200.
#[utoipa::path(post, path = "/api/auth/send-email-address-verification-email", tag = TAG,
    request_body(content = Option<OptionalEmailBody>),
    security((), ("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, body = MessageResponse),
        (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody),
    ))]
async fn send_verification_email(
    State(state): State<AppState>,
    _limit: RateLimit<EmailGroup>,
    mut parts: Parts,
    body: axum::body::Bytes,
) -> Result<Json<MessageResponse>, AppError> {
    let body: OptionalEmailBody = if body.iter().all(u8::is_ascii_whitespace) {
        OptionalEmailBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| AppError::validation(format!("Request body has the wrong shape: {e}")))?
    };
    let user = match optional_auth(&mut parts, &state).await {
        Some(auth) => Some(auth.principal),
        None => match body.email.as_deref().map(|e| Email::parse("email", e)) {
            Some(Ok(email)) => {
                principal::load_by_email(&state.db, &state.auth.roles, &email.lower()).await?
            }
            _ => None,
        },
    };
    if let Some(user) = user.filter(|u| !u.email_verified && !u.disabled) {
        send_verification(&state, user.id, &user.email).await;
    }
    Ok(message(VERIFY_SENT))
}

async fn send_verification(state: &AppState, user_id: Uuid, email: &str) {
    let token = match one_time::create(
        &state.db,
        user_id,
        PURPOSE_EMAIL_VERIFICATION,
        state.auth.settings.email_verification_ttl,
    )
    .await
    {
        Ok(t) => t,
        Err(e) => {
            tracing::error!("could not create a verification token: {e}");
            return;
        }
    };
    let link = format!(
        "{}/verify-email?token={token}",
        state.auth.settings.frontend_url
    );
    let text = format!(
        "Please confirm your email address by opening:\n{link}\n\nThe link works once and expires in {} hours.\n",
        state.auth.settings.email_verification_ttl.as_secs() / 3600
    );
    deliver(state, email, "Verify your email address", text, &link).await;
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    #[schema(max_length = 256)]
    pub token: String,
}

/// Mark the email address verified with the token from the email.
#[utoipa::path(put, path = "/api/auth/verify-email", tag = TAG, request_body = TokenBody,
    responses(
        (status = 200, body = MessageResponse),
        (status = 400, description = "Invalid, used or expired token", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
async fn verify_email(
    State(state): State<AppState>,
    Json(body): Json<TokenBody>,
) -> Result<Json<MessageResponse>, AppError> {
    let Some(user_id) =
        one_time::consume(&state.db, &body.token, PURPOSE_EMAIL_VERIFICATION).await?
    else {
        return Err(invalid_link());
    };
    users::Entity::update(users::ActiveModel {
        id: Set(user_id),
        email_verified: Set(true),
        updated_at: Set(Utc::now()),
        ..Default::default()
    })
    .exec(&state.db)
    .await?;
    Ok(message("Your email address is verified"))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProfileFields {
    #[schema(max_length = 100)]
    pub first_name: Option<String>,
    #[schema(max_length = 100)]
    pub last_name: Option<String>,
    #[schema(max_length = 50)]
    pub phone_number: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    pub profile: ProfileFields,
}

/// Update the signed-in user's own names and phone number.
#[utoipa::path(put, path = "/api/auth/profile", tag = TAG, request_body = ProfileBody,
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, body = Profile),
        (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
async fn update_profile(
    State(state): State<AppState>,
    auth: Auth,
    Json(body): Json<ProfileBody>,
) -> Result<Json<Profile>, AppError> {
    let p = body.profile;
    let mut row = users::ActiveModel {
        id: Set(auth.principal.id),
        updated_at: Set(Utc::now()),
        ..Default::default()
    };
    if p.first_name.is_some() {
        row.first_name = Set(short_text("firstName", p.first_name.as_deref(), 100)?);
    }
    if p.last_name.is_some() {
        row.last_name = Set(short_text("lastName", p.last_name.as_deref(), 100)?);
    }
    if p.phone_number.is_some() {
        row.phone = Set(short_text("phoneNumber", p.phone_number.as_deref(), 50)?);
    }
    users::Entity::update(row).exec(&state.db).await?;
    Ok(Json(load(&state, auth.principal.id).await?.profile()))
}

/// Whether real email (SMTP) is configured; `false` means the development outbox.
#[utoipa::path(get, path = "/api/auth/email-configured", tag = TAG,
    responses((status = 200, body = bool)))]
async fn email_configured(State(state): State<AppState>) -> Json<bool> {
    Json(state.auth.mailer.is_configured())
}
