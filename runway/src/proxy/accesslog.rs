//! The access log: `logs_dir/proxy-access.log`, nginx's combined format plus the request time
//! and the upstream time, rotated by size.
//!
//! Request handlers only append a formatted line to a shared buffer; a background task writes
//! the buffer out (on a blocking thread) every 200 ms or when it grows past 64 KiB, so logging
//! never waits for the disk on the request path.
//!
//! Secrets in URLs stay out of the log: the values of the query parameters in
//! [`SECRET_PARAMS`] (an OAuth callback's `?code=…&state=…`, tokens in links) are written as
//! `[REDACTED]`, in the request line and in the Referer.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Response, StatusCode, Version, header};
use tokio::sync::Notify;

use super::body::Body;
use super::clock;
use super::headers::value_text;

const FLUSH_BYTES: usize = 64 * 1024;
/// Past this much unwritten log the newest lines are dropped rather than growing memory.
const MAX_PENDING: usize = 8 * 1024 * 1024;

/// Query parameters (matched ignoring ASCII case) whose values are never logged.
pub const SECRET_PARAMS: &[&str] = &[
    "code",
    "state",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
];
const REDACTED: &str = "[REDACTED]";

/// The body size a line reports: the response's `Content-Length` (kept in the raw head when
/// the fast path relays it as received), when it has one (a streamed body of unknown length is
/// logged as 0).
pub fn body_bytes(response: &Response<Body>) -> Option<u64> {
    if let Some(raw) = response.body().raw_head() {
        return Some(raw.content_length());
    }
    response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// What one line says about one request.
pub struct Line<'a> {
    /// The client IP as text (formatted once per connection).
    pub client: &'a str,
    pub method: &'a str,
    /// The request target as received (path and query).
    pub target: &'a str,
    pub version: Version,
    pub status: StatusCode,
    pub bytes: Option<u64>,
    /// Header values as bytes (the fast path has no `HeaderValue`s).
    pub referer: Option<&'a [u8]>,
    pub user_agent: Option<&'a [u8]>,
    pub request_time: Duration,
    pub upstream_time: Option<Duration>,
}

struct Shared {
    pending: Mutex<Vec<u8>>,
    wake: Notify,
}

