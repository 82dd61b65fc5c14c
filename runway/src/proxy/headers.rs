//! Header rules of a proxy: framing checks against request smuggling, hop-by-hop stripping, and
//! the `X-Forwarded-*` / `Forwarded` headers the upstream sees.

use std::net::SocketAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Why a request's framing is refused (answered 400, connection closed).
pub fn framing_problem(headers: &HeaderMap) -> Option<&'static str> {
    let mut lengths = headers.get_all(header::CONTENT_LENGTH).iter();
    let has_length = match (lengths.next(), lengths.next()) {
        (Some(_), Some(_)) => return Some("more than one Content-Length"),
        (Some(value), None) => {
            let text = value.as_bytes();
            if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
                return Some("invalid Content-Length");
            }
            true
        }
        _ => false,
    };
    let mut encodings = headers.get_all(header::TRANSFER_ENCODING).iter();
    if let Some(first) = encodings.next() {
        if has_length {
            return Some("both Content-Length and Transfer-Encoding");
        }
        if encodings.next().is_some() {
            return Some("more than one Transfer-Encoding header");
        }
        let value = first.to_str().unwrap_or("");
        if !value.trim().eq_ignore_ascii_case("chunked") {
            return Some("Transfer-Encoding other than chunked");
        }
    }
    None
}

const HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHENTICATE,
];

/// Removes the headers that concern one connection only: Connection and every header it names,
/// Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade and Proxy-*. The upgrade headers are
/// put back by the caller when the request is an upgrade.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Usually there is nothing to strip: one pass comparing names is cheaper than a hashed
    // removal per hop-by-hop name (this runs twice per proxied request).
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    let proxy_headers: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("proxy-"))
        .cloned()
        .collect();
    for name in proxy_headers {
        headers.remove(name);
    }
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    is_hop_by_hop_name(name.as_str().as_bytes())
}

/// Whether a header name (any case) is hop-by-hop: Connection, Keep-Alive, TE, Trailer,
/// Transfer-Encoding, Upgrade, Proxy-*. (The headers Connection names are the caller's.)
pub fn is_hop_by_hop_name(name: &[u8]) -> bool {
    let is = |known: &[u8]| name.eq_ignore_ascii_case(known);
    match name.len() {
        2 => is(b"te"),
        7 => is(b"trailer") || is(b"upgrade"),
        10 => is(b"connection") || is(b"keep-alive"),
        17 => is(b"transfer-encoding"),
        _ => name.len() >= 6 && name[..6].eq_ignore_ascii_case(b"proxy-"),
    }
}

/// The protocol of an upgrade request (`Connection: upgrade` + `Upgrade: X`), if it is one.
pub fn upgrade_protocol(headers: &HeaderMap) -> Option<HeaderValue> {
    let wants_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    if wants_upgrade {
        headers.get(header::UPGRADE).cloned()
    } else {
        None
    }
}

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// The client end of a connection, formatted once per connection rather than per request.
#[derive(Debug)]
pub struct Peer {
    pub addr: SocketAddr,
    /// The IP as text (IPv4-mapped IPv6 shown as IPv4): the access log and `X-Forwarded-For`.
    pub ip_text: String,
    /// `ip_text` as a header value.
    ip_value: HeaderValue,
    /// The RFC 7239 node: IPv6 quoted and bracketed.
    node: String,
    /// A loopback peer is a local tunnel or proxy whose `X-Forwarded-Proto/-Host` are kept.
    trusted: bool,
}

impl Peer {
    pub fn new(addr: SocketAddr) -> Peer {
        let ip = addr.ip().to_canonical();
        let ip_text = ip.to_string();
        let node = if ip.is_ipv6() {
            format!("\"[{ip_text}]\"")
        } else {
            ip_text.clone()
        };
        Peer {
            addr,
            ip_value: HeaderValue::from_str(&ip_text)
                .unwrap_or_else(|_| HeaderValue::from_static("unknown")),
            ip_text,
            node,
            trusted: ip.is_loopback(),
        }
    }
}

/// Appends `, item` to a header's existing list, or starts the list.
fn append_list(existing: Option<&HeaderValue>, item: &str) -> Option<HeaderValue> {
    let existing = existing.and_then(|v| v.to_str().ok())?.trim();
    if existing.is_empty() {
        return None;
    }
    let mut text = String::with_capacity(existing.len() + 2 + item.len());
    text.push_str(existing);
    text.push_str(", ");
    text.push_str(item);
    HeaderValue::from_maybe_shared(bytes::Bytes::from(text)).ok()
}

/// Adds the client to `X-Forwarded-For` and `Forwarded`, and sets `X-Forwarded-Proto` /
/// `X-Forwarded-Host`.
///
/// A loopback peer is a local tunnel or proxy (cloudflared in the seed's topology): its
/// `X-Forwarded-Proto`/`-Host` describe the real client and are kept. Anyone else's are replaced.
/// Runs on every proxied request, hence the care to format little. The fast path writes the
/// same values straight into the upstream head ([`ForwardedIn`]).
pub fn add_forwarded(headers: &mut HeaderMap, peer: &Peer, host: Option<&HeaderValue>) {
    let xff = append_list(headers.get(&X_FORWARDED_FOR), &peer.ip_text)
        .unwrap_or_else(|| peer.ip_value.clone());
    headers.insert(X_FORWARDED_FOR.clone(), xff);

    if !peer.trusted || !headers.contains_key(&X_FORWARDED_PROTO) {
        headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("http"));
    }
    if let Some(host) = host
        && (!peer.trusted || !headers.contains_key(&X_FORWARDED_HOST))
    {
        headers.insert(X_FORWARDED_HOST.clone(), host.clone());
    }

    let proto = headers
        .get(&X_FORWARDED_PROTO)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("http");
    let host = host.and_then(|h| h.to_str().ok());
    let mut element =
        Vec::with_capacity(peer.node.len() + proto.len() + host.map_or(0, str::len) + 24);
    push_forwarded_element(&mut element, peer, proto, host);
    let forwarded = append_list(
        headers.get(header::FORWARDED),
        std::str::from_utf8(&element).unwrap_or(""),
    )
    .or_else(|| HeaderValue::from_maybe_shared(bytes::Bytes::from(element)).ok());
    if let Some(value) = forwarded {
        headers.insert(header::FORWARDED, value);
    }
}

