//! The plan, table by table: for each observed/desired pair, exactly which writes come out.
//! The Keycloak side here, the Kubernetes side and deletion in [`outputs`].

mod day2;
mod outputs;
mod refusals;
mod sources;

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Secret;
use keycloak::types::ClientRepresentation;

use super::*;
use crate::{
    crd::{ClientSpec, OpenMetadataKeycloakClient},
    keycloak::SecretValue,
    names::{ADOPTED_ATTRIBUTE, OWNER_ATTRIBUTE},
    reason::Reason,
    reconcile::desired::ClientField,
    validate::validate,
};

/// The installation id of the tests.
const INSTALLATION: &str = "cluster-1";
/// The realm's issuer as browsers reach it, in the tests.
const ISSUER: &str = "http://keycloak.example:8080/realms/data-sec";

fn resource() -> OpenMetadataKeycloakClient {
    serde_yaml::from_str(include_str!("../../../../tests/fixtures/basic.yaml")).unwrap()
}

fn with_client(edit: impl FnOnce(&mut ClientSpec)) -> OpenMetadataKeycloakClient {
    let mut obj = resource();
    edit(obj.spec.client.get_or_insert_with(Default::default));
    obj
}

/// The client as Keycloak reports it after creating it from the desired state: Keycloak's own
/// attributes, the realm's default scopes, flags it always reports, no
/// `authorizationServicesEnabled` (absent unless there is a resource server), its secret.
fn as_keycloak_reports(v: &Validated, uuid: &str) -> ObservedClient {
    let mut c = desired::desired_client(v);
    c.id = Some(uuid.into());
    let attributes = c.attributes.get_or_insert_with(HashMap::new);
    attributes.insert("realm_client".into(), "false".into());
    attributes.insert(
        "client.secret.creation.time".into(),
        SECRET_CREATED.to_string(),
    );
    attributes.insert("backchannel.logout.session.required".into(), "true".into());
    c.service_accounts_enabled = Some(c.service_accounts_enabled.unwrap_or(false));
    c.authorization_services_enabled = c.authorization_services_enabled.filter(|on| *on);
    c.consent_required = Some(false);
    c.default_client_scopes = Some(
        ["web-origins", "acr", "profile", "roles", "basic", "email"]
            .map(String::from)
            .to_vec(),
    );
    c.secret = Some("s3cr3t".into());
    ObservedClient::new(c)
}

fn with_owner(mut c: ObservedClient, owner: Option<&str>) -> ObservedClient {
    let attributes = c.rep.attributes.get_or_insert_with(HashMap::new);
    match owner {
        Some(o) => attributes.insert(OWNER_ATTRIBUTE.into(), o.into()),
        None => attributes.remove(OWNER_ATTRIBUTE),
    };
    c
}

fn edited(mut c: ObservedClient, edit: impl FnOnce(&mut ClientRepresentation)) -> ObservedClient {
    edit(&mut c.rep);
    c
}

/// The output Secret as the operator writes it, holding `value`.
fn output(v: &Validated, value: &str) -> Secret {
    desired::output_secret(v, value, &desired::RotationMarks::default())
}

/// A resource that already carries the status a converged plan computes.
fn converged(obj: &OpenMetadataKeycloakClient, uuid: &str) -> OpenMetadataKeycloakClient {
    let v = validate(obj, INSTALLATION).unwrap();
    let mut obj = obj.clone();
    let mut status = crate::reconcile::status::ready(&obj, &v, uuid, ISSUER, 0);
    status.secret = Some(crate::crd::SecretStatus {
        last_changed: Some(SECRET_CREATED_RFC3339.into()),
        ..Default::default()
    });
    obj.status = Some(status);
    obj
}

/// When Keycloak made the secret of [`as_keycloak_reports`]: epoch seconds, and RFC 3339.
const SECRET_CREATED: i64 = 1_764_547_200;
const SECRET_CREATED_RFC3339: &str = "2025-12-01T00:00:00Z";

struct Expect {
    updated: Option<Vec<ClientField>>,
    body: Option<ClientRepresentation>,
    scopes: Option<Vec<&'static str>>,
    changes: Vec<Reason>,
}

