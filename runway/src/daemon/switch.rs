//! The daemon's side of a zero-downtime switch (`deploy::activate`): the candidate is started
//! from the supervised process's own command and environment, the route override goes into
//! the supervisor's upstream table (what the proxy reads), and the supervised process is
//! restarted on the new build and waited for.

use std::path::Path;
use std::time::Duration;

use crate::deploy::activate::{BoxFuture, Switchboard};
use crate::deploy::candidate::CandidateSpec;
use crate::manifest::{Manifest, ProbeKind};
use crate::proxy::UpstreamState;
use crate::supervisor::{ProcState, Supervisor, env};

pub struct DaemonSwitchboard<'a> {
    pub supervisor: &'a Supervisor,
    pub manifest: &'a Manifest,
    pub logs_dir: &'a Path,
}

impl Switchboard for DaemonSwitchboard<'_> {
    fn candidate_spec(&self, process: &str) -> Result<CandidateSpec, String> {
        let spec = self
            .manifest
            .process(process)
            .ok_or_else(|| format!("no process named `{process}` in the manifest"))?;
        let ready_path = match spec.readiness.as_ref().map(|p| &p.kind) {
            Some(ProbeKind::Http { path, .. }) => path.clone(),
            _ => {
                return Err(format!(
                    "process `{process}` needs an HTTP readiness probe (`readiness = {{ http = \"/ready\" }}`) to be switched without downtime"
                ));
            }
        };
        Ok(CandidateSpec {
            argv: spec.command.argv(),
            cwd: spec.cwd.clone(),
            env: env::resolve(spec, &self.supervisor.base_env())?,
            ready_path,
            log: self.logs_dir.join(format!("{process}-candidate.log")),
        })
    }

    fn set_override(&self, process: &str, state: UpstreamState) {
        self.supervisor
            .upstream_control()
            .set_override(process, state);
    }

    fn clear_override(&self, process: &str) {
        self.supervisor.upstream_control().clear_override(process);
    }

    fn restart_ready<'a>(
        &'a self,
        process: &'a str,
        bound: Duration,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut status = self
                .supervisor
                .watch_status(process)
                .ok_or_else(|| format!("no process named `{process}`"))?;
            let old_pid = status.borrow().pid;
            self.supervisor
                .restart(&[process.to_string()], None)
                .await?;
            // The restart is acknowledged before the old instance stops: wait for a new pid
            // that is ready, not for the old one's last "ready".
            let waited = tokio::time::timeout(
                bound,
                status.wait_for(|s| {
                    (s.pid.is_some() && s.pid != old_pid && s.state == ProcState::Ready)
                        || s.state == ProcState::Errored
                }),
            )
            .await;
            match waited {
                Ok(Ok(s)) if s.state == ProcState::Ready => Ok(()),
                Ok(Ok(s)) => Err(format!(
                    "`{process}` errored after the restart: {}",
                    s.reason.clone().unwrap_or_default()
                )),
                Ok(Err(_)) => Err(format!("`{process}` was removed during the switch")),
                Err(_) => Err(format!(
                    "`{process}` was not ready within {} s after the restart",
                    bound.as_secs()
                )),
            }
        })
    }
}
