//! `check`: every step reported, nothing written, the exit code by outcome; with credentials
//! given (Keycloak only) and with the connection from the cluster (`cluster.rs` plans the
//! Kubernetes side).

use serde_json::json;

use super::{cluster::cluster_with_a_connection, file, run};
use crate::binary::temp_dir;
use crate::support::{
    INSTALLATION,
    apiserver::ApiServer,
    b64,
    emulator::{ADMIN_PASSWORD, ADMIN_USER, Emulator, Level},
    has, merge_spec,
};

fn resource_for(emu: &Emulator, realm: &str) -> String {
    resource_at(&emu.base_url, realm)
}

/// `examples/single-team.yaml` for the Keycloak at `url` and this realm, as a file.
pub(super) fn resource_at(url: &str, realm: &str) -> String {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/single-team.yaml"
    ))
    .unwrap()
    .replace(": https://keycloak.example.com\n", &format!(": {url}\n"))
    .replace("realm: data-sec", &format!("realm: {realm}"));
    file(&format!("resource-{realm}.yaml"), &text)
}

pub(super) fn as_admin() -> [(&'static str, &'static str); 2] {
    [
        ("KEYCLOAK_USERNAME", ADMIN_USER),
        ("KEYCLOAK_PASSWORD", ADMIN_PASSWORD),
    ]
}

/// On MariaDB a client id that differs from an existing one only in case is that id: `check`
/// says the conflict a reconcile would meet, naming the client, and exits 4.
#[tokio::test]
async fn check_names_a_client_the_database_takes_for_the_one_asked() {
    let emu = Emulator::start().await;
    emu.seed_client("data-sec", json!({"clientId": "Open-Metadata"}));
    let resource = resource_for(&emu, "data-sec");
    let creates = "a reconcile would create client \"open-metadata\"";
    run(&["check", "-f", &resource], &as_admin())
        .await
        .says(0, &[creates]);
    emu.on_mariadb();
    let said = "error: client \"open-metadata\" cannot be made in realm \"data-sec\": Keycloak's database takes it for the existing client \"Open-Metadata\"";
    run(&["check", "-f", &resource], &as_admin())
        .await
        .says(4, &[said, "(ClientConflict)"]);
    assert!(emu.admin_events().is_empty(), "nothing written");
}

