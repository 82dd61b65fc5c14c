//! OAuth sign-in (Google and Microsoft) against a local fake provider that speaks the real
//! protocol: an authorization endpoint that redirects back with `code` and `state`, a token
//! endpoint taking the form-encoded `authorization_code` grant and checking the client secret,
//! the redirect URI and the PKCE verifier against the S256 challenge, and an OpenID Connect
//! userinfo endpoint behind the access token. On PostgreSQL and SQLite.
//!
//! The test plays the browser: it follows each redirect by hand, keeps the cookies, and maps the
//! public origin (`OAUTH_CALLBACK_BASE_URL`, what a proxy would serve) to the backend's address.

mod auth_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use auth_support::*;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use testkit::{TestDb, db_test};

const PUBLIC: &str = "https://app.example.test";
const CLIENT_ID: &str = "runway-client";
const CLIENT_SECRET: &str = "fake-provider-client-secret";

/// The identity the fake provider's user "consents" as.
#[derive(Clone)]
struct Identity {
    sub: String,
    email: Option<String>,
    verified: Option<bool>,
}

#[derive(Default)]
struct FakeState {
    identity: Option<Identity>,
    /// code → (challenge, redirect_uri, identity)
    codes: HashMap<String, (String, String, Identity)>,
    /// access token → identity
    tokens: HashMap<String, Identity>,
    token_requests: usize,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<FakeState>>);

impl Fake {
    fn consent_as(&self, sub: &str, email: Option<&str>, verified: Option<bool>) {
        self.0.lock().unwrap().identity = Some(Identity {
            sub: sub.into(),
            email: email.map(Into::into),
            verified,
        });
    }
}

fn oauth_error(error: &str) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({"error": error}))).into_response()
}

async fn authorize(State(fake): State<Fake>, Query(q): Query<HashMap<String, String>>) -> Response {
    let need = |k: &str| q.get(k).cloned().unwrap_or_default();
    assert_eq!(need("response_type"), "code");
    assert_eq!(need("client_id"), CLIENT_ID);
    assert_eq!(need("code_challenge_method"), "S256");
    assert!(need("scope").split(' ').any(|s| s == "email"), "{q:?}");
    assert_eq!(need("code_challenge").len(), 43, "{q:?}");
    assert!(!need("state").is_empty());
    let mut s = fake.0.lock().unwrap();
    let identity = s.identity.clone().expect("test set an identity");
    let code = format!("code-{}", uuid::Uuid::new_v4());
    s.codes.insert(
        code.clone(),
        (need("code_challenge"), need("redirect_uri"), identity),
    );
    let back = reqwest::Url::parse_with_params(
        &need("redirect_uri"),
        &[("code", code.as_str()), ("state", need("state").as_str())],
    )
    .unwrap();
    // 302, as Google's and Microsoft's authorization endpoints answer.
    (StatusCode::FOUND, [("location", back.to_string())]).into_response()
}

async fn token(State(fake): State<Fake>, Form(f): Form<HashMap<String, String>>) -> Response {
    let mut s = fake.0.lock().unwrap();
    s.token_requests += 1;
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    if get("grant_type") != "authorization_code" {
        return oauth_error("unsupported_grant_type");
    }
    if get("client_id") != CLIENT_ID || get("client_secret") != CLIENT_SECRET {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    // Codes are single-use: removed whether or not the rest checks out.
    let Some((challenge, redirect_uri, identity)) = s.codes.remove(get("code")) else {
        return oauth_error("invalid_grant");
    };
    if redirect_uri != get("redirect_uri") {
        return oauth_error("invalid_grant");
    }
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(get("code_verifier").as_bytes()));
    if computed != challenge {
        return oauth_error("invalid_grant");
    }
    let access = format!("at-{}", uuid::Uuid::new_v4());
    s.tokens.insert(access.clone(), identity);
    axum::Json(json!({
        "access_token": access, "token_type": "Bearer", "expires_in": 3599,
        "scope": "openid email profile", "id_token": "not-used.by.backend"
    }))
    .into_response()
}

async fn userinfo(State(fake): State<Fake>, headers: HeaderMap) -> Response {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let s = fake.0.lock().unwrap();
    let Some(id) = s.tokens.get(bearer) else {
        return (StatusCode::UNAUTHORIZED, "invalid_token").into_response();
    };
    let mut body = json!({"sub": id.sub, "given_name": "Ada", "family_name": "Lovelace", "name": "Ada Lovelace"});
    if let Some(e) = &id.email {
        body["email"] = json!(e);
    }
    if let Some(v) = id.verified {
        body["email_verified"] = json!(v);
    }
    axum::Json(body).into_response()
}

