//! The static file server (the production frontend, replacing `vite preview`).
//!
//! Files are resolved once, checked against the root after symlink resolution, and kept in a
//! small in-memory cache (metadata always; contents and compressed variants for files up to
//! `static_cache_max_file`). An entry is re-checked against the disk at most once a second, so a
//! rebuilt `dist/` or a switched release pointer shows up within a second while the hot path
//! makes no system call. Bigger files are streamed from disk.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::StreamExt;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::body::{Body, BoxError};
use super::paths::SafePath;
use super::zerocopy;

/// How long a cache entry is trusted before the disk is consulted again.
const REVALIDATE_MS: u64 = 1000;

/// Limits of the static file cache.
#[derive(Debug, Clone, Copy)]
pub struct FileLimits {
    pub max_file: u64,
    pub max_total: u64,
    pub compress_min: u64,
}

/// One served directory (a static route).
#[derive(Debug)]
pub struct StaticDir {
    /// As configured (made absolute); canonicalised at each resolution so a switched release
    /// symlink is followed.
    pub root: PathBuf,
    /// `root` and a NUL: the prefix of this directory's keys in the file cache.
    pub cache_key: String,
    pub spa_fallback: bool,
}

/// The request headers the file server reads (each the first of its name, as text; a value
/// that is not visible ASCII counts as absent, as with `HeaderValue::to_str`). Both the fast
/// path (from its raw head) and hyper's path ([`FileRequest::from_headers`]) fill it, so the
/// one [`StaticFiles::serve`] answers both alike.
#[derive(Debug, Default, Clone, Copy)]
pub struct FileRequest<'a> {
    pub accept: Option<&'a str>,
    pub accept_encoding: Option<&'a str>,
    pub if_none_match: Option<&'a str>,
    pub if_modified_since: Option<&'a str>,
    pub range: Option<&'a str>,
    pub if_range: Option<&'a str>,
}

impl<'a> FileRequest<'a> {
    pub fn from_headers(headers: &'a HeaderMap) -> FileRequest<'a> {
        let get = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
        FileRequest {
            accept: get(header::ACCEPT),
            accept_encoding: get(header::ACCEPT_ENCODING),
            if_none_match: get(header::IF_NONE_MATCH),
            if_modified_since: get(header::IF_MODIFIED_SINCE),
            range: get(header::RANGE),
            if_range: get(header::IF_RANGE),
        }
    }

    /// Sets the field `name` reads, if it is one and not set yet (the first value counts);
    /// `value` is only looked at then.
    pub fn set(&mut self, name: &[u8], value: impl FnOnce() -> Option<&'a str>) {
        let is = |known: &[u8]| name.eq_ignore_ascii_case(known);
        let field = match name.len() {
            5 if is(b"range") => &mut self.range,
            6 if is(b"accept") => &mut self.accept,
            8 if is(b"if-range") => &mut self.if_range,
            13 if is(b"if-none-match") => &mut self.if_none_match,
            15 if is(b"accept-encoding") => &mut self.accept_encoding,
            17 if is(b"if-modified-since") => &mut self.if_modified_since,
            _ => return,
        };
        if field.is_none() {
            *field = value();
        }
    }

    /// For the SPA fallback: a browser navigation.
    fn accepts_html(&self) -> bool {
        self.accept
            .is_some_and(|accept| accept.contains("text/html") || accept.contains("*/*"))
    }
}

/// The shared cache of resolved files.
pub struct StaticFiles {
    entries: RwLock<HashMap<String, Arc<Entry>>>,
    /// Keys being loaded from disk right now. Concurrent misses for one key wait for a single
    /// load (64 clients asking for a cold 200 KB asset used to read and compress it 64 times
    /// at once on 64 blocking threads: 200 MB of RSS).
    loading: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    cached_bytes: AtomicU64,
    epoch: Instant,
    limits: RwLock<FileLimits>,
}

/// Bytes of one representation: in memory, or a path to stream.
#[derive(Debug, Clone)]
struct Variant {
    data: Option<Bytes>,
    path: PathBuf,
    len: u64,
    /// Its `ETag` and whole-file `Content-Length` values, made once (not per request).
    etag: HeaderValue,
    length: HeaderValue,
}

impl Variant {
    /// `suffix` tells the encodings' ETags apart (see [`etag_matches`]).
    fn new(data: Option<Bytes>, path: PathBuf, len: u64, etag: &str, suffix: &str) -> Variant {
        Variant {
            data,
            path,
            len,
            etag: HeaderValue::from_str(&format!("\"{etag}{suffix}\""))
                .unwrap_or(HeaderValue::from_static("\"0\"")),
            length: HeaderValue::from(len),
        }
    }
}

#[derive(Debug)]
struct Entry {
    /// Canonical path of the file.
    file: PathBuf,
    len: u64,
    mtime: SystemTime,
    etag: String,
    last_modified: HeaderValue,
    content_type: HeaderValue,
    cache_control: Option<HeaderValue>,
    identity: Variant,
    gzip: Option<Variant>,
    br: Option<Variant>,
    /// Milliseconds since `StaticFiles::epoch` of the last disk check.
    checked_ms: AtomicU64,
    /// A request is re-checking this entry against the disk; the others keep serving it.
    revalidating: AtomicBool,
    memory: u64,
    /// `identity.data` registered for `sendfile` (big files); unregistered when the entry goes.
    _zero_copy: Option<zerocopy::Registration>,
}

/// The file server's answer: status, headers in the order they are written (the order hyper
/// writes a map filled in this order) and body. hyper's path makes a `Response` of it
/// ([`FileAnswer::into_response`]); the fast path writes its head straight from the list, so a
/// static response costs no `HeaderMap` built and walked again (docs/benchmarks.md, issue 5).
pub struct FileAnswer {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Body,
    /// The `Content-Length` among `headers`, as a number (what the access log reports).
    pub content_length: Option<u64>,
}

impl FileAnswer {
    fn new(status: StatusCode, body: Body) -> FileAnswer {
        FileAnswer {
            status,
            headers: Vec::with_capacity(10),
            body,
            content_length: None,
        }
    }

