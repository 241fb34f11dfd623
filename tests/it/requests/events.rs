//! The fake refuses what a real API server refuses of an `events.k8s.io/v1` Event, so that the
//! operator's Events are checked as a cluster would take them (`stored_event`). The same table
//! runs against a real API server (`real_kubernetes`), with the operator's ServiceAccount.

use super::*;
use crate::both_apiservers;
use crate::support::has;
use k8s_openapi::api::events::v1::Event;
use kube::{
    Api,
    api::{Patch, PatchParams, PostParams},
};

/// An Event in namespace `ns` as the API server takes it.
fn valid(name: &str, ns: &str) -> Value {
    json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": name, "namespace": ns},
        "eventTime": "2026-12-03T00:00:00.000000Z",
        "type": "Normal", "reason": "ClientCreated", "action": "Reconcile", "note": "created",
        "reportingController": "openmetadata-keycloak-operator",
        "reportingInstance": "omkc-0",
        "regarding": {"kind": "OpenMetadataKeycloakClient", "namespace": ns, "name": "openmetadata"}
    })
}

/// The API server's answer to creating `event`: `Ok` or its code and message.
async fn create(api: &Api<Event>, event: Value) -> Result<(), (u16, String)> {
    let event: Event = serde_json::from_value(event).unwrap();
    match api.create(&PostParams::default(), &event).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) => Err((s.code, s.message)),
        Err(e) => panic!("{e}"),
    }
}

both_apiservers!(an_event_a_real_api_server_refuses_is_refused, |cluster| {
    let ns = cluster.namespace();
    let valid = |name: &str| valid(name, ns);
    let api: Api<Event> = Api::namespaced(cluster.operator(), ns);
    create(&api, valid("ok")).await.unwrap();
    // [the field, its value, what the API server says]
    let refused = json!([
        ["eventTime", null, "eventTime: Required value"],
        ["type", "Info", "type: Invalid value"],
        ["action", null, "action: Required value"],
        ["reason", null, "reason: Required value"],
        ["reportingController", null, "reportingController: Required value"],
        ["reportingController", "omkc dev", "reportingController: Invalid value"],
        ["reportingInstance", null, "reportingInstance: Required value"],
        ["reportingInstance", "i".repeat(129), "at most 128 characters"],
        ["note", "n".repeat(1025), "at most 1024 characters"],
        ["regarding", {"kind": "OpenMetadataKeycloakClient", "name": "x"},
         "does not match event.namespace"],
        ["series", {"count": 1, "lastObservedTime": "2026-12-03T00:00:00.000000Z"}, "series.count"],
        // Named as the API server's internal form names it.
        ["deprecatedCount", 3, "count: Invalid value"]
    ]);
    for (i, case) in refused.as_array().unwrap().iter().enumerate() {
        let (field, message) = (case[0].as_str().unwrap(), case[2].as_str().unwrap());
        let mut event = valid(&format!("refused-{i}"));
        event[field] = case[1].clone();
        let (code, said) = create(&api, event).await.unwrap_err();
        assert_eq!(code, 422, "{field}: {said}");
        assert!(said.contains(message), "{field}: {said}");
    }
    // A deprecated field at its zero value is unset, as Go sees it.
    let mut zero = valid("zero");
    zero["deprecatedCount"] = json!(0);
    create(&api, zero).await.unwrap();
    assert_eq!(
        cluster.events().await.len(),
        2,
        "only the valid Events are kept"
    );

    // An update may add a series, never change what the Event said.
    let patch = |body: Value| {
        let api = api.clone();
        async move {
            api.patch("ok", &PatchParams::default(), &Patch::Merge(body))
                .await
                .map(drop)
        }
    };
    let series = json!({"series": {"count": 2, "lastObservedTime": "2026-12-03T00:01:00.000000Z"}});
    patch(series).await.unwrap();
    let Err(kube::Error::Api(s)) = patch(json!({"note": "another"})).await else {
        panic!("a note changed")
    };
    assert_eq!(s.code, 422);
    has(
        &s.message,
        r#"message: Invalid value: "another": field is immutable"#,
    );
    let Err(kube::Error::Api(s)) = patch(json!({"series": {"count": 1}})).await else {
        panic!("a series of one")
    };
    has(&s.message, "series.count");
});
