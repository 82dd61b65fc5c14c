//! `restart --update-env` recomputes the environment from scratch: added variables appear,
//! removed ones disappear (PM2 keeps them). Environment values never show in status.

mod supervisor_support;

use std::time::Duration;

use runway::supervisor::ProcState;
use supervisor_support::*;

fn env_of(port: u16) -> String {
    http_get(port, "/env").expect("process answers").1
}

#[test]
fn update_env_adds_and_removes_variables() {
    let port = free_port();
    let mut project = Project::new(&format!(
        r#"
[[process]]
name = "api"
command = ["{{testproc}}"]
port = {port}
env_file = "app.env"
env = {{ FROM_MANIFEST = "one", SECRET_KEY = "manifest-secret-value" }}
"#
    ));
    std::fs::write(project.path("app.env"), "FROM_FILE=alpha\nOLD_FILE_VAR=x\n").unwrap();
    project.env.push(("FROM_SHELL".into(), "shell-1".into()));
    project
        .env
        .push(("DB_PASS".into(), "hunter2-db-pass".into()));
    project.up();
    let env = env_of(port);
    for expected in [
        "FROM_MANIFEST=one",
        "FROM_FILE=alpha",
        "OLD_FILE_VAR=x",
        "FROM_SHELL=shell-1",
        &format!("PORT={port}"),
    ] {
        assert!(env.contains(expected), "missing {expected}: {env}");
    }

    // Change all three sources: the shell, the env file and the manifest.
    project.env.retain(|(k, _)| k != "FROM_SHELL");
    project.env.push(("NEW_SHELL".into(), "shell-2".into()));
    std::fs::write(project.path("app.env"), "FROM_FILE=beta\n").unwrap();
    project.write_manifest(&format!(
        r#"
[[process]]
name = "api"
command = ["{{testproc}}"]
port = {port}
env_file = "app.env"
env = {{ SECRET_KEY = "manifest-secret-value", ADDED = "two" }}
"#
    ));
    // A plain restart keeps the environment it had.
    project.ok(&["restart", "api"]);
    let env = env_of(port);
    assert!(
        env.contains("FROM_SHELL=shell-1") && env.contains("FROM_MANIFEST=one"),
        "{env}"
    );

    let out = project.ok(&["restart", "api", "--update-env"]);
    let env = env_of(port);
    for expected in ["ADDED=two", "FROM_FILE=beta", "NEW_SHELL=shell-2"] {
        assert!(env.contains(expected), "missing {expected}: {env}");
    }
    for removed in ["FROM_MANIFEST=", "OLD_FILE_VAR=", "FROM_SHELL="] {
        assert!(!env.contains(removed), "{removed} was not removed: {env}");
    }
    assert!(!out.contains("hunter2") && !out.contains("manifest-secret-value"));
    let status = project.ok(&["status", "--json"]);
    assert!(
        !status.contains("hunter2") && !status.contains("manifest-secret-value"),
        "{status}"
    );
    assert!(!project.daemon_log().contains("hunter2"));
    assert_eq!(project.process("api").state, ProcState::Ready);
}

#[test]
fn update_env_with_a_broken_manifest_restarts_nothing() {
    let port = free_port();
    let project = Project::new(&format!(
        "[[process]]\nname = \"api\"\ncommand = [\"{{testproc}}\"]\nport = {port}\n"
    ));
    project.up();
    let pid = project.process("api").pid;
    project.write_manifest("[[process]]\nname = \"api\"\ncommand = 42\n");
    let out = project.run(&["restart", "api", "--update-env"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("runway.toml:3"), "{stderr}");
    assert!(stderr.contains("nothing was restarted"), "{stderr}");
    let row = project.wait_for("api", Duration::from_secs(5), |p| {
        p.state == ProcState::Ready
    });
    assert_eq!(row.pid, pid);
}
