//! Restart policy: crash → restart with growing backoff (reset after a healthy period),
//! crash loop → errored with the reason, liveness failure → restart, max_memory → restart,
//! `restart = never / on-failure`, and `kill -9` of a child.

mod supervisor_support;

use std::time::Duration;

use runway::supervisor::ProcState;
use supervisor_support::*;

/// Start times (unix ms) recorded by the test program, one line per start.
fn starts(path: &std::path::Path) -> Vec<u128> {
    read_lines(path)
        .iter()
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect()
}

#[test]
fn crashes_restart_with_growing_backoff_until_the_crash_loop_limit() {
    let project = Project::new(
        r#"
[[process]]
name = "crashy"
command = ["{testproc}", "--crash-after", "50", "--exit-code", "3", "--append-start", "{dir}/starts"]
backoff = { initial = "200ms", multiplier = 2.0, max = "5s", reset_after = "60s" }
crash_loop = { max_restarts = 4, window = "60s" }
"#,
    );
    project.ok(&["up", "--detach"]);
    let row = project.wait_for("crashy", Duration::from_secs(30), |p| {
        p.state == ProcState::Errored
    });
    let reason = row.reason.clone().unwrap_or_default();
    assert!(reason.contains("crash loop"), "{reason}");
    assert!(reason.contains("exit code 3"), "{reason}");
    assert!(reason.contains("runway restart crashy"), "{reason}");
    assert_eq!(row.restarts, 4);
    assert_eq!(row.last_exit.as_deref(), Some("exit code 3"));
    let times = starts(&project.path("starts"));
    assert_eq!(
        times.len(),
        5,
        "1 start + 4 restarts, then no more: {times:?}"
    );
    // The gaps grow: immediate, then 200 ms, 400 ms, 800 ms of backoff on top of the 50 ms run.
    let gaps: Vec<u128> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps[1] >= 250, "second restart without backoff: {gaps:?}");
    assert!(gaps[2] >= 450, "{gaps:?}");
    assert!(gaps[3] >= 850, "{gaps:?}");
    assert!(gaps[3] > gaps[1], "backoff did not grow: {gaps:?}");
    // Errored stays errored: no more starts.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(starts(&project.path("starts")).len(), 5);
    // The status table shows why.
    let table = project.ok(&["status"]);
    assert!(
        table.contains("errored") && table.contains("crash loop"),
        "{table}"
    );
    // A manual restart gives it a fresh series.
    project.run(&["restart", "crashy"]);
    assert!(starts(&project.path("starts")).len() >= 6);
}

#[test]
fn backoff_resets_after_a_healthy_period() {
    let project = Project::new(
        r#"
[[process]]
name = "flaky"
command = ["{testproc}", "--crash-after", "700", "--append-start", "{dir}/starts"]
backoff = { initial = "30s", multiplier = 4.0, max = "120s", reset_after = "500ms" }
crash_loop = { max_restarts = 100, window = "60s" }
"#,
    );
    project.up();
    assert!(wait_until(Duration::from_secs(20), || starts(
        &project.path("starts")
    )
    .len()
        >= 5));
    let times = starts(&project.path("starts"));
    // Each run lasted longer than reset_after, so every restart is the first of its series:
    // immediate, never the 30 s / 120 s backoff (which would also have kept the 5 starts from
    // happening within the wait above).
    for gap in times.windows(2).map(|w| w[1] - w[0]) {
        assert!(gap < 30_000, "backoff was not reset: gaps {times:?}");
    }
    assert_ne!(project.process("flaky").state, ProcState::Errored);
}

#[test]
fn kill_9_of_a_child_brings_it_back() {
    let port = free_port();
    let project = Project::new(&format!(
        "[[process]]\nname = \"web\"\ncommand = [\"{{testproc}}\"]\nport = {port}\n"
    ));
    project.up();
    let pid = project.process("web").pid.unwrap();
    // SAFETY: killing the test's own child.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let row = project.wait_for("web", Duration::from_secs(10), |p| {
        p.state == ProcState::Ready && p.pid != Some(pid)
    });
    assert_eq!(row.restarts, 1);
    assert_eq!(row.last_exit.as_deref(), Some("signal SIGKILL"));
    assert_eq!(http_get(port, "/health").map(|r| r.0), Some(200));
    // Reaped, not left as a zombie of the daemon (a reused pid would have another parent).
    let daemon = project.status().daemon.pid;
    assert!(
        wait_until(Duration::from_secs(5), || !is_child_of(pid, daemon)),
        "pid {pid} still a child (zombie) of the daemon"
    );
}

