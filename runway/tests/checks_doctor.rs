//! `runway doctor`, one test per row of the seed's troubleshooting table, each with its fault
//! planted for real: a foreign program on our port, a process that does not listen, a route to
//! a dead port, PostgreSQL refusing / rejecting / missing the database, a full disk, missing
//! frontend dependencies, and the mode rules.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use runway::checks::doctor::{self, DiskLimits, DoctorInput, Finding};
use runway::checks::mode::Mode;
use runway::checks::topology::{LiveProcess, ProcessView, RouteTarget, RouteView, Topology};

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn input(mode: Mode, backend_env: BTreeMap<String, String>, topology: Topology) -> DoctorInput {
    DoctorInput {
        mode,
        backend_env,
        topology,
        live: None,
        daemon_pid: None,
        frontend_dir: None,
        disk_path: std::env::temp_dir(),
        disk_limits: DiskLimits {
            min_free_ratio: 0.0,
            min_free_bytes: 0,
        },
    }
}

fn ids(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.id.as_str()).collect()
}

/// A port nobody listens on (bound, then released).
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A foreign program (node) listening on a fresh port; killed on drop.
struct Foreign {
    child: Child,
    port: u16,
}

impl Foreign {
    fn start() -> Self {
        let mut child = Command::new("node")
            .args([
                "-e",
                "require('net').createServer().listen(0,'127.0.0.1',function(){console.log(this.address().port)})",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("node is installed (Node 20)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("node printed its port");
        Self { child, port }
    }
}

impl Drop for Foreign {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn backend_topology(port: u16) -> Topology {
    Topology {
        proxy: None,
        routes: vec![RouteView {
            path: "/api".into(),
            target: RouteTarget::Process("backend".into()),
        }],
        processes: vec![ProcessView {
            name: "backend".into(),
            port: Some(port),
            ready_path: Some("/api/ready".into()),
            enabled: true,
        }],
    }
}

#[tokio::test]
async fn secret_key_missing_in_dev_stage() {
    let f = doctor::diagnose(&input(
        Mode::DevStage,
        env(&[("DATABASE_URL", "sqlite://x")]),
        Topology::default(),
    ))
    .await;
    assert_eq!(ids(&f), ["secret-key-missing"]);
    assert!(f[0].problem.contains("SECRET_KEY"));
    assert!(f[0].fix.contains("openssl rand"));
}

#[tokio::test]
async fn production_without_allowed_origins() {
    let key = "k".repeat(40);
    let f = doctor::diagnose(&input(
        Mode::Production,
        env(&[("SECRET_KEY", &key), ("DATABASE_URL", "sqlite://x")]),
        Topology::default(),
    ))
    .await;
    assert_eq!(ids(&f), ["allowed-origins-missing"]);
    assert!(f[0].problem.contains("ALLOWED_ORIGINS must be configured"));
    assert!(!format!("{f:?}").contains(&key), "the key is never shown");
}

#[tokio::test]
async fn database_credentials_missing() {
    let f = doctor::diagnose(&input(
        Mode::DevStage,
        env(&[("SECRET_KEY", "x"), ("DB_HOST", "127.0.0.1")]),
        Topology::default(),
    ))
    .await;
    assert_eq!(ids(&f), ["db-credentials-missing"]);
    assert!(
        f[0].problem.contains(
            "Missing required database credentials in dev_stage: DB_PORT, DB_NAME, DB_USER, DB_PASS"
        ),
        "{}",
        f[0].problem
    );
}

/// The test PostgreSQL: TEST_DATABASE_URL (CI) or the local server's superuser.
fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into())
}

fn pg_env(url: &str) -> BTreeMap<String, String> {
    let p = runway::db::pg::PgParams::from_url(url).unwrap();
    env(&[
        ("DB_HOST", &p.host),
        ("DB_PORT", &p.port.to_string()),
        ("DB_NAME", &p.database),
        ("DB_USER", &p.user),
        ("DB_PASS", p.password.as_deref().unwrap_or("")),
    ])
}

#[tokio::test]
async fn postgres_refused_auth_failed_and_database_missing_are_told_apart() {
    let good = pg_env(&admin_url());
    assert_eq!(
        doctor::check_database(&good).await,
        None,
        "the test PostgreSQL must accept its own credentials"
    );

    let mut refused = good.clone();
    refused.insert("DB_HOST".into(), "127.0.0.1".into());
    refused.insert("DB_PORT".into(), dead_port().to_string());
    let f = doctor::check_database(&refused).await.unwrap();
    assert_eq!(f.id, "db-refused");
    assert!(f.problem.contains("refuses connections"), "{}", f.problem);

    let mut auth = good.clone();
    auth.insert("DB_PASS".into(), "definitely-not-the-password".into());
    let f = doctor::check_database(&auth).await.unwrap();
    assert_eq!(f.id, "db-auth-failed");
    assert!(!f.problem.contains("definitely-not-the-password"));
    assert!(!f.fix.contains("definitely-not-the-password"));

    let mut missing = good.clone();
    let name = format!("runway_doctor_missing_{}", std::process::id());
    missing.insert("DB_NAME".into(), name.clone());
    let f = doctor::check_database(&missing).await.unwrap();
    assert_eq!(f.id, "db-missing");
    assert!(f.problem.contains(&name));
}

#[tokio::test]
async fn frontend_dependencies_not_installed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("package.json"), "{}").unwrap();
    let mut i = input(Mode::Development, env(&[]), Topology::default());
    i.frontend_dir = Some(dir.path().to_path_buf());
    let f = doctor::diagnose(&i).await;
    assert_eq!(ids(&f), ["frontend-deps-missing"]);
    assert!(f[0].problem.contains("vite: not found"));
    assert!(f[0].fix.contains("npm ci"));

