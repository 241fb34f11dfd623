//! A Keycloak behind a private certificate authority: reached with the `caBundle` that holds
//! it, refused without it (or with another authority's) before any credentials are sent.

use super::*;
use crate::support::tls;

#[tokio::test]
async fn a_keycloak_behind_a_private_authority_is_reached_with_its_ca_bundle_only() {
    let emu = Emulator::start().await;
    let front = tls::front(emu.base_url.trim_start_matches("http://")).await;
    // Keycloak announces the issuer browsers reach: the TLS one.
    emu.set_public_base(&front.url);
    let c = cluster("cluster-a", emu).await;
    c.api
        .put(credentials("team-data", "kc-admin", ADMIN_PASSWORD));
    let inline = |ca: Option<&str>| {
        let mut keycloak = json!({"url": front.url, "realm": "data-sec",
                                  "credentialsSecretRef": {"name": "kc-admin"}});
        if let Some(ca) = ca {
            keycloak["caBundle"] = json!(ca);
        }
        keycloak
    };
    let refused = async |name: &str| {
        assert_eq!(c.reason("team-data", name).await, "KeycloakUnavailable");
        let message = c.message("team-data", name);
        has(&message, "invalid peer certificate");
        assert!(message.contains("in caBundle"), "what to do: {message}");
    };
    // The system's authorities do not vouch for it.
    c.resource("team-data", "untrusted", inline(None));
    refused("untrusted").await;
    // Nor does another authority.
    let elsewhere = tls::front("127.0.0.1:9").await;
    c.resource("team-data", "other-ca", inline(Some(&elsewhere.ca)));
    refused("other-ca").await;
    assert_eq!(c.emu.token_requests(), 0, "the credentials went nowhere");
    assert!(c.emu.log().is_empty());

    // Its own authority: the client is made over TLS, and the issuer published is the TLS one.
    c.resource("team-data", "trusted", inline(Some(&front.ca)));
    c.reason_becomes("team-data", "trusted", "Reconciled").await;
    assert!(c.emu.client("data-sec", "trusted").is_some());
    let obj = c.api.get(CRS, "team-data", "trusted").unwrap();
    assert_eq!(
        obj["status"]["openmetadata"]["authority"],
        format!("{}/realms/data-sec", front.url)
    );

    // Through the platform team's ClusterKeycloakConnection, its own caBundle alike.
    c.api
        .put(credentials(OPERATOR_NS, "platform-admin", ADMIN_PASSWORD));
    c.api.put(json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "ClusterKeycloakConnection",
        "metadata": {"name": "platform"},
        "spec": {"url": front.url, "caBundle": front.ca,
                 "credentialsSecretRef": {"name": "platform-admin"},
                 "namespaceSelector": {"matchLabels": {"team": "data"}},
                 "allowedRealms": ["data-sec"]}
    }));
    c.resource("team-data", "shared", through_connection("data-sec"));
    c.reason_becomes("team-data", "shared", "Reconciled").await;
    assert!(c.emu.client("data-sec", "shared").is_some());
}

/// The same against a real Keycloak serving HTTPS with a certificate of an authority of
/// `tests/keycloak/keycloak.sh`'s own (`OMKC_TEST_KEYCLOAK_HTTPS_URL`, `OMKC_TEST_KEYCLOAK_CA`):
/// the operator's TLS (rustls on ring) and Keycloak's agree, and the bundle is what decides.
#[tokio::test]
#[ignore = "needs a real Keycloak: tests/keycloak/keycloak.sh test (docs/contributors/testing.md)"]
async fn a_real_keycloak_behind_a_private_authority_is_reached_with_its_ca_bundle_only_real_keycloak()
 {
    let endpoint = crate::support::real::endpoint().expect("OMKC_TEST_KEYCLOAK_URL");
    let url = endpoint.https_url.clone().expect("keycloak.sh sets it");
    let ca = std::fs::read_to_string(endpoint.ca_file.as_ref().unwrap()).unwrap();
    let session = |ca_bundle: Option<String>| {
        let credentials = omkc::keycloak::Credentials::Password {
            username: endpoint.user.clone(),
            password: endpoint.password.clone(),
        };
        crate::support::session_trusting(&url, credentials, ca_bundle)
    };
    let another = tls::front("127.0.0.1:9").await.ca.clone();
    for refused in [None, Some(another)] {
        let err = session(refused).sign_in().await.unwrap_err();
        assert_eq!(err.reason(), omkc::reason::Reason::KeycloakUnavailable);
        has(&err.to_string(), "its certificate is not trusted");
    }
    let trusted = session(Some(ca));
    trusted.sign_in().await.unwrap();
    assert!(
        trusted
            .find_client("master", "admin-cli")
            .await
            .unwrap()
            .is_some(),
        "the Admin API answers over TLS"
    );
}

/// A private PKI's usual chain: the server sends its certificate and the intermediate
/// authority's, and the bundle holds the root (alone or among others), or the intermediate.
#[tokio::test]
async fn a_chain_through_an_intermediate_authority_is_trusted_from_its_root() {
    let emu = Emulator::start().await;
    let front = tls::front_via_intermediate(emu.base_url.trim_start_matches("http://")).await;
    let other = tls::front("127.0.0.1:9").await;
    let session = |ca_bundle: Option<String>| {
        crate::support::session_trusting(&front.url, crate::support::emulator_admin(), ca_bundle)
    };
    for refused in [None, Some(other.ca.clone())] {
        let err = session(refused).sign_in().await.unwrap_err();
        assert!(err.to_string().contains("not trusted"), "{err}");
    }
    assert_eq!(emu.token_requests(), 0);
    let trusted = [
        front.ca.clone(),
        format!("{}{}", other.ca, front.ca),
        front.intermediate.clone().unwrap(),
    ];
    for bundle in trusted {
        session(Some(bundle)).sign_in().await.unwrap();
    }
    assert_eq!(emu.token_requests(), 3);
}
