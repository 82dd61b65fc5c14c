//! runway: one binary instead of PM2 + nginx + cron + deploy scripts.
//!
//! Module map (each module's own doc comment says what it owns):
//! - `manifest`: `runway.toml` — parsed, mode applied, validated with file and line.
//! - `supervisor`: processes (spawn, probes, restart policy, backoff, stop), and the
//!   [`supervisor::Upstreams`] table it publishes for the proxy.
//! - `daemon`: the per-state-directory daemon (lock, Unix socket, JSON protocol, save/resurrect)
//!   and its integration points for the proxy and the jobs scheduler.
//! - `cli`: the `runway` verbs.
//! - `logs`: per-process log files with rotation and a total cap; tail and follow.
//! - `jobs`: the cron scheduler run by the daemon (`[[job]]`).
//! - `checks`: `verify` (the seed's 1.6) and `doctor` (1.8), and the mode rules `up` applies.
//! - `db`: PostgreSQL provisioning (local or a managed cluster) and the backend's db commands.
//! - `pipeline`: `[[step]]`s (install, build, migrate, seed) skipped when up to date.
//! - `deploy`: releases, `deploy`/`rollback` and the zero-downtime switch.
//! - `proxy`: the reverse proxy and static file server (replaces nginx). Its contract with the
//!   supervisor is [`proxy::UpstreamTable`]: the supervisor publishes where each manifest
//!   process listens and whether it is ready; the proxy routes and holds requests by it.

pub mod checks;
pub mod cli;
pub mod daemon;
pub mod db;
pub mod deploy;
pub mod jobs;
pub mod logs;
pub mod manifest;
pub mod pipeline;
pub mod proxy;
pub mod supervisor;