    // Installed: the finding goes away.
    let bin = dir.path().join("node_modules/.bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("vite"), "#!/bin/sh\n").unwrap();
    assert!(doctor::diagnose(&i).await.is_empty());
}

#[tokio::test]
async fn port_held_by_another_program_names_it_and_its_pid() {
    let foreign = Foreign::start();
    let f = doctor::diagnose(&input(
        Mode::Development,
        env(&[]),
        backend_topology(foreign.port),
    ))
    .await;
    assert_eq!(ids(&f), ["port-held"], "{f:?}");
    let pid = foreign.child.id();
    assert!(
        f[0].problem.contains(&format!(
            "port {} (needed by backend) is held by another program: node (pid {pid})",
            foreign.port
        )),
        "{}",
        f[0].problem
    );
    assert!(f[0].fix.contains(&format!("kill {pid}")));

    // The same listener, known to the daemon as the backend: not a finding.
    let mut ours = input(Mode::Development, env(&[]), backend_topology(foreign.port));
    ours.live = Some(vec![LiveProcess {
        name: "backend".into(),
        state: "ready".into(),
        pid: Some(pid as i32),
    }]);
    assert!(doctor::diagnose(&ours).await.is_empty());
}

#[tokio::test]
async fn a_process_that_does_not_listen_on_its_port() {
    let port = dead_port();
    let foreign = Foreign::start(); // listens, but on another port
    let mut i = input(Mode::Development, env(&[]), backend_topology(port));
    i.topology.routes.clear();
    i.live = Some(vec![LiveProcess {
        name: "backend".into(),
        state: "starting".into(),
        pid: Some(foreign.child.id() as i32),
    }]);
    let f = doctor::diagnose(&i).await;
    assert_eq!(ids(&f), ["process-not-listening"], "{f:?}");
    assert!(
        f[0].problem.contains(&format!(
            "does not listen on its port {port} (it listens on :{})",
            foreign.port
        )),
        "{}",
        f[0].problem
    );
}

#[tokio::test]
async fn a_route_to_a_port_nobody_serves_is_the_502_case() {
    let port = dead_port();
    let mut topo = backend_topology(port);
    topo.routes.push(RouteView {
        path: "/legacy".into(),
        target: RouteTarget::Upstream(format!("127.0.0.1:{}", dead_port())),
    });
    let f = doctor::diagnose(&input(Mode::Development, env(&[]), topo)).await;
    assert_eq!(ids(&f), ["route-502", "route-502"], "{f:?}");
    assert!(
        f[0].problem
            .contains(&format!("route /api goes to backend on :{port}"))
    );
    assert!(f[0].problem.contains("requests get 502"));

    let dir = tempfile::tempdir().unwrap();
    let topo = Topology {
        proxy: Some("127.0.0.1:1".parse::<SocketAddr>().unwrap()),
        routes: vec![RouteView {
            path: "/".into(),
            target: RouteTarget::Static(dir.path().join("dist")),
        }],
        processes: vec![],
    };
    let f = doctor::check_routes(&topo, &[]);
    assert_eq!(ids(&f), ["static-missing"]);
}

struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap().keep();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .expect("mount exists");
        assert!(
            status.success(),
            "mounting a tmpfs needs root (CAP_SYS_ADMIN); the disk-full test plants a real full disk"
        );
        Self(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn disk_nearly_full() {
    let disk = Tmpfs::mount("4m");
    let limits = DiskLimits {
        min_free_ratio: 0.05,
        min_free_bytes: 0,
    };
    assert_eq!(doctor::check_disk(disk.path(), limits), None);
    // Fill it: write until the filesystem refuses, then the check must see it.
    let mut f = std::fs::File::create(disk.path().join("filler")).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while std::io::Write::write_all(&mut f, &chunk).is_ok() {}
    drop(f);
    let finding = doctor::check_disk(disk.path(), limits).expect("a full disk is found");
    assert_eq!(finding.id, "disk-nearly-full");
    assert!(
        finding.problem.contains("free of 4.0 MiB"),
        "{}",
        finding.problem
    );
}

#[tokio::test]
async fn a_healthy_setup_has_no_findings_and_renders_so() {
    let sock = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    let mut i = input(Mode::Development, env(&[]), backend_topology(port));
    i.daemon_pid = Some(std::process::id() as i32);
    let f = doctor::diagnose(&i).await;
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(doctor::render(&f), "no problems found\n");
}
