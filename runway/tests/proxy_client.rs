//! The proxy's own HTTP/1.1 upstream client (bodiless requests), against a raw-TCP fake upstream
//! that sends exactly the bytes each test scripts: Content-Length, chunked (extensions,
//! trailers) and close-delimited bodies, 1xx heads, invalid framing (refused with 502, or the
//! client connection cut once the head has gone out), keep-alive reuse counted in upstream
//! connections, a pooled connection the upstream closed (retried for GET, not for POST), an
//! abandoned body (its upstream connection closed, not reused) and hop-by-hop headers.

mod proxy_support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proxy_support::*;
use runway::proxy::RouteConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the fake upstream does after writing its scripted answer.
#[derive(Clone, Copy, PartialEq)]
enum Then {
    /// Wait for the next request on the connection.
    KeepAlive,
    /// Close the connection.
    Close,
    /// Send no more of the body; count the proxy closing the connection.
    Hang,
}

type Script = fn(&str) -> (Vec<u8>, Then);

/// A raw-TCP upstream answering each request head with `script(request line)`.
struct FakeUpstream {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    /// Request heads received, in order.
    heads: Arc<Mutex<Vec<String>>>,
    /// Connections that saw the proxy close them (EOF) between requests or in a hung body.
    closed_by_proxy: Arc<AtomicUsize>,
}

impl FakeUpstream {
    async fn start(script: Script) -> FakeUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let closed_by_proxy = Arc::new(AtomicUsize::new(0));
        let (count, seen, closed) = (connections.clone(), heads.clone(), closed_by_proxy.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream, script, seen.clone(), closed.clone()));
            }
        });
        FakeUpstream {
            addr,
            connections,
            heads,
            closed_by_proxy,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn last_head(&self) -> String {
        self.heads
            .lock()
            .expect("heads")
            .last()
            .cloned()
            .unwrap_or_default()
    }
}

