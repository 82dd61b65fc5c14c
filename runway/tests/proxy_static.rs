//! The static file server on real sockets: content types, ETag/Last-Modified and 304, ranges,
//! precompressed siblings and on-the-fly compression, cache headers, SPA fallback and real
//! 404s, path traversal in many encodings, and symlinks leading out of the directory.

mod proxy_support;

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use proxy_support::*;
use runway::proxy::{ByteSize, ProxyConfig, RouteConfig};

const INDEX: &str = "<!doctype html><title>app</title><div id=root></div>";

fn app_js() -> String {
    let mut js = String::from("// app bundle\n");
    while js.len() < 20_000 {
        js.push_str("export const answer = () => 42; console.log('runway');\n");
    }
    js
}

fn write(root: &Path, relative: &str, contents: impl AsRef<[u8]>) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, contents).expect("write");
}

fn build_dist(base: &Path) {
    let dist = base.join("dist");
    write(&dist, "index.html", INDEX);
    write(&dist, "assets/app-3f9a1c.js", app_js());
    write(&dist, "assets/app-3f9a1c.js.br", "BROTLI-BYTES");
    write(&dist, "assets/app-3f9a1c.js.gz", "GZIP-BYTES");
    write(
        &dist,
        "assets/style-77aa.css",
        "body{margin:0}\n".repeat(400),
    );
    write(
        &dist,
        "assets/logo.svg",
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    );
    write(&dist, "assets/module.wasm", [0u8, 97, 115, 109, 1, 0, 0, 0]);
    write(&dist, "assets/font.woff2", [0u8; 32]);
    write(&dist, "manifest.json", "{\"name\":\"app\"}");
    write(&dist, "favicon.png", [137u8, 80, 78, 71]);
    write(&dist, "docs/index.html", "<h1>docs</h1>");
    write(base, "secret.txt", "TOPSECRET");
}

