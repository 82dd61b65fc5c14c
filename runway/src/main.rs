//! `runway`: see `runway --help`. Everything lives in the library; this is the entry point.

fn main() -> std::process::ExitCode {
    runway::cli::main()
}
