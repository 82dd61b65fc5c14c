//! `runway verify` against real HTTP servers: the plan derived from the topology (the seed's
//! 1.6 list), all-pass, and each kind of failure shown on its own line with a non-ok report.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use runway::checks::topology::{LiveProcess, ProcessView, RouteTarget, RouteView, Topology};
use runway::checks::verify;

async fn serve(app: Router) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    addr
}

/// An app that answers like the stack does: `/`, `/api/ready`, `/api-docs/`.
fn app(ready: StatusCode) -> Router {
    Router::new()
        .route("/", get(|| async { "<html>frontend</html>" }))
        .route("/api/ready", get(move || async move { (ready, "ready?") }))
        .route("/api-docs/", get(|| async { "swagger" }))
}

fn topology(proxy: SocketAddr, frontend: u16, backend: u16) -> Topology {
    Topology {
        proxy: Some(proxy),
        routes: vec![
            RouteView {
                path: "/".into(),
                target: RouteTarget::Process("frontend".into()),
            },
            RouteView {
                path: "/api".into(),
                target: RouteTarget::Process("backend".into()),
            },
            RouteView {
                path: "/api-docs".into(),
                target: RouteTarget::Process("backend".into()),
            },
        ],
        processes: vec![
            ProcessView {
                name: "backend".into(),
                port: Some(backend),
                ready_path: Some("/api/ready".into()),
                enabled: true,
            },
            ProcessView {
                name: "frontend".into(),
                port: Some(frontend),
                ready_path: Some("/".into()),
                enabled: true,
            },
            ProcessView {
                name: "tunnel".into(),
                port: None,
                ready_path: None,
                enabled: false,
            },
        ],
    }
}

fn live(backend_state: &str) -> Vec<LiveProcess> {
    vec![
        LiveProcess {
            name: "backend".into(),
            state: backend_state.into(),
            pid: Some(1),
        },
        LiveProcess {
            name: "frontend".into(),
            state: "ready".into(),
            pid: Some(2),
        },
    ]
}

#[tokio::test]
async fn the_plan_is_the_seeds_checklist() {
    let topo = topology("127.0.0.1:8080".parse().unwrap(), 3001, 3000);
    let plan: Vec<(String, String)> = verify::plan(&topo)
        .into_iter()
        .map(|c| (c.name, c.url))
        .collect();
    let expect = [
        ("proxy /", "http://127.0.0.1:8080/"),
        ("proxy /api", "http://127.0.0.1:8080/api/ready"),
        ("proxy /api-docs", "http://127.0.0.1:8080/api-docs/"),
        ("backend direct", "http://127.0.0.1:3000/api/ready"),
        ("frontend direct", "http://127.0.0.1:3001/"),
    ];
    let expect: Vec<(String, String)> = expect
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(plan, expect);
}

#[tokio::test]
async fn everything_answering_passes_with_a_line_per_check() {
    let proxy = serve(app(StatusCode::OK)).await;
    let front = serve(app(StatusCode::OK)).await;
    let back = serve(app(StatusCode::OK)).await;
    let topo = topology(proxy, front.port(), back.port());
    let live = live("ready");
    let report = verify::run(
        &verify::plan(&topo),
        Some(&live),
        &topo,
        Duration::from_secs(5),
    )
    .await;
    assert!(report.ok, "{}", report.render());
    assert_eq!(
        report.checks.len(),
        7,
        "5 HTTP checks + 2 enabled processes"
    );
    let text = report.render();
    assert!(text.contains("all 7 checks passed"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("ok") && l.contains("proxy /api-docs") && l.contains("200")),
        "{text}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["checks"][0]["status"], 200);
}

#[tokio::test]
async fn each_failure_is_named_and_fails_the_report() {
    let proxy = serve(app(StatusCode::SERVICE_UNAVAILABLE)).await;
    let front = serve(app(StatusCode::OK)).await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let topo = topology(proxy, front.port(), dead);
    let live = live("backoff");
    let report = verify::run(
        &verify::plan(&topo),
        Some(&live),
        &topo,
        Duration::from_secs(5),
    )
    .await;
    assert!(!report.ok);
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(failed, ["proxy /api", "backend direct", "process backend"]);
    let text = report.render();
    assert!(text.contains("3 of 7 checks failed"), "{text}");
    let api = report
        .checks
        .iter()
        .find(|c| c.name == "proxy /api")
        .unwrap();
    assert_eq!(api.status, Some(503));
    let direct = report
        .checks
        .iter()
        .find(|c| c.name == "backend direct")
        .unwrap();
    assert!(
        direct.detail.contains("connection refused"),
        "{}",
        direct.detail
    );
    let state = report
        .checks
        .iter()
        .find(|c| c.name == "process backend")
        .unwrap();
    assert_eq!(state.detail, "backoff");

    // No daemon: a failed check of its own, with what to do.
    let report = verify::run(&[], None, &topo, Duration::from_secs(1)).await;
    assert!(!report.ok);
    assert!(report.render().contains("runway up"));
}
