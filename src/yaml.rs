//! Manifests read as `kubectl` and Helm read them. Both turn YAML into JSON with go-yaml v2
//! (through sigs.k8s.io/yaml), which resolves a plain scalar by YAML 1.1's rules: unquoted
//! `yes`, `no`, `on`, `off`, `y` and `n` are booleans, `010` is 8 and `0o17`, `0x1F`, `0b101` and
//! `1_000` are integers, where YAML 1.2 reads strings or 10. A key is turned into
//! text (`n:` is the key `false`), a key given twice keeps its last value, `<<` merges a mapping
//! in, and a quoted scalar is always text.
//! The integration test `offline::yaml::plan_reads_yaml_as_kubectl_does…` holds this to
//! `kubectl`. The syntax is granit-parser's (serde-saphyr's, kube's own YAML), stricter than
//! libyaml in corners: a lone `-` as an item of a flow sequence is refused, not text.

use std::collections::HashMap;

use serde_json::{Map, Value};
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, Tag};

/// Every document of `text` (JSON is YAML too), as `kubectl` would send it; an empty document is
/// `null`.
pub fn documents(text: &str) -> Result<Vec<Value>, String> {
    let mut reader = Reader::default();
    for event in Parser::new_from_str(text) {
        let document = reader.docs.len() + 1;
        let (event, span) =
            event.map_err(|e| format!("document {document}: not YAML or JSON: {e}"))?;
        reader.read(event).map_err(|e| {
            let (line, column) = (span.start.line(), span.start.col() + 1);
            format!("document {document}: line {line} column {column}: {e}")
        })?;
    }
    Ok(reader.docs)
}

/// A mapping or sequence being read: its anchor, and for a mapping the key waiting for a value.
enum Open {
    Sequence(usize, Vec<Value>),
    Mapping(usize, Map<String, Value>, Option<Key>),
}

enum Key {
    Text(String),
    /// `<<`: the value (a mapping, or a sequence of them) is merged in.
    Merge,
}

#[derive(Default)]
struct Reader {
    docs: Vec<Value>,
    open: Vec<Open>,
    anchors: HashMap<usize, Value>,
}

impl Reader {
    fn read(&mut self, event: Event) -> Result<(), String> {
        let (anchor, value) = match event {
            Event::SequenceStart(_, anchor, _) => {
                self.open.push(Open::Sequence(anchor, Vec::new()));
                return Ok(());
            }
            Event::MappingStart(_, anchor, _) => {
                self.open.push(Open::Mapping(anchor, Map::new(), None));
                return Ok(());
            }
            Event::SequenceEnd | Event::MappingEnd => match self.open.pop() {
                Some(Open::Sequence(anchor, items)) => (anchor, Value::Array(items)),
                Some(Open::Mapping(anchor, map, _)) => (anchor, Value::Object(map)),
                None => return Ok(()),
            },
            Event::Alias(anchor) => match self.anchors.get(&anchor) {
                Some(value) => (0, value.clone()),
                None => return Err(format!("unknown alias {anchor}")),
            },
            Event::Scalar(text, style, anchor, tag) => {
                let merge = style == ScalarStyle::Plain && text == "<<" && tag.is_none();
                if merge && let Some(Open::Mapping(_, _, key @ None)) = self.open.last_mut() {
                    *key = Some(Key::Merge);
                    return Ok(());
                }
                (anchor, scalar(&text, style, tag.as_deref())?)
            }
            _ => return Ok(()),
        };
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
        self.place(value)
    }

    /// A whole node read: an item, a key, a key's value, or a document.
    fn place(&mut self, value: Value) -> Result<(), String> {
        match self.open.last_mut() {
            None => self.docs.push(value),
            Some(Open::Sequence(_, items)) => items.push(value),
            Some(Open::Mapping(_, map, key)) => match key.take() {
                None => *key = Some(Key::Text(key_text(value)?)),
                Some(Key::Text(k)) => {
                    map.insert(k, value);
                }
                // go-yaml v2 merges in place, the earlier of several mappings winning.
                Some(Key::Merge) => {
                    let merged = match value {
                        Value::Array(items) => items.into_iter().rev().collect(),
                        one => vec![one],
                    };
                    for m in merged {
                        let Value::Object(m) = m else {
                            return Err("<< merges only mappings".into());
                        };
                        map.extend(m);
                    }
                }
            },
        }
        Ok(())
    }
}

