//! Routing and header rewriting through a real proxy to a real upstream: longest prefix on
//! segment boundaries, prefix strip, host match, X-Forwarded-*/Forwarded, hop-by-hop headers,
//! keep-alive reuse of upstream connections.

mod proxy_support;

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use proxy_support::*;
use runway::proxy::{RouteConfig, UpstreamState};
use serde_json::Value;

async fn get_json(client: &reqwest::Client, url: &str, host: Option<&str>) -> (u16, Value) {
    let mut request = client.get(url);
    if let Some(host) = host {
        request = request.header("host", host);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn longest_prefix_wins_on_segment_boundaries_with_strip_and_host_match() {
    let api = Upstream::start().await;
    let front = Upstream::start().await;
    let docs = Upstream::start().await;
    let admin = Upstream::start().await;
    let routes = vec![
        RouteConfig::to_process("/", "frontend"),
        RouteConfig::to_process("/api", "backend"),
        RouteConfig {
            strip_prefix: true,
            ..RouteConfig::to_upstream("/api/docs", &docs.addr.to_string())
        },
        RouteConfig {
            host: Some("Admin.Example".to_string()),
            ..RouteConfig::to_upstream("/api", &admin.addr.to_string())
        },
    ];
    let states = HashMap::from([
        ("frontend".to_string(), UpstreamState::Ready(front.addr)),
        ("backend".to_string(), UpstreamState::Ready(api.addr)),
    ]);
    let proxy = start_proxy_with(config(), routes, states, |_| {}).await;
    let client = client();

    // Which upstream answered is told by the connection counters.
    let cases: [(&str, Option<&str>, &Upstream, &str); 8] = [
        ("/api", None, &api, "/api"),
        ("/api/users?x=1", None, &api, "/api/users?x=1"),
        ("/apix", None, &front, "/apix"),
        ("/", None, &front, "/"),
        ("/api/docs", None, &docs, "/"),
        (
            "/api/docs/swagger.json?v=2",
            None,
            &docs,
            "/swagger.json?v=2",
        ),
        ("/api/docsx", None, &api, "/api/docsx"),
        (
            "/api/users",
            Some("admin.example:8080"),
            &admin,
            "/api/users",
        ),
    ];
    for (path, host, upstream, seen_uri) in cases {
        let (status, body) = get_json(&client, &proxy.url(path), host).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(
            body["uri"], seen_uri,
            "{path} reached the upstream as {}",
            body["uri"]
        );
        assert_eq!(
            body["upstream_port"],
            upstream.addr.port(),
            "{path} went to the wrong upstream"
        );
    }
    // The host route never answers other hosts: the generic /api route does.
    let (status, body) = get_json(&client, &proxy.url("/api/users"), Some("other.example")).await;
    assert_eq!(status, 200);
    assert_eq!(body["upstream_port"], api.addr.port());
}

#[tokio::test]
async fn forwarded_headers_are_set_and_hop_by_hop_headers_are_stripped_both_ways() {
    let upstream = Upstream::start().await;
    let proxy = start_proxy(vec![RouteConfig::to_upstream(
        "/",
        &upstream.addr.to_string(),
    )])
    .await;
    let response = client()
        .get(proxy.url("/echo"))
        .header("host", "app.example")
        .header("connection", "keep-alive, x-private")
        .header("x-private", "hop")
        .header("keep-alive", "timeout=5")
        .header("te", "trailers")
        .header("proxy-authorization", "Basic Zm9vOmJhcg==")
        .header("proxy-connection", "keep-alive")
        .header("x-forwarded-for", "203.0.113.7")
        .header("x-end-to-end", "kept")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    // Response side: what the upstream's Connection header named never reaches the client.
    assert!(response.headers().get("x-hop").is_none());
    assert!(response.headers().get("keep-alive").is_none());
    let body: Value = response.json().await.expect("json");
    let headers = &body["headers"];
    for stripped in [
        "x-private",
        "keep-alive",
        "te",
        "proxy-authorization",
        "proxy-connection",
    ] {
        assert!(
            headers.get(stripped).is_none(),
            "{stripped} reached the upstream: {headers}"
        );
    }
    assert_eq!(headers["x-end-to-end"][0], "kept");
    assert_eq!(headers["host"][0], "app.example");
    assert_eq!(headers["x-forwarded-for"][0], "203.0.113.7, 127.0.0.1");
    assert_eq!(headers["x-forwarded-host"][0], "app.example");
    assert_eq!(headers["x-forwarded-proto"][0], "http");
    assert_eq!(
        headers["forwarded"][0],
        "for=127.0.0.1;proto=http;host=\"app.example\""
    );
}

#[tokio::test]
async fn upstream_connections_are_kept_alive_and_reused() {
    let upstream = Upstream::start().await;
    let proxy = start_proxy(vec![RouteConfig::to_upstream(
        "/",
        &upstream.addr.to_string(),
    )])
    .await;
    let client = client();
    for i in 0..50 {
        let response = client
            .get(proxy.url(&format!("/echo/{i}")))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
        response.bytes().await.expect("body");
    }
    let connections = upstream.connections.load(Ordering::SeqCst);
    assert!(
        connections <= 2,
        "50 sequential requests opened {connections} upstream connections"
    );
}

#[tokio::test]
async fn a_path_without_a_route_is_a_404_and_unknown_processes_are_502() {
    let proxy = start_proxy(vec![RouteConfig::to_process("/api", "ghost")]).await;
    let response = client()
        .get(proxy.url("/elsewhere"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 404);
    let response = client()
        .get(proxy.url("/api/x"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "bad_gateway");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("ghost")
    );
}

#[tokio::test]
async fn http2_clients_with_prior_knowledge_are_served_over_h2c() {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let upstream = Upstream::start().await;
    let proxy = start_proxy(vec![RouteConfig::to_upstream(
        "/",
        &upstream.addr.to_string(),
    )])
    .await;
    let stream = tokio::net::TcpStream::connect(proxy.addr)
        .await
        .expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2c handshake");
    tokio::spawn(connection);
    for i in 0..3 {
        let request = http::Request::get(format!("http://app.example/echo/{i}"))
            .body(Empty::<bytes::Bytes>::new())
            .expect("request");
        let response = sender.send_request(request).await.expect("h2 response");
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), http::Version::HTTP_2);
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(body["uri"], format!("/echo/{i}"));
        assert_eq!(body["headers"]["host"][0], "app.example");
    }
}