/// This proxy's `Forwarded` element: `for=NODE;proto=P[;host="H"]`.
fn push_forwarded_element(out: &mut Vec<u8>, peer: &Peer, proto: &str, host: Option<&str>) {
    out.extend_from_slice(b"for=");
    out.extend_from_slice(peer.node.as_bytes());
    out.extend_from_slice(b";proto=");
    out.extend_from_slice(proto.as_bytes());
    if let Some(host) = host {
        // RFC 7239: host values quoted; quotes and backslashes cannot be escaped reliably.
        out.extend_from_slice(b";host=\"");
        let unquotable = |c: &u8| *c == b'"' || *c == b'\\';
        if host.as_bytes().iter().any(unquotable) {
            out.extend(host.bytes().filter(|c| !unquotable(c)));
        } else {
            // The usual host: one copy rather than a filtered byte at a time (profiled).
            out.extend_from_slice(host.as_bytes());
        }
        out.push(b'"');
    }
}

/// A header value as text the way `HeaderValue::to_str` sees it: visible ASCII and tabs only.
pub fn value_text(value: &[u8]) -> Option<&str> {
    if value
        .iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
    {
        // SAFETY: only ASCII bytes passed the check above, and ASCII is valid UTF-8. (A second
        // scan by `from_utf8` showed in profiles of the fast path, which calls this per header
        // it reads.)
        Some(unsafe { std::str::from_utf8_unchecked(value) })
    } else {
        None
    }
}

/// The request's forwarding headers as the fast path found them in the client's head (first
/// values, as `HeaderMap::get` gives them), to write what [`add_forwarded`] would set without
/// a `HeaderMap`.
pub struct ForwardedIn<'a> {
    /// The `Host` value as text (`None` when it is not).
    pub host: Option<&'a str>,
    pub xff: Option<&'a [u8]>,
    pub xfp: Option<&'a [u8]>,
    pub xfh: bool,
    pub forwarded: Option<&'a [u8]>,
}

impl ForwardedIn<'_> {
    /// Whether the client's `X-Forwarded-Proto` is replaced (by `http`).
    pub fn replaces_proto(&self, peer: &Peer) -> bool {
        !peer.trusted || self.xfp.is_none()
    }

    /// Whether the client's `X-Forwarded-Host` is replaced (by `Host`).
    pub fn replaces_host(&self, peer: &Peer) -> bool {
        !peer.trusted || !self.xfh
    }

    /// `X-Forwarded-For`'s new value, as [`add_forwarded`] builds it.
    pub fn push_xff(&self, out: &mut Vec<u8>, peer: &Peer) {
        match self.xff.and_then(value_text).map(str::trim) {
            Some(existing) if !existing.is_empty() => {
                out.extend_from_slice(existing.as_bytes());
                out.extend_from_slice(b", ");
            }
            _ => {}
        }
        out.extend_from_slice(peer.ip_text.as_bytes());
    }

    /// `Forwarded`'s new value, as [`add_forwarded`] builds it.
    pub fn push_forwarded(&self, out: &mut Vec<u8>, peer: &Peer) {
        let proto = if self.replaces_proto(peer) {
            "http"
        } else {
            self.xfp.and_then(value_text).unwrap_or("http")
        };
        match self.forwarded.and_then(value_text).map(str::trim) {
            Some(existing) if !existing.is_empty() => {
                out.extend_from_slice(existing.as_bytes());
                out.extend_from_slice(b", ");
            }
            _ => {}
        }
        push_forwarded_element(out, peer, proto, self.host);
    }
}

/// Whether the client would rather read HTML than JSON (browsers) for an error.
pub fn prefers_json(headers: &HeaderMap, path: &str) -> bool {
    prefers_json_text(
        headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
        path,
    )
}

/// [`prefers_json`] from the `Accept` text (empty when absent or not text).
pub fn prefers_json_text(accept: &str, path: &str) -> bool {
    if accept.contains("text/html") {
        return false;
    }
    accept.contains("json") || path == "/api" || path.starts_with("/api/")
}

/// Whether the request accepts an HTML answer (SPA fallback).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_named_headers_are_stripped() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        headers.insert("x-secret", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("proxy-authorization", HeaderValue::from_static("basic x"));
        headers.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1, "{headers:?}");
        assert!(headers.contains_key("x-kept"));
    }

    #[test]
    fn forwarded_host_is_quoted_without_quotes_or_backslashes() {
        let peer = Peer::new("10.1.2.3:5000".parse().expect("address"));
        let element = |host: &str| {
            let mut out = Vec::new();
            push_forwarded_element(&mut out, &peer, "http", Some(host));
            String::from_utf8(out).expect("ASCII")
        };
        assert_eq!(
            element("app.example:8080"),
            "for=10.1.2.3;proto=http;host=\"app.example:8080\""
        );
        assert_eq!(element("a\"b\\c"), "for=10.1.2.3;proto=http;host=\"abc\"");
    }

    #[test]
    fn ambiguous_framing_is_named() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("5"));
        assert_eq!(framing_problem(&headers), None);
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        assert!(framing_problem(&headers).is_some());
    }
}