#[tokio::test]
async fn check_reports_each_step_writes_nothing_and_exits_by_outcome() {
    let emu = Emulator::start().await;
    let resource = resource_for(&emu, "data-sec");

    let out = run(&["check", "-f", &resource], &as_admin()).await;
    out.says(
        0,
        &[
            "resource     ok   openmetadata/openmetadata: client \"open-metadata\" in realm \"data-sec\"",
            "sign-in      ok   password grant as \"admin\"",
            "realm        ok",
            "scopes       ok",
            "permissions  ok",
            "client       ok   a reconcile would create client \"open-metadata\"",
        ],
    );
    let (major, minor, patch) = emu.version();
    out.says(
        0,
        &[&format!(
            "version      ok   Keycloak {major}.{minor}.{patch}\nrealm"
        )],
    );
    assert!(!out.stdout.contains(ADMIN_PASSWORD) && !out.stderr.contains(ADMIN_PASSWORD));
    assert!(
        emu.admin_events().is_empty(),
        "nothing written: {:?}",
        emu.admin_events()
    );

    // Converged: in sync.
    let session = crate::support::admin_session(&emu);
    let mut obj = crate::support::fixture("basic.yaml");
    obj.spec.keycloak.url = Some(emu.base_url.clone());
    merge_spec(&mut obj, json!({"client": {"clientId": "open-metadata"}}));
    obj.metadata.namespace = Some("openmetadata".into());
    // Made by the resource with its uid; the file has none: the client is still its own.
    assert!(obj.metadata.uid.is_some());
    crate::support::keycloak_sync(&session, &obj).await.unwrap();
    let installed = async |id: &str| {
        let args = ["check", "-f", &resource, "--installation-id", id];
        run(&args, &as_admin()).await
    };
    installed(INSTALLATION).await.says(0, &["in sync"]);
    // Another installation's client of that id: a conflict the reconcile would report.
    installed("elsewhere").await.says(4, &["ClientConflict"]);
    // Drifted: the fields the update would set are named.
    emu.edit_client("data-sec", "open-metadata", |c| {
        c.root_url = Some("https://elsewhere.example.com".into())
    });
    installed(INSTALLATION)
        .await
        .says(0, &["a reconcile would update the client (rootUrl)"]);
    // A secret older than the resource's rotationInterval: due, by the clock read now.
    let scheduled = std::fs::read_to_string(&resource).unwrap().replace(
        "    clientId: open-metadata\n",
        "    clientId: open-metadata\n  secret:\n    rotationInterval: 1h\n",
    );
    let scheduled = file("scheduled.yaml", &scheduled);
    let two_hours_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 7200;
    emu.edit_client("data-sec", "open-metadata", |c| {
        c.attributes.insert(
            "client.secret.creation.time".into(),
            two_hours_ago.to_string(),
        );
    });
    let args = ["check", "-f", &scheduled, "--installation-id", INSTALLATION];
    run(&args, &as_admin())
        .await
        .says(0, &["generate a client secret"]);

    // The sign-in refused, Keycloak unreachable: 3.
    let wrong = [
        ("KEYCLOAK_USERNAME", ADMIN_USER),
        ("KEYCLOAK_PASSWORD", "wrong"),
    ];
    let out = run(&["check", "-f", &resource], &wrong).await;
    out.says(3, &["error: sign-in: "]);
    // The table on stdout, the verdict on stderr: never glued together.
    has(&out.stdout, "sign-in      FAIL");
    assert!(
        out.stderr.starts_with("error: sign-in: ") && !out.stderr.contains("FAIL"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("wrong") && !out.stdout.contains("wrong"));
    let elsewhere = ["check", "-f", &resource, "--url", "http://127.0.0.1:9"];
    run(&elsewhere, &as_admin()).await.says(3, &[]);

    // A realm that does not exist; an account that may only view: 4.
    let out = run(&["check", "-f", &resource_for(&emu, "nope")], &as_admin()).await;
    out.says(4, &[]);
    has(&out.stdout, "realm        FAIL");
    emu.add_user("viewer", "viewer-password", Level::View);
    let viewer = [
        ("KEYCLOAK_USERNAME", "viewer"),
        ("KEYCLOAK_PASSWORD", "viewer-password"),
    ];
    let out = run(&["check", "-f", &resource], &viewer).await;
    out.says(4, &["grant manage-clients"]);

    // Credentials from a file, and a file without them (1).
    let creds = file(
        "creds.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nstringData:\n  username: {ADMIN_USER}\n  password: {ADMIN_PASSWORD}\n"
        ),
    );
    let from_file = [
        "check",
        "-f",
        &resource,
        "--credentials",
        &creds,
        "--installation-id",
        INSTALLATION,
    ];
    run(&from_file, &[]).await.says(0, &[]);
    // As a manifest's `data` (base64), and as `key=value` / `key: value` lines.
    let data = format!(
        "apiVersion: v1\nkind: Secret\ndata:\n  username: {}\n  password: {}\n",
        b64(ADMIN_USER),
        b64(ADMIN_PASSWORD)
    );
    let lines = format!("username={ADMIN_USER}\npassword: \"{ADMIN_PASSWORD}\"\n");
    for (name, text) in [("creds-data.yaml", data), ("creds.env", lines)] {
        let creds = file(name, &text);
        let args = ["check", "-f", &resource, "--credentials", &creds];
        run(&args, &[("INSTALLATION_ID", INSTALLATION)])
            .await
            .says(0, &[]);
    }
    // A service account's client credentials, from the environment.
    emu.add_service_client("master", "omkc-admin", "s3cret");
    let service = [
        ("KEYCLOAK_CLIENT_ID", "omkc-admin"),
        ("KEYCLOAK_CLIENT_SECRET", "s3cret"),
    ];
    let out = run(&["check", "-f", &resource], &service).await;
    let signed_in = "sign-in      ok   client credentials of \"omkc-admin\"";
    has(&out.stdout, signed_in);
    let empty = file("empty.env", "user=admin\n");
    let without = ["check", "-f", &resource, "--credentials", &empty];
    run(&without, &[]).await.says(1, &["needs keys"]);
    assert!(emu.admin_events().iter().all(|e| e.operation != "DELETE"));

    // A realm without a scope OpenMetadata needs: 4, before anything else is judged.
    emu.remove_realm_scope("data-sec", "profile");
    let out = run(&["check", "-f", &resource], &as_admin()).await;
    out.says(4, &["the realm lacks the client scopes profile"]);
    has(&out.stdout, "scopes       FAIL");
}

