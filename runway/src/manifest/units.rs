//! Human-friendly units in the manifest: durations (`"500ms"`, `"5s"`, `"2m"`, or a number of
//! seconds), byte sizes (`"512M"`, `"10MiB"`, or a number of bytes) and signal names.
//!
//! Each type parses once at load time, so the rest of runway works with typed values.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::time::Duration;

/// Splits `"2.5ms"` into its number and its unit (`"ms"`, trimmed; empty when there is none).
fn number_and_unit(text: &str) -> Option<(f64, &str)> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    Some((number.parse().ok()?, unit.trim()))
}

/// A duration written as `"250ms"`, `"5s"`, `"2m"`, `"1h"` or a bare number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Dur(pub Duration);

impl Dur {
    pub fn parse(text: &str) -> Result<Dur, String> {
        parse_duration(text).map(Dur)
    }
}

/// Parses `"250ms"`, `"5s"`, `"2m"`, `"1h"` or a bare number of seconds (fractions allowed).
/// The one duration parser of runway: the manifest, `[proxy]` and `[[job]]` all use it.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (value, unit) = number_and_unit(text).ok_or_else(|| {
        format!("`{text}` is not a duration (use e.g. \"500ms\", \"5s\", \"2m\")")
    })?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` in `{text}` (use ms, s, m or h)"
            ));
        }
    };
    if !seconds.is_finite() || !(0.0..=1.0e9).contains(&seconds) {
        return Err(format!("duration `{text}` is out of range"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Float(f64),
            Text(String),
        }
        match Raw::deserialize(de)? {
            Raw::Int(s) => Ok(Dur(Duration::from_secs(s))),
            Raw::Float(s) if s.is_finite() && s >= 0.0 => Ok(Dur(Duration::from_secs_f64(s))),
            Raw::Float(s) => Err(serde::de::Error::custom(format!(
                "duration {s} is out of range"
            ))),
            Raw::Text(t) => Dur::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

/// A byte size written as `"512M"`, `"10MiB"`, `"1G"`, `"64k"` or a bare number of bytes.
/// K/M/G are binary multiples (1024), as PM2's `max_memory_restart` reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bytes(pub u64);

impl Bytes {
    pub fn parse(text: &str) -> Result<Bytes, String> {
        let text = text.trim();
        let (value, unit) = number_and_unit(text)
            .ok_or_else(|| format!("`{text}` is not a size (use e.g. \"512M\", \"10MiB\")"))?;
        let factor: f64 = match unit.to_ascii_lowercase().as_str() {
            "" | "b" => 1.0,
            "k" | "kb" | "kib" => 1024.0,
            "m" | "mb" | "mib" => 1024.0 * 1024.0,
            "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
            other => {
                return Err(format!(
                    "unknown size unit `{other}` in `{text}` (use K, M or G)"
                ));
            }
        };
        let bytes = value * factor;
        if !bytes.is_finite() || !(1.0..=1.0e15).contains(&bytes) {
            return Err(format!("size `{text}` is out of range"));
        }
        Ok(Bytes(bytes as u64))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Text(String),
        }
        match Raw::deserialize(de)? {
            Raw::Int(0) => Err(serde::de::Error::custom("size must be greater than 0")),
            Raw::Int(b) => Ok(Bytes(b)),
            Raw::Text(t) => Bytes::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

/// A POSIX signal by name (`"SIGTERM"`, `"TERM"`, `"SIGINT"`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal(pub i32);

const SIGNALS: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("USR2", libc::SIGUSR2),
    ("TERM", libc::SIGTERM),
    ("WINCH", libc::SIGWINCH),
];

impl Signal {
    pub const TERM: Signal = Signal(libc::SIGTERM);

    pub fn parse(text: &str) -> Result<Signal, String> {
        let upper = text.trim().to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        SIGNALS
            .iter()
            .find(|(name, _)| *name == bare)
            .map(|(_, num)| Signal(*num))
            .ok_or_else(|| {
                format!(
                    "unknown signal `{text}` (use one of SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH, SIGKILL)"
                )
            })
    }

    pub fn name(self) -> String {
        SIGNALS
            .iter()
            .find(|(_, num)| *num == self.0)
            .map(|(name, _)| format!("SIG{name}"))
            .unwrap_or_else(|| format!("signal {}", self.0))
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl Serialize for Signal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Signal {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let text = String::deserialize(de)?;
        Signal::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(Dur::parse("250ms").unwrap().0, Duration::from_millis(250));
        assert_eq!(Dur::parse("5s").unwrap().0, Duration::from_secs(5));
        assert_eq!(Dur::parse("2m").unwrap().0, Duration::from_secs(120));
        assert_eq!(Dur::parse("1.5").unwrap().0, Duration::from_millis(1500));
        assert!(Dur::parse("5 parsecs").is_err());
        assert!(Dur::parse("fast").is_err());
    }

    #[test]
    fn sizes_are_binary_multiples() {
        assert_eq!(Bytes::parse("512M").unwrap().0, 512 * 1024 * 1024);
        assert_eq!(Bytes::parse("10MiB").unwrap().0, 10 * 1024 * 1024);
        assert_eq!(Bytes::parse("64k").unwrap().0, 64 * 1024);
        assert!(Bytes::parse("12 potatoes").is_err());
        assert!(Bytes::parse("0").is_err());
    }

    #[test]
    fn signals_by_name() {
        assert_eq!(Signal::parse("SIGINT").unwrap().0, libc::SIGINT);
        assert_eq!(Signal::parse("term").unwrap().0, libc::SIGTERM);
        assert_eq!(Signal::TERM.name(), "SIGTERM");
        assert!(Signal::parse("SIGFOO").is_err());
    }
}
