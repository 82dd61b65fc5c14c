//! Every kind of manifest rejection names the file, the line and the reason — and a rejected
//! manifest changes nothing in a running daemon.

mod supervisor_support;

use std::path::Path;
use std::time::Duration;

use runway::manifest::{Manifest, Mode};
use supervisor_support::*;

/// Parses `text` as a manifest in a temp dir and returns the error text (panics if accepted).
fn rejected(text: &str) -> (String, Vec<Option<usize>>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runway.toml");
    std::fs::write(&path, text).unwrap();
    match Manifest::load(&path, Mode::Development) {
        Ok(_) => panic!("manifest accepted:\n{text}"),
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.contains(&path.display().to_string()),
                "error does not name the file: {message}"
            );
            (message, e.problems.iter().map(|p| p.line).collect())
        }
    }
}

fn assert_line(text: &str, line: usize, reason: &str) {
    let (message, lines) = rejected(text);
    assert!(
        lines.contains(&Some(line)),
        "expected line {line} in {lines:?}: {message}"
    );
    assert!(
        message.contains(&format!(":{line}: ")),
        "message lacks `:{line}:`: {message}"
    );
    assert!(
        message.contains(reason),
        "expected `{reason}` in: {message}"
    );
}

#[test]
fn unknown_key_is_rejected_with_its_line() {
    assert_line(
        "[[process]]\nname = \"api\"\ncommand = \"true\"\ncomand = \"typo\"\n",
        4,
        "unknown field `comand`",
    );
}

#[test]
fn unknown_top_level_table_is_rejected() {
    assert_line(
        "[[process]]\nname = \"api\"\ncommand = \"true\"\n\n[proxxy]\nlisten = []\n",
        5,
        "unknown field `proxxy`",
    );
}

#[test]
fn bad_values_are_rejected() {
    assert_line(
        "[[process]]\nname = \"api\"\ncommand = \"true\"\nrestart = \"sometimes\"\n",
        4,
        "sometimes",
    );
    assert_line(
        "[[process]]\nname = \"api\"\ncommand = \"true\"\nstop_timeout = \"5 parsecs\"\n",
        4,
        "unknown duration unit",
    );
    assert_line(
        "[[process]]\nname = \"api\"\ncommand = \"true\"\nmax_memory = \"lots\"\n",
        4,
        "not a size",
    );
    assert_line(
        "[[process]]\nname = \"api\"\ncommand = \"true\"\nport = 70000\n",
        4,
        "",
    );
    assert_line(
        "[[process]]\nname = \"api\"\ncommand = \"true\"\nstop_signal = \"SIGFOO\"\n",
        4,
        "unknown signal",
    );
}

#[test]
fn missing_and_empty_commands_are_rejected() {
    assert_line(
        "[[process]]\nname = \"ok\"\ncommand = \"true\"\n\n[[process]]\nname = \"api\"\nport = 3000\n",
        5,
        "process `api`: missing `command`",
    );
    assert_line(
        "[[process]]\nname = \"api\"\ncommand = []\n",
        3,
        "`command` is empty",
    );
}

#[test]
fn dependency_cycles_are_rejected() {
    let text = "[[process]]\nname = \"a\"\ncommand = \"true\"\ndepends_on = [\"b\"]\n\n[[process]]\nname = \"b\"\ncommand = \"true\"\ndepends_on = [\"c\"]\n\n[[process]]\nname = \"c\"\ncommand = \"true\"\ndepends_on = [\"a\"]\n";
    let (message, _) = rejected(text);
    assert!(message.contains("dependency cycle"), "{message}");
    assert!(message.contains("a → b → c → a"), "{message}");
    assert!(message.contains(":4: "), "{message}");
}

#[test]
fn unknown_dependency_is_rejected() {
    assert_line(
        "[[process]]\nname = \"api\"\ncommand = \"true\"\ndepends_on = [\"db\"]\n",
        4,
        "depends on `db`, which is not a process",
    );
}

