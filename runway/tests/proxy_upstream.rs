//! The proxy and its upstreams' lives: 502 page and JSON when an upstream is down, requests held
//! while a process starts (or restarts after a crash) and sent once it is ready, an idempotent
//! request retried when its pooled connection turns out dead, WebSocket echo through the proxy,
//! and an upstream that never accepts answered 502 after the connect timeout.

mod proxy_support;

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use proxy_support::*;
use runway::proxy::{ProxyConfig, RouteConfig, UpstreamState};
use sha1::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn free_addr() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

#[tokio::test]
async fn a_down_upstream_gets_the_html_page_for_browsers_and_json_for_api_clients() {
    let states = HashMap::from([
        ("frontend".to_string(), UpstreamState::Down),
        ("backend".to_string(), UpstreamState::Down),
    ]);
    let routes = vec![
        RouteConfig::to_process("/", "frontend"),
        RouteConfig::to_process("/api", "backend"),
    ];
    let proxy = start_proxy_with(config(), routes, states, |dir| {
        std::fs::create_dir_all(dir.join("deploy")).expect("mkdir");
        std::fs::write(dir.join("deploy/502.html"), "<h1>our own 502 page</h1>").expect("page");
    })
    .await;
    let client = client();

    let browser = client
        .get(proxy.url("/dashboard"))
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .expect("request");
    assert_eq!(browser.status(), 502);
    assert!(
        browser.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/html")
    );
    assert_eq!(
        browser.text().await.expect("body"),
        "<h1>our own 502 page</h1>"
    );

    for accept in ["application/json", "*/*"] {
        let api = client
            .get(proxy.url("/api/users"))
            .header("accept", accept)
            .send()
            .await
            .expect("request");
        assert_eq!(api.status(), 502);
        let body: serde_json::Value = api.json().await.expect("json body");
        assert_eq!(body["error"]["code"], "bad_gateway");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("backend")
        );
    }

    // A fixed upstream nobody listens on: 502 as well.
    let nobody = free_addr();
    let proxy = start_proxy(vec![RouteConfig::to_upstream("/", &nobody.to_string())]).await;
    let response = client.get(proxy.url("/")).send().await.expect("request");
    assert_eq!(response.status(), 502);
}

#[tokio::test]
async fn a_request_sent_while_the_process_starts_succeeds_once_it_is_ready() {
    let states = HashMap::from([("backend".to_string(), UpstreamState::Starting)]);
    let proxy = start_proxy_with(
        config(),
        vec![RouteConfig::to_process("/api", "backend")],
        states,
        |_| {},
    )
    .await;
    let url = proxy.url("/api/echo");
    let pending = tokio::spawn(async move { client().get(url).send().await });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !pending.is_finished(),
        "the request was answered while starting"
    );
    let upstream = Upstream::start().await;
    proxy.set_state("backend", UpstreamState::Ready(upstream.addr));
    let response = pending.await.expect("task").expect("request");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["uri"], "/api/echo");

    // Still starting when the window closes: 502, not a hang.
    let config = ProxyConfig {
        retry_window: Duration::from_millis(500),
        ..config()
    };
    let states = HashMap::from([("backend".to_string(), UpstreamState::Starting)]);
    let proxy = start_proxy_with(
        config,
        vec![RouteConfig::to_process("/api", "backend")],
        states,
        |_| {},
    )
    .await;
    let response = client()
        .get(proxy.url("/api/echo"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 502);
    let body: serde_json::Value = response.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("starting")
    );
}

#[tokio::test]
async fn a_crashed_process_that_comes_back_on_its_port_loses_no_request() {
    // The supervisor has not noticed the crash yet: the table still says Ready, the port refuses.
    let addr = free_addr();
    let states = HashMap::from([("backend".to_string(), UpstreamState::Ready(addr))]);
    let proxy = start_proxy_with(
        config(),
        vec![RouteConfig::to_process("/api", "backend")],
        states,
        |_| {},
    )
    .await;
    let mut pending = Vec::new();
    for i in 0..5 {
        let url = proxy.url(&format!("/api/upload?i={i}"));
        // POST bodies too: nothing was sent while the port refused, so they are safe to resend.
        pending.push(tokio::spawn(async move {
            client().post(url).body("0123456789").send().await
        }));
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    proxy.set_state("backend", UpstreamState::Starting);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _upstream = Upstream::start_on(addr).await;
    proxy.set_state("backend", UpstreamState::Ready(addr));
    for task in pending {
        let response = task.await.expect("task").expect("request");
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.expect("body"), "10");
    }
}

