//! A parsed cron expression bound to a time zone: "when is the next run after this instant".

use std::str::FromStr;

use chrono::{DateTime, Local, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// The zone a schedule's wall-clock fields are read in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    Utc,
    Local,
    Named(chrono_tz::Tz),
}

#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    zone: Zone,
    pattern: String,
}

impl Schedule {
    /// `pattern`: 5 fields, or 6 with seconds first. `timezone`: `UTC` (default), `local`, or
    /// an IANA name.
    pub fn parse(pattern: &str, timezone: Option<&str>) -> Result<Self, String> {
        let fields = pattern.split_whitespace().count();
        if !(fields == 5 || fields == 6 || pattern.trim_start().starts_with('@')) {
            return Err(format!(
                "schedule `{pattern}`: expected 5 fields (minute hour day-of-month month day-of-week), got {fields}"
            ));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build()
            .parse(pattern)
            .map_err(|e| format!("schedule `{pattern}`: {e}"))?;
        let zone = match timezone.map(str::trim) {
            None | Some("") | Some("UTC") | Some("utc") => Zone::Utc,
            Some("local") | Some("Local") => Zone::Local,
            Some(name) => Zone::Named(chrono_tz::Tz::from_str(name).map_err(|_| {
                format!("timezone `{name}` is not known (use UTC, local, or an IANA name such as Europe/Paris)")
            })?),
        };
        Ok(Self {
            cron,
            zone,
            pattern: pattern.to_string(),
        })
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The first matching instant strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.zone {
            Zone::Utc => self
                .cron
                .find_next_occurrence(&after, false)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
            Zone::Local => self
                .cron
                .find_next_occurrence(&after.with_timezone(&Local), false)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
            Zone::Named(tz) => self
                .cron
                .find_next_occurrence(&after.with_timezone(&tz), false)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn daily_0330_in_paris_is_0230_utc_in_winter() {
        let s = Schedule::parse("30 3 * * *", Some("Europe/Paris")).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        let next = s.next_after(now).unwrap();
        assert_eq!(next, Utc.with_ymd_and_hms(2026, 11, 29, 2, 30, 0).unwrap());
    }

    #[test]
    fn daily_0330_utc() {
        let s = Schedule::parse("30 3 * * *", None).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 3, 30, 0).unwrap();
        assert_eq!(
            s.next_after(now).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 29, 3, 30, 0).unwrap()
        );
    }

    #[test]
    fn bad_patterns_and_zones_are_named() {
        let e = Schedule::parse("30 3 * *", None).unwrap_err();
        assert!(e.contains("expected 5 fields"), "{e}");
        let e = Schedule::parse("61 3 * * *", None).unwrap_err();
        assert!(e.contains("61 3 * * *"), "{e}");
        let e = Schedule::parse("30 3 * * *", Some("Mars/Olympus")).unwrap_err();
        assert!(e.contains("Mars/Olympus"), "{e}");
    }
}
