//! The list query language shared by every resource: `limit`, `page`, `field` + `sort`,
//! per-field filters, `<field>Range`, and `filetype=csv`. Parsed against the resource's field
//! table into a typed [`ListQuery`]; anything that does not fit is a 400 naming the parameter.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use uuid::Uuid;

pub const DEFAULT_LIMIT: u64 = 10;
pub const MAX_LIMIT: u64 = 100;

/// The type of a column, which decides how it filters and sorts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Bool,
    Int,
    DateTime,
    Uuid,
}

/// One column exposed by a resource.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Name in JSON and query strings (camelCase).
    pub name: &'static str,
    /// Column in the database.
    pub column: &'static str,
    pub kind: Kind,
}

impl Field {
    pub const fn new(name: &'static str, column: &'static str, kind: Kind) -> Self {
        Self { name, column, kind }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Text(String),
    Bool(bool),
    Int(i64),
    DateTime(DateTime<Utc>),
    Uuid(Uuid),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Case-insensitive substring match.
    Contains {
        column: &'static str,
        text: String,
    },
    Equals {
        column: &'static str,
        value: Scalar,
    },
    /// `from <= column` and `column <= to` (or `< to` when `to_exclusive`, for a date-only end).
    Range {
        column: &'static str,
        from: Option<Scalar>,
        to: Option<Scalar>,
        to_exclusive: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub limit: u64,
    /// Whether `limit` was given explicitly (a CSV export is unpaginated unless it was).
    pub limit_given: bool,
    pub page: u64,
    pub order: Option<(&'static str, Direction)>,
    pub filters: Vec<Filter>,
    pub csv: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

fn bad(msg: impl Into<String>) -> QueryError {
    QueryError(msg.into())
}

/// Parameters that are not filters.
const CONTROL: [&str; 5] = ["limit", "page", "field", "sort", "filetype"];

pub fn parse_list(fields: &[Field], params: &[(String, String)]) -> Result<ListQuery, QueryError> {
    let one = |name: &str| {
        params
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let (limit, limit_given) = match one("limit") {
        None => (DEFAULT_LIMIT, false),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n >= 1 => (n.min(MAX_LIMIT), true),
            _ => {
                return Err(bad(format!(
                    "limit must be a whole number from 1 to {MAX_LIMIT}"
                )));
            }
        },
    };
    let page = match one("page") {
        None => 0,
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|p| *p <= 10_000_000)
            .ok_or_else(|| bad("page must be a whole number, 0 or more (pages count from 0)"))?,
    };
    let direction = match one("sort").map(str::to_ascii_lowercase).as_deref() {
        None | Some("desc") => Direction::Desc,
        Some("asc") => Direction::Asc,
        Some(_) => return Err(bad("sort must be asc or desc")),
    };
    let order = match one("field") {
        None => None,
        Some(name) => {
            let field = fields
                .iter()
                .find(|f| f.name == name)
                .ok_or_else(|| bad(format!("cannot sort by unknown field `{}`", truncate(name))))?;
            Some((field.column, direction))
        }
    };
    let csv = match one("filetype") {
        None => false,
        Some("csv") => true,
        Some(_) => return Err(bad("filetype must be csv")),
    };

    let mut filters = Vec::new();
    let mut seen_ranges: Vec<&str> = Vec::new();
    for (key, value) in params {
        if CONTROL.contains(&key.as_str()) {
            continue;
        }
        let base = key.trim_end_matches("[]");
        let base = base
            .strip_suffix("[0]")
            .or_else(|| base.strip_suffix("[1]"))
            .unwrap_or(base);
        if let Some(name) = base.strip_suffix("Range") {
            let field = fields
                .iter()
                .find(|f| f.name == name && matches!(f.kind, Kind::Int | Kind::DateTime))
                .ok_or_else(|| bad(format!("`{}` is not a range filter", truncate(key))))?;
            if seen_ranges.contains(&field.name) {
                continue;
            }
            seen_ranges.push(field.name);
            filters.push(parse_range(field, key_values(params, name))?);
            continue;
        }
        let field = fields
            .iter()
            .find(|f| f.name == key)
            .ok_or_else(|| bad(format!("unknown query parameter `{}`", truncate(key))))?;
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        filters.push(match field.kind {
            Kind::Text => Filter::Contains {
                column: field.column,
                text: value.to_string(),
            },
            _ => Filter::Equals {
                column: field.column,
                value: parse_scalar(field, value)?.0,
            },
        });
    }
    Ok(ListQuery {
        limit,
        limit_given,
        page,
        order,
        filters,
        csv,
    })
}

/// Every value given for `<name>Range`, in any of the spellings clients use:
/// `[from,to]`, `from,to`, repeated `xRange=`, `xRange[]=`, `xRange[0]=`/`xRange[1]=`.
fn key_values<'a>(params: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    let plain = format!("{name}Range");
    let mut values = Vec::new();
    let mut indexed: [Option<&str>; 2] = [None, None];
    for (k, v) in params {
        if *k == plain || *k == format!("{plain}[]") {
            let v = v.trim();
            if let Some(inner) = v.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                values.extend(inner.split(',').map(|s| s.trim().trim_matches('"')));
            } else if v.contains(',') {
                values.extend(v.split(',').map(str::trim));
            } else {
                values.push(v);
            }
        } else if *k == format!("{plain}[0]") {
            indexed[0] = Some(v.trim());
        } else if *k == format!("{plain}[1]") {
            indexed[1] = Some(v.trim());
        }
    }
    if indexed.iter().any(Option::is_some) {
        return vec![indexed[0].unwrap_or(""), indexed[1].unwrap_or("")];
    }
    values
}

fn parse_range(field: &Field, values: Vec<&str>) -> Result<Filter, QueryError> {
    if values.len() > 2 {
        return Err(bad(format!(
            "{}Range takes two values: [from,to]",
            field.name
        )));
    }
    let from = match values.first().copied().filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(parse_scalar(field, v)?.0),
    };
    let (to, to_exclusive) = match values.get(1).copied().filter(|v| !v.is_empty()) {
        None => (None, false),
        Some(v) => {
            let (value, date_only) = parse_scalar(field, v)?;
            // A date-only end means "through that whole day".
            match (value, date_only) {
                (Scalar::DateTime(d), true) => {
                    (Some(Scalar::DateTime(d + chrono::Duration::days(1))), true)
                }
                (value, _) => (Some(value), false),
            }
        }
    };
    Ok(Filter::Range {
        column: field.column,
        from,
        to,
        to_exclusive,
    })
}

