//! The status to publish (pure): Ready with its reason, and what is known about the client.
//! Deterministic: the transition time only moves when Ready flips, so an unchanged status is
//! equal to the previous one and is not written again. The time is given (`now`, epoch
//! seconds), never read here.

use k8s_openapi::{
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};

use super::desired;
use crate::{
    crd::{OpenMetadataKeycloakClient, OpenMetadataKeycloakClientStatus},
    reason::Reason,
    validate::Validated,
};

/// The uuid of the client this resource's status recorded, if any.
pub fn known_uuid(obj: &OpenMetadataKeycloakClient) -> Option<&str> {
    obj.status.as_ref().and_then(|s| s.client_uuid.as_deref())
}

fn condition(
    obj: &OpenMetadataKeycloakClient,
    ready: bool,
    reason: Reason,
    message: &str,
    now: i64,
) -> Condition {
    let status = if ready { "True" } else { "False" };
    let old = obj
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"));
    let last_transition_time = match old {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => Time(Timestamp::from_second(now).unwrap_or(Timestamp::UNIX_EPOCH)),
    };
    Condition {
        type_: "Ready".into(),
        status: status.into(),
        reason: reason.as_str().into(),
        message: message.into(),
        observed_generation: obj.metadata.generation,
        last_transition_time,
    }
}

/// Status after a successful convergence (the secret's life is added by the plan).
pub fn ready(
    obj: &OpenMetadataKeycloakClient,
    v: &Validated,
    client_uuid: &str,
    issuer: &str,
    now: i64,
) -> OpenMetadataKeycloakClientStatus {
    OpenMetadataKeycloakClientStatus {
        observed_generation: obj.metadata.generation,
        conditions: vec![condition(
            obj,
            true,
            Reason::Reconciled,
            &format!(
                "client {:?} is in sync in realm {:?}; credentials are in Secret {:?}",
                v.client_id, v.realm, v.secret.name
            ),
            now,
        )],
        client_id: Some(v.client_id.clone()),
        client_uuid: Some(client_uuid.to_string()),
        secret_name: Some(v.secret.name.clone()),
        openmetadata: Some(desired::openmetadata_values(v, issuer)),
        secret: None,
    }
}

/// Status after a failure: what was known stays, Ready turns False with the reason.
pub fn failed(
    obj: &OpenMetadataKeycloakClient,
    reason: Reason,
    message: &str,
    now: i64,
) -> OpenMetadataKeycloakClientStatus {
    OpenMetadataKeycloakClientStatus {
        observed_generation: obj.metadata.generation,
        conditions: vec![condition(obj, false, reason, message, now)],
        ..obj.status.clone().unwrap_or_default()
    }
}

/// The status to write, or `None` when the object already carries it.
pub fn to_write(
    obj: &OpenMetadataKeycloakClient,
    status: OpenMetadataKeycloakClientStatus,
) -> Option<OpenMetadataKeycloakClientStatus> {
    (obj.status.as_ref() != Some(&status)).then_some(status)
}
