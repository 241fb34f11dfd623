//! `plan` reads a manifest as `kubectl` reads it (YAML 1.1's scalars: `src/yaml/`), held to
//! a real `kubectl`.

use std::process::{Command, Stdio};

use serde_json::Value;

use super::{EXAMPLE, file, run};

/// Where YAML 1.1 (kubectl, Helm) and YAML 1.2 part ways, and the forms around them: words,
/// integers in each base, Go's integer and float edges, keys that are not text, a key given twice
/// (the last wins), anchors, merges.
const CORPUS: &str = r#"apiVersion: v1
kind: Probe
metadata: {name: probe}
words: [yes, Yes, YES, no, on, OFF, y, N, true, False, ~, null, Null, "", '', "yes", 'on', yess, onn]
numbers: [010, 08, 0o17, 0O17, 0x1F, 0X1f, 0b101, -0b101, 1_000, +12, -0, 0, .5, +.5, -.5, 1., 1e3,
  12e+3, 0.1e-2, 1.0, 1_0.5, 0x, 0b2, 0o8, 1e, "010", 1:20, 1.5.2, 0x_1F]
edges: [9223372036854775807, 9223372036854775808, -9223372036854775808, -9223372036854775809,
  18446744073709551615, 18446744073709551616, 1e21, 1e300, 123456789012345678901234, 1e-7]
text: [2024-01-02, 2001-12-14t21:59:43.10-05:00, 12:30, +, ., .a, !!str 5, !!str yes]
tagged: [!!int 5, !!int "7", !!float 1, !!float "2.5", !!bool yes, !!null ~, !!int 010,
  !<tag:yaml.org,2002:int> 9, !<tag:yaml.org,2002:str> 9, !<tag:example.com,2000:int> 9]
near: [0x+1F, +inf, -Infinity, 1.e5, 1.5e, +nan, .e5, 1e+, 1e-5x, 0o+7, -.e5, 1.0e+3, 0b+1,
  0b-101, -0b-1, -0b+1, 0b+2, 0B+1]
blocks:
  - |
    on
  - >
    no
keys: {y: 1, n: 2, on: 3, 1: 4, 1.5: 5, 010: 6, ~x: 7}
repeated: {a: 1, a: 2, b: 3}
repeated_block:
  a: 1
  b: 2
  a: 3
base: &base {a: 1, b: 2}
merged:
  a: 9
  <<: [*base, {a: 3, c: 4}]
  d: *base
"#;

/// What `kubectl` sends for `text`: the objects as `kubectl annotate --local` prints them, which
/// reads the file as `apply` does and needs no cluster; without the annotation it adds.
pub(super) fn as_kubectl_reads(kubectl: &str, text: &str) -> Result<Vec<Value>, String> {
    let path = file("probe.yaml", text);
    let out =
        (Command::new(kubectl).args(["annotate", "--local", "-f", &path, "omkc.dev/probe=x"]))
            .args(["-o", "json"])
            .env("KUBECONFIG", "/dev/null")
            .stdin(Stdio::null())
            .output()
            .unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let stream = serde_json::Deserializer::from_slice(&out.stdout).into_iter::<Value>();
    let mut objects: Vec<Value> = stream.map(Result::unwrap).collect();
    for object in &mut objects {
        let metadata = object["metadata"].as_object_mut().unwrap();
        let annotations = metadata["annotations"].as_object_mut().unwrap();
        annotations.remove("omkc.dev/probe");
        if annotations.is_empty() {
            metadata.remove("annotations");
        }
    }
    Ok(objects)
}

#[test]
#[ignore = "needs kubectl: OMKC_TEST_KUBECTL (tests/kubernetes/cluster.sh test sets it)"]
fn plan_reads_yaml_as_kubectl_does_real_kubernetes() {
    let kubectl = std::env::var("OMKC_TEST_KUBECTL").expect("OMKC_TEST_KUBECTL names a kubectl");
    let theirs = as_kubectl_reads(&kubectl, CORPUS).unwrap().remove(0);
    let ours = omkc::yaml::documents(CORPUS).unwrap();
    assert_eq!(ours.len(), 1);
    for (field, value) in theirs.as_object().unwrap() {
        assert_eq!(&ours[0][field], value, "{field}");
    }
    assert_eq!(ours[0], theirs);
    // And every example and fixture kubectl takes as objects, each document.
    let mut compared = 0;
    for dir in ["examples", "tests/fixtures"] {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        for path in std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()) {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Ok(theirs) = as_kubectl_reads(&kubectl, &text) else {
                continue;
            };
            let ours = omkc::yaml::documents(&text).unwrap();
            let ours: Vec<_> = ours.into_iter().filter(|d| !d.is_null()).collect();
            assert_eq!(ours, theirs, "{}", path.display());
            compared += 1;
        }
    }
    assert!(compared >= 8, "{compared} files compared");
    // What JSON cannot carry, both refuse.
    let infinite = "apiVersion: v1\nkind: Probe\nmetadata: {name: p}\nx: .inf\n";
    let refused = as_kubectl_reads(&kubectl, infinite).unwrap_err();
    assert!(refused.contains("unsupported value: +Inf"), "{refused}");
    omkc::yaml::documents(infinite).unwrap_err();
}

/// As kubectl would: an unquoted `no` is a boolean where one is wanted, and refused where text is.
#[tokio::test]
async fn plan_takes_yaml_1_1_booleans_as_kubectl_does() {
    let example = std::fs::read_to_string(EXAMPLE).unwrap();
    let no = example.replace(
        "    clientId: open-metadata",
        "    clientId: open-metadata\n    implicitFlowEnabled: no",
    );
    assert_ne!(no, example);
    run(&["plan", "-f", &file("no.yaml", &no)], &[])
        .await
        .says(0, &["implicitFlowEnabled: false"]);
    let on = example.replace("realm: data-sec", "realm: on");
    run(&["plan", "-f", &file("on.yaml", &on)], &[])
        .await
        .says(1, &["spec.keycloak.realm: expected string, got boolean"]);
    let quoted = example.replace("realm: data-sec", "realm: 'on'");
    run(&["plan", "-f", &file("quoted.yaml", &quoted)], &[])
        .await
        .says(0, &["realm \"on\""]);
}