/// The value and, for dates, whether it was a bare date.
fn parse_scalar(field: &Field, value: &str) -> Result<(Scalar, bool), QueryError> {
    let name = field.name;
    match field.kind {
        Kind::Text => Ok((Scalar::Text(value.to_string()), false)),
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok((Scalar::Bool(true), false)),
            "false" | "0" => Ok((Scalar::Bool(false), false)),
            _ => Err(bad(format!("{name} must be true or false"))),
        },
        Kind::Int => value
            .parse()
            .map(|n| (Scalar::Int(n), false))
            .map_err(|_| bad(format!("{name} must be a whole number"))),
        Kind::Uuid => Uuid::parse_str(value)
            .map(|u| (Scalar::Uuid(u), false))
            .map_err(|_| bad(format!("{name} must be a UUID"))),
        Kind::DateTime => parse_datetime(value).ok_or_else(|| {
            bad(format!(
                "{name} must be a date (YYYY-MM-DD) or an RFC 3339 time"
            ))
        }),
    }
}

fn parse_datetime(value: &str) -> Option<(Scalar, bool)> {
    if let Ok(d) = DateTime::parse_from_rfc3339(value) {
        return Some((Scalar::DateTime(d.with_timezone(&Utc)), false));
    }
    if let Ok(d) = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some((Scalar::DateTime(d.and_utc()), false));
    }
    let d = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
    Some((Scalar::DateTime(d.and_hms_opt(0, 0, 0)?.and_utc()), true))
}

