//! `runway save` / `runway resurrect`: the running set (and its environment) persisted
//! atomically with mode 0600 and brought back by a new daemon; `startup` prints the unit.

mod supervisor_support;

use std::os::unix::fs::PermissionsExt;

use runway::supervisor::ProcState;
use supervisor_support::*;

#[test]
fn save_then_resurrect_brings_back_the_running_set() {
    let (a, b) = (free_port(), free_port());
    let mut project = Project::new(&format!(
        r#"
[[process]]
name = "web"
command = ["{{testproc}}"]
port = {a}

[[process]]
name = "api"
command = ["{{testproc}}"]
port = {b}

[[process]]
name = "extra"
command = ["{{testproc}}", "--hang"]
"#
    ));
    project
        .env
        .push(("PLATFORM_SECRET".into(), "injected-at-up".into()));
    project.up();
    project.ok(&["stop", "extra"]);
    let out = project.ok(&["save"]);
    assert!(out.contains("saved 2 process(es)"), "{out}");
    let dump = project.home.join("dump.json");
    assert_eq!(
        std::fs::metadata(&dump).unwrap().permissions().mode() & 0o777,
        0o600
    );
    project.ok(&["down"]);
    assert!(http_get(a, "/health").is_none());

    // A new daemon from a shell without the platform's variable: the saved one comes back.
    project.env.clear();
    let out = project.ok(&["resurrect"]);
    assert!(out.contains("web") && out.contains("api"), "{out}");
    let status = project.status();
    let state = |n: &str| status.processes.iter().find(|p| p.name == n).unwrap().state;
    assert_eq!(state("web"), ProcState::Ready);
    assert_eq!(state("api"), ProcState::Ready);
    assert_eq!(state("extra"), ProcState::Stopped);
    assert!(
        http_get(b, "/env")
            .unwrap()
            .1
            .contains("PLATFORM_SECRET=injected-at-up")
    );
}

#[test]
fn resurrect_without_a_saved_list_says_what_to_do() {
    let project =
        Project::new("[[process]]\nname = \"a\"\ncommand = [\"{testproc}\", \"--hang\"]\n");
    let out = project.run(&["resurrect"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("runway save"));
    std::fs::create_dir_all(&project.home).unwrap();
    std::fs::write(project.home.join("dump.json"), "{ not json").unwrap();
    let out = project.run(&["resurrect"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("damaged"));
}

#[test]
fn startup_prints_a_systemd_unit_that_resurrects() {
    let project =
        Project::new("[[process]]\nname = \"a\"\ncommand = [\"{testproc}\", \"--hang\"]\n");
    let unit = project.ok(&["startup"]);
    assert!(unit.contains("[Service]") && unit.contains("[Install]"));
    assert!(unit.contains("resurrect --foreground"), "{unit}");
    assert!(unit.contains(&project.manifest.display().to_string()));
    assert!(unit.contains("ExecStop=") && unit.contains(" down"));
}