    fn push(&mut self, name: HeaderName, value: HeaderValue) {
        self.headers.push((name, value));
    }

    fn push_length(&mut self, length: u64, value: HeaderValue) {
        self.content_length = Some(length);
        self.push(header::CONTENT_LENGTH, value);
    }

    pub fn into_response(self) -> Response<Body> {
        let mut response = Response::new(self.body);
        *response.status_mut() = self.status;
        let map = response.headers_mut();
        map.reserve(self.headers.len());
        for (name, value) in self.headers {
            map.append(name, value);
        }
        response
    }
}

/// Outcome of resolving a path on disk.
enum Lookup {
    Found(Arc<Entry>),
    NotFound,
    /// The path resolves outside the root (a symlink leading out).
    Outside,
}

impl StaticFiles {
    pub fn new(limits: FileLimits) -> StaticFiles {
        StaticFiles {
            entries: RwLock::new(HashMap::new()),
            loading: Mutex::new(HashMap::new()),
            cached_bytes: AtomicU64::new(0),
            epoch: Instant::now(),
            limits: RwLock::new(limits),
        }
    }

    /// New limits (reload); the cache starts over.
    pub fn reset(&self, limits: FileLimits) {
        if let Ok(mut current) = self.limits.write() {
            *current = limits;
        }
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
        }
        self.cached_bytes.store(0, Ordering::Relaxed);
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Answers a GET/HEAD for `rest` (the path after the route prefix) from `dir`. A path
    /// refused as malformed (400) also closes the connection.
    pub async fn serve(
        &self,
        dir: &StaticDir,
        method: &Method,
        rest: &str,
        headers: &FileRequest<'_>,
    ) -> FileAnswer {
        if method != Method::GET && method != Method::HEAD {
            let mut answer = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            answer.push(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return answer;
        }
        let path = match SafePath::parse(rest) {
            Ok(path) => path,
            Err(reason) => {
                let mut answer = plain(StatusCode::BAD_REQUEST, &format!("{reason}\n"));
                answer.push(header::CONNECTION, HeaderValue::from_static("close"));
                return answer;
            }
        };
        let extensionless = path.is_extensionless();
        let mut relative = path.relative;
        if path.trailing_slash {
            if !relative.is_empty() {
                relative.push('/');
            }
            relative.push_str("index.html");
        }
        match self.lookup(dir, &relative).await {
            Lookup::Found(entry) => respond(&entry, method, headers),
            Lookup::Outside => plain(StatusCode::FORBIDDEN, "forbidden\n"),
            Lookup::NotFound => {
                if dir.spa_fallback
                    && extensionless
                    && headers.accepts_html()
                    && let Lookup::Found(entry) = self.lookup(dir, "index.html").await
                {
                    return respond(&entry, method, headers);
                }
                plain(StatusCode::NOT_FOUND, "not found\n")
            }
        }
    }

    fn cached(&self, key: &str) -> Option<Arc<Entry>> {
        self.entries
            .read()
            .ok()
            .and_then(|entries| entries.get(key).cloned())
    }

    fn is_fresh(&self, entry: &Entry, now: u64) -> bool {
        now.saturating_sub(entry.checked_ms.load(Ordering::Relaxed)) < REVALIDATE_MS
    }

    async fn lookup(&self, dir: &StaticDir, relative: &str) -> Lookup {
        let mut key = String::with_capacity(dir.cache_key.len() + relative.len());
        key.push_str(&dir.cache_key);
        key.push_str(relative);
        let now = self.now_ms();
        if let Some(entry) = self.cached(&key) {
            if self.is_fresh(&entry, now) {
                return Lookup::Found(entry);
            }
            // Stale: one request re-checks the disk while the others keep serving the entry
            // (at most a second old).
            if entry.revalidating.swap(true, Ordering::AcqRel) {
                return Lookup::Found(entry);
            }
            let _reset = ResetOnDrop(entry.clone());
            return self.check_disk(dir, relative, key, Some(entry), now).await;
        }
        // Missing from the cache: one load per key at a time; whoever waited finds it cached.
        let gate = match self.loading.lock() {
            Ok(mut loading) => loading.entry(key.clone()).or_default().clone(),
            Err(_) => Arc::new(tokio::sync::Mutex::new(())),
        };
        let guard = gate.lock().await;
        let found = match self.cached(&key) {
            Some(entry) => Lookup::Found(entry),
            None => {
                let now = self.now_ms();
                self.check_disk(dir, relative, key.clone(), None, now).await
            }
        };
        drop(guard);
        if let Ok(mut loading) = self.loading.lock()
            && Arc::strong_count(&gate) <= 2
        {
            // Nobody else waits on this key's gate (the map's clone and ours are all).
            loading.remove(&key);
        }
        found
    }

    /// Resolves `relative` on disk (a blocking task) and updates the cache.
    async fn check_disk(
        &self,
        dir: &StaticDir,
        relative: &str,
        key: String,
        cached: Option<Arc<Entry>>,
        now: u64,
    ) -> Lookup {
        let limits = self.limits.read().map(|l| *l).unwrap_or(FileLimits {
            max_file: 0,
            max_total: 0,
            compress_min: u64::MAX,
        });
        let root = dir.root.clone();
        let rel = relative.to_string();
        let previous = cached.clone();
        let resolved = tokio::task::spawn_blocking(move || {
            resolve(&root, &rel, previous.as_deref(), limits, now)
        })
        .await;
        match resolved {
            Ok(Resolved::Same) => {
                if let Some(entry) = cached {
                    entry.checked_ms.store(now, Ordering::Relaxed);
                    return Lookup::Found(entry);
                }
                Lookup::NotFound
            }
            Ok(Resolved::New(entry)) => {
                let entry: Arc<Entry> = Arc::from(entry);
                self.insert(key, entry.clone(), limits);
                Lookup::Found(entry)
            }
            Ok(Resolved::Missing) => {
                self.remove(&key);
                Lookup::NotFound
            }
            Ok(Resolved::Outside) => {
                self.remove(&key);
                Lookup::Outside
            }
            Err(err) => {
                tracing::error!("static file lookup task failed: {err}");
                Lookup::NotFound
            }
        }
    }

    fn insert(&self, key: String, entry: Arc<Entry>, limits: FileLimits) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        let added = entry.memory;
        if self.cached_bytes.load(Ordering::Relaxed) + added > limits.max_total {
            // Simple and bounded: start over rather than track recency on the hot path.
            entries.clear();
            self.cached_bytes.store(0, Ordering::Relaxed);
        }
        if let Some(old) = entries.insert(key, entry) {
            self.cached_bytes.fetch_sub(
                old.memory.min(self.cached_bytes.load(Ordering::Relaxed)),
                Ordering::Relaxed,
            );
        }
        self.cached_bytes.fetch_add(added, Ordering::Relaxed);
    }

