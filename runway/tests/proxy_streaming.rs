//! Bodies stream through the proxy both ways with bounded memory: a 1 GiB upload and a 1 GiB
//! download pass while this process's RSS (proxy, upstream and client all live here) stays far
//! below the body size, and an endless server-sent-events stream arrives event by event.

mod proxy_support;

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use proxy_support::*;
use runway::proxy::{ByteSize, RouteConfig};

const GIB: u64 = 1 << 30;
/// Growth allowed while a 1 GiB body passes: buffers and allocator slack, not the body.
const RSS_BUDGET_KIB: u64 = 96 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_gib_upload_and_download_stream_with_bounded_memory() {
    let upstream = Upstream::start().await;
    let routes = vec![RouteConfig {
        max_body: Some(ByteSize(0)),
        ..RouteConfig::to_upstream("/", &upstream.addr.to_string())
    }];
    let proxy = start_proxy_with(config(), routes, Default::default(), |_| {}).await;
    let client = client();
    let (rss_before, _) = rss_kib();

    // Upload: 1 GiB generated on the fly in 256 KiB chunks, chunked encoding.
    let chunk = Bytes::from(vec![b'u'; 256 * 1024]);
    let chunks = GIB / chunk.len() as u64;
    let body =
        futures_util::stream::iter(0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
    let response = client
        .post(proxy.url("/upload"))
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("count"), GIB.to_string());
    let (rss_after_upload, _) = rss_kib();
    assert!(
        rss_after_upload < rss_before + RSS_BUDGET_KIB,
        "RSS grew from {rss_before} KiB to {rss_after_upload} KiB during a 1 GiB upload"
    );

    // Download: 1 GiB counted as it arrives.
    let response = client
        .get(proxy.url(&format!("/download?bytes={GIB}")))
        .send()
        .await
        .expect("download");
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    let mut total = 0u64;
    let mut peak = 0u64;
    while let Some(piece) = stream.next().await {
        total += piece.expect("piece").len() as u64;
        if total % (64 << 20) < 65536 {
            peak = peak.max(rss_kib().0);
        }
    }
    assert_eq!(total, GIB);
    let (rss_after_download, _) = rss_kib();
    let worst = peak.max(rss_after_download);
    assert!(
        worst < rss_before + RSS_BUDGET_KIB,
        "RSS grew from {rss_before} KiB to {worst} KiB during a 1 GiB download"
    );
}

#[tokio::test]
async fn an_endless_event_stream_arrives_event_by_event() {
    let upstream = Upstream::start().await;
    let proxy = start_proxy(vec![RouteConfig::to_upstream(
        "/",
        &upstream.addr.to_string(),
    )])
    .await;
    let response = client()
        .get(proxy.url("/sse"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("sse");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut stream = response.bytes_stream();
    let mut text = String::new();
    // The stream never ends: reading 50 events proves they are not buffered until the end.
    while text.matches("\n\n").count() < 50 {
        let piece = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("an event within 10 s")
            .expect("stream open")
            .expect("piece");
        text.push_str(&String::from_utf8_lossy(&piece));
    }
    assert!(text.starts_with("data: tick 0\n\n"), "{text}");
    assert!(text.contains("data: tick 49\n\n"));
}