/// The version `check` says: a note, never a failure, where the operator is not tested with
/// it; hidden from a realm's own admin (Keycloak 26.7 and later).
#[tokio::test]
async fn check_says_the_keycloak_version_and_whether_it_is_tested() {
    let old = Emulator::start_as((21, 1, 2), "").await;
    let out = run(
        &["check", "-f", &resource_for(&old, "data-sec")],
        &as_admin(),
    )
    .await;
    out.says(
        0,
        &["version      WARN Keycloak 21.1.2 is older than 22.0, the oldest line this operator is tested with\nrealm        ok"],
    );
    let emu = Emulator::start().await;
    emu.add_service_client("data-sec", "omkc-admin", "s3cret");
    let text = std::fs::read_to_string(resource_for(&emu, "data-sec"))
        .unwrap()
        .replace(
            "  realm: data-sec\n",
            "  realm: data-sec\n    adminRealm: data-sec\n",
        );
    let service = [
        ("KEYCLOAK_CLIENT_ID", "omkc-admin"),
        ("KEYCLOAK_CLIENT_SECRET", "s3cret"),
    ];
    let out = run(&["check", "-f", &file("realm-admin.yaml", &text)], &service).await;
    has(&out.stdout, "(admin realm data-sec)");
    has(
        &out.stdout,
        "version      ok   hidden from this account (a realm's admin)\n",
    );
}

#[tokio::test]
async fn check_reads_the_connection_and_credentials_from_the_cluster() {
    omkc::tls::install_crypto_provider();
    let emu = Emulator::start().await;
    let api = ApiServer::start().await;
    let dir = temp_dir("check-cluster");
    let (resource, _) = cluster_with_a_connection(&api, &emu);
    let kubeconfig = api.kubeconfig(&dir).display().to_string();
    let cluster = [("KUBECONFIG", kubeconfig.as_str())];
    run(&["check", "-f", &resource], &cluster)
        .await
        .says(0, &["credentials from Secret default/platform-admin"]);
    // Resolved as `run` resolves it: the operator's namespace from its flag or environment.
    let elsewhere = [
        "check",
        "-f",
        &resource,
        "--operator-namespace",
        "omkc-system",
    ];
    run(&elsewhere, &cluster)
        .await
        .says(4, &["CredentialsNotFound", "omkc-system"]);
    // Credentials bound to the connection's URL never go to another one given with --url:
    // refused before anything is sent (4, not "unreachable").
    api.edit("v1/secrets", "default", "platform-admin", |s| {
        s["metadata"]["annotations"] = json!({"omkc.dev/keycloak-url": emu.base_url})
    });
    run(&["check", "-f", &resource], &cluster)
        .await
        .says(0, &[]);
    let reads_before = api.requests().len();
    let other_url = ["check", "-f", &resource, "--url", "http://127.0.0.1:9"];
    run(&other_url, &cluster)
        .await
        .says(4, &["CredentialsNotAllowed", "127.0.0.1:9"]);
    assert!(
        api.requests()[reads_before..]
            .iter()
            .all(|r| r.metadata_only
                || r.path != "/api/v1/namespaces/default/secrets/platform-admin"),
        "the data of a Secret that may not be used is never read"
    );
    // Nor with a CA bundle of the caller's: it could let another certificate stand for the URL.
    let bundle = file("bundle.pem", "not read: refused before\n");
    let own_ca = ["check", "-f", &resource, "--ca-bundle", &bundle];
    run(&own_ca, &cluster)
        .await
        .says(4, &["CredentialsNotAllowed", "not trusted"]);
    // An inline resource where the operator takes none (the chart's default).
    let inline = resource_for(&emu, "data-sec");
    let no_inline = ["check", "-f", &inline, "--allow-inline-connections=false"];
    run(&no_inline, &as_admin())
        .await
        .says(4, &["ConnectionNotAllowed"]);
    run(&no_inline, &cluster)
        .await
        .says(4, &["ConnectionNotAllowed"]);
    // A namespace the connection does not allow: 4, with the operator's own reason.
    api.edit("v1/namespaces", "", "openmetadata", |ns| {
        ns["metadata"]["labels"]["team"] = json!("web")
    });
    run(&["check", "-f", &resource], &cluster)
        .await
        .says(4, &["ConnectionNotAllowed"]);
    assert!(
        api.requests().iter().all(|r| r.method == "GET"),
        "check only reads"
    );
}