fn keycloak_side(obj: &OpenMetadataKeycloakClient, client: &ObservedClient) -> Plan {
    let v = validate(obj, INSTALLATION).unwrap();
    let secret = output(&v, "s3cr3t");
    plan(
        &converged(obj, "u-1"),
        &v,
        Observed {
            issuer: ISSUER,
            known_uuid: None,
            client: Some(client),
            secret: Some(&secret),
            previous_secrets: &[],
            adoption_allowed: true,
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn the_keycloak_writes_for_each_observation() {
    let basic = resource();
    let v = validate(&basic, INSTALLATION).unwrap();
    let reported = as_keycloak_reports(&v, "u-1");
    let with_authz = with_client(|c| c.authorization_services_enabled = Some(true));
    let authz_off = with_client(|c| c.authorization_services_enabled = Some(false));
    let adopting = with_client(|c| c.adopt_existing = Some(true));

    let drifted_body = ClientRepresentation {
        public_client: Some(false),
        redirect_uris: Some(vec!["https://openmetadata.example.com/callback".into()]),
        ..Default::default()
    };
    let cases: Vec<(&str, &OpenMetadataKeycloakClient, ObservedClient, Expect)> = vec![
        (
            "as Keycloak reports it after the create: nothing (absent authorization is false)",
            &basic,
            reported.clone(),
            Expect {
                updated: None,
                body: None,
                scopes: None,
                changes: vec![],
            },
        ),
        (
            "sets in another order, unmanaged fields and Keycloak's attributes: nothing",
            &basic,
            edited(reported.clone(), |c| {
                c.web_origins.as_mut().unwrap().reverse();
                c.consent_required = Some(true);
                c.attributes
                    .as_mut()
                    .unwrap()
                    .insert("custom".into(), "x".into());
                c.description = None;
            }),
            Expect {
                updated: None,
                body: None,
                scopes: None,
                changes: vec![],
            },
        ),
        (
            "drifted: exactly the drifted fields are sent",
            &basic,
            edited(reported.clone(), |c| {
                c.public_client = Some(true);
                c.redirect_uris = Some(vec!["https://evil.example/*".into()]);
            }),
            Expect {
                updated: Some(vec![ClientField::PublicClient, ClientField::RedirectUris]),
                body: Some(drifted_body.clone()),
                scopes: None,
                changes: vec![Reason::ClientUpdated],
            },
        ),
        (
            "drifted, with authorization settings and a service account the spec does not mention: both kept (before 26.0 a PUT without serviceAccountsEnabled: true removed the service-account user)",
            &basic,
            edited(reported.clone(), |c| {
                c.public_client = Some(true);
                c.redirect_uris = Some(vec!["https://evil.example/*".into()]);
                c.authorization_services_enabled = Some(true);
                c.service_accounts_enabled = Some(true);
            }),
            Expect {
                updated: Some(vec![ClientField::PublicClient, ClientField::RedirectUris]),
                body: Some(ClientRepresentation {
                    authorization_services_enabled: Some(true),
                    service_accounts_enabled: Some(true),
                    ..drifted_body.clone()
                }),
                scopes: None,
                changes: vec![Reason::ClientUpdated],
            },
        ),
        (
            "authorization asked and absent: turned on with a service account",
            &with_authz,
            edited(reported.clone(), |c| {
                c.authorization_services_enabled = None
            }),
            Expect {
                updated: Some(vec![
                    ClientField::ServiceAccountsEnabled,
                    ClientField::AuthorizationServicesEnabled,
                ]),
                body: Some(ClientRepresentation {
                    service_accounts_enabled: Some(true),
                    authorization_services_enabled: Some(true),
                    ..Default::default()
                }),
                scopes: None,
                changes: vec![Reason::ClientUpdated],
            },
        ),
        (
            "authorization explicitly off and present: turned off, as asked",
            &authz_off,
            edited(reported.clone(), |c| {
                c.authorization_services_enabled = Some(true)
            }),
            Expect {
                updated: Some(vec![ClientField::AuthorizationServicesEnabled]),
                body: Some(ClientRepresentation {
                    authorization_services_enabled: Some(false),
                    ..Default::default()
                }),
                scopes: None,
                changes: vec![Reason::ClientUpdated],
            },
        ),
        (
            "a required default scope missing: added, nothing else",
            &basic,
            edited(reported.clone(), |c| {
                c.default_client_scopes
                    .as_mut()
                    .unwrap()
                    .retain(|s| s != "email")
            }),
            Expect {
                updated: None,
                body: None,
                scopes: Some(vec!["email"]),
                changes: vec![Reason::ScopesAdded],
            },
        ),
        (
            "made by hand, adoption asked: marked as adopted, nothing else touched",
            &adopting,
            with_owner(reported.clone(), None),
            Expect {
                updated: Some(vec![ClientField::Attributes]),
                body: Some(ClientRepresentation {
                    attributes: Some({
                        let mut a = desired::managed_attributes(
                            &validate(&adopting, INSTALLATION).unwrap(),
                        );
                        a.insert(ADOPTED_ATTRIBUTE.into(), "true".into());
                        a
                    }),
                    ..Default::default()
                }),
                scopes: None,
                changes: vec![Reason::ClientAdopted, Reason::ClientUpdated],
            },
        ),
    ];
    for (name, obj, client, expect) in cases {
        let planned = keycloak_side(obj, &client);
        let mut updates = planned.keycloak.iter().filter_map(|a| match a {
            KeycloakAction::Update { uuid, body } => Some((uuid, body)),
            _ => None,
        });
        match (&expect.body, updates.next()) {
            (None, None) => {}
            (Some(want), Some((uuid, body))) => {
                assert_eq!(uuid, "u-1", "{name}");
                assert_eq!(body, want, "{name}");
            }
            (want, got) => panic!("{name}: expected {want:?}, planned {got:?}"),
        }
        let fields = planned.changes.iter().find_map(|c| match c {
            Change::ClientUpdated { fields, .. } => Some(fields.clone()),
            _ => None,
        });
        assert_eq!(fields, expect.updated, "{name}");
        let scopes = planned.keycloak.iter().find_map(|a| match a {
            KeycloakAction::AddScopes { names, .. } => Some(names.clone()),
            _ => None,
        });
        assert_eq!(
            scopes,
            expect
                .scopes
                .map(|s| s.iter().map(|n| n.to_string()).collect()),
            "{name}"
        );
        let reasons: Vec<Reason> = planned.changes.iter().map(Change::reason).collect();
        assert_eq!(reasons, expect.changes, "{name}");
        let outputs = planned
            .outputs
            .expect("the client exists: outputs are planned");
        assert_eq!(
            outputs.secret, None,
            "{name}: the Secret already holds the secret"
        );
        assert_eq!(outputs.status, None, "{name}: the status is unchanged");
    }
}

#[test]
fn a_missing_client_is_created_and_read_back_before_anything_else() {
    let obj = resource();
    let v = validate(&obj, INSTALLATION).unwrap();
    let planned = plan(&obj, &v, Observed::default()).unwrap();
    assert_eq!(
        planned.keycloak,
        [KeycloakAction::Create(desired::desired_client(&v))]
    );
    assert_eq!(
        planned.outputs, None,
        "the secret is not known before the read-back"
    );
    assert_eq!(
        planned.changes,
        [Change::ClientCreated {
            client_id: "openmetadata".into(),
            realm: "data-sec".into()
        }]
    );
    let body = desired::desired_client(&v);
    assert_eq!(
        body.authorization_services_enabled, None,
        "left to Keycloak's default"
    );
    assert_eq!(body.service_accounts_enabled, None);
    assert_eq!(
        body.default_client_scopes, None,
        "a POST body's scopes replace the realm's"
    );
}

#[test]
fn a_converged_resource_plans_no_write_at_all() {
    let obj = resource();
    let v = validate(&obj, INSTALLATION).unwrap();
    let client = as_keycloak_reports(&v, "u-1");
    let secret = output(&v, "s3cr3t");
    let planned = plan(
        &converged(&obj, "u-1"),
        &v,
        Observed {
            issuer: ISSUER,
            known_uuid: None,
            client: Some(&client),
            secret: Some(&secret),
            previous_secrets: &[],
            ..Default::default()
        },
    )
    .unwrap();
    assert!(planned.is_empty(), "{planned:?}");
    assert!(planned.changes.is_empty());
}
