//! Turning a request path into a file path that cannot leave the served directory.
//!
//! The raw path is split on `/` first and each segment decoded on its own, so an encoded slash
//! (`%2f`) can never create a new segment. Anything that could climb out or confuse the file
//! system — `.`/`..` segments, backslashes, NUL, invalid or overlong UTF-8, dotfiles — is refused
//! before the disk is touched. Symlinks are checked after resolution (see `files`).

use percent_encoding::percent_decode_str;

/// A request path reduced to plain file-name segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafePath {
    pub segments: Vec<String>,
    /// The request ended with `/`: a directory index is wanted.
    pub trailing_slash: bool,
}

impl SafePath {
    /// Parses the part of the URL path after the route prefix.
    pub fn parse(raw: &str) -> Result<SafePath, &'static str> {
        let mut segments = Vec::new();
        for raw_segment in raw.split('/') {
            if raw_segment.is_empty() {
                continue;
            }
            let bytes: Vec<u8> = percent_decode_str(raw_segment).collect();
            if bytes.iter().any(|b| matches!(b, b'/' | b'\\' | 0)) {
                return Err("the path contains an encoded slash, a backslash or NUL");
            }
            let segment = String::from_utf8(bytes).map_err(|_| "the path is not valid UTF-8")?;
            if segment == "." || segment == ".." {
                return Err("the path contains a `.` or `..` segment");
            }
            if segment.starts_with('.') && segment != ".well-known" {
                return Err("hidden files are not served");
            }
            if segment.chars().any(char::is_control) {
                return Err("the path contains control characters");
            }
            segments.push(segment);
        }
        Ok(SafePath {
            segments,
            trailing_slash: raw.ends_with('/') || raw.is_empty(),
        })
    }

    /// The segments joined with `/` (the cache key and the path under the root).
    pub fn relative(&self) -> String {
        self.segments.join("/")
    }

    /// Whether the last segment has no extension (a client-side route such as `/users/42`).
    pub fn is_extensionless(&self) -> bool {
        self.segments.last().is_none_or(|last| !last.contains('.'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_keep_their_segments() {
        let path = SafePath::parse("/assets/app%20v1.js").expect("valid");
        assert_eq!(path.segments, vec!["assets", "app v1.js"]);
        assert!(!path.trailing_slash);
        assert!(SafePath::parse("/").expect("valid").trailing_slash);
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
