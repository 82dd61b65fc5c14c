//! Files the daemon keeps in its state directory (`.runway/` beside the manifest, or
//! `RUNWAY_HOME`): the socket, the lock, logs, the saved process list and the children record.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::manifest::Mode;

/// Every path under one state directory.
#[derive(Debug, Clone)]
pub struct Paths {
    pub home: PathBuf,
    pub socket: PathBuf,
    pub lock: PathBuf,
    pub logs: PathBuf,
    pub dump: PathBuf,
    pub children: PathBuf,
}

impl Paths {
    pub fn new(home: &Path) -> Paths {
        let home = std::path::absolute(home).unwrap_or_else(|_| home.to_path_buf());
        Paths {
            socket: home.join("daemon.sock"),
            lock: home.join("daemon.lock"),
            logs: home.join("logs"),
            dump: home.join("dump.json"),
            children: home.join("children.json"),
            home,
        }
    }

    /// Creates the state directory (0700: it holds the socket and the saved environment).
    pub fn create(&self) -> io::Result<()> {
        fs::create_dir_all(&self.home)?;
        fs::set_permissions(&self.home, fs::Permissions::from_mode(0o700))?;
        fs::create_dir_all(&self.logs)?;
        Ok(())
    }
}

/// Writes `bytes` to `path` atomically (temp file, fsync, rename, fsync of the directory), so a
/// crash leaves either the old or the new content, never half of it.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    write_via_rename(path, bytes, mode, true)
}

/// Like [`write_atomic`] without the fsyncs: the content survives the writer being killed
/// (the page cache outlives a process) but not a power cut. For files that only matter while
/// the machine stays up — `children.json`, rewritten on every spawn and exit, where two fsyncs
/// (~10 ms on a busy disk) would sit between a crash and the restart.
pub fn write_replace(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    write_via_rename(path, bytes, mode, false)
}

fn write_via_rename(path: &Path, bytes: &[u8], mode: u32, durable: bool) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    {
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(bytes)?;
        if durable {
            file.sync_all()?;
        }
    }
    fs::rename(&tmp, path)?;
    if durable && let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// `runway save`: what `runway resurrect` brings back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dump {
    pub version: u32,
    pub manifest: PathBuf,
    pub mode: Mode,
    /// The processes that were wanted running, in dependency order.
    pub processes: Vec<String>,
    /// The environment the processes were started from (the platform injects secrets there,
    /// as into PM2's env): the file is mode 0600 in a 0700 directory.
    pub env: BTreeMap<String, String>,
    pub saved_at: String,
}

pub const DUMP_VERSION: u32 = 1;

impl Dump {
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        write_atomic(path, &json, 0o600)
    }

    pub fn read(path: &Path) -> Result<Dump, String> {
        let bytes = fs::read(path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                format!(
                    "nothing saved yet ({} does not exist): run `runway save` while your processes run",
                    path.display()
                )
            } else {
                format!("cannot read {}: {e}", path.display())
            }
        })?;
        let dump: Dump = serde_json::from_slice(&bytes).map_err(|e| {
            format!(
                "{} is damaged ({e}); run `runway up` and `runway save` again",
                path.display()
            )
        })?;
        if dump.version != DUMP_VERSION {
            return Err(format!(
                "{} was written by another runway version (format {}, this one reads {DUMP_VERSION})",
                path.display(),
                dump.version
            ));
        }
        Ok(dump)
    }
}
