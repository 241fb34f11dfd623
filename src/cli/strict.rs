//! The offline commands decode a manifest as strictly as the API server does with
//! `kubectl apply --validate=strict`: every field the CRD's schema does not know, every value of
//! the wrong type and every required field missing is named by its full path. Without it a typo
//! (`clientID:`) would pass silently and fall back to a default.

use serde_json::Value;

/// Every problem of `value` against the structural `schema` of a CRD version, by path.
pub fn problems(value: &Value, schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(value, schema, "", &mut out);
    out
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

fn walk(value: &Value, schema: &Value, path: &str, out: &mut Vec<String>) {
    if value.is_null() && schema["nullable"] == true {
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
                match properties.and_then(|p| p.get(key)) {
                    Some(s) => walk(child, s, &at, out),
                    None if additional.is_object() => walk(child, additional, &at, out),
                    None if open || additional == true => {}
                    None => out.push(format!("unknown field \"{at}\"")),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &schema["items"], &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
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
        assert_eq!(problems(&fine, &schema), Vec::<String>::new());
        let fine = json!({"n": null, "f": 1.5, "port": 8080});
        assert_eq!(problems(&fine, &schema), Vec::<String>::new());
        let wrong = json!({"n": 1.5, "f": "1", "port": true, "open": 3, "free": [1]});
        assert_eq!(
            problems(&wrong, &schema),
            [
                "f: expected number, got string",
                "free: expected object, got array",
                "n: expected integer, got number",
                "open: expected object, got integer",
                "port: expected an integer or a string, got boolean",
            ]
        );
        let port = problems(&json!({"port": 1.5}), &schema);
        assert_eq!(port, ["port: expected an integer or a string, got number"]);
        for port in [json!(-1), json!(u64::MAX)] {
            assert_eq!(
                problems(&json!({ "port": port }), &schema),
                Vec::<String>::new()
            );
        }
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
                "secret": {"labels": {"team": "data"}}
            }
        });
        let found = problems(&manifest, &schema());
        assert_eq!(
            found,
            [
                "spec.client.adoptExisting: expected boolean, got string",
                "unknown field \"spec.client.clientID\"",
                "spec.keycloak.realm: required",
                "spec.openmetadata.extraRedirectUris[0]: expected string, got integer",
            ]
        );
        let fine = json!({
            "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
            "metadata": {"name": "x"},
            "spec": {"keycloak": {"connectionRef": {"name": "platform"}, "realm": "data-sec"},
                     "openmetadata": {"url": "https://om.example.com"}}
        });
        assert_eq!(problems(&fine, &schema()), Vec::<String>::new());
    }
}
