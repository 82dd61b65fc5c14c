//! The ops verbs through the real `runway` binary: the repository's own manifest loads in every
//! mode with its pipeline, deploy section and per-mode routes; `up` in dev_stage without its
//! secrets refuses to start and names every missing variable; `db provision` twice on the
//! throwaway PostgreSQL is idempotent; `up --db postgres` with a managed cluster supervises the
//! cluster and hands its database to the app; `doctor` names the program holding a port; a job
//! added by `reload` is scheduled and runs on demand; the tunnel starts only with
//! `CF_TUNNEL_TOKEN`, which `status` never shows; `up` on a running stack rebuilds nothing and
//! points to `deploy`.

mod e2e_support;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use e2e_support::workspace;
use runway::manifest::{Manifest, Mode};

fn runway(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = e2e_support::runway_command(dir);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// The repository's manifest in a temp dir, with the directories it names.
fn repo_manifest_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        workspace().join("runway.toml"),
        dir.path().join("runway.toml"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("frontend")).unwrap();
    dir
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_repos_manifest_loads_in_every_mode() {
    let path = workspace().join("runway.toml");
    let dev = Manifest::load(&path, Mode::Development).unwrap();
    let steps: Vec<&str> = dev.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        steps,
        [
            "install",
            "build-backend",
            "build-frontend",
            "migrate",
            "seed"
        ]
    );
    assert_eq!(dev.deploy.process, "backend");
    assert!(
        dev.up_note
            .as_deref()
            .is_some_and(|n| n.contains("admin@runway.local")),
        "{:?}",
        dev.up_note
    );
    assert_eq!(dev.jobs[0].name, "cleanup-tokens");
    let root = dev.routes.iter().find(|r| r.path == "/").unwrap();
    assert_eq!(root.process.as_deref(), Some("frontend"));

    let stage = Manifest::load(&path, Mode::DevStage).unwrap();
    assert!(
        stage.up_note.is_none(),
        "the dev password is only printed in development"
    );

    // Production serves the live release's frontend build; the dev server does not start.
    let prod = Manifest::load(&path, Mode::Production).unwrap();
    let root = prod.routes.iter().find(|r| r.path == "/").unwrap();
    // `${RUNWAY_HOME}/current/dist`: the state directory's live release, wherever it is.
    let default_dist = workspace().join(".runway/current/dist");
    assert_eq!(root.static_dir.as_deref(), default_dist.to_str());
    assert!(!prod.process("frontend").unwrap().autostart);
    let elsewhere = Manifest::load_in(&path, Mode::Production, Path::new("/srv/state")).unwrap();
    let root = elsewhere.routes.iter().find(|r| r.path == "/").unwrap();
    assert_eq!(root.static_dir.as_deref(), Some("/srv/state/current/dist"));
}

#[test]
fn a_manifest_with_an_unknown_mode_section_is_rejected_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("runway.toml"),
        "[[process]]\nname = \"a\"\ncommand = \"true\"\n\n[modes.staging]\nroute = []\n",
    )
    .unwrap();
    let out = runway(dir.path(), &["check"], &[]);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("runway.toml:5"), "{t}");
    assert!(t.contains("[modes.staging]: unknown mode"), "{t}");
}

#[test]
fn dev_stage_without_secrets_refuses_to_start_and_names_them() {
    let dir = repo_manifest_copy();
    let out = runway(
        dir.path(),
        &["--mode", "dev_stage", "up", "--no-build"],
        &[("DB_HOST", "127.0.0.1")],
    );
    assert!(!out.status.success());
    let t = text(&out);
    assert!(
        t.contains("dev_stage mode is not configured; nothing was started"),
        "{t}"
    );
    assert!(t.contains("SECRET_KEY is required in dev_stage"), "{t}");
    assert!(t.contains("DB_PORT, DB_NAME, DB_USER, DB_PASS"), "{t}");
    assert!(
        !t.contains("credentials in dev_stage: DB_HOST"),
        "DB_HOST is set: {t}"
    );
    // Nothing started: no daemon socket, no log directory.
    assert!(!dir.path().join(".runway/daemon.sock").exists());

    // NODE_ENV selects the mode the same way.
    let out = runway(
        dir.path(),
        &["up", "--no-build"],
        &[("NODE_ENV", "dev_stage")],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("SECRET_KEY"), "{}", text(&out));
}

fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into())
}

fn psql(url: &str, sql: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let admin = runway::db::pg::PgParams::from_url(url).unwrap();
        if let Ok(mut c) = admin.connect(Duration::from_secs(5)).await {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(&mut c)
                .await;
        }
    });
}

