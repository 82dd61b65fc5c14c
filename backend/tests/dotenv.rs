//! `backend/.env` discovery, black-box: a copy of the binary in a repository-shaped tree
//! (`<root>/target/release/backend`, `<root>/backend/.env`) run from an unrelated working
//! directory still finds the file; real environment variables beat it.

use std::path::{Path, PathBuf};

use testkit::Backend;

const BIN: &str = env!("CARGO_BIN_EXE_backend");

struct Tree {
    _root: tempfile::TempDir,
    exe: PathBuf,
    env_file: PathBuf,
    elsewhere: PathBuf,
    base: PathBuf,
}

fn tree(env_contents: &str) -> Tree {
    let root = tempfile::tempdir().expect("tempdir");
    let base = root.path().to_path_buf();
    let exe_dir = base.join("target").join("release");
    std::fs::create_dir_all(&exe_dir).expect("mkdir");
    std::fs::create_dir_all(base.join("backend")).expect("mkdir");
    let elsewhere = base.join("somewhere").join("else");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    let exe = exe_dir.join("backend");
    std::fs::copy(BIN, &exe).expect("copying the binary");
    let env_file = base.join("backend").join(".env");
    std::fs::write(&env_file, env_contents).expect("writing .env");
    Tree {
        _root: root,
        exe,
        env_file,
        elsewhere,
        base,
    }
}

fn backend(t: &Tree) -> Backend {
    // Not /dev/null: this test is about finding the real file.
    Backend::new(&t.exe)
        .env_remove("BACKEND_ENV_FILE")
        .env_remove("NODE_ENV")
        .current_dir(&t.elsewhere)
}

fn data(base: &Path, name: &str) -> PathBuf {
    base.join(name)
}

#[tokio::test]
async fn found_from_another_working_directory() {
    let t = tree("");
    let dir = data(&t.base, "from-dotenv");
    std::fs::write(
        &t.env_file,
        format!("NODE_ENV=development\nDATA_DIR={}\n", dir.display()),
    )
    .expect("write");
    let out = backend(&t).arg("migrate").output().await.expect("runs");
    assert!(out.status.success(), "{}", out.all());
    assert!(
        dir.join("development.sqlite").is_file(),
        "DATA_DIR from .env not used: {}",
        out.all()
    );
    assert!(
        out.all().contains(&t.env_file.display().to_string()),
        "the loaded file is not named: {}",
        out.all()
    );
}

#[tokio::test]
async fn environment_beats_dotenv() {
    let t = tree("");
    let from_file = data(&t.base, "file");
    let from_env = data(&t.base, "env");
    // The file alone would be an invalid production config.
    std::fs::write(
        &t.env_file,
        format!("NODE_ENV=production\nDATA_DIR={}\n", from_file.display()),
    )
    .expect("write");
    let out = backend(&t)
        .env("NODE_ENV", "development")
        .env("DATA_DIR", from_env.to_string_lossy())
        .arg("migrate")
        .output()
        .await
        .expect("runs");
    assert!(out.status.success(), "{}", out.all());
    assert!(from_env.join("development.sqlite").is_file());
    assert!(!from_file.exists());

    // And without the override, the file's production mode is what is validated.
    let out = backend(&t).arg("migrate").output().await.expect("runs");
    assert_eq!(out.status.code(), Some(78), "{}", out.all());
    assert!(
        out.stderr.contains("SECRET_KEY is required in production"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn explicit_file_wins_and_a_missing_one_is_an_error() {
    let t = tree("NODE_ENV=production\n");
    let other = t.base.join("custom.env");
    let dir = data(&t.base, "custom");
    std::fs::write(
        &other,
        format!("NODE_ENV=test\nDATA_DIR={}\n", dir.display()),
    )
    .expect("write");
    let out = backend(&t)
        .env("BACKEND_ENV_FILE", other.to_string_lossy())
        .arg("migrate")
        .output()
        .await
        .expect("runs");
    assert!(out.status.success(), "{}", out.all());
    assert!(dir.join("test.sqlite").is_file());

    let out = backend(&t)
        .env(
            "BACKEND_ENV_FILE",
            t.base.join("nope.env").to_string_lossy(),
        )
        .arg("migrate")
        .output()
        .await
        .expect("runs");
    assert_eq!(out.status.code(), Some(78), "{}", out.all());
    assert!(out.stderr.contains("nope.env"), "{}", out.stderr);
}
