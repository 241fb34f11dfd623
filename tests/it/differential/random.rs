//! Random URIs against Keycloak's client validation: the emulator must answer as a real
//! Keycloak of its version, and whatever `validate` takes, Keycloak must store as sent.

use std::collections::HashMap;

use keycloak::types::ClientRepresentation;
use omkc::{
    crd::OpenMetadataKeycloakClient,
    keycloak::Session,
    names::POST_LOGOUT_ATTRIBUTE,
    reconcile::desired::{client_drift, desired_client},
};

use super::*;
use crate::support::merge_spec;

pub(super) fn pick<'a>(random: &mut fastrand::Rng, items: &[&'a str]) -> &'a str {
    items[random.usize(..items.len())]
}

/// A path segment, query or fragment: plain, or a character `url` and `java.net.URI` read
/// differently (a space, `|`, `^`, brackets, braces, quotes, `%` escapes good and bad, visible
/// and invisible non-ASCII).
fn part(random: &mut fastrand::Rng) -> String {
    let plain = ["cb", "a", "x-y", "~u", "%41", "é", "a.b"];
    let atoms = [
        "cb", "a b", "a|b", "a^b", "%41", "%zz", "%4", "é", "*", "[x]", "~", "a'b", "a\"b", "{x}",
        "\u{a0}", "\u{2028}", "😀", "..", ";p=1", "a%2Fb", "a\\b", "<b>", "`", "a:b", "@", "!$&",
    ];
    (0..random.usize(1..3))
        .map(|_| match random.usize(..5) {
            0 => pick(random, &atoms),
            _ => pick(random, &plain),
        })
        .collect()
}

/// A URI of one of the forms a client holds: absolute with a scheme Keycloak refuses or not, a
/// host of each kind (IPv6 with and without a zone, non-ASCII, `_`, a port past 65535), a path,
/// a query and rarely a fragment; relative; or `*`, `+`, blank.
pub(super) fn uri(random: &mut fastrand::Rng) -> String {
    // Two in three from the forms that usually pass, so that a client of several passes too.
    let usual = random.usize(..3) > 0;
    match random.usize(..10) {
        0 => pick(random, &["", " ", "*", "+", "/"]).to_string(),
        1 => format!("/{}", part(random)),
        _ => {
            let schemes: &[&str] = if usual {
                &["https://", "http://", "HTTPS://", "myapp://"]
            } else {
                &[
                    "javascript:",
                    "Javascript://",
                    "data:",
                    "DATA://",
                    "urn:x:",
                    "//",
                    "ftp://",
                ]
            };
            let hosts: &[&str] = if usual {
                &[
                    "h.example",
                    "a_b.example",
                    "[::1]",
                    "héllo.example",
                    "1.2.3.4:8443",
                ]
            } else {
                &[
                    "[::1%eth0]",
                    "[1::2::3]",
                    "h.example:99999",
                    "u@h.example",
                    "a{b",
                    "[::1]:x",
                ]
            };
            let mut u = format!("{}{}", pick(random, schemes), pick(random, hosts));
            for _ in 0..random.usize(..3) {
                u = format!("{u}/{}", part(random));
            }
            if random.usize(..4) == 0 {
                u = format!("{u}?{}", part(random));
            }
            if random.usize(..8) == 0 {
                u = format!("{u}#{}", part(random));
            }
            u
        }
    }
}

/// A client of random URIs: root URL, redirect URIs, web origins (or none, so Keycloak derives
/// them) and post-logout redirect URIs.
fn random_client(random: &mut fastrand::Rng, client_id: String) -> ClientRepresentation {
    let uris = |random: &mut fastrand::Rng| (0..random.usize(..4)).map(|_| uri(random)).collect();
    let post_logout: Vec<String> = (0..random.usize(..3)).map(|_| uri(random)).collect();
    ClientRepresentation {
        client_id: Some(client_id),
        root_url: match random.usize(..4) {
            0 => None,
            1 => Some(uri(random)),
            _ => Some(format!("https://h.example/{}", part(random))),
        },
        redirect_uris: Some(uris(random)),
        web_origins: random.bool().then(|| uris(random)),
        attributes: (!post_logout.is_empty())
            .then(|| HashMap::from([(POST_LOGOUT_ATTRIBUTE.into(), post_logout.join("##"))])),
        ..Default::default()
    }
}

