//! `runway db provision --managed`: a private PostgreSQL cluster under the state directory,
//! for machines that have the server binaries but no running server. `initdb` refuses to run
//! as root, so when we are root the cluster belongs to the `postgres` user and every server
//! command runs through `setpriv` as that user (exec, no extra process in between, so the
//! supervisor's signals reach the server itself). It listens on 127.0.0.1 on a port chosen
//! once and recorded; readiness is "accepts connections".

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::pg::PgParams;
use super::provision::{ProvisionError, generate_secret, write_private};

/// A managed cluster's recorded facts (`pg/cluster.json` in the state directory).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManagedCluster {
    pub root: PathBuf,
    pub bin_dir: PathBuf,
    pub port: u16,
    /// `postgres` when we run as root.
    pub run_as: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManagedError {
    #[error(
        "PostgreSQL server binaries (initdb, postgres) were not found: install them (Debian: `apt-get install postgresql`) or set RUNWAY_PG_BIN to their directory"
    )]
    NoBinaries,
    #[error(
        "running as root, but there is no `postgres` user to own the cluster: create it (`useradd -r postgres`) or run as a normal user"
    )]
    NoPostgresUser,
    #[error("initdb failed (exit {code}):\n{output}")]
    Initdb { code: i32, output: String },
    #[error("{0}")]
    Io(String),
    #[error(
        "the managed PostgreSQL did not accept connections on 127.0.0.1:{port} within {secs} s; see {log}"
    )]
    NotReady { port: u16, secs: u64, log: String },
}

impl From<ProvisionError> for ManagedError {
    fn from(e: ProvisionError) -> Self {
        ManagedError::Io(e.to_string())
    }
}

fn io(what: &str) -> impl Fn(std::io::Error) -> ManagedError + '_ {
    move |e| ManagedError::Io(format!("{what}: {e}"))
}

