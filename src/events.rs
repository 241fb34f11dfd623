//! Events on the custom resources. Best effort: a failure to publish is logged and never fails
//! a reconcile. Reasons come from [`Reason`]; notes are bounded.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::{
    Resource,
    core::ObjectMeta,
    runtime::events::{Event, EventType},
};
use tracing::warn;

use crate::{context::Context, crd::OpenMetadataKeycloakClient, reason::Reason};

/// Longest Event note, in bytes (the API server refuses notes over 1 kB).
const MAX_NOTE: usize = 1000;

/// Publishes an Event about `obj`.
pub async fn publish(
    ctx: &Context,
    obj: &OpenMetadataKeycloakClient,
    type_: EventType,
    reason: Reason,
    note: &str,
) {
    publish_to(ctx, &obj.object_ref(&()), type_, reason, note).await;
}

/// Publishes a Warning about an object known only by its metadata (one that failed to parse).
pub async fn publish_for_meta(ctx: &Context, meta: &ObjectMeta, reason: Reason, note: &str) {
    let reference = ObjectReference {
        api_version: Some(OpenMetadataKeycloakClient::api_version(&()).into()),
        kind: Some(OpenMetadataKeycloakClient::kind(&()).into()),
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        ..Default::default()
    };
    publish_to(ctx, &reference, EventType::Warning, reason, note).await;
}

async fn publish_to(
    ctx: &Context,
    reference: &ObjectReference,
    type_: EventType,
    reason: Reason,
    note: &str,
) {
    let event = Event {
        type_,
        reason: reason.as_str().into(),
        note: Some(truncate(note, MAX_NOTE)),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, reference).await {
        warn!("could not publish event {reason}: {e}");
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary, marking the cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h…");
        assert_eq!(truncate("short", 10), "short");
    }
}
