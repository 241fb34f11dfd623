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

/// One document's `a`, or why it was refused.
fn a(text: &str) -> Result<Value, String> {
    documents(&format!("a: {text}\n")).map(|mut docs| docs.remove(0)["a"].take())
}

/// A core tag must agree with what its scalar resolves to, or kubectl refuses the file; `!!float`
/// takes an integer, `!!binary` is decoded, a tag of one's own leaves text. What kubectl 1.37
/// sends (`kubectl annotate --local -o json`), or the start of its refusal.
#[test]
fn a_core_tag_must_agree_with_its_scalar_as_kubectl_requires() {
    for (text, sent) in [
        ("!!float 1", json!(1)),
        ("!!null \"\"", json!(null)),
        ("!!str", json!("")),
        ("!custom ~", json!("~")),
        ("! yes", json!("yes")),
        ("!!timestamp 2024-02-29", json!("2024-02-29")),
        ("!!timestamp 2024-2-9 1:2:3.5", json!("2024-2-9 1:2:3.5")),
        (
            "!!timestamp 2024-02-09t01:02:03.1+05:30",
            json!("2024-02-09t01:02:03.1+05:30"),
        ),
        ("!!timestamp 2024-01-31", json!("2024-01-31")),
        ("!!timestamp 2024-1-2 23:59:59", json!("2024-1-2 23:59:59")),
        (
            "!!timestamp 2023-12-31 0:0:0,123",
            json!("2023-12-31 0:0:0,123"),
        ),
        ("!!binary aGVsbG8=", json!("hello")),
        ("!!binary |\n  aGVs\n  bG8=", json!("hello")),
        ("!!binary /w==", json!("\u{FFFD}")),
        ("!!binary 8J+YgA==", json!("\u{1F600}")),
        ("!!binary 8J+Y", json!("\u{FFFD}\u{FFFD}\u{FFFD}")),
        ("!!binary \"\"", json!("")),
    ] {
        assert_eq!(a(text), Ok(sent), "{text}");
    }
    for (text, refused) in [
        ("!!int x", "cannot decode !!str `x` as a !!int"),
        ("!!int", "cannot decode !!null `` as a !!int"),
        ("!!float \"\"", "cannot decode !!null `` as a !!float"),
        ("!!int 1.0", "cannot decode !!float `1.0` as a !!int"),
        ("!!bool 1", "cannot decode !!int `1` as a !!bool"),
        ("!!null \"0\"", "cannot decode !!int `0` as a !!null"),
        (
            "!!float 18446744073709551615",
            "cannot decode !!int `18446744073709551615`",
        ),
        (
            "!!timestamp 12",
            "cannot decode !!int `12` as a !!timestamp",
        ),
        (
            "!!timestamp 2023-02-29",
            "cannot decode !!str `2023-02-29` as a !!timestamp",
        ),
        ("!!timestamp 2024-2-9T1:2:3", "cannot decode !!str"),
        ("!!timestamp 2024-1-2 24:0:0", "cannot decode !!str"),
        ("!!timestamp 2024-1-2 1:60:0", "cannot decode !!str"),
        ("!!timestamp 2024-1-2 1:0:60", "cannot decode !!str"),
        ("!!timestamp 2024-1-2 1:2:3.", "cannot decode !!str"),
        ("!!timestamp 2024-011-01", "cannot decode !!str"),
        ("!!timestamp 20245-01-01", "cannot decode !!str"),
        ("!!timestamp 2024-04-31", "cannot decode !!str"),
        ("!!timestamp 2024-02-30", "cannot decode !!str"),
        ("!!timestamp 2024-1-2T3:4:5abcdef", "cannot decode !!str"),
        ("!!timestamp 2024-1-2T3:4:5+0530", "cannot decode !!str"),
        ("!!timestamp 2024-1-2T3:4:5+05:30x", "cannot decode !!str"),
        ("!!timestamp 2024-1-2T3:4:5+0é30", "cannot decode !!str"),
        (
            "!!binary aGVsbG8",
            "!!binary value contains invalid base64 data",
        ),
        (
            "!!binary a===",
            "!!binary value contains invalid base64 data",
        ),
        (
            "!!binary YQ==YQ==",
            "!!binary value contains invalid base64 data",
        ),
    ] {
        let error = a(text).unwrap_err();
        assert!(error.contains(refused), "{text}: {error}");
    }
}

