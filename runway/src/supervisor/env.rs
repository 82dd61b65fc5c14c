//! A child's environment, built from scratch on every (re)start with `--update-env`:
//! the caller's environment, then each `env_file`, then the manifest's `env`, then `PORT`.
//! Building from scratch is what makes a removed variable disappear (PM2 merges and keeps it).

use std::collections::BTreeMap;

use crate::manifest::ProcessSpec;

pub type Env = BTreeMap<String, String>;

/// The environment `spec` runs with, given the caller's `base` environment.
pub fn resolve(spec: &ProcessSpec, base: &Env) -> Result<Env, String> {
    resolve_parts(&spec.env, &spec.env_files, spec.port, base)
        .map_err(|e| format!("process `{}`: {e}", spec.name))
}

/// The same rules for anything with env, env files and an optional port (jobs use it too).
pub fn resolve_parts(
    env: &Env,
    env_files: &[std::path::PathBuf],
    port: Option<u16>,
    base: &Env,
) -> Result<Env, String> {
    let mut out = base.clone();
    for file in env_files {
        let iter = dotenvy::from_path_iter(file)
            .map_err(|e| format!("env_file {}: {}", file.display(), describe(&e)))?;
        for item in iter {
            let (key, value) =
                item.map_err(|e| format!("env_file {}: {}", file.display(), describe(&e)))?;
            out.insert(key, value);
        }
    }
    for (key, value) in env {
        out.insert(key.clone(), value.clone());
    }
    if let Some(port) = port {
        out.insert("PORT".into(), port.to_string());
    }
    Ok(out)
}

/// dotenvy's parse errors quote the offending line, which may hold a secret: say where, not what.
fn describe(e: &dotenvy::Error) -> String {
    match e {
        dotenvy::Error::LineParse(_, index) => format!("cannot parse the line at byte {index}"),
        dotenvy::Error::Io(io) => io.to_string(),
        dotenvy::Error::EnvVar(v) => v.to_string(),
        _ => "cannot read the file".to_string(),
    }
}

/// The caller's environment as a map (non-UTF-8 entries are skipped).
pub fn current() -> Env {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}
