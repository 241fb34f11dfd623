//! The pure parts of `run`: the flags as settings, the watched scopes, why listing failed.

use std::time::Duration;

use clap::Parser;

use super::*;
use crate::cli::{Cli, Command};

fn run_args(argv: &[&str]) -> RunArgs {
    let cli = Cli::try_parse_from(["omkc", "run"].iter().chain(argv)).unwrap();
    let Command::Run(args) = cli.command else {
        panic!("run expected")
    };
    args
}

#[test]
fn every_flag_reaches_the_settings_and_a_blank_one_counts_as_not_given() {
    let args = run_args(&[
        "--resync=90s",
        "--keycloak-concurrency=3",
        "--namespace-share=2",
        "--min-rotation-interval=10m",
        "--allow-inline-connections=false",
        "--allow-inline-adoption=true",
        "--resource-selector=omkc.dev/shard=a",
    ]);
    let expected = Settings {
        resync: Duration::from_secs(90),
        keycloak_per_host: 3,
        namespace_share: 2,
        min_rotation_interval: Duration::from_secs(600),
        installation: "cluster-1".into(),
        operator_namespace: "omkc".into(),
        allow_inline_connections: false,
        allow_inline_adoption: true,
        resource_selector: Some("omkc.dev/shard=a".into()),
        ..Settings::default()
    };
    assert_eq!(settings(&args, "cluster-1".into(), "omkc".into()), expected);
    let blank = run_args(&["--resource-selector= ", "--installation-id= "]);
    assert_eq!(
        settings(&blank, "c".into(), "o".into()).resource_selector,
        None
    );
    assert_eq!(
        given(&blank.installation_id),
        None,
        "derived from kube-system"
    );
    assert_eq!(given(&Some(" omkc ".into())).as_deref(), Some("omkc"));
}

#[test]
fn the_first_scope_watches_the_connections_credentials_unless_their_namespace_is_watched() {
    let scope = |namespace: Option<&str>, extra: &[&str], index| controller::Scope {
        namespace: namespace.map(str::to_string),
        extra_credentials: extra.iter().map(|n| n.to_string()).collect(),
        index,
    };
    let names = |list: &[&str]| list.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    assert_eq!(
        scopes(&names(&[""]), "omkc"),
        [scope(None, &[], 0)],
        "all namespaces"
    );
    assert_eq!(
        scopes(&names(&["a", " ", "b"]), "omkc"),
        [scope(Some("a"), &["omkc"], 0), scope(Some("b"), &[], 1)]
    );
    assert_eq!(
        scopes(&names(&["a", "omkc"]), "omkc"),
        [scope(Some("a"), &[], 0), scope(Some("omkc"), &[], 1)]
    );
}

#[test]
fn a_failed_list_says_why() {
    let api = |code| {
        kube::Error::Api(
            kube::core::Status::failure("no", "x")
                .with_code(code)
                .boxed(),
        )
    };
    let said =
        |code, installed, namespace| cannot_list(&api(code), installed, "https://k8s", namespace);
    assert!(said(404, Some(false), None).starts_with("the CRDs are not installed"));
    assert!(said(404, Some(true), None).starts_with("the Kubernetes API answered 404 listing"));
    assert!(said(401, None, None).starts_with("the Kubernetes API refused the credentials"));
    assert!(
        said(403, None, Some("a"))
            .starts_with("RBAC forbids listing OpenMetadataKeycloakClients in namespace a")
    );
    assert!(said(500, None, None).starts_with("the Kubernetes API answered 500 listing"));
    let unreachable = kube::Error::LinesCodecMaxLineLengthExceeded;
    let said = cannot_list(&unreachable, None, "https://k8s", None);
    assert!(
        said.starts_with("cannot reach the Kubernetes API at https://k8s"),
        "{said}"
    );
}

/// An API server that answers a list of the resources with `list` and the discovery of
/// `omkc.dev/v1alpha1` with these resources (404 when there are none).
fn answering(list: u16, discovered: &'static [&'static str]) -> Client {
    use kube::client::Body;
    let service = tower::service_fn(move |request: http::Request<Body>| async move {
        let (code, body) = if request.uri().path() == "/apis/omkc.dev/v1alpha1" {
            let resources: Vec<_> = (discovered.iter())
                .map(|name| {
                    serde_json::json!({"name": name, "namespaced": true, "kind": "K",
                                               "singularName": "", "verbs": ["list"]})
                })
                .collect();
            let list = serde_json::json!({"kind": "APIResourceList",
                "groupVersion": "omkc.dev/v1alpha1", "resources": resources});
            (if discovered.is_empty() { 404 } else { 200 }, list)
        } else {
            let status = serde_json::json!({"kind": "Status", "apiVersion": "v1",
                "status": "Failure", "message": "no", "reason": "x", "code": list});
            (list, status)
        };
        let response = http::Response::builder().status(code);
        Ok::<_, std::convert::Infallible>(
            response
                .body(Body::from(body.to_string().into_bytes()))
                .unwrap(),
        )
    });
    Client::new(service, "default")
}

#[tokio::test]
async fn the_crd_is_missing_only_when_discovery_shows_no_resources_of_ours() {
    let said = async |list, discovered| {
        can_list(&answering(list, discovered), "https://k8s", None)
            .await
            .unwrap_err()
    };
    let connections_only = &["clusterkeycloakconnections"];
    assert!(
        said(404, connections_only)
            .await
            .starts_with("the CRDs are not installed")
    );
    let both = &["openmetadatakeycloakclients", "clusterkeycloakconnections"];
    assert!(
        said(404, both)
            .await
            .starts_with("the Kubernetes API answered 404")
    );
    // A refusal is RBAC's, whatever discovery would say.
    assert!(said(403, &[]).await.starts_with("RBAC forbids listing"));
}
