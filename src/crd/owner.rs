//! Which Kubernetes objects a resource owns: the one owner reference it puts on what it writes
//! (its output Secret, its values ConfigMap), and how such a reference is recognised. The kind
//! and API version are the CRD's own, never spelled out again.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Resource;

use super::OpenMetadataKeycloakClient;

/// The owner reference of an object the resource (`name`, `uid`) writes: as controller, so the
/// object is garbage-collected with the resource.
pub fn reference(name: &str, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: OpenMetadataKeycloakClient::api_version(&()).into(),
        kind: OpenMetadataKeycloakClient::kind(&()).into(),
        name: name.to_string(),
        uid: uid.to_string(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Whether `owner` names an OpenMetadataKeycloakClient (of any served version of the group).
fn names_a_resource(owner: &OwnerReference) -> bool {
    owner.kind == OpenMetadataKeycloakClient::kind(&())
        && owner.api_version.split('/').next() == Some(&*OpenMetadataKeycloakClient::group(&()))
}

/// Whether `obj` is owned by the resource with `uid`.
pub fn owned_by<K: Resource>(obj: &K, uid: &str) -> bool {
    obj.meta()
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.uid == uid && names_a_resource(o))
}

/// The name of the resource that controls `obj` (in `obj`'s namespace), if one does.
pub fn controller<K: Resource>(obj: &K) -> Option<&str> {
    obj.meta()
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true) && names_a_resource(o))
        .map(|o| o.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Secret;

    #[test]
    fn the_reference_it_writes_is_the_one_it_recognises() {
        let mut secret = Secret::default();
        secret.metadata.owner_references = Some(vec![reference("om", "u-1")]);
        let owner = &secret.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.api_version.as_str(), owner.kind.as_str()),
            ("omkc.dev/v1alpha1", "OpenMetadataKeycloakClient")
        );
        assert!(owned_by(&secret, "u-1"));
        assert!(!owned_by(&secret, "u-2"), "another resource's uid");
        assert_eq!(controller(&secret), Some("om"));
        // The same name and uid under another kind or group is not ours.
        for (api_version, kind) in [
            ("omkc.dev/v1alpha1", "Deployment"),
            ("example.com/v1", "OpenMetadataKeycloakClient"),
        ] {
            let mut foreign = reference("om", "u-1");
            foreign.api_version = api_version.into();
            foreign.kind = kind.into();
            secret.metadata.owner_references = Some(vec![foreign]);
            assert!(!owned_by(&secret, "u-1"), "{api_version} {kind}");
            assert_eq!(controller(&secret), None);
        }
        // Not the controller: owned, but not controlled.
        let mut plain = reference("om", "u-1");
        plain.controller = None;
        secret.metadata.owner_references = Some(vec![plain]);
        assert!(owned_by(&secret, "u-1"));
        assert_eq!(controller(&secret), None);
    }
}
