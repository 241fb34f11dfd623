//! The offline commands decode a manifest as strictly as the API server does with
//! `kubectl apply --validate=strict`: every field the CRD's schema does not know, every value of
//! the wrong type and every required field missing is named by its full path. Without it a typo
//! (`clientID:`) would pass silently and fall back to a default. The schema's bounds (lengths,
//! counts, enums, minimum and maximum) are checked too, so a value the API server refuses is
//! refused here first, and what it takes ([`normalize`]: an empty key, `5.0` for 5) is taken.
//! CEL rules are `validate`'s business.

use serde_json::Value;

/// Every problem of `value` against the structural `schema` of a CRD version, by path. For an
/// update from `old`, ratcheted as the API server does from 1.30: nothing is said of a part the
/// update left as it was (an object's fields correlated by name, a list only as a whole).
pub fn problems(value: &Value, old: Option<&Value>, schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(value, old, schema, "", &mut out);
    out
}

/// `value` as the API server decodes it before it validates: each `null` the schema does not
/// allow as a field's value dropped (`extraRedirectUris:` left empty in YAML is as if absent, a
/// required field so left is missing), and a whole number written as one (`5.0`) where the
/// schema wants an integer stored as the integer. A field the schema does not know is left for
/// [`problems`] to name.
pub fn normalize(value: &mut Value, schema: &Value) {
    if schema["type"] == "integer"
        && value.is_f64()
        && let Some(n) = value.as_f64()
        && n.fract() == 0.0
        && n.abs() < 9.0e15
    {
        *value = Value::from(n as i64);
    }
    match value {
        Value::Object(map) => {
            let properties = schema["properties"].as_object();
            let additional = &schema["additionalProperties"];
            let field = |key: &str| {
                (properties.and_then(|p| p.get(key)))
                    .or_else(|| additional.is_object().then_some(additional))
            };
            map.retain(|key, child| {
                !child.is_null() || field(key).is_none_or(|s| s["nullable"] == true)
            });
            for (key, child) in map.iter_mut() {
                if let Some(s) = field(key) {
                    normalize(child, s);
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|i| normalize(i, &schema["items"])),
        _ => {}
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn walk(value: &Value, old: Option<&Value>, schema: &Value, path: &str, out: &mut Vec<String>) {
    if old == Some(value) || (value.is_null() && schema["nullable"] == true) {
        return;
    }
    if schema["x-kubernetes-int-or-string"] == true {
        if !(value.is_string() || value.is_i64() || value.is_u64()) {
            out.push(format!(
                "{path}: expected an integer or a string, got {}",
                type_name(value)
            ));
        }
        return;
    }
    let expected = schema["type"].as_str().unwrap_or_default();
    let fits = match expected {
        "" => true,
        "number" => value.is_number(),
        other => type_name(value) == other,
    };
    if !fits {
        out.push(format!(
            "{path}: expected {expected}, got {}",
            type_name(value)
        ));
        return;
    }
    bounds(value, schema, path, out);
    match value {
        Value::Object(map) => {
            for required in schema["required"].as_array().into_iter().flatten() {
                if let Some(key) = required.as_str()
                    && !map.contains_key(key)
                {
                    out.push(format!("{}: required", join(path, key)));
                }
            }
            let properties = schema["properties"].as_object();
            let additional = &schema["additionalProperties"];
            let open = schema["x-kubernetes-preserve-unknown-fields"] == true;
            for (key, child) in map {
                let at = join(path, key);
                // The type's own fields (`apiVersion`, `kind`, `metadata`) are the API
                // server's business, not the schema's.
                if path.is_empty() && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                let old = old.and_then(|o| o.get(key));
                match properties.and_then(|p| p.get(key)) {
                    Some(s) => walk(child, old, s, &at, out),
                    None if additional.is_object() => walk(child, old, additional, &at, out),
                    None if open || additional == true => {}
                    None => out.push(format!("unknown field \"{at}\"")),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, None, &schema["items"], &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The schema's bounds on `value`, which already has the schema's type. Lengths count
/// characters (Unicode code points), as the API server's validator does.
fn bounds(value: &Value, schema: &Value, path: &str, out: &mut Vec<String>) {
    let (size, units, min, max) = match value {
        Value::String(s) => (
            s.chars().count(),
            ["character", "characters"],
            "minLength",
            "maxLength",
        ),
        Value::Array(a) => (a.len(), ["item", "items"], "minItems", "maxItems"),
        Value::Object(m) => (
            m.len(),
            ["entry", "entries"],
            "minProperties",
            "maxProperties",
        ),
        _ => (0, ["", ""], "", ""),
    };
    let unit = units[usize::from(size != 1)];
    if let Some(max) = schema[max].as_u64().filter(|&max| size as u64 > max) {
        out.push(format!("{path}: {size} {unit}, more than {max}"));
    }
    if let Some(min) = schema[min].as_u64().filter(|&min| (size as u64) < min) {
        out.push(format!("{path}: {size} {unit}, fewer than {min}"));
    }
    if let Some(allowed) = schema["enum"].as_array().filter(|a| !a.contains(value)) {
        let allowed: Vec<String> = allowed.iter().map(Value::to_string).collect();
        out.push(format!(
            "{path}: {value} is not one of {}",
            allowed.join(", ")
        ));
    }
    let number = value.as_f64();
    if let Some(min) = schema["minimum"]
        .as_f64()
        .filter(|&m| number.is_some_and(|n| n < m))
    {
        out.push(format!("{path}: {value} is less than {min}"));
    }
    if let Some(max) = schema["maximum"]
        .as_f64()
        .filter(|&m| number.is_some_and(|n| n > m))
    {
        out.push(format!("{path}: {value} is more than {max}"));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> Value {
        let crd = <crate::crd::OpenMetadataKeycloakClient as kube::CustomResourceExt>::crd();
        serde_json::to_value(
            &crd.spec.versions[0]
                .schema
                .as_ref()
                .unwrap()
                .open_api_v3_schema,
        )
        .unwrap()
    }

    #[test]
    fn the_schemas_other_forms_are_judged_as_the_api_server_does() {
        let schema = json!({"type": "object", "properties": {
            "n": {"type": "integer", "nullable": true},
            "f": {"type": "number"},
            "port": {"x-kubernetes-int-or-string": true},
            "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            "free": {"type": "object", "additionalProperties": true}
        }});
        let fine = json!({"n": -1, "f": 1, "port": "http", "open": {"x": 1}, "free": {"y": 2}});
        assert_eq!(problems(&fine, None, &schema), Vec::<String>::new());
        let fine = json!({"n": null, "f": 1.5, "port": 8080});
        assert_eq!(problems(&fine, None, &schema), Vec::<String>::new());
        let wrong = json!({"n": 1.5, "f": "1", "port": true, "open": 3, "free": [1]});
        assert_eq!(
            problems(&wrong, None, &schema),
            [
                "f: expected number, got string",
                "free: expected object, got array",
                "n: expected integer, got number",
                "open: expected object, got integer",
                "port: expected an integer or a string, got boolean",
            ]
        );
        let port = problems(&json!({"port": 1.5}), None, &schema);
        assert_eq!(port, ["port: expected an integer or a string, got number"]);
        let bounded = json!({"type": "object", "maxProperties": 2, "properties": {
            "s": {"type": "string", "minLength": 2, "maxLength": 3},
            "a": {"type": "array", "minItems": 1, "maxItems": 1, "items": {"type": "integer"}},
            "e": {"type": "string", "enum": ["Delete", "Retain"]},
            "n": {"type": "integer", "minimum": 0.0, "maximum": 10.0}
        }});
        let at_the_bounds = json!({"s": "ééé", "a": [1]});
        assert_eq!(
            problems(&at_the_bounds, None, &bounded),
            Vec::<String>::new()
        );
        let past = json!({"s": "é", "a": [1, 2], "e": "Keep", "n": 11});
        assert_eq!(
            problems(&past, None, &bounded),
            [
                ": 4 entries, more than 2",
                "a: 2 items, more than 1",
                "e: \"Keep\" is not one of \"Delete\", \"Retain\"",
                "n: 11 is more than 10",
                "s: 1 character, fewer than 2",
            ]
        );
        let under = json!({"s": "abcd", "a": [], "n": -1});
        assert_eq!(
            problems(&under, None, &bounded),
            [
                ": 3 entries, more than 2",
                "a: 0 items, fewer than 1",
                "n: -1 is less than 0",
                "s: 4 characters, more than 3",
            ]
        );
        for port in [json!(-1), json!(u64::MAX)] {
            assert_eq!(
                problems(&json!({ "port": port }), None, &schema),
                Vec::<String>::new()
            );
        }
    }

    /// Kubernetes' CRD validation ratcheting (from 1.30): "each part of the resource that failed
    /// to validate was not changed by the update".
    #[test]
    fn an_update_is_judged_only_where_it_changed_something() {
        let schema = json!({"type": "object", "required": ["r"], "properties": {
            "r": {"type": "string"},
            "o": {"type": "object", "properties": {"s": {"type": "string", "maxLength": 1}}},
            "a": {"type": "array", "items": {"type": "string", "maxLength": 1}},
            "t": {"type": "string"}
        }});
        let old = json!({"o": {"s": "long"}, "a": ["long", "x"]});
        let judged = |new: Value| problems(&new, Some(&old), &schema);
        let untouched = json!({"o": {"s": "long"}, "a": ["long", "x"], "t": "new"});
        assert_eq!(judged(untouched.clone()), ["r: required"]);
        // The same fault with another value, in a changed field, or in a list changed elsewhere.
        let changed = json!({"o": {"s": "longer"}, "a": ["long", "y"], "r": "", "t": 1});
        assert_eq!(
            judged(changed),
            [
                "a[0]: 4 characters, more than 1",
                "o.s: 6 characters, more than 1",
                "t: expected string, got integer",
            ]
        );
        assert_eq!(
            problems(&untouched, None, &schema).len(),
            3,
            "a create is judged whole"
        );
    }

    #[test]
    fn a_whole_number_is_an_integer_as_the_api_server_decodes_it() {
        let schema = json!({"type": "object", "properties": {
            "n": {"type": "integer"}, "f": {"type": "number"}, "a": {"type": "array", "items": {"type": "integer"}}
        }});
        let mut value = json!({"n": 5.0, "f": 5.0, "a": [1.0, 2.5]});
        normalize(&mut value, &schema);
        assert_eq!(value, json!({"n": 5, "f": 5.0, "a": [1, 2.5]}));
        assert_eq!(
            problems(&value, None, &schema),
            ["a[1]: expected integer, got number"]
        );
    }

    #[test]
    fn a_null_the_schema_does_not_allow_is_dropped_as_the_api_server_drops_it() {
        let mut manifest = json!({
            "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
            "metadata": {"name": "x"},
            "spec": {
                "keycloak": {"connectionRef": {"name": "p"}, "realm": null, "publicUrl": null},
                "openmetadata": {"url": "https://om.example.com", "extraRedirectUris": null},
                "secret": {"labels": null, "typo": null}
            }
        });
        normalize(&mut manifest, &schema());
        // Kept: a nullable field's null, and an unknown field (for `problems` to name).
        let kept = json!({
            "keycloak": {"connectionRef": {"name": "p"}, "publicUrl": null},
            "openmetadata": {"url": "https://om.example.com"},
            "secret": {"typo": null}
        });
        assert_eq!(manifest["spec"], kept);
        assert_eq!(
            problems(&manifest, None, &schema()),
            [
                "spec.keycloak.realm: required",
                "unknown field \"spec.secret.typo\""
            ]
        );
    }

    #[test]
    fn unknown_fields_wrong_types_and_missing_fields_are_named_by_path() {
        let manifest = json!({
            "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
            "metadata": {"name": "x", "anything": "the API server's business"},
            "spec": {
                "keycloak": {"url": "https://kc.example.com", "credentialsSecretRef": {"name": "kc"}},
                "openmetadata": {"url": "https://om.example.com", "extraRedirectUris": [5]},
                "client": {"clientID": "typo", "adoptExisting": "yes"},
                "secret": {"labels": {"team": "data", "long": "x".repeat(64)}},
                "deletionPolicy": "Keep"
            }
        });
        let found = problems(&manifest, None, &schema());
        assert_eq!(
            found,
            [
                "spec.client.adoptExisting: expected boolean, got string",
                "unknown field \"spec.client.clientID\"",
                "spec.deletionPolicy: \"Keep\" is not one of \"Delete\", \"Retain\"",
                "spec.keycloak.realm: required",
                "spec.openmetadata.extraRedirectUris[0]: expected string, got integer",
                "spec.secret.labels.long: 64 characters, more than 63",
            ]
        );
        let fine = json!({
            "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
            "metadata": {"name": "x"},
            "spec": {"keycloak": {"connectionRef": {"name": "platform"}, "realm": "data-sec"},
                     "openmetadata": {"url": "https://om.example.com"}}
        });
        assert_eq!(problems(&fine, None, &schema()), Vec::<String>::new());
    }
}
