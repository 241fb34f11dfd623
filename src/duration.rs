//! Durations as people write them in flags, chart values and specs: `300`, `300s`, `5m`, `1h`,
//! `30d`.

use std::time::Duration;

/// Parses a whole number of seconds, minutes, hours or days; errors say what was wrong.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(omkc::duration::parse("90d"), Ok(Duration::from_secs(90 * 86400)));
/// assert!(omkc::duration::parse("5 minutes").unwrap_err().contains("unit"));
/// ```
pub fn parse(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let (digits, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len()));
    if digits.is_empty() {
        return Err(format!(
            "{raw:?} does not start with a number (write e.g. 300s, 5m, 1h or 30d)"
        ));
    }
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{raw:?}: the number is too large"))?;
    let unit_secs = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        other => {
            return Err(format!(
                "{raw:?}: unknown unit {other:?} (use s, m, h or d, with no space)"
            ));
        }
    };
    n.checked_mul(unit_secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{raw:?}: the number is too large"))
}

/// [`parse`], refusing durations shorter than `min`.
pub fn parse_at_least(raw: &str, min: Duration) -> Result<Duration, String> {
    let d = parse(raw)?;
    if d < min {
        return Err(format!(
            "{:?} is too short: at least {}",
            raw.trim(),
            format(min)
        ));
    }
    Ok(d)
}

/// Writes a duration back in the largest unit that divides it: `90d`, `36h`, `5m`, `45s`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(omkc::duration::format(Duration::from_secs(720 * 3600)), "30d");
/// ```
pub fn format(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0s".into(),
        s if s % 86400 == 0 => format!("{}d", s / 86400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_and_every_mistake_is_named() {
        assert_eq!(parse("300"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("45s"), Ok(Duration::from_secs(45)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse(" 2d "), Ok(Duration::from_secs(172800)));
        for (raw, says) in [
            ("5 m", "unknown unit \" m\""),
            ("5w", "use s, m, h or d"),
            ("m", "does not start with a number"),
            ("", "does not start with a number"),
            ("99999999999999999999d", "too large"),
        ] {
            let error = parse(raw).unwrap_err();
            assert!(error.contains(says), "{raw:?}: {error}");
        }
        for raw in ["90d", "36h", "5m", "45s", "0s"] {
            assert_eq!(format(parse(raw).unwrap()), raw);
        }
        assert!(
            parse_at_least("2s", Duration::from_secs(10))
                .unwrap_err()
                .contains("too short: at least 10s")
        );
        // Said in the unit people write, as the docs say it.
        assert_eq!(
            parse_at_least("10m", Duration::from_secs(3600)).unwrap_err(),
            "\"10m\" is too short: at least 1h"
        );
    }
}
