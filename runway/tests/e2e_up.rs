//! The whole story from a fresh clone, through the real `runway` binary and this repository's
//! own `runway.toml`: `up` (development, SQLite) → `verify` passes → sign in through the proxy →
//! `kill -9` the backend while requests keep coming (each one succeeds: the proxy holds it until
//! the restarted backend is ready) → `deploy` a commit that changes a visible string, under
//! load: zero failures, the new string served → `rollback` under load: zero failures → `jobs
//! run cleanup-tokens` runs.
//!
//! Cost control (a release build of the backend inside a test is minutes): the backend binary
//! is taken from `RUNWAY_E2E_BACKEND` when set, else the workspace's `target/debug/backend`
//! (which `cargo test --workspace` builds before any test runs; built with `cargo build -p
//! backend` only if missing), and put where the clone's pipeline expects it; `up`/`deploy` get `--skip build-backend`. The
//! frontend's `node_modules` is hard-linked from the workspace when it has one (then `--skip
//! install`), else the clone runs `npm ci`. Ports are free ones, written into the clone's
//! manifest, so a developer's stack on 8080/3000/3001 is not disturbed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn sh(dir: &Path, cmd: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", cmd])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn backend_binary() -> PathBuf {
    if let Ok(p) = std::env::var("RUNWAY_E2E_BACKEND") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "RUNWAY_E2E_BACKEND={} is not a file",
            p.display()
        );
        return p;
    }
    let ws = workspace();
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| ws.join("target"));
    let bin = target.join("debug/backend");
    // `cargo test --workspace` builds it before any test runs (the backend's own tests use
    // it); `cargo build -p backend` alone would resolve features differently and rebuild
    // dependencies, so it is only the fallback.
    if !bin.is_file() {
        let built = Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "backend"])
            .current_dir(&ws)
            .status()
            .unwrap();
        assert!(built.success(), "cargo build -p backend failed");
    }
    bin
}

struct Stack {
    dir: PathBuf,
    /// The backend's SQLite directory, outside the clone (a file in it would make the tree
    /// dirty, which `deploy` refuses).
    data: PathBuf,
    up: Option<Child>,
    out: PathBuf,
}

impl Stack {
    fn runway(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_runway"))
            .args(args)
            .current_dir(&self.dir)
            .env_remove("RUNWAY_HOME")
            .env_remove("RUNWAY_CONFIG")
            .env_remove("NODE_ENV")
            .env("DATA_DIR", &self.data)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.runway(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "runway {args:?} failed:\n{text}");
        text
    }

    fn output(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.out) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    fn backend_pid(&self) -> u32 {
        let status: serde_json::Value =
            serde_json::from_str(&self.ok(&["status", "--json"])).unwrap();
        status["processes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "backend")
            .and_then(|p| p["pid"].as_u64())
            .expect("backend has a pid") as u32
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(mut child) = self.up.take() {
            // Ctrl-C, as a person would; the daemon stops everything.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGINT);
            }
            let deadline = Instant::now() + Duration::from_secs(40);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
        }
    }
}

