//! Links runway's binaries as position-dependent executables (`-no-pie`).
//!
//! A PIE needs every pointer in its read-only data (vtables, string and table slices —
//! about 45,000 of them here) relocated by the dynamic loader at each start: the relocation
//! table is read whole and the relocated pages become private memory of every runway
//! process: 1.9 MB of the daemon's resident size (docs/benchmarks.md, issue 4). A fixed
//! load address resolves them at link time instead. The cost is that the executable's own
//! code and data are not address-randomised (shared libraries, stack and heap still are) —
//! the default trade-off for Go binaries on Linux too. Delete this file to go back to PIE.
fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
        // `#[cold]` functions (panic and error paths, rehashing, …) are emitted into
        // `.text.unlikely.*`; keeping that prefix makes the linker put them together instead of
        // between the hot code, so the pages the daemon runs hold less code it never runs.
        println!("cargo:rustc-link-arg-bins=-Wl,-z,keep-text-section-prefix");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