/// Whether `pid` exists (zombie or not) with `parent` as its parent.
fn is_child_of(pid: u32, parent: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let rest = &stat[stat.rfind(')')? + 2..];
            rest.split_whitespace().nth(1)?.parse::<u32>().ok()
        })
        == Some(parent)
}

#[test]
fn restart_policies_never_and_on_failure() {
    let project = Project::new(
        r#"
[[process]]
name = "once"
command = ["{testproc}", "--crash-after", "50", "--exit-code", "0"]
restart = "on-failure"

[[process]]
name = "fails"
command = ["{testproc}", "--crash-after", "50", "--exit-code", "9"]
restart = "never"
"#,
    );
    project.up();
    let once = project.wait_for("once", Duration::from_secs(10), |p| {
        p.state == ProcState::Stopped
    });
    assert_eq!(once.restarts, 0);
    assert_eq!(once.last_exit.as_deref(), Some("exit code 0"));
    let fails = project.wait_for("fails", Duration::from_secs(10), |p| {
        p.state == ProcState::Errored
    });
    assert_eq!(fails.restarts, 0);
    assert!(fails.reason.unwrap().contains("exit code 9"));
}

#[test]
fn failing_liveness_probe_restarts_the_process() {
    let port = free_port();
    let project = Project::new(&format!(
        r#"
[[process]]
name = "web"
command = ["{{testproc}}", "--unhealthy-file", "{{dir}}/sick"]
port = {port}
liveness = {{ http = "/health", interval = "100ms", failure_threshold = 3 }}
"#
    ));
    project.up();
    let pid = project.process("web").pid.unwrap();
    std::fs::write(project.path("sick"), "").unwrap();
    let row = project.wait_for("web", Duration::from_secs(10), |p| p.restarts >= 1);
    assert_ne!(row.pid, Some(pid));
    assert!(!pid_alive(pid));
    assert!(
        project
            .daemon_log()
            .contains("liveness probe failed 3 times"),
        "{}",
        project.daemon_log()
    );
    std::fs::remove_file(project.path("sick")).unwrap();
    let row = project.wait_for("web", Duration::from_secs(10), |p| {
        p.state == ProcState::Ready
    });
    let restarts = row.restarts;
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        project.process("web").restarts,
        restarts,
        "kept restarting once healthy"
    );
}

#[test]
fn readiness_failures_mark_a_ready_process_unhealthy_and_back() {
    let port = free_port();
    let project = Project::new(&format!(
        r#"
[[process]]
name = "web"
command = ["{{testproc}}", "--unhealthy-file", "{{dir}}/sick"]
port = {port}
readiness = {{ http = "/health", interval = "100ms", failure_threshold = 2 }}
"#
    ));
    project.up();
    let pid = project.process("web").pid;
    std::fs::write(project.path("sick"), "").unwrap();
    let row = project.wait_for("web", Duration::from_secs(10), |p| {
        p.state == ProcState::Unhealthy
    });
    assert!(row.reason.unwrap().contains("503"));
    std::fs::remove_file(project.path("sick")).unwrap();
    let row = project.wait_for("web", Duration::from_secs(10), |p| {
        p.state == ProcState::Ready
    });
    assert_eq!(row.pid, pid, "readiness alone must not restart");
}

#[test]
fn exceeding_max_memory_restarts_gracefully() {
    let project = Project::new(
        r#"
[[process]]
name = "leaky"
command = ["{testproc}", "--grow-mb", "16"]
max_memory = "40M"
"#,
    );
    project.up();
    let pid = project.process("leaky").pid.unwrap();
    let row = project.wait_for("leaky", Duration::from_secs(20), |p| p.restarts >= 1);
    assert_ne!(row.pid, Some(pid));
    assert!(!pid_alive(pid));
    let log = project.daemon_log();
    assert!(log.contains("over max_memory 40 MiB"), "{log}");
}