async fn static_proxy(config: ProxyConfig) -> TestProxy {
    start_proxy_with(
        config,
        vec![RouteConfig::to_static("/", "dist")],
        Default::default(),
        build_dist,
    )
    .await
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn files_get_their_content_types_and_cache_headers() {
    let proxy = static_proxy(config()).await;
    let client = client();
    let cases = [
        ("/", "text/html; charset=utf-8", "no-cache"),
        ("/index.html", "text/html; charset=utf-8", "no-cache"),
        (
            "/assets/app-3f9a1c.js",
            "javascript",
            "public, max-age=31536000, immutable",
        ),
        (
            "/assets/style-77aa.css",
            "text/css; charset=utf-8",
            "immutable",
        ),
        ("/assets/logo.svg", "image/svg+xml", "immutable"),
        ("/assets/module.wasm", "application/wasm", "immutable"),
        ("/assets/font.woff2", "font/woff2", "immutable"),
        ("/manifest.json", "application/json", ""),
        ("/favicon.png", "image/png", ""),
        ("/docs/", "text/html; charset=utf-8", "no-cache"),
    ];
    for (path, content_type, cache) in cases {
        let response = client.get(proxy.url(path)).send().await.expect("request");
        assert_eq!(response.status(), 200, "{path}");
        assert!(
            header(&response, "content-type").contains(content_type),
            "{path}: {}",
            header(&response, "content-type")
        );
        assert!(
            header(&response, "cache-control").contains(cache),
            "{path}: {}",
            header(&response, "cache-control")
        );
        if cache.is_empty() {
            assert_eq!(header(&response, "cache-control"), "", "{path}");
        }
    }
    let body = client
        .get(proxy.url("/"))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("body");
    assert_eq!(body, INDEX);
    let head = client
        .head(proxy.url("/assets/app-3f9a1c.js"))
        .send()
        .await
        .expect("head");
    assert_eq!(header(&head, "content-length"), app_js().len().to_string());
    assert!(head.bytes().await.expect("body").is_empty());
    let post = client
        .post(proxy.url("/index.html"))
        .send()
        .await
        .expect("post");
    assert_eq!(post.status(), 405);
}

#[tokio::test]
async fn conditional_requests_get_304_and_a_changed_file_a_new_etag() {
    let proxy = static_proxy(config()).await;
    let client = client();
    let first = client
        .get(proxy.url("/manifest.json"))
        .send()
        .await
        .expect("request");
    let etag = header(&first, "etag");
    let modified = header(&first, "last-modified");
    assert!(etag.starts_with('"') && !modified.is_empty());

    let by_etag = client
        .get(proxy.url("/manifest.json"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("request");
    assert_eq!(by_etag.status(), 304);
    assert!(by_etag.bytes().await.expect("body").is_empty());
    let by_date = client
        .get(proxy.url("/manifest.json"))
        .header("if-modified-since", &modified)
        .send()
        .await
        .expect("request");
    assert_eq!(by_date.status(), 304);
    let other = client
        .get(proxy.url("/manifest.json"))
        .header("if-none-match", "\"something-else\"")
        .send()
        .await
        .expect("request");
    assert_eq!(other.status(), 200);

    // A rebuilt file is picked up (the cache re-checks the disk each second) with a new ETag.
    write(
        &proxy.dir.path().join("dist"),
        "manifest.json",
        "{\"name\":\"app v2\"}",
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let changed = client
        .get(proxy.url("/manifest.json"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("request");
    assert_eq!(changed.status(), 200);
    assert_ne!(header(&changed, "etag"), etag);
    assert_eq!(changed.text().await.expect("body"), "{\"name\":\"app v2\"}");
}

#[tokio::test]
async fn ranges_are_served_from_memory_and_from_disk() {
    let js = app_js();
    // Second proxy: nothing cached in memory, so ranges come from disk.
    for config in [
        config(),
        ProxyConfig {
            static_cache_max_file: ByteSize(1024),
            ..config()
        },
    ] {
        let proxy = static_proxy(config).await;
        let client = client();
        let url = proxy.url("/assets/app-3f9a1c.js");
        let response = client
            .get(&url)
            .header("range", "bytes=0-9")
            .send()
            .await
            .expect("range");
        assert_eq!(response.status(), 206);
        assert_eq!(
            header(&response, "content-range"),
            format!("bytes 0-9/{}", js.len())
        );
        assert_eq!(response.text().await.expect("body"), &js[..10]);

        let response = client
            .get(&url)
            .header("range", "bytes=-7")
            .send()
            .await
            .expect("suffix");
        assert_eq!(response.status(), 206);
        assert_eq!(response.text().await.expect("body"), &js[js.len() - 7..]);

        let response = client
            .get(&url)
            .header("range", "bytes=100-")
            .send()
            .await
            .expect("open");
        assert_eq!(response.text().await.expect("body"), &js[100..]);

        let response = client
            .get(&url)
            .header("range", "bytes=999999-")
            .send()
            .await
            .expect("unsatisfiable");
        assert_eq!(response.status(), 416);
        assert_eq!(
            header(&response, "content-range"),
            format!("bytes */{}", js.len())
        );

        let response = client
            .get(&url)
            .header("range", "bytes=0-9")
            .header("if-range", "\"stale-etag\"")
            .send()
            .await
            .expect("if-range");
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.expect("body"), js);
    }
}

#[tokio::test]
async fn precompressed_siblings_win_and_other_text_is_compressed_on_the_fly() {
    let proxy = static_proxy(config()).await;
    let client = client();
    let url = proxy.url("/assets/app-3f9a1c.js");
    let cases = [
        ("br, gzip", "br", "BROTLI-BYTES"),
        ("gzip, deflate", "gzip", "GZIP-BYTES"),
        ("br;q=0, gzip", "gzip", "GZIP-BYTES"),
    ];
    for (accept, encoding, body) in cases {
        let response = client
            .get(&url)
            .header("accept-encoding", accept)
            .send()
            .await
            .expect("request");
        assert_eq!(header(&response, "content-encoding"), encoding, "{accept}");
        assert_eq!(header(&response, "vary"), "Accept-Encoding");
        assert!(header(&response, "content-type").contains("javascript"));
        assert_eq!(response.text().await.expect("body"), body);
    }
    let plain = client.get(&url).send().await.expect("request");
    assert_eq!(header(&plain, "content-encoding"), "");
    assert_eq!(plain.text().await.expect("body"), app_js());

    // No sibling: the CSS is gzipped by the proxy.
    let css = "body{margin:0}\n".repeat(400);
    let response = client
        .get(proxy.url("/assets/style-77aa.css"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("request");
    assert_eq!(header(&response, "content-encoding"), "gzip");
    let compressed = response.bytes().await.expect("body");
    assert!(compressed.len() < css.len() / 4);
    let mut text = String::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_string(&mut text)
        .expect("gunzip");
    assert_eq!(text, css);
    // Images are not compressed.
    let response = client
        .get(proxy.url("/favicon.png"))
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .expect("request");
    assert_eq!(header(&response, "content-encoding"), "");
}

#[tokio::test]
async fn spa_fallback_serves_index_for_client_routes_and_404_for_missing_assets() {
    let proxy = static_proxy(config()).await;
    let client = client();
    let html = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    for path in ["/users/42", "/settings", "/deep/client/route"] {
        let response = client
            .get(proxy.url(path))
            .header("accept", html)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(header(&response, "cache-control"), "no-cache");
        assert_eq!(response.text().await.expect("body"), INDEX);
    }
    let response = client
        .get(proxy.url("/assets/missing-123.js"))
        .header("accept", html)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 404);
    let response = client
        .get(proxy.url("/users/42"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn traversal_in_any_encoding_never_leaves_the_directory() {
    let proxy = static_proxy(config()).await;
    let attempts = [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/..%2fsecret.txt",
        "/..%2Fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/.%2e/secret.txt",
        "/%2e./secret.txt",
        "/..%5csecret.txt",
        "/..%5Csecret.txt",
        "/..\\secret.txt",
        "/%252e%252e/secret.txt",
        "/%c0%ae%c0%ae/secret.txt",
        "/..%c0%afsecret.txt",
        "/%e0%80%ae%e0%80%ae/secret.txt",
        "/assets/../../secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/./../secret.txt",
        "//../secret.txt",
        "/%2e%2e%00/secret.txt",
        "/index.html%00.js",
        "/..;/secret.txt",
        "/%2e%2e%5c%2e%2e%5csecret.txt",
    ];
    assert!(attempts.len() >= 15);
    for path in attempts {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\nConnection: close\r\n\r\n"
        );
        let answer = raw_request(proxy.addr, request.as_bytes(), Duration::from_secs(10)).await;
        let status = status_of(&answer);
        assert!(
            !answer.contains("TOPSECRET"),
            "{path} leaked the file: {answer}"
        );
        assert!(
            matches!(status, 400 | 403 | 404),
            "{path}: expected a refusal, got {status}: {answer}"
        );
    }
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_leading_out_are_refused_and_inside_ones_followed() {
    let proxy = static_proxy(config()).await;
    let base = proxy.dir.path();
    let dist = base.join("dist");
    std::os::unix::fs::symlink(base.join("secret.txt"), dist.join("escape.txt")).expect("symlink");
    std::os::unix::fs::symlink(base, dist.join("outside")).expect("symlink");
    std::os::unix::fs::symlink("assets/app-3f9a1c.js", dist.join("alias.js")).expect("symlink");
    let client = client();
    for path in ["/escape.txt", "/outside/secret.txt"] {
        let response = client.get(proxy.url(path)).send().await.expect("request");
        assert_eq!(response.status(), 403, "{path}");
        assert!(!response.text().await.expect("body").contains("TOPSECRET"));
    }
    let response = client
        .get(proxy.url("/alias.js"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("body"), app_js());
}

/// 64 clients asking at once for a cold, compressible 1 MB asset: it is read and compressed
/// once, not once per client (which took hundreds of MB on 64 blocking threads).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_requests_for_a_cold_asset_loads_it_once_with_bounded_memory() {
    const BUDGET_KIB: u64 = 64 * 1024;
    let proxy = static_proxy(config()).await;
    let mut bundle = String::with_capacity(1 << 20);
    let mut i = 0u64;
    while bundle.len() < 1 << 20 {
        // Varied text, so compressing it is real work (as for a real bundle).
        bundle.push_str(&format!(
            "export const f{i} = (a) => a * {} + '{:x}';\n",
            i * 7919 % 1000,
            i.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ));
        i += 1;
    }
    write(
        &proxy.dir.path().join("dist"),
        "assets/vendor-big.js",
        &bundle,
    );
    let (rss_before, _) = rss_kib();
    let client = client();
    let mut requests = Vec::new();
    for _ in 0..64 {
        let client = client.clone();
        let url = proxy.url("/assets/vendor-big.js");
        requests.push(tokio::spawn(async move {
            let response = client
                .get(url)
                .header("accept-encoding", "br, gzip")
                .send()
                .await
                .expect("request");
            let status = response.status();
            let encoding = header(&response, "content-encoding");
            let body = response.bytes().await.expect("body");
            (status, encoding, body.len())
        }));
    }
    let mut sizes = std::collections::HashSet::new();
    for request in requests {
        let (status, encoding, len) = request.await.expect("task");
        assert_eq!(status, 200);
        assert_eq!(encoding, "br");
        sizes.insert(len);
    }
    assert_eq!(sizes.len(), 1, "clients got different bodies: {sizes:?}");
    let (_, peak) = rss_kib();
    assert!(
        peak < rss_before + BUDGET_KIB,
        "RSS peaked at {peak} KiB (from {rss_before} KiB) serving one cold asset to 64 clients"
    );
}

/// Cached files of 64 KiB and more go out with sendfile from the file they were read from, at
/// the offset of the bytes hyper is writing: whole, in ranges, on a kept-alive connection.
#[tokio::test]
async fn a_big_cached_file_is_sent_byte_for_byte_whole_and_in_ranges() {
    let big: Vec<u8> = (0..300_001u32).map(|i| (i * 7 % 251) as u8).collect();
    let contents = big.clone();
    let proxy = start_proxy_with(
        config(),
        vec![RouteConfig::to_static("/", "dist")],
        Default::default(),
        move |base| write(&base.join("dist"), "assets/big.bin", &contents),
    )
    .await;
    let client = client();
    let url = proxy.url("/assets/big.bin");
    for _ in 0..3 {
        let response = client.get(&url).send().await.expect("whole");
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "content-length"), big.len().to_string());
        assert!(response.bytes().await.expect("body") == big[..]);
    }
    for (range, expected) in [
        ("bytes=100000-250000", &big[100_000..=250_000]),
        ("bytes=70000-", &big[70_000..]),
        ("bytes=-65537", &big[big.len() - 65_537..]),
        ("bytes=5-9", &big[5..=9]),
    ] {
        let response = client
            .get(&url)
            .header("range", range)
            .send()
            .await
            .expect("range");
        assert_eq!(response.status(), 206, "{range}");
        assert!(response.bytes().await.expect("body") == expected, "{range}");
    }
    // A burst on kept-alive connections: every body intact.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = client.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let mut bodies = Vec::new();
            for _ in 0..5 {
                let response = client.get(&url).send().await.expect("burst");
                bodies.push(response.bytes().await.expect("body"));
            }
            bodies
        }));
    }
    for task in tasks {
        for body in task.await.expect("task") {
            assert!(body == big[..]);
        }
    }
}