#[test]
fn two_processes_on_one_port_are_rejected() {
    assert_line(
        "[[process]]\nname = \"a\"\ncommand = \"true\"\nport = 3000\n\n[[process]]\nname = \"b\"\ncommand = \"true\"\nport = 3000\n",
        9,
        "port 3000 is already used by process `a`",
    );
}

#[test]
fn a_port_clash_introduced_by_a_mode_is_rejected_in_that_mode_only() {
    let text = "[[process]]\nname = \"a\"\ncommand = \"true\"\nport = 3000\n\n[[process]]\nname = \"b\"\ncommand = \"true\"\nport = 3001\n[process.modes.production]\nport = 3000\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runway.toml");
    std::fs::write(&path, text).unwrap();
    assert!(Manifest::load(&path, Mode::Development).is_ok());
    let err = Manifest::load(&path, Mode::Production)
        .unwrap_err()
        .to_string();
    assert!(err.contains(":11: "), "{err}");
    assert!(err.contains("port 3000 is already used"), "{err}");
}

#[test]
fn duplicate_names_and_bad_names_are_rejected() {
    assert_line(
        "[[process]]\nname = \"a\"\ncommand = \"true\"\n\n[[process]]\nname = \"a\"\ncommand = \"true\"\n",
        5,
        "declared twice (first on line 1)",
    );
    assert_line(
        "[[process]]\nname = \"no spaces\"\ncommand = \"true\"\n",
        2,
        "is not allowed",
    );
}

#[test]
fn probes_need_exactly_one_kind_and_a_port_for_http() {
    assert_line(
        "[[process]]\nname = \"a\"\ncommand = \"true\"\nreadiness = { http = \"/health\" }\n",
        4,
        "needs the process's `port`",
    );
    assert_line(
        "[[process]]\nname = \"a\"\ncommand = \"true\"\nport = 3000\nreadiness = { http = \"/h\", tcp = true }\n",
        5,
        "exactly one of",
    );
}

#[test]
fn unknown_mode_and_missing_paths_are_rejected() {
    assert_line(
        "[[process]]\nname = \"a\"\ncommand = \"true\"\n[process.modes.staging]\ncommand = \"false\"\n",
        4,
        "unknown mode `staging`",
    );
    assert_line(
        "[[process]]\nname = \"a\"\ncommand = \"true\"\ncwd = \"does/not/exist\"\n",
        4,
        "is not a directory",
    );
    assert_line(
        "[[process]]\nname = \"a\"\ncommand = \"true\"\nenv_file = \"missing.env\"\n",
        4,
        "does not exist",
    );
}

#[test]
fn routes_and_jobs_are_checked() {
    assert_line(
        "[proxy]\n\n[[route]]\npath = \"/api\"\nprocess = \"ghost\"\n",
        3,
        "unknown process `ghost`",
    );
    assert_line(
        "[[process]]\nname = \"a\"\ncommand = \"true\"\n\n[proxy]\n\n[[route]]\npath = \"/\"\nprocess = \"a\"\n",
        7,
        "has no `port`",
    );
    assert_line(
        "[[job]]\nname = \"cleanup\"\nschedule = \"every night\"\ncommand = \"true\"\n",
        3,
        "5 cron fields",
    );
    assert_line(
        "[[job]]\nname = \"cleanup\"\nschedule = \"61 3 * * *\"\ncommand = \"true\"\n",
        3,
        "not a valid cron expression",
    );
}

