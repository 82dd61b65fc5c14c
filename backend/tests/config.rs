//! Startup validation, black-box: the real binary, per mode, every problem at once on stderr,
//! exit code 78, no panic or backtrace.

use testkit::{Backend, Output};

const BIN: &str = env!("CARGO_BIN_EXE_backend");
const EXIT_CONFIG: i32 = 78;

async fn run(envs: &[(&str, &str)]) -> Output {
    let data = tempfile::tempdir().expect("tempdir");
    let mut b = Backend::new(BIN)
        .env("DATA_DIR", data.path().to_string_lossy())
        .arg("migrate");
    for (k, v) in envs {
        b = b.env(*k, *v);
    }
    b.output().await.expect("backend runs")
}

fn assert_refused(out: &Output) {
    assert_eq!(out.status.code(), Some(EXIT_CONFIG), "{}", out.all());
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert!(
        !out.stderr.to_lowercase().contains("backtrace"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn unknown_mode_lists_accepted_values() {
    let out = run(&[("NODE_ENV", "staging")]).await;
    assert_refused(&out);
    assert!(out.stderr.contains("NODE_ENV"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("development, test, dev_stage, production"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn production_reports_every_problem_at_once() {
    let out = run(&[("NODE_ENV", "production")]).await;
    assert_refused(&out);
    let e = &out.stderr;
    assert!(e.contains("3 problems"), "{e}");
    assert!(e.contains("SECRET_KEY is required"), "{e}");
    assert!(e.contains("Missing required database credentials"), "{e}");
    for v in ["DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASS"] {
        assert!(e.contains(v), "{v} not named: {e}");
    }
    assert!(e.contains("ALLOWED_ORIGINS must be configured"), "{e}");
}

#[tokio::test]
async fn dev_stage_needs_secret_and_database_but_not_origins() {
    let out = run(&[("NODE_ENV", "dev_stage")]).await;
    assert_refused(&out);
    assert!(
        out.stderr.contains("SECRET_KEY is required"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("Missing required database credentials"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("ALLOWED_ORIGINS"), "{}", out.stderr);
}

#[tokio::test]
async fn partial_database_credentials_name_the_missing_ones() {
    let out = run(&[
        ("NODE_ENV", "dev_stage"),
        ("SECRET_KEY", "some-secret"),
        ("DB_HOST", "127.0.0.1"),
        ("DB_USER", "app"),
    ])
    .await;
    assert_refused(&out);
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("Missing required database credentials"))
        .unwrap_or_else(|| panic!("no credentials line: {}", out.stderr));
    assert!(
        line.contains("Missing required database credentials: DB_PORT, DB_NAME, DB_PASS"),
        "{line}"
    );
    assert!(!out.stderr.contains("SECRET_KEY"), "{}", out.stderr);
}

#[tokio::test]
async fn production_refuses_a_short_secret_key() {
    let short = "short-key-3141592653";
    let out = run(&[
        ("NODE_ENV", "production"),
        ("SECRET_KEY", short),
        ("DATABASE_URL", "postgres://u:p@127.0.0.1:1/x"),
        ("ALLOWED_ORIGINS", "https://app.example.com"),
    ])
    .await;
    assert_refused(&out);
    assert!(
        out.stderr.contains("SECRET_KEY is too short"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("at least 32"), "{}", out.stderr);
    assert!(!out.all().contains(short), "secret echoed: {}", out.all());
}

#[tokio::test]
async fn bad_numbers_are_named() {
    let out = run(&[("PORT", "eighty"), ("BODY_LIMIT_BYTES", "-1")]).await;
    assert_refused(&out);
    assert!(out.stderr.contains("2 problems"), "{}", out.stderr);
    assert!(out.stderr.contains("PORT must be"), "{}", out.stderr);
    assert!(out.stderr.contains("BODY_LIMIT_BYTES"), "{}", out.stderr);
}

#[tokio::test]
async fn development_and_test_need_nothing() {
    for mode in ["development", "test"] {
        let out = run(&[("NODE_ENV", mode)]).await;
        assert!(out.status.success(), "{mode}: {}", out.all());
        assert!(out.stdout.contains("Applied"), "{mode}: {}", out.stdout);
    }
    // Unset NODE_ENV means development.
    let data = tempfile::tempdir().expect("tempdir");
    let out = Backend::new(BIN)
        .env_remove("NODE_ENV")
        .env("DATA_DIR", data.path().to_string_lossy())
        .arg("migrate")
        .output()
        .await
        .expect("runs");
    assert!(out.status.success(), "{}", out.all());
    assert!(data.path().join("development.sqlite").is_file());
}

#[tokio::test]
async fn production_with_everything_set_is_accepted() {
    let data = tempfile::tempdir().expect("tempdir");
    let db = data.path().join("prod.sqlite");
    let out = run(&[
        ("NODE_ENV", "production"),
        ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ("DATABASE_URL", &format!("sqlite://{}", db.display())),
        ("ALLOWED_ORIGINS", "https://app.example.com"),
    ])
    .await;
    assert!(out.status.success(), "{}", out.all());
}

#[tokio::test]
async fn unreachable_database_names_host_and_port() {
    let out = run(&[
        ("NODE_ENV", "dev_stage"),
        ("SECRET_KEY", "s"),
        ("DB_HOST", "127.0.0.1"),
        ("DB_PORT", "1"),
        ("DB_NAME", "app"),
        ("DB_USER", "app"),
        ("DB_PASS", "pw-not-to-be-seen-271828"),
        ("DB_CONNECT_ATTEMPTS", "2"),
    ])
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", out.all());
    assert!(out.stderr.contains("127.0.0.1:1"), "{}", out.stderr);
    assert!(
        !out.all().contains("pw-not-to-be-seen-271828"),
        "{}",
        out.all()
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

#[tokio::test]
async fn help_explains_every_command() {
    let out = Backend::new(BIN)
        .arg("--help")
        .output()
        .await
        .expect("runs");
    assert!(out.status.success());
    for cmd in [
        "serve",
        "start",
        "migrate",
        "seed",
        "reset",
        "cleanup-tokens",
    ] {
        assert!(
            out.stdout.lines().any(|l| l.trim_start().starts_with(cmd)),
            "{cmd} missing from --help:\n{}",
            out.stdout
        );
    }
}