thread_local! {
    /// Cached `[28/Nov/2026:13:14:35 +0000]` for the current second, and the line being
    /// formatted: per thread, so formatting touches nothing another worker thread uses.
    static STAMP: RefCell<(i64, String)> = const { RefCell::new((0, String::new())) };
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Handle to the access log; cheap to clone. A disabled log drops every line.
#[derive(Clone)]
pub struct AccessLog {
    shared: Option<Arc<Shared>>,
}

/// Stops the writer task after a final flush.
pub struct LogWriter {
    stop: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl AccessLog {
    pub fn disabled() -> AccessLog {
        AccessLog { shared: None }
    }

    /// Opens (creating the directory) `logs_dir/proxy-access.log` and starts the writer.
    pub fn open(
        logs_dir: &Path,
        max_size: u64,
        keep: usize,
    ) -> std::io::Result<(AccessLog, LogWriter)> {
        std::fs::create_dir_all(logs_dir)?;
        let path = logs_dir.join("proxy-access.log");
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let shared = Arc::new(Shared {
            pending: Mutex::new(Vec::with_capacity(FLUSH_BYTES)),
            wake: Notify::new(),
        });
        let stop = Arc::new(Notify::new());
        let task = tokio::spawn(write_loop(
            shared.clone(),
            stop.clone(),
            Rotating {
                path,
                file,
                max_size,
                keep,
            },
        ));
        Ok((
            AccessLog {
                shared: Some(shared),
            },
            LogWriter { stop, task },
        ))
    }

    pub fn enabled(&self) -> bool {
        self.shared.is_some()
    }

    pub fn record(&self, line: &Line<'_>) {
        let Some(shared) = &self.shared else {
            return;
        };
        let _ = LINE.try_with(|text| {
            let mut text = text.borrow_mut();
            text.clear();
            format_line(&mut text, line);
            let Ok(mut pending) = shared.pending.lock() else {
                return;
            };
            if pending.len() + text.len() > MAX_PENDING {
                return;
            }
            pending.extend_from_slice(text.as_bytes());
            if pending.len() >= FLUSH_BYTES {
                shared.wake.notify_one();
            }
        });
    }
}

fn format_line(text: &mut String, line: &Line<'_>) {
    text.push_str(line.client);
    text.push_str(" - - ");
    push_timestamp(text);
    // Pushed piece by piece: `write!` and its formatting machinery showed up in profiles.
    text.push_str(" \"");
    text.push_str(line.method);
    text.push(' ');
    push_target(text, line.target);
    text.push(' ');
    match line.version {
        Version::HTTP_10 => text.push_str("HTTP/1.0"),
        Version::HTTP_11 => text.push_str("HTTP/1.1"),
        Version::HTTP_2 => text.push_str("HTTP/2.0"),
        other => {
            let _ = write!(text, "{other:?}");
        }
    }
    text.push_str("\" ");
    text.push_str(line.status.as_str());
    text.push(' ');
    push_u64(text, line.bytes.unwrap_or(0));
    text.push_str(" \"");
    push_referer(text, line.referer);
    text.push_str("\" \"");
    push_header(text, line.user_agent);
    text.push_str("\" rt=");
    push_seconds(text, line.request_time);
    text.push_str(" urt=");
    match line.upstream_time {
        Some(t) => push_seconds(text, t),
        None => text.push('-'),
    }
    text.push('\n');
}

impl LogWriter {
    /// Writes what is pending and stops.
    pub async fn finish(self) {
        self.stop.notify_one();
        let _ = self.task.await;
    }
}

/// Seconds with millisecond precision (`0.004`), like nginx's `$request_time`; integer
/// arithmetic, as float formatting showed up in profiles (and `as_millis`' 128-bit division
/// after it).
fn push_seconds(text: &mut String, duration: Duration) {
    push_u64(text, duration.as_secs());
    let millis = duration.subsec_millis();
    let fraction = [
        b'.',
        b'0' + (millis / 100) as u8,
        b'0' + (millis / 10 % 10) as u8,
        b'0' + (millis % 10) as u8,
    ];
    push_ascii(text, &fraction);
}

/// A number in decimal, without the formatting machinery.
fn push_u64(text: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    push_ascii(text, &digits[at..]);
}

/// Appends a few ASCII bytes (digits, punctuation) one by one: cheaper than validating them as
/// a `str` and copying (profiled).
fn push_ascii(text: &mut String, ascii: &[u8]) {
    for &byte in ascii {
        text.push(char::from(byte));
    }
}

/// A request target (or URL) with the values of [`SECRET_PARAMS`] replaced by `[REDACTED]`.
fn push_target(text: &mut String, target: &str) {
    // A byte search: `split_once('?')`'s char searcher cost more than the copy for a short
    // target (profiled on the fast path).
    let Some(mark) = target.bytes().position(|b| b == b'?') else {
        text.push_str(target);
        return;
    };
    let (path, query) = (&target[..mark], &target[mark + 1..]);
    text.push_str(path);
    text.push('?');
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            text.push('&');
        }
        match pair.split_once('=') {
            Some((name, _)) if is_secret_param(name) => {
                text.push_str(name);
                text.push('=');
                text.push_str(REDACTED);
            }
            _ => text.push_str(pair),
        }
    }
}

fn is_secret_param(name: &str) -> bool {
    SECRET_PARAMS.iter().any(|s| name.eq_ignore_ascii_case(s))
}

/// The Referer like [`push_header`], its query redacted like the request line's.
fn push_referer(text: &mut String, value: Option<&[u8]>) {
    match value.and_then(value_text) {
        Some(url) if url.contains('?') => {
            let mut redacted = String::with_capacity(url.len());
            push_target(&mut redacted, url);
            text.push_str(&redacted.replace('"', "\\\""));
        }
        _ => push_header(text, value),
    }
}

/// A header's text with `"` escaped, or `-`.
fn push_header(text: &mut String, value: Option<&[u8]>) {
    match value.and_then(value_text) {
        Some(value) if value.contains('"') => text.push_str(&value.replace('"', "\\\"")),
        Some(value) => text.push_str(value),
        None => text.push('-'),
    }
}

