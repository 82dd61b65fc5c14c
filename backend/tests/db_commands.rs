//! `migrate`, `seed`, `reset`, `cleanup-tokens` against the real binary, on PostgreSQL and
//! SQLite, checked by reading the rows back.

use backend::entities::{permissions, refresh_tokens, role_permissions, roles, users};
use chrono::{Duration, Utc};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, PaginatorTrait, Set};
use testkit::{Backend, TestDb, db_test};
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_backend");

async fn run(db: &TestDb, args: &[&str]) -> testkit::Output {
    let out = Backend::on(BIN, db)
        .args(args.iter().copied())
        .output()
        .await
        .expect("backend runs");
    assert!(
        !out.stderr.contains("panicked"),
        "{args:?} panicked: {}",
        out.stderr
    );
    out
}

async fn ok(db: &TestDb, args: &[&str]) -> String {
    let out = run(db, args).await;
    assert!(out.status.success(), "{args:?} failed: {}", out.all());
    out.stdout
}

#[derive(Debug, PartialEq, Eq)]
struct Counts {
    roles: u64,
    permissions: u64,
    grants: u64,
    users: u64,
}

async fn counts(conn: &DatabaseConnection) -> Counts {
    Counts {
        roles: roles::Entity::find().count(conn).await.expect("count"),
        permissions: permissions::Entity::find()
            .count(conn)
            .await
            .expect("count"),
        grants: role_permissions::Entity::find()
            .count(conn)
            .await
            .expect("count"),
        users: users::Entity::find().count(conn).await.expect("count"),
    }
}

const SEEDED: Counts = Counts {
    roles: 3,
    permissions: 13,
    grants: 27,
    users: 4,
};

async fn migrate_twice_changes_nothing(db: TestDb) {
    let first = ok(&db, &["migrate"]).await;
    assert!(first.contains("Applied 2 migration(s)"), "{first}");
    let second = ok(&db, &["migrate"]).await;
    assert!(second.contains("Nothing to migrate"), "{second}");
    let conn = db.connect().await;
    assert_eq!(users::Entity::find().count(&conn).await.expect("count"), 0);
}
db_test!(migrate_twice, migrate_twice_changes_nothing);

async fn seed_twice_no_duplicates(db: TestDb) {
    ok(&db, &["migrate"]).await;
    let first = ok(&db, &["seed"]).await;
    assert!(first.contains("created 3 role(s)"), "{first}");
    let conn = db.connect().await;
    assert_eq!(counts(&conn).await, SEEDED);
    let second = ok(&db, &["seed"]).await;
    assert!(second.contains("nothing to do"), "{second}");
    assert_eq!(counts(&conn).await, SEEDED);

    // The seeded password is ADMIN_PASS, hashed with argon2id.
    let admin = users::Entity::find()
        .all(&conn)
        .await
        .expect("users")
        .into_iter()
        .find(|u| u.email == backend::seed::seed_email("admin"))
        .expect("admin seeded");
    let hash = admin.password_hash.expect("has a password");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(
        backend::password::verify(testkit::TEST_ADMIN_PASS.to_owned().into(), hash)
            .await
            .expect("verify")
    );
}
db_test!(seed_twice, seed_twice_no_duplicates);

async fn reset_asks_first(db: TestDb) {
    ok(&db, &["migrate"]).await;
    ok(&db, &["seed"]).await;
    let conn = db.connect().await;
    let now = Utc::now();
    roles::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set("Extra".to_owned()),
        global_access: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&conn)
    .await
    .expect("insert extra role");
    let before = counts(&conn).await;

    // No --yes and no terminal: refuses, deletes nothing.
    let out = run(&db, &["reset"]).await;
    assert!(!out.status.success());
    assert!(out.stderr.contains("DELETE ALL DATA"), "{}", out.stderr);
    assert!(out.stderr.contains("--yes"), "{}", out.stderr);
    assert_eq!(counts(&conn).await, before);

    // --yes: exactly the seeded rows remain.
    let out = ok(&db, &["reset", "--yes"]).await;
    assert!(out.contains("Dropped every table"), "{out}");
    drop(conn);
    let conn = db.connect().await;
    assert_eq!(counts(&conn).await, SEEDED);
}
db_test!(reset, reset_asks_first);

