//! Releases on disk: `releases/ID/` holds one build's artifacts (the backend binary, the
//! frontend's `dist/`) and `release.json` (id, git sha, time, each step's duration, result);
//! `current` is a symlink to the live one, replaced atomically (new symlink + rename), so a
//! reader sees the old build or the new one, never half of each. The newest `keep` are kept.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StepTiming {
    pub name: String,
    /// `ran`, `skipped` or `failed`.
    pub status: String,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ReleaseResult {
    InProgress,
    Live,
    /// Was live; another release replaced it.
    Superseded,
    Failed {
        step: String,
        log: Option<String>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReleaseRecord {
    pub id: String,
    pub git_sha: Option<String>,
    pub git_ref: Option<String>,
    pub created: DateTime<Utc>,
    pub steps: Vec<StepTiming>,
    pub result: ReleaseResult,
    /// Last time this release became live (deploy or rollback).
    pub activated: Option<DateTime<Utc>>,
}

impl ReleaseRecord {
    pub fn total_ms(&self) -> u64 {
        self.steps.iter().map(|s| s.duration_ms).sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("no release `{0}` (see `runway releases`)")]
    NotFound(String),
    #[error("release `{0}` has no build to switch to (it failed or was pruned)")]
    NotUsable(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ReleaseError {
    let what = what.into();
    move |source| ReleaseError::Io { what, source }
}

/// The releases of one state directory.
#[derive(Debug, Clone)]
pub struct ReleaseStore {
    state_dir: PathBuf,
    keep: usize,
}

impl ReleaseStore {
    pub fn new(state_dir: &Path, keep: usize) -> Self {
        Self {
            state_dir: state_dir.to_path_buf(),
            keep: keep.max(1),
        }
    }

    pub fn root(&self) -> PathBuf {
        self.state_dir.join("releases")
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root().join(id)
    }

    /// The pointer: `STATE/current` → `releases/ID`.
    pub fn pointer(&self) -> PathBuf {
        self.state_dir.join("current")
    }

    /// A new release directory with an in-progress record. Ids sort by time.
    pub fn create(
        &self,
        git_sha: Option<String>,
        git_ref: Option<String>,
    ) -> Result<ReleaseRecord, ReleaseError> {
        let now = Utc::now();
        let short = git_sha
            .as_deref()
            .map(|s| s.chars().take(7).collect::<String>())
            .unwrap_or_else(|| "local".to_string());
        let mut id = format!("{}-{short}", now.format("%Y%m%dT%H%M%S"));
        let mut n = 1;
        while self.dir(&id).exists() {
            n += 1;
            id = format!("{}-{short}.{n}", now.format("%Y%m%dT%H%M%S"));
        }
        std::fs::create_dir_all(self.dir(&id)).map_err(io(format!("creating release {id}")))?;
        let record = ReleaseRecord {
            id,
            git_sha,
            git_ref,
            created: now,
            steps: Vec::new(),
            result: ReleaseResult::InProgress,
            activated: None,
        };
        self.save(&record)?;
        Ok(record)
    }

    pub fn save(&self, record: &ReleaseRecord) -> Result<(), ReleaseError> {
        let path = self.dir(&record.id).join("release.json");
        let tmp = path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(record).map_err(|e| ReleaseError::Io {
            what: "encoding the release record".into(),
            source: std::io::Error::other(e),
        })?;
        std::fs::write(&tmp, bytes).map_err(io("writing the release record"))?;
        std::fs::rename(&tmp, &path).map_err(io("writing the release record"))
    }

    pub fn load(&self, id: &str) -> Result<ReleaseRecord, ReleaseError> {
        let bytes = std::fs::read(self.dir(id).join("release.json"))
            .map_err(|_| ReleaseError::NotFound(id.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|_| ReleaseError::NotFound(id.to_string()))
    }

    /// Every recorded release, newest first.
    pub fn list(&self) -> Vec<ReleaseRecord> {
        let Ok(entries) = std::fs::read_dir(self.root()) else {
            return Vec::new();
        };
        let mut all: Vec<ReleaseRecord> = entries
            .flatten()
            .filter_map(|e| self.load(e.file_name().to_str()?).ok())
            .collect();
        all.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
        all
    }

    /// The live release's id.
    pub fn current(&self) -> Option<String> {
        let target = std::fs::read_link(self.pointer()).ok()?;
        Some(target.file_name()?.to_string_lossy().into_owned())
    }

    /// Points `current` at `id` atomically; returns the previous id.
    pub fn switch_to(&self, id: &str) -> Result<Option<String>, ReleaseError> {
        if !self.dir(id).join("release.json").is_file() {
            return Err(ReleaseError::NotFound(id.to_string()));
        }
        let previous = self.current();
        let tmp = self
            .state_dir
            .join(format!(".current.{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(Path::new("releases").join(id), &tmp)
            .map_err(io("creating the release pointer"))?;
        std::fs::rename(&tmp, self.pointer()).map_err(io("switching the release pointer"))?;
        Ok(previous)
    }

    /// Marks `id` live (and the one it replaced superseded).
    pub fn mark_live(&self, id: &str, previous: Option<&str>) -> Result<(), ReleaseError> {
        if let Some(prev) = previous.filter(|p| *p != id)
            && let Ok(mut r) = self.load(prev)
        {
            r.result = ReleaseResult::Superseded;
            self.save(&r)?;
        }
        let mut r = self.load(id)?;
        r.result = ReleaseResult::Live;
        r.activated = Some(Utc::now());
        self.save(&r)
    }

    /// A release that can be switched to: it has a build and did not fail.
    pub fn usable(&self, id: &str) -> Result<ReleaseRecord, ReleaseError> {
        let r = self.load(id)?;
        match r.result {
            ReleaseResult::Live | ReleaseResult::Superseded => Ok(r),
            _ => Err(ReleaseError::NotUsable(id.to_string())),
        }
    }

    /// The newest usable release other than the current one (rollback's default).
    pub fn previous_usable(&self) -> Option<ReleaseRecord> {
        let current = self.current();
        self.list()
            .into_iter()
            .filter(|r| Some(&r.id) != current.as_ref())
            .find(|r| matches!(r.result, ReleaseResult::Superseded | ReleaseResult::Live))
    }

    /// Deletes all but the newest `keep` releases; the current one is always kept.
    pub fn prune(&self) -> Vec<String> {
        let current = self.current();
        let mut removed = Vec::new();
        for r in self.list().into_iter().skip(self.keep) {
            if Some(&r.id) == current.as_ref() {
                continue;
            }
            if std::fs::remove_dir_all(self.dir(&r.id)).is_ok() {
                removed.push(r.id);
            }
        }
        removed
    }
}

/// Copies `src` (a file or a directory tree) to `dst`.
pub fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    let meta = std::fs::metadata(src)?;
    if meta.is_file() {
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(src, dst)?;
        return Ok(());
    }
    std::fs::create_dir_all(dst)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        copy_tree(&entry.path(), &dst.join(entry.file_name()))?;
    }
    Ok(())
}
