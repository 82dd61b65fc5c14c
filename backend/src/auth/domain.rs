//! Domain newtypes that parse client input once: [`Email`], [`NewPassword`], [`Name`].
//! A value of these types is valid by construction; errors name the field for a 422.

use secrecy::SecretString;

use crate::error::AppError;

/// An email address, trimmed; compared case-insensitively (the unique index is on lower(email)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, raw: &str) -> Result<Email, AppError> {
        let s = raw.trim();
        let invalid = || AppError::validation(format!("{field} must be a valid email address"));
        if s.is_empty() || s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(invalid)?;
        if local.is_empty()
            || local.len() > 64
            || local.contains('@')
            || domain.len() < 3
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
            || !domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
        {
            return Err(invalid());
        }
        Ok(Email(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn lower(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A password a user chooses: 8 to 1024 characters (the upper bound keeps argon2 input sane).
#[derive(Debug, Clone)]
pub struct NewPassword(SecretString);

pub const MIN_PASSWORD: usize = 8;
pub const MAX_PASSWORD: usize = 1024;

impl NewPassword {
    pub fn parse(field: &str, raw: &str) -> Result<NewPassword, AppError> {
        let n = raw.chars().count();
        if n < MIN_PASSWORD {
            return Err(AppError::validation(format!(
                "{field} must be at least {MIN_PASSWORD} characters"
            )));
        }
        if n > MAX_PASSWORD {
            return Err(AppError::validation(format!(
                "{field} must be at most {MAX_PASSWORD} characters"
            )));
        }
        Ok(NewPassword(SecretString::from(raw.to_string())))
    }

    pub fn secret(self) -> SecretString {
        self.0
    }
}

/// A short free-text field (names, phone): trimmed, at most `max` characters, empty → None.
pub fn short_text(field: &str, raw: Option<&str>, max: usize) -> Result<Option<String>, AppError> {
    let Some(raw) = raw else { return Ok(None) };
    let s = raw.trim();
    if s.chars().count() > max {
        return Err(AppError::validation(format!(
            "{field} must be at most {max} characters"
        )));
    }
    if s.chars().any(|c| c.is_control()) {
        return Err(AppError::validation(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok((!s.is_empty()).then(|| s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["a@b.co", "Ann.Lee+x@Example.com", "user@sub.domain.org"] {
            assert!(Email::parse("email", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@",
            "@b.co",
            "a@b",
            "a b@c.de",
            "a@b..co",
            "a@.b.co",
            "a@b.co.",
            &format!("{}@b.co", "x".repeat(65)),
        ] {
            let e = Email::parse("email", bad).unwrap_err();
            assert_eq!(e.status, 422, "{bad}");
            assert!(e.message.contains("email"));
        }
        assert_eq!(Email::parse("email", " A@B.co ").unwrap().lower(), "a@b.co");
    }

    #[test]
    fn passwords() {
        assert!(NewPassword::parse("password", "1234567").is_err());
        assert!(NewPassword::parse("password", "12345678").is_ok());
        assert!(NewPassword::parse("password", &"x".repeat(1025)).is_err());
        let e = NewPassword::parse("newPassword", "short").unwrap_err();
        assert!(e.message.contains("newPassword"));
    }

    #[test]
    fn short_texts() {
        assert_eq!(
            short_text("firstName", Some("  Ann "), 10).unwrap(),
            Some("Ann".into())
        );
        assert_eq!(short_text("firstName", Some("  "), 10).unwrap(), None);
        assert!(short_text("firstName", Some(&"x".repeat(11)), 10).is_err());
        assert!(short_text("firstName", Some("a\u{0}b"), 10).is_err());
    }
}