/// Appends `[28/Nov/2026:13:14:35 +0000]`, formatted once per second.
fn push_timestamp(text: &mut String) {
    let secs = clock::unix_secs() as i64;
    let format = |secs: i64| {
        chrono::DateTime::from_timestamp(secs, 0)
            .unwrap_or_default()
            .format("[%d/%b/%Y:%H:%M:%S +0000]")
            .to_string()
    };
    let cached = STAMP.try_with(|stamp| {
        let mut stamp = stamp.borrow_mut();
        if stamp.0 != secs || stamp.1.is_empty() {
            *stamp = (secs, format(secs));
        }
        text.push_str(&stamp.1);
    });
    if cached.is_err() {
        text.push_str(&format(secs));
    }
}

struct Rotating {
    path: PathBuf,
    file: File,
    max_size: u64,
    keep: usize,
}

impl Rotating {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.file.write_all(bytes)?;
        if self.max_size > 0 && self.file.metadata()?.len() >= self.max_size {
            self.rotate()?;
        }
        Ok(())
    }

    /// `proxy-access.log` → `.1` → `.2` ... the oldest past `keep` is removed.
    fn rotate(&mut self) -> std::io::Result<()> {
        let numbered = |n: usize| PathBuf::from(format!("{}.{n}", self.path.display()));
        if self.keep == 0 {
            self.file.set_len(0)?;
            return Ok(());
        }
        let _ = std::fs::remove_file(numbered(self.keep));
        for n in (1..self.keep).rev() {
            let _ = std::fs::rename(numbered(n), numbered(n + 1));
        }
        std::fs::rename(&self.path, numbered(1))?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        Ok(())
    }
}

async fn write_loop(shared: Arc<Shared>, stop: Arc<Notify>, mut out: Rotating) {
    let mut stopping = false;
    let mut spare = Vec::with_capacity(FLUSH_BYTES);
    loop {
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = stop.notified() => stopping = true,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        // Two buffers swapped back and forth keep their capacity: taking a fresh Vec each time
        // made every batch regrow from nothing, and the churn slowly raised RSS under load.
        let mut batch = std::mem::take(&mut spare);
        if let Ok(mut pending) = shared.pending.lock() {
            std::mem::swap(&mut *pending, &mut batch);
        }
        if batch.is_empty() {
            spare = batch;
        } else {
            let result = tokio::task::spawn_blocking(move || {
                let result = out.write(&batch);
                batch.clear();
                // A burst may have grown it; don't keep that much for good.
                batch.shrink_to(4 * FLUSH_BYTES);
                (out, batch, result)
            })
            .await;
            match result {
                Ok((back, buffer, result)) => {
                    out = back;
                    spare = buffer;
                    if let Err(err) = result {
                        tracing::error!("proxy access log: {err}");
                    }
                }
                Err(err) => {
                    tracing::error!("proxy access log writer failed: {err}");
                    return;
                }
            }
        }
        if stopping {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(t: &str) -> String {
        let mut out = String::new();
        push_target(&mut out, t);
        out
    }

    #[test]
    fn oauth_codes_and_tokens_are_redacted() {
        assert_eq!(
            target("/api/auth/signin/google/callback?code=4/0AbCdE&state=xyz&scope=email"),
            "/api/auth/signin/google/callback?code=[REDACTED]&state=[REDACTED]&scope=email"
        );
        assert_eq!(
            target("/reset?Token=abc&next=/home&access_token=t"),
            "/reset?Token=[REDACTED]&next=/home&access_token=[REDACTED]"
        );
        assert_eq!(target("/plain"), "/plain");
        assert_eq!(target("/q?codes=1&x&=2"), "/q?codes=1&x&=2");
    }

    #[test]
    fn numbers_and_seconds_are_written_like_format_would() {
        for n in [0u64, 7, 10, 53, 1000, 123_456_789, u64::MAX] {
            let mut out = String::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string());
        }
        for (ms, text) in [
            (0, "0.000"),
            (4, "0.004"),
            (1050, "1.050"),
            (61_999, "61.999"),
            (3_600_000, "3600.000"),
        ] {
            let mut out = String::new();
            push_seconds(&mut out, Duration::from_millis(ms));
            assert_eq!(out, text);
        }
    }

    #[test]
    fn referer_query_is_redacted_and_quotes_escaped() {
        let mut out = String::new();
        let v = b"https://app.example/cb?code=secret&a=\"b\"";
        push_referer(&mut out, Some(v));
        assert_eq!(out, "https://app.example/cb?code=[REDACTED]&a=\\\"b\\\"");
        let mut out = String::new();
        push_referer(&mut out, None);
        assert_eq!(out, "-");
    }
}