/// A map key as sigs.k8s.io/yaml writes it into JSON.
fn key_text(key: Value) -> Result<String, String> {
    match key {
        Value::String(s) => Ok(s),
        Value::Bool(_) | Value::Number(_) => Ok(key.to_string()),
        other => Err(format!("a map key must be a scalar, not {other}")),
    }
}

/// Whether `tag` is YAML's core `tag:yaml.org,2002:<name>`, written `!!<name>` or verbatim.
fn is_core(tag: &Tag, name: &str) -> bool {
    const CORE: &str = "tag:yaml.org,2002:";
    let full = match tag.handle() {
        "!!" => format!("{CORE}{}", tag.suffix()),
        handle => format!("{handle}{}", tag.suffix()),
    };
    full.strip_prefix(CORE) == Some(name)
}

/// A scalar's value: text when quoted, a block or tagged `!!str`; else resolved as go-yaml v2
/// resolves it.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    let typed = tag.is_some_and(|t| {
        ["int", "float", "bool", "null"]
            .iter()
            .any(|s| is_core(t, s))
    });
    if (style != ScalarStyle::Plain || tag.is_some()) && !typed {
        return Ok(Value::String(text.to_string()));
    }
    Ok(match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Value::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Value::Bool(false)
        }
        _ if matches!(
            text.trim_start_matches(['+', '-']),
            ".inf" | ".Inf" | ".INF"
        ) && text.len() <= 5
            || matches!(text, ".nan" | ".NaN" | ".NAN") =>
        {
            return Err(format!("{text} is not a number JSON can carry"));
        }
        _ => number(text).unwrap_or_else(|| Value::String(text.to_string())),
    })
}

/// A plain scalar that starts as a number does: an integer as Go's `strconv.ParseInt(s, 0, 64)`
/// (or `ParseUint`) reads it once `_` is dropped (`0x`, `0o`, `0b` and a leading `0` for
/// octal), or a float of YAML's form; then as `kubectl` passes it on ([`sent`]).
fn number(text: &str) -> Option<Value> {
    if !text.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.')) {
        return None;
    }
    let plain = text.replace('_', "");
    // go-yaml v2 reads `0b` itself once Go's own prefixes fail, and Go's binary digits may
    // start with a sign: `0b-101` is -5 (`-0b-101`, `0o+7` and `0x+1F` are text).
    if let Some(signed) = plain
        .strip_prefix("0b")
        .filter(|d| d.starts_with(['+', '-']))
    {
        return i64::from_str_radix(signed, 2).ok().map(Value::from);
    }
    let (negative, body) = match plain.strip_prefix('-') {
        Some(body) => (true, body),
        None => (false, plain.strip_prefix('+').unwrap_or(&plain)),
    };
    let (radix, digits) = match body.get(..2) {
        Some("0x" | "0X") => (16, &body[2..]),
        Some("0o" | "0O") => (8, &body[2..]),
        Some("0b" | "0B") => (2, &body[2..]),
        _ if body.len() > 1 && body.starts_with('0') => (8, &body[1..]),
        _ => (10, body),
    };
    let whole = (!text.starts_with('.') && digits.chars().all(|c| c.is_ascii_alphanumeric()))
        .then(|| u64::from_str_radix(digits, radix).ok())
        .flatten()
        .filter(|n| !negative || *n <= i64::MIN.unsigned_abs());
    if let Some(n) = whole {
        let n = if negative {
            -i128::from(n)
        } else {
            i128::from(n)
        };
        return Some(i64::try_from(n).map_or_else(|_| sent(n as f64), Value::from));
    }
    // `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`, as go-yaml v2 says it (a scalar
    // starting with `.` needs only to parse).
    let (mantissa, exponent) = body
        .split_once(['e', 'E'])
        .map_or((body, None), |(m, e)| (m, Some(e)));
    let (int, fraction) = mantissa
        .split_once('.')
        .map_or((mantissa, None), |(i, f)| (i, Some(f)));
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let yaml_float = (digits(int) && fraction.is_none_or(|f| f.is_empty() || digits(f))
        || int.is_empty() && fraction.is_some_and(digits))
        && exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    let f = plain
        .parse::<f64>()
        .ok()
        .filter(|_| yaml_float || text.starts_with('.'))?;
    Some(sent(f))
}

