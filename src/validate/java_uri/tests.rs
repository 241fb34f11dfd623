use super::*;

/// What `new java.net.URI(s)` says (Java 25 and 17 agree on each): the scheme and whether a
/// fragment is there, or a refusal. The parser was also held to both JDKs on 400,000 random
/// URIs (docs/contributors/testing.md); `java_uri_parses_as_the_jdk_of_real_keycloak` does so
/// on every CI run.
#[test]
fn parses_as_java_net_uri() {
    let ok = |s: &str, scheme: Option<&str>, fragment: bool| {
        let want = JavaUri {
            scheme: scheme.map(str::to_string),
            fragment,
        };
        assert_eq!(parse(s), Ok(want), "{s:?}");
    };
    for s in [
        "https://x/cb",
        "https://x/%41",
        "https://héllo.example/é",
        "https://x/😀",
        "https://a_b.example/",
        "https://[::1]:8443/",
        "https://[::1%eth0]/",
        "https://[::ffff:1.2.3.4]/",
        "https://[::ffff:1.2.3.004]/",
        "https://[1:2:3:4:5:6:7:8]/",
        "https://u@[::1]/",
        "https://x:99999/",
        // Not a server (the port passes an int): a registry name.
        "https://x:99999999999/",
        "https:///x",
        "https://x/?a[b]",
    ] {
        ok(s, Some("https"), false);
    }
    ok("javascript:alert(1)", Some("javascript"), false);
    ok("#f", None, true);
    ok("https://x/#", Some("https"), true);
    for s in ["*", "+", "", "/cb"] {
        ok(s, None, false);
    }
    for s in [
        "https://x/a b",
        "https://x/a|b",
        "https://x/a^b",
        "https://x/a[b",
        "https://x/%zz",
        "https://x/%4",
        "https://x/\u{a0}",
        "https://x/\u{2028}",
        "https://x/\u{85}",
        "https://a{b/",
        "https://[1::2::3]/",
        "https://[::1%]/",
        "https://[::1]:x/",
        "https://[::ffff:1.2.3.256]/",
        "https://[1:2:3:4:5:6:7::8]/",
        "https://[1:2:3:4:5:6:7]/",
        "https://[12345::1]/",
        "https://u[@h/",
        "https://[::1]:99999999999/",
        "https://",
        "https:",
        "1a:b",
        "https://x/#a b",
        "/a b",
    ] {
        assert!(parse(s).is_err(), "{s:?} parsed");
    }
}

/// Keycloak's answers, seen on 26.7.4 (the strict checks) and 22.0.5 (a scheme compared with
/// its case): an illegal scheme, then a fragment, and `toURL` only for a root URL with neither.
#[test]
fn refuses_as_keycloak_does() {
    use UriRefusal::*;
    let strict = |openable| UriCheck {
        openable,
        fragment: true,
        scheme_any_case: true,
    };
    let cases: [(&str, bool, &[UriRefusal]); 11] = [
        ("https://x/cb", true, &[]),
        ("https://x/a b", false, &[Invalid]),
        ("javascript:alert(1)", true, &[IllegalScheme]),
        ("Data:x", true, &[IllegalScheme]),
        ("JAVASCRIPT://x", false, &[IllegalScheme]),
        ("javascript:x#f", true, &[IllegalScheme, Fragment]),
        ("https://x/#", true, &[Fragment]),
        ("myapp://x", true, &[Invalid]),
        ("myapp://x", false, &[]),
        ("/relative", true, &[Invalid]),
        ("", true, &[]),
    ];
    for (uri, root, want) in cases {
        assert_eq!(refusals(uri, strict(root)), want, "{uri:?}, root {root}");
    }
    // Before 26.6 the scheme compared with its case: `Data:` could not be opened instead.
    let old = UriCheck {
        scheme_any_case: false,
        ..strict(true)
    };
    assert_eq!(refusals("Data:x", old), [Invalid]);
    assert_eq!(
        refusals(
            "Javascript://x",
            UriCheck {
                openable: false,
                ..old
            }
        ),
        []
    );
    // The base URL's fragment is not looked at.
    let base = UriCheck {
        fragment: false,
        ..strict(true)
    };
    assert_eq!(refusals("https://x/#", base), []);
}
