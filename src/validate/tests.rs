//! Validation of whole resources, from the YAML fixtures: defaults, every field, each bad input.

use super::*;
use serde_json::json;

use crate::crd::DeletionPolicy;

/// A resource from `tests/fixtures/<name>`.
pub(super) fn fixture(name: &str) -> OpenMetadataKeycloakClient {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The installation id of the tests.
pub(super) const INSTALLATION: &str = "cluster-1";

#[test]
fn validate_applies_defaults() {
    let v = validate(&fixture("basic.yaml"), INSTALLATION).unwrap();
    assert_eq!(v.client_id, "openmetadata", "defaults to the resource name");
    let ConnectionSource::Inline(inline) = &v.connection else {
        panic!("an inline connection")
    };
    assert_eq!(inline.admin_realm, "master");
    assert_eq!(inline.public_url, None);
    assert_eq!(
        v.owner, "cluster-1/openmetadata/openmetadata",
        "installation/namespace/name"
    );
    assert_eq!(v.client_name, "OpenMetadata");
    assert_eq!(v.secret.name, "oidc-secrets");
    assert_eq!(v.secret.client_id_key, "openmetadata-oidc-client-id");
    assert_eq!(
        v.secret.client_secret_key,
        "openmetadata-oidc-client-secret"
    );
    assert_eq!(
        v.deletion_policy, None,
        "decided at delete time: Delete unless adopted"
    );
    assert!(
        !v.implicit_flow
            && v.service_accounts.is_none()
            && v.authorization_services.is_none()
            && !v.adopt_existing,
        "unset flags are left to Keycloak"
    );
}

#[test]
fn validate_reads_every_field_of_the_full_fixture() {
    let v = validate(&fixture("full.yaml"), INSTALLATION).unwrap();
    let ConnectionSource::Inline(inline) = &v.connection else {
        panic!("an inline connection")
    };
    assert_eq!(
        inline.url, "https://sso.example.com/auth",
        "legacy /auth kept, slash trimmed"
    );
    assert_eq!(v.openmetadata_url, "https://catalog.example.com:8443");
    assert_eq!(inline.admin_realm, "ops");
    assert_eq!(v.client_id, "open-metadata");
    assert_eq!(v.client_name, "Data catalog");
    assert!(v.implicit_flow && v.authorization_services == Some(true) && v.adopt_existing);
    assert_eq!(
        v.service_accounts,
        Some(true),
        "authorization implies a service account"
    );
    assert_eq!(v.secret.name, "om-oidc");
    assert_eq!(
        (
            v.secret.client_id_key.as_str(),
            v.secret.client_secret_key.as_str()
        ),
        ("id", "secret")
    );
    assert_eq!(v.deletion_policy, Some(DeletionPolicy::Retain));
}

/// The basic fixture with these fields merged into its spec, validated.
fn with_spec(spec: serde_json::Value) -> Result<Validated, InvalidSpec> {
    let mut obj = serde_json::to_value(fixture("basic.yaml")).unwrap();
    json_patch::merge(&mut obj["spec"], &spec);
    validate(&serde_json::from_value(obj).unwrap(), INSTALLATION)
}

/// The refusal of the basic fixture with these fields merged into its spec.
fn refused(spec: serde_json::Value) -> String {
    with_spec(spec).unwrap_err().to_string()
}

#[test]
fn labels_and_annotations_the_api_server_takes_are_taken() {
    let labels = json!({"example.com/team": "", "app": "open_metadata.1", "a": "x".repeat(63)});
    let annotations = json!({"a.b/c_d": " any text ", "checksum": "x".repeat(1000)});
    let v = with_spec(json!({"secret": {"labels": labels, "annotations": annotations}})).unwrap();
    assert_eq!(v.secret.labels.len(), 3);
    assert_eq!(v.secret.annotations.len(), 2);
}

#[test]
fn validate_explains_each_bad_input() {
    let letters = "spec.keycloak.realm: may only hold letters, digits, '-', '_' and '.'";
    // [fields of a spec, how its refusal starts]
    let cases = json!([
        [{"keycloak": {"realm": "master"}}, "spec.keycloak.realm: must not be master"],
        [{"keycloak": {"realm": "Master"}}, "spec.keycloak.realm: must not be master"],
        [{"keycloak": {"realm": "."}}, "spec.keycloak.realm: must not be . or .."],
        [{"keycloak": {"realm": ".."}}, "spec.keycloak.realm: must not be . or .."],
        [{"keycloak": {"realm": "data/sec"}}, letters],
        [{"keycloak": {"realm": "data sec"}}, letters],
        [{"keycloak": {"realm": "data%2Fsec"}}, letters],
        [{"keycloak": {"realm": "dätä"}}, letters],
        [{"keycloak": {"adminRealm": ".."}}, "spec.keycloak.adminRealm: must not be . or .."],
        [{"keycloak": {"url": "not a url"}}, "spec.keycloak.url: is not a valid URL"],
        [{"keycloak": {"url": "https://admin:pw@kc.example.com"}},
         "spec.keycloak.url: must not embed credentials"],
        [{"openmetadata": {"url": "ftp://om"}}, "spec.openmetadata.url: must use http or https"],
        [{"keycloak": {"credentialsSecretRef": {"name": "Bad_Name"}}},
         "spec.keycloak.credentialsSecretRef.name"],
        [{"keycloak": {"caBundle": "garbage"}}, "spec.keycloak.caBundle"],
        [{"openmetadata": {"extraWebOrigins": ["https://x.example/path"]}},
         "spec.openmetadata.extraWebOrigins[0]"],
        [{"openmetadata": {"extraRedirectUris": ["::"]}}, "spec.openmetadata.extraRedirectUris[0]"],
        [{"secret": {"clientIdKey": "same", "clientSecretKey": "same"}},
         "spec.secret.clientSecretKey: must differ"],
        [{"secret": {"clientSecretKey": "has space"}}, "spec.secret.clientSecretKey"],
        [{"secret": {"labels": {"argocd.argoproj.io/instance": "x"}}},
         "spec.secret: label or annotation \"argocd.argoproj.io/instance\" is reserved"],
        [{"secret": {"labels": {"team": "a b"}}},
         "spec.secret.labels[team]: \"a b\" is not a valid label value"],
        [{"secret": {"labels": {"team": "-a"}}}, "spec.secret.labels[team]"],
        [{"secret": {"labels": {"a b": "x"}}}, "spec.secret.labels: \"a b\" is not a valid key"],
        [{"secret": {"labels": {"Example.com/team": "x"}}}, "spec.secret.labels: \"Example.com/team\""],
        [{"secret": {"annotations": {"/x": "any value at all"}}}, "spec.secret.annotations: \"/x\""],
        [{"secret": {"annotations": {"example.com/": "y"}}}, "spec.secret.annotations"],
        [{"secret": {"annotations": {"a": "x".repeat(200_000), "b": "x".repeat(60_000)}}},
         "spec.secret.annotations: 260002 bytes in all, more than 258048"]
    ]);
    for case in cases.as_array().unwrap() {
        let said = refused(case[0].clone());
        assert!(
            said.starts_with(case[1].as_str().unwrap()),
            "{}: {said}",
            case[0]
        );
    }
}

#[test]
fn blank_optional_text_is_unset_and_the_installation_id_is_checked() {
    let mut obj = fixture("basic.yaml");
    obj.spec.openmetadata.principal_domain = Some("  ".into());
    obj.spec.openmetadata.initial_admins = vec![" alice ".into()];
    obj.spec
        .client
        .get_or_insert_with(Default::default)
        .description = Some(String::new());
    let v = validate(&obj, INSTALLATION).unwrap();
    assert_eq!(v.principal_domain, None, "blank: OpenMetadata's default");
    assert_eq!(v.description, None, "empty: Keycloak's default");
    assert_eq!(v.initial_admins, ["alice"]);
    obj.spec.openmetadata.principal_domain = Some(" example.com ".into());
    let v = validate(&obj, INSTALLATION).unwrap();
    assert_eq!(v.principal_domain.as_deref(), Some("example.com"));

    for installation in ["", "a/b"] {
        let error = validate(&obj, installation).unwrap_err().to_string();
        assert!(
            error.starts_with("the operator's installation id: must be non-empty"),
            "{installation:?}: {error}"
        );
    }
}

#[test]
fn single_fields_a_pem_bundle_reserved_keys_and_blank_names() {
    let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
    assert_eq!(
        fields::ca_bundle("caBundle", Some(&format!(" {pem}\n"))),
        Ok(Some(pem.to_string()))
    );
    assert_eq!(fields::ca_bundle("caBundle", Some("  ")), Ok(None));
    for key in [
        "app.kubernetes.io/managed-by",
        "app.kubernetes.io/instance",
        "argocd.argoproj.io/tracking-id",
        "omkc.dev/owner",
    ] {
        assert!(fields::is_reserved_metadata_key(key), "{key}");
    }
    assert!(!fields::is_reserved_metadata_key("app.kubernetes.io/name"));
    let mut obj = fixture("basic.yaml");
    obj.spec.client.get_or_insert_with(Default::default).name = Some("  ".into());
    let v = validate(&obj, INSTALLATION).unwrap();
    assert_eq!(v.client_name, "OpenMetadata", "blank: the default");
}

#[test]
fn each_limit_holds_at_its_bound() {
    let refusals = json!({
        "https://kc.example.com?x=1": "must not have a query or fragment",
        "https://kc.example.com#top": "must not have a query or fragment",
        "https://admin@kc.example.com": "must not embed credentials",
        "https://:pw@kc.example.com": "must not embed credentials"
    });
    for (raw, problem) in refusals.as_object().unwrap() {
        let problem = problem.as_str().unwrap();
        let error = fields::base_url("url", raw).unwrap_err().to_string();
        assert!(error.contains(problem), "{raw}: {error}");
    }
    assert!(
        fields::check_web_origin("origin", "file:///").is_err(),
        "no host"
    );
    for keyword in ["+", "*"] {
        assert_eq!(fields::check_web_origin("origin", keyword), Ok(()));
    }
    assert!(fields::check_realm_name("realm", &"r".repeat(100)).is_ok());
    assert!(fields::check_realm_name("realm", &"r".repeat(101)).is_err());

    let rotate = |token: String| {
        let mut obj = fixture("basic.yaml");
        obj.metadata.annotations = Some([(ROTATE_ANNOTATION.to_string(), token)].into());
        validate(&obj, INSTALLATION).map(|v| v.rotate_token)
    };
    assert_eq!(rotate("t".repeat(63)), Ok(Some("t".repeat(63))));
    assert!(rotate("t".repeat(64)).is_err());

    // The source may be the client id's key of another Secret, never of the output itself.
    let key = "openmetadata-oidc-client-id";
    let source = |name| with_spec(json!({"secret": {"source": {"name": name, "key": key}}}));
    assert!(source("sealed").is_ok());
    assert!(source("oidc-secrets").is_err());

    let values = json!({"name": "sso-values"});
    let admin = |name: String| {
        with_spec(json!({"openmetadata": {"valuesConfigMap": values, "initialAdmins": [name]}}))
    };
    assert!(admin("a".repeat(253)).is_ok());
    assert!(admin("a".repeat(254)).is_err());
    assert!(admin(" ".into()).is_err());
}

/// A URI the `url` crate reads but Keycloak's validation (`java.net.URI`) refuses with 400 is
/// refused here, naming the field; a relative one is judged appended to OpenMetadata's URL.
#[test]
fn uris_keycloak_refuses_are_refused() {
    let with = |fields: serde_json::Value| with_spec(json!({ "openmetadata": fields }));
    let list = |s: &str| json!([s]);
    for (fields, field, said) in [
        (
            json!({"url": "https://om.example/a|b"}),
            "spec.openmetadata.url",
            "java.net.URI",
        ),
        (
            json!({"url": "https://om.example/%zz"}),
            "spec.openmetadata.url",
            "java.net.URI",
        ),
        (
            json!({"extraRedirectUris": list("https://om.example/a b")}),
            "spec.openmetadata.extraRedirectUris[0]",
            "is not a URI Keycloak accepts: ",
        ),
        (
            json!({"extraRedirectUris": list("/a^b")}),
            "spec.openmetadata.extraRedirectUris[0]",
            "(appended to spec.openmetadata.url, as Keycloak does)",
        ),
        (
            json!({"extraRedirectUris": list("Javascript://om.example/cb")}),
            "spec.openmetadata.extraRedirectUris[0]",
            "uses a scheme Keycloak refuses",
        ),
        (
            json!({"postLogoutRedirectUris": list("https://om.example/[x]")}),
            "spec.openmetadata.postLogoutRedirectUris[0]",
            "is not a URI Keycloak accepts",
        ),
    ] {
        let e = with(fields.clone()).unwrap_err();
        assert_eq!(e.field, field, "{fields}");
        assert!(e.message.contains(said), "{fields}: {e}");
        assert!(!e.message.contains("om.example"), "repeats the value: {e}");
    }
    // What Keycloak takes: escapes, non-ASCII, wildcards, IPv6, other schemes, relative paths,
    // and `+` (the redirect URIs) as a post-logout redirect URI.
    let v = with(json!({
        "url": "https://om.example/%41/é",
        "extraRedirectUris": ["https://[::1]:8443/*", "myapp://cb", "/other/*"],
        "postLogoutRedirectUris": [" + ", "https://om.example/bye?to=%2F"],
    }))
    .unwrap();
    assert_eq!(
        v.post_logout_redirect_uris,
        ["+", "https://om.example/bye?to=%2F"]
    );
}
