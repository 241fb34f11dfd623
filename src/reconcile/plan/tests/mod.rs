//! The plan, table by table: for each observed/desired pair, exactly which writes come out.
//! The Keycloak side here, the Kubernetes side and deletion in [`outputs`].

mod day2;
mod given;
mod kubernetes;
mod picks;

use given::Given;
mod refusals;
mod scopes;
mod sources;

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Secret;
use keycloak::types::ClientRepresentation;

use super::*;
use crate::{
    crd::OpenMetadataKeycloakClient,
    keycloak::{Scope, SecretValue},
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
    serde_saphyr::from_str(include_str!("../../../../tests/fixtures/basic.yaml")).unwrap()
}

/// The basic resource with these fields merged into its spec.
fn with_spec(spec: serde_json::Value) -> OpenMetadataKeycloakClient {
    let mut obj = serde_json::to_value(resource()).unwrap();
    json_patch::merge(&mut obj["spec"], &spec);
    serde_json::from_value(obj).unwrap()
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

/// The client with these fields merged into its representation (`null` removes one).
fn patched(mut c: ObservedClient, patch: serde_json::Value) -> ObservedClient {
    let mut rep = serde_json::to_value(&c.rep).unwrap();
    json_patch::merge(&mut rep, &patch);
    c.rep = serde_json::from_value(rep).unwrap();
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

#[derive(Default)]
struct Expect {
    body: Option<ClientRepresentation>,
    scopes: Option<Vec<&'static str>>,
    changes: Vec<Change>,
}

/// A client scope of the realm, with the id the tests give it.
fn realm_scope(name: &str) -> Scope {
    Scope {
        id: format!("{name}-id"),
        name: name.into(),
    }
}

fn keycloak_side(obj: &OpenMetadataKeycloakClient, client: &ObservedClient) -> Plan {
    keycloak_side_in(obj, client, &["email", "profile", "roles"].map(realm_scope)).unwrap()
}

/// The Keycloak side of a converged resource's pass, in a realm with these client scopes.
fn keycloak_side_in(
    obj: &OpenMetadataKeycloakClient,
    client: &ObservedClient,
    realm_scopes: &[Scope],
) -> Result<Plan, Error> {
    let v = validate(obj, INSTALLATION).unwrap();
    let secret = output(&v, "s3cr3t");
    Given {
        issuer: ISSUER,
        client: Some(client),
        secret: Some(&secret),
        adoption_allowed: true,
        realm_scopes,
        ..Default::default()
    }
    .pass(&converged(obj, "u-1"), &v)
}

#[test]
fn the_keycloak_writes_for_each_observation() {
    let basic = resource();
    let v = validate(&basic, INSTALLATION).unwrap();
    let reported = as_keycloak_reports(&v, "u-1");
    let authz_off =
        with_spec(serde_json::json!({"client": {"authorizationServicesEnabled": false}}));
    let adopting = with_spec(serde_json::json!({"client": {"adoptExisting": true}}));

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
            Expect::default(),
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
            Expect::default(),
        ),
        (
            "drifted: exactly the drifted fields are sent",
            &basic,
            edited(reported.clone(), |c| {
                c.public_client = Some(true);
                c.redirect_uris = Some(vec!["https://evil.example/*".into()]);
            }),
            Expect {
                body: Some(drifted_body.clone()),
                scopes: None,
                changes: vec![updated(vec![
                    ClientField::PublicClient,
                    ClientField::RedirectUris,
                ])],
            },
        ),
        (
            "drifted, with authorization settings and a service account the spec does not mention: both kept (up to 26.0 a PUT without serviceAccountsEnabled: true removed the service-account user)",
            &basic,
            edited(reported.clone(), |c| {
                c.public_client = Some(true);
                c.redirect_uris = Some(vec!["https://evil.example/*".into()]);
                c.authorization_services_enabled = Some(true);
                c.service_accounts_enabled = Some(true);
            }),
            Expect {
                body: Some(ClientRepresentation {
                    authorization_services_enabled: Some(true),
                    service_accounts_enabled: Some(true),
                    ..drifted_body.clone()
                }),
                scopes: None,
                changes: vec![updated(vec![
                    ClientField::PublicClient,
                    ClientField::RedirectUris,
                ])],
            },
        ),
        (
            "authorization explicitly off and present: turned off, as asked",
            &authz_off,
            edited(reported.clone(), |c| {
                c.authorization_services_enabled = Some(true)
            }),
            Expect {
                body: Some(ClientRepresentation {
                    authorization_services_enabled: Some(false),
                    ..Default::default()
                }),
                scopes: None,
                changes: vec![updated(vec![ClientField::AuthorizationServicesEnabled])],
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
                body: None,
                scopes: Some(vec!["email"]),
                changes: vec![scopes_added(&["email"])],
            },
        ),
        (
            "made by hand, adoption asked: marked as adopted, nothing else touched",
            &adopting,
            with_owner(reported.clone(), None),
            Expect {
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
                changes: vec![adopted(), updated(vec![ClientField::Attributes])],
            },
        ),
    ];
    for (name, obj, client, expect) in cases {
        // The Secret already holds the secret and the status is unchanged: Keycloak alone.
        let uuid = || "u-1".to_string();
        // An update is read back before anything else: a client policy may change it back.
        let then = match expect.body {
            Some(_) => Then::ObserveAgain,
            None => Then::Done(None),
        };
        let mut writes = Vec::new();
        // Every update says the three fields a realm's client policies read.
        let managed = || desired::managed_attributes(&validate(obj, INSTALLATION).unwrap());
        writes.extend(expect.body.map(|body| Write::UpdateClient {
            uuid: uuid(),
            body: Body(ClientRepresentation {
                implicit_flow_enabled: Some(false),
                client_authenticator_type: Some("client-secret".into()),
                attributes: body.attributes.clone().or_else(|| Some(managed())),
                ..body
            }),
        }));
        writes.extend(expect.scopes.map(|s| Write::AddScopes {
            uuid: uuid(),
            scopes: s.iter().map(|n| realm_scope(n)).collect(),
            from_optional: vec![],
        }));
        let want = Plan {
            writes,
            changes: expect.changes,
            then,
        };
        assert_eq!(keycloak_side(obj, &client), want, "{name}");
    }
}

fn updated(fields: Vec<ClientField>) -> Change {
    Change::ClientUpdated {
        client_id: "openmetadata".into(),
        fields,
    }
}

fn scopes_added(scopes: &[&str]) -> Change {
    Change::ScopesAdded {
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
    }
}

fn adopted() -> Change {
    Change::ClientAdopted {
        client_id: "openmetadata".into(),
    }
}

#[test]
fn a_missing_client_is_created_and_read_back_before_anything_else() {
    let obj = resource();
    let v = validate(&obj, INSTALLATION).unwrap();
    // The secret is not known before the read-back: nothing for Kubernetes yet.
    assert_eq!(
        Given::default().pass(&obj, &v).unwrap(),
        Plan {
            writes: vec![Write::CreateClient(Body(desired::desired_client(&v)))],
            changes: vec![Change::ClientCreated {
                client_id: "openmetadata".into(),
                realm: "data-sec".into()
            }],
            then: Then::ObserveAgain,
        }
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
    let planned = Given {
        issuer: ISSUER,
        client: Some(&client),
        secret: Some(&secret),
        ..Default::default()
    }
    .pass(&converged(&obj, "u-1"), &v)
    .unwrap();
    assert_eq!(
        planned,
        Plan {
            writes: vec![],
            changes: vec![],
            then: Then::Done(None),
        }
    );
}
