//! Starting in dependency order behind readiness, status that matches /proc, stop/start,
//! `down`, descriptors, and the foreground `runway up` with Ctrl-C.

mod supervisor_support;

use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::process::Stdio;
use std::time::Duration;

use runway::supervisor::ProcState;
use supervisor_support::*;

fn start_ms(path: &std::path::Path) -> u128 {
    let lines = read_lines(path);
    let first = lines
        .first()
        .unwrap_or_else(|| panic!("{} is empty", path.display()));
    first.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn dependencies_start_first_and_gate_on_readiness() {
    let (db_port, api_port) = (free_port(), free_port());
    let project = Project::new(&format!(
        r#"
[[process]]
name = "api"
command = ["{{testproc}}", "--append-start", "{{dir}}/api.starts"]
port = {api_port}
depends_on = {{ db = "healthy" }}
readiness = {{ http = "/health" }}

[[process]]
name = "db"
command = ["{{testproc}}", "--ready-after", "700", "--append-start", "{{dir}}/db.starts"]
port = {db_port}

[[process]]
name = "migrate"
command = ["{{testproc}}", "--crash-after", "100", "--exit-code", "0", "--append-start", "{{dir}}/migrate.starts"]
restart = "never"
depends_on = {{ db = "started" }}

[[process]]
name = "worker"
command = ["{{testproc}}", "--append-start", "{{dir}}/worker.starts"]
depends_on = {{ migrate = "completed" }}
"#
    ));
    project.up();
    let status = project.status();
    let order: Vec<&str> = status.processes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(order, ["db", "api", "migrate", "worker"]);

    // `up --detach` returns once everything settled: the api only after db's port answered.
    let api = project.process("api");
    assert_eq!(api.state, ProcState::Ready);
    let db_started = start_ms(&project.path("db.starts"));
    let api_started = start_ms(&project.path("api.starts"));
    assert!(
        api_started >= db_started + 700,
        "api started {} ms after db, before db was ready",
        api_started as i128 - db_started as i128
    );
    // worker waited for migrate to complete with status 0.
    project.wait_for("worker", Duration::from_secs(10), |p| {
        p.state == ProcState::Ready
    });
    let migrate = project.process("migrate");
    assert_eq!(migrate.state, ProcState::Stopped);
    assert_eq!(migrate.last_exit.as_deref(), Some("exit code 0"));
    assert!(
        start_ms(&project.path("worker.starts")) >= start_ms(&project.path("migrate.starts")) + 100
    );
    assert_eq!(http_get(api_port, "/health").map(|r| r.0), Some(200));
}

#[test]
fn status_json_matches_reality() {
    let port = free_port();
    let project = Project::new(&format!(
        r#"
[[process]]
name = "web"
command = ["{{testproc}}", "--alloc-mb", "20"]
port = {port}

[[process]]
name = "idle"
command = ["{{testproc}}", "--hang"]
autostart = false
"#
    ));
    project.up();
    let status = project.status();
    assert!(status.daemon.pid > 0 && pid_alive(status.daemon.pid));
    assert_eq!(status.daemon.protocol, 1);
    let web = status.processes.iter().find(|p| p.name == "web").unwrap();
    let pid = web.pid.expect("web has a pid");
    assert!(pid_alive(pid));
    // Its own process group, whose leader is the pid shown.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    assert_eq!(fields[2], pid.to_string(), "not a process group leader");
    assert_eq!(web.port, Some(port));
    assert_eq!(web.state, ProcState::Ready);
    assert!(
        web.rss_bytes.unwrap() >= 20 * 1024 * 1024,
        "rss {:?}",
        web.rss_bytes
    );
    let (code, body) = http_get(port, "/pid").expect("web answers");
    assert_eq!(code, 200);
    assert_eq!(body.trim(), pid.to_string());
    let idle = status.processes.iter().find(|p| p.name == "idle").unwrap();
    assert_eq!(idle.state, ProcState::Stopped);
    assert_eq!(idle.pid, None);

    // The human table shows the same.
    let table = project.ok(&["status"]);
    assert!(table.contains("web") && table.contains(&pid.to_string()) && table.contains("ready"));
}

#[test]
fn stop_start_and_down_leave_nothing_running() {
    let port = free_port();
    let project = Project::new(&format!(
        r#"
[[process]]
name = "web"
command = ["{{testproc}}", "--grandchild"]
port = {port}
stop_timeout = "300ms"
"#
    ));
    project.up();
    let pid = project.process("web").pid.unwrap();
    let stdout = project.ok(&["stop", "web"]);
    assert!(stdout.contains("stopped"), "{stdout}");
    assert!(!pid_alive(pid));
    assert_eq!(project.process("web").state, ProcState::Stopped);
    assert!(
        http_get(port, "/health").is_none(),
        "still serving after stop"
    );

    project.ok(&["start", "web"]);
    let row = project.process("web");
    assert_eq!(row.state, ProcState::Ready);
    let pid2 = row.pid.unwrap();
    assert_ne!(pid2, pid);
    let daemon = project.daemon_pid().unwrap();

    project.ok(&["down"]);
    assert!(!pid_alive(pid2));
    assert!(!pid_alive(daemon), "daemon still running after down");
    assert!(!project.home.join("daemon.sock").exists());
    // The grandchild ignored SIGTERM and was killed with its group.
    let leftovers: Vec<u32> = pids_with_arg("--hang --ignore-sigterm")
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/environ"))
                .map(|e| e.contains(&project.home.display().to_string()))
                .unwrap_or(false)
        })
        .collect();
    assert!(leftovers.is_empty(), "grandchildren left: {leftovers:?}");
    let status = project.run(&["status"]);
    assert!(!status.status.success());
    assert!(String::from_utf8_lossy(&status.stderr).contains("runway up"));
}