/// The installed server binaries: `RUNWAY_PG_BIN`, `pg_config --bindir`, or the newest
/// `/usr/lib/postgresql/*/bin`.
pub fn find_bin_dir() -> Option<PathBuf> {
    let has = |d: &Path| d.join("initdb").is_file() && d.join("postgres").is_file();
    if let Some(d) = std::env::var_os("RUNWAY_PG_BIN").map(PathBuf::from) {
        return has(&d).then_some(d);
    }
    if let Ok(out) = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
    {
        let d = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has(&d) {
            return Some(d);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            has(&bin).then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, d)| d)
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

impl ManagedCluster {
    pub fn root_for(state_dir: &Path) -> PathBuf {
        state_dir.join("pg")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    pub fn socket_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    pub fn log_path(&self) -> PathBuf {
        self.root.join("initdb.log")
    }

    fn superuser_password_path(&self) -> PathBuf {
        self.root.join("superuser.password")
    }

    /// The recorded cluster in `state_dir`, if one was initialised.
    pub fn load(state_dir: &Path) -> Option<Self> {
        let root = Self::root_for(state_dir);
        let bytes = std::fs::read(root.join("cluster.json")).ok()?;
        let c: Self = serde_json::from_slice(&bytes).ok()?;
        c.data_dir().join("PG_VERSION").is_file().then_some(c)
    }

    /// Initialises the cluster once (idempotent: an existing one is returned as is).
    pub async fn init(state_dir: &Path, port: u16) -> Result<Self, ManagedError> {
        if let Some(existing) = Self::load(state_dir) {
            return Ok(existing);
        }
        let bin_dir = find_bin_dir().ok_or(ManagedError::NoBinaries)?;
        let run_as = if is_root() {
            nix::unistd::User::from_name("postgres")
                .ok()
                .flatten()
                .ok_or(ManagedError::NoPostgresUser)?;
            Some("postgres".to_string())
        } else {
            None
        };
        let root = Self::root_for(state_dir);
        let cluster = Self {
            root: root.clone(),
            bin_dir,
            port,
            run_as,
        };
        for dir in [cluster.root.clone(), cluster.socket_dir()] {
            tokio::fs::create_dir_all(&dir)
                .await
                .map_err(io("creating the cluster directory"))?;
        }
        let _ = tokio::fs::remove_dir_all(cluster.data_dir()).await;
        // The postgres user must be able to reach its directories.
        make_traversable(&root, state_dir.parent().unwrap_or(state_dir)).await?;
        cluster.chown_to_owner(&cluster.socket_dir())?;
        cluster.chown_to_owner(&cluster.root)?;

        let password = generate_secret().await?;
        write_private(
            &cluster.superuser_password_path(),
            format!("{password}\n").as_bytes(),
        )
        .await?;
        // initdb reads the password from a file it can open as the owner.
        let pwfile = cluster.root.join("initdb.pw");
        write_private(&pwfile, password.as_bytes()).await?;
        cluster.chown_to_owner(&pwfile)?;

        let data = cluster.data_dir();
        let mut argv = cluster.as_owner(&cluster.bin_dir.join("initdb"));
        argv.extend(
            [
                "-D",
                &data.to_string_lossy(),
                "--username=postgres",
                &format!("--pwfile={}", pwfile.display()),
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "--encoding=UTF8",
                "--no-instructions",
            ]
            .map(String::from),
        );
        let out = tokio::process::Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(&cluster.root)
            .output()
            .await
            .map_err(io("running initdb"))?;
        let _ = tokio::fs::remove_file(&pwfile).await;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = tokio::fs::write(cluster.log_path(), &text).await;
        if !out.status.success() {
            return Err(ManagedError::Initdb {
                code: out.status.code().unwrap_or(-1),
                output: text,
            });
        }
        let conf = format!(
            "\n# runway: a private cluster on loopback only\nlisten_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\nmax_connections = 50\nshared_buffers = 32MB\n",
            cluster.port,
            cluster.socket_dir().display()
        );
        let conf_path = data.join("postgresql.conf");
        let mut existing = tokio::fs::read_to_string(&conf_path)
            .await
            .map_err(io("reading postgresql.conf"))?;
        existing.push_str(&conf);
        tokio::fs::write(&conf_path, existing)
            .await
            .map_err(io("writing postgresql.conf"))?;
        let record =
            serde_json::to_vec_pretty(&cluster).map_err(|e| ManagedError::Io(e.to_string()))?;
        tokio::fs::write(cluster.root.join("cluster.json"), record)
            .await
            .map_err(io("recording the cluster"))?;
        Ok(cluster)
    }

    /// argv prefix that runs `program` as the cluster's owner.
    fn as_owner(&self, program: &Path) -> Vec<String> {
        let mut argv = Vec::new();
        if let Some(user) = &self.run_as {
            argv.extend(
                [
                    "setpriv",
                    &format!("--reuid={user}"),
                    &format!("--regid={user}"),
                    "--init-groups",
                    "--",
                ]
                .map(String::from),
            );
        }
        argv.push(program.to_string_lossy().into_owned());
        argv
    }

    fn chown_to_owner(&self, path: &Path) -> Result<(), ManagedError> {
        let Some(user) = &self.run_as else {
            return Ok(());
        };
        let u = nix::unistd::User::from_name(user)
            .ok()
            .flatten()
            .ok_or(ManagedError::NoPostgresUser)?;
        nix::unistd::chown(path, Some(u.uid), Some(u.gid))
            .map_err(|e| ManagedError::Io(format!("chown {}: {e}", path.display())))
    }

    /// The server's command line, for the supervisor (stop it with SIGINT: fast shutdown).
    pub fn server_command(&self) -> Vec<String> {
        let mut argv = self.as_owner(&self.bin_dir.join("postgres"));
        argv.extend([
            "-D".to_string(),
            self.data_dir().to_string_lossy().into_owned(),
        ]);
        argv
    }

    /// The readiness probe's command: exits 0 once the server accepts connections.
    pub fn ready_command(&self) -> Vec<String> {
        vec![
            self.bin_dir
                .join("pg_isready")
                .to_string_lossy()
                .into_owned(),
            "-q".into(),
            "-h".into(),
            "127.0.0.1".into(),
            "-p".into(),
            self.port.to_string(),
        ]
    }

    /// The superuser connection (for provisioning the app's role and database).
    pub fn admin_params(&self) -> Result<PgParams, ManagedError> {
        let password = std::fs::read_to_string(self.superuser_password_path())
            .map_err(io("reading the superuser password"))?;
        Ok(PgParams {
            host: "127.0.0.1".into(),
            port: self.port,
            user: "postgres".into(),
            password: Some(password.trim().to_string()),
            database: "postgres".into(),
        })
    }

    /// Waits until the server accepts connections (authenticated), at most `bound`.
    pub async fn wait_ready(&self, bound: Duration) -> Result<(), ManagedError> {
        let admin = self.admin_params()?;
        let start = Instant::now();
        loop {
            if admin.connect(Duration::from_secs(2)).await.is_ok() {
                return Ok(());
            }
            if start.elapsed() > bound {
                return Err(ManagedError::NotReady {
                    port: self.port,
                    secs: bound.as_secs(),
                    log: self.root.join("server.log").display().to_string(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Directories from `dir` up to `stop_at` (the project directory) get o+x so the cluster's
/// owner can reach `dir`; nothing above the project is touched (initdb names the one it cannot
/// enter).
async fn make_traversable(dir: &Path, stop_at: &Path) -> Result<(), ManagedError> {
    let dir = dir.to_path_buf();
    let stop_at = stop_at.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut cur = Some(dir.as_path());
        while let Some(d) = cur {
            if !d.starts_with(&stop_at) {
                break;
            }
            if let Ok(meta) = std::fs::metadata(d) {
                let mode = meta.permissions().mode();
                if mode & 0o001 == 0 {
                    let _ =
                        std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode | 0o001));
                }
            }
            cur = d.parent();
        }
    })
    .await
    .map_err(|e| ManagedError::Io(e.to_string()))
}
