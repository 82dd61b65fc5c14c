//! Shared by the end-to-end tests that run this repository's own `runway.toml` through the real
//! `runway` binary (`e2e_up.rs`, `e2e_production.rs`): a fresh clone on free ports with a
//! prebuilt backend, and the `runway up` it runs in the foreground.
//!
//! Cost control (a release build of the backend inside a test is minutes): the backend binary
//! is taken from `RUNWAY_E2E_BACKEND` when set, else the workspace's `target/debug/backend`
//! (which `cargo test --workspace` builds before any test runs; built with `cargo build -p
//! backend` only if missing), and put where the clone's pipeline expects it; callers pass
//! `--skip build-backend`. The frontend's `node_modules` is hard-linked from the workspace when
//! it has one (then `--skip install`), else the clone runs `npm ci`. Ports are free ones,
//! written into the clone's manifest, so a developer's stack on 8080/3000/3001 is not disturbed.

#![allow(dead_code)] // each test file uses its own part

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The `runway` binary run in `dir` with none of the caller's runway or backend settings: a
/// developer's RUNWAY_HOME, NODE_ENV or SECRET_KEY must not leak into a test's stack.
pub fn runway_command(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runway"));
    cmd.current_dir(dir)
        .env_remove("RUNWAY_HOME")
        .env_remove("RUNWAY_CONFIG");
    for key in testkit::process::CONFIG_VARS {
        cmd.env_remove(key);
    }
    cmd
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn sh(dir: &Path, cmd: &str) -> String {
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

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn backend_binary() -> PathBuf {
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

/// A fresh clone of this repository in a temp dir, on free ports (committed, so the tree is
/// clean for `deploy`), with the prebuilt backend where the pipeline expects it.
pub struct FreshClone {
    pub tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub proxy: u16,
    pub backend: u16,
    pub frontend: u16,
    /// `--skip` arguments for `up`/`deploy`: the backend build, and `install` when the
    /// workspace's `node_modules` was linked in.
    pub skip: Vec<&'static str>,
}

impl FreshClone {
    pub fn new() -> FreshClone {
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
        FreshClone {
            tmp,
            dir,
            proxy,
            backend,
            frontend,
            skip,
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.proxy)
    }
}

/// `runway up` running in the foreground in a clone, with its output in a file; Ctrl-C on drop.
pub struct Stack {
    pub dir: PathBuf,
    /// Environment for every `runway` call (after RUNWAY_HOME, RUNWAY_CONFIG and NODE_ENV
    /// are removed, so the caller's shell does not leak in).
    pub env: Vec<(String, String)>,
    pub up: Option<Child>,
    pub out: PathBuf,
}

impl Stack {
    /// Starts `runway ARGS` (e.g. `up --skip …`) in `dir` with `env`, output to `out`.
    pub fn start(dir: &Path, args: &[&str], env: Vec<(String, String)>, out: &Path) -> Stack {
        let log = std::fs::File::create(out).unwrap();
        let child = Stack::command(dir, &env)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Stack {
            dir: dir.to_path_buf(),
            env,
            up: Some(child),
            out: out.to_path_buf(),
        }
    }

    fn command(dir: &Path, env: &[(String, String)]) -> Command {
        let mut cmd = runway_command(dir);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn runway(&self, args: &[&str]) -> std::process::Output {
        Stack::command(&self.dir, &self.env)
            .args(args)
            .output()
            .unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.runway(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "runway {args:?} failed:\n{text}");
        text
    }

    pub fn output(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.out) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Waits until `up` prints its URL (everything ready); panics with the output if `up`
    /// exits first or nothing comes within `limit`.
    pub async fn wait_ready(&mut self, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let text = self.output();
            if text.contains("open http://") {
                return text;
            }
            if let Some(Ok(Some(status))) = self.up.as_mut().map(|c| c.try_wait()) {
                panic!("runway up exited ({status}):\n{text}");
            }
            assert!(Instant::now() < deadline, "not up in time:\n{text}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The process's row in `runway status --json`.
    pub fn process(&self, name: &str) -> serde_json::Value {
        let status: serde_json::Value =
            serde_json::from_str(&self.ok(&["status", "--json"])).unwrap();
        status["processes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no process `{name}` in {status}"))
    }

    pub fn backend_pid(&self) -> u32 {
        self.process("backend")["pid"]
            .as_u64()
            .expect("backend has a pid") as u32
    }

    /// Ctrl-C, as a person would, and waits for `up` to exit; its exit status.
    pub fn interrupt(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.up.take()?;
        unsafe {
            libc::kill(child.id() as i32, libc::SIGINT);
        }
        let deadline = Instant::now() + Duration::from_secs(40);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // The daemon stops everything on Ctrl-C.
        self.interrupt();
    }
}

/// Steady load through the proxy until stopped, one task per path (a path may repeat);
/// counts successes and keeps every failure.
pub struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<std::sync::Mutex<Vec<String>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    pub fn start(base: &str, paths: &[&str], client: &reqwest::Client) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(std::sync::Mutex::new(Vec::new()));
        let tasks = paths
            .iter()
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

    pub async fn finish(self) -> (u64, Vec<String>) {
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
