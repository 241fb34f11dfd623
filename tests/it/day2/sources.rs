//! A client secret from a source Secret, the issuer browsers see, the values ConfigMap.

use super::*;
use crate::shows;

fn source_secret(name: &str, value: &str, labelled: bool) -> Value {
    let labels = if labelled {
        json!({"omkc.dev/client-secret-source": "true"})
    } else {
        json!({})
    };
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "data": {"client-secret": b64(value)}
    })
}

#[tokio::test]
async fn a_source_secret_sets_the_client_secret_and_its_changes_propagate_promptly() {
    let (api, emu) = world().await;
    let _operator = start(&api, Duration::from_secs(300));
    let with_source = json!({"secret": {"source": {"name": "sealed", "key": "client-secret"}}});

    // Missing, then not labelled: refused, nothing read.
    api.put(resource(&emu, with_source.clone()));
    condition(&api, CRS, NS, "openmetadata", "SecretSourceNotFound").await;
    api.put(source_secret("sealed", "from-sealed-secrets", false));
    annotate(&api, "touched", "1");
    condition(&api, CRS, NS, "openmetadata", "SecretSourceInvalid").await;
    assert!(
        emu.client("data-sec", CLIENT_ID).is_none(),
        "no client without its secret"
    );

    // Labelled: the client gets it at creation, the output Secret holds it.
    api.put(source_secret("sealed", "from-sealed-secrets", true));
    ready(&api).await;
    assert_eq!(
        emu.secret_of("data-sec", CLIENT_ID).unwrap(),
        "from-sealed-secrets"
    );
    assert_eq!(in_step(&api, &emu).await, "from-sealed-secrets");
    assert_eq!(regenerations(&emu), 0);

    // The source changes (a new sealed value): Keycloak and the output follow, no resync.
    api.edit(SECRETS, NS, "sealed", |s| {
        s["data"]["client-secret"] = json!(b64("rotated-by-the-vault"))
    });
    eventually(&api, "Keycloak to hold the new value", || async {
        (emu.secret_of("data-sec", CLIENT_ID)? == "rotated-by-the-vault").then_some(())
    })
    .await;
    assert_eq!(in_step(&api, &emu).await, "rotated-by-the-vault");
    events_seen(&api, "SecretSetFromSource").await;

    // Changed in Keycloak by hand: the source wins again on the next reconcile.
    emu.regenerate_secret_directly("data-sec", CLIENT_ID);
    annotate(&api, "touched", "2");
    eventually(&api, "the source's value back in Keycloak", || async {
        (emu.secret_of("data-sec", CLIENT_ID)? == "rotated-by-the-vault").then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_source_that_is_the_output_secret_is_read_and_never_written() {
    let (api, emu) = world().await;
    let _operator = start(&api, Duration::from_secs(300));
    let mut own = source_secret("oidc-secrets", "managed-by-eso", true);
    own["data"]["openmetadata-oidc-client-id"] = json!(b64(CLIENT_ID));
    api.put(own);
    api.put(resource(
        &emu,
        json!({"secret": {"source": {"name": "oidc-secrets", "key": "client-secret"}}}),
    ));
    ready(&api).await;
    assert_eq!(
        emu.secret_of("data-sec", CLIENT_ID).unwrap(),
        "managed-by-eso"
    );
    assert!(
        !api.requests()
            .iter()
            .any(|r| r.method != "GET" && r.path.contains("/secrets/oidc-secrets")),
        "the user's Secret is never written"
    );
}

#[tokio::test]
async fn the_issuer_browsers_see_comes_from_discovery_or_the_public_url() {
    let (api, emu) = world().await;
    // Keycloak's hostname is configured: its discovery document announces the public URL,
    // while the operator calls it on 127.0.0.1.
    emu.set_public_base("https://sso.example.com");
    let _operator = start(&api, Duration::from_secs(300));
    api.put(resource(
        &emu,
        json!({"openmetadata": {"valuesConfigMap": {"name": "openmetadata-sso"}}}),
    ));
    let obj = ready(&api).await;
    let realm = "https://sso.example.com/realms/data-sec";
    shows!(obj["status"]["openmetadata"], {"authority": realm,
        "discoveryUri": format!("{realm}/.well-known/openid-configuration")});
    let keys = &obj["status"]["openmetadata"]["publicKeys"][1];
    assert_eq!(
        keys,
        &json!(format!("{realm}/protocol/openid-connect/certs"))
    );
    let values = eventually(&api, "the values ConfigMap", || async {
        let cm = api.get("v1/configmaps", NS, "openmetadata-sso")?;
        cm["data"]["values.yaml"].as_str().map(str::to_string)
    })
    .await;
    let env = chart_env(&values);
    assert_eq!(
        env["AUTHENTICATION_AUTHORITY"],
        "https://sso.example.com/realms/data-sec"
    );

    // The discovery document is read once, not on every pass.
    let discovery = || {
        emu.log()
            .iter()
            .filter(|e| e.path.ends_with("/openid-configuration"))
            .count()
    };
    assert_eq!(discovery(), 1);
    annotate(&api, "touched", "1");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(discovery(), 1);

    // A public URL given in the spec wins, and needs no discovery.
    api.edit(CRS, NS, "openmetadata", |o| {
        o["spec"]["keycloak"]["publicUrl"] = json!("https://login.example.org/")
    });
    eventually(&api, "the public URL in status", || async {
        let obj = api.get(CRS, NS, "openmetadata")?;
        (obj["status"]["openmetadata"]["authority"] == "https://login.example.org/realms/data-sec")
            .then_some(())
    })
    .await;
    assert_eq!(discovery(), 1);
}

/// The environment the OpenMetadata chart (1.13) renders for the server container from its
/// values: the chart's defaults for the authentication and authorizer blocks
/// (tests/fixtures/openmetadata-chart-defaults.yaml), the given values merged on top as Helm
/// does, then each value's environment variable (shared/openmetadata/NOTES.md). The OIDC_*
/// variables exist only with `clientType: confidential` and `oidcConfiguration.enabled`.
fn chart_env(values_yaml: &str) -> std::collections::BTreeMap<&'static str, String> {
    let mut values: Value = serde_saphyr::from_str(include_str!(
        "../../fixtures/openmetadata-chart-defaults.yaml"
    ))
    .unwrap();
    merge(&mut values, serde_saphyr::from_str(values_yaml).unwrap());
    let config = &values["openmetadata"]["config"];
    let auth = &config["authentication"];
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    };
    let mut env = std::collections::BTreeMap::new();
    for (name, value) in [
        ("AUTHENTICATION_PROVIDER", &auth["provider"]),
        ("AUTHENTICATION_CLIENT_TYPE", &auth["clientType"]),
        ("AUTHENTICATION_PUBLIC_KEYS", &auth["publicKeys"]),
        ("AUTHENTICATION_AUTHORITY", &auth["authority"]),
        ("AUTHENTICATION_CLIENT_ID", &auth["clientId"]),
        ("AUTHENTICATION_CALLBACK_URL", &auth["callbackUrl"]),
        ("AUTHORIZER_CLASS_NAME", &config["authorizer"]["className"]),
        (
            "AUTHORIZER_REQUEST_FILTER",
            &config["authorizer"]["containerRequestFilter"],
        ),
        (
            "AUTHORIZER_ADMIN_PRINCIPALS",
            &config["authorizer"]["initialAdmins"],
        ),
        (
            "AUTHORIZER_PRINCIPAL_DOMAIN",
            &config["authorizer"]["principalDomain"],
        ),
    ] {
        env.insert(name, text(value));
    }
    let oidc = &auth["oidcConfiguration"];
    if auth["clientType"] == "confidential" && oidc["enabled"] == true {
        for (name, value) in [
            ("OIDC_TYPE", &oidc["oidcType"]),
            ("OIDC_DISCOVERY_URI", &oidc["discoveryUri"]),
            ("OIDC_CALLBACK", &oidc["callbackUrl"]),
            ("OIDC_SERVER_URL", &oidc["serverUrl"]),
            ("OIDC_SCOPE", &oidc["scope"]),
        ] {
            env.insert(name, text(value));
        }
        for (name, reference) in [
            ("OIDC_CLIENT_ID", &oidc["clientId"]),
            ("OIDC_CLIENT_SECRET", &oidc["clientSecret"]),
        ] {
            env.insert(
                name,
                format!(
                    "secretKeyRef:{}/{}",
                    text(&reference["secretRef"]),
                    text(&reference["secretKey"])
                ),
            );
        }
    }
    env
}

#[tokio::test]
async fn the_values_config_map_renders_the_charts_keycloak_configuration() {
    let (api, emu) = world().await;
    let _operator = start(&api, Duration::from_secs(300));
    api.put(resource(
        &emu,
        json!({
            "keycloak": {"publicUrl": "https://sso.example.com"},
            "openmetadata": {
                "valuesConfigMap": {"name": "openmetadata-sso", "key": "sso.yaml"},
                "initialAdmins": ["alice", "bob"],
                "principalDomain": "example.com"
            }
        }),
    ));
    ready(&api).await;
    let secret = in_step(&api, &emu).await;
    let cm = api.get("v1/configmaps", NS, "openmetadata-sso").unwrap();
    let yaml = cm["data"]["sso.yaml"].as_str().unwrap();
    assert!(!yaml.contains(&secret), "no secret in a ConfigMap");
    let env = chart_env(yaml);
    let (om, realm) = (
        "https://openmetadata.example.com",
        "https://sso.example.com/realms/data-sec",
    );
    let secret_ref = "secretKeyRef:oidc-secrets/openmetadata-oidc-client";
    let security = "org.openmetadata.service.security";
    let want = json!({
        "AUTHENTICATION_PROVIDER": "custom-oidc",
        "AUTHENTICATION_CLIENT_TYPE": "confidential",
        "AUTHENTICATION_PUBLIC_KEYS":
            format!("{om}/api/v1/system/config/jwks,{realm}/protocol/openid-connect/certs"),
        "AUTHENTICATION_AUTHORITY": realm,
        "AUTHENTICATION_CLIENT_ID": CLIENT_ID,
        "AUTHENTICATION_CALLBACK_URL": format!("{om}/callback"),
        "AUTHORIZER_CLASS_NAME": format!("{security}.DefaultAuthorizer"),
        "AUTHORIZER_REQUEST_FILTER": format!("{security}.JwtFilter"),
        "AUTHORIZER_ADMIN_PRINCIPALS": "alice,bob",
        "AUTHORIZER_PRINCIPAL_DOMAIN": "example.com",
        "OIDC_TYPE": "Keycloak",
        "OIDC_DISCOVERY_URI": format!("{realm}/.well-known/openid-configuration"),
        "OIDC_CALLBACK": format!("{om}/callback"),
        "OIDC_SERVER_URL": om,
        "OIDC_SCOPE": "openid email profile",
        "OIDC_CLIENT_ID": format!("{secret_ref}-id"),
        "OIDC_CLIENT_SECRET": format!("{secret_ref}-secret")
    });
    assert_eq!(serde_json::to_value(&env).unwrap(), want);
    // The Secret the values point at holds the client id they name.
    let s = api.get(SECRETS, NS, "oidc-secrets").unwrap();
    assert_eq!(decode(&s["data"]["openmetadata-oidc-client-id"]), CLIENT_ID);
}

/// The test double tells the truth about server-side apply, which the rotation marks rely on:
/// a field the manager applied before and omits now is removed; one another writer took over
/// in between stays.
#[tokio::test]
async fn the_fake_apiserver_applies_with_field_ownership() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, Patch, PatchParams};
    omkc::tls::install_crypto_provider();
    let api = ApiServer::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(api.client(), NS);
    let apply = |annotations: Value| {
        let cms = cms.clone();
        async move {
            let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": "c", "annotations": annotations}});
            cms.patch("c", &PatchParams::apply("op").force(), &Patch::Apply(body))
                .await
                .unwrap()
        }
    };
    apply(json!({"a": "1", "b": "1"})).await;
    let c = apply(json!({"a": "2"})).await;
    let annotations = c.metadata.annotations.unwrap();
    assert_eq!(annotations.get("a").map(String::as_str), Some("2"));
    assert!(!annotations.contains_key("b"), "dropped by its manager");

    api.edit("v1/configmaps", NS, "c", |c| {
        c["metadata"]["annotations"]["a"] = json!("edited")
    });
    let c = apply(json!({})).await;
    assert_eq!(
        c.metadata.annotations.unwrap().get("a").map(String::as_str),
        Some("edited"),
        "taken over by another writer: not the manager's to remove"
    );
}
