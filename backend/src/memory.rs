//! Giving back what startup used before serving, so the idle process is small.
//!
//! `backend start` migrates, seeds (argon2 hashes for new users), builds the OpenAPI document
//! and the TLS and mail clients before it serves. That leaves two kinds of memory behind:
//!
//! - freed heap, which glibc keeps: [`malloc_trim`] returns it;
//! - pages of the executable's code and read-only data that startup touched (the kernel maps
//!   them 64 KiB at a time): about 10 MB of a 13 MB text segment, most of which serving never
//!   runs. [`drop_clean_executable_pages`] unmaps them from this process with `MADV_DONTNEED`;
//!   they stay in the page cache, and the pages serving needs come back on first use (a minor
//!   fault, no disk read). Only mappings of the executable that are not writable and hold no
//!   anonymous (copy-on-write) page are touched — never the relocated RELRO data — so nothing
//!   but clean, re-readable file pages is dropped.
//!
//! Both are Linux-only and best effort: any failure is ignored.

/// Releases startup memory; call once, just before serving.
pub fn release_startup_memory() {
    malloc_trim();
    #[cfg(target_os = "linux")]
    drop_clean_executable_pages();
}

fn malloc_trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap memory to the OS.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The executable's read-only mappings without anonymous pages, as (start, length).
#[cfg(target_os = "linux")]
fn clean_executable_mappings(smaps: &str, exe: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    // Each mapping: a header line `start-end perms offset dev inode path`, then `Key: value kB`.
    let mut current: Option<(usize, usize)> = None;
    let mut private_pages = 0u64;
    let mut flush = |current: &mut Option<(usize, usize)>, private: u64| {
        if let Some(m) = current.take()
            && private == 0
        {
            out.push(m);
        }
    };
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        if let Some((start, end)) = first.split_once('-')
            && let (Ok(start), Ok(end)) = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            )
        {
            flush(&mut current, private_pages);
            private_pages = 0;
            let perms = fields.next().unwrap_or("");
            let path = fields.nth(3).unwrap_or("");
            if path == exe && perms.starts_with('r') && perms.as_bytes().get(1) == Some(&b'-') {
                current = Some((start, end - start));
            }
        } else if current.is_some()
            // Copy-on-write pages (relocated data) count here. Dirty *file* pages don't: a
            // freshly written executable has dirty page-cache pages, still safe to unmap.
            && first == "Anonymous:"
        {
            private_pages += fields.next().and_then(|v| v.parse().ok()).unwrap_or(1);
        }
    }
    flush(&mut current, private_pages);
    out
}

#[cfg(target_os = "linux")]
fn drop_clean_executable_pages() {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return;
    };
    let Some(exe) = exe.to_str() else { return };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    for (start, len) in clean_executable_mappings(&smaps, exe) {
        // SAFETY: the range is a whole mapping of the executable that is read-only and holds no
        // private page, so every page is a clean copy of the file: MADV_DONTNEED only unmaps it
        // and the next access reads the same bytes back from the page cache.
        unsafe {
            libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED);
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn only_clean_read_only_mappings_of_the_executable() {
        let smaps = "\
5600-5700 r--p 00000000 fd:00 12 /bin/app
Rss: 100 kB
Private_Dirty: 100 kB
Anonymous: 0 kB
5700-5900 r-xp 00100000 fd:00 12 /bin/app
Anonymous: 0 kB
Private_Dirty: 0 kB
5900-5a00 r--p 00300000 fd:00 12 /bin/app
Private_Dirty: 8 kB
Anonymous: 8 kB
AnonHugePages: 0 kB
5a00-5b00 rw-p 00400000 fd:00 12 /bin/app
Anonymous: 0 kB
7f00-7f10 r-xp 00000000 fd:00 13 /lib/libc.so.6
Anonymous: 0 kB
";
        assert_eq!(
            clean_executable_mappings(smaps, "/bin/app"),
            vec![(0x5600, 0x100), (0x5700, 0x200)]
        );
    }

    #[test]
    fn code_still_runs_after_dropping() {
        drop_clean_executable_pages();
        // Formatting and allocation run code from pages that were just dropped.
        assert_eq!(format!("{}-{}", 1, "x"), "1-x");
    }
}
