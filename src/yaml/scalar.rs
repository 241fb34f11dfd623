//! A scalar as go-yaml v2 resolves it (its `resolve.go` and `decode.go`), and as
//! sigs.k8s.io/yaml then writes it into JSON: as a value, or as a map key.

use serde_json::Value;
use serde_saphyr::granit_parser::{ScalarStyle, Tag};

use super::tags::{binary, timestamp};

/// What go-yaml v2 makes of a scalar before it becomes JSON.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    /// Above `i64::MAX`: a value, but not a key kubectl takes.
    Uint(u64),
    Float(f64),
    Text(String),
}

/// The core tags (`!!int` or `!<tag:yaml.org,2002:int>`) go-yaml v2 resolves against.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Null,
    Bool,
    Int,
    Float,
    Str,
    Timestamp,
    Binary,
}

/// Each core tag's name.
const KINDS: [(&str, Kind); 7] = [
    ("null", Kind::Null),
    ("bool", Kind::Bool),
    ("int", Kind::Int),
    ("float", Kind::Float),
    ("str", Kind::Str),
    ("timestamp", Kind::Timestamp),
    ("binary", Kind::Binary),
];

impl Kind {
    fn of(tag: &Tag) -> Option<Kind> {
        const CORE: &str = "tag:yaml.org,2002:";
        let full = match tag.handle() {
            "!!" => format!("{CORE}{}", tag.suffix()),
            handle => format!("{handle}{}", tag.suffix()),
        };
        let name = full.strip_prefix(CORE)?;
        KINDS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, kind)| *kind)
    }

    fn name(self) -> String {
        let name = KINDS.iter().find(|(_, kind)| *kind == self);
        format!("!!{}", name.map_or("", |(n, _)| n))
    }
}

