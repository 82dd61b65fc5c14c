//! The CLI ↔ daemon protocol: one JSON object per line over the Unix socket, each carrying
//! the protocol version `v`. A daemon answers a request of another version with an error that
//! says what to do, instead of misreading it.

use serde::{Deserialize, Serialize};

use crate::supervisor::{Env, ProcState, ReloadReport};

pub const PROTOCOL_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub v: u32,
    #[serde(flatten)]
    pub body: Command,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Command {
    Ping,
    Status,
    /// Start `names` (empty: every autostart process); with `wait`, answer once they settle.
    Start {
        names: Vec<String>,
        #[serde(default)]
        wait: bool,
    },
    Stop {
        names: Vec<String>,
    },
    /// With `update_env`: the caller's environment, and the manifest's env is re-read.
    Restart {
        names: Vec<String>,
        #[serde(default)]
        update_env: Option<Env>,
        #[serde(default)]
        wait: bool,
    },
    Reload,
    Down,
    Save,
    Resurrect,
    /// `runway jobs run NAME` (issue 6).
    JobsRun {
        name: String,
    },
    /// `runway deploy` / `rollback`, after the release pointer moved: switch `process` to the
    /// new build without a failed request (see `deploy::activate`).
    Activate {
        process: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    pub v: u32,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub data: serde_json::Value,
}

impl Response {
    pub fn ok(data: impl Serialize) -> Response {
        Response {
            v: PROTOCOL_VERSION,
            ok: true,
            error: None,
            data: serde_json::to_value(data).unwrap_or(serde_json::Value::Null),
        }
    }

    pub fn err(message: impl Into<String>) -> Response {
        Response {
            v: PROTOCOL_VERSION,
            ok: false,
            error: Some(message.into()),
            data: serde_json::Value::Null,
        }
    }
}

/// `runway status --json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusReport {
    pub daemon: DaemonInfo,
    pub processes: Vec<ProcessRow>,
    #[serde(default)]
    pub jobs: Vec<JobRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DaemonInfo {
    pub pid: u32,
    pub version: String,
    pub protocol: u32,
    pub manifest: String,
    pub mode: String,
    pub home: String,
    pub uptime_ms: u64,
    pub rss_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessRow {
    pub name: String,
    pub pid: Option<u32>,
    pub state: ProcState,
    pub uptime_ms: Option<u64>,
    pub restarts: u32,
    pub cpu_percent: Option<f64>,
    pub rss_bytes: Option<u64>,
    pub port: Option<u16>,
    pub reason: Option<String>,
    pub last_exit: Option<String>,
    pub wanted: bool,
}

/// A scheduled job's line in `runway status` (filled by the jobs module, issue 6).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobRow {
    pub name: String,
    pub schedule: String,
    pub running: bool,
    pub last_run: Option<String>,
    pub last_exit: Option<i32>,
    pub next_run: Option<String>,
}

/// What `start`/`stop`/`restart` answer: the names acted on and the resulting rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActionReport {
    pub names: Vec<String>,
    #[serde(default)]
    pub warnings: Vec<String>,
    pub status: Option<StatusReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReloadAnswer {
    pub report: ReloadReport,
    pub status: Option<StatusReport>,
}
