//! The two auth cookies: building `Set-Cookie` values (HttpOnly, SameSite, Secure with the
//! `__Host-`/`__Secure-` prefix when served over HTTPS) and reading them back from requests.
//!
//! The access cookie is sent everywhere (`Path=/`); the refresh cookie only to `/api/auth`, the
//! one place that needs it, which keeps it out of every other request and log.

use http::HeaderMap;
use http::HeaderValue;
use http::header::COOKIE;

/// Path the refresh cookie is scoped to.
pub const REFRESH_COOKIE_PATH: &str = "/api/auth";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Lax,
    Strict,
    None,
}

impl SameSite {
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "lax" => Some(Self::Lax),
            "strict" => Some(Self::Strict),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Lax => "Lax",
            Self::Strict => "Strict",
            Self::None => "None",
        }
    }
}

/// Cookie settings, validated once at startup (see `auth::settings`).
#[derive(Debug, Clone)]
pub struct CookieSettings {
    /// Base names as configured; the effective names add the secure prefix.
    pub access_base_name: String,
    pub refresh_base_name: String,
    pub secure: bool,
    pub same_site: SameSite,
    pub domain: Option<String>,
    /// Max-Age of the access cookie, in seconds.
    pub access_max_age_secs: i64,
}

impl CookieSettings {
    /// `__Host-` needs Secure, Path=/ and no Domain; otherwise `__Secure-` is the strongest
    /// prefix that applies.
    pub fn access_name(&self) -> String {
        match (self.secure, &self.domain) {
            (true, None) => format!("__Host-{}", self.access_base_name),
            (true, Some(_)) => format!("__Secure-{}", self.access_base_name),
            (false, _) => self.access_base_name.clone(),
        }
    }

    /// The refresh cookie is path-scoped, so it can never be `__Host-`.
    pub fn refresh_name(&self) -> String {
        if self.secure {
            format!("__Secure-{}", self.refresh_base_name)
        } else {
            self.refresh_base_name.clone()
        }
    }

    fn build(&self, name: &str, value: &str, path: &str, max_age: i64) -> HeaderValue {
        let mut cookie = format!(
            "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite={}",
            self.same_site.as_str()
        );
        if self.secure {
            cookie.push_str("; Secure");
        }
        if let Some(domain) = &self.domain {
            cookie.push_str("; Domain=");
            cookie.push_str(domain);
        }
        // Names and values are ours (validated names, base64url/JWT values): always valid.
        HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    pub fn access_cookie(&self, jwt: &str) -> HeaderValue {
        self.build(&self.access_name(), jwt, "/", self.access_max_age_secs)
    }

    pub fn refresh_cookie(&self, token: &str, max_age_secs: i64) -> HeaderValue {
        self.build(
            &self.refresh_name(),
            token,
            REFRESH_COOKIE_PATH,
            max_age_secs.max(0),
        )
    }

    pub fn clear_access(&self) -> HeaderValue {
        self.build(&self.access_name(), "", "/", 0)
    }

    pub fn clear_refresh(&self) -> HeaderValue {
        self.build(&self.refresh_name(), "", REFRESH_COOKIE_PATH, 0)
    }

    pub fn read_access<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        read_cookie(headers, &self.access_name())
    }

    pub fn read_refresh<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        read_cookie(headers, &self.refresh_name())
    }
}

/// Whether a cookie name is a valid RFC 6265 token (checked on configured names).
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The first non-empty value of cookie `name` across all `Cookie` headers.
pub fn read_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v.trim_matches('"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(secure: bool, domain: Option<&str>) -> CookieSettings {
        CookieSettings {
            access_base_name: "access_token".into(),
            refresh_base_name: "refresh_token".into(),
            secure,
            same_site: SameSite::Lax,
            domain: domain.map(String::from),
            access_max_age_secs: 900,
        }
    }

    #[test]
    fn plain_http_cookies_have_no_prefix_and_no_secure() {
        let s = settings(false, None);
        let c = s.access_cookie("abc");
        assert_eq!(
            c.to_str().unwrap(),
            "access_token=abc; Path=/; Max-Age=900; HttpOnly; SameSite=Lax"
        );
        let r = s.refresh_cookie("xyz", 100);
        assert_eq!(
            r.to_str().unwrap(),
            "refresh_token=xyz; Path=/api/auth; Max-Age=100; HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn https_uses_host_prefix_and_secure() {
        let s = settings(true, None);
        let c = s.access_cookie("abc").to_str().unwrap().to_string();
        assert!(c.starts_with("__Host-access_token=abc; Path=/;"), "{c}");
        assert!(c.ends_with("; Secure"));
        let r = s.refresh_cookie("x", 5).to_str().unwrap().to_string();
        assert!(
            r.starts_with("__Secure-refresh_token=x; Path=/api/auth;"),
            "{r}"
        );
    }

    #[test]
    fn a_domain_downgrades_host_prefix_to_secure_prefix() {
        let s = settings(true, Some("example.com"));
        let c = s.access_cookie("abc").to_str().unwrap().to_string();
        assert!(c.starts_with("__Secure-access_token="), "{c}");
        assert!(c.contains("; Domain=example.com"));
    }

    #[test]
    fn clearing_sets_max_age_zero_with_same_attributes() {
        let s = settings(true, None);
        let c = s.clear_refresh().to_str().unwrap().to_string();
        assert!(
            c.starts_with("__Secure-refresh_token=; Path=/api/auth; Max-Age=0;"),
            "{c}"
        );
    }

    #[test]
    fn reading_finds_the_named_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_static("a=1; access_token=tok; b=2"),
        );
        h.append(COOKIE, HeaderValue::from_static("refresh_token=ref"));
        let s = settings(false, None);
        assert_eq!(s.read_access(&h), Some("tok"));
        assert_eq!(s.read_refresh(&h), Some("ref"));
        assert_eq!(read_cookie(&h, "missing"), None);
        // The secure names are different cookies: a plain one does not satisfy them.
        assert_eq!(settings(true, None).read_access(&h), None);
    }

    #[test]
    fn empty_values_are_absent() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("access_token=; x=1"));
        assert_eq!(read_cookie(&h, "access_token"), None);
    }

    #[test]
    fn names_are_checked() {
        assert!(is_valid_name("access_token"));
        assert!(!is_valid_name("bad name"));
        assert!(!is_valid_name("a;b"));
        assert!(!is_valid_name(""));
    }
}
