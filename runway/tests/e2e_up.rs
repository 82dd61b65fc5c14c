//! The whole story from a fresh clone, through the real `runway` binary and this repository's
//! own `runway.toml`: `up` (development, SQLite) → `verify` passes → sign in through the proxy →
//! `kill -9` the backend while requests keep coming (each one succeeds: the proxy holds it until
//! the restarted backend is ready) → `deploy` a commit that changes a visible string, under
//! load: zero failures, the new string served → `rollback` under load: zero failures → `jobs
//! run cleanup-tokens` runs. On the way, Vite's HMR WebSocket connects through the proxy the
//! way the browser's Vite client does.
//!
//! Cost control (prebuilt backend, linked `node_modules`, free ports): see `e2e_support`.

mod e2e_support;

use std::time::{Duration, Instant};

use e2e_support::{FreshClone, Load, Stack, sh};

/// What the load hits while the backend crashes, deploys and rolls back: the API without and
/// with the session, and the frontend.
const E2E_PATHS: [&str; 4] = ["/api/health", "/api/auth/me", "/", "/api/health"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fresh_clone_up_verify_signin_crash_deploy_rollback_and_job() {
    let clone = FreshClone::new();
    let (dir, proxy, skip) = (clone.dir.clone(), clone.proxy, clone.skip.clone());
    // The backend's SQLite directory, outside the clone (a file in it would make the tree
    // dirty, which `deploy` refuses).
    let data = clone.tmp.path().join("data");
    let mut args = vec!["up"];
    args.extend(&skip);
    let mut stack = Stack::start(
        &dir,
        &args,
        vec![("DATA_DIR".into(), data.display().to_string())],
        &clone.tmp.path().join("up.log"),
    );
    let base = clone.base();

    // `up` prints the URL, the login and how to stop once everything is ready.
    stack.wait_ready(Duration::from_secs(600)).await;
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

    vite_hmr_connects_through_the_proxy(proxy).await;

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
    let load = Load::start(&base, &E2E_PATHS, &client);
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
    let load = Load::start(&base, &E2E_PATHS, &client);
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
    let load = Load::start(&base, &E2E_PATHS, &client);
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
    let status = stack.interrupt().expect("up was running");
    assert!(status.success(), "{}", stack.output());
    assert!(
        reqwest::get(format!("{base}/api/health")).await.is_err(),
        "the proxy stopped"
    );
}

/// What the browser's Vite client does on :8080: read its token from `/@vite/client`, open the
/// `vite-hmr` WebSocket with an Origin, and get Vite's `connected` message back — through
/// runway's proxy, not around it.
async fn vite_hmr_connects_through_the_proxy(proxy: u16) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let client_js = reqwest::get(format!("http://127.0.0.1:{proxy}/@vite/client"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = client_js
        .split("const wsToken = \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no wsToken in /@vite/client"));

    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", proxy))
        .await
        .unwrap();
    let request = format!(
        "GET /?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{proxy}\r\n\
         Origin: http://127.0.0.1:{proxy}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Protocol: vite-hmr\r\n\r\n"
    );
    socket.write_all(request.as_bytes()).await.unwrap();

    // The 101 and Vite's first text frame ({"type":"connected"}) may arrive in one read or several.
    let mut received = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !String::from_utf8_lossy(&received).contains("\"connected\"") {
        assert!(
            Instant::now() < deadline,
            "no HMR `connected` message through the proxy; got:\n{}",
            String::from_utf8_lossy(&received)
        );
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(30), socket.read(&mut chunk))
            .await
            .expect("HMR socket read timed out")
            .unwrap();
        assert!(
            n > 0,
            "the proxy closed the HMR socket; got:\n{}",
            String::from_utf8_lossy(&received)
        );
        received.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("sec-websocket-protocol: vite-hmr"),
        "{text}"
    );
}
