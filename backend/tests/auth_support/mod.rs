//! Helpers shared by the auth and CRUD black-box tests: spawn the real backend (seeded, with a
//! known ADMIN_PASS), sign in, and keep cookies the way a browser's jar would.
#![allow(dead_code)]

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use testkit::{Backend, Running, TestDb};

pub const BIN: &str = env!("CARGO_BIN_EXE_backend");
pub const PASS: &str = "seed-pass-for-tests-123";
pub const SUPER: &str = "super_admin@runway.local";
pub const ADMIN: &str = "admin@runway.local";
pub const USER: &str = "john@runway.local";
pub const USER2: &str = "client@runway.local";

pub struct App {
    pub run: Running,
    /// Holds the outbox (DATA_DIR) for the app's lifetime.
    pub data_dir: tempfile::TempDir,
}

pub async fn spawn(db: &TestDb) -> App {
    spawn_with(db, &[]).await
}

pub async fn spawn_with(db: &TestDb, env: &[(&str, &str)]) -> App {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut b = Backend::on(BIN, db)
        .env("ADMIN_PASS", PASS)
        // Tests sign in often; the rate-limit test sets its own small allowance.
        .env("AUTH_RATE_LIMIT_MAX", "10000")
        .env("DATA_DIR", data_dir.path().to_string_lossy().to_string());
    for (k, v) in env {
        b = b.env(*k, *v);
    }
    let run = b.spawn().await.expect("backend starts");
    App { run, data_dir }
}

/// The two auth cookies, as a browser jar holds them for this origin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Jar {
    pub access: Option<String>,
    pub refresh: Option<String>,
}

impl Jar {
    /// Applies the response's Set-Cookie headers (Max-Age=0 deletes).
    pub fn absorb(&mut self, res: &Response) {
        for v in res.headers().get_all("set-cookie") {
            let v = v.to_str().expect("ascii cookie");
            let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (name, value) = pair.split_once('=').expect("name=value");
            let deleted = attrs.contains("Max-Age=0");
            let slot = match name {
                "access_token" => &mut self.access,
                "refresh_token" => &mut self.refresh,
                other => panic!("unexpected cookie {other}"),
            };
            *slot = (!deleted && !value.is_empty()).then(|| value.to_string());
        }
    }

    pub fn header(&self, path: &str) -> String {
        let mut parts = Vec::new();
        if let Some(a) = &self.access {
            parts.push(format!("access_token={a}"));
        }
        // The refresh cookie is scoped to /api/auth.
        if let Some(r) = &self.refresh
            && path.starts_with("/api/auth")
        {
            parts.push(format!("refresh_token={r}"));
        }
        parts.join("; ")
    }
}

impl App {
    pub fn url(&self, path: &str) -> String {
        self.run.url(path)
    }

    /// A request as the frontend sends it: cookies from `jar`, and the CSRF header.
    pub async fn cookie_req(
        &self,
        method: Method,
        path: &str,
        jar: &Jar,
        body: Option<Value>,
    ) -> Response {
        let mut req = self
            .run
            .http
            .request(method, self.url(path))
            .header("cookie", jar.header(path))
            .header("x-requested-with", "XMLHttpRequest");
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.expect("request")
    }

    pub async fn bearer_req(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Response {
        let mut req = self
            .run
            .http
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.expect("request")
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Response {
        self.run
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_json_method(&self, method: Method, path: &str, body: Value) -> Response {
        self.run
            .http
            .request(method, self.url(path))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// Signs in; returns the jar, the bearer token and the body.
    pub async fn signin(&self, email: &str, password: &str) -> (Jar, String, Value) {
        let res = self
            .post_json(
                "/api/auth/signin/local",
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "signin {email}: {}",
            res.text().await.unwrap_or_default()
        );
        let mut jar = Jar::default();
        jar.absorb(&res);
        let body: Value = res.json().await.expect("json");
        let token = body["token"].as_str().expect("token in body").to_string();
        (jar, token, body)
    }

    pub async fn refresh(&self, jar: &mut Jar) -> Response {
        let res = self
            .cookie_req(Method::POST, "/api/auth/refresh", jar, None)
            .await;
        jar.absorb(&res);
        res
    }

    pub async fn me_status(&self, jar: &Jar) -> StatusCode {
        self.cookie_req(Method::GET, "/api/auth/me", jar, None)
            .await
            .status()
    }

    /// The newest message in the development outbox.
    pub fn last_mail(&self) -> String {
        let dir = self.data_dir.path().join("outbox");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("outbox {}: {e}", dir.display()))
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        std::fs::read_to_string(files.last().expect("a message in the outbox")).expect("read mail")
    }

    pub fn mail_count(&self) -> usize {
        std::fs::read_dir(self.data_dir.path().join("outbox"))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

/// The `token=` value of the first link in a mail.
pub fn token_in(mail: &str) -> String {
    let start = mail.find("token=").expect("a link with a token") + "token=".len();
    mail[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

pub async fn error_of(res: Response) -> (StatusCode, String, String) {
    let status = res.status();
    let body: Value = res.json().await.expect("json error body");
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}