    fn remove(&self, key: &str) {
        if let Ok(mut entries) = self.entries.write()
            && let Some(old) = entries.remove(key)
        {
            self.cached_bytes.fetch_sub(
                old.memory.min(self.cached_bytes.load(Ordering::Relaxed)),
                Ordering::Relaxed,
            );
        }
    }
}

/// Clears a flag when the request holding it ends, even if its future is dropped half-way
/// (a client that disconnects during a revalidation must not freeze the entry).
struct ResetOnDrop(Arc<Entry>);

impl Drop for ResetOnDrop {
    fn drop(&mut self) {
        self.0.revalidating.store(false, Ordering::Release);
    }
}

enum Resolved {
    Same,
    New(Box<Entry>),
    Missing,
    Outside,
}

/// Blocking: finds `relative` under `root`, refusing anything that resolves outside it.
fn resolve(
    root: &Path,
    relative: &str,
    previous: Option<&Entry>,
    limits: FileLimits,
    now_ms: u64,
) -> Resolved {
    let Ok(root) = root.canonicalize() else {
        return Resolved::Missing;
    };
    let mut candidate = root.join(relative);
    let Ok(mut meta) = std::fs::metadata(&candidate) else {
        // A dangling symlink or a missing file look the same to the client.
        return Resolved::Missing;
    };
    if meta.is_dir() {
        candidate = candidate.join("index.html");
        match std::fs::metadata(&candidate) {
            Ok(m) => meta = m,
            Err(_) => return Resolved::Missing,
        }
    }
    if !meta.is_file() {
        return Resolved::Missing;
    }
    let Ok(file) = candidate.canonicalize() else {
        return Resolved::Missing;
    };
    if !file.starts_with(&root) {
        return Resolved::Outside;
    }
    let mtime = meta.modified().unwrap_or(UNIX_EPOCH);
    let len = meta.len();
    if let Some(previous) = previous
        && previous.file == file
        && previous.len == len
        && previous.mtime == mtime
    {
        return Resolved::Same;
    }
    match load(&root, file, len, mtime, relative, limits, now_ms) {
        Ok(entry) => Resolved::New(Box::new(entry)),
        Err(err) => {
            tracing::warn!("cannot read static file {relative}: {err}");
            Resolved::Missing
        }
    }
}

fn load(
    root: &Path,
    file: PathBuf,
    len: u64,
    mtime: SystemTime,
    relative: &str,
    limits: FileLimits,
    now_ms: u64,
) -> std::io::Result<Entry> {
    let mime = mime_guess::from_path(&file).first_or_octet_stream();
    let compressible = is_compressible(&mime);
    let content_type = content_type_value(&mime);
    let secs = mtime
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let etag = format!("{secs:x}-{len:x}");
    let last_modified = HeaderValue::from_str(&httpdate::fmt_http_date(mtime))
        .unwrap_or_else(|_| HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"));
    let file_name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let cache_control = if relative.starts_with("assets/") {
        Some(HeaderValue::from_static(
            "public, max-age=31536000, immutable",
        ))
    } else if file_name.ends_with(".html") {
        Some(HeaderValue::from_static("no-cache"))
    } else {
        None
    };

    let mut memory = 0;
    let mut zero_copy = None;
    let data = if len <= limits.max_file {
        // Read through the descriptor kept for sendfile, so both are the same inode.
        let mut opened = std::fs::File::open(&file)?;
        let mut buf = Vec::with_capacity(len as usize);
        std::io::Read::read_to_end(&mut opened, &mut buf)?;
        let bytes = Bytes::from(buf);
        memory += bytes.len() as u64;
        zero_copy = zerocopy::register(&bytes, opened);
        Some(bytes)
    } else {
        None
    };
    let identity = Variant::new(data.clone(), file.clone(), len, &etag, "");

    let sibling = |suffix: &str, etag_suffix: &str| -> Option<Variant> {
        let path = PathBuf::from(format!("{}.{suffix}", file.display()));
        let meta = std::fs::metadata(&path).ok()?;
        let canonical = path.canonicalize().ok()?;
        if !meta.is_file() || !canonical.starts_with(root) {
            return None;
        }
        let data = if meta.len() <= limits.max_file {
            std::fs::read(&canonical).ok().map(Bytes::from)
        } else {
            None
        };
        Some(Variant::new(
            data,
            canonical,
            meta.len(),
            &etag,
            etag_suffix,
        ))
    };
    let mut br = sibling("br", "-br");
    let mut gzip = sibling("gz", "-gz");
    if compressible
        && let Some(data) = &data
        && len >= limits.compress_min
    {
        let compressed = |bytes: Bytes, suffix: &str| {
            Variant::new(
                Some(bytes.clone()),
                file.clone(),
                bytes.len() as u64,
                &etag,
                suffix,
            )
        };
        if gzip.is_none() {
            gzip = compress_gzip(data).map(|bytes| compressed(bytes, "-gz"));
        }
        if br.is_none() {
            br = compress_br(data).map(|bytes| compressed(bytes, "-br"));
        }
    }
    for variant in [&br, &gzip].into_iter().flatten() {
        memory += variant.data.as_ref().map_or(0, |d| d.len() as u64);
    }
    Ok(Entry {
        file,
        len,
        mtime,
        etag,
        last_modified,
        content_type,
        cache_control,
        identity,
        gzip,
        br,
        checked_ms: AtomicU64::new(now_ms),
        revalidating: AtomicBool::new(false),
        memory: memory + 512,
        _zero_copy: zero_copy,
    })
}

fn compress_gzip(data: &[u8]) -> Option<Bytes> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 3),
        flate2::Compression::new(6),
    );
    encoder.write_all(data).ok()?;
    let out = encoder.finish().ok()?;
    (out.len() < data.len()).then(|| Bytes::from(out))
}

