//! A namespace being deleted: a reconcile that fails in it is news, not a warning, and a
//! resource in it is left to its own deletion.

use super::*;
use crate::both_apiservers;
use crate::support::{has, lacks};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

fn namespace(deleting: bool) -> Value {
    let mut namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}});
    if deleting {
        namespace["metadata"]["deletionTimestamp"] = json!("2026-12-04T00:00:00Z");
    }
    namespace
}

/// A real namespace deletion removes the credentials Secret before the resource: the failed
/// reconcile in between is said at INFO, not warned about (the e2e suite checks that the
/// operator warns about nothing while it deletes a whole namespace). Whether the watch has
/// shown the deletion yet does not matter: a failure on the Kubernetes side reads the
/// namespace. A failure in Keycloak is a warning all the same: a deleted resource's finalizer
/// holds the namespace until Keycloak is back.
#[tokio::test]
async fn a_failure_while_the_namespace_is_deleted_is_not_a_warning() {
    let emu = Emulator::start().await;
    let retained = |o: &mut OpenMetadataKeycloakClient| {
        deleting(o);
        o.spec.deletion_policy = Some(DeletionPolicy::Retain);
    };
    type Edit = fn(&mut OpenMetadataKeycloakClient);
    // (the resource, what the watch shows, what the API server holds, whether Keycloak is
    // down, the failure, INFO rather than WARN, the namespace read)
    let cases: [(Edit, bool, bool, bool, &str, bool, bool); 5] = [
        (
            finalized,
            false,
            false,
            false,
            "CredentialsNotFound",
            false,
            true,
        ),
        (
            finalized,
            false,
            true,
            false,
            "CredentialsNotFound",
            true,
            true,
        ),
        // Released without asking Keycloak; the finalizer's removal is refused (below).
        (
            retained,
            true,
            true,
            false,
            "KubernetesRejected",
            true,
            false,
        ),
        (
            deleting,
            true,
            true,
            true,
            "KeycloakUnavailable",
            false,
            false,
        ),
        (
            finalized,
            false,
            true,
            true,
            "KeycloakUnavailable",
            false,
            false,
        ),
    ];
    for (edit, cached, stored, keycloak_down, expected, said, read) in cases {
        let obj = resource(&emu.base_url, edit);
        let (ctx, api) = setup(&obj, keycloak_down).await;
        if keycloak_down {
            emu.stop(); // the last cases
        }
        if obj.spec.deletion_policy.is_some() {
            api.forbid(&format!("PATCH {CRS}"));
        }
        api.put(namespace(stored));
        ctx.namespaces
            .insert(serde_json::from_value(namespace(cached)).unwrap());
        let (logs, _captured) = crate::support::Logs::capture();
        let err = measured_reconcile(guard(&obj), ctx.clone())
            .await
            .unwrap_err();
        error_policy(guard(&obj), &err, ctx.clone());
        let text = logs.text();
        let case = format!("{expected}, cached {cached}, stored {stored}");
        assert_eq!(err.reason().to_string(), expected, "{case}: {err}");
        assert_eq!(text.contains(" WARN "), !said, "{case}: {text}");
        assert_eq!(
            text.contains("the namespace is being deleted"),
            said,
            "{case}: {text}"
        );
        let reads = calls(&api, 0).contains(&format!("GET /api/v1/namespaces/{NS}"));
        assert_eq!(reads, read, "{case}: namespace read");
    }
}

#[tokio::test]
async fn nothing_is_made_for_a_resource_whose_namespace_is_being_deleted() {
    // Its deletion comes next. A finalizer, a client, a Secret made now would only have to be
    // undone (the Secret is refused anyway); and with Keycloak down, a finalizer added now
    // would hold the namespace until Keycloak is back.
    for finalizer in [false, true] {
        let emu = Emulator::start().await;
        let obj = resource(&emu.base_url, |o| {
            if finalizer {
                finalized(o)
            }
        });
        let (ctx, api) = setup(&obj, true).await;
        api.put(namespace(true));
        ctx.namespaces
            .insert(serde_json::from_value(namespace(true)).unwrap());
        let (logs, _captured) = crate::support::Logs::capture();
        let action = measured_reconcile(guard(&obj), ctx.clone()).await.unwrap();
        assert_eq!(action, Action::await_change(), "finalizer {finalizer}");
        let text = logs.text();
        has(
            &text,
            "the namespace is being deleted: waiting for the resource's deletion",
        );
        lacks(&text, " WARN ");
        assert_eq!(
            calls(&api, 0),
            Vec::<String>::new(),
            "finalizer {finalizer}"
        );
        assert!(emu.log().is_empty(), "nothing reached Keycloak");
        let stored = api.get(CRS, NS, "openmetadata").unwrap();
        assert_eq!(
            stored["metadata"]["finalizers"],
            if finalizer {
                json!([FINALIZER])
            } else {
                Value::Null
            },
            "the finalizer as it was"
        );
    }
}

both_apiservers!(
    /// A namespace being deleted takes no new object (the NamespaceLifecycle admission), and a
    /// reconcile that fails in it (its credentials Secret gone first) is news, not a warning,
    /// although the operator's caches have not seen the deletion: it reads the namespace, and
    /// its Event is refused quietly.
    a_reconcile_in_a_namespace_being_deleted_is_not_a_warning,
    |cluster| {
        let ns = cluster.namespace();
        let emu = Emulator::start().await;
        let obj = resource(&emu.base_url, |o| {
            finalized(o);
            o.metadata.namespace = Some(ns.to_string());
        });
        // Its finalizer keeps the namespace terminating: no operator runs to release it.
        cluster.create(serde_json::to_value(&obj).unwrap()).await;
        cluster.delete_namespace().await;
        let late = serde_json::from_value(json!({"metadata": {"name": "late"}})).unwrap();
        let refused = Api::<Secret>::namespaced(cluster.admin(), ns)
            .create(&Default::default(), &late)
            .await;
        let Err(kube::Error::Api(status)) = refused else {
            panic!("created in a namespace being deleted: {refused:?}")
        };
        assert_eq!(status.code, 403, "{status:?}");
        assert!(
            status.message.ends_with(&format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            )),
            "{status:?}"
        );
        let causes = status.details.map(|d| d.causes).unwrap_or_default();
        assert_eq!(causes[0].reason, "NamespaceTerminating", "{causes:?}");

        let ctx = Context::new(
            cluster.operator(),
            Settings {
                installation: INSTALLATION.into(),
                ..Settings::default()
            },
        );
        let ctx = Arc::new(ctx);
        let (logs, _captured) = crate::support::Logs::capture();
        let err = measured_reconcile(guard(&obj), ctx.clone())
            .await
            .unwrap_err();
        error_policy(guard(&obj), &err, ctx);
        assert_eq!(err.reason(), Reason::CredentialsNotFound);
        assert!(err.during_namespace_deletion());
        let text = logs.text();
        lacks(&text, " WARN ");
        has(&text, "the namespace is being deleted");
        assert_eq!(cluster.events().await, Vec::<Value>::new(), "no Event taken");
        assert!(emu.log().is_empty(), "nothing reached Keycloak");
    }
);
