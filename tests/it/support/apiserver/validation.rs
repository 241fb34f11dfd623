//! What the API server refuses of an `events.k8s.io/v1` Event, as Kubernetes'
//! `pkg/apis/core/validation/events.go` says (`ValidateEventCreate`, `ValidateEventUpdate`,
//! `legacyValidateEvent`, `validateV1EventSeries`; its field paths are the internal type's:
//! `involvedObject` for `regarding`, `message` for `note`). A double that took any Event would
//! pass an operator whose Events a real cluster refuses, and no one would ever see them.

use axum::response::Response;
use serde_json::Value;

use super::store::is_name;

/// The fields an Event keeps for life, with the internal type's names the API server says, in
/// `ValidateEventUpdate`'s order.
const IMMUTABLE: [(&str, &str); 13] = [
    ("regarding", "involvedObject"),
    ("reason", "reason"),
    ("note", "message"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("type", "type"),
    ("eventTime", "eventTime"),
    ("action", "action"),
    ("related", "related"),
    ("reportingController", "reportingController"),
    ("reportingInstance", "reportingInstance"),
];

/// The first thing the API server refuses of the Event `object` (created when `old` is `None`,
/// else updated from `old`), said as it says it.
pub(super) fn invalid_event(object: &Value, old: Option<&Value>, name: &str) -> Option<String> {
    let refused = match old {
        None => on_create(object),
        Some(old) => on_update(object, old),
    }?;
    Some(format!(
        "Event.events.k8s.io {name:?} is invalid: {refused}"
    ))
}

fn text<'a>(object: &'a Value, field: &str) -> &'a str {
    object[field].as_str().unwrap_or_default()
}

fn on_create(event: &Value) -> Option<String> {
    if let Some(refused) = legacy(event).or_else(|| series(event)) {
        return Some(refused);
    }
    if !event["eventTime"].is_string() {
        return Some("eventTime: Required value".into());
    }
    if !matches!(text(event, "type"), "Normal" | "Warning") {
        return Some(format!(
            "type: Invalid value: \"\": has invalid value: {}",
            text(event, "type")
        ));
    }
    // Unset as Go sees it: a zero time, a zero count, a source without component or host. The
    // API server validates the Event converted to its internal form, so it names these fields
    // as that form does (count, not deprecatedCount): seen on a real kube-apiserver 1.34.
    let source = &event["deprecatedSource"];
    let set = [
        (
            "firstTimestamp",
            event["deprecatedFirstTimestamp"].is_string(),
        ),
        (
            "lastTimestamp",
            event["deprecatedLastTimestamp"].is_string(),
        ),
        ("count", event["deprecatedCount"].as_i64().unwrap_or(0) != 0),
        (
            "source",
            !text(source, "component").is_empty() || !text(source, "host").is_empty(),
        ),
    ];
    set.iter()
        .find(|(_, set)| *set)
        .map(|(field, _)| format!("{field}: Invalid value: \"\": needs to be unset"))
}

fn on_update(event: &Value, old: &Value) -> Option<String> {
    if let Some(refused) = legacy(event) {
        return Some(refused);
    }
    if event["series"] != old["series"]
        && let Some(refused) = series(event)
    {
        return Some(refused);
    }
    // The new value as Go prints it: a string quoted (an object's would be a Go struct, which
    // this double does not spell).
    IMMUTABLE
        .iter()
        .find(|(field, _)| event[*field] != old[*field])
        .map(|(field, internal)| {
            format!(
                "{internal}: Invalid value: {}: field is immutable",
                event[*field]
            )
        })
}

/// `validateV1EventSeries`.
fn series(event: &Value) -> Option<String> {
    let series = event.get("series").filter(|s| !s.is_null())?;
    if series["count"].as_i64().unwrap_or(0) < 2 {
        return Some("series.count: Invalid value: \"\": should be at least 2".into());
    }
    if !series["lastObservedTime"].is_string() {
        return Some("series.lastObservedTime: Required value".into());
    }
    None
}

/// `legacyValidateEvent`: an Event without `eventTime` is held to the old rule (its namespace is
/// its object's), one with it to the new ones.
fn legacy(event: &Value) -> Option<String> {
    let namespace = event["metadata"]["namespace"].as_str().unwrap_or_default();
    let regarding_namespace = event["regarding"]["namespace"].as_str().unwrap_or_default();
    if !event["eventTime"].is_string() {
        let matches = if regarding_namespace.is_empty() {
            matches!(namespace, "" | "default")
        } else {
            namespace == regarding_namespace
        };
        return (!matches).then(|| {
            "involvedObject.namespace: Invalid value: \"\": does not match event.namespace".into()
        });
    }
    if regarding_namespace.is_empty() && !matches!(namespace, "default" | "kube-system") {
        return Some(
            "involvedObject.namespace: Invalid value: \"\": does not match event.namespace".into(),
        );
    }
    let controller = text(event, "reportingController");
    if controller.is_empty() {
        return Some("reportingController: Required value".into());
    }
    let (prefix, short) = controller.rsplit_once('/').unwrap_or(("", controller));
    let prefix_ok = prefix.is_empty()
        || (prefix.len() <= 253 && prefix.split('.').all(|l| !l.is_empty() && is_name(l)));
    if short.is_empty() || !is_name(short) || !prefix_ok {
        return Some(format!(
            "reportingController: Invalid value: {controller:?}: name part must consist of alphanumeric characters, '-', '_' or '.'"
        ));
    }
    for (field, limit) in [("reportingInstance", 128), ("action", 128), ("reason", 128)] {
        let value = text(event, field);
        if value.is_empty() {
            return Some(format!("{field}: Required value"));
        }
        if value.len() > limit {
            return Some(format!(
                "{field}: Invalid value: \"\": can have at most {limit} characters"
            ));
        }
    }
    if text(event, "note").len() > 1024 {
        return Some("message: Invalid value: \"\": can have at most 1024 characters".into());
    }
    None
}

