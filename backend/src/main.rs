//! Thin entry point: everything lives in the library (`backend::cli`).

fn main() -> std::process::ExitCode {
    backend::cli::main()
}
