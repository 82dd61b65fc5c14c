//! Logging: human-readable lines in development/test, JSON lines in dev_stage/production
//! (with the current span's fields, so every line of a request carries its `request_id`).
//! `RUST_LOG` overrides the level filter. Logs go to stdout; startup errors go to stderr.

use tracing_subscriber::EnvFilter;

use crate::config::Mode;

pub fn init(mode: Mode) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    // try_init: a second call (tests in one process) is harmless.
    if mode.json_logs() {
        let _ = builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init();
    } else {
        let _ = builder.try_init();
    }
}