/// The structural schema of each custom resource kind the operator defines, from its CRD.
static SCHEMAS: std::sync::LazyLock<Vec<(&'static str, Value)>> = std::sync::LazyLock::new(|| {
    use kube::CustomResourceExt;
    let schema = |crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition| {
        let version = &crd.spec.versions[0];
        serde_json::to_value(&version.schema.as_ref().unwrap().open_api_v3_schema).unwrap()
    };
    vec![
        (
            "OpenMetadataKeycloakClient",
            schema(omkc::crd::OpenMetadataKeycloakClient::crd()),
        ),
        (
            "ClusterKeycloakConnection",
            schema(omkc::crd::ClusterKeycloakConnection::crd()),
        ),
    ]
});

/// A custom resource as the API server admits it against its CRD's schema (created, or updated
/// from `old`): fields the schema does not know pruned (the default `fieldValidation`, Warn,
/// keeps the request and drops them), and the rest decoded as it decodes it (nulls it does not
/// allow dropped, `5.0` stored as `5` where it wants an integer); then every refusal of a type,
/// a required field or a bound, by path (the offline commands' checker, which
/// `crd::cel::the_schemas_bounds_…` holds to a real API server). The status subresource's writes
/// too: the whole object is validated. An update is ratcheted as from 1.30: a part it leaves as
/// `old` had it is not judged (a resource stored under an older schema can still lose its
/// finalizer).
pub fn invalid_custom(
    object: &mut Value,
    old: Option<&Value>,
    kind: &str,
    name: &str,
) -> Option<String> {
    let (_, schema) = SCHEMAS.iter().find(|(k, _)| *k == kind)?;
    prune(object, schema, "", &mut Vec::new());
    omkc::cli::strict::normalize(object, schema);
    let problems = omkc::cli::strict::problems(object, old, schema);
    (!problems.is_empty()).then(|| {
        format!(
            "{kind}.omkc.dev {name:?} is invalid: {}",
            problems.join(", ")
        )
    })
}

/// What the API server says, with a `Warning` header each, of the fields of a custom resource its
/// schema does not know as it prunes them: `unknown field "spec.x"` (the default
/// `fieldValidation`, Warn). The fields [`invalid_custom`]'s pruning drops, by the same walk.
pub fn pruning_warnings(object: &Value, kind: &str) -> Vec<String> {
    let mut dropped = Vec::new();
    if let Some((_, schema)) = SCHEMAS.iter().find(|(k, _)| *k == kind) {
        prune(&mut object.clone(), schema, "", &mut dropped);
    }
    dropped
}

/// `response` with a `Warning` header for each of `warnings`, as Go quotes it.
pub(super) fn warned(mut response: Response, warnings: &[String]) -> Response {
    for warning in warnings {
        let value = format!("299 - {warning:?}");
        response
            .headers_mut()
            .append("warning", value.parse().unwrap());
    }
    response
}

/// Drops what `schema` does not know from `value` (the object's own `apiVersion`, `kind` and
/// `metadata` aside, at the root, where `at` is empty), as the API server's pruning does, and
/// says each field it drops in `dropped` as the API server's warning does.
fn prune(value: &mut Value, schema: &Value, at: &str, dropped: &mut Vec<String>) {
    if schema["x-kubernetes-preserve-unknown-fields"] == true {
        return;
    }
    let path = |key: &str| match at {
        "" => key.to_string(),
        _ => format!("{at}.{key}"),
    };
    match value {
        Value::Object(map) => {
            let properties = schema["properties"].as_object();
            let additional = &schema["additionalProperties"];
            map.retain(|key, _| {
                let known = (at.is_empty()
                    && matches!(key.as_str(), "apiVersion" | "kind" | "metadata"))
                    || properties.is_some_and(|p| p.contains_key(key))
                    || additional.is_object()
                    || *additional == true;
                if !known {
                    dropped.push(format!("unknown field \"{}\"", path(key)));
                }
                known
            });
            for (key, child) in map.iter_mut() {
                match properties.and_then(|p| p.get(key)) {
                    Some(s) => prune(child, s, &path(key), dropped),
                    None if additional.is_object() => prune(child, additional, &path(key), dropped),
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                prune(item, &schema["items"], &format!("{at}[{i}]"), dropped);
            }
        }
        _ => {}
    }
}
