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
            return seconds_to_micros(secs).ok_or_else(|| format!("time '{s}' is out of range"));
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

/// Seconds (fractional, e.g. a duration or Unix seconds) as whole microseconds, or `None` when
/// the value is not finite or its microseconds do not fit an `i64`.
pub fn seconds_to_micros(seconds: f64) -> Option<Micros> {
    let micros = (seconds * 1e6).round();
    // `i64::MAX as f64` rounds up to 2^63, itself out of range: hence `<` there.
    (micros.is_finite() && micros >= i64::MIN as f64 && micros < i64::MAX as f64)
        .then_some(micros as i64)
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

    #[test]
    fn out_of_range_times_are_errors_not_wraps() {
        for text in ["9223372036855", "-9223372036855", "9223372036854.9"] {
            let err = parse_time(text).unwrap_err();
            assert!(err.contains(text) && err.contains("out of range"), "{err}");
        }
        assert_eq!(
            parse_time("9223372036854").unwrap(),
            9_223_372_036_854_000_000
        );
        assert_eq!(seconds_to_micros(f64::NAN), None);
        assert_eq!(seconds_to_micros(f64::INFINITY), None);
        assert_eq!(seconds_to_micros(9.3e12), None);
        assert_eq!(seconds_to_micros(-0.5), Some(-500_000));
    }
}