#[test]
fn db_provision_twice_through_the_cli() {
    let dir = repo_manifest_copy();
    let name = format!("app_rwcli_{}", std::process::id());
    let url = admin_url();
    let args = ["db", "provision", "--name", name.as_str()];
    let env = [("RUNWAY_PG_ADMIN_URL", url.as_str())];
    let first = runway(dir.path(), &args, &env);
    let second = runway(dir.path(), &args, &env);
    psql(
        &url,
        &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
    );
    psql(&url, &format!("DROP ROLE IF EXISTS \"{name}\""));
    assert!(first.status.success(), "{}", text(&first));
    assert!(
        text(&first).contains(&format!("role `{name}` created, database `{name}` created")),
        "{}",
        text(&first)
    );
    assert!(second.status.success(), "{}", text(&second));
    assert!(
        text(&second).contains("already there, database"),
        "{}",
        text(&second)
    );
    assert!(
        text(&second).contains("password: kept in"),
        "{}",
        text(&second)
    );
    let env_file = std::fs::read_to_string(dir.path().join(".runway/db.env")).unwrap();
    assert!(env_file.contains(&format!("DB_NAME={name}")), "{env_file}");
    // The password is in the 0600 files, never on the terminal.
    let password = std::fs::read_dir(dir.path().join(".runway/db"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .next()
        .unwrap();
    assert!(!text(&first).contains(password.trim()));
}

#[test]
fn up_with_postgres_supervises_the_managed_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // An app that is ready only when it can reach the database runway hands it.
    std::fs::write(
        dir.path().join("runway.toml"),
        format!(
            r#"
[[process]]
name = "backend"
command = ["sh", "-c", "echo \"db=$DB_HOST:$DB_PORT/$DB_NAME\"; exec python3 -m http.server {port} --bind 127.0.0.1"]
port = {port}
readiness = {{ exec = ["sh", "-c", "pg_isready -q -h $DB_HOST -p $DB_PORT -d $DB_NAME"], interval = "300ms" }}
"#
        ),
    )
    .unwrap();
    let provision = runway(
        dir.path(),
        &["db", "provision", "--managed", "--name", "app_managed_cli"],
        &[],
    );
    assert!(provision.status.success(), "{}", text(&provision));
    let up = runway(dir.path(), &["up", "--detach", "--db", "postgres"], &[]);
    let status = runway(dir.path(), &["status", "--json"], &[]);
    let logs = runway(dir.path(), &["logs", "backend", "-n", "5"], &[]);
    let down = runway(dir.path(), &["down"], &[]);
    assert!(up.status.success(), "{}", text(&up));
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let rows = status["processes"].as_array().unwrap();
    let state = |name: &str| {
        rows.iter()
            .find(|r| r["name"] == name)
            .map(|r| r["state"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(state("postgres").as_deref(), Some("ready"), "{status}");
    assert_eq!(state("backend").as_deref(), Some("ready"), "{status}");
    assert!(text(&logs).contains("/app_managed_cli"), "{}", text(&logs));
    assert!(down.status.success(), "{}", text(&down));
    // The cluster was stopped with everything else.
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "the app still listens");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn doctor_names_the_program_holding_a_port_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    // The test process holds the port the manifest's process needs.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    std::fs::write(
        dir.path().join("runway.toml"),
        format!("[[process]]\nname = \"web\"\ncommand = \"sleep 60\"\nport = {port}\n"),
    )
    .unwrap();
    let out = runway(dir.path(), &["doctor"], &[]);
    assert!(!out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains(&format!(
            "port {port} (needed by web) is held by another program"
        )),
        "{t}"
    );
    assert!(t.contains(&format!("pid {}", std::process::id())), "{t}");
    assert!(t.contains("fix: stop it"), "{t}");

    let json = runway(dir.path(), &["doctor", "--json"], &[]);
    let findings: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(
        findings
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "port-held"),
        "{findings}"
    );

    // Once the port is free, nothing is found and doctor exits 0.
    drop(held);
    let out = runway(dir.path(), &["doctor"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("no problems found"), "{}", text(&out));
}

#[test]
fn a_job_added_by_reload_is_scheduled_and_runs_on_demand() {
    let dir = tempfile::tempdir().unwrap();
    let process = "[[process]]\nname = \"idle\"\ncommand = \"sleep 600\"\n";
    std::fs::write(dir.path().join("runway.toml"), process).unwrap();
    let up = runway(dir.path(), &["up", "--detach"], &[]);
    assert!(up.status.success(), "{}", text(&up));
    std::fs::write(
        dir.path().join("runway.toml"),
        format!("{process}\n[[job]]\nname = \"hello\"\nschedule = \"0 4 * * *\"\ncommand = \"echo hello from the job\"\n"),
    )
    .unwrap();
    let reload = runway(dir.path(), &["reload"], &[]);
    let run = runway(dir.path(), &["jobs", "run", "hello"], &[]);
    let status = runway(dir.path(), &["status"], &[]);
    let logs = runway(dir.path(), &["logs", "job:hello", "-n", "10"], &[]);
    let down = runway(dir.path(), &["down"], &[]);
    assert!(reload.status.success(), "{}", text(&reload));
    assert!(run.status.success(), "{}", text(&run));
    assert!(text(&run).contains("job `hello`: exit 0"), "{}", text(&run));
    assert!(
        text(&status).contains("job hello: 0 4 * * *"),
        "{}",
        text(&status)
    );
    assert!(
        text(&logs).contains("hello from the job"),
        "{}",
        text(&logs)
    );
    assert!(down.status.success());
}

/// The seed's Cloudflare tunnel: declared with `start_if_env = "CF_TUNNEL_TOKEN"`, started by
/// `up` only when that variable is set — and the token never shows in `status`. The process is
/// deliberately not called `tunnel`: the rule comes from the manifest key, not from a name.
#[test]
fn the_tunnel_starts_only_with_its_token_and_the_token_stays_hidden() {
    let dir = tempfile::tempdir().unwrap();
    // Both processes just sleep: whether the tunnel runs depends on `up` alone.
    let manifest = "[[process]]\nname = \"web\"\ncommand = \"sleep 600\"\n\n\
        [[process]]\nname = \"cloudflared\"\nautostart = false\n\
        start_if_env = \"CF_TUNNEL_TOKEN\"\ncommand = \"sleep 600\"\n";
    std::fs::write(dir.path().join("runway.toml"), manifest).unwrap();
    let token = "cf-token-that-must-not-leak-0123456789";

    let tunnel_pid = |env: &[(&str, &str)]| {
        let up = runway(dir.path(), &["up", "--detach"], env);
        assert!(up.status.success(), "{}", text(&up));
        let deadline = Instant::now() + Duration::from_secs(30);
        let (pid, shown) = loop {
            let out = runway(dir.path(), &["status", "--json"], &[]);
            let table = runway(dir.path(), &["status"], &[]);
            let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let rows = status["processes"].as_array().unwrap().clone();
            let pid_of = |name: &str| {
                rows.iter()
                    .find(|r| r["name"] == name)
                    .and_then(|r| r["pid"].as_u64())
            };
            let shown = format!("{}{}", text(&out), text(&table));
            if pid_of("web").is_some() || Instant::now() > deadline {
                // Give a tunnel that was asked for the same chance to appear.
                if env.is_empty() || pid_of("cloudflared").is_some() || Instant::now() > deadline {
                    break (pid_of("cloudflared"), shown);
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let down = runway(dir.path(), &["down"], &[]);
        assert!(down.status.success(), "{}", text(&down));
        (pid, shown)
    };

    let (without, _) = tunnel_pid(&[]);
    assert_eq!(without, None, "the tunnel started without CF_TUNNEL_TOKEN");
    let (with, shown) = tunnel_pid(&[("CF_TUNNEL_TOKEN", token)]);
    assert!(
        with.is_some(),
        "the tunnel did not start with CF_TUNNEL_TOKEN: {shown}"
    );
    assert!(!shown.contains(token), "status shows the token: {shown}");
}

/// `up` while the stack already runs starts what is named and says how new code gets in; it
/// does not rebuild under the running processes. A fresh `up` after `down` runs the changed
/// step.
#[test]
fn up_on_a_running_stack_leaves_the_pipeline_to_deploy_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("input.txt"), "v1").unwrap();
    std::fs::write(
        dir.path().join("runway.toml"),
        "[[step]]\nname = \"build\"\ncommand = [\"sh\", \"-c\", \"echo built >> builds.log\"]\ninputs = [\"input.txt\"]\n\n[[process]]\nname = \"idle\"\ncommand = \"sleep 600\"\n",
    )
    .unwrap();
    let builds = || {
        std::fs::read_to_string(dir.path().join("builds.log"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    let first = runway(dir.path(), &["up", "--detach"], &[]);
    let built_first = builds();
    std::fs::write(dir.path().join("input.txt"), "v2").unwrap();
    let again = runway(dir.path(), &["up", "--detach"], &[]);
    let built_again = builds();
    let down = runway(dir.path(), &["down"], &[]);
    let fresh = runway(dir.path(), &["up", "--detach"], &[]);
    let built_fresh = builds();
    let down_fresh = runway(dir.path(), &["down"], &[]);

    assert!(first.status.success(), "{}", text(&first));
    assert_eq!(built_first, 1, "the first up runs the step");
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        text(&again).contains("a daemon already runs"),
        "{}",
        text(&again)
    );
    assert!(
        text(&again).contains("use `runway deploy`"),
        "{}",
        text(&again)
    );
    assert_eq!(built_again, 1, "no rebuild under the running processes");
    assert!(down.status.success(), "{}", text(&down));
    assert!(fresh.status.success(), "{}", text(&fresh));
    assert_eq!(built_fresh, 2, "a fresh up runs the changed step");
    assert!(down_fresh.status.success(), "{}", text(&down_fresh));
}
