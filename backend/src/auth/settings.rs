//! Auth settings read once at startup from the environment; every problem is reported at once
//! with the variable's name (the foundation's config collects these errors with its own).

use std::time::Duration;

use super::client_ip::TrustedProxies;
use super::cookies::{CookieSettings, SameSite, is_valid_name};
use crate::config::Mode;

/// Validated auth settings.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub cookies: CookieSettings,
    pub password_reset_ttl: Duration,
    pub email_verification_ttl: Duration,
    pub rate_limit_max: u32,
    pub rate_limit_window: Duration,
    pub trusted_proxies: TrustedProxies,
    /// Where links in emails and OAuth redirects point (the browser-facing origin).
    pub frontend_url: String,
}

const MINUTE_MS: u64 = 60_000;
const DAY_MS: u64 = 24 * 60 * MINUTE_MS;

impl SessionSettings {
    /// In production cookies are `Secure` unless `AUTH_COOKIE_SECURE=false` says otherwise.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
        mode: Mode,
    ) -> Result<Self, Vec<String>> {
        let https_by_default = mode == Mode::Production;
        let mut errors = Vec::new();
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let millis = |name: &str, default: u64, errors: &mut Vec<String>| -> Duration {
            match get(name) {
                None => Duration::from_millis(default),
                Some(v) => match v.parse::<u64>() {
                    Ok(ms) if ms >= 1000 => Duration::from_millis(ms),
                    _ => {
                        errors.push(format!(
                            "{name} must be a number of milliseconds, at least 1000 (got `{v}`)"
                        ));
                        Duration::from_millis(default)
                    }
                },
            }
        };
        let access_ttl = millis("AUTH_ACCESS_TOKEN_TTL_MS", 15 * MINUTE_MS, &mut errors);
        let refresh_ttl = millis("AUTH_REFRESH_TOKEN_TTL_MS", 30 * DAY_MS, &mut errors);
        let cookie_max_age = millis(
            "AUTH_COOKIE_MAX_AGE_MS",
            access_ttl.as_millis() as u64,
            &mut errors,
        );
        let password_reset_ttl = millis("AUTH_PASSWORD_RESET_TTL_MS", 60 * MINUTE_MS, &mut errors);
        let email_verification_ttl = millis("AUTH_EMAIL_VERIFICATION_TTL_MS", DAY_MS, &mut errors);
        let rate_limit_window = millis("AUTH_RATE_LIMIT_WINDOW_MS", MINUTE_MS, &mut errors);

        let rate_limit_max = match get("AUTH_RATE_LIMIT_MAX") {
            None => 10,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    errors.push(format!(
                        "AUTH_RATE_LIMIT_MAX must be a whole number, at least 1 (got `{v}`)"
                    ));
                    10
                }
            },
        };

        let secure = match get("AUTH_COOKIE_SECURE").as_deref() {
            None => https_by_default,
            Some("true" | "1" | "yes") => true,
            Some("false" | "0" | "no") => false,
            Some(v) => {
                errors.push(format!(
                    "AUTH_COOKIE_SECURE must be true or false (got `{v}`)"
                ));
                https_by_default
            }
        };
        let same_site = match get("AUTH_COOKIE_SAME_SITE") {
            None => SameSite::Lax,
            Some(v) => SameSite::parse(&v).unwrap_or_else(|| {
                errors.push(format!(
                    "AUTH_COOKIE_SAME_SITE must be Lax, Strict or None (got `{v}`)"
                ));
                SameSite::Lax
            }),
        };
        if same_site == SameSite::None && !secure {
            errors.push(
                "AUTH_COOKIE_SAME_SITE=None needs secure cookies (set AUTH_COOKIE_SECURE=true)"
                    .into(),
            );
        }
        let name = |var: &str, default: &str, errors: &mut Vec<String>| -> String {
            let v = get(var).unwrap_or_else(|| default.to_string());
            if !is_valid_name(&v) {
                errors.push(format!("{var} must be a valid cookie name (got `{v}`)"));
                return default.to_string();
            }
            v
        };
        let access_base_name = name("AUTH_COOKIE_NAME", "access_token", &mut errors);
        let refresh_base_name = name("AUTH_REFRESH_COOKIE_NAME", "refresh_token", &mut errors);
        if access_base_name == refresh_base_name {
            errors.push("AUTH_COOKIE_NAME and AUTH_REFRESH_COOKIE_NAME must differ".into());
        }
        let domain = get("AUTH_COOKIE_DOMAIN");
        if let Some(d) = &domain
            && !d
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            errors.push(format!(
                "AUTH_COOKIE_DOMAIN must be a host name (got `{d}`)"
            ));
        }

        let trusted_proxies = match get("AUTH_TRUSTED_PROXIES") {
            None => TrustedProxies::loopback(),
            Some(v) => TrustedProxies::parse(&v).unwrap_or_else(|e| {
                errors.push(format!("AUTH_TRUSTED_PROXIES: {e}"));
                TrustedProxies::loopback()
            }),
        };

        let frontend_url = get("FRONTEND_URL")
            .unwrap_or_else(|| "http://localhost:8080".into())
            .trim_end_matches('/')
            .to_string();
        if !(frontend_url.starts_with("http://") || frontend_url.starts_with("https://")) {
            errors.push(format!(
                "FRONTEND_URL must start with http:// or https:// (got `{frontend_url}`)"
            ));
        }

        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            access_ttl,
            refresh_ttl,
            cookies: CookieSettings {
                access_base_name,
                refresh_base_name,
                secure,
                same_site,
                domain,
                access_max_age_secs: cookie_max_age.as_secs() as i64,
            },
            password_reset_ttl,
            email_verification_ttl,
            rate_limit_max,
            rate_limit_window,
            trusted_proxies,
            frontend_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)], prod: bool) -> Result<SessionSettings, Vec<String>> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        SessionSettings::from_lookup(
            |k| map.get(k).cloned(),
            if prod {
                Mode::Production
            } else {
                Mode::Development
            },
        )
    }

    #[test]
    fn defaults() {
        let s = parse(&[], false).unwrap();
        assert_eq!(s.access_ttl, Duration::from_secs(900));
        assert_eq!(s.refresh_ttl, Duration::from_secs(30 * 86400));
        assert_eq!(s.cookies.access_max_age_secs, 900);
        assert!(!s.cookies.secure);
        assert_eq!(s.cookies.same_site, SameSite::Lax);
        assert_eq!(s.rate_limit_max, 10);
        assert!(parse(&[], true).unwrap().cookies.secure);
    }

    #[test]
    fn overrides_apply() {
        let s = parse(
            &[
                ("AUTH_COOKIE_SECURE", "false"),
                ("AUTH_COOKIE_SAME_SITE", "strict"),
                ("AUTH_COOKIE_NAME", "sid"),
                ("AUTH_COOKIE_MAX_AGE_MS", "60000"),
                ("AUTH_ACCESS_TOKEN_TTL_MS", "120000"),
            ],
            true,
        )
        .unwrap();
        assert!(!s.cookies.secure);
        assert_eq!(s.cookies.same_site, SameSite::Strict);
        assert_eq!(s.cookies.access_name(), "sid");
        assert_eq!(s.cookies.access_max_age_secs, 60);
        assert_eq!(s.access_ttl, Duration::from_secs(120));
    }

    #[test]
    fn every_problem_is_reported_with_its_variable() {
        let errors = parse(
            &[
                ("AUTH_ACCESS_TOKEN_TTL_MS", "soon"),
                ("AUTH_COOKIE_SAME_SITE", "sometimes"),
                ("AUTH_COOKIE_NAME", "bad name"),
                ("AUTH_TRUSTED_PROXIES", "10.0.0.0/99"),
                ("AUTH_RATE_LIMIT_MAX", "0"),
            ],
            false,
        )
        .unwrap_err();
        let all = errors.join("\n");
        for var in [
            "AUTH_ACCESS_TOKEN_TTL_MS",
            "AUTH_COOKIE_SAME_SITE",
            "AUTH_COOKIE_NAME",
            "AUTH_TRUSTED_PROXIES",
            "AUTH_RATE_LIMIT_MAX",
        ] {
            assert!(all.contains(var), "{var} missing from {all}");
        }
    }

    #[test]
    fn same_site_none_requires_secure() {
        let errors = parse(&[("AUTH_COOKIE_SAME_SITE", "None")], false).unwrap_err();
        assert!(errors[0].contains("AUTH_COOKIE_SECURE"));
        assert!(parse(&[("AUTH_COOKIE_SAME_SITE", "None")], true).is_ok());
    }
}
