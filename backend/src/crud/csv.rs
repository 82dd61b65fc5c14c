//! CSV export cells: RFC 4180 quoting plus the OWASP defence against spreadsheet formula
//! injection (a text cell starting with `=`, `+`, `-`, `@`, tab or CR is prefixed with `'` so a
//! spreadsheet shows it as text instead of evaluating it).

use serde_json::Value;

/// One CSV line (with `\r\n`) from cells rendered by [`cell`].
pub fn line<'a>(cells: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for (i, c) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&quote(c));
    }
    out.push_str("\r\n");
    out
}

/// The text of one JSON value as a cell (before quoting): null → empty, strings defused,
/// numbers and booleans as written, nested values as their id/name or JSON.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => defuse(s),
        Value::Object(map) => map
            .get("name")
            .or_else(|| map.get("id"))
            .map(cell)
            .unwrap_or_else(|| defuse(&value.to_string())),
        Value::Array(items) => defuse(&items.iter().map(cell).collect::<Vec<_>>().join("; ")),
    }
}

fn defuse(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    }
}

fn quote(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) || text.starts_with(' ') || text.ends_with(' ') {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quoting_follows_rfc4180() {
        assert_eq!(line(["a", "b"]), "a,b\r\n");
        assert_eq!(
            line(["a,b", "say \"hi\""]),
            "\"a,b\",\"say \"\"hi\"\"\"\r\n"
        );
        assert_eq!(line(["two\nlines", ""]), "\"two\nlines\",\r\n");
    }

    #[test]
    fn formulas_are_defused() {
        for s in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "=HYPERLINK(\"x\")"] {
            assert!(cell(&json!(s)).starts_with('\''), "{s}");
        }
        assert_eq!(cell(&json!("plain")), "plain");
        // Real numbers stay numbers.
        assert_eq!(cell(&json!(-5)), "-5");
        assert_eq!(line([cell(&json!("=1,2")).as_str()]), "\"'=1,2\"\r\n");
    }

    #[test]
    fn nested_values_use_their_name() {
        assert_eq!(cell(&json!({"id": "x", "name": "Admin"})), "Admin");
        assert_eq!(cell(&json!([{"name": "A"}, {"name": "B"}])), "A; B");
        assert_eq!(cell(&json!(null)), "");
        assert_eq!(cell(&json!(true)), "true");
    }
}