async fn serve(
    mut stream: TcpStream,
    script: Script,
    heads: Arc<Mutex<Vec<String>>>,
    closed: Arc<AtomicUsize>,
) {
    let mut buf = Vec::new();
    loop {
        let end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => {
                    if buf.is_empty() {
                        closed.fetch_add(1, Ordering::SeqCst);
                    }
                    return;
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        let request_line = head.lines().next().unwrap_or("").to_string();
        heads.lock().expect("heads").push(head);
        let (mut answer, then) = script(&request_line);
        if request_line.starts_with("HEAD ")
            && let Some(at) = answer.windows(4).position(|w| w == b"\r\n\r\n")
        {
            // No body in an answer to HEAD.
            answer.truncate(at + 4);
        }
        if stream.write_all(&answer).await.is_err() {
            return;
        }
        match then {
            Then::KeepAlive => {}
            Then::Close => return,
            Then::Hang => {
                // Send nothing more; an EOF here is the proxy closing the connection.
                let mut byte = [0u8; 1];
                if let Ok(Ok(0)) =
                    tokio::time::timeout(Duration::from_secs(30), stream.read(&mut byte)).await
                {
                    closed.fetch_add(1, Ordering::SeqCst);
                }
                return;
            }
        }
    }
}

fn path_of(request_line: &str) -> &str {
    request_line.split(' ').nth(1).unwrap_or("")
}

fn scripted(request_line: &str) -> (Vec<u8>, Then) {
    let ok = |extra: &str, body: &str| {
        format!(
            "HTTP/1.1 200 OK\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    };
    match path_of(request_line) {
        "/length" => (ok("", "hello length"), Then::KeepAlive),
        "/chunked" => (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
              5\r\nhello\r\n1;ext=1\r\n \r\n5 \r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n"
                .to_vec(),
            Then::KeepAlive,
        ),
        "/close-delimited" => (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end".to_vec(),
            Then::Close,
        ),
        "/connection-close" => (ok("Connection: close\r\n", "bye"), Then::KeepAlive),
        "/early-hints" => (
            [
                &b"HTTP/1.1 103 Early Hints\r\nLink: </app.js>; rel=preload\r\n\r\n"[..],
                &ok("", "after hints"),
            ]
            .concat(),
            Then::KeepAlive,
        ),
        "/hop" => (
            ok(
                "Connection: x-private\r\nX-Private: secret\r\nKeep-Alive: timeout=5\r\nX-Kept: 1\r\n",
                "hop",
            ),
            Then::KeepAlive,
        ),
        "/length-and-chunked" => (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                .to_vec(),
            Then::KeepAlive,
        ),
        "/two-lengths" => (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello".to_vec(),
            Then::KeepAlive,
        ),
        "/bad-chunk" => (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nsmuggled"
                .to_vec(),
            Then::KeepAlive,
        ),
        "/short" => (
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this".to_vec(),
            Then::Close,
        ),
        "/extra" => (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n".to_vec(),
            Then::KeepAlive,
        ),
        "/huge-head" => (
            format!(
                "HTTP/1.1 200 OK\r\nX-Big: {}\r\nContent-Length: 0\r\n\r\n",
                "a".repeat(70 * 1024)
            )
            .into_bytes(),
            Then::KeepAlive,
        ),
        "/hang" => (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nstart".to_vec(),
            Then::Hang,
        ),
        _ => (ok("", "other"), Then::KeepAlive),
    }
}

async fn proxy_to(upstream: &FakeUpstream) -> TestProxy {
    start_proxy(vec![RouteConfig::to_upstream(
        "/",
        &upstream.addr.to_string(),
    )])
    .await
}

/// One GET on the client's kept-alive connection: status and body text.
async fn get_text(client: &reqwest::Client, url: String) -> (u16, String) {
    let response = client.get(url).send().await.expect("response");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

#[tokio::test]
async fn content_length_bodies_reuse_one_upstream_connection() {
    let upstream = FakeUpstream::start(scripted).await;
    let proxy = proxy_to(&upstream).await;
    let client = client();
    for _ in 0..20 {
        assert_eq!(
            get_text(&client, proxy.url("/length")).await,
            (200, "hello length".to_string())
        );
    }
    // One client connection → one worker thread → its pool's one upstream connection.
    assert_eq!(upstream.connections(), 1);
    // The upstream saw a proper proxied head.
    let head = upstream.last_head().to_ascii_lowercase();
    assert!(head.starts_with("get /length http/1.1\r\n"), "{head}");
    assert!(head.contains("\r\nhost: "), "{head}");
    assert!(
        head.contains("\r\nx-forwarded-for: 127.0.0.1\r\n"),
        "{head}"
    );
    assert!(!head.contains("\r\nconnection:"), "{head}");
}

#[tokio::test]
async fn chunked_bodies_are_decoded_and_the_connection_reused() {
    let upstream = FakeUpstream::start(scripted).await;
    let proxy = proxy_to(&upstream).await;
    let client = client();
    for _ in 0..3 {
        assert_eq!(
            get_text(&client, proxy.url("/chunked")).await,
            (200, "hello world".to_string())
        );
    }
    assert_eq!(upstream.connections(), 1);
}

#[tokio::test]
async fn a_close_delimited_body_is_relayed_whole_and_not_reused() {
    let upstream = FakeUpstream::start(scripted).await;
    let proxy = proxy_to(&upstream).await;
    let client = client();
    for _ in 0..2 {
        assert_eq!(
            get_text(&client, proxy.url("/close-delimited")).await,
            (200, "until the end".to_string())
        );
    }
    assert_eq!(upstream.connections(), 2);
    // `Connection: close` from the upstream: answered, then a fresh connection.
    for _ in 0..2 {
        assert_eq!(
            get_text(&client, proxy.url("/connection-close")).await,
            (200, "bye".to_string())
        );
    }
    assert_eq!(upstream.connections(), 4);
}

#[tokio::test]
async fn informational_heads_are_skipped_and_head_requests_read_no_body() {
    let upstream = FakeUpstream::start(scripted).await;
    let proxy = proxy_to(&upstream).await;
    let client = client();
    assert_eq!(
        get_text(&client, proxy.url("/early-hints")).await,
        (200, "after hints".to_string())
    );
    // HEAD: the upstream's Content-Length describes a body that is not sent.
    let head = client
        .head(proxy.url("/length"))
        .send()
        .await
        .expect("head");
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok()),
        Some("12")
    );
    assert_eq!(
        get_text(&client, proxy.url("/length")).await,
        (200, "hello length".to_string())
    );
    assert_eq!(upstream.connections(), 1);
}

#[tokio::test]
async fn hop_by_hop_response_headers_are_stripped() {
    let upstream = FakeUpstream::start(scripted).await;
    let proxy = proxy_to(&upstream).await;
    let response = client().get(proxy.url("/hop")).send().await.expect("hop");
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert!(headers.get("x-private").is_none(), "{headers:?}");
    assert!(headers.get("keep-alive").is_none(), "{headers:?}");
    assert_eq!(
        headers.get("x-kept").and_then(|v| v.to_str().ok()),
        Some("1")
    );
}

#[tokio::test]
async fn ambiguous_or_invalid_upstream_framing_is_never_relayed() {
    let upstream = FakeUpstream::start(scripted).await;
    let proxy = proxy_to(&upstream).await;
    let client = client();
    for path in ["/length-and-chunked", "/two-lengths", "/huge-head"] {
        let response = client.get(proxy.url(path)).send().await.expect(path);
        assert_eq!(response.status(), 502, "{path}");
    }
    // Each refused response's connection was dropped, not pooled.
    assert_eq!(upstream.connections(), 3);

    // The head was relayed when the bad chunk size arrives: the client's connection is cut
    // before the chunked body ends (hyper may not even have flushed the head yet), and what
    // followed is not relayed.
    let raw = raw_request(
        proxy.addr,
        b"GET /bad-chunk HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(matches!(status_of(&raw), 0 | 200), "{raw}");
    assert!(!raw.contains("smuggled"), "{raw}");
    assert!(!raw.ends_with("0\r\n\r\n"), "{raw}");
    let response = client.get(proxy.url("/bad-chunk")).send().await;
    assert!(response.is_err() || response.expect("response").text().await.is_err());

    // A body shorter than its Content-Length: cut, not padded or re-framed.
    let response = client.get(proxy.url("/short")).send().await.expect("short");
    assert!(response.text().await.is_err());

    // Bytes behind a complete response: relayed up to the length, the connection not reused.
    let before = upstream.connections();
    assert_eq!(
        get_text(&client, proxy.url("/extra")).await,
        (200, "ok".to_string())
    );
    assert_eq!(
        get_text(&client, proxy.url("/length")).await,
        (200, "hello length".to_string())
    );
    assert_eq!(upstream.connections(), before + 2);
}

/// Answers the first request of each connection, then closes it (with `close_at_once`) or reads
/// the next request and closes without answering.
async fn closing_upstream(close_at_once: bool) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = stream.read(&mut buf).await;
                let body = format!("conn {n}");
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                if !close_at_once {
                    let _ = stream.read(&mut buf).await;
                }
                // Dropped: closed without (another) answer.
            });
        }
    });
    (addr, connections)
}