/// A scalar: text when quoted or a block and untagged, or under a tag of one's own; `!!binary`
/// decoded; else resolved, and refused where that contradicts its core tag (`!!int x`), as
/// kubectl refuses it. `!!float` takes an integer.
pub(super) fn resolve(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Scalar, String> {
    let wanted = match tag.map(Kind::of) {
        None if style != ScalarStyle::Plain => return Ok(Scalar::Text(text.to_string())),
        None => None,
        Some(None) | Some(Some(Kind::Str)) => return Ok(Scalar::Text(text.to_string())),
        Some(Some(Kind::Binary)) => {
            return binary(text)
                .map(Scalar::Text)
                .ok_or_else(|| "!!binary value contains invalid base64 data".to_string());
        }
        Some(Some(kind)) => Some(kind),
    };
    let timestamps = wanted.is_none_or(|k| k == Kind::Timestamp);
    let (found, scalar) = implicit(text, timestamps);
    match (wanted, scalar) {
        (None, scalar) => Ok(scalar),
        (Some(kind), scalar) if kind == found => Ok(scalar),
        (Some(Kind::Float), Scalar::Int(n)) => Ok(Scalar::Float(n as f64)),
        (Some(kind), _) => Err(format!(
            "cannot decode {} `{text}` as a {}",
            found.name(),
            kind.name()
        )),
    }
}

/// An untagged plain scalar: YAML 1.1's words, then (after a sign or digit) a timestamp (kept
/// as text), Go's integers, YAML's floats and go-yaml's own `0b`; else text.
fn implicit(text: &str, timestamps: bool) -> (Kind, Scalar) {
    let text_of = || (Kind::Str, Scalar::Text(text.to_string()));
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return (Kind::Null, Scalar::Null),
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return (Kind::Bool, Scalar::Bool(true));
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return (Kind::Bool, Scalar::Bool(false));
        }
        ".nan" | ".NaN" | ".NAN" => return (Kind::Float, Scalar::Float(f64::NAN)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return (Kind::Float, Scalar::Float(f64::INFINITY));
        }
        "-.inf" | "-.Inf" | "-.INF" => return (Kind::Float, Scalar::Float(f64::NEG_INFINITY)),
        _ => {}
    }
    if text.starts_with('.') {
        // Go's `ParseFloat` itself, which takes `_` only between digits.
        let b = text.as_bytes();
        let separated = (b.iter().enumerate().filter(|(_, c)| **c == b'_')).all(|(i, _)| {
            b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit)
        });
        let f = separated.then(|| float(&text.replace('_', ""))).flatten();
        return f.map_or_else(text_of, |f| (Kind::Float, Scalar::Float(f)));
    }
    if !text.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '-') {
        return text_of();
    }
    if timestamps && timestamp(text) {
        return (Kind::Timestamp, Scalar::Text(text.to_string()));
    }
    let plain = text.replace('_', "");
    if let Some(n) = go_integer(&plain) {
        return (Kind::Int, n);
    }
    if let Some(f) = float(&plain) {
        return (Kind::Float, Scalar::Float(f));
    }
    // go-yaml v2 reads `0b` itself once Go's own prefixes fail, and Go's binary digits may
    // start with a sign: `0b-101` is -5 (`-0b-1`, `0o+7` and `0x+1F` are text).
    let binary = if let Some(digits) = plain.strip_prefix("0b") {
        (i64::from_str_radix(digits, 2).ok().map(Scalar::Int))
            .or_else(|| unsigned(digits, 2).map(Scalar::Uint))
    } else if let Some(digits) = plain.strip_prefix("-0b") {
        i64::from_str_radix(&format!("-{digits}"), 2)
            .ok()
            .map(Scalar::Int)
    } else {
        None
    };
    binary.map_or_else(text_of, |n| (Kind::Int, n))
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint`: a sign (not for the second), then `0x`,
/// `0o`, `0b`, or `0` for octal, and digits.
fn go_integer(s: &str) -> Option<Scalar> {
    let (negative, body) = match s.strip_prefix('-') {
        Some(body) => (true, body),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (radix, digits) = match body.get(..2) {
        Some("0x" | "0X") => (16, &body[2..]),
        Some("0o" | "0O") => (8, &body[2..]),
        Some("0b" | "0B") => (2, &body[2..]),
        _ if body.len() > 1 && body.starts_with('0') => (8, &body[1..]),
        _ => (10, body),
    };
    let n = unsigned(digits, radix)?;
    if negative {
        let n = i64::try_from(-i128::from(n)).ok()?;
        return Some(Scalar::Int(n));
    }
    match i64::try_from(n) {
        Ok(n) => Some(Scalar::Int(n)),
        Err(_) if !s.starts_with('+') => Some(Scalar::Uint(n)),
        Err(_) => None,
    }
}

/// Digits only (Rust would take a sign here, Go's `ParseUint` does not).
fn unsigned(digits: &str, radix: u32) -> Option<u64> {
    let bare = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_alphanumeric());
    bare.then(|| u64::from_str_radix(digits, radix).ok())
        .flatten()
}

/// What libyaml (and so kubectl) refuses in a double-quoted scalar's source and the parser takes
/// from YAML 1.2: the escape `\/`, and a `\u` escape of a UTF-16 surrogate (a pair included).
pub(super) fn yaml_1_1_escapes(source: &str) -> Result<(), String> {
    let mut chars = source.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            continue;
        }
        // The escaped character is taken with its backslash: `\\/` is a backslash and a slash.
        match chars.next() {
            Some('/') => {
                return Err("found unknown escape character \\/ (YAML 1.2's, not 1.1's)".into());
            }
            Some('u') => {
                let hex: String = chars.clone().take(4).collect();
                if u32::from_str_radix(&hex, 16).is_ok_and(|c| (0xD800..0xE000).contains(&c)) {
                    return Err(format!(
                        "found invalid Unicode character escape code \\u{hex}"
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A float as go-yaml v2 reads one: its pattern,
/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`, is what Rust's own parser takes
/// but for `inf` and `nan` (with a sign here), and Go refuses a float out of range, which stays
/// text: so, a finite float Rust reads.
fn float(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

impl Scalar {
    /// As a value: what `kubectl` sends. A number JSON cannot carry (`.inf`) is refused.
    pub(super) fn value(self, text: &str) -> Result<Value, String> {
        Ok(match self {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => Value::Bool(b),
            Scalar::Int(n) => Value::from(n),
            Scalar::Uint(n) => sent(n as f64),
            Scalar::Float(f) if f.is_finite() => sent(f),
            Scalar::Float(_) => return Err(format!("{text} is not a number JSON can carry")),
            Scalar::Text(s) => Value::String(s),
        })
    }

    /// As a map key, which sigs.k8s.io/yaml turns into text: a float as Go's
    /// `FormatFloat(f, 'g', -1, 32)` writes it (`1.5`, `1e+06`, `.inf`); no null or `uint64`.
    pub(super) fn key(&self, text: &str) -> Result<String, String> {
        Ok(match self {
            Scalar::Text(s) => s.clone(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(n) => n.to_string(),
            Scalar::Float(f) => float_key(*f),
            Scalar::Null | Scalar::Uint(_) => {
                return Err(format!("{text:?} is not a map key kubectl takes"));
            }
        })
    }
}

fn float_key(f: f64) -> String {
    let f = f as f32;
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    let shortest = format!("{f:e}");
    let (mantissa, exponent) = shortest.split_once('e').unwrap_or((&shortest, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..6).contains(&exponent) {
        format!("{f}")
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

/// A float as `kubectl` sends it: beyond an `int64`, an integer is one too (its unstructured
/// objects hold nothing else), and Go's JSON writes one with no fraction in full below 1e21,
/// which reads back as an integer where one can hold it (`-0` as `0`).
fn sent(f: f64) -> Value {
    if f == 0.0 {
        Value::from(0)
    } else if f.fract() == 0.0 && f.abs() < 1e21 {
        serde_json::from_str(&format!("{f}")).unwrap_or(Value::from(f))
    } else {
        Value::from(f)
    }
}