#[test]
fn children_inherit_no_stray_descriptors() {
    // A descriptor without close-on-exec in the CLI's (and so the daemon's) environment.
    let leak = std::fs::File::open("/proc/self/status").unwrap();
    let fd = leak.as_raw_fd();
    let target = 57;
    // SAFETY: dup2 onto an unused descriptor number; we close it below.
    assert_eq!(unsafe { libc::dup2(fd, target) }, target);
    let project = Project::new(
        r#"
[[process]]
name = "quiet"
command = ["{testproc}", "--hang"]
"#,
    );
    let out = project.run(&["up", "--detach"]);
    // SAFETY: closing the descriptor we created.
    unsafe { libc::close(target) };
    assert!(out.status.success());
    let pid = project.process("quiet").pid.unwrap();
    let mut fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    fds.sort();
    assert_eq!(fds, ["0", "1", "2"], "child has extra descriptors");
    let stdin = std::fs::read_link(format!("/proc/{pid}/fd/0")).unwrap();
    assert_eq!(stdin.to_string_lossy(), "/dev/null");
}

#[test]
fn foreground_up_prints_changes_and_ctrl_c_stops_everything() {
    let port = free_port();
    let project = Project::new(&format!(
        r#"
[[process]]
name = "web"
command = ["{{testproc}}"]
port = {port}

[[process]]
name = "stubborn"
command = ["{{testproc}}", "--ignore-sigterm"]
stop_timeout = "500ms"
depends_on = ["web"]
"#
    ));
    let mut child = project
        .command(&["up"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    while let Some(Ok(line)) = lines.next() {
        seen.push(line.clone());
        if line.contains("stubborn") && line.contains("ready") {
            break;
        }
    }
    assert!(
        seen.iter()
            .any(|l| l.contains("web") && l.contains("ready")),
        "{seen:?}"
    );
    let web = project.process("web").pid.unwrap();
    let stubborn = project.process("stubborn").pid.unwrap();
    // SAFETY: signalling the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert!(status.success(), "foreground up exited with {status}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");
    assert!(!pid_alive(web));
    assert!(!pid_alive(stubborn), "SIGTERM-ignoring child survived");
    // Reverse dependency order: stubborn (depends on web) stopped before web.
    let log = project.daemon_log();
    let stubborn_stopped = log.find("stubborn: stopped").expect("stubborn stop logged");
    let web_stopping = log.find("web: stopping").expect("web stop logged");
    assert!(stubborn_stopped < web_stopping, "{log}");
    assert!(log.contains("stubborn: did not stop within 500 ms of SIGTERM; sending SIGKILL"));
}
