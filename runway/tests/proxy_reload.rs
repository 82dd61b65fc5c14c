//! Reload and shutdown without losing anything, and the access log: a steady request loop sees
//! no failure across many reloads, an in-flight request and a kept-alive connection survive,
//! an invalid configuration is rejected while the old one keeps serving, a reload reaches every
//! worker thread's open connections; shutdown lets
//! in-flight requests finish; the access log is written in combined format and rotated.

mod proxy_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use proxy_support::*;
use runway::proxy::{ByteSize, ProxyConfig, ProxyError, RouteConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn keepalive_get(stream: &mut TcpStream, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut buf = vec![0u8; 16384];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
        .await
        .expect("answer in time")
        .expect("read");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_a_steady_request_loop_loses_nothing() {
    let a = Upstream::start().await;
    let b = Upstream::start().await;
    let routes_a = vec![RouteConfig::to_upstream("/", &a.addr.to_string())];
    let routes_b = vec![
        RouteConfig::to_upstream("/", &b.addr.to_string()),
        RouteConfig::to_upstream("/extra", &a.addr.to_string()),
    ];
    let proxy = start_proxy_with(config(), routes_a.clone(), Default::default(), |_| {}).await;
    let proxy = Arc::new(proxy);

    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let mut loops = Vec::new();
    for _ in 0..4 {
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        let url = proxy.url("/echo");
        loops.push(tokio::spawn(async move {
            let client = client();
            while !stop.load(Ordering::SeqCst) {
                let good = match client.get(&url).send().await {
                    Ok(response) => response.status() == 200 && response.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if good {
                    ok.fetch_add(1, Ordering::SeqCst);
                } else {
                    failed.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    // A slow request in flight across all the reloads, and a kept-alive raw connection.
    let slow_url = proxy.url("/slow?ms=1500");
    let slow = tokio::spawn(async move { client().get(slow_url).send().await });
    let mut kept = TcpStream::connect(proxy.addr).await.expect("connect");
    assert_eq!(status_of(&keepalive_get(&mut kept, "/echo").await), 200);

    for i in 0..20 {
        let routes = if i % 2 == 0 { &routes_b } else { &routes_a };
        proxy
            .proxy
            .reload(&config(), routes)
            .await
            .expect("valid reload");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rejected = proxy
        .proxy
        .reload(
            &config(),
            &[RouteConfig {
                path: "/x".into(),
                ..Default::default()
            }],
        )
        .await;
    assert!(
        matches!(rejected, Err(ProxyError::Config(_))),
        "{rejected:?}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::SeqCst);
    for task in loops {
        task.await.expect("loop");
    }
    let slow = slow.await.expect("task").expect("slow request");
    assert_eq!(slow.status(), 200);
    assert_eq!(slow.text().await.expect("body"), "slow");
    let answer = keepalive_get(&mut kept, "/echo").await;
    assert_eq!(
        status_of(&answer),
        200,
        "the kept-alive connection was dropped"
    );
    // The last valid table (routes_a after 20 reloads) is the one serving.
    assert!(
        answer.contains(&format!("\"upstream_port\":{}", a.addr.port())),
        "{answer}"
    );

    let served = ok.load(Ordering::SeqCst);
    assert!(served > 50, "only {served} requests ran during the reloads");
    assert_eq!(
        failed.load(Ordering::SeqCst),
        0,
        "requests failed during reloads ({served} ok)"
    );
}

#[tokio::test]
async fn reload_binds_new_listen_addresses_and_rejects_an_unusable_one() {
    let upstream = Upstream::start().await;
    let routes = vec![RouteConfig::to_upstream("/", &upstream.addr.to_string())];
    let proxy = start_proxy_with(config(), routes.clone(), Default::default(), |_| {}).await;
    let extra = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let with_extra = ProxyConfig {
        listen: vec!["127.0.0.1:0".into(), extra.to_string()],
        ..config()
    };
    proxy
        .proxy
        .reload(&with_extra, &routes)
        .await
        .expect("reload");
    assert_eq!(proxy.proxy.local_addrs().len(), 2);
    let response = client()
        .get(format!("http://{extra}/echo"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);

    // A port someone else holds: the reload fails and the old listeners keep serving.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken = ProxyConfig {
        listen: vec![
            "127.0.0.1:0".into(),
            holder.local_addr().expect("addr").to_string(),
        ],
        ..config()
    };
    let result = proxy.proxy.reload(&taken, &routes).await;
    assert!(matches!(result, Err(ProxyError::Bind { .. })), "{result:?}");
    let response = client()
        .get(proxy.url("/echo"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish_and_flushes_the_access_log() {
    let upstream = Upstream::start().await;
    let proxy = start_proxy(vec![RouteConfig::to_upstream(
        "/",
        &upstream.addr.to_string(),
    )])
    .await;
    let client = client();
    let response = client
        .get(proxy.url("/echo?q=1"))
        .header("referer", "http://app.example/page")
        .header("user-agent", "runway-test/1.0")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    // An OAuth callback: its authorization code and state must not reach the log.
    let response = client
        .get(proxy.url("/echo?code=SECRET-CODE-42&state=SECRET-STATE-43&scope=email"))
        .header("referer", "http://app.example/cb?token=SECRET-TOKEN-44")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let slow_url = proxy.url("/slow?ms=800");
    let slow = tokio::spawn(async move { client.get(slow_url).send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let TestProxy {
        proxy: running,
        addr,
        dir,
        ..
    } = proxy;
    running.shutdown().await;
    let slow = slow.await.expect("task").expect("in-flight request");
    assert_eq!(slow.status(), 200);
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );

    let log =
        std::fs::read_to_string(dir.path().join("logs/proxy-access.log")).expect("access log");
    let line = log
        .lines()
        .find(|l| l.contains("/echo?q=1"))
        .expect("logged request");
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    assert!(
        line.contains("\"GET /echo?q=1 HTTP/1.1\" 200 ")
            && line.contains("\"http://app.example/page\" \"runway-test/1.0\" rt="),
        "{line}"
    );
    let upstream_time = line.rsplit("urt=").next().unwrap_or("");
    assert!(upstream_time.parse::<f64>().is_ok(), "{line}");
    assert!(log.contains("\"GET /slow?ms=800 HTTP/1.1\" 200"), "{log}");
    assert!(
        !log.contains("SECRET-"),
        "a secret reached the access log:\n{log}"
    );
    assert!(
        log.contains("\"GET /echo?code=[REDACTED]&state=[REDACTED]&scope=email HTTP/1.1\" 200")
            && log.contains("\"http://app.example/cb?token=[REDACTED]\""),
        "{log}"
    );
}

#[tokio::test]
async fn the_access_log_is_rotated_by_size() {
    let upstream = Upstream::start().await;
    let config = ProxyConfig {
        access_log_max_size: ByteSize(2048),
        access_log_keep: 2,
        ..config()
    };
    let proxy = start_proxy_with(
        config,
        vec![RouteConfig::to_upstream("/", &upstream.addr.to_string())],
        Default::default(),
        |_| {},
    )
    .await;
    let client = client();
    for round in 0..6 {
        for i in 0..10 {
            let url = proxy.url(&format!("/echo/{round}/{i}/{}", "x".repeat(40)));
            client
                .get(url)
                .send()
                .await
                .expect("request")
                .bytes()
                .await
                .expect("body");
        }
        // Let the writer flush between rounds so rotation happens more than once.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let logs = proxy.logs_dir();
    let TestProxy { proxy: running, .. } = proxy;
    running.shutdown().await;
    assert!(logs.join("proxy-access.log.1").exists());
    assert!(logs.join("proxy-access.log.2").exists());
    assert!(
        !logs.join("proxy-access.log.3").exists(),
        "kept more than 2 rotated logs"
    );
    let current = std::fs::metadata(logs.join("proxy-access.log"))
        .expect("current log")
        .len();
    assert!(current < 4096, "the live log grew to {current} bytes");
}

/// Connections are spread over the worker threads (round robin) and each thread caches the
/// route table: a reload must reach every one of them, on connections already open.
#[tokio::test]
async fn a_reload_reaches_every_worker_thread() {
    let a = Upstream::start().await;
    let b = Upstream::start().await;
    let config = ProxyConfig {
        workers: 3,
        ..config()
    };
    let routes_a = vec![RouteConfig::to_upstream("/", &a.addr.to_string())];
    let routes_b = vec![RouteConfig::to_upstream("/", &b.addr.to_string())];
    let proxy = start_proxy_with(config.clone(), routes_a, Default::default(), |_| {}).await;
    let mut connections = Vec::new();
    for _ in 0..6 {
        let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
        let answer = keepalive_get(&mut stream, "/echo").await;
        assert!(
            answer.contains(&format!("\"upstream_port\":{}", a.addr.port())),
            "{answer}"
        );
        connections.push(stream);
    }
    proxy
        .proxy
        .reload(&config, &routes_b)
        .await
        .expect("valid reload");
    for (index, stream) in connections.iter_mut().enumerate() {
        let answer = keepalive_get(stream, "/echo").await;
        assert!(
            answer.contains(&format!("\"upstream_port\":{}", b.addr.port())),
            "connection {index} still used the old table: {answer}"
        );
    }
}
