//! Events on the custom resources (`events.k8s.io/v1`). Best effort: a failure to publish is
//! logged and never fails a reconcile.
//!
//! An Event that repeats exactly (same object, type, reason and note) within an hour becomes a
//! series (`series.count` patched) instead of a new object. Unlike kube's recorder, the note
//! is part of that identity: a repeated reason with a new note is a new Event, so an Event
//! never shows a stale first message.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use k8s_openapi::{
    api::{
        core::v1::ObjectReference,
        events::v1::{Event, EventSeries},
    },
    apimachinery::pkg::apis::meta::v1::MicroTime,
    jiff::Timestamp,
};
use kube::{
    Api, Client, Resource,
    api::{Patch, PatchParams, PostParams},
    core::ObjectMeta,
};
use tracing::{debug, warn};

use crate::{
    crd::OpenMetadataKeycloakClient,
    names::OPERATOR_NAME,
    reason::{Class, Reason},
    sync::Locked,
};

/// Longest Event note, in bytes (the API server refuses notes over 1 kB).
const MAX_NOTE: usize = 1000;
/// How long an Event can grow into a series.
const SERIES_WINDOW: Duration = Duration::from_secs(3600);

/// Normal or Warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// Something changed as asked.
    Normal,
    /// Something needs attention.
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct SeriesKey {
    uid: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    type_: EventType,
    reason: Reason,
    note: String,
}

struct Published {
    name: String,
    count: i32,
    last: Instant,
}

/// The Events published lately, each until [`SERIES_WINDOW`] has passed since it last repeated.
#[derive(Default)]
struct Series(HashMap<SeriesKey, Published>);

impl Series {
    /// At `now`: the name and new count of the Event `key` repeats, if it is still in its
    /// window (forgetting those that are not).
    fn repeat(&mut self, key: &SeriesKey, now: Instant) -> Option<(String, i32)> {
        self.0
            .retain(|_, p| now.saturating_duration_since(p.last) < SERIES_WINDOW);
        self.0.get_mut(key).map(|p| {
            p.count += 1;
            p.last = now;
            (p.name.clone(), p.count)
        })
    }

    /// Remembers an Event just created at `now`.
    fn created(&mut self, key: SeriesKey, name: String, now: Instant) {
        let published = Published {
            name,
            count: 1,
            last: now,
        };
        self.0.insert(key, published);
    }
}

/// The type of an Event with `reason`: Normal for what went as asked (a change, Ready), Warning
/// for what did not (a refusal, a failure, something left behind).
pub fn type_of(reason: Reason) -> EventType {
    match reason.class() {
        Class::Ready | Class::Change => EventType::Normal,
        Class::Permanent | Class::Transient | Class::Warning => EventType::Warning,
    }
}

/// Publishes Events as this operator (and this pod, when `POD_NAME` is set).
pub struct Publisher {
    client: Client,
    instance: String,
    series: Mutex<Series>,
}

impl Publisher {
    /// A publisher on `client`.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            instance: std::env::var("POD_NAME").unwrap_or_else(|_| OPERATOR_NAME.to_string()),
            series: Mutex::default(),
        }
    }

    /// Publishes an Event about `obj`: Normal for a change, Warning for everything else (its
    /// type comes from the reason's class, never from the caller).
    pub async fn publish(&self, obj: &OpenMetadataKeycloakClient, reason: Reason, note: &str) {
        self.publish_to(obj.object_ref(&()), type_of(reason), reason, note)
            .await;
    }

    /// Publishes a Warning about an object known only by its metadata (one that failed to parse).
    pub async fn publish_for_meta(&self, meta: &ObjectMeta, reason: Reason, note: &str) {
        let reference = ObjectReference {
            api_version: Some(OpenMetadataKeycloakClient::api_version(&()).into()),
            kind: Some(OpenMetadataKeycloakClient::kind(&()).into()),
            name: meta.name.clone(),
            namespace: meta.namespace.clone(),
            uid: meta.uid.clone(),
            resource_version: meta.resource_version.clone(),
            ..Default::default()
        };
        self.publish_to(reference, type_of(reason), reason, note)
            .await;
    }

    async fn publish_to(
        &self,
        regarding: ObjectReference,
        type_: EventType,
        reason: Reason,
        note: &str,
    ) {
        let note = truncate(note, MAX_NOTE);
        let namespace = regarding.namespace.clone().unwrap_or_default();
        let key = SeriesKey {
            uid: regarding.uid.clone(),
            namespace: regarding.namespace.clone(),
            name: regarding.name.clone(),
            type_,
            reason,
            note: note.clone(),
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        let now = Timestamp::now();
        let repeat = self.series.locked().repeat(&key, Instant::now());
        let result = match repeat {
            Some((name, count)) => {
                let patch = serde_json::json!({"series": EventSeries {
                    count,
                    last_observed_time: MicroTime(now),
                }});
                api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map(drop)
            }
            None => {
                let name = format!(
                    "{}.{:x}",
                    regarding.name.as_deref().unwrap_or("omkc"),
                    now.as_nanosecond()
                );
                let event = Event {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        namespace: Some(namespace.clone()),
                        ..Default::default()
                    },
                    event_time: Some(MicroTime(now)),
                    action: Some("Reconcile".into()),
                    reason: Some(reason.as_str().into()),
                    note: Some(note),
                    type_: Some(type_.as_str().into()),
                    regarding: Some(regarding),
                    reporting_controller: Some(OPERATOR_NAME.into()),
                    reporting_instance: Some(self.instance.clone()),
                    ..Default::default()
                };
                let created = api.create(&PostParams::default(), &event).await;
                if created.is_ok() {
                    self.series.locked().created(key, name, Instant::now());
                }
                created.map(drop)
            }
        };
        match result {
            Ok(()) => {}
            // A namespace being deleted takes no new objects, Events included: nothing to warn
            // about while its resources are cleaned up (seen on a real API server).
            Err(kube::Error::Api(s)) if namespace_terminating(&s) => {
                debug!("event {reason} not recorded: the namespace is being deleted")
            }
            Err(e) => warn!("could not publish event {reason}: {e}"),
        }
    }
}

