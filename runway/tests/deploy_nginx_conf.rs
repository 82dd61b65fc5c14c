//! deploy/nginx.conf stays equivalent to runway.toml: nginx itself accepts the file
//! (`nginx -t` under a temporary prefix), its locations are exactly the manifest's routes
//! (segment-exact), and each location goes to the port of the manifest process behind it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// route path → port of the process it names (development routes, as nginx.conf carries).
fn manifest_routes() -> BTreeMap<String, u16> {
    let text = std::fs::read_to_string(repo().join("runway.toml")).unwrap();
    let doc: toml::Value = toml::from_str(&text).unwrap();
    let ports: BTreeMap<String, u16> = doc["process"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| {
            Some((
                p["name"].as_str()?.to_string(),
                p.get("port")?.as_integer()? as u16,
            ))
        })
        .collect();
    doc["route"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let path = r["path"].as_str().unwrap().to_string();
            let process = r["process"].as_str().expect("routes name processes");
            (path, ports[process])
        })
        .collect()
}

/// location (normalised: `= /api` and `/api/` are both route `/api`) → upstream port.
fn nginx_locations(conf: &str) -> BTreeMap<String, BTreeSet<u16>> {
    let mut upstream_ports: BTreeMap<String, u16> = BTreeMap::new();
    let mut current_upstream: Option<String> = None;
    let mut locations: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
    let mut current_location: Option<String> = None;
    for raw in conf.lines() {
        let line = raw.split('#').next().unwrap().trim();
        if let Some(rest) = line.strip_prefix("upstream ") {
            current_upstream = Some(rest.trim_end_matches('{').trim().to_string());
        } else if let (Some(name), Some(rest)) = (&current_upstream, line.strip_prefix("server ")) {
            let port = rest
                .trim_end_matches(';')
                .rsplit(':')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            upstream_ports.insert(name.clone(), port);
        } else if let Some(rest) = line.strip_prefix("location ") {
            current_upstream = None;
            let target = rest.trim_end_matches('{').trim();
            let target = target.strip_prefix("= ").unwrap_or(target);
            current_location = Some(target.to_string());
        } else if let (Some(loc), Some(rest)) =
            (&current_location, line.strip_prefix("proxy_pass http://"))
        {
            let name = rest.trim_end_matches(';').trim_end_matches('/');
            let route = if loc == "/" {
                "/".to_string()
            } else {
                loc.trim_end_matches('/').to_string()
            };
            locations
                .entry(route)
                .or_default()
                .insert(upstream_ports[name]);
        } else if line == "}" {
            current_location = None;
            current_upstream = None;
        }
    }
    locations
}

#[test]
fn nginx_conf_locations_equal_the_manifest_routes() {
    let conf = std::fs::read_to_string(repo().join("deploy/nginx.conf")).unwrap();
    let nginx = nginx_locations(&conf);
    let manifest = manifest_routes();
    let expect: BTreeMap<String, BTreeSet<u16>> = manifest
        .into_iter()
        .map(|(path, port)| (path, BTreeSet::from([port])))
        .collect();
    assert_eq!(nginx, expect);
    // Segment-exact like runway: both the bare prefix and its subtree are declared.
    for route in ["/api", "/api-docs"] {
        assert!(conf.contains(&format!("location = {route} {{")), "{route}");
        assert!(conf.contains(&format!("location {route}/ {{")), "{route}/");
    }
    assert!(conf.contains("listen 127.0.0.1:8080;"));
}

#[test]
fn nginx_accepts_the_file() {
    let Ok(out) = Command::new("nginx").arg("-v").output() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "nginx is not installed; CI must have it (.ci/run installs nginx-light)"
        );
        eprintln!("nginx is not installed: `nginx -t` check not run");
        return;
    };
    assert!(out.status.success());
    let tmp = tempfile::tempdir().unwrap();
    let conf_dir = tmp.path().join("conf");
    std::fs::create_dir_all(conf_dir.join("deploy")).unwrap();
    std::fs::copy(
        repo().join("deploy/nginx.conf"),
        conf_dir.join("nginx.conf"),
    )
    .unwrap();
    let mime = ["/etc/nginx/mime.types", "/usr/share/nginx/mime.types"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("nginx ships mime.types");
    std::fs::copy(mime, conf_dir.join("mime.types")).unwrap();
    std::fs::create_dir_all(tmp.path().join("logs")).unwrap();
    let out = Command::new("nginx")
        .arg("-t")
        .arg("-p")
        .arg(tmp.path())
        .arg("-c")
        .arg(conf_dir.join("nginx.conf"))
        .arg("-g")
        .arg(format!(
            "pid {}; error_log {} info;",
            tmp.path().join("nginx.pid").display(),
            tmp.path().join("logs/error.log").display()
        ))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "nginx -t refused the file:\n{text}");
    assert!(text.contains("test is successful"), "{text}");
}
