//! The output Secret (pure): what it holds and whether what is there already holds it.

use std::collections::BTreeMap;

use k8s_openapi::{
    ByteString,
    api::core::v1::Secret,
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference},
};

use crate::{
    names::{MANAGED_BY_LABEL, OPERATOR_NAME, ROTATED_FOR_ANNOTATION, ROTATING_FOR_ANNOTATION},
    validate::Validated,
};

/// The rotation bookkeeping kept on the output Secret (state lives in the API server, so a
/// restart or a new leader picks it up).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RotationMarks {
    /// The last `omkc.dev/rotate` token carried out.
    pub rotated_for: Option<String>,
    /// A token whose rotation is under way: marked before the new secret is generated.
    pub rotating_for: Option<String>,
}

impl RotationMarks {
    /// The marks an existing Secret carries.
    pub fn of(secret: &Secret) -> Self {
        let get = |key: &str| {
            secret
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(key))
                .cloned()
        };
        Self {
            rotated_for: get(ROTATED_FOR_ANNOTATION),
            rotating_for: get(ROTATING_FOR_ANNOTATION),
        }
    }
}

/// Labels of the output Secret: the user's extra labels plus the operator's marker. Nothing is
/// copied from the resource's own labels (Argo CD's tracking label would claim the Secret).
pub fn secret_labels(v: &Validated) -> BTreeMap<String, String> {
    let mut labels = v.secret.labels.clone();
    labels.insert(MANAGED_BY_LABEL.into(), OPERATOR_NAME.into());
    labels
}

/// The owner reference of what the resource writes (its Secret, its values ConfigMap).
pub fn owner_reference(v: &Validated) -> OwnerReference {
    crate::crd::owner::reference(&v.name, &v.uid)
}

/// The output Secret for server-side apply, owned by the resource (garbage-collected with it).
pub fn output_secret(v: &Validated, client_secret: &str, marks: &RotationMarks) -> Secret {
    let owner = owner_reference(v);
    let mut annotations = v.secret.annotations.clone();
    for (key, value) in [
        (ROTATED_FOR_ANNOTATION, &marks.rotated_for),
        (ROTATING_FOR_ANNOTATION, &marks.rotating_for),
    ] {
        if let Some(value) = value {
            annotations.insert(key.into(), value.clone());
        }
    }
    Secret {
        metadata: ObjectMeta {
            name: Some(v.secret.name.clone()),
            namespace: Some(v.namespace.clone()),
            labels: Some(secret_labels(v)),
            annotations: (!annotations.is_empty()).then_some(annotations),
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([
            (
                v.secret.client_id_key.clone(),
                ByteString(v.client_id.clone().into_bytes()),
            ),
            (
                v.secret.client_secret_key.clone(),
                ByteString(client_secret.as_bytes().to_vec()),
            ),
        ])),
        ..Default::default()
    }
}

/// Whether every entry of `want` is in `have` with the same value (entries others added are
/// not ours to judge).
pub(super) fn subset<V: PartialEq>(
    want: &Option<BTreeMap<String, V>>,
    have: &Option<BTreeMap<String, V>>,
) -> bool {
    want.iter()
        .flatten()
        .all(|(k, v)| have.as_ref().and_then(|h| h.get(k)) == Some(v))
}

/// Whether `observed` already holds everything `desired` sets: the data keys with their values,
/// the labels, annotations and type, and exactly the rotation marks `desired` has. Keys, labels
/// and annotations others added are not ours to judge; the owner is judged before (the plan
/// refuses a Secret this resource does not own).
pub fn secret_holds(observed: &Secret, desired: &Secret) -> bool {
    subset(&desired.data, &observed.data)
        && subset(&desired.metadata.labels, &observed.metadata.labels)
        && subset(
            &desired.metadata.annotations,
            &observed.metadata.annotations,
        )
        && RotationMarks::of(observed) == RotationMarks::of(desired)
        && observed.type_.as_deref().unwrap_or("Opaque")
            == desired.type_.as_deref().unwrap_or("Opaque")
}
