//! Sessions over real HTTP, on PostgreSQL and SQLite: signin/me/refresh/signout with a cookie
//! jar, refresh reuse detection, concurrent refresh, Bearer, signup and credential errors.

mod auth_support;

use auth_support::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{TestDb, db_test};

async fn cookie_jar_flow(db: TestDb) {
    let app = spawn(&db).await;
    let (mut jar, _token, body) = app.signin(ADMIN, PASS).await;
    assert_eq!(body["email"], ADMIN);
    assert!(body.get("passwordHash").is_none() && body.get("password_hash").is_none());
    assert!(
        jar.access.is_some() && jar.refresh.is_some(),
        "both cookies set: {jar:?}"
    );

    let me = app
        .cookie_req(Method::GET, "/api/auth/me", &jar, None)
        .await;
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["role"]["name"], "Administrator");
    assert_eq!(me["role"]["globalAccess"], false);
    let perms: Vec<&str> = me["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        perms.contains(&"READ_USERS") && perms.contains(&"DELETE_ROLES"),
        "{perms:?}"
    );
    for key in [
        "id",
        "firstName",
        "lastName",
        "phoneNumber",
        "emailVerified",
    ] {
        assert!(me.get(key).is_some(), "/me lacks {key}: {me}");
    }

    // Refresh rotates: the new refresh cookie differs.
    let old = jar.clone();
    let res = app.refresh(&mut jar).await;
    assert_eq!(res.status(), 200);
    let refreshed: Value = res.json().await.unwrap();
    assert_eq!(refreshed["email"], ADMIN);
    assert_ne!(jar.refresh, old.refresh);
    assert_eq!(app.me_status(&jar).await, 200);

    // Replaying the old refresh token fails and kills the family: the new one fails too.
    let mut replay = old.clone();
    assert_eq!(app.refresh(&mut replay).await.status(), 401);
    let mut current = jar.clone();
    assert_eq!(app.refresh(&mut current).await.status(), 401);
    assert!(
        app.run.log_contains("refresh token reuse detected").await,
        "reuse is logged"
    );
    assert!(
        !app.run.logs().contains(old.refresh.as_deref().unwrap()),
        "the token is never logged"
    );

    // A fresh signin, then signout: 204, cookies cleared, me 401, refresh dead.
    let (mut jar, _, _) = app.signin(ADMIN, PASS).await;
    let kept = jar.clone();
    let res = app
        .cookie_req(Method::POST, "/api/auth/signout", &jar, None)
        .await;
    assert_eq!(res.status(), 204);
    jar.absorb(&res);
    assert_eq!(jar, Jar::default(), "both cookies cleared");
    assert_eq!(app.me_status(&jar).await, 401);
    let mut stale = kept;
    assert_eq!(
        app.refresh(&mut stale).await.status(),
        401,
        "signed-out family is revoked"
    );
}
db_test!(cookie_jar, cookie_jar_flow);

async fn concurrent_refresh_one_wins(db: TestDb) {
    let app = spawn(&db).await;
    for _round in 0..3 {
        let (jar, _, _) = app.signin(USER, PASS).await;
        let (mut a, mut b) = (jar.clone(), jar.clone());
        let (ra, rb) = tokio::join!(app.refresh(&mut a), app.refresh(&mut b));
        let mut codes = [ra.status().as_u16(), rb.status().as_u16()];
        codes.sort();
        assert_eq!(
            codes,
            [200, 401],
            "exactly one of two concurrent refreshes wins"
        );
    }
}
db_test!(concurrent_refresh, concurrent_refresh_one_wins);

async fn bearer_and_credentials(db: TestDb) {
    let app = spawn(&db).await;
    let (_, token, _) = app.signin(USER, PASS).await;
    let res = app
        .bearer_req(Method::GET, "/api/auth/me", &token, None)
        .await;
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["role"]["name"], "User");

    assert_eq!(app.run.get("/api/auth/me").await.status(), 401);
    let res = app
        .bearer_req(Method::GET, "/api/auth/me", "not-a-jwt", None)
        .await;
    assert_eq!(res.status(), 401);

    // Unknown email and wrong password: same status, same message.
    let wrong = app
        .post_json(
            "/api/auth/signin/local",
            json!({"email": USER, "password": "wrong-password"}),
        )
        .await;
    let unknown = app
        .post_json(
            "/api/auth/signin/local",
            json!({"email": "nobody@runway.local", "password": "wrong-password"}),
        )
        .await;
    let (s1, _, m1) = error_of(wrong).await;
    let (s2, _, m2) = error_of(unknown).await;
    assert_eq!(
        (s1, s2),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(m1, "Sorry, we don't recognize your credentials");
    assert_eq!(m1, m2);

    // Email is case-insensitive at signin.
    app.signin(&USER.to_uppercase(), PASS).await;

    // Bad shapes are 4xx, never 5xx.
    for body in [
        json!({}),
        json!({"email": 1, "password": []}),
        json!({"email": "a@b.co", "password": "x", "extra": 1}),
    ] {
        let res = app.post_json("/api/auth/signin/local", body.clone()).await;
        assert_eq!(res.status(), 422, "{body}");
    }
    let huge = "x".repeat(100_000);
    let res = app
        .post_json(
            "/api/auth/signin/local",
            json!({"email": huge, "password": huge}),
        )
        .await;
    assert_eq!(res.status(), 401);
}
db_test!(bearer_credentials, bearer_and_credentials);

async fn signup_rules(db: TestDb) {
    let app = spawn(&db).await;
    let res = app
        .post_json("/api/auth/signup", json!({"email": "New.Person@Example.com", "password": "long-enough-1", "firstName": "New"}))
        .await;
    assert_eq!(res.status(), 200);
    let mut jar = Jar::default();
    jar.absorb(&res);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["role"]["name"], "User");
    assert_eq!(body["firstName"], "New");
    assert!(body["token"].is_string());
    assert_eq!(app.me_status(&jar).await, 200, "signed in after signup");

    let dup = app
        .post_json(
            "/api/auth/signup",
            json!({"email": "new.person@EXAMPLE.com", "password": "long-enough-2"}),
        )
        .await;
    assert_eq!(dup.status(), 409);

    let (s, _, m) = error_of(
        app.post_json(
            "/api/auth/signup",
            json!({"email": "not-an-email", "password": "long-enough"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 422);
    assert!(m.contains("email"), "{m}");
    let (s, _, m) = error_of(
        app.post_json(
            "/api/auth/signup",
            json!({"email": "ok@example.com", "password": "short"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 422);
    assert!(m.contains("password"), "{m}");
    let (s, _, m) = error_of(
        app.post_json(
            "/api/auth/signup",
            json!({"email": "ok@example.com", "password": "long-enough", "role": "admin"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 422);
    assert!(m.contains("role"), "unknown field named: {m}");

    app.signin("NEW.PERSON@example.com", "long-enough-1").await;
}
db_test!(signup, signup_rules);
