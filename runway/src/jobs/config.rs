//! The manifest's `[[job]]` entries: what to run, when, for how long, and what to do when the
//! previous run is still going. Parsed and validated once; the scheduler only sees valid jobs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::schedule::Schedule;
use crate::pipeline::exec::CommandLine;

/// One `[[job]]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JobConfig {
    pub name: String,
    /// Cron expression: 5 fields (minute granularity) or 6 with seconds first.
    pub schedule: String,
    pub command: CommandLine,
    /// Working directory, relative to the manifest's directory.
    pub cwd: Option<PathBuf>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Longest a run may take (`"90s"`, `"30m"`, or seconds); then SIGTERM, then SIGKILL.
    #[serde(default, deserialize_with = "opt_duration")]
    pub timeout: Option<Duration>,
    #[serde(default)]
    pub overlap: OverlapPolicy,
    /// `UTC` (default), `local`, or an IANA name such as `Europe/Paris`.
    pub timezone: Option<String>,
}

/// What happens when a run is due while the previous one is still going.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OverlapPolicy {
    /// Skip this run (logged); the cron default people expect from `flock -n`.
    #[default]
    Skip,
    /// Start it anyway.
    Allow,
}

impl JobConfig {
    /// Every problem with this job, in words that name it.
    pub fn validate(&self) -> Result<Schedule, Vec<String>> {
        let mut problems = Vec::new();
        if !valid_name(&self.name) {
            problems.push(format!(
                "job `{}`: name must be letters, digits, `-` or `_`",
                self.name
            ));
        }
        match &self.command {
            CommandLine::Shell(s) if s.trim().is_empty() => {
                problems.push(format!("job `{}`: command is empty", self.name))
            }
            CommandLine::Argv(v) if v.is_empty() => {
                problems.push(format!("job `{}`: command is empty", self.name))
            }
            _ => {}
        }
        let schedule = match Schedule::parse(&self.schedule, self.timezone.as_deref()) {
            Ok(s) => Some(s),
            Err(e) => {
                problems.push(format!("job `{}`: {e}", self.name));
                None
            }
        };
        match schedule {
            Some(s) if problems.is_empty() => Ok(s),
            _ => Err(problems),
        }
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

use crate::manifest::units::parse_duration;

/// Serde helper: a duration written as a string with a unit or as a number of seconds.
pub fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Secs(u64),
        Text(String),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Secs(s)) => Ok(Some(Duration::from_secs(s))),
        Some(Raw::Text(t)) => parse_duration(&t)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}
