//! The CSRF rule for cookie-authenticated requests (written out in docs/auth.md):
//!
//! An unsafe-method request (anything but GET/HEAD/OPTIONS) that carries one of our auth
//! cookies and no `Authorization: Bearer` header must
//! 1. carry `X-Requested-With` (any value): a custom header a cross-site form or a "simple"
//!    fetch cannot send, so a foreign page is forced through a CORS preflight; and
//! 2. come from our own origin: `Origin`, when present, must name the host the request was sent
//!    to or one of ALLOWED_ORIGINS; without `Origin`, `Sec-Fetch-Site`, when present, must be
//!    `same-origin` or `none`. `same-site` is refused: sibling subdomains are other tenants.
//!
//! Bearer requests are exempt: a browser never attaches that header on its own.

use http::{HeaderMap, Method};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsrfError {
    #[error("cookie-authenticated requests must send the X-Requested-With header")]
    MissingHeader,
    #[error("cross-site request refused (origin not allowed)")]
    ForeignOrigin,
}

pub fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// `host` is the authority the client addressed (Host, or X-Forwarded-Host from a trusted
/// proxy); `allowed_origins` are full origins like `https://app.example.com`.
pub fn check(
    headers: &HeaderMap,
    host: Option<&str>,
    allowed_origins: &[String],
) -> Result<(), CsrfError> {
    let has_header = headers
        .get("x-requested-with")
        .is_some_and(|v| !v.as_bytes().is_empty());
    if !has_header {
        return Err(CsrfError::MissingHeader);
    }
    if let Some(origin) = headers.get(http::header::ORIGIN) {
        let origin = origin.to_str().map_err(|_| CsrfError::ForeignOrigin)?;
        if origin_matches(origin, host, allowed_origins) {
            return Ok(());
        }
        return Err(CsrfError::ForeignOrigin);
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        None | Some("same-origin") | Some("none") => Ok(()),
        Some(_) => Err(CsrfError::ForeignOrigin),
    }
}

fn origin_matches(origin: &str, host: Option<&str>, allowed: &[String]) -> bool {
    let origin = origin.trim_end_matches('/');
    if allowed
        .iter()
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    // Compare authorities only: behind a TLS-terminating tunnel the scheme the browser used
    // (https) differs from the one we were reached with (http).
    let Some((_, authority)) = origin.split_once("://") else {
        return false;
    };
    host.is_some_and(|h| h.eq_ignore_ascii_case(authority))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    const HOST: Option<&str> = Some("app.example.com");

    #[test]
    fn safe_methods_are_not_checked() {
        assert!(!is_unsafe(&Method::GET));
        assert!(!is_unsafe(&Method::HEAD));
        assert!(is_unsafe(&Method::POST));
        assert!(is_unsafe(&Method::DELETE));
    }

    #[test]
    fn the_custom_header_is_required() {
        let h = headers(&[("origin", "https://app.example.com")]);
        assert_eq!(check(&h, HOST, &[]), Err(CsrfError::MissingHeader));
    }

    #[test]
    fn same_origin_passes_whatever_the_scheme() {
        let h = headers(&[
            ("x-requested-with", "XMLHttpRequest"),
            ("origin", "https://app.example.com"),
        ]);
        assert_eq!(check(&h, HOST, &[]), Ok(()));
        let h = headers(&[
            ("x-requested-with", "1"),
            ("origin", "http://app.example.com"),
        ]);
        assert_eq!(check(&h, HOST, &[]), Ok(()));
    }

    #[test]
    fn foreign_origin_is_refused_unless_allowed() {
        let h = headers(&[
            ("x-requested-with", "1"),
            ("origin", "https://evil.example.net"),
        ]);
        assert_eq!(check(&h, HOST, &[]), Err(CsrfError::ForeignOrigin));
        assert_eq!(
            check(&h, HOST, &["https://evil.example.net".to_string()]),
            Ok(())
        );
        let h = headers(&[("x-requested-with", "1"), ("origin", "null")]);
        assert_eq!(check(&h, HOST, &[]), Err(CsrfError::ForeignOrigin));
    }

    #[test]
    fn sec_fetch_site_decides_without_origin() {
        for (site, ok) in [
            ("same-origin", true),
            ("none", true),
            ("same-site", false),
            ("cross-site", false),
        ] {
            let mut h = headers(&[("x-requested-with", "1")]);
            h.insert("sec-fetch-site", HeaderValue::from_static(site));
            assert_eq!(check(&h, HOST, &[]).is_ok(), ok, "{site}");
        }
    }

    #[test]
    fn non_browser_client_with_header_passes() {
        let h = headers(&[("x-requested-with", "curl")]);
        assert_eq!(check(&h, None, &[]), Ok(()));
    }
}