/// Error messages quote client input; keep them short.
fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[Field] = &[
        Field::new("email", "email", Kind::Text),
        Field::new("disabled", "disabled", Kind::Bool),
        Field::new("createdAt", "created_at", Kind::DateTime),
        Field::new("app_role", "role_id", Kind::Uuid),
        Field::new("age", "age", Kind::Int),
    ];

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<ListQuery, QueryError> {
        parse_list(FIELDS, &p(pairs))
    }

    #[test]
    fn defaults() {
        let q = parse(&[]).unwrap();
        assert_eq!((q.limit, q.page, q.order, q.csv), (10, 0, None, false));
        assert!(q.filters.is_empty());
    }

    #[test]
    fn pagination_edges() {
        assert_eq!(parse(&[("limit", "1000")]).unwrap().limit, MAX_LIMIT);
        assert_eq!(parse(&[("limit", "100")]).unwrap().limit, 100);
        assert!(parse(&[("limit", "0")]).is_err());
        assert!(parse(&[("limit", "-1")]).is_err());
        assert!(parse(&[("limit", "ten")]).is_err());
        assert!(parse(&[("page", "-1")]).is_err());
        assert_eq!(parse(&[("page", "3")]).unwrap().page, 3);
        assert_eq!(parse(&[("limit", "")]).unwrap().limit, DEFAULT_LIMIT);
    }

    #[test]
    fn sorting() {
        let q = parse(&[("field", "email"), ("sort", "ASC")]).unwrap();
        assert_eq!(q.order, Some(("email", Direction::Asc)));
        let e = parse(&[("field", "password")]).unwrap_err();
        assert!(e.0.contains("unknown field `password`"));
        assert!(parse(&[("field", "email"), ("sort", "sideways")]).is_err());
    }

    #[test]
    fn filters_by_kind() {
        let q = parse(&[("email", "ann"), ("disabled", "true"), ("app_role", "")]).unwrap();
        assert_eq!(
            q.filters,
            vec![
                Filter::Contains {
                    column: "email",
                    text: "ann".into()
                },
                Filter::Equals {
                    column: "disabled",
                    value: Scalar::Bool(true)
                },
            ]
        );
        assert!(parse(&[("disabled", "maybe")]).is_err());
        let e = parse(&[("app_role", "not-a-uuid")]).unwrap_err();
        assert!(e.0.contains("UUID"));
        assert!(parse(&[("nope", "1")]).unwrap_err().0.contains("`nope`"));
    }

    #[test]
    fn range_spellings() {
        let expect = Filter::Range {
            column: "age",
            from: Some(Scalar::Int(1)),
            to: Some(Scalar::Int(5)),
            to_exclusive: false,
        };
        for pairs in [
            vec![("ageRange", "[1,5]")],
            vec![("ageRange", "1,5")],
            vec![("ageRange", "1"), ("ageRange", "5")],
            vec![("ageRange[]", "1"), ("ageRange[]", "5")],
            vec![("ageRange[0]", "1"), ("ageRange[1]", "5")],
        ] {
            assert_eq!(
                parse(&pairs).unwrap().filters,
                vec![expect.clone()],
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn open_and_date_ranges() {
        let q = parse(&[("createdAtRange", "[,2024-01-31]")]).unwrap();
        let Filter::Range {
            from,
            to,
            to_exclusive,
            ..
        } = &q.filters[0]
        else {
            panic!("not a range");
        };
        assert_eq!(from, &None);
        assert!(*to_exclusive);
        assert_eq!(
            to,
            &Some(Scalar::DateTime("2024-02-01T00:00:00Z".parse().unwrap()))
        );
        assert!(parse(&[("createdAtRange", "[yesterday,]")]).is_err());
        assert!(parse(&[("emailRange", "[a,b]")]).is_err());
        assert!(parse(&[("ageRange", "[1,2,3]")]).is_err());
    }

    #[test]
    fn csv_flag() {
        assert!(parse(&[("filetype", "csv")]).unwrap().csv);
        assert!(parse(&[("filetype", "xls")]).is_err());
    }
}
