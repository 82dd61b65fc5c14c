//! Reading logs for `runway logs`: the last N lines of a file, and following files as they
//! grow and rotate. Works without the daemon (the files are the source of truth).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The last `n` lines of `path` (fewer if the file is shorter; none if it does not exist).
pub fn tail(path: &Path, n: usize) -> io::Result<Vec<String>> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    if n == 0 {
        return Ok(Vec::new());
    }
    let len = file.metadata()?.len();
    let mut pos = len;
    let mut buf: Vec<u8> = Vec::new();
    // Read backwards in blocks until there are n line breaks before the last line.
    while pos > 0 {
        let step = pos.min(16 * 1024);
        pos -= step;
        file.seek(SeekFrom::Start(pos))?;
        let mut block = vec![0u8; step as usize];
        file.read_exact(&mut block)?;
        block.extend_from_slice(&buf);
        buf = block;
        let breaks = buf.iter().filter(|b| **b == b'\n').count();
        if breaks > n {
            break;
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    let skip = lines.len().saturating_sub(n);
    Ok(lines[skip..].iter().map(|l| l.to_string()).collect())
}

/// A file being followed: where we are and which inode it was.
struct Followed {
    path: PathBuf,
    prefix: String,
    pos: u64,
    inode: u64,
    partial: Vec<u8>,
}

/// Prints new lines of every file as they appear, until the process is interrupted. Handles
/// rotation (new inode or a shorter file → start from the top of the new file).
pub fn follow(files: Vec<(PathBuf, String)>, out: &mut dyn Write) -> io::Result<()> {
    let mut followed: Vec<Followed> = files
        .into_iter()
        .map(|(path, prefix)| {
            let (pos, inode) = std::fs::metadata(&path)
                .map(|m| (m.len(), m.ino()))
                .unwrap_or((0, 0));
            Followed {
                path,
                prefix,
                pos,
                inode,
                partial: Vec::new(),
            }
        })
        .collect();
    loop {
        for f in &mut followed {
            let Ok(meta) = std::fs::metadata(&f.path) else {
                continue;
            };
            if meta.ino() != f.inode || meta.len() < f.pos {
                f.inode = meta.ino();
                f.pos = 0;
                f.partial.clear();
            }
            if meta.len() == f.pos {
                continue;
            }
            let mut file = File::open(&f.path)?;
            file.seek(SeekFrom::Start(f.pos))?;
            let mut data = Vec::new();
            file.read_to_end(&mut data)?;
            f.pos += data.len() as u64;
            f.partial.extend_from_slice(&data);
            while let Some(i) = f.partial.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = f.partial.drain(..=i).collect();
                out.write_all(f.prefix.as_bytes())?;
                out.write_all(&line)?;
            }
            out.flush()?;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_returns_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let text: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).unwrap();
        let last = tail(&path, 3).unwrap();
        assert_eq!(last, vec!["line 997", "line 998", "line 999"]);
        assert!(tail(&dir.path().join("missing.log"), 5).unwrap().is_empty());
    }
}
