//! Starting child processes safely: own process group, parent-death signal, no inherited
//! descriptors, a clean environment, stdin from /dev/null and piped stdout/stderr.
//!
//! All forks happen on one long-lived thread. `PR_SET_PDEATHSIG` fires when the *thread* that
//! forked the child exits, not the process: forking from a tokio blocking-pool thread (which
//! exits after 10 s idle) would kill healthy children at random. The spawner thread lives as
//! long as the daemon, so the signal means exactly "the daemon died".

use std::collections::BTreeMap;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;

use tokio::sync::oneshot;

type Reply = oneshot::Sender<io::Result<tokio::process::Child>>;

struct Job {
    command: std::process::Command,
    reply: Reply,
}

/// A handle to the spawner thread; cheap to clone.
#[derive(Clone)]
pub struct Spawner {
    tx: mpsc::Sender<Job>,
}

impl Spawner {
    /// Starts the spawner thread. Must be called inside the tokio runtime the children's pipes
    /// and exit notifications will be driven by.
    pub fn start() -> io::Result<Spawner> {
        let handle = tokio::runtime::Handle::current();
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("runway-spawner".into())
            .spawn(move || {
                let _guard = handle.enter();
                while let Ok(mut job) = rx.recv() {
                    let result = tokio::process::Command::from(std::mem::replace(
                        &mut job.command,
                        std::process::Command::new("/"),
                    ))
                    .kill_on_drop(false)
                    .spawn();
                    let _ = job.reply.send(result);
                }
            })?;
        Ok(Spawner { tx })
    }

    /// Spawns `argv` in `cwd` with exactly `env`, in a new process group.
    pub async fn spawn(
        &self,
        argv: &[String],
        cwd: &Path,
        env: &BTreeMap<String, String>,
    ) -> io::Result<tokio::process::Child> {
        let Some((program, args)) = argv.split_first() else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty command"));
        };
        let mut command = std::process::Command::new(program);
        command
            .args(args)
            .current_dir(cwd)
            .env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: only async-signal-safe calls (prctl, getppid, syscall, kill) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ) != 0
                {
                    return Err(io::Error::last_os_error());
                }
                // The daemon may have died between fork and prctl: then nobody would kill us.
                if libc::getppid() != parent {
                    libc::kill(libc::getpid(), libc::SIGKILL);
                }
                // Whatever descriptors the daemon inherited or opened without CLOEXEC must not
                // leak into the child. CLOEXEC rather than close keeps std's exec-error pipe
                // working until exec.
                if libc::syscall(
                    libc::SYS_close_range,
                    3 as libc::c_uint,
                    libc::c_uint::MAX,
                    libc::CLOSE_RANGE_CLOEXEC as libc::c_uint,
                ) != 0
                {
                    for fd in 3..4096 {
                        let flags = libc::fcntl(fd, libc::F_GETFD);
                        if flags >= 0 {
                            libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
                        }
                    }
                }
                Ok(())
            });
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job { command, reply })
            .map_err(|_| io::Error::other("the spawner thread is gone"))?;
        rx.await
            .map_err(|_| io::Error::other("the spawner thread dropped the request"))?
    }
}

/// Sends `signal` to every process in group `pgid`. Returns false when the group is empty.
pub fn signal_group(pgid: u32, signal: i32) -> bool {
    // SAFETY: plain syscall.
    unsafe { libc::killpg(pgid as libc::pid_t, signal) == 0 }
}

/// Whether any live (non-zombie) process is still in group `pgid`. The cheap signal-0 test
/// answers "empty" in the common case; only a non-empty group costs a /proc scan (zombies
/// waiting for init to reap them must not count as alive).
pub fn group_alive(pgid: u32) -> bool {
    signal_group(pgid, 0) && !super::stats::group_members(&[pgid]).is_empty()
}
