//! Turning a request path into a file path that cannot leave the served directory.
//!
//! The raw path is split on `/` first and each segment decoded on its own, so an encoded slash
//! (`%2f`) can never create a new segment. Anything that could climb out or confuse the file
//! system — `.`/`..` segments, backslashes, NUL, invalid or overlong UTF-8, dotfiles — is refused
//! before the disk is touched. Symlinks are checked after resolution (see `files`).

use percent_encoding::percent_decode;

/// A request path reduced to plain file-name segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafePath {
    /// The decoded segments joined with `/` (the cache key and the path under the root).
    pub relative: String,
    /// The request ended with `/`: a directory index is wanted.
    pub trailing_slash: bool,
}

impl SafePath {
    /// Parses the part of the URL path after the route prefix. Per request on the static
    /// path, so it allocates only the result (and a buffer for a segment with escapes), and
    /// looks at each byte of a plain ASCII segment once.
    pub fn parse(raw: &str) -> Result<SafePath, &'static str> {
        let mut relative = String::with_capacity(raw.len());
        let mut decoded = Vec::new();
        let mut rest = raw;
        while !rest.is_empty() {
            // Cut at the next `/` (ASCII, so both sides stay `str`).
            let (raw_segment, after) = match rest.bytes().position(|b| b == b'/') {
                Some(at) => (&rest[..at], &rest[at + 1..]),
                None => (rest, ""),
            };
            rest = after;
            if raw_segment.is_empty() {
                continue;
            }
            // Without a `%` a segment decodes to itself (and is already `str`).
            let escaped = raw_segment.as_bytes().contains(&b'%');
            let bytes = if escaped {
                decoded.clear();
                decoded.extend(percent_decode(raw_segment.as_bytes()));
                &decoded[..]
            } else {
                raw_segment.as_bytes()
            };
            let mut splits = false;
            let mut ascii_control = false;
            let mut non_ascii = false;
            for &b in bytes {
                match b {
                    b'/' | b'\\' | 0 => splits = true,
                    0x01..=0x1f | 0x7f => ascii_control = true,
                    0x80.. => non_ascii = true,
                    _ => {}
                }
            }
            if splits {
                return Err("the path contains an encoded slash, a backslash or NUL");
            }
            let segment = if escaped {
                std::str::from_utf8(bytes).map_err(|_| "the path is not valid UTF-8")?
            } else {
                raw_segment
            };
            if segment == "." || segment == ".." {
                return Err("the path contains a `.` or `..` segment");
            }
            if segment.starts_with('.') && segment != ".well-known" {
                return Err("hidden files are not served");
            }
            // C0 controls and DEL were seen above; C1 controls (U+0080–U+009F) are not ASCII.
            if ascii_control || (non_ascii && segment.chars().any(char::is_control)) {
                return Err("the path contains control characters");
            }
            if !relative.is_empty() {
                relative.push('/');
            }
            relative.push_str(segment);
        }
        Ok(SafePath {
            relative,
            trailing_slash: raw.ends_with('/') || raw.is_empty(),
        })
    }

    /// Whether the last segment has no extension (a client-side route such as `/users/42`).
    pub fn is_extensionless(&self) -> bool {
        let bytes = self.relative.as_bytes();
        let last = bytes
            .iter()
            .rposition(|&b| b == b'/')
            .map_or(0, |at| at + 1);
        !bytes[last..].contains(&b'.')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_keep_their_segments() {
        let path = SafePath::parse("/assets/app%20v1.js").expect("valid");
        assert_eq!(path.relative, "assets/app v1.js");
        assert!(!path.trailing_slash);
        assert!(!path.is_extensionless());
        let path = SafePath::parse("//users/%34%32/").expect("valid");
        assert_eq!(path.relative, "users/42");
        assert!(path.trailing_slash && path.is_extensionless());
        let root = SafePath::parse("/").expect("valid");
        assert!(root.trailing_slash && root.relative.is_empty() && root.is_extensionless());
    }

    #[test]
    fn control_characters_are_refused_and_other_unicode_is_kept() {
        for raw in [
            "/a%09b.js",
            "/a%7f",
            "/%1b[31m",
            "/a%c2%80.js",
            "/x%c2%9f",
            "/a\u{85}b",
        ] {
            assert_eq!(
                SafePath::parse(raw),
                Err("the path contains control characters"),
                "{raw}"
            );
        }
        let path = SafePath::parse("/caf%c3%a9/na\u{ef}ve.js").expect("valid");
        assert_eq!(path.relative, "café/naïve.js");
        // The first rule a segment breaks names the refusal.
        assert_eq!(
            SafePath::parse("/.%00"),
            Err("the path contains an encoded slash, a backslash or NUL")
        );
        assert_eq!(
            SafePath::parse("/%ff%09"),
            Err("the path is not valid UTF-8")
        );
        assert_eq!(SafePath::parse("/.%09"), Err("hidden files are not served"));
    }

    #[test]
    fn climbing_encodings_are_refused() {
        for raw in [
            "/../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/%2E%2E/etc",
            "/a/%2e%2e%2f%2e%2e/x",
            "/..%2fetc",
            "/..%5cetc",
            "/a\\..\\b",
            "/%00",
            "/a%00.js",
            "/%c0%ae%c0%ae/etc",
            "/%e0%80%ae%e0%80%ae/x",
            "/.env",
            "/%2e",
            "/a/./b",
        ] {
            assert!(SafePath::parse(raw).is_err(), "{raw} accepted");
        }
    }
}
