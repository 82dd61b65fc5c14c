//! The manifest sections this part of runway reads: `[[step]]` (the pipeline), `[deploy]`, and
//! `[modes.MODE]` route overrides. Read from the same `runway.toml` the supervisor loads; other
//! sections are left to their owners.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::DeployConfig;
use crate::checks::mode::Mode;
use crate::pipeline::StepConfig;
use crate::proxy::config::RouteConfig;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct OpsSections {
    #[serde(default)]
    pub step: Vec<StepConfig>,
    #[serde(default)]
    pub deploy: DeployConfig,
    #[serde(default)]
    pub modes: BTreeMap<String, ModeSections>,
}

/// `[modes.MODE]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModeSections {
    /// Routes that replace the route with the same path in this mode.
    #[serde(default)]
    pub route: Vec<RouteConfig>,
}

impl OpsSections {
    pub fn parse(text: &str) -> Result<Self, String> {
        let sections: Self = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut problems = Vec::new();
        for name in sections.modes.keys() {
            if name.parse::<Mode>().is_err() {
                problems.push(format!(
                    "[modes.{name}]: unknown mode (use development, dev_stage or production)"
                ));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for step in &sections.step {
            if !seen.insert(step.name.as_str()) {
                problems.push(format!("[[step]] `{}` is declared twice", step.name));
            }
        }
        if problems.is_empty() {
            Ok(sections)
        } else {
            Err(problems.join("\n"))
        }
    }

    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// `routes` with this mode's replacements applied (same path → replaced, new path → added).
    pub fn routes_for(&self, mode: Mode, routes: &[RouteConfig]) -> Vec<RouteConfig> {
        let mut out = routes.to_vec();
        if let Some(m) = self.modes.get(mode.as_str()) {
            for r in &m.route {
                match out.iter_mut().find(|x| x.path == r.path) {
                    Some(slot) => *slot = r.clone(),
                    None => out.push(r.clone()),
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repos_manifest_parses_and_production_serves_the_release() {
        let text = include_str!("../../../runway.toml");
        let ops = OpsSections::parse(text).unwrap();
        let names: Vec<&str> = ops.step.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "install",
                "build-backend",
                "build-frontend",
                "migrate",
                "seed"
            ]
        );
        assert_eq!(ops.deploy.keep, 5);
        let route = |path: &str, process: &str| -> RouteConfig {
            toml::from_str(&format!("path = \"{path}\"\nprocess = \"{process}\"")).unwrap()
        };
        let base = vec![route("/", "frontend"), route("/api", "backend")];
        let prod = ops.routes_for(Mode::Production, &base);
        assert_eq!(
            prod[0].static_dir.as_deref(),
            Some("${RUNWAY_HOME}/current/dist")
        );
        assert_eq!(prod[1], base[1]);
        assert_eq!(ops.routes_for(Mode::Development, &base), base);
        assert!(OpsSections::parse("[modes.prod]\n").is_err());
    }
}
