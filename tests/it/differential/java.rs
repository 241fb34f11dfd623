//! The operator's reading of `java.net.URI` (`omkc::validate::java_uri`), held to the JDK that
//! Keycloak runs on.

use std::{
    io::Write,
    process::{Command, Stdio},
};

/// 20,000 random strings of URI parts, the characters `url` and Java read differently among
/// them (spaces, `|`, `^`, brackets, braces, `%` escapes good and bad, visible and invisible
/// non-ASCII, IPv6 literals with zones, ports past an int), each parsed by `java_uri::parse`
/// and by `new java.net.URI` in one `java` run: the two must agree on every one (refused, or
/// the same scheme and fragment). `OMKC_TEST_URI_SEED` picks another seed.
#[test]
#[ignore = "needs a JDK: OMKC_TEST_KEYCLOAK_JAVA (tests/keycloak/keycloak.sh check sets it)"]
fn java_uri_parses_as_the_jdk_of_real_keycloak() {
    let java =
        std::env::var("OMKC_TEST_KEYCLOAK_JAVA").expect("OMKC_TEST_KEYCLOAK_JAVA names java");
    let seed = std::env::var("OMKC_TEST_URI_SEED").map_or(11, |s| s.parse().unwrap());
    let mut random = fastrand::Rng::with_seed(seed);
    let atoms = [
        "a",
        "Z",
        "0",
        "9",
        "-",
        ".",
        "_",
        "~",
        "!",
        "$",
        "&",
        "'",
        "(",
        ")",
        "*",
        "+",
        ",",
        ";",
        "=",
        ":",
        "@",
        "/",
        "?",
        "#",
        "[",
        "]",
        "%",
        "|",
        "^",
        "{",
        "}",
        "\\",
        "\"",
        "<",
        ">",
        " ",
        "`",
        "%41",
        "%zz",
        "%4",
        "é",
        "\u{a0}",
        "\u{2028}",
        "\u{3000}",
        "😀",
        "\u{85}",
        "\u{200b}",
        "::",
        "[::1]",
        "[::ffff:1.2.3.4]",
        "[1:2:3:4:5:6:7:8]",
        "[1::2::3]",
        "[::1%eth0]",
        "[fe80::1%25]",
        "http://",
        "https://",
        "HTTPS://",
        "javascript:",
        "data:",
        "urn:x:",
        "//",
        "127.0.0.1",
        "256.1.1.1",
        "x.com",
        ":8080",
        ":99999999999",
        "u@",
        "/cb",
        "..",
        "?q=1",
        "#f",
        "0001.2.3.4",
    ];
    let prefixes = [
        "https://h",
        "http://",
        "https://[",
        "x:",
        "/",
        "",
        "https://h/p",
    ];
    let inputs: Vec<String> = (0..20_000)
        .map(|_| {
            let prefix = if random.bool() {
                prefixes[random.usize(..prefixes.len())]
            } else {
                ""
            };
            let body: String = (0..random.usize(1..9))
                .map(|_| atoms[random.usize(..atoms.len())])
                .collect();
            format!("{prefix}{body}")
        })
        .collect();
    let mut child = Command::new(&java)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/JavaUri.java"
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{java}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let text = inputs.join("\n") + "\n";
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()).unwrap());
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(output.status.success(), "{java} failed");
    let answers: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(answers.len(), inputs.len(), "one answer per line");
    let ours = |s: &str| match omkc::validate::java_uri::parse(s) {
        Ok(u) => format!("ok {} {}", u.scheme.unwrap_or_default(), u.fragment),
        Err(_) => "refused".to_string(),
    };
    let differences: Vec<String> = (inputs.iter().zip(&answers))
        .filter(|(input, theirs)| ours(input) != **theirs)
        .map(|(input, theirs)| format!("{input:?}: Java {theirs}, ours {}", ours(input)))
        .collect();
    assert!(
        differences.is_empty(),
        "seed {seed}: {} of 20,000 differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
    // Neither side may pass by refusing everything, or nothing.
    let parsed = answers.iter().filter(|a| a.starts_with("ok")).count();
    assert!(
        (2_000..=18_000).contains(&parsed),
        "seed {seed}: {parsed} parsed"
    );
}
