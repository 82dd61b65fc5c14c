//! `runway save` / `runway resurrect`: the running set (and its environment) persisted
//! atomically with mode 0600 and brought back by a new daemon; `startup` prints the unit.

mod supervisor_support;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

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

#[test]
fn the_startup_units_commands_resurrect_and_stop_even_with_a_space_in_the_path() {
    // The project lives in "my app/" and its state directory beside the manifest (no
    // RUNWAY_HOME), so the unit's paths must be quoted to work.
    let port = free_port();
    let root = tempfile::Builder::new().prefix("rw").tempdir().unwrap();
    let app = root.path().join("my app");
    std::fs::create_dir_all(&app).unwrap();
    let manifest = app.join("runway.toml");
    std::fs::write(
        &manifest,
        format!(
            "[[process]]\nname = \"web\"\ncommand = [\"{}\"]\nport = {port}\n",
            testproc()
        ),
    )
    .unwrap();
    let runway = |args: &[&str]| {
        let out = std::process::Command::new(runway_bin())
            .arg("-c")
            .arg(&manifest)
            .args(args)
            .env_remove("RUNWAY_HOME")
            .env_remove("RUNWAY_CONFIG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "runway {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    /// Whatever happens, nothing stays running.
    struct Down<'a>(&'a dyn Fn());
    impl Drop for Down<'_> {
        fn drop(&mut self) {
            (self.0)()
        }
    }
    let down = || {
        let _ = std::process::Command::new(runway_bin())
            .arg("-c")
            .arg(&manifest)
            .arg("down")
            .env_remove("RUNWAY_HOME")
            .output();
    };
    let _guard = Down(&down);

    runway(&["up", "--detach"]);
    runway(&["save"]);
    runway(&["down"]);
    assert!(http_get(port, "/health").is_none());

    let unit = runway(&["startup"]);
    let line = |key: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in:\n{unit}"))
            .to_string()
    };
    assert_eq!(line("WorkingDirectory="), app.display().to_string());
    // systemd's quoting of these lines is the shell's double quotes.
    let mut service = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("exec {}", line("ExecStart=")))
        .current_dir(&app)
        .env_remove("RUNWAY_HOME")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || http_get(port, "/health")
            .map(|r| r.0)
            == Some(200)),
        "ExecStart did not bring the saved process back"
    );
    let stop = std::process::Command::new("sh")
        .arg("-c")
        .arg(line("ExecStop="))
        .env_remove("RUNWAY_HOME")
        .output()
        .unwrap();
    assert!(
        stop.status.success(),
        "ExecStop: {}",
        String::from_utf8_lossy(&stop.stderr)
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = service.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = service.kill();
            panic!("the ExecStart process did not end after ExecStop");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "ExecStart ended with {status}");
    assert!(http_get(port, "/health").is_none());
}