/// Starts the fake provider on a free loopback port; returns it and its base URL.
async fn fake_provider() -> (Fake, String) {
    let fake = Fake::default();
    let app = axum::Router::new()
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .route("/userinfo", get(userinfo))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (fake, base)
}

struct Setup {
    app: App,
    fake: Fake,
    /// No automatic redirects: the test is the browser.
    http: reqwest::Client,
}

async fn setup(db: &TestDb) -> Setup {
    let (fake, base) = fake_provider().await;
    let mut env: Vec<(String, String)> = vec![
        ("FRONTEND_URL".into(), PUBLIC.into()),
        ("OAUTH_CALLBACK_BASE_URL".into(), PUBLIC.into()),
    ];
    for p in ["GOOGLE", "MICROSOFT"] {
        env.push((format!("{p}_CLIENT_ID"), CLIENT_ID.into()));
        env.push((format!("{p}_CLIENT_SECRET"), CLIENT_SECRET.into()));
        env.push((format!("{p}_AUTH_URL"), format!("{base}/authorize")));
        env.push((format!("{p}_TOKEN_URL"), format!("{base}/token")));
        env.push((format!("{p}_USERINFO_URL"), format!("{base}/userinfo")));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_with(db, &env).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Setup { app, fake, http }
}

/// What the browser ends with after a sign-in attempt.
struct Landing {
    location: String,
    jar: Jar,
    /// The raw Set-Cookie headers of the callback response.
    callback_cookies: Vec<String>,
}

fn location(res: &reqwest::Response) -> String {
    assert_eq!(res.status(), 302, "expected a redirect");
    res.headers()["location"].to_str().unwrap().to_string()
}

/// The state cookie (`name=value`) set by the start route.
fn state_cookie(res: &reqwest::Response) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("oauth_state="))
        .expect("state cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

impl Setup {
    /// GET /api/auth/signin/{provider}: returns (provider URL, state cookie).
    async fn start(&self, provider: &str) -> (String, String) {
        let res = self
            .http
            .get(self.app.url(&format!("/api/auth/signin/{provider}")))
            .send()
            .await
            .unwrap();
        let cookie = state_cookie(&res);
        (location(&res), cookie)
    }

    /// The provider's redirect back to our public callback URL.
    async fn consent(&self, provider_url: &str) -> String {
        let res = self.http.get(provider_url).send().await.unwrap();
        location(&res)
    }

    /// The browser opens the callback (through the "proxy": public origin → backend).
    async fn callback(&self, public_url: &str, cookie: Option<&str>) -> Landing {
        let path = public_url
            .strip_prefix(PUBLIC)
            .unwrap_or_else(|| panic!("callback {public_url} is not on {PUBLIC}"));
        let mut req = self.http.get(self.app.url(path));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let res = req.send().await.unwrap();
        let callback_cookies = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect::<Vec<_>>();
        let loc = location(&res);
        // The Jar only knows the two auth cookies: hand it a response without the state one.
        let mut jar = Jar::default();
        for c in &callback_cookies {
            let (pair, attrs) = c.split_once(';').unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let deleted = attrs.contains("Max-Age=0");
            let slot = match name {
                "access_token" => &mut jar.access,
                "refresh_token" => &mut jar.refresh,
                _ => continue,
            };
            *slot = (!deleted && !value.is_empty()).then(|| value.to_string());
        }
        Landing {
            location: loc,
            jar,
            callback_cookies,
        }
    }

    /// The whole round trip for `provider`, as the fake user `sub`.
    async fn sign_in(&self, provider: &str) -> Landing {
        let (to_provider, cookie) = self.start(provider).await;
        let back = self.consent(&to_provider).await;
        self.callback(&back, Some(&cookie)).await
    }

    async fn me(&self, jar: &Jar) -> (u16, Value) {
        let res = self
            .app
            .cookie_req(Method::GET, "/api/auth/me", jar, None)
            .await;
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

fn assert_refused(l: &Landing, code: &str) {
    assert_eq!(l.location, format!("{PUBLIC}/login?oauthError={code}"));
    assert_eq!(l.jar, Jar::default(), "no session on refusal");
    assert!(
        l.callback_cookies
            .iter()
            .any(|c| c.starts_with("oauth_state=;") && c.contains("Max-Age=0")),
        "state cookie cleared: {:?}",
        l.callback_cookies
    );
}

/// What `GET /api/auth/providers` offers the sign-in page.
async fn offered(app: &App) -> Value {
    app.run
        .get("/api/auth/providers")
        .await
        .json()
        .await
        .unwrap()
}

async fn first_sign_in_creates_the_account(db: TestDb) {
    let s = setup(&db).await;
    // The sign-in page asks which buttons to show.
    assert_eq!(
        offered(&s.app).await,
        json!({ "providers": ["google", "microsoft"] })
    );
    s.fake
        .consent_as("google-sub-1", Some("Ada@Example.test"), Some(true));

    let (to_provider, cookie) = s.start("google").await;
    assert!(to_provider.contains("code_challenge="), "{to_provider}");
    assert!(
        to_provider.contains(&format!(
            "redirect_uri={}",
            urlencode(&format!("{PUBLIC}/api/auth/signin/google/callback"))
        )),
        "{to_provider}"
    );
    // The PKCE verifier never leaves in the URL; only its S256 challenge does.
    let verifier = cookie.rsplit('.').next().unwrap();
    assert!(!to_provider.contains(verifier));

    let back = s.consent(&to_provider).await;
    let landing = s.callback(&back, Some(&cookie)).await;
    assert_eq!(
        landing.location,
        format!("{PUBLIC}/"),
        "no token in the URL"
    );
    assert!(landing.jar.access.is_some() && landing.jar.refresh.is_some());
    let (status, me) = s.me(&landing.jar).await;
    assert_eq!(status, 200);
    assert_eq!(me["email"], "Ada@Example.test");
    assert_eq!(me["firstName"], "Ada");
    assert_eq!(me["emailVerified"], true);
    assert_eq!(me["role"]["name"], "User");
    let id = me["id"].clone();

    // The session is a normal one: it refreshes.
    let mut jar = landing.jar.clone();
    assert_eq!(s.app.refresh(&mut jar).await.status(), 200);

    // Second sign-in: the same account, not a new one.
    let again = s.sign_in("google").await;
    let (_, me2) = s.me(&again.jar).await;
    assert_eq!(me2["id"], id);

    // Replaying the callback (same code, same state cookie): the state cookie was consumed by the
    // browser, and even with it kept the provider refuses a used code.
    let replay = s.callback(&back, Some(&cookie)).await;
    assert_refused(&replay, "oauth_failed");
}
db_test!(first_sign_in, first_sign_in_creates_the_account);

fn urlencode(s: &str) -> String {
    reqwest::Url::parse_with_params("http://x/", &[("v", s)])
        .unwrap()
        .query()
        .unwrap()
        .trim_start_matches("v=")
        .to_string()
}

async fn state_and_pkce_are_enforced(db: TestDb) {
    let s = setup(&db).await;
    s.fake
        .consent_as("google-sub-2", Some("eve@example.test"), Some(true));

    // No state cookie (a login CSRF: someone else's callback URL opened in our browser).
    let (to_provider, _cookie) = s.start("google").await;
    let back = s.consent(&to_provider).await;
    assert_refused(&s.callback(&back, None).await, "oauth_state");

    // A state cookie from another attempt.
    let (to_provider, _) = s.start("google").await;
    let back = s.consent(&to_provider).await;
    let (_, other_cookie) = s.start("google").await;
    assert_refused(&s.callback(&back, Some(&other_cookie)).await, "oauth_state");

    // The right state but a state cookie minted for the other provider.
    let (to_provider, cookie) = s.start("google").await;
    let back = s.consent(&to_provider).await;
    let ms_back = back.replace("/signin/google/", "/signin/microsoft/");
    assert_refused(&s.callback(&ms_back, Some(&cookie)).await, "oauth_state");

    // The right state with a different PKCE verifier: the token endpoint refuses the code.
    let (to_provider, cookie) = s.start("google").await;
    let back = s.consent(&to_provider).await;
    let (head, _) = cookie.rsplit_once('.').unwrap();
    let forged = format!("{head}.{}", "A".repeat(43));
    let before = s.fake.0.lock().unwrap().token_requests;
    assert_refused(&s.callback(&back, Some(&forged)).await, "oauth_failed");
    assert_eq!(s.fake.0.lock().unwrap().token_requests, before + 1);

    // The user declines at the provider.
    let (_, cookie) = s.start("google").await;
    let state = cookie.split('.').nth(1).unwrap();
    let declined =
        format!("{PUBLIC}/api/auth/signin/google/callback?error=access_denied&state={state}");
    assert_refused(&s.callback(&declined, Some(&cookie)).await, "oauth_denied");

    // None of this created an account.
    let (_, admin, _) = s.app.signin(SUPER, PASS).await;
    let res = s
        .app
        .bearer_req(
            Method::GET,
            "/api/users?email=eve@example.test",
            &admin,
            None,
        )
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["count"], 0, "{body}");
}
db_test!(state_and_pkce, state_and_pkce_are_enforced);

async fn linking_and_refusals(db: TestDb) {
    let s = setup(&db).await;
    let (_, _, john) = s.app.signin(USER, PASS).await;

    // Microsoft does not assert a verified email: it cannot take over john's account.
    s.fake.consent_as("ms-sub-1", Some(USER), None);
    assert_refused(&s.sign_in("microsoft").await, "oauth_email_in_use");
    // Google with an unverified email claim cannot either.
    s.fake
        .consent_as("g-sub-unverified", Some(USER), Some(false));
    assert_refused(&s.sign_in("google").await, "oauth_email_in_use");
    // Google asserting the address is verified links it (letter case ignored).
    s.fake
        .consent_as("g-sub-john", Some(&USER.to_uppercase()), Some(true));
    let l = s.sign_in("google").await;
    let (status, me) = s.me(&l.jar).await;
    assert_eq!(status, 200);
    assert_eq!(me["id"], john["id"]);
    // The password still works too.
    s.app.signin(USER, PASS).await;

    // No email at all: refused with a reason.
    s.fake.consent_as("ms-sub-2", None, None);
    assert_refused(&s.sign_in("microsoft").await, "oauth_no_email");

    // A Microsoft first sign-in with a fresh address creates an unverified account.
    s.fake
        .consent_as("ms-sub-3", Some("grace@example.test"), None);
    let l = s.sign_in("microsoft").await;
    let (status, me) = s.me(&l.jar).await;
    assert_eq!(status, 200);
    assert_eq!(me["emailVerified"], false);
    let grace = me["id"].as_str().unwrap().to_string();

    // Disabled accounts are refused, and their OAuth session ends like any other.
    let (_, admin, _) = s.app.signin(SUPER, PASS).await;
    let res = s
        .app
        .bearer_req(
            Method::PUT,
            &format!("/api/users/{grace}"),
            &admin,
            Some(json!({"id": grace, "data": {"disabled": true}})),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(s.me(&l.jar).await.0, 401);
    assert_refused(&s.sign_in("microsoft").await, "account_disabled");
    // An OAuth-only account has no password that could match.
    let res = s
        .app
        .post_json(
            "/api/auth/signin/local",
            json!({"email": "grace@example.test", "password": ""}),
        )
        .await;
    assert_eq!(res.status(), 401);
}
db_test!(linking, linking_and_refusals);

/// Without client credentials the routes say so (404 JSON), and a half-configured provider
/// stops the backend at startup naming the missing variable.
#[tokio::test]
async fn unconfigured_providers() {
    let db = TestDb::sqlite().await;
    let app = spawn(&db).await;
    assert_eq!(offered(&app).await, json!({ "providers": [] }));
    for p in ["google", "microsoft"] {
        for path in [
            format!("/api/auth/signin/{p}"),
            format!("/api/auth/signin/{p}/callback?code=x&state=y"),
        ] {
            let (status, code, message) = error_of(app.run.get(&path).await).await;
            assert_eq!(status, 404, "{path}");
            assert_eq!(code, "not_configured");
            assert!(message.to_lowercase().contains(p), "{message}");
        }
    }
    drop(app);

    let data = tempfile::tempdir().unwrap();
    let out = testkit::Backend::new(BIN)
        .env("DATA_DIR", data.path().to_string_lossy())
        .env("GOOGLE_CLIENT_ID", "only-the-id")
        .arg("migrate")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", out.all());
    assert!(
        out.stderr.contains("GOOGLE_CLIENT_SECRET"),
        "{}",
        out.stderr
    );
}
