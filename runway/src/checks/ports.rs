//! Who listens on which TCP port: LISTEN sockets from `/proc/net/tcp{,6}`, mapped to the
//! process holding each socket through `/proc/*/fd` (inode match), with its name and process
//! group. Blocking (reads /proc): call from `spawn_blocking`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One listening socket and, when visible, its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub addr: IpAddr,
    pub port: u16,
    pub inode: u64,
    pub pid: Option<i32>,
    pub pgid: Option<i32>,
    pub program: Option<String>,
}

impl Listener {
    /// `vite (pid 1234)` or `an unknown program` when /proc hides the owner.
    pub fn owner(&self) -> String {
        match (&self.program, self.pid) {
            (Some(p), Some(pid)) => format!("{p} (pid {pid})"),
            (None, Some(pid)) => format!("pid {pid}"),
            _ => "an unknown program".to_string(),
        }
    }
}

const TCP_LISTEN: &str = "0A";

/// Every TCP listener on this machine.
pub fn listeners() -> Vec<Listener> {
    let mut found = Vec::new();
    for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        if let Ok(text) = std::fs::read_to_string(file) {
            found.extend(parse_proc_net_tcp(&text, v6));
        }
    }
    let owners = socket_owners();
    for l in &mut found {
        if let Some(pid) = owners.get(&l.inode) {
            l.pid = Some(*pid);
            l.program = program_name(*pid);
            l.pgid = process_group(*pid);
        }
    }
    found
}

/// Listeners on `port` (any address).
pub fn listeners_on(port: u16) -> Vec<Listener> {
    listeners().into_iter().filter(|l| l.port == port).collect()
}

fn parse_proc_net_tcp(text: &str, v6: bool) -> Vec<Listener> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 10 || cols[3] != TCP_LISTEN {
                return None;
            }
            let (addr_hex, port_hex) = cols[1].split_once(':')?;
            let port = u16::from_str_radix(port_hex, 16).ok()?;
            let addr = if v6 {
                parse_v6(addr_hex)?
            } else {
                IpAddr::V4(Ipv4Addr::from(
                    u32::from_str_radix(addr_hex, 16).ok()?.swap_bytes(),
                ))
            };
            let inode = cols[9].parse().ok()?;
            Some(Listener {
                addr,
                port,
                inode,
                pid: None,
                pgid: None,
                program: None,
            })
        })
        .collect()
}

/// /proc prints an IPv6 address as four host-order 32-bit words.
fn parse_v6(hex: &str) -> Option<IpAddr> {
    if hex.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for word in 0..4 {
        let w = u32::from_str_radix(&hex[word * 8..word * 8 + 8], 16).ok()?;
        bytes[word * 4..word * 4 + 4].copy_from_slice(&w.swap_bytes().to_be_bytes());
    }
    Some(IpAddr::V6(Ipv6Addr::from(bytes)))
}

/// Socket inode → a pid holding it (the lowest pid wins, usually the parent).
fn socket_owners() -> HashMap<u64, i32> {
    let mut owners = HashMap::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return owners;
    };
    let mut pids: Vec<i32> = procs
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    for pid in pids {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let t = target.to_string_lossy();
            if let Some(inode) = t
                .strip_prefix("socket:[")
                .and_then(|s| s.strip_suffix(']'))
                .and_then(|s| s.parse::<u64>().ok())
            {
                owners.entry(inode).or_insert(pid);
            }
        }
    }
    owners
}

pub fn program_name(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// The process group of `pid` (field 5 of /proc/PID/stat, after the parenthesised name).
pub fn process_group(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v4_and_v6_listeners() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:1F91 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 999 1\n";
        let l = parse_proc_net_tcp(v4, false);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].port, 8080);
        assert_eq!(l[0].addr, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(l[0].inode, 12345);
        let v6 = "header\n   0: 00000000000000000000000001000000:0BB8 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1\n";
        let l = parse_proc_net_tcp(v6, true);
        assert_eq!(l[0].port, 3000);
        assert_eq!(l[0].addr, IpAddr::V6(Ipv6Addr::LOCALHOST));
    }

    #[test]
    fn finds_our_own_listener_with_pid_and_name() {
        let sock = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = sock.local_addr().unwrap().port();
        let found = listeners_on(port);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].pid, Some(std::process::id() as i32));
        assert!(found[0].program.is_some());
    }
}