/// Whether the API server refused a write because its namespace is being deleted (the
/// NamespaceLifecycle admission's `NamespaceTerminating` cause).
fn namespace_terminating(status: &kube::core::Status) -> bool {
    let causes = status.details.iter().flat_map(|d| &d.causes);
    status.code == 403
        && causes
            .into_iter()
            .any(|c| c.reason == "NamespaceTerminating")
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

    /// A real kube-apiserver's (1.34) answer to an Event in a namespace being deleted, and an
    /// RBAC refusal, which still warns.
    #[test]
    fn a_namespace_being_deleted_is_told_from_other_refusals() {
        let terminating: kube::core::Status = serde_json::from_value(serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "events.events.k8s.io \"e1\" is forbidden: unable to create new content in namespace term-x because it is being terminated",
            "reason": "Forbidden",
            "details": {"name": "e1", "group": "events.k8s.io", "kind": "events", "causes": [
                {"reason": "NamespaceTerminating", "message": "namespace term-x is being terminated",
                 "field": "metadata.namespace"}
            ]},
            "code": 403
        }))
        .unwrap();
        assert!(namespace_terminating(&terminating));
        let rbac: kube::core::Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "reason": "Forbidden", "code": 403,
            "message": "events.events.k8s.io is forbidden: User \"x\" cannot create resource \"events\"",
            "details": {"group": "events.k8s.io", "kind": "events"}
        }))
        .unwrap();
        assert!(!namespace_terminating(&rbac));
    }

    #[test]
    fn an_events_type_comes_from_its_reasons_class() {
        for reason in Reason::ALL {
            let normal = matches!(reason.class(), Class::Ready | Class::Change);
            assert_eq!(type_of(*reason) == EventType::Normal, normal, "{reason}");
        }
        assert_eq!(type_of(Reason::ClientCreated), EventType::Normal);
        assert_eq!(type_of(Reason::ClientOrphaned), EventType::Warning);
        assert_eq!(type_of(Reason::KeycloakUnavailable), EventType::Warning);
        assert_eq!(type_of(Reason::MalformedResource), EventType::Warning);
    }

    #[test]
    fn an_event_repeats_as_a_series_until_an_hour_after_its_last_repeat() {
        let key = |note: &str| SeriesKey {
            uid: Some("uid-1".into()),
            namespace: Some("ns".into()),
            name: Some("om".into()),
            type_: EventType::Warning,
            reason: Reason::KeycloakUnavailable,
            note: note.into(),
        };
        let t0 = Instant::now();
        let ms = Duration::from_millis(1);
        let mut series = Series::default();
        assert_eq!(series.repeat(&key("down"), t0), None, "never published");
        series.created(key("down"), "om.1".into(), t0);
        assert_eq!(series.repeat(&key("other note"), t0), None);
        let second = t0 + SERIES_WINDOW - ms;
        assert_eq!(
            series.repeat(&key("down"), second),
            Some(("om.1".into(), 2))
        );
        // The window runs from the last repeat.
        let third = second + SERIES_WINDOW - ms;
        assert_eq!(series.repeat(&key("down"), third), Some(("om.1".into(), 3)));
        assert_eq!(series.repeat(&key("down"), third + SERIES_WINDOW), None);
        assert!(series.0.is_empty(), "forgotten once its window has passed");
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h…");
        assert_eq!(truncate("short", 10), "short");
    }
}