/// What one target made of one client: what it stored, or its refusal with every message.
async fn outcome_of(kc: &Kc, session: &Session, rep: &ClientRepresentation) -> String {
    kc.clear_log().await;
    let sorted = |list: &Option<Vec<String>>| {
        let mut list = list.clone().unwrap_or_default();
        list.sort();
        list
    };
    match session.create_client(REALM, rep).await {
        Ok(uuid) => {
            let c = session.get_client(REALM, &uuid).await.unwrap().unwrap().rep;
            let post_logout = c
                .attributes
                .unwrap_or_default()
                .remove(POST_LOGOUT_ATTRIBUTE);
            let (redirects, origins) = (sorted(&c.redirect_uris), sorted(&c.web_origins));
            format!(
                "stored: root {:?}, redirect URIs {redirects:?}, web origins {origins:?}, post-logout {post_logout:?}",
                c.root_url
            )
        }
        Err(e) => {
            let log = kc.log();
            let body = log
                .last()
                .and_then(|x| x.response.clone())
                .unwrap_or_default();
            let mut messages: Vec<&str> = (body["error_description"].as_str())
                .map(|d| d.split("; ").collect())
                .unwrap_or_default();
            messages.sort_unstable();
            format!("refused: {e}: {messages:?}")
        }
    }
}

/// 200 clients of random URIs, made on a real Keycloak and on the emulator as its version:
/// each must be refused with the same messages, or stored with the same root URL, redirect
/// URIs, web origins (derived ones too) and post-logout URIs. `OMKC_TEST_URI_SEED` picks another
/// seed. This holds `java_uri` (the operator's and the emulator's reading of Keycloak's checks)
/// to Keycloak itself.
#[tokio::test]
#[ignore = "needs a real Keycloak: tests/keycloak/keycloak.sh test (docs/contributors/testing.md)"]
async fn the_emulator_checks_random_uris_as_real_keycloak() {
    let seed = std::env::var("OMKC_TEST_URI_SEED").map_or(3, |s| s.parse().unwrap());
    let real = Kc::real().await;
    let emulated = Kc::emulator_like(&real).await;
    let (real_admin, emulated_admin) = (real.admin_session(), emulated.admin_session());
    let mut random = fastrand::Rng::with_seed(seed);
    let (mut differences, mut stored) = (Vec::new(), 0);
    for i in 0..200 {
        let rep = random_client(&mut random, format!("random-{i}"));
        let theirs = outcome_of(&real, &real_admin, &rep).await;
        let ours = outcome_of(&emulated, &emulated_admin, &rep).await;
        stored += usize::from(theirs.starts_with("stored"));
        if theirs != ours {
            differences.push(format!(
                "{rep:?}\n  {}: {theirs}\n  emulator:      {ours}",
                real.describe()
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "seed {seed}: {} of 200 differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
    // Neither side may pass by refusing everything, or nothing.
    assert!(
        (30..=170).contains(&stored),
        "seed {seed}: {stored} of 200 stored"
    );
}

/// A spec of random OpenMetadata URL, extra redirect URIs, web origins and post-logout URIs.
pub(super) fn random_spec(random: &mut fastrand::Rng, i: usize) -> OpenMetadataKeycloakClient {
    let mut obj = fixture("full.yaml");
    // Half of them plain, so that enough specs pass to be sent.
    let plain = |random: &mut fastrand::Rng| match random.usize(..4) {
        0 => "cb".to_string(),
        1 => format!("{}/x", pick(random, &["a", "é", "%41", "~", "*"])),
        _ => part(random),
    };
    let url = format!("https://catalog.example/{}", plain(random));
    let list = |random: &mut fastrand::Rng| -> Vec<String> {
        let one = |random: &mut fastrand::Rng| match random.usize(..4) {
            0 => format!("https://h.example/{}", plain(random)),
            1 => format!("/{}", plain(random)),
            _ => uri(random),
        };
        (0..random.usize(..3)).map(|_| one(random)).collect()
    };
    let origins = [
        "https://o.example",
        "*",
        "+",
        "https://é.example",
        "http://[::1]:8",
    ];
    let origins: Vec<&str> = (0..random.usize(..3))
        .map(|_| pick(random, &origins))
        .collect();
    merge_spec(
        &mut obj,
        json!({
            "openmetadata": {"url": url, "extraRedirectUris": list(random),
                             "extraWebOrigins": origins, "postLogoutRedirectUris": list(random)},
            "client": {"clientId": format!("spec-{i}")},
        }),
    );
    obj
}

crate::both!(
    /// Whatever `validate` takes of 300 random specs, Keycloak creates, and stores as sent (no
    /// drift on the first read): `validate` refuses every URI Keycloak's validation would.
    random_specs_that_validate_takes_are_stored_as_sent,
    |kc| {
        let admin = kc.admin_session();
        let mut random = fastrand::Rng::with_seed(5);
        let mut taken = 0;
        for i in 0..300 {
            let Ok(v) = validate(&random_spec(&mut random, i), INSTALLATION) else {
                continue;
            };
            taken += 1;
            let wanted = desired_client(&v);
            let uuid = admin.create_client(REALM, &wanted).await.unwrap_or_else(|e| {
                panic!("{}: {wanted:?} refused: {e}", kc.describe())
            });
            let stored = admin.get_client(REALM, &uuid).await.unwrap().unwrap();
            let drift = client_drift(&stored.rep, &wanted);
            assert!(drift.is_empty(), "{wanted:?}: drift {drift:?}");
        }
        assert!((50..=250).contains(&taken), "{taken} of 300 taken");
    }
);