fn compress_br(data: &[u8]) -> Option<Bytes> {
    let mut out = Vec::with_capacity(data.len() / 3);
    // A window no bigger than the file: the default 4 MiB window made each compression of
    // a small asset allocate tens of MB.
    let bits = (usize::BITS - data.len().max(1).leading_zeros()) as i32;
    let params = brotli::enc::BrotliEncoderParams {
        quality: 5,
        lgwin: bits.clamp(10, 22),
        size_hint: data.len(),
        ..Default::default()
    };
    let mut input = data;
    brotli::BrotliCompress(&mut input, &mut out, &params).ok()?;
    (out.len() < data.len()).then(|| Bytes::from(out))
}

fn is_compressible(mime: &mime_guess::Mime) -> bool {
    let essence = mime.essence_str();
    mime.type_() == mime_guess::mime::TEXT
        || matches!(
            essence,
            "application/javascript"
                | "application/json"
                | "application/xml"
                | "application/wasm"
                | "application/manifest+json"
                | "image/svg+xml"
                | "application/x-javascript"
        )
}

fn content_type_value(mime: &mime_guess::Mime) -> HeaderValue {
    let essence = mime.essence_str();
    let text = if mime.type_() == mime_guess::mime::TEXT
        || matches!(essence, "application/javascript" | "application/json")
    {
        format!("{essence}; charset=utf-8")
    } else {
        essence.to_string()
    };
    HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

#[derive(Clone, Copy, PartialEq)]
enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

fn choose_encoding(entry: &Entry, headers: &FileRequest<'_>) -> Encoding {
    let Some(accept) = headers.accept_encoding else {
        return Encoding::Identity;
    };
    let accepts = |name: &str| {
        accept.split(',').any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            coding.eq_ignore_ascii_case(name) && !refused
        })
    };
    if entry.br.is_some() && accepts("br") {
        Encoding::Brotli
    } else if entry.gzip.is_some() && accepts("gzip") {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// Whether an `If-None-Match` list names the entry (any encoding of it).
fn etag_matches(list: &str, base: &str) -> bool {
    list.split(',').any(|tag| {
        let tag = tag.trim();
        if tag == "*" {
            return true;
        }
        let tag = tag.trim_start_matches("W/").trim_matches('"');
        let tag = tag
            .strip_suffix("-br")
            .or_else(|| tag.strip_suffix("-gz"))
            .unwrap_or(tag);
        tag == base
    })
}

fn not_modified(entry: &Entry, headers: &FileRequest<'_>) -> bool {
    if let Some(list) = headers.if_none_match {
        return etag_matches(list, &entry.etag);
    }
    if let Some(since) = headers
        .if_modified_since
        .and_then(|v| httpdate::parse_http_date(v).ok())
    {
        let modified = entry
            .mtime
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let since = since
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        return modified <= since;
    }
    false
}

/// A single satisfiable byte range, `None` for "serve the whole file", `Err` for 416.
fn parse_range(value: &str, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        // Multiple ranges: a server may answer with the whole representation.
        return Ok(None);
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (start, end) = (start.trim(), end.trim());
    let range = if start.is_empty() {
        let suffix: u64 = end.parse().map_err(|_| ())?;
        if suffix == 0 {
            return Err(());
        }
        (len.saturating_sub(suffix), len.checked_sub(1).ok_or(())?)
    } else {
        let start: u64 = start.parse().map_err(|_| ())?;
        let end: u64 = if end.is_empty() {
            len.saturating_sub(1)
        } else {
            end.parse::<u64>()
                .map_err(|_| ())?
                .min(len.saturating_sub(1))
        };
        (start, end)
    };
    if range.0 >= len || range.0 > range.1 {
        return Err(());
    }
    Ok(Some(range))
}

/// The answer for a found file, its headers made from values prepared when the file was loaded.
fn respond(entry: &Entry, method: &Method, headers: &FileRequest<'_>) -> FileAnswer {
    let encoding = choose_encoding(entry, headers);
    let (variant, content_encoding) = match encoding {
        Encoding::Brotli => (entry.br.as_ref(), Some("br")),
        Encoding::Gzip => (entry.gzip.as_ref(), Some("gzip")),
        Encoding::Identity => (None, None),
    };
    let variant = variant.unwrap_or(&entry.identity);

    let mut answer = FileAnswer::new(StatusCode::OK, Body::empty());
    answer.push(header::ETAG, variant.etag.clone());
    answer.push(header::LAST_MODIFIED, entry.last_modified.clone());
    answer.push(header::CONTENT_TYPE, entry.content_type.clone());
    if let Some(cache_control) = &entry.cache_control {
        answer.push(header::CACHE_CONTROL, cache_control.clone());
    }
    if entry.br.is_some() || entry.gzip.is_some() {
        answer.push(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    if not_modified(entry, headers) {
        answer.status = StatusCode::NOT_MODIFIED;
        return answer;
    }
    if let Some(encoding) = content_encoding {
        answer.push(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }

    let mut range = None;
    if encoding == Encoding::Identity {
        answer.push(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        let if_range_ok = headers.if_range.is_none_or(|value| {
            etag_matches(value, &entry.etag)
                || entry.last_modified.to_str().is_ok_and(|lm| lm == value)
        });
        if let Some(value) = headers.range
            && if_range_ok
        {
            match parse_range(value, variant.len) {
                Ok(found) => range = found,
                Err(()) => {
                    answer.push(
                        header::CONTENT_RANGE,
                        header_value(format!("bytes */{}", variant.len)),
                    );
                    answer.status = StatusCode::RANGE_NOT_SATISFIABLE;
                    return answer;
                }
            }
        }
    }
    let (start, length) = match range {
        Some((start, end)) => {
            answer.push(
                header::CONTENT_RANGE,
                header_value(format!("bytes {start}-{end}/{}", variant.len)),
            );
            answer.push_length(end - start + 1, HeaderValue::from(end - start + 1));
            answer.status = StatusCode::PARTIAL_CONTENT;
            (start, end - start + 1)
        }
        None => {
            answer.push_length(variant.len, variant.length.clone());
            (0, variant.len)
        }
    };
    if method != Method::HEAD {
        answer.body = if let Some(data) = &variant.data {
            Body::full(data.slice(start as usize..(start + length) as usize))
        } else {
            stream_file(variant.path.clone(), start, length)
        };
    }
    answer
}

/// A header value from text made of visible ASCII (a range's numbers).
fn header_value(text: String) -> HeaderValue {
    HeaderValue::try_from(text).unwrap_or(HeaderValue::from_static("bytes */0"))
}

/// Streams `length` bytes of `path` from `start`, 64 KiB at a time.
fn stream_file(path: PathBuf, start: u64, length: u64) -> Body {
    let stream = futures_util::stream::once(async move {
        let mut file = tokio::fs::File::open(&path).await?;
        if start > 0 {
            file.seek(std::io::SeekFrom::Start(start)).await?;
        }
        Ok::<_, std::io::Error>(ReaderStream::with_capacity(file.take(length), 64 * 1024))
    })
    .map(|opened| match opened {
        Ok(stream) => stream.left_stream(),
        Err(err) => futures_util::stream::once(async move { Err(err) }).right_stream(),
    })
    .flatten()
    .map(|chunk| {
        chunk
            .map(Frame::data)
            .map_err(|err| Box::new(err) as BoxError)
    });
    Body::Boxed(StreamBody::new(stream).boxed_unsync())
}

fn plain(status: StatusCode, text: &str) -> FileAnswer {
    let mut answer = FileAnswer::new(status, Body::full(Bytes::copy_from_slice(text.as_bytes())));
    answer.push(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    answer
}