#[tokio::test]
async fn a_pooled_connection_closed_by_the_upstream_is_not_used_or_is_retried() {
    let client = client();
    // Closed while idle in the pool: seen at checkout, a fresh connection is used.
    let (addr, connections) = closing_upstream(true).await;
    let proxy = start_proxy(vec![RouteConfig::to_upstream("/", &addr.to_string())]).await;
    assert_eq!(
        get_text(&client, proxy.url("/a")).await,
        (200, "conn 1".to_string())
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        get_text(&client, proxy.url("/b")).await,
        (200, "conn 2".to_string())
    );
    assert_eq!(connections.load(Ordering::SeqCst), 2);

    // Closed after reading the request: a GET (idempotent) is sent again on a fresh one…
    let (addr, connections) = closing_upstream(false).await;
    let proxy = start_proxy(vec![RouteConfig::to_upstream("/", &addr.to_string())]).await;
    assert_eq!(
        get_text(&client, proxy.url("/a")).await,
        (200, "conn 1".to_string())
    );
    assert_eq!(
        get_text(&client, proxy.url("/b")).await,
        (200, "conn 2".to_string())
    );
    assert_eq!(connections.load(Ordering::SeqCst), 2);
    // …a bodiless POST is not: the upstream may have acted on it.
    let post = client.post(proxy.url("/c")).send().await.expect("post");
    assert_eq!(post.status(), 502);
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_abandoned_body_closes_its_upstream_connection() {
    let upstream = FakeUpstream::start(scripted).await;
    let proxy = proxy_to(&upstream).await;
    {
        let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
        stream
            .write_all(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).await.expect("read");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        // The client leaves in the middle of the body.
    }
    // The proxy drops the body and with it the upstream connection: the fake upstream sees EOF.
    let mut waited = 0;
    while upstream.closed_by_proxy.load(Ordering::SeqCst) == 0 && waited < 100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    assert_eq!(upstream.closed_by_proxy.load(Ordering::SeqCst), 1);
    // And a new request opens a new connection.
    assert_eq!(
        get_text(&client(), proxy.url("/length")).await,
        (200, "hello length".to_string())
    );
    assert_eq!(upstream.connections(), 2);
}
