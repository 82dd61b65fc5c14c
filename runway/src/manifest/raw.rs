//! The manifest exactly as written: serde shapes with spans, unknown keys denied.
//!
//! Kept apart from the resolved types so defaults, mode overrides and path resolution happen in
//! one place (`validate.rs`) with the spans still at hand for error lines.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

use super::units::{Bytes, Dur, Signal};
use super::{Condition, Overlap, RestartPolicy};
use crate::deploy::DeployConfig;
use crate::deploy::manifest::ModeSections;
use crate::pipeline::StepConfig;
use crate::proxy::config::{ProxyConfig, RouteConfig};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawManifest {
    #[serde(default)]
    pub logs: Option<RawLogs>,
    #[serde(default)]
    pub proxy: Option<Spanned<ProxyConfig>>,
    #[serde(default)]
    pub route: Vec<Spanned<RouteConfig>>,
    #[serde(default)]
    pub process: Vec<Spanned<RawProcess>>,
    #[serde(default)]
    pub job: Vec<Spanned<RawJob>>,
    /// `[[step]]`: the build pipeline (owned by `pipeline`).
    #[serde(default)]
    pub step: Vec<Spanned<StepConfig>>,
    /// `[deploy]` (owned by `deploy`).
    #[serde(default)]
    pub deploy: Option<DeployConfig>,
    /// `[modes.MODE]`: per-mode route replacements.
    #[serde(default)]
    pub modes: BTreeMap<String, Spanned<ModeSections>>,
    /// `[up]`: what `runway up` prints once everything is ready.
    #[serde(default)]
    pub up: Option<RawUp>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUp {
    /// A line per mode (e.g. the development login).
    #[serde(default)]
    pub notes: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLogs {
    pub max_size: Option<Bytes>,
    pub keep: Option<u32>,
    pub total_cap: Option<Bytes>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawCommand {
    Argv(Vec<String>),
    Shell(String),
}

/// Env values may be written as strings, numbers or booleans; all become strings.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum EnvValue {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl EnvValue {
    pub fn into_string(self) -> String {
        match self {
            EnvValue::Text(s) => s,
            EnvValue::Int(i) => i.to_string(),
            EnvValue::Float(f) => f.to_string(),
            EnvValue::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawTcp {
    /// `tcp = true`: the process's own port.
    Own(bool),
    /// `tcp = "127.0.0.1:5432"`.
    Addr(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    pub http: Option<String>,
    pub tcp: Option<RawTcp>,
    pub exec: Option<RawCommand>,
    pub interval: Option<Dur>,
    pub timeout: Option<Dur>,
    pub failure_threshold: Option<u32>,
    pub initial_delay: Option<Dur>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackoff {
    pub initial: Option<Dur>,
    pub max: Option<Dur>,
    pub multiplier: Option<f64>,
    pub reset_after: Option<Dur>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCrashLoop {
    pub max_restarts: Option<u32>,
    pub window: Option<Dur>,
}

/// `depends_on = ["db"]` or `depends_on = { db = "healthy", migrate = "completed" }`.
#[derive(Debug, Clone)]
pub enum RawDepends {
    Names(Vec<String>),
    Conditions(BTreeMap<String, Condition>),
}

impl<'de> Deserialize<'de> for RawDepends {
    // By hand rather than `untagged`, whose error ("data did not match any variant") does not
    // tell the user what to write.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shape {
            Names(Vec<String>),
            Table(BTreeMap<String, String>),
        }
        let shape = Shape::deserialize(d).map_err(|_| {
            D::Error::custom(
                "`depends_on` must be a list of process names or a table such as { db = \"healthy\" }",
            )
        })?;
        match shape {
            Shape::Names(names) => Ok(RawDepends::Names(names)),
            Shape::Table(table) => table
                .into_iter()
                .map(|(name, condition)| {
                    let condition = match condition.as_str() {
                        "started" => Condition::Started,
                        "healthy" => Condition::Healthy,
                        "completed" => Condition::Completed,
                        other => {
                            return Err(D::Error::custom(format!(
                                "`depends_on`: `{other}` (for `{name}`) is not a condition; use \"started\", \"healthy\" or \"completed\""
                            )));
                        }
                    };
                    Ok((name, condition))
                })
                .collect::<Result<_, _>>()
                .map(RawDepends::Conditions),
        }
    }
}

/// A `[[process]]` entry, and also the shape of its `[process.modes.MODE]` overrides (where
/// `name` and `modes` are refused).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProcess {
    pub name: Option<Spanned<String>>,
    pub command: Option<Spanned<RawCommand>>,
    pub cwd: Option<Spanned<String>>,
    pub env: Option<BTreeMap<String, EnvValue>>,
    pub env_file: Option<Spanned<OneOrMany>>,
    pub port: Option<Spanned<u16>>,
    pub readiness: Option<Spanned<RawProbe>>,
    pub liveness: Option<Spanned<RawProbe>>,
    pub restart: Option<RestartPolicy>,
    pub backoff: Option<Spanned<RawBackoff>>,
    pub crash_loop: Option<RawCrashLoop>,
    pub stop_signal: Option<Signal>,
    pub stop_timeout: Option<Dur>,
    pub max_memory: Option<Bytes>,
    pub depends_on: Option<Spanned<RawDepends>>,
    pub autostart: Option<bool>,
    pub start_if_env: Option<Spanned<String>>,
    pub modes: Option<BTreeMap<String, Spanned<RawProcess>>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJob {
    pub name: Spanned<String>,
    pub schedule: Spanned<String>,
    pub command: Option<Spanned<RawCommand>>,
    pub cwd: Option<String>,
    pub env: Option<BTreeMap<String, EnvValue>>,
    pub env_file: Option<OneOrMany>,
    pub timeout: Option<Dur>,
    pub overlap: Option<Overlap>,
    pub timezone: Option<String>,
}
