//! runway: one binary instead of PM2 + nginx + cron + deploy scripts.
//!
//! Module map (each module's own doc comment says what it owns):
//! - `proxy`: the reverse proxy and static file server (replaces nginx). Its contract with the
//!   supervisor is [`proxy::UpstreamTable`]: the supervisor publishes where each manifest
//!   process listens and whether it is ready; the proxy routes and holds requests by it.

pub mod checks;
pub mod db;
pub mod deploy;
pub mod jobs;
pub mod pipeline;
pub mod proxy;
