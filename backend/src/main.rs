//! Thin entry point: everything lives in the library (`backend::cli`).

fn main() -> std::process::ExitCode {
    return_big_allocations_to_the_os();
    backend::cli::main()
}

/// Each password hash allocates argon2's 19 MiB work area. glibc serves such blocks with mmap,
/// but after the first free it raises its mmap threshold to that size, so later blocks come
/// from per-thread heaps that are never trimmed: under a burst of signins the process kept
/// ~600 MB. A fixed 1 MiB threshold keeps big blocks on mmap, returned to the OS when freed.
fn return_big_allocations_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes glibc's allocator; called before any thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}