/// An upstream that answers the first request on a connection, then reads the second and
/// closes without answering (a keep-alive connection that died). New connections answer
/// "fresh".
async fn dying_keepalive_upstream() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut first = true;
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let was_first = first;
            first = false;
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = stream.read(&mut buf).await;
                let body = if was_first { "first" } else { "fresh" };
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                if was_first {
                    let _ = stream.read(&mut buf).await;
                    // Dropped without an answer.
                } else {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn an_idempotent_request_on_a_dead_pooled_connection_is_retried_on_a_fresh_one() {
    let addr = dying_keepalive_upstream().await;
    let proxy = start_proxy(vec![RouteConfig::to_upstream("/", &addr.to_string())]).await;
    let client = client();
    let first = client.get(proxy.url("/a")).send().await.expect("first");
    assert_eq!(first.text().await.expect("body"), "first");
    let second = client.get(proxy.url("/b")).send().await.expect("second");
    assert_eq!(second.status(), 200);
    assert_eq!(second.text().await.expect("body"), "fresh");

    // A POST is not repeated: the upstream may have acted on it.
    let addr = dying_keepalive_upstream().await;
    let proxy = start_proxy(vec![RouteConfig::to_upstream("/", &addr.to_string())]).await;
    let first = client.get(proxy.url("/a")).send().await.expect("first");
    assert_eq!(first.text().await.expect("body"), "first");
    let post = client
        .post(proxy.url("/b"))
        .body("payload")
        .send()
        .await
        .expect("post");
    assert_eq!(post.status(), 502);
}

#[tokio::test]
async fn websocket_echo_passes_through_the_proxy() {
    let upstream = Upstream::start().await;
    let states = HashMap::from([("frontend".to_string(), UpstreamState::Ready(upstream.addr))]);
    let proxy = start_proxy_with(
        config(),
        vec![RouteConfig::to_process("/", "frontend")],
        states,
        |_| {},
    )
    .await;
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let handshake = format!(
        "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: vite-hmr\r\n\r\n"
    );
    stream
        .write_all(handshake.as_bytes())
        .await
        .expect("handshake");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.expect("read head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    let mut hasher = sha1::Sha1::new();
    hasher.update(key.as_bytes());
    hasher.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let expected = base64::engine::general_purpose::STANDARD.encode(hasher.finalize());
    assert!(
        head.contains(&format!(
            "sec-websocket-accept: {}",
            expected.to_lowercase()
        )),
        "{head}"
    );
    assert!(head.contains("upgrade: websocket"), "{head}");

    for message in ["hello", "hot module replacement"] {
        write_frame(&mut stream, 0x1, message.as_bytes(), Some([1, 2, 3, 4]))
            .await
            .expect("send frame");
        let (opcode, payload) =
            tokio::time::timeout(Duration::from_secs(10), read_frame(&mut stream, false))
                .await
                .expect("echo in time")
                .expect("frame");
        assert_eq!(opcode, 0x1);
        assert_eq!(
            String::from_utf8_lossy(&payload),
            format!("echo: {message}")
        );
    }
    write_frame(&mut stream, 0x8, &[], Some([9, 9, 9, 9]))
        .await
        .expect("close");
    let (opcode, _) = read_frame(&mut stream, false).await.expect("close reply");
    assert_eq!(opcode, 0x8);
}

/// An upstream whose accept queue is full: the kernel drops further SYNs, so a connect neither
/// succeeds nor fails (a hung host). Returns its address and what keeps the queue full.
fn unaccepting_upstream() -> (
    std::net::SocketAddr,
    tokio::net::TcpListener,
    Vec<std::net::TcpStream>,
) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    // Backlog 0: Linux queues one connection, then drops SYNs while nobody accepts.
    let listener = socket.listen(0).expect("listen");
    let addr = listener.local_addr().expect("addr");
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(stream) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200))
        {
            fillers.push(stream);
        }
    }
    assert!(
        !fillers.is_empty(),
        "the listener should take at least one connection into its queue"
    );
    assert!(
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_err(),
        "the accept queue should be full (connects hang) for this test to mean anything"
    );
    (addr, listener, fillers)
}

#[tokio::test]
async fn an_upstream_that_never_accepts_gets_502_after_the_connect_timeout() {
    let (addr, _listener, _fillers) = unaccepting_upstream();
    let config = ProxyConfig {
        upstream_connect_timeout: Duration::from_millis(300),
        ..config()
    };
    let routes = vec![RouteConfig::to_upstream("/api", &addr.to_string())];
    let proxy = start_proxy_with(config, routes, HashMap::new(), |_| {}).await;
    // Far below the 60 s default connect timeout and the kernel's SYN retries (~2 min): an answer
    // within it can only come from the configured timeout.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let response = client
        .get(proxy.url("/api/users"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("the proxy answers instead of hanging");
    assert_eq!(response.status(), 502);
    let body: serde_json::Value = response.json().await.expect("json body");
    assert_eq!(body["error"]["code"], "bad_gateway");
    let message = body["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("cannot connect") && message.contains(&addr.to_string()),
        "{message}"
    );
}