#[test]
fn probe_backoff_and_dependency_values_are_checked() {
    let head = "[[process]]\nname = \"a\"\ncommand = \"true\"\nport = 3000\n";
    for (line5, reason) in [
        (
            "readiness = { http = \"/h\", interval = \"0s\" }",
            "`interval` and `timeout` must be above 0",
        ),
        (
            "liveness = { tcp = true, failure_threshold = 0 }",
            "`failure_threshold` must be at least 1",
        ),
        ("readiness = { tcp = \"db:five\" }", "is not host:port"),
        ("readiness = { http = \"health\" }", "must start with `/`"),
        ("liveness = { exec = [] }", "`exec` is empty"),
        (
            "backoff = { multiplier = 0.5 }",
            "`multiplier` must be between 1 and 100",
        ),
        (
            "backoff = { initial = \"10s\", max = \"1s\" }",
            "`max` is smaller than `initial`",
        ),
        (
            "depends_on = { a = \"ready\" }",
            "`ready` (for `a`) is not a condition",
        ),
        (
            "depends_on = 3",
            "must be a list of process names or a table",
        ),
        (
            "start_if_env = \"A=B\"",
            "`start_if_env` must name an environment variable",
        ),
    ] {
        assert_line(&format!("{head}{line5}\n"), 5, reason);
    }
    assert_line(
        "[[process]]\nname = \"a\"\ncommand = \"true\"\nport = 0\n",
        4,
        "`port` must be 1-65535",
    );
    // The env table has no position of its own; the process's line is named.
    assert_line(
        "[[process]]\nname = \"a\"\ncommand = \"true\"\nenv = { \"\" = \"x\" }\n",
        1,
        "invalid environment variable name",
    );
}

#[test]
fn a_problem_in_a_mode_override_names_the_override_line() {
    assert_line(
        "[[process]]\nname = \"a\"\ncommand = \"true\"\n\n[process.modes.development]\ncwd = \"nowhere\"\n",
        6,
        "`cwd`",
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let (message, lines) = rejected(
        "[[process]]\nname = \"a\"\nport = 3000\n\n[[process]]\nname = \"b\"\ncommand = \"true\"\nport = 3000\ndepends_on = [\"zzz\"]\n",
    );
    assert!(
        lines.contains(&Some(1)),
        "missing command not reported: {message}"
    );
    assert!(
        lines.contains(&Some(9)),
        "unknown dependency not reported: {message}"
    );
}

#[test]
fn a_valid_manifest_loads_with_modes_and_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runway.toml");
    std::fs::write(
        &path,
        "[[process]]\nname = \"api\"\ncommand = [\"server\", \"--port\", \"3000\"]\nport = 3000\nenv = { NODE_ENV = \"development\", WORKERS = 2 }\nreadiness = { http = \"/api/ready\", interval = \"500ms\" }\n[process.modes.production]\ncommand = \"server --release\"\nenv = { NODE_ENV = \"dev_stage\" }\n\n[[job]]\nname = \"cleanup\"\nschedule = \"30 3 * * *\"\ncommand = \"backend cleanup-tokens\"\n",
    )
    .unwrap();
    let dev = Manifest::load(&path, Mode::Development).unwrap();
    let api = dev.process("api").unwrap();
    assert_eq!(api.env["WORKERS"], "2");
    assert_eq!(api.env["NODE_ENV"], "development");
    assert_eq!(api.command.argv()[0], "server");
    let prod = Manifest::load(&path, Mode::Production).unwrap();
    let api = prod.process("api").unwrap();
    assert_eq!(api.env["NODE_ENV"], "dev_stage");
    assert_eq!(api.env["WORKERS"], "2");
    assert_eq!(
        api.command.argv(),
        vec!["/bin/sh", "-c", "server --release"]
    );
    assert_eq!(prod.jobs[0].schedule, "30 3 * * *");
}

