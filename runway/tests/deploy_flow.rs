//! Deploy and rollback end to end at the library level, with real git, real commands, real
//! child processes and real HTTP under steady load: a deploy and a rollback switch versions
//! with zero failed requests; a dirty tree, a failing build and a backend that never gets
//! ready are refused with the step named, and the old release keeps serving.
//!
//! Requests go through runway's real proxy, which routes by the upstream table the switch
//! writes. The supervisor's part is played by a small real piece: one supervised process on a
//! fixed port, restarted on request, publishing its readiness to the table.

mod e2e_support;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2e_support::Load;
use runway::checks::mode::Mode;
use runway::deploy::candidate::{CandidateSpec, http_status};
use runway::deploy::releases::{ReleaseResult, ReleaseStore};
use runway::deploy::{
    self, ActivateReport, Activator, BoxFuture, DeployConfig, DeployError, DeployRequest,
    Switchboard, activate,
};
use runway::pipeline::{PlainProgress, StepConfig};
use runway::proxy::UpstreamState;
use runway::proxy::config::{ProxyConfig, RouteConfig};

const SERVER_JS: &str = r#"
const fs = require('fs'); const http = require('http');
const version = fs.readFileSync(__dirname + '/version.txt', 'utf8').trim();
if (version === 'broken') process.exit(3);
const s = http.createServer((q, r) => {
  if (q.url === '/ready') { r.end('ok'); return; }
  setTimeout(() => r.end(version), 10);
});
s.listen(process.env.PORT, '127.0.0.1');
process.on('SIGTERM', () => { s.close(() => process.exit(0)); s.closeIdleConnections(); });
"#;

fn sh(dir: &Path, cmd: &str) {
    let st = std::process::Command::new("sh")
        .args(["-c", cmd])
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(st.success(), "{cmd}");
}

fn commit(dir: &Path, version: &str) {
    std::fs::write(dir.join("app/version.txt"), version).unwrap();
    sh(
        dir,
        &format!("git add -A && git commit -qm 'version {version}'"),
    );
}

/// The supervised process on its fixed port, and the upstream table with overrides.
struct Board {
    dir: PathBuf,
    port: u16,
    child: Mutex<Option<tokio::process::Child>>,
    own: Mutex<UpstreamState>,
    over: Mutex<Option<UpstreamState>>,
    table: tokio::sync::watch::Sender<Arc<HashMap<String, UpstreamState>>>,
}

impl Board {
    fn publish(&self) {
        let state = self
            .over
            .lock()
            .unwrap()
            .unwrap_or(*self.own.lock().unwrap());
        self.table
            .send_replace(Arc::new(HashMap::from([("backend".to_string(), state)])));
    }

    fn spec(&self) -> CandidateSpec {
        CandidateSpec {
            argv: vec!["node".into(), ".runway/current/backend/server.js".into()],
            cwd: self.dir.clone(),
            env: std::env::vars().collect(),
            ready_path: "/ready".into(),
            log: self.dir.join(".runway/logs/deploy-candidate.log"),
        }
    }

    async fn stop_supervised(&self) {
        let child = self.child.lock().unwrap().take();
        if let Some(mut c) = child {
            if let Some(pid) = c.id() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
            let _ = tokio::time::timeout(Duration::from_secs(10), c.wait()).await;
        }
    }
}

impl Switchboard for Board {
    fn candidate_spec(&self, _process: &str) -> Result<CandidateSpec, String> {
        Ok(self.spec())
    }
    fn set_override(&self, _p: &str, state: UpstreamState) {
        *self.over.lock().unwrap() = Some(state);
        self.publish();
    }
    fn clear_override(&self, _p: &str) {
        *self.over.lock().unwrap() = None;
        self.publish();
    }
    fn restart_ready<'a>(
        &'a self,
        _p: &'a str,
        bound: Duration,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            *self.own.lock().unwrap() = UpstreamState::Starting;
            self.publish();
            self.stop_supervised().await;
            let spec = self.spec();
            let child = tokio::process::Command::new(&spec.argv[0])
                .args(&spec.argv[1..])
                .current_dir(&spec.cwd)
                .env("PORT", self.port.to_string())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| e.to_string())?;
            *self.child.lock().unwrap() = Some(child);
            let url = format!("http://127.0.0.1:{}/ready", self.port);
            let start = std::time::Instant::now();
            while http_status(&url).await != Ok(200) {
                if start.elapsed() > bound {
                    return Err("supervised process not ready".into());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            *self.own.lock().unwrap() =
                UpstreamState::Ready(SocketAddr::from(([127, 0, 0, 1], self.port)));
            self.publish();
            Ok(())
        })
    }
}

