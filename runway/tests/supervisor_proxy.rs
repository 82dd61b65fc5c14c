//! The proxy inside the daemon: routes to supervised processes by their readiness, holds
//! requests while a process restarts, and `runway reload` applies route changes.

mod supervisor_support;

use std::time::Duration;

use runway::supervisor::ProcState;
use supervisor_support::*;

fn manifest(proxy: u16, a: u16, b: u16, extra_route: &str) -> String {
    format!(
        r#"
[proxy]
listen = ["127.0.0.1:{proxy}"]

[[route]]
path = "/api"
process = "api"
{extra_route}

[[process]]
name = "api"
command = ["{{testproc}}", "--ready-after", "300"]
port = {a}

[[process]]
name = "other"
command = ["{{testproc}}"]
port = {b}
"#
    )
}

#[test]
fn proxy_follows_readiness_and_reload() {
    let (proxy, a, b) = (free_port(), free_port(), free_port());
    let project = Project::new(&manifest(proxy, a, b, ""));
    project.up();
    let api_pid = project.process("api").pid.unwrap();
    let (code, body) = http_get(proxy, "/api/pid").expect("proxy answers");
    assert_eq!(code, 200);
    assert_eq!(body.trim(), api_pid.to_string());

    // kill -9: the process comes back after its 300 ms start; the request sent meanwhile is
    // held by the proxy (the supervisor says "starting") and answered by the new process.
    // SAFETY: killing the test's own child.
    unsafe { libc::kill(api_pid as i32, libc::SIGKILL) };
    std::thread::sleep(Duration::from_millis(30));
    let (code, body) = http_get(proxy, "/api/pid").expect("held request answered");
    assert_eq!(code, 200, "{body}");
    let new_pid = project
        .wait_for("api", Duration::from_secs(10), |p| {
            p.state == ProcState::Ready
        })
        .pid
        .unwrap();
    assert_ne!(new_pid, api_pid);
    assert_eq!(body.trim(), new_pid.to_string());

    // A stopped process answers 502 at once.
    project.ok(&["stop", "api"]);
    assert_eq!(http_get(proxy, "/api/pid").map(|r| r.0), Some(502));

    // reload: a new route to `other`, same listener.
    assert_eq!(http_get(proxy, "/other/pid").map(|r| r.0), Some(404));
    project.write_manifest(&manifest(
        proxy,
        a,
        b,
        "\n[[route]]\npath = \"/other\"\nprocess = \"other\"\n",
    ));
    project.ok(&["reload"]);
    let other_pid = project.process("other").pid.unwrap();
    let (code, body) = http_get(proxy, "/other/pid").expect("new route answers");
    assert_eq!(code, 200);
    assert_eq!(body.trim(), other_pid.to_string());
}

#[test]
fn a_proxy_port_in_use_fails_the_start_before_any_process_runs() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let a = free_port();
    let project = Project::new(&format!(
        "[proxy]\nlisten = [\"127.0.0.1:{port}\"]\n\n[[process]]\nname = \"api\"\ncommand = [\"{{testproc}}\", \"--append-start\", \"{{dir}}/starts\"]\nport = {a}\n"
    ));
    let out = project.run(&["up", "--detach"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("proxy"), "{stderr}");
    assert!(!project.path("starts").exists(), "a process started anyway");
}