/// A float beyond Go's range stays text, `-0.0` is `0`, and after a leading `.` an `_` is taken
/// only between digits (as Go's `ParseFloat`; elsewhere go-yaml drops each); kubectl 1.37's
/// answers.
#[test]
fn numbers_go_cannot_hold_are_text_as_in_kubectl() {
    let sent = a(
        "[1e400, 1e-400, -0.0, .5e400, -1e400, ._0, .5_0, .5__0, .5e1_0, 1__0, 0x_1F, \
                  +18446744073709551615, .5_, .5_e1, 0B101, -0B101, 1., 1.e5, +1.5E+3]",
    );
    assert_eq!(
        sent,
        Ok(json!([
            "1e400",
            0,
            0,
            ".5e400",
            "-1e400",
            "._0",
            0.5,
            ".5__0",
            5000000000_i64,
            10,
            31,
            18446744073709551615.0,
            ".5_",
            ".5_e1",
            5,
            -5,
            1,
            100000,
            1500
        ]))
    );
    for refused in [".nan", "-.inf", "+.INF"] {
        let error = a(refused).unwrap_err();
        assert!(error.contains("is not a number JSON can carry"), "{error}");
    }
}

/// sigs.k8s.io/yaml writes a key as text: a float as Go's `FormatFloat(f, 'g', -1, 32)` (the
/// nearest `float32`), infinities and NaN by name; an unsigned 64-bit key or a null one is
/// refused. What kubectl 1.37 sends for each.
#[test]
fn keys_are_written_as_kubectl_writes_them() {
    let keys = "{1.5: a, 0.1: b, 1.23456789: c, 1e3: d, 1e21: e, 1000000.0: g, 123456.0: i, \
                1e-5: j, 0.0001: k, .inf: l, -.inf: m, .nan: n, 9223372036854775807: p, \
                -0.0: s, 16777217.0: t, 0x1F: v, 2024-01-02: w, 1.0: x, 3.5e38: za, 1e-40: zc, \
                9223372036854775808.0: zd, 1e20: ze, !!binary aGVsbG8=: zf, yes: zg, \
                +18446744073709551615: zh}";
    assert_eq!(
        a(keys),
        Ok(
            json!({"1.5": "a", "0.1": "b", "1.2345679": "c", "1000": "d", "1e+21": "e",
            "1e+06": "g", "123456": "i", "1e-05": "j", "0.0001": "k", ".inf": "za", "-.inf": "m",
            ".nan": false, "9223372036854775807": "p", "-0": "s", "1.6777216e+07": "t",
            "31": "v", "2024-01-02": "w", "1": "x", "1e-40": "zc", "9.223372e+18": "zd",
            "1e+20": "ze", "hello": "zf", "true": "zg", "1.8446744e+19": "zh"})
        )
    );
    let error = a("{18446744073709551615: x}").unwrap_err();
    assert!(error.contains("not a map key kubectl takes"), "{error}");
    let error = a("{~: x}").unwrap_err();
    assert!(error.contains("not a map key kubectl takes"), "{error}");
    // Used as a value, the infinity is refused; as a key it was not.
    let error = a("&x .inf\nb: {*x : 1}").unwrap_err();
    assert!(
        error.contains(".inf is not a number JSON can carry"),
        "{error}"
    );
    let keyed = documents("a: {&x .inf : 1, b: {*x : 2}}\n").unwrap();
    assert_eq!(keyed, [json!({"a": {".inf": 1, "b": {".inf": 2}}})]);
}

/// Where libyaml (kubectl's) and the YAML 1.2 parser differ in a double-quoted scalar, and a
/// byte-order mark inside a document.
#[test]
fn escapes_and_marks_are_read_as_kubectl_reads_them() {
    for refused in ["\"\\/\"", "\"a\\\n  \\/\"", "\"\\ud83d\\ude00\""] {
        let error = a(refused).unwrap_err();
        assert!(error.contains("escape"), "{refused}: {error}");
    }
    assert_eq!(a("\"\\\\/\""), Ok(json!("\\/")));
    assert_eq!(
        a("\"\\u00e9\\N\\_\\L\\P\\x80\""),
        Ok(json!("é\u{85}\u{a0}\u{2028}\u{2029}\u{80}"))
    );
    assert_eq!(a("\u{feff}b"), Ok(json!("\u{feff}b")));
}
