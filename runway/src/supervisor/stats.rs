//! CPU and memory of a process group, read straight from /proc (no sysinfo: a full process
//! table refresh costs more memory than the whole daemon is allowed).

use std::fs;

/// One reading of a process group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupSample {
    /// Resident memory of all members, bytes.
    pub rss: u64,
    /// utime + stime of all members, clock ticks.
    pub cpu_ticks: u64,
    /// Live members.
    pub members: u32,
}

/// Fields of `/proc/PID/stat` after the command name.
pub struct ProcStat {
    pub ppid: i32,
    pub pgrp: i32,
    pub utime: u64,
    pub stime: u64,
    pub starttime: u64,
    pub rss_pages: u64,
    pub state: char,
}

pub fn read_stat(pid: i32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<ProcStat> {
    // The command name is in parentheses and may contain spaces and parentheses itself.
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] = state (field 3), so field N is f[N - 3].
    Some(ProcStat {
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        utime: f.get(11)?.parse().ok()?,
        stime: f.get(12)?.parse().ok()?,
        starttime: f.get(19)?.parse().ok()?,
        rss_pages: f.get(21)?.parse().ok()?,
    })
}

pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as u64 } else { 4096 }
}

pub fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as u64 } else { 100 }
}

/// Every pid currently in /proc.
pub fn all_pids() -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Pids of the live (non-zombie) members of each of `pgids`, in one /proc scan.
pub fn group_members(pgids: &[u32]) -> Vec<(u32, i32, ProcStat)> {
    let mut out = Vec::new();
    if pgids.is_empty() {
        return out;
    }
    for pid in all_pids() {
        if let Some(stat) = read_stat(pid)
            && stat.state != 'Z'
            && pgids.contains(&(stat.pgrp as u32))
        {
            out.push((stat.pgrp as u32, pid, stat));
        }
    }
    out
}

/// Samples several groups with one pass over /proc.
pub fn sample_groups(pgids: &[u32]) -> Vec<(u32, GroupSample)> {
    let page = page_size();
    let mut samples: Vec<(u32, GroupSample)> =
        pgids.iter().map(|p| (*p, GroupSample::default())).collect();
    for (pgid, _pid, stat) in group_members(pgids) {
        if let Some((_, s)) = samples.iter_mut().find(|(p, _)| *p == pgid) {
            s.rss += stat.rss_pages * page;
            s.cpu_ticks += stat.utime + stat.stime;
            s.members += 1;
        }
    }
    samples
}

/// Start time of `pid` in clock ticks since boot: with the pid it identifies a process even
/// after the pid number is reused.
pub fn start_time(pid: i32) -> Option<u64> {
    read_stat(pid).map(|s| s.starttime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_names() {
        let line = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 5555 1000000 250 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.pgrp, 1234);
        assert_eq!(s.utime, 7);
        assert_eq!(s.stime, 3);
        assert_eq!(s.starttime, 5555);
        assert_eq!(s.rss_pages, 250);
    }

    #[test]
    fn samples_our_own_group() {
        // SAFETY: getpgrp has no preconditions.
        let pgid = unsafe { libc::getpgrp() } as u32;
        let samples = sample_groups(&[pgid]);
        assert!(samples[0].1.members >= 1);
        assert!(samples[0].1.rss > 0);
    }
}
