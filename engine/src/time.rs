//! Parsing and printing of instants: Unix seconds (integer or fractional) and RFC 3339, stored
//! as microseconds since the epoch.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::keys::Micros;

/// Parse Unix seconds (`1767225600`, `1767225600.25`) or RFC 3339 (`2026-01-01T00:00:00Z`).
/// A bare date (`2026-01-01`) means its midnight UTC.
pub fn parse_time(text: &str) -> Result<Micros, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty time".into());
    }
    if let Ok(secs) = s.parse::<i64>() {
        return secs
            .checked_mul(1_000_000)
            .ok_or_else(|| format!("time '{s}' is out of range"));
    }
    if s.bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+')
    {
        if let Ok(secs) = s.parse::<f64>() {
            let micros = (secs * 1e6).round();
            if micros.is_finite() && micros.abs() < 9.2e18 {
                return Ok(micros as i64);
            }
            return Err(format!("time '{s}' is out of range"));
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc).timestamp_micros());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_micros());
    }
    Err(format!(
        "'{s}' is not a time: expected Unix seconds (e.g. 1767225600 or 1767225600.5) or RFC 3339 (e.g. 2026-01-01T00:00:00Z)"
    ))
}

/// RFC 3339 in UTC, with as many fractional digits as needed.
pub fn format_micros(t: Micros) -> String {
    match DateTime::<Utc>::from_timestamp_micros(t) {
        Some(dt) => dt.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        None => format!("{t}us"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_forms() {
        assert_eq!(parse_time("1767225600").unwrap(), 1_767_225_600_000_000);
        assert_eq!(parse_time("1767225600.5").unwrap(), 1_767_225_600_500_000);
        assert_eq!(
            parse_time("2026-01-01T00:00:00Z").unwrap(),
            1_767_225_600_000_000
        );
        assert_eq!(
            parse_time("2026-01-01T01:00:00+01:00").unwrap(),
            1_767_225_600_000_000
        );
        assert_eq!(parse_time("2026-01-01").unwrap(), 1_767_225_600_000_000);
        assert!(parse_time("yesterday").unwrap_err().contains("yesterday"));
        assert_eq!(format_micros(1_767_225_600_000_000), "2026-01-01T00:00:00Z");
    }
}
