//! Limits and request-smuggling defences on real sockets: ambiguous framing → 400 (and the
//! upstream never sees it), slowloris connections closed after the header timeout, 413 for big
//! bodies, 431 for big or many headers, 504 for a silent upstream, the connection cap.

mod proxy_support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use proxy_support::*;
use runway::proxy::{ByteSize, ProxyConfig, RouteConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn every_smuggling_attempt_is_refused_with_400_before_reaching_the_upstream() {
    let upstream = Upstream::start().await;
    let proxy = start_proxy(vec![RouteConfig::to_upstream(
        "/",
        &upstream.addr.to_string(),
    )])
    .await;
    let attempts: [(&str, &str); 14] = [
        (
            "CL then TE",
            "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        ),
        (
            "TE then CL",
            "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        ),
        (
            "conflicting CLs",
            "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
        ),
        (
            "repeated CLs",
            "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd",
        ),
        (
            "CL list",
            "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 4\r\n\r\nabcd",
        ),
        (
            "signed CL",
            "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: +4\r\n\r\nabcd",
        ),
        (
            "negative CL",
            "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        ),
        (
            "obs-fold",
            "GET /a HTTP/1.1\r\nHost: x\r\nX-Folded: one\r\n two\r\n\r\n",
        ),
        (
            "obs-fold on TE",
            "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
        ),
        (
            "space before colon",
            "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
        ),
        (
            "TE not ending in chunked",
            "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        ),
        (
            "TE list ending in chunked",
            "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n",
        ),
        (
            "two TE headers",
            "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ),
        (
            "TE on HTTP/1.0",
            "POST /a HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ),
    ];
    for (name, raw) in attempts {
        let answer = raw_request(proxy.addr, raw.as_bytes(), Duration::from_secs(10)).await;
        assert_eq!(status_of(&answer), 400, "{name}: {answer}");
        assert_eq!(
            answer.matches("HTTP/1.1").count(),
            1,
            "{name}: a second response was smuggled: {answer}"
        );
    }
    assert_eq!(
        upstream.connections.load(Ordering::SeqCst),
        0,
        "a refused request reached the upstream"
    );

    // Invalid chunked framing inside the body is a 400 too, not a 502.
    let answer = raw_request(
        proxy.addr,
        b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(status_of(&answer), 400, "bad chunk: {answer}");
}

#[tokio::test]
async fn a_slowloris_client_is_disconnected_after_the_header_timeout() {
    let upstream = Upstream::start().await;
    let config = ProxyConfig {
        header_timeout: Duration::from_secs(1),
        ..config()
    };
    let proxy = start_proxy_with(
        config,
        vec![RouteConfig::to_upstream("/", &upstream.addr.to_string())],
        Default::default(),
        |_| {},
    )
    .await;
    // Sends half a request head, then one header byte every 300 ms: never completes.
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let mut closed = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if stream.write_all(b"X").await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 256];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buf)).await
        {
            // EOF or an error response followed by close.
            closed = true;
            let _ = n;
            break;
        }
    }
    assert!(closed, "the slow client was still connected after 12 s");

    // A client that connects and sends nothing is dropped as well.
    let answer = raw_request(proxy.addr, b"", Duration::from_secs(10)).await;
    assert!(answer.is_empty() || status_of(&answer) >= 400, "{answer}");
    assert_eq!(upstream.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn bodies_over_the_route_limit_get_413() {
    let upstream = Upstream::start().await;
    let routes = vec![
        RouteConfig {
            max_body: Some(ByteSize(1024)),
            ..RouteConfig::to_upstream("/", &upstream.addr.to_string())
        },
        RouteConfig {
            max_body: Some(ByteSize(0)),
            ..RouteConfig::to_upstream("/big", &upstream.addr.to_string())
        },
    ];
    let proxy = start_proxy_with(config(), routes, Default::default(), |_| {}).await;
    let client = client();

    // Declared too big: refused before anything is read or forwarded.
    let response = client
        .post(proxy.url("/upload"))
        .header("accept", "application/json")
        .body(vec![b'a'; 4096])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 413);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "payload_too_large");

    // `Expect: 100-continue` with a too-big length: 413 instead of 100.
    let answer = raw_request(
        proxy.addr,
        b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(status_of(&answer), 413, "{answer}");
    assert_eq!(upstream.connections.load(Ordering::SeqCst), 0);

    // Chunked, no length: cut when the limit is crossed.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..8).map(|_| Ok(vec![b'b'; 512])).collect();
    let response = client
        .post(proxy.url("/upload"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 413);

    // Within the limit, and on the unlimited route, bodies pass.
    let response = client
        .post(proxy.url("/upload"))
        .body(vec![b'a'; 1000])
        .send()
        .await
        .expect("request");
    assert_eq!(response.text().await.expect("body"), "1000");
    let response = client
        .post(proxy.url("/big/upload"))
        .body(vec![b'a'; 100_000])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);

    // `Expect: 100-continue` within the limit: 100 first, then the upstream's answer.
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        .await
        .expect("write head");
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
        .await
        .expect("100 Continue in time")
        .expect("read");
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 100"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    stream.write_all(b"hello").await.expect("write body");
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
        .await
        .expect("answer in time")
        .expect("read");
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("\r\n\r\n5"),
        "{answer}"
    );
}

#[tokio::test]
async fn oversized_or_too_many_headers_get_431() {
    let upstream = Upstream::start().await;
    let config = ProxyConfig {
        max_header_bytes: ByteSize(16 * 1024),
        max_headers: 50,
        ..config()
    };
    let proxy = start_proxy_with(
        config,
        vec![RouteConfig::to_upstream("/", &upstream.addr.to_string())],
        Default::default(),
        |_| {},
    )
    .await;
    let big = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    let answer = raw_request(proxy.addr, big.as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(status_of(&answer), 431, "{answer}");
    let mut many = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
    for i in 0..60 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let answer = raw_request(proxy.addr, many.as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(status_of(&answer), 431, "{answer}");
    assert_eq!(upstream.connections.load(Ordering::SeqCst), 0);
}

/// A test upstream behind a proxy whose only route has this upstream read timeout.
async fn behind_read_timeout(timeout: Duration) -> (Upstream, TestProxy) {
    let upstream = Upstream::start().await;
    let routes = vec![RouteConfig {
        read_timeout: Some(timeout),
        ..RouteConfig::to_upstream("/", &upstream.addr.to_string())
    }];
    let proxy = start_proxy_with(config(), routes, Default::default(), |_| {}).await;
    (upstream, proxy)
}

#[tokio::test]
async fn a_silent_upstream_gets_504_after_the_read_timeout() {
    let (_upstream, proxy) = behind_read_timeout(Duration::from_millis(300)).await;
    let response = client()
        .get(proxy.url("/slow?ms=5000"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 504);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "gateway_timeout");
}

/// The fast path keeps one timer per connection for its upstream read deadlines: each request
/// on a kept-alive connection gets its own full read timeout, whatever the earlier ones left.
#[tokio::test]
async fn each_request_on_a_kept_alive_connection_gets_the_whole_read_timeout() {
    let (upstream, proxy) = behind_read_timeout(Duration::from_millis(1000)).await;
    let client = client();
    let get = |path: &str| {
        client
            .get(proxy.url(path))
            .header("accept", "application/json")
            .send()
    };
    assert_eq!(get("/fast").await.expect("request").status(), 200);
    // Past the first request's deadline: the connection's timer has fired while idle.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(get("/slow?ms=300").await.expect("request").status(), 200);
    // Not cut short by the earlier ones: each answer within 1 s of its own request passes.
    for _ in 0..3 {
        assert_eq!(get("/slow?ms=400").await.expect("request").status(), 200);
    }
    let started = std::time::Instant::now();
    assert_eq!(get("/slow?ms=5000").await.expect("request").status(), 504);
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "504 before the read timeout: {:?}",
        started.elapsed()
    );
    assert_eq!(get("/fast").await.expect("request").status(), 200);
    assert_eq!(
        upstream.connections.load(Ordering::SeqCst),
        2,
        "one upstream connection, and a new one after the timed-out exchange"
    );
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_closes() {
    let upstream = Upstream::start().await;
    let config = ProxyConfig {
        max_connections: 2,
        ..config()
    };
    let proxy = start_proxy_with(
        config,
        vec![RouteConfig::to_upstream("/", &upstream.addr.to_string())],
        Default::default(),
        |_| {},
    )
    .await;
    let request = b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
        stream.write_all(request).await.expect("write");
        let mut buf = vec![0u8; 4096];
        let n = stream.read(&mut buf).await.expect("read");
        assert_eq!(status_of(&String::from_utf8_lossy(&buf[..n])), 200);
        held.push(stream);
    }
    let mut third = TcpStream::connect(proxy.addr)
        .await
        .expect("connect (queued)");
    third.write_all(request).await.expect("write");
    let mut buf = vec![0u8; 4096];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await;
    assert!(
        early.is_err(),
        "a third connection was served over the limit"
    );
    drop(held.pop());
    let n = tokio::time::timeout(Duration::from_secs(10), third.read(&mut buf))
        .await
        .expect("served once a slot freed")
        .expect("read");
    assert_eq!(status_of(&String::from_utf8_lossy(&buf[..n])), 200);
}
