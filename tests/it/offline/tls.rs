//! `check` over HTTPS: a Keycloak behind an authority of its own is refused until the
//! authority is given (`--ca-bundle`, the resource's `caBundle`, the connection's), on the
//! emulator behind a TLS front and on a real Keycloak.

use serde_json::json;

use super::{
    check::{as_admin, resource_at},
    cluster::cluster_with_a_connection,
    file, run,
};
use crate::binary::temp_dir;
use crate::support::{apiserver::ApiServer, emulator::Emulator, tls};

#[tokio::test]
async fn check_reaches_a_keycloak_behind_a_private_authority_with_ca_bundle_only() {
    let emu = Emulator::start().await;
    let front = tls::front(emu.base_url.trim_start_matches("http://")).await;
    emu.set_public_base(&front.url);
    let resource = resource_at(&front.url, "data-sec");
    // The system's authorities do not vouch for it, nor does another authority: 3, with what
    // to do, and the password sent nowhere.
    let out = run(&["check", "-f", &resource], &as_admin()).await;
    out.says(3, &["invalid peer certificate", "in caBundle"]);
    let with_bundle = async |pem: &str| {
        let bundle = file("bundle.pem", pem);
        let args = ["check", "-f", &resource, "--ca-bundle", &bundle];
        run(&args, &as_admin()).await
    };
    let elsewhere = tls::front("127.0.0.1:9").await;
    with_bundle(&elsewhere.ca)
        .await
        .says(3, &["invalid peer certificate"]);
    assert_eq!(emu.token_requests(), 0, "the credentials went nowhere");
    // Its own authority, from --ca-bundle: every step over TLS, nothing written.
    with_bundle(&front.ca)
        .await
        .says(0, &["client       ok   a reconcile would create"]);
    // Or from the resource's own caBundle.
    let pem = front.ca.trim_end().replace('\n', "\n      ");
    let with_ca = std::fs::read_to_string(&resource).unwrap().replace(
        "    realm: data-sec\n",
        &format!("    realm: data-sec\n    caBundle: |\n      {pem}\n"),
    );
    let with_ca = file("resource-with-ca.yaml", &with_ca);
    run(&["check", "-f", &with_ca], &as_admin())
        .await
        .says(0, &["client       ok   a reconcile would create"]);
    // Or from the cluster's ClusterKeycloakConnection's caBundle.
    let api = ApiServer::start().await;
    let (through_connection, _) = cluster_with_a_connection(&api, &emu);
    let kubeconfig = api.kubeconfig(&temp_dir("check-tls")).display().to_string();
    let cluster = [("KUBECONFIG", kubeconfig.as_str())];
    let trusts = |ca: Option<&str>| {
        api.edit(
            "omkc.dev/v1alpha1/clusterkeycloakconnections",
            "",
            "platform",
            |c| {
                c["spec"]["url"] = json!(front.url);
                c["spec"]["caBundle"] = json!(ca);
            },
        )
    };
    trusts(None);
    run(&["check", "-f", &through_connection], &cluster)
        .await
        .says(3, &["invalid peer certificate"]);
    trusts(Some(&front.ca));
    run(&["check", "-f", &through_connection], &cluster)
        .await
        .says(0, &["client       ok   a reconcile would create"]);
    assert!(emu.token_requests() > 0);
    assert!(emu.admin_events().is_empty());
}

/// `check` against a real Keycloak, over HTTPS from an authority of the run's own: refused
/// without the bundle, every step passing with it, a view-only account blocked at permissions,
/// and nothing written.
#[tokio::test]
#[ignore = "needs a real Keycloak: tests/keycloak/keycloak.sh test (docs/contributors/testing.md)"]
async fn check_against_a_real_keycloak_over_tls_real_keycloak() {
    let endpoint = crate::support::real::endpoint().expect("OMKC_TEST_KEYCLOAK_URL");
    let admin = crate::support::real::Admin::new(&endpoint);
    admin.fresh_realm("check-real").await;
    let url = endpoint.https_url.clone().expect("keycloak.sh sets it");
    let ca = endpoint.ca_file.clone().expect("keycloak.sh sets it");
    let resource = resource_at(&url, "check-real");
    let as_bootstrap = [
        ("KEYCLOAK_USERNAME", endpoint.user.as_str()),
        ("KEYCLOAK_PASSWORD", endpoint.password.as_str()),
    ];
    run(&["check", "-f", &resource], &as_bootstrap)
        .await
        .says(3, &["invalid peer certificate", "in caBundle"]);
    let trusted = ["check", "-f", &resource, "--ca-bundle", &ca];
    let out = run(&trusted, &as_bootstrap).await;
    out.says(
        0,
        &[
            "sign-in      ok   password grant as \"admin\"",
            &format!(
                "version      ok   Keycloak {}\nrealm        ok",
                endpoint.version
            ),
            "scopes       ok",
            "permissions  ok",
            "client       ok   a reconcile would create client \"open-metadata\"",
        ],
    );
    assert!(!out.stdout.contains(&endpoint.password));
    let viewer = admin
        .user("master", "check-viewer", "viewer-password")
        .await;
    admin
        .grant_client_roles("master", &viewer, "check-real-realm", &["view-clients"])
        .await;
    let as_viewer = [
        ("KEYCLOAK_USERNAME", "check-viewer"),
        ("KEYCLOAK_PASSWORD", "viewer-password"),
    ];
    run(&trusted, &as_viewer)
        .await
        .says(4, &["grant manage-clients"]);
    let events = admin.get("/check-real/admin-events").await;
    assert_eq!(events, serde_json::json!([]), "nothing written");
    assert_eq!(admin.client_uuid("check-real", "open-metadata").await, None);
}