/// Steady load on several paths through the proxy until stopped; counts failures.
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<std::sync::Mutex<Vec<String>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(base: &str, client: &reqwest::Client) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(std::sync::Mutex::new(Vec::new()));
        let tasks = ["/api/health", "/api/auth/me", "/", "/api/health"]
            .into_iter()
            .map(|path| {
                let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
                let (client, url) = (client.clone(), format!("{base}{path}"));
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        match client.get(&url).send().await {
                            Ok(r) if r.status().is_success() => {
                                let _ = r.bytes().await;
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(r) => failed
                                .lock()
                                .unwrap()
                                .push(format!("{url}: status {}", r.status())),
                            Err(e) => failed.lock().unwrap().push(format!("{url}: {e}")),
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            ok,
            failed,
            tasks,
        }
    }

    async fn finish(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.lock().unwrap().clone(),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fresh_clone_up_verify_signin_crash_deploy_rollback_and_job() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("app");
    sh(
        tmp.path(),
        &format!("git clone -q {} app", workspace().display()),
    );
    sh(
        &dir,
        "git config user.email e2e@example.com && git config user.name e2e",
    );

    // Free ports instead of 8080/3000/3001, committed so the tree is clean for `deploy`.
    let (proxy, backend, frontend) = (free_port(), free_port(), free_port());
    let manifest = std::fs::read_to_string(dir.join("runway.toml")).unwrap();
    let manifest = manifest
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{proxy}"))
        .replace("127.0.0.1:3000", &format!("127.0.0.1:{backend}"))
        .replace("\"3000\"", &format!("\"{backend}\""))
        .replace("port = 3000", &format!("port = {backend}"))
        .replace("\"3001\"", &format!("\"{frontend}\""))
        .replace("port = 3001", &format!("port = {frontend}"));
    std::fs::write(dir.join("runway.toml"), manifest).unwrap();
    sh(&dir, "git commit -qam 'e2e: free ports'");

    // The backend built elsewhere (see the module comment), where the pipeline expects it.
    std::fs::create_dir_all(dir.join("target/release")).unwrap();
    std::fs::copy(backend_binary(), dir.join("target/release/backend")).unwrap();
    let mut skip = vec!["--skip", "build-backend"];
    let modules = workspace().join("frontend/node_modules");
    if modules.join(".package-lock.json").is_file() {
        sh(
            &dir,
            &format!(
                "cp -al {} frontend/node_modules 2>/dev/null || cp -a {} frontend/node_modules",
                modules.display(),
                modules.display()
            ),
        );
        skip.extend(["--skip", "install"]);
    }

    let out = tmp.path().join("up.log");
    let log = std::fs::File::create(&out).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_runway"))
        .arg("up")
        .args(&skip)
        .current_dir(&dir)
        .env_remove("RUNWAY_HOME")
        .env_remove("RUNWAY_CONFIG")
        .env_remove("NODE_ENV")
        .env("DATA_DIR", tmp.path().join("data"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut stack = Stack {
        dir: dir.clone(),
        data: tmp.path().join("data"),
        up: Some(child),
        out,
    };
    let base = format!("http://127.0.0.1:{proxy}");

    // `up` prints the URL, the login and how to stop once everything is ready.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let text = stack.output();
        if text.contains("open http://") {
            break;
        }
        if let Some(Ok(Some(status))) = stack.up.as_mut().map(|c| c.try_wait()) {
            panic!("runway up exited ({status}):\n{text}");
        }
        assert!(Instant::now() < deadline, "not up in time:\n{text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let text = stack.output();
    assert!(
        text.contains(&format!("http://127.0.0.1:{proxy}/")),
        "{text}"
    );
    assert!(
        text.contains("admin@runway.local / runway-dev-password"),
        "{text}"
    );
    assert!(text.contains("Ctrl-C"), "{text}");
    for step in ["migrate", "seed", "publish"] {
        assert!(text.contains(step), "no `{step}` line in:\n{text}");
    }

    let verify = stack.ok(&["verify"]);
    assert!(verify.contains("checks passed"), "{verify}");

    // Sign in through the proxy with the seeded admin; the session works for /api/auth/me.
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let r = client
        .post(format!("{base}/api/auth/signin/local"))
        .json(
            &serde_json::json!({"email": "admin@runway.local", "password": "runway-dev-password"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    let me = client
        .get(format!("{base}/api/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert!(me.text().await.unwrap().contains("admin@runway.local"));

    // kill -9 the backend while requests keep coming: each one is held and then served.
    let old_pid = stack.backend_pid();
    let load = Load::start(&base, &client);
    tokio::time::sleep(Duration::from_millis(300)).await;
    unsafe {
        libc::kill(old_pid as i32, libc::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let status: serde_json::Value =
            serde_json::from_str(&stack.ok(&["status", "--json"])).unwrap();
        let row = status["processes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "backend")
            .cloned()
            .unwrap();
        if row["state"] == "ready" && row["pid"].as_u64() != Some(old_pid as u64) {
            break;
        }
        assert!(Instant::now() < deadline, "backend not back: {row}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (ok, failed) = load.finish().await;
    assert!(
        failed.is_empty(),
        "{} failed of {ok}: {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    assert!(ok > 10, "the load ran ({ok} requests)");

    // Deploy a commit that changes a visible string, under load.
    let html = std::fs::read_to_string(dir.join("frontend/index.html")).unwrap();
    assert!(html.contains("<title>Runway</title>"));
    std::fs::write(
        dir.join("frontend/index.html"),
        html.replace("<title>Runway</title>", "<title>Runway e2e v2</title>"),
    )
    .unwrap();
    sh(&dir, "git commit -qam 'e2e: a visible change'");
    let before = stack.backend_pid();
    let load = Load::start(&base, &client);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut args = vec!["deploy"];
    args.extend(&skip);
    let deployed = stack.ok(&args);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (ok, failed) = load.finish().await;
    assert!(
        failed.is_empty(),
        "deploy: {} failed of {ok}: {:?}\n{deployed}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    assert!(deployed.contains("deployed release"), "{deployed}");
    assert!(deployed.contains("switch"), "{deployed}");
    assert_ne!(stack.backend_pid(), before, "the backend was switched");
    let page = reqwest::get(format!("{base}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Runway e2e v2"), "{page}");
    let releases = stack.ok(&["releases"]);
    assert!(
        releases
            .lines()
            .filter(|l| l.contains(" live") || l.contains(" kept"))
            .count()
            >= 2,
        "{releases}"
    );

    // Roll back under load.
    let before = stack.backend_pid();
    let load = Load::start(&base, &client);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let back = stack.ok(&["rollback"]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (ok, failed) = load.finish().await;
    assert!(
        failed.is_empty(),
        "rollback: {} failed of {ok}: {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    assert!(back.contains("rolled back to release"), "{back}");
    assert!(back.contains("not reverted"), "{back}");
    assert_ne!(stack.backend_pid(), before);

    // The daily job, triggered now.
    let job = stack.ok(&["jobs", "run", "cleanup-tokens"]);
    assert!(job.contains("exit 0"), "{job}");
    let logs = stack.ok(&["logs", "job:cleanup-tokens", "-n", "20"]);
    assert!(logs.contains("run finished: exit 0"), "{logs}");

    // Ctrl-C stops everything.
    let mut child = stack.up.take().unwrap();
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{}", stack.output());
    assert!(
        reqwest::get(format!("{base}/api/health")).await.is_err(),
        "the proxy stopped"
    );
}
