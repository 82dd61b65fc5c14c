//! Shared helpers for the supervisor's black-box tests: a temp project with a manifest, the
//! real `runway` binary driven through its CLI, and the real `runway-testproc` as children.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use runway::daemon::protocol::{ProcessRow, StatusReport};

pub fn runway_bin() -> &'static str {
    env!("CARGO_BIN_EXE_runway")
}

/// The test program. Cargo passes its path at compile time, but a compiler cache may drop
/// variables with a `-` in their name; then it is found beside the `runway` binary.
pub fn testproc() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| match option_env!("CARGO_BIN_EXE_runway-testproc") {
        Some(path) => path.to_string(),
        None => Path::new(runway_bin())
            .with_file_name("runway-testproc")
            .display()
            .to_string(),
    })
}

/// A port nobody listens on right now (the OS picks it).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    l.local_addr().expect("local addr").port()
}

/// Whether `pid` is a live (non-zombie) process.
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rfind(')')
                .and_then(|i| stat[i + 2..].chars().next())
                .unwrap_or('Z');
            state != 'Z' && state != 'X'
        }
        Err(_) => false,
    }
}

/// Every live process whose command line mentions `needle` (to find grandchildren).
pub fn pids_with_arg(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains(needle) && pid_alive(pid) {
                out.push(pid);
            }
        }
    }
    out
}

/// GET http://127.0.0.1:port/path → (status, body).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = Vec::new();
    // The test server keeps the connection open; read until the body is complete.
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf);
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let len = text[..head_end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .and_then(|v| v.trim().parse::<usize>().ok())
                        })
                        .unwrap_or(0);
                    if buf.len() >= head_end + 4 + len {
                        break;
                    }
                }
            }
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    check()
}

/// A temp project: `runway.toml` plus its state directory.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub manifest: PathBuf,
    pub home: PathBuf,
    pub env: Vec<(String, String)>,
}

impl Project {
    /// `{testproc}` in the text becomes the test program's path, `{dir}` the project dir.
    pub fn new(manifest: &str) -> Project {
        let dir = tempfile::Builder::new()
            .prefix("rw")
            .tempdir()
            .expect("temp dir");
        let path = dir.path().join("runway.toml");
        let home = dir.path().join(".runway");
        let project = Project {
            manifest: path,
            home,
            env: Vec::new(),
            dir,
        };
        project.write_manifest(manifest);
        project
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn expand(&self, text: &str) -> String {
        text.replace("{testproc}", testproc())
            .replace("{dir}", &self.dir.path().display().to_string())
    }

    pub fn write_manifest(&self, text: &str) {
        std::fs::write(&self.manifest, self.expand(text)).expect("write manifest");
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(runway_bin());
        c.arg("-c")
            .arg(&self.manifest)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUNWAY_HOME", &self.home)
            .current_dir(self.dir.path());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run runway")
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "runway {args:?} failed: {}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    pub fn up(&self) -> String {
        self.ok(&["up", "--detach"])
    }

    pub fn status(&self) -> StatusReport {
        let text = self.ok(&["status", "--json"]);
        serde_json::from_str(&text).expect("status --json parses")
    }

    pub fn process(&self, name: &str) -> ProcessRow {
        self.status()
            .processes
            .into_iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no process {name} in status"))
    }

    /// Polls status until `check` holds for `name` (panics with the last row otherwise).
    pub fn wait_for(
        &self,
        name: &str,
        timeout: Duration,
        check: impl Fn(&ProcessRow) -> bool,
    ) -> ProcessRow {
        let deadline = Instant::now() + timeout;
        loop {
            let row = self.process(name);
            if check(&row) {
                return row;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting on {name}; last: {row:?}\ndaemon log:\n{}",
                    self.daemon_log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.home.join("logs/runway.log")).unwrap_or_default()
    }

    pub fn daemon_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.home.join("daemon.lock"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    pub fn down(&self) {
        let _ = self.run(&["down"]);
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        // Never leave a daemon or a child behind, whatever the test did.
        if self.home.join("daemon.sock").exists() {
            self.down();
        }
    }
}

pub fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}