async fn cleanup_respects_retention(db: TestDb) {
    ok(&db, &["migrate"]).await;
    ok(&db, &["seed"]).await;
    let conn = db.connect().await;
    let user = users::Entity::find()
        .one(&conn)
        .await
        .expect("query")
        .expect("a seeded user");
    let now = Utc::now();
    let mut ids = Vec::new();
    // (label, expires relative to now)
    let cases = [
        ("valid", Duration::days(1)),
        ("recently expired", -Duration::days(1)),
        ("just inside retention", -Duration::days(6)),
        ("past retention", -Duration::days(8)),
        ("long past retention", -Duration::days(30)),
    ];
    for (label, offset) in cases {
        let id = Uuid::new_v4();
        refresh_tokens::ActiveModel {
            id: Set(id),
            family_id: Set(Uuid::new_v4()),
            parent_id: Set(None),
            user_id: Set(user.id),
            token_hash: Set(format!("hash-{id}")),
            issued_at: Set(now + offset - Duration::days(1)),
            expires_at: Set(now + offset),
            used_at: Set(None),
            revoked_at: Set(None),
            revoked_reason: Set(None),
        }
        .insert(&conn)
        .await
        .unwrap_or_else(|e| panic!("insert {label}: {e}"));
        ids.push((label, id));
    }

    let out = ok(&db, &["cleanup-tokens"]).await;
    assert!(out.contains("Removed 2 refresh token(s)"), "{out}");
    let left: Vec<Uuid> = refresh_tokens::Entity::find()
        .all(&conn)
        .await
        .expect("query")
        .into_iter()
        .map(|t| t.id)
        .collect();
    for (label, id) in &ids {
        let should_stay = !label.contains("past retention");
        assert_eq!(left.contains(id), should_stay, "{label}");
    }

    let again = ok(&db, &["cleanup-tokens"]).await;
    assert!(again.contains("Removed 0 refresh token(s)"), "{again}");
    assert_eq!(
        refresh_tokens::Entity::find()
            .count(&conn)
            .await
            .expect("count"),
        3
    );

    // A shorter retention window reaches the recently expired ones, never the valid one.
    let out = Backend::on(BIN, &db)
        .env("AUTH_REFRESH_TOKEN_RETENTION_MS", "3600000")
        .arg("cleanup-tokens")
        .output()
        .await
        .expect("runs");
    assert!(
        out.stdout.contains("Removed 2 refresh token(s)"),
        "{}",
        out.all()
    );
    let left = refresh_tokens::Entity::find()
        .all(&conn)
        .await
        .expect("query");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, ids[0].1);
}
db_test!(cleanup_tokens, cleanup_respects_retention);

async fn seed_password_rules(db: TestDb) {
    ok(&db, &["migrate"]).await;
    // Outside development, no ADMIN_PASS means no users (roles and permissions still seeded).
    let out = Backend::on(BIN, &db)
        .env_remove("ADMIN_PASS")
        .arg("seed")
        .output()
        .await
        .expect("runs");
    assert!(out.status.success(), "{}", out.all());
    assert!(
        out.stdout.contains("ADMIN_PASS is not set"),
        "{}",
        out.stdout
    );
    let conn = db.connect().await;
    assert_eq!(users::Entity::find().count(&conn).await.expect("count"), 0);
    assert_eq!(roles::Entity::find().count(&conn).await.expect("count"), 3);

    // Development: the default password, printed once (when the users are created).
    let dev = || {
        Backend::on(BIN, &db)
            .env("NODE_ENV", "development")
            .env_remove("ADMIN_PASS")
            .arg("seed")
    };
    let first = dev().output().await.expect("runs");
    assert!(first.status.success(), "{}", first.all());
    assert!(
        first.all().contains(backend::seed::DEV_ADMIN_PASS),
        "{}",
        first.all()
    );
    let second = dev().output().await.expect("runs");
    assert!(second.status.success(), "{}", second.all());
    assert!(
        !second.all().contains(backend::seed::DEV_ADMIN_PASS),
        "{}",
        second.all()
    );
    assert_eq!(users::Entity::find().count(&conn).await.expect("count"), 4);
}
db_test!(seed_password, seed_password_rules);

/// At a terminal, `reset` asks; only `yes` proceeds. `script` gives the child a real pty.
#[tokio::test]
async fn reset_prompt_at_a_terminal() {
    let db = TestDb::sqlite().await;
    ok(&db, &["migrate"]).await;
    ok(&db, &["seed"]).await;
    let conn = db.connect().await;
    let now = Utc::now();
    roles::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set("Extra".to_owned()),
        global_access: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&conn)
    .await
    .expect("insert");

    let at_tty = |answer: &str| {
        let mut cmd = std::process::Command::new("script");
        cmd.args(["-qec", &format!("{BIN} reset"), "/dev/null"])
            .env("NODE_ENV", "test")
            .env("BACKEND_ENV_FILE", "/dev/null")
            .env("ADMIN_PASS", testkit::TEST_ADMIN_PASS)
            .env("DATABASE_URL", &db.url)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("script(1) from util-linux is needed");
        use std::io::Write;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = writeln!(stdin, "{answer}");
        }
        child.wait_with_output().expect("waits")
    };
    let out = at_tty("no");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("Type `yes` to continue"), "{text}");
    assert_eq!(roles::Entity::find().count(&conn).await.expect("count"), 4);

    let out = at_tty("yes");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    drop(conn);
    let conn = db.connect().await;
    assert_eq!(counts(&conn).await, SEEDED);
}
