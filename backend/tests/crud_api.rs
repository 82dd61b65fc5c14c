//! The generic CRUD API over real HTTP, on PostgreSQL and SQLite: permissions (401/403 per verb,
//! self-access), every list parameter, CSV export, soft delete, deleteByIds, bad input.

mod auth_support;

use auth_support::*;
use reqwest::Method;
use serde_json::{Value, json};
use testkit::{TestDb, db_test};

async fn get_json(app: &App, token: &str, path: &str) -> (u16, Value) {
    let res = app.bearer_req(Method::GET, path, token, None).await;
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn send(app: &App, token: &str, method: Method, path: &str, body: Value) -> (u16, Value) {
    let res = app.bearer_req(method, path, token, Some(body)).await;
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn permissions_per_verb(db: TestDb) {
    let app = spawn(&db).await;
    let (_, admin, _) = app.signin(ADMIN, PASS).await;
    let (_, user, me) = app.signin(USER, PASS).await;
    let my_id = me["id"].as_str().unwrap().to_string();
    let (_, rows) = get_json(&app, &admin, "/api/users?limit=100").await;
    let other_id = rows["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["email"] == USER2)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    for base in ["/api/users", "/api/roles", "/api/permissions"] {
        let id = if base == "/api/users" {
            other_id.clone()
        } else {
            uuid::Uuid::new_v4().to_string()
        };
        let data = if base == "/api/users" {
            json!({"email": "x@y.zz"})
        } else {
            json!({"name": "x"})
        };
        let cases: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, base.to_string(), None),
            (Method::GET, format!("{base}/count"), None),
            (Method::GET, format!("{base}/autocomplete"), None),
            (Method::GET, format!("{base}/{id}"), None),
            (Method::POST, base.to_string(), Some(json!({"data": data}))),
            (
                Method::PUT,
                format!("{base}/{id}"),
                Some(json!({"id": id, "data": {}})),
            ),
            (Method::DELETE, format!("{base}/{id}"), None),
            (
                Method::POST,
                format!("{base}/deleteByIds"),
                Some(json!({"data": [id]})),
            ),
        ];
        for (method, path, body) in cases {
            let mut req = app.run.http.request(method.clone(), app.url(&path));
            if let Some(b) = &body {
                req = req.json(b);
            }
            let anon = req.send().await.unwrap().status();
            assert_eq!(anon, 401, "{method} {path} without auth");
            let res = app
                .bearer_req(method.clone(), &path, &user, body.clone())
                .await;
            assert_eq!(res.status(), 403, "{method} {path} as a User");
        }
    }

    // Self-access: a user reads and updates their own record, names only.
    let (s, mine) = get_json(&app, &user, &format!("/api/users/{my_id}")).await;
    assert_eq!(s, 200);
    assert_eq!(mine["email"], USER);
    let (s, updated) = send(
        &app,
        &user,
        Method::PUT,
        &format!("/api/users/{my_id}"),
        json!({"id": my_id, "data": {"firstName": "Johnny"}}),
    )
    .await;
    assert_eq!(s, 200, "{updated}");
    assert_eq!(updated["firstName"], "Johnny");
    let (_, roles) = get_json(&app, &admin, "/api/roles").await;
    let admin_role = roles["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Administrator")
        .unwrap()["id"]
        .clone();
    let (s, _) = send(
        &app,
        &user,
        Method::PUT,
        &format!("/api/users/{my_id}"),
        json!({"data": {"app_role": admin_role}}),
    )
    .await;
    assert_eq!(s, 403, "no self-promotion");

    // The administrator passes; a non-global admin cannot touch the super admin.
    let (s, _) = get_json(&app, &admin, "/api/users").await;
    assert_eq!(s, 200);
    let (_, list) = get_json(&app, &admin, "/api/users?email=super_admin").await;
    let super_id = list["rows"][0]["id"].as_str().unwrap().to_string();
    let (s, _) = send(
        &app,
        &admin,
        Method::PUT,
        &format!("/api/users/{super_id}"),
        json!({"data": {"disabled": true}}),
    )
    .await;
    assert_eq!(s, 403);

    // Custom permissions: granting READ_USERS to john lets him list users.
    let (_, perms) = get_json(&app, &admin, "/api/permissions?name=READ_USERS").await;
    let read_users = perms["rows"][0]["id"].clone();
    let (s, _) = send(
        &app,
        &admin,
        Method::PUT,
        &format!("/api/users/{my_id}"),
        json!({"data": {"custom_permissions": [read_users]}}),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = get_json(&app, &user, "/api/users").await;
    assert_eq!(s, 200, "custom permission applies at once");
    let (_, detail) = get_json(&app, &admin, &format!("/api/users/{my_id}")).await;
    assert_eq!(detail["custom_permissions"][0]["name"], "READ_USERS");

    // A list page is written straight from the rows (not through per-row JSON objects): its
    // rows must be exactly the single-row reads (less the detail-only custom_permissions),
    // role objects, nulls and timestamps included, and it must be served as JSON.
    let res = app
        .bearer_req(Method::GET, "/api/users?limit=100", &admin, None)
        .await;
    assert_eq!(
        res.headers()["content-type"],
        "application/json",
        "list pages are JSON"
    );
    let page: Value = res.json().await.unwrap();
    let rows = page["rows"].as_array().unwrap();
    assert_eq!(page["count"].as_u64(), Some(rows.len() as u64));
    assert!(rows.iter().any(|r| r["phoneNumber"].is_null()));
    for row in rows {
        let id = row["id"].as_str().unwrap();
        let (s, mut one) = get_json(&app, &admin, &format!("/api/users/{id}")).await;
        assert_eq!(s, 200);
        one.as_object_mut().unwrap().remove("custom_permissions");
        assert_eq!(row, &one);
        assert!(row["app_role"]["name"].is_string(), "{row}");
    }
    let (_, roles) = get_json(&app, &admin, "/api/roles?limit=100").await;
    for row in roles["rows"].as_array().unwrap() {
        let id = row["id"].as_str().unwrap();
        let (_, one) = get_json(&app, &admin, &format!("/api/roles/{id}")).await;
        assert_eq!(row, &one);
        assert!(row["permissions"].is_array(), "{row}");
    }
}
db_test!(permissions, permissions_per_verb);

async fn list_parameters(db: TestDb) {
    let app = spawn(&db).await;
    let (_, t, _) = app.signin(SUPER, PASS).await;
    for i in 0..21 {
        let (s, row) = send(&app, &t, Method::POST, "/api/users", json!({"data": {
            "email": format!("person{i:02}@example.com"), "firstName": format!("Person{i:02}"),
            "lastName": if i % 2 == 0 { "Even" } else { "Odd" }, "disabled": i % 5 == 0, "password": "password-123"
        }})).await;
        assert_eq!(s, 200, "{row}");
        assert!(
            row.get("password").is_none()
                && row.get("passwordHash").is_none()
                && row.get("password_hash").is_none()
        );
    }
    let total = 25; // 4 seeded + 21

    let (s, page) = get_json(&app, &t, "/api/users").await;
    assert_eq!(s, 200);
    assert_eq!(page["count"], total);
    assert_eq!(
        page["rows"].as_array().unwrap().len(),
        10,
        "default limit 10"
    );
    let (_, p2) = get_json(&app, &t, "/api/users?limit=10&page=2").await;
    assert_eq!(p2["rows"].as_array().unwrap().len(), 5, "last partial page");
    let (_, p9) = get_json(&app, &t, "/api/users?limit=10&page=9").await;
    assert_eq!(
        (p9["rows"].as_array().unwrap().len(), p9["count"].as_u64()),
        (0, Some(total))
    );
    let (_, big) = get_json(&app, &t, "/api/users?limit=1000").await;
    assert_eq!(
        big["rows"].as_array().unwrap().len(),
        25,
        "capped at 100, all 25 fit"
    );
    // Pages don't overlap and cover everything.
    let mut seen = std::collections::HashSet::new();
    for p in 0..3 {
        let (_, page) = get_json(
            &app,
            &t,
            &format!("/api/users?limit=10&page={p}&field=lastName&sort=asc"),
        )
        .await;
        for r in page["rows"].as_array().unwrap() {
            assert!(
                seen.insert(r["id"].as_str().unwrap().to_string()),
                "row repeated across pages"
            );
        }
    }
    assert_eq!(seen.len(), 25);

    for bad in [
        "limit=0",
        "limit=-3",
        "page=-1",
        "field=password_hash",
        "field=nope",
        "sort=up",
        "disabled=maybe",
        "app_role=not-a-uuid",
        "createdAtRange=[yesterday,]",
        "emailRange=[a,b]",
        "unknownParam=1",
        "filetype=xls",
    ] {
        let (s, body) = get_json(&app, &t, &format!("/api/users?{bad}")).await;
        assert_eq!(s, 400, "{bad}: {body}");
        assert!(body["error"]["message"].is_string());
    }

    let (_, sorted) = get_json(&app, &t, "/api/users?field=email&sort=asc&limit=100").await;
    let emails: Vec<String> = sorted["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["email"].as_str().unwrap().to_string())
        .collect();
    let mut expected = emails.clone();
    expected.sort();
    assert_eq!(emails, expected);
    let (_, desc) = get_json(&app, &t, "/api/users?field=email&sort=desc&limit=1").await;
    assert_eq!(desc["rows"][0]["email"], *expected.last().unwrap());

    // Filters: case-insensitive substring, booleans, relation id, count agrees.
    let (_, f) = get_json(&app, &t, "/api/users?firstName=PERSON1&limit=100").await;
    assert_eq!(f["count"], 10, "Person10..Person19");
    let (_, f) = get_json(&app, &t, "/api/users?lastName=odd&disabled=false&limit=100").await;
    let n = f["rows"].as_array().unwrap().len();
    assert_eq!(f["count"], n);
    assert!(
        f["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["lastName"] == "Odd" && r["disabled"] == false)
    );
    let (_, c) = get_json(&app, &t, "/api/users/count?lastName=odd&disabled=false").await;
    assert_eq!(c["count"], n);
    let (_, lit) = get_json(&app, &t, "/api/users?email=%25").await;
    assert_eq!(lit["count"], 0, "% is literal, not a wildcard");
    let (_, roles) = get_json(&app, &t, "/api/roles?name=user").await;
    let user_role = roles["rows"][0]["id"].as_str().unwrap().to_string();
    let (_, by_role) = get_json(
        &app,
        &t,
        &format!("/api/users?app_role={user_role}&limit=100"),
    )
    .await;
    assert_eq!(by_role["count"], 23, "21 created + john + client");
    assert_eq!(by_role["rows"][0]["app_role"]["name"], "User");

    // Ranges on dates.
    let today = chrono::Utc::now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    let (_, r) = get_json(
        &app,
        &t,
        &format!("/api/users?createdAtRange=[{today},{today}]"),
    )
    .await;
    assert_eq!(
        r["count"], total,
        "date-only end is inclusive of the whole day"
    );
    let (_, r) = get_json(
        &app,
        &t,
        &format!("/api/users?createdAtRange[]={tomorrow}&createdAtRange[]="),
    )
    .await;
    assert_eq!(r["count"], 0);
    let (_, r) = get_json(&app, &t, &format!("/api/users?createdAtRange=,{today}")).await;
    assert_eq!(r["count"], total);

    // Autocomplete.
    let (s, a) = get_json(&app, &t, "/api/users/autocomplete?query=PERSON0&limit=3").await;
    assert_eq!(s, 200);
    let items = a.as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(items[0]["label"].as_str().unwrap().starts_with("person0"));
    assert!(items[0]["id"].is_string());
}
db_test!(list_params, list_parameters);

async fn csv_export(db: TestDb) {
    let app = spawn(&db).await;
    let (_, t, _) = app.signin(ADMIN, PASS).await;
    let (s, _) = send(&app, &t, Method::POST, "/api/users", json!({"data": {
        "email": "csv@example.com", "firstName": "=HYPERLINK(\"http://evil\")", "lastName": "Smith, \"Jr\"", "phoneNumber": "+123"
    }})).await;
    assert_eq!(s, 200);
    let res = app
        .bearer_req(Method::GET, "/api/users?filetype=csv&email=csv@", &t, None)
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let text = res.text().await.unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 2, "header + one row: {text}");
    assert!(
        lines[0].starts_with("id,email,firstName,lastName,phoneNumber"),
        "{}",
        lines[0]
    );
    assert!(!lines[0].contains("password"));
    assert!(
        lines[1].contains(r#""'=HYPERLINK(""http://evil"")""#),
        "formula defused and quoted: {}",
        lines[1]
    );
    assert!(
        lines[1].contains(r#""Smith, ""Jr""""#),
        "comma and quotes quoted: {}",
        lines[1]
    );
    assert!(
        lines[1].contains("'+123"),
        "leading + defused: {}",
        lines[1]
    );
    assert!(
        lines[1].contains(",User,"),
        "role shown by name: {}",
        lines[1]
    );

    // Unpaginated: every row, beyond the default page size.
    let res = app
        .bearer_req(Method::GET, "/api/permissions?filetype=csv", &t, None)
        .await;
    let text = res.text().await.unwrap();
    assert_eq!(text.split("\r\n").filter(|l| !l.is_empty()).count(), 1 + 13);
}
db_test!(csv, csv_export);

async fn soft_delete_and_bad_input(db: TestDb) {
    let app = spawn(&db).await;
    let (_, t, _) = app.signin(ADMIN, PASS).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let (_, row) = send(
            &app,
            &t,
            Method::POST,
            "/api/users",
            json!({"data": {"email": format!("gone{i}@example.com"), "password": "password-123"}}),
        )
        .await;
        ids.push(row["id"].as_str().unwrap().to_string());
    }
    let (_, before) = get_json(&app, &t, "/api/users/count").await;
    let before = before["count"].as_u64().unwrap();
    let (_, victim_token, _) = app.signin("gone0@example.com", "password-123").await;

    let res = app
        .bearer_req(Method::DELETE, &format!("/api/users/{}", ids[0]), &t, None)
        .await;
    assert_eq!(res.status(), 200);
    let (s, _) = get_json(&app, &t, &format!("/api/users/{}", ids[0])).await;
    assert_eq!(s, 404, "soft-deleted is gone from reads");
    let res = app
        .bearer_req(Method::DELETE, &format!("/api/users/{}", ids[0]), &t, None)
        .await;
    assert_eq!(res.status(), 404, "second delete: not found");
    let (s, _) = get_json(&app, &victim_token, "/api/auth/me").await;
    assert_eq!(s, 401, "a deleted user's session ends");
    let res = app
        .post_json(
            "/api/auth/signin/local",
            json!({"email": "gone0@example.com", "password": "password-123"}),
        )
        .await;
    assert_eq!(res.status(), 401);

    let (s, _) = send(
        &app,
        &t,
        Method::POST,
        "/api/users/deleteByIds",
        json!({"data": [ids[1], ids[2], uuid::Uuid::new_v4()]}),
    )
    .await;
    assert_eq!(s, 200);
    let (_, after) = get_json(&app, &t, "/api/users/count").await;
    assert_eq!(after["count"].as_u64().unwrap(), before - 3);
    // The row still exists in the database (soft delete).
    use sea_orm::{ConnectionTrait, Statement};
    let conn = db.connect().await;
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT count(*) AS n FROM users WHERE deleted_at IS NOT NULL",
        ))
        .await
        .unwrap()
        .unwrap();
    let n: i64 = row.try_get("", "n").unwrap();
    assert_eq!(n, 3);

    // Roles and permissions are hard-deleted.
    let (s, perm) = send(
        &app,
        &t,
        Method::POST,
        "/api/permissions",
        json!({"data": {"name": "READ_WIDGETS"}}),
    )
    .await;
    assert_eq!(s, 200);
    let pid = perm["id"].as_str().unwrap();
    let (s, _) = send(
        &app,
        &t,
        Method::POST,
        "/api/permissions",
        json!({"data": {"name": "READ_WIDGETS"}}),
    )
    .await;
    assert_eq!(s, 409, "duplicate name");
    let (s, role) = send(
        &app,
        &t,
        Method::POST,
        "/api/roles",
        json!({"data": {"name": "Widget Reader", "permissions": [pid]}}),
    )
    .await;
    assert_eq!(s, 200, "{role}");
    assert_eq!(role["permissions"][0]["name"], "READ_WIDGETS");
    let (s, _) = send(
        &app,
        &t,
        Method::POST,
        "/api/roles",
        json!({"data": {"name": "Root", "globalAccess": true}}),
    )
    .await;
    assert_eq!(s, 403, "a non-global admin cannot create a global role");
    let rid = role["id"].as_str().unwrap();
    let (s, upd) = send(
        &app,
        &t,
        Method::PUT,
        &format!("/api/roles/{rid}"),
        json!({"id": rid, "data": {"name": "Widget Viewer", "permissions": []}}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(upd["name"], "Widget Viewer");
    assert_eq!(upd["permissions"], json!([]));
    assert_eq!(
        app.bearer_req(Method::DELETE, &format!("/api/permissions/{pid}"), &t, None)
            .await
            .status(),
        200
    );
    let (s, _) = get_json(&app, &t, &format!("/api/permissions/{pid}")).await;
    assert_eq!(s, 404);

    // Bad input: 4xx with the error shape, never 5xx.
    let (s, b) = get_json(&app, &t, "/api/users/not-a-uuid").await;
    assert_eq!(s, 400, "{b}");
    let (s, b) = send(
        &app,
        &t,
        Method::POST,
        "/api/users",
        json!({"data": {"email": "x@example.com", "isAdmin": true}}),
    )
    .await;
    assert_eq!(s, 422);
    assert!(
        b["error"]["message"].as_str().unwrap().contains("isAdmin"),
        "{b}"
    );
    let (s, _) = send(
        &app,
        &t,
        Method::POST,
        "/api/users",
        json!({"data": {"email": "not-an-email"}}),
    )
    .await;
    assert_eq!(s, 422);
    let (s, _) = send(
        &app,
        &t,
        Method::POST,
        "/api/users",
        json!({"data": {"email": "y@example.com", "firstName": "x".repeat(100_000)}}),
    )
    .await;
    assert_eq!(s, 422);
    let (s, _) = send(
        &app,
        &t,
        Method::POST,
        "/api/users",
        json!({"data": {"email": "z@example.com", "app_role": uuid::Uuid::new_v4()}}),
    )
    .await;
    assert_eq!(s, 422, "unknown role");
    let (s, _) = send(
        &app,
        &t,
        Method::POST,
        "/api/users",
        json!({"data": {"email": "w@example.com", "custom_permissions": ["nope"]}}),
    )
    .await;
    assert_eq!(s, 422);
    let (s, _) = send(
        &app,
        &t,
        Method::POST,
        "/api/users",
        json!({"data": {"email": ADMIN.to_uppercase()}}),
    )
    .await;
    assert_eq!(s, 409, "email unique in any case");
    let some = uuid::Uuid::new_v4();
    let (s, _) = send(
        &app,
        &t,
        Method::PUT,
        &format!("/api/users/{some}"),
        json!({"id": some, "data": {}}),
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = send(
        &app,
        &t,
        Method::PUT,
        &format!("/api/users/{}", ids[1]),
        json!({"id": some, "data": {}}),
    )
    .await;
    assert!(s == 404 || s == 422);
    let (s, _) = send(
        &app,
        &t,
        Method::POST,
        "/api/users/deleteByIds",
        json!({"data": ["x"]}),
    )
    .await;
    assert_eq!(s, 422);
}
db_test!(soft_delete, soft_delete_and_bad_input);

/// An administrator cannot lock themselves out through the CRUD API: deleting, disabling or
/// re-roling their own account, setting their own password there, deleting the role they hold or
/// flipping its global access all answer 403, and their session keeps working afterwards.
async fn no_self_lockout(db: TestDb) {
    let app = spawn(&db).await;
    let (jar, token, me) = app.signin(SUPER, PASS).await;
    let my_id = me["id"].as_str().unwrap().to_string();
    let my_role = me["role"]["id"].as_str().unwrap().to_string();
    let (_, roles) = get_json(&app, &token, "/api/roles?limit=100").await;
    let other_role = roles["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "User")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let refused: Vec<(Method, String, Value)> = vec![
        (Method::DELETE, format!("/api/users/{my_id}"), Value::Null),
        (
            Method::POST,
            "/api/users/deleteByIds".into(),
            json!({"data": [my_id]}),
        ),
        (
            Method::PUT,
            format!("/api/users/{my_id}"),
            json!({"id": my_id, "data": {"disabled": true}}),
        ),
        (
            Method::PUT,
            format!("/api/users/{my_id}"),
            json!({"id": my_id, "data": {"app_role": other_role}}),
        ),
        (
            Method::PUT,
            format!("/api/users/{my_id}"),
            json!({"id": my_id, "data": {"password": "another-password-1"}}),
        ),
        (Method::DELETE, format!("/api/roles/{my_role}"), Value::Null),
        (
            Method::PUT,
            format!("/api/roles/{my_role}"),
            json!({"id": my_role, "data": {"globalAccess": false}}),
        ),
    ];
    for (method, path, body) in refused {
        let res = app
            .bearer_req(
                method.clone(),
                &path,
                &token,
                (!body.is_null()).then_some(body.clone()),
            )
            .await;
        let (status, code, message) = error_of(res).await;
        assert_eq!(status, 403, "{method} {path} {body}: {message}");
        assert_eq!(code, "forbidden");
        assert!(message.starts_with("You cannot"), "{message}");
    }

    // Still signed in, still the same role with global access; the old password still works.
    assert_eq!(app.me_status(&jar).await, 200);
    let (_, me) = get_json(&app, &token, "/api/auth/me").await;
    assert_eq!(me["role"]["id"], my_role.as_str());
    assert_eq!(me["role"]["globalAccess"], true);
    app.signin(SUPER, PASS).await;

    // Renaming yourself, or keeping your own role, is still allowed.
    let (status, body) = send(
        &app,
        &token,
        Method::PUT,
        &format!("/api/users/{my_id}"),
        json!({"id": my_id, "data": {"firstName": "Renamed", "app_role": my_role}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, me) = get_json(&app, &token, "/api/auth/me").await;
    assert_eq!(me["firstName"], "Renamed");
}
db_test!(self_lockout, no_self_lockout);

/// Changing a role's permissions, or deleting a permission, takes effect on the very next
/// request of a signed-in holder of that role: the backend caches role permissions in memory
/// (auth/role_cache.rs), and every CRUD write must drop that cache.
async fn role_changes_apply_at_once(db: TestDb) {
    let app = spawn(&db).await;
    let (_, root, _) = app.signin(SUPER, PASS).await;
    let perm_id = |name: &'static str| {
        let app = &app;
        let root = root.clone();
        async move {
            let (_, p) = get_json(app, &root, &format!("/api/permissions?name={name}")).await;
            p["rows"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == name)
                .unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let read_users = perm_id("READ_USERS").await;
    let (s, role) = send(
        &app,
        &root,
        Method::POST,
        "/api/roles",
        json!({"data": {"name": "Auditor", "permissions": [read_users]}}),
    )
    .await;
    assert_eq!(s, 200, "{role}");
    let rid = role["id"].as_str().unwrap().to_string();
    let (_, john_before, me) = app.signin(USER, PASS).await;
    drop(john_before);
    let john_id = me["id"].as_str().unwrap().to_string();
    let (s, b) = send(
        &app,
        &root,
        Method::PUT,
        &format!("/api/users/{john_id}"),
        json!({"data": {"app_role": rid}}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // The role change ended john's sessions: sign in again as an Auditor.
    let (_, john, _) = app.signin(USER, PASS).await;
    let me = |t: String| {
        let app = &app;
        async move {
            let (s, me) = get_json(app, &t, "/api/auth/me").await;
            assert_eq!(s, 200, "{me}");
            me["permissions"].clone()
        }
    };
    let users = |t: String| {
        let app = &app;
        async move { get_json(app, &t, "/api/users").await.0 }
    };
    assert_eq!(me(john.clone()).await, json!(["READ_USERS"]));
    assert_eq!(users(john.clone()).await, 200);

    // Take the permission away from the role: the next request is refused.
    let (s, b) = send(
        &app,
        &root,
        Method::PUT,
        &format!("/api/roles/{rid}"),
        json!({"id": rid, "data": {"permissions": []}}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(users(john.clone()).await, 403, "role permission removed");
    assert_eq!(me(john.clone()).await, json!([]));

    // Grant it again, plus a permission made for the occasion; then delete that permission.
    let (s, widgets) = send(
        &app,
        &root,
        Method::POST,
        "/api/permissions",
        json!({"data": {"name": "READ_WIDGETS"}}),
    )
    .await;
    assert_eq!(s, 200, "{widgets}");
    let wid = widgets["id"].as_str().unwrap().to_string();
    let (s, b) = send(
        &app,
        &root,
        Method::PUT,
        &format!("/api/roles/{rid}"),
        json!({"id": rid, "data": {"permissions": [read_users, wid]}}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        users(john.clone()).await,
        200,
        "role permission granted again"
    );
    assert_eq!(
        me(john.clone()).await,
        json!(["READ_USERS", "READ_WIDGETS"])
    );
    let (s, b) = send(
        &app,
        &root,
        Method::PUT,
        &format!("/api/permissions/{wid}"),
        json!({"id": wid, "data": {"name": "READ_GADGETS"}}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        me(john.clone()).await,
        json!(["READ_GADGETS", "READ_USERS"])
    );
    assert_eq!(
        app.bearer_req(
            Method::DELETE,
            &format!("/api/permissions/{wid}"),
            &root,
            None
        )
        .await
        .status(),
        200
    );
    assert_eq!(me(john.clone()).await, json!(["READ_USERS"]));

    // Custom permissions are read with the user row on every request.
    let read_roles = perm_id("READ_ROLES").await;
    let (s, b) = send(
        &app,
        &root,
        Method::PUT,
        &format!("/api/users/{john_id}"),
        json!({"data": {"custom_permissions": [read_roles]}}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(me(john.clone()).await, json!(["READ_ROLES", "READ_USERS"]));
    assert_eq!(get_json(&app, &john, "/api/roles").await.0, 200);
}
db_test!(role_changes, role_changes_apply_at_once);
