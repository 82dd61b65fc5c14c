//! One daemon per state directory: an exclusive `flock` on `daemon.lock`, holding the pid.
//!
//! The kernel drops a flock when its holder dies, however it dies, so a lock left by a daemon
//! killed with SIGKILL is stale by construction: the next daemon simply gets it (and then
//! cleans up the children its predecessor left, see `supervisor::registry`). The descriptor
//! is close-on-exec, so no child can keep the lock alive.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

pub struct DaemonLock {
    _file: File,
    /// The pid found in the file when it was taken over from a dead daemon.
    pub previous_pid: Option<u32>,
}

pub enum LockError {
    /// Another daemon holds it.
    Held(Option<u32>),
    Io(std::io::Error),
}

pub fn acquire(path: &Path) -> Result<DaemonLock, LockError> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(LockError::Io)?;
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    let previous_pid = text.trim().parse::<u32>().ok();
    // SAFETY: flock on a descriptor we own.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(LockError::Held(previous_pid));
    }
    file.set_len(0).map_err(LockError::Io)?;
    file.seek(SeekFrom::Start(0)).map_err(LockError::Io)?;
    write!(file, "{}", std::process::id()).map_err(LockError::Io)?;
    let _ = file.flush();
    Ok(DaemonLock {
        _file: file,
        previous_pid,
    })
}

/// The pid of the daemon holding the lock, if one does.
pub fn holder(path: &Path) -> Option<u32> {
    let file = OpenOptions::new().read(true).write(true).open(path).ok()?;
    // SAFETY: flock on a descriptor we own; released at once when we got it.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        // SAFETY: as above.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
        return None;
    }
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}
