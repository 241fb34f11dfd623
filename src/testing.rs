//! Helpers for the unit tests.

use serde_json::Value;

/// Merges `patch` into `into` as a JSON merge patch does (RFC 7396): objects field by field,
/// `null` removes a field, anything else replaces.
pub fn merge(into: &mut Value, patch: Value) {
    let Value::Object(fields) = patch else {
        *into = patch;
        return;
    };
    if !into.is_object() {
        *into = Value::Object(Default::default());
    }
    let object = into.as_object_mut().expect("an object");
    for (k, v) in fields {
        if v.is_null() {
            object.remove(&k);
        } else {
            merge(object.entry(k).or_insert(Value::Null), v);
        }
    }
}