struct Direct(Arc<Board>, DeployConfig);

impl Activator for Direct {
    fn activate<'a>(&'a self, process: &'a str) -> BoxFuture<'a, Result<ActivateReport, String>> {
        Box::pin(async move {
            activate::activate(self.0.as_ref(), process, self.1.activate_options())
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// runway's proxy, routing `/` to the process `backend` by the upstream table.
async fn proxy_for(
    table: tokio::sync::watch::Receiver<Arc<HashMap<String, UpstreamState>>>,
    dir: &Path,
) -> (runway::proxy::Proxy, SocketAddr) {
    let config = ProxyConfig {
        listen: vec!["127.0.0.1:0".to_string()],
        ..ProxyConfig::default()
    };
    let routes = [RouteConfig::to_process("/", "backend")];
    let proxy = runway::proxy::Proxy::bind(&config, &routes, dir, table, &dir.join(".runway/logs"))
        .await
        .unwrap();
    let addr = proxy.local_addrs()[0];
    (proxy, addr)
}

async fn body(addr: SocketAddr) -> String {
    reqwest::get(format!("http://{addr}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_and_rollbacks_under_load_lose_nothing_and_failures_keep_the_old_release() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(dir.join("app/server.js"), SERVER_JS).unwrap();
    std::fs::write(
        dir.join("build.sh"),
        "rm -rf out && mkdir out && cp app/* out/\n",
    )
    .unwrap();
    std::fs::write(dir.join(".gitignore"), "out/\n.runway/\n").unwrap();
    sh(
        &dir,
        "git init -q && git config user.email t@example.com && git config user.name test",
    );
    commit(&dir, "v1");

    let steps: Vec<StepConfig> = {
        #[derive(serde::Deserialize)]
        struct M {
            step: Vec<StepConfig>,
        }
        toml::from_str::<M>(
            r#"
            [[step]]
            name = "build"
            command = "sh build.sh"
            inputs = ["app", "build.sh"]
            outputs = ["out"]
        "#,
        )
        .unwrap()
        .step
    };
    let config = DeployConfig {
        artifacts: BTreeMap::from([("backend".to_string(), PathBuf::from("out"))]),
        ready_timeout: Some(Duration::from_secs(10)),
        drain: Some(Duration::from_millis(300)),
        ..DeployConfig::default()
    };
    let req = DeployRequest {
        base_dir: dir.clone(),
        state_dir: dir.join(".runway"),
        mode: Mode::Production,
        env: BTreeMap::new(),
        git_ref: None,
        steps,
        config: config.clone(),
    };
    let port = runway::deploy::candidate::spare_port().unwrap();
    let (tx, rx) = tokio::sync::watch::channel(Arc::new(HashMap::new()));
    let board = Arc::new(Board {
        dir: dir.clone(),
        port,
        child: Mutex::new(None),
        own: Mutex::new(UpstreamState::Down),
        over: Mutex::new(None),
        table: tx,
    });
    let activator = Direct(board.clone(), config.clone());
    let progress = PlainProgress::new(Vec::<u8>::new());
    let (_proxy, proxy) = proxy_for(rx, &dir).await;
    let store = ReleaseStore::new(&dir.join(".runway"), 5);

    // First release: nothing ran before.
    let v1 = deploy::deploy(&req, &activator, &progress).await.unwrap();
    assert_eq!(v1.result, ReleaseResult::Live);
    assert_eq!(body(proxy).await, "v1");
    let names: Vec<&str> = v1.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["git", "build", "publish", "switch"]);

    // v2 under load: zero failures, v2 served afterwards.
    commit(&dir, "v2");
    let load = Load::start(
        &format!("http://{proxy}"),
        &["/"; 4],
        &reqwest::Client::new(),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let v2 = deploy::deploy(&req, &activator, &progress).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (ok, failed) = load.finish().await;
    assert!(
        failed.is_empty(),
        "{} failed of {}: {:?}",
        failed.len(),
        ok,
        &failed[..failed.len().min(5)]
    );
    assert!(ok > 20, "the load ran ({ok} requests)");
    assert_eq!(body(proxy).await, "v2");
    assert_eq!(store.current().as_deref(), Some(v2.id.as_str()));
    assert_eq!(
        store.load(&v1.id).unwrap().result,
        ReleaseResult::Superseded
    );

    // A dirty tree is refused, naming the file; nothing is recorded.
    std::fs::write(dir.join("app/version.txt"), "uncommitted").unwrap();
    let e = deploy::deploy(&req, &activator, &progress)
        .await
        .unwrap_err();
    assert!(matches!(e, DeployError::Git(_)));
    assert!(e.to_string().contains("app/version.txt"), "{e}");
    assert!(e.to_string().contains("git stash"), "{e}");
    sh(&dir, "git checkout -q -- app/version.txt");
    assert_eq!(store.list().len(), 2);

    // A failing build names the step and its log; v2 keeps serving.
    std::fs::write(dir.join("build.sh"), "echo 'cannot build' >&2; exit 2\n").unwrap();
    sh(&dir, "git commit -qam 'broken build'");
    let e = deploy::deploy(&req, &activator, &progress)
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("step `build` failed (exit 2)"), "{text}");
    assert!(text.contains("pipeline-build.log"), "{text}");
    assert!(text.contains("cannot build"), "{text}");
    assert_eq!(body(proxy).await, "v2");
    assert_eq!(store.current().as_deref(), Some(v2.id.as_str()));
    assert!(
        matches!(store.list()[0].result, ReleaseResult::Failed { ref step, .. } if step == "build")
    );

    // A backend that never gets ready: the switch fails, under load nothing fails, v2 serves.
    sh(&dir, "git revert --no-edit HEAD >/dev/null");
    commit(&dir, "broken");
    let load = Load::start(
        &format!("http://{proxy}"),
        &["/"; 4],
        &reqwest::Client::new(),
    );
    let e = deploy::deploy(&req, &activator, &progress)
        .await
        .unwrap_err();
    let (_, failed) = load.finish().await;
    assert!(failed.is_empty(), "{failed:?}");
    let text = e.to_string();
    assert!(text.contains("deploy failed at step `switch`"), "{text}");
    assert!(text.contains("exited"), "{text}");
    assert!(text.contains("previous release keeps serving"), "{text}");
    assert_eq!(body(proxy).await, "v2");
    assert_eq!(store.current().as_deref(), Some(v2.id.as_str()));

    // Rollback to v1 under load: zero failures.
    let load = Load::start(
        &format!("http://{proxy}"),
        &["/"; 4],
        &reqwest::Client::new(),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let back = deploy::rollback(&dir.join(".runway"), &config, None, &activator, &progress)
        .await
        .unwrap();
    let (ok, failed) = load.finish().await;
    assert!(failed.is_empty(), "{failed:?}");
    assert!(ok > 10);
    assert_eq!(back.id, v1.id);
    assert_eq!(body(proxy).await, "v1");
    assert_eq!(store.current().as_deref(), Some(v1.id.as_str()));
    assert!(deploy::MIGRATIONS_WARNING.contains("not reverted"));

    // Rolling back to a failed release is refused.
    let failed_id = store
        .list()
        .into_iter()
        .find(|r| matches!(r.result, ReleaseResult::Failed { .. }))
        .unwrap()
        .id;
    let e = deploy::rollback(
        &dir.join(".runway"),
        &config,
        Some(&failed_id),
        &activator,
        &progress,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("has no build"), "{e}");

    board.stop_supervised().await;
}

#[test]
fn releases_are_pruned_to_keep_but_never_the_current_one() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ReleaseStore::new(tmp.path(), 2);
    let mut ids = Vec::new();
    for i in 0..4 {
        let mut r = store.create(Some(format!("{i}abcdef0123")), None).unwrap();
        r.created += chrono::Duration::seconds(i);
        r.result = ReleaseResult::Superseded;
        store.save(&r).unwrap();
        ids.push(r.id);
    }
    store.switch_to(&ids[0]).unwrap();
    let removed = store.prune();
    assert_eq!(removed, [ids[1].clone()]);
    let left: Vec<String> = store.list().into_iter().map(|r| r.id).collect();
    assert_eq!(left, [ids[3].clone(), ids[2].clone(), ids[0].clone()]);
    assert_eq!(
        std::fs::read_link(store.pointer()).unwrap(),
        Path::new("releases").join(&ids[0])
    );
}
