//! The record of live children on disk (`.runway/children.json`), so a daemon that was killed
//! with SIGKILL can be cleaned up after: its successor finds the process groups it left and
//! ends them before starting anything.
//!
//! A pid alone is not an identity (pids are reused), so each entry keeps the leader's start
//! time from /proc; a group is only signalled if its leader still matches, or — leader gone —
//! for members started after it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::spawn::signal_group;
use super::stats;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChildRecord {
    pub name: String,
    pub pid: u32,
    pub start_time: u64,
}

/// Live children, mirrored to a file on every change.
pub struct ChildRegistry {
    path: Option<PathBuf>,
    children: Mutex<BTreeMap<u32, ChildRecord>>,
}

impl ChildRegistry {
    pub fn new(path: Option<PathBuf>) -> ChildRegistry {
        ChildRegistry {
            path,
            children: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn add(&self, name: &str, pid: u32) {
        let start_time = stats::start_time(pid as i32).unwrap_or(0);
        self.change(|c| {
            c.insert(
                pid,
                ChildRecord {
                    name: name.to_string(),
                    pid,
                    start_time,
                },
            );
        });
    }

    pub fn remove(&self, pid: u32) {
        self.change(|c| {
            c.remove(&pid);
        });
    }

    fn change(&self, f: impl FnOnce(&mut BTreeMap<u32, ChildRecord>)) {
        let Ok(mut children) = self.children.lock() else {
            return;
        };
        f(&mut children);
        if let Some(path) = &self.path {
            let list: Vec<&ChildRecord> = children.values().collect();
            if let Ok(json) = serde_json::to_vec(&list) {
                // No fsync: the file is for a successor after a daemon crash, not after a reboot
                // (the children die with the machine), and it sits on the restart path.
                let _ = crate::daemon::state::write_replace(path, &json, 0o600);
            }
        }
    }
}

/// Ends the process groups a dead daemon left behind (read from its `children.json`).
/// Returns a line per group that was found and stopped.
pub fn cleanup_stale(path: &Path) -> Vec<String> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let records: Vec<ChildRecord> = serde_json::from_slice(&bytes).unwrap_or_default();
    let mut report = Vec::new();
    let mut groups = Vec::new();
    for rec in records {
        let leader_matches = stats::start_time(rec.pid as i32) == Some(rec.start_time);
        let members: Vec<i32> = stats::group_members(&[rec.pid])
            .into_iter()
            .filter(|(_, pid, stat)| {
                (*pid as u32 == rec.pid && leader_matches)
                    || (*pid as u32 != rec.pid && stat.starttime >= rec.start_time)
            })
            .map(|(_, pid, _)| pid)
            .collect();
        if members.is_empty() {
            continue;
        }
        report.push(format!(
            "stopped `{}` (process group {}, {} process(es)) left running by a previous daemon",
            rec.name,
            rec.pid,
            members.len()
        ));
        if leader_matches {
            signal_group(rec.pid, libc::SIGTERM);
        } else {
            for pid in &members {
                // SAFETY: plain syscall.
                unsafe { libc::kill(*pid, libc::SIGTERM) };
            }
        }
        groups.push((rec, members, leader_matches));
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline
        && groups
            .iter()
            .any(|(_, members, _)| members.iter().any(|p| alive(*p)))
    {
        std::thread::sleep(Duration::from_millis(25));
    }
    for (rec, members, leader_matches) in &groups {
        if *leader_matches {
            signal_group(rec.pid, libc::SIGKILL);
        }
        for pid in members {
            if alive(*pid) {
                // SAFETY: plain syscall.
                unsafe { libc::kill(*pid, libc::SIGKILL) };
            }
        }
    }
    let _ = std::fs::remove_file(path);
    report
}

fn alive(pid: i32) -> bool {
    stats::read_stat(pid).is_some_and(|s| s.state != 'Z')
}
