//! Where test databases live. In order:
//! 1. `TEST_DATABASE_URL` (CI exports it);
//! 2. a server answering at `postgres://postgres:postgres@127.0.0.1:5432`;
//! 3. a throwaway cluster from the installed server binaries (`pg_config --bindir`), run as
//!    the `postgres` user when we are root (initdb refuses root), started once per test
//!    process and removed when it exits.
//!
//! With `CI=true` a test never skips: if none of these works it fails saying how to get one.
//! [`Cluster`] is public so a test can own a server it may stop and restart.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use sea_orm::ConnectionTrait;
use tokio::sync::OnceCell;

const LOCAL_DEFAULT: &str = "postgres://postgres:postgres@127.0.0.1:5432/postgres";

static SERVER: OnceCell<Option<String>> = OnceCell::const_new();
static SHARED_CLUSTER: OnceLock<Mutex<Option<Cluster>>> = OnceLock::new();

/// URL of a PostgreSQL server for test databases, or `None` (skip) outside CI.
pub async fn server_url() -> Option<String> {
    SERVER
        .get_or_init(|| async {
            match find_server().await {
                Ok(url) => Some(url),
                Err(why) if crate::in_ci() => panic!(
                    "CI=true but no PostgreSQL is available for tests: {why}\n\
                     Fix: set TEST_DATABASE_URL=postgres://USER:PASS@HOST:PORT/postgres, or start \
                     a server on 127.0.0.1:5432 (user postgres, password postgres), or install the \
                     PostgreSQL server binaries (pg_config --bindir) for a throwaway cluster."
                ),
                Err(why) => {
                    eprintln!("testkit: skipping PostgreSQL tests: {why}");
                    None
                }
            }
        })
        .await
        .clone()
}

async fn find_server() -> Result<String, String> {
    if let Ok(url) = std::env::var("TEST_DATABASE_URL")
        && !url.trim().is_empty()
    {
        return answers(&url)
            .await
            .map(|()| url.clone())
            .map_err(|e| format!("TEST_DATABASE_URL is set but does not answer: {e}"));
    }
    if answers(LOCAL_DEFAULT).await.is_ok() {
        return Ok(LOCAL_DEFAULT.to_owned());
    }
    let cluster = tokio::task::spawn_blocking(Cluster::start)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("no server at 127.0.0.1:5432 and no throwaway cluster: {e:#}"))?;
    let url = cluster.url();
    SHARED_CLUSTER
        .get_or_init(|| Mutex::new(None))
        .lock()
        .map_err(|_| "cluster lock poisoned".to_owned())?
        .replace(cluster);
    // Statics are never dropped: stop the cluster when the test process exits.
    extern "C" fn stop_shared() {
        if let Some(m) = SHARED_CLUSTER.get()
            && let Ok(mut g) = m.lock()
        {
            drop(g.take());
        }
    }
    // SAFETY: registering a plain extern "C" fn with no captured state.
    unsafe {
        libc::atexit(stop_shared);
    }
    Ok(url)
}

async fn answers(url: &str) -> Result<(), String> {
    let fut = async {
        let conn = crate::db::connect_url(url)
            .await
            .map_err(|e| e.to_string())?;
        conn.execute_unprepared("SELECT 1")
            .await
            .map_err(|e| e.to_string())?;
        let _ = conn.close().await;
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .map_err(|_| "timed out".to_owned())?
}

/// `url` with its database name replaced by `db`.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let server = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{server}/{db}?{q}"),
        None => format!("{server}/{db}"),
    }
}

/// A private PostgreSQL cluster in a temporary directory, on a free port of 127.0.0.1,
/// trust-authenticated for user `postgres`. Stopped and deleted on drop.
pub struct Cluster {
    bindir: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    pub fn start() -> anyhow::Result<Cluster> {
        use anyhow::Context;
        let bindir = bindir()?;
        let dir = std::env::temp_dir().join(format!("rw-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).context("creating the cluster directory")?;
        let cluster = Cluster {
            bindir,
            port: free_port()?,
            dir,
        };
        if is_root() {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&cluster.dir))?;
        }
        let data = cluster.dir.join("data");
        run(cluster.pg_command("initdb").arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        ]))
        .context("initdb")?;
        cluster.start_again()?;
        Ok(cluster)
    }

    /// Server URL (database `postgres`).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stop the server (fast shutdown: open connections are cut, like a crash for clients).
    pub fn stop(&self) -> anyhow::Result<()> {
        run(self
            .pg_command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "fast", "-w", "stop"]))
    }

    /// Start (again) on the same port and data.
    pub fn start_again(&self) -> anyhow::Result<()> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        run(self
            .pg_command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-o", &opts, "-w", "-t", "60", "start"]))
    }

    fn pg_command(&self, program: &str) -> Command {
        let exe = self.bindir.join(program);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = run(self
            .pg_command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"]));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn bindir() -> anyhow::Result<PathBuf> {
    use anyhow::Context;
    let out = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .context("running pg_config --bindir (install the PostgreSQL server package)")?;
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    anyhow::ensure!(
        dir.join("initdb").is_file() && dir.join("pg_ctl").is_file(),
        "no initdb/pg_ctl in {} (pg_config --bindir)",
        dir.display()
    );
    Ok(dir)
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| anyhow::anyhow!("running {:?}: {e}", cmd.get_program()))?;
    anyhow::ensure!(
        out.status.success(),
        "{:?} failed ({}): {}{}",
        cmd.get_program(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_database_name() {
        assert_eq!(
            super::with_database("postgres://u:p@h:1/postgres", "x"),
            "postgres://u:p@h:1/x"
        );
        assert_eq!(
            super::with_database("postgres://u:p@h:1", "x"),
            "postgres://u:p@h:1/x"
        );
        assert_eq!(
            super::with_database("postgres://h/a?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
    }
}
