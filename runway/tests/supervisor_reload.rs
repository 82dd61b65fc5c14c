//! `runway reload`: added processes start, removed ones stop, changed ones restart, and
//! unchanged ones keep running with the same pid.

mod supervisor_support;

use std::time::Duration;

use runway::supervisor::ProcState;
use supervisor_support::*;

#[test]
fn reload_applies_the_difference_only() {
    let (keep_port, change_port, remove_port, add_port) =
        (free_port(), free_port(), free_port(), free_port());
    let project = Project::new(&format!(
        r#"
[[process]]
name = "keep"
command = ["{{testproc}}"]
port = {keep_port}

[[process]]
name = "change"
command = ["{{testproc}}"]
port = {change_port}
env = {{ VERSION = "1" }}

[[process]]
name = "remove"
command = ["{{testproc}}"]
port = {remove_port}
"#
    ));
    project.up();
    let keep = project.process("keep").pid.unwrap();
    let change = project.process("change").pid.unwrap();
    let remove = project.process("remove").pid.unwrap();

    project.write_manifest(&format!(
        r#"
[[process]]
name = "keep"
command = ["{{testproc}}"]
port = {keep_port}

[[process]]
name = "change"
command = ["{{testproc}}"]
port = {change_port}
env = {{ VERSION = "2" }}

[[process]]
name = "add"
command = ["{{testproc}}"]
port = {add_port}
"#
    ));
    let out = project.ok(&["reload"]);
    assert!(out.contains("added add"), "{out}");
    assert!(out.contains("removed remove"), "{out}");
    assert!(out.contains("changed change"), "{out}");
    assert!(out.contains("unchanged keep"), "{out}");

    let status = project.status();
    let names: Vec<&str> = status.processes.iter().map(|p| p.name.as_str()).collect();
    assert!(!names.contains(&"remove"), "{names:?}");
    assert_eq!(
        project.process("keep").pid,
        Some(keep),
        "unchanged process was restarted"
    );
    assert!(pid_alive(keep));
    assert!(!pid_alive(remove), "removed process still runs");
    let changed = project.wait_for("change", Duration::from_secs(10), |p| {
        p.state == ProcState::Ready
    });
    assert_ne!(changed.pid, Some(change));
    assert!(
        http_get(change_port, "/env")
            .unwrap()
            .1
            .contains("VERSION=2")
    );
    project.wait_for("add", Duration::from_secs(10), |p| {
        p.state == ProcState::Ready
    });
    assert_eq!(http_get(add_port, "/health").map(|r| r.0), Some(200));

    // A reload with an invalid manifest changes nothing.
    project.write_manifest("[[process]]\nname = \"keep\"\n");
    let out = project.run(&["reload"]);
    assert!(!out.status.success());
    assert_eq!(project.process("keep").pid, Some(keep));
    assert!(pid_alive(keep));
}
