//! The git side of a deploy: refuse a dirty work tree, fetch and check out the wanted ref (or
//! fast-forward to the upstream), and name the commit that is being deployed.

use std::path::Path;

use tokio::process::Command;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GitError {
    #[error(
        "the work tree has uncommitted changes, refusing to deploy:\n  {}\n  commit or stash them first (`git stash`), then deploy again",
        .0.join("\n  ")
    )]
    Dirty(Vec<String>),
    #[error("{} is not a git repository; deploys come from git (`git init` and commit first)", .0)]
    NotARepo(String),
    #[error("`git {args}` failed: {output}")]
    Failed { args: String, output: String },
    #[error("git is not installed: install it (Debian: `apt-get install git`)")]
    Missing,
}

async fn git(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .await
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                GitError::Missing
            } else {
                GitError::Failed {
                    args: args.join(" "),
                    output: e.to_string(),
                }
            }
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(GitError::Failed {
            args: args.join(" "),
            output: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Modified or staged tracked files (untracked and ignored files do not count).
pub async fn dirty_files(dir: &Path) -> Result<Vec<String>, GitError> {
    if git(dir, &["rev-parse", "--is-inside-work-tree"])
        .await
        .is_err()
    {
        return Err(GitError::NotARepo(dir.display().to_string()));
    }
    let status = git(dir, &["status", "--porcelain", "--untracked-files=no"]).await?;
    Ok(status.lines().map(|l| l.trim().to_string()).collect())
}

pub async fn head(dir: &Path) -> Result<String, GitError> {
    git(dir, &["rev-parse", "HEAD"]).await
}

/// Clean tree → fetch (when there is a remote) → check out `git_ref` (detached), or
/// fast-forward to the upstream when the branch has one. Returns the commit to deploy.
pub async fn prepare(dir: &Path, git_ref: Option<&str>) -> Result<String, GitError> {
    let dirty = dirty_files(dir).await?;
    if !dirty.is_empty() {
        return Err(GitError::Dirty(dirty));
    }
    let has_remote = !git(dir, &["remote"]).await?.is_empty();
    if has_remote {
        git(dir, &["fetch", "--quiet", "--all", "--tags"]).await?;
    }
    match git_ref {
        Some(r) => {
            let sha = git(dir, &["rev-parse", "--verify", &format!("{r}^{{commit}}")]).await?;
            git(dir, &["checkout", "--quiet", "--detach", &sha]).await?;
        }
        None => {
            if has_remote
                && git(dir, &["rev-parse", "--abbrev-ref", "@{upstream}"])
                    .await
                    .is_ok()
            {
                git(dir, &["merge", "--ff-only", "--quiet", "@{upstream}"]).await?;
            }
        }
    }
    head(dir).await
}