#[test]
fn the_cli_rejects_a_bad_manifest_before_touching_the_running_daemon() {
    let port = free_port();
    let project = Project::new(&format!(
        "[[process]]\nname = \"web\"\ncommand = [\"{{testproc}}\"]\nport = {port}\n"
    ));
    project.up();
    let before = project.wait_for("web", Duration::from_secs(10), |p| {
        p.state == runway::supervisor::ProcState::Ready
    });

    project.write_manifest(&format!(
        "[[process]]\nname = \"web\"\ncommand = [\"{{testproc}}\"]\nport = {port}\nbogus = 1\n"
    ));
    for verb in [&["check"][..], &["reload"], &["up", "--detach"]] {
        let out = project.run(verb);
        assert!(!out.status.success(), "{verb:?} accepted a bad manifest");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("runway.toml:5: "), "{verb:?}: {stderr}");
        assert!(
            stderr.contains("unknown field `bogus`"),
            "{verb:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let after = project.process("web");
    assert_eq!(after.pid, before.pid, "the running process was touched");
    assert_eq!(after.state, runway::supervisor::ProcState::Ready);
    assert!(Path::new(&format!("/proc/{}", after.pid.unwrap())).exists());
}

#[test]
fn static_expands_runway_home_and_rejects_any_other_variable_with_its_line() {
    let good = "[proxy]\nlisten = [\"127.0.0.1:0\"]\n\n[[route]]\npath = \"/\"\nstatic = \"${RUNWAY_HOME}/current/dist\"\n\n[modes.production]\nroute = [{ path = \"/\", static = \"${RUNWAY_HOME}/releases/x/dist\" }]\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runway.toml");
    std::fs::write(&path, good).unwrap();
    let dev = Manifest::load_in(&path, Mode::Development, Path::new("/srv/state")).unwrap();
    assert_eq!(
        dev.routes[0].static_dir.as_deref(),
        Some("/srv/state/current/dist")
    );
    let prod = Manifest::load_in(&path, Mode::Production, Path::new("/srv/state")).unwrap();
    assert_eq!(
        prod.routes[0].static_dir.as_deref(),
        Some("/srv/state/releases/x/dist")
    );
    // Without a state directory given: the default one, `.runway/` beside the manifest.
    let default = Manifest::load(&path, Mode::Development).unwrap();
    assert_eq!(
        default.routes[0].static_dir.as_deref(),
        dir.path().join(".runway/current/dist").to_str()
    );

    // A misspelt variable, a bare `$NAME`, and a typo in a mode the manifest is not loaded
    // for: each refused with its line rather than served from a directory that never exists.
    assert_line(
        "[proxy]\nlisten = [\"127.0.0.1:0\"]\n\n[[route]]\npath = \"/\"\nstatic = \"${RUNWAY_HOM}/current/dist\"\n",
        4,
        "unknown variable `${RUNWAY_HOM}`",
    );
    assert_line(
        "[proxy]\nlisten = [\"127.0.0.1:0\"]\n\n[[route]]\npath = \"/\"\nstatic = \"$RUNWAY_HOME/current/dist\"\n",
        4,
        "is not `${RUNWAY_HOME}`",
    );
    assert_line(
        "[proxy]\nlisten = [\"127.0.0.1:0\"]\n\n[[route]]\npath = \"/\"\nstatic = \"dist\"\n\n[modes.production]\nroute = [\n  { path = \"/\", static = \"${HOME}/dist\" },\n]\n",
        10,
        "unknown variable `${HOME}`",
    );
}

#[test]
fn error_pages_expand_runway_home_like_static_and_reject_other_variables() {
    // The live release's own 502 page, at the proxy level and for one route.
    let good = "[proxy]\nlisten = [\"127.0.0.1:0\"]\nerror_page = \"${RUNWAY_HOME}/current/deploy/502.html\"\n\n[[route]]\npath = \"/api\"\nupstream = \"127.0.0.1:1\"\nerror_page = \"${RUNWAY_HOME}/current/deploy/api-502.html\"\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runway.toml");
    std::fs::write(&path, good).unwrap();
    let m = Manifest::load_in(&path, Mode::Production, Path::new("/srv/state")).unwrap();
    assert_eq!(
        m.routes[0].error_page.as_deref(),
        Some("/srv/state/current/deploy/api-502.html")
    );
    assert_eq!(
        m.proxy.as_ref().and_then(|p| p.error_page.as_deref()),
        Some("/srv/state/current/deploy/502.html")
    );

    assert_line(
        "[proxy]\nlisten = [\"127.0.0.1:0\"]\n\n[[route]]\npath = \"/api\"\nupstream = \"127.0.0.1:1\"\nerror_page = \"${RUNWAY_HOM}/502.html\"\n",
        4,
        "`error_page` names the unknown variable `${RUNWAY_HOM}`",
    );
    assert_line(
        "[proxy]\nlisten = [\"127.0.0.1:0\"]\nerror_page = \"$HOME/502.html\"\n",
        1,
        "[proxy]: `error_page` has a `$` that is not `${RUNWAY_HOME}`",
    );
}