/// A float as `kubectl` sends it: beyond an `int64`, an integer is one too (its unstructured
/// objects hold nothing else), and Go's JSON writes one with no fraction in full below 1e21,
/// which reads back as an integer where one can hold it.
fn sent(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 1e21 {
        serde_json::from_str(&format!("{f}")).unwrap_or(Value::from(f))
    } else {
        Value::from(f)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_plain_scalar_is_read_as_yaml_1_1_and_a_quoted_one_as_text() {
        let text = "a: yes\nb: 'yes'\nc: on\nd: 010\ne: 0x1F\nf: 1_000\ng: 0o17\nh: 1e3\ni: .5\n\
                    j: 08\nk: ~\nl: 2024-01-02\nm: y\nn: 1\no: +12\np: 0b101\nq: -0b101\nr: !!str 5\n\
                    s: NO\nt: 1.0\nu: \"010\"\nv: |\n  on\nw: 1.5.2\nx: 0x\n";
        let docs = documents(text).unwrap();
        assert_eq!(
            docs,
            [
                json!({"a": true, "b": "yes", "c": true, "d": 8, "e": 31, "f": 1000, "g": 15,
                    "h": 1000, "i": 0.5, "j": 8, "k": null, "l": "2024-01-02", "m": true,
                    "false": 1, "o": 12, "p": 5, "q": -5, "r": "5", "s": false, "t": 1,
                    "u": "010", "v": "on\n", "w": "1.5.2", "x": "0x"})
            ]
        );
    }

    /// Tagged scalars and forms that look like numbers but are not YAML's, with what kubectl
    /// 1.37 sends for each (`kubectl annotate --local -o json`).
    #[test]
    fn tags_and_near_numbers_are_read_as_kubectl_reads_them() {
        let text = "tagged: [!!int 5, !!int \"7\", !!float 1, !!float \"2.5\", !!bool yes, \
                    !!null ~, !!int 010, !<tag:yaml.org,2002:int> 9, !<tag:yaml.org,2002:str> 9, \
                    !<tag:example.com,2000:int> 9]\n\
                    odd: [0x+1F, +inf, -Infinity, 1.e5, 1.5e, +nan, .e5, 1e+, 1e-5x, 0o+7, \
                    -.e5, 1.0e+3, 0b+1, 0b-101, -0b-1, -0b+1, 0b+2, 0B+1]\n";
        assert_eq!(
            documents(text).unwrap(),
            [json!({
                "tagged": [5, 7, 1, 2.5, true, null, 8, 9, "9", "9"],
                "odd": ["0x+1F", "+inf", "-Infinity", 100000, "1.5e", "+nan", ".e5", "1e+",
                    "1e-5x", "0o+7", "-.e5", 1000, 1, -5, "-0b-1", "-0b+1", "0b+2", "0B+1"]
            })]
        );
        // An anchor is the document's own: a later document cannot name it (the parser says so).
        let refused = documents("a: &x 1\n---\nb: *x\n").unwrap_err();
        assert!(refused.contains("unknown anchor"), "{refused}");
    }

    #[test]
    fn documents_anchors_and_merges_are_read_as_kubectl_reads_them() {
        // An explicit key before `<<` is overwritten, and `y` is `true` (kubectl 1.37 agrees).
        let text = "base: &b {x: 1, y: 2}\nall:\n  x: 9\n  <<: [*b, {x: 3, z: 4}]\n  w: 0\n---\n---\n[1, \"two\"]\n";
        let docs = documents(text).unwrap();
        assert_eq!(
            docs,
            [
                json!({"base": {"x": 1, "true": 2}, "all": {"x": 1, "true": 2, "z": 4, "w": 0}}),
                Value::Null,
                json!([1, "two"])
            ]
        );
        let repeated = documents("a: 1\nb: 2\na: 3\n").unwrap();
        assert_eq!(
            repeated,
            [json!({"a": 3, "b": 2})],
            "the last value, as kubectl"
        );
        let refused = documents("a: 1\n---\nb: [1\n").unwrap_err();
        assert!(
            refused.starts_with("document 2: not YAML or JSON: "),
            "{refused}"
        );
        let refused = documents("a: .inf\n").unwrap_err();
        assert_eq!(
            refused,
            "document 1: line 1 column 4: .inf is not a number JSON can carry"
        );
        let refused = documents("? [1]\n: x\n").unwrap_err();
        assert!(refused.contains("a map key must be a scalar"), "{refused}");
    }
}
