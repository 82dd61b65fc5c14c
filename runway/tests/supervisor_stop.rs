//! Stopping for real: a child that ignores SIGTERM is SIGKILLed with its whole group after the
//! stop timeout; a daemon killed with SIGKILL leaves no child serving, and the next daemon
//! cleans up whatever its predecessor left, taking over its stale lock and socket.

mod supervisor_support;

use std::time::Duration;

use runway::supervisor::ProcState;
use supervisor_support::*;

/// The test-program processes started for this project (found by their environment).
fn project_pids(project: &Project, needle: &str) -> Vec<u32> {
    pids_with_arg(needle)
        .into_iter()
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/environ"))
                .map(|e| String::from_utf8_lossy(&e).contains(&project.home.display().to_string()))
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn sigterm_ignored_means_sigkill_for_the_whole_group() {
    let project = Project::new(
        r#"
[[process]]
name = "stubborn"
command = ["{testproc}", "--ignore-sigterm", "--grandchild", "--pid-file", "{dir}/pid"]
stop_timeout = "400ms"
"#,
    );
    project.up();
    let pid = project.process("stubborn").pid.unwrap();
    assert!(wait_until(Duration::from_secs(5), || project_pids(
        &project,
        "--hang --ignore-sigterm"
    )
    .len()
        == 1));
    let grandchild = project_pids(&project, "--hang --ignore-sigterm")[0];
    let out = project.ok(&["stop", "stubborn"]);
    assert!(out.contains("stopped"), "{out}");
    assert!(!pid_alive(pid), "the child survived SIGKILL");
    assert!(!pid_alive(grandchild), "the grandchild survived");
    assert!(project_pids(&project, "runway-testproc").is_empty());
    let row = project.process("stubborn");
    assert_eq!(row.state, ProcState::Stopped);
    assert_eq!(row.last_exit.as_deref(), Some("signal SIGKILL"));
    let log = project.daemon_log();
    assert!(
        log.contains("did not stop within 400 ms of SIGTERM; sending SIGKILL"),
        "{log}"
    );
}

#[test]
fn custom_stop_signal_is_used() {
    let project = Project::new(
        r#"
[[process]]
name = "polite"
command = ["{testproc}", "--ignore-sigterm"]
stop_signal = "SIGINT"
stop_timeout = "10s"
"#,
    );
    project.up();
    project.ok(&["stop", "polite"]);
    // SIGINT ends it at once; it never needed the SIGKILL.
    assert_eq!(
        project.process("polite").last_exit.as_deref(),
        Some("signal SIGINT")
    );
    assert!(!project.daemon_log().contains("SIGKILL"));
}

#[test]
fn a_daemon_killed_with_sigkill_leaves_no_child_and_its_successor_cleans_up() {
    let port = free_port();
    let project = Project::new(&format!(
        r#"
[[process]]
name = "web"
command = ["{{testproc}}", "--grandchild"]
port = {port}
"#
    ));
    project.up();
    let child = project.process("web").pid.unwrap();
    assert!(wait_until(Duration::from_secs(5), || project_pids(
        &project,
        "--hang --ignore-sigterm"
    )
    .len()
        == 1));
    let grandchild = project_pids(&project, "--hang --ignore-sigterm")[0];
    let daemon = project.daemon_pid().unwrap();
    // SAFETY: killing the daemon this test started.
    unsafe { libc::kill(daemon as i32, libc::SIGKILL) };
    // The direct child dies with its parent (parent-death signal): nothing serves unmanaged.
    assert!(
        wait_until(Duration::from_secs(5), || !pid_alive(child)),
        "child survived the daemon"
    );
    assert!(wait_until(Duration::from_secs(5), || http_get(
        port, "/health"
    )
    .is_none()));

    // The grandchild (reparented, no death signal) is found and ended by the next daemon,
    // which takes over the stale lock and socket.
    project.up();
    assert!(
        wait_until(Duration::from_secs(5), || !pid_alive(grandchild)),
        "leftover not cleaned"
    );
    let log = project.daemon_log();
    assert!(
        log.contains("took over the lock of a daemon that is gone"),
        "{log}"
    );
    assert!(log.contains("left running by a previous daemon"), "{log}");
    let row = project.process("web");
    assert_eq!(row.state, ProcState::Ready);
    assert_eq!(http_get(port, "/health").map(|r| r.0), Some(200));
}

#[test]
fn only_one_daemon_per_state_directory() {
    let project =
        Project::new("[[process]]\nname = \"a\"\ncommand = [\"{testproc}\", \"--hang\"]\n");
    project.up();
    let out = project.run(&["daemon"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already running"), "{stderr}");
    // The first daemon is untouched.
    assert_eq!(project.process("a").state, ProcState::Ready);
    let mode = std::fs::metadata(project.home.join("daemon.sock")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.permissions().mode() & 0o777, 0o600);
}

#[test]
fn a_stale_lock_and_socket_are_taken_over_even_when_the_recorded_pid_lives() {
    // What a daemon killed with SIGKILL leaves, with the pid in the lock file since reused by
    // an unrelated live process (this test): staleness comes from the lock, not from the pid.
    let project =
        Project::new("[[process]]\nname = \"a\"\ncommand = [\"{testproc}\", \"--hang\"]\n");
    std::fs::create_dir_all(&project.home).unwrap();
    std::fs::write(
        project.home.join("daemon.lock"),
        std::process::id().to_string(),
    )
    .unwrap();
    let socket = project.home.join("daemon.sock");
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    assert!(socket.exists(), "the leftover socket file is there");

    // The CLI does not mistake the leftovers for a running daemon…
    let out = project.run(&["status"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no runway daemon is running"), "{stderr}");

    // …and a new daemon takes the lock and the socket over.
    project.up();
    let status = project.status();
    assert_ne!(status.daemon.pid, std::process::id());
    assert_eq!(project.daemon_pid(), Some(status.daemon.pid));
    assert_eq!(project.process("a").state, ProcState::Ready);
    let log = project.daemon_log();
    assert!(
        log.contains(&format!(
            "took over the lock of a daemon that is gone (pid {})",
            std::process::id()
        )),
        "{log}"
    );
}
