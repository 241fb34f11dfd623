//! A small validator for the parts of OpenAPI 3.0 that Keycloak's Admin API spec uses
//! (`type`, `format`, `properties`, `additionalProperties`, `items`, `$ref`, `allOf`, `enum`).
//! Objects reject properties the schema does not name, as Keycloak's Jackson does.

use serde_json::Value;

/// Keycloak's official Admin API description, as published for 26.8.1.
pub struct OpenApi {
    doc: Value,
}

impl OpenApi {
    /// Loads the copy committed under `tests/data/`.
    pub fn keycloak() -> Self {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/keycloak-admin-api-openapi-26.8.1.json"
        );
        let text = std::fs::read_to_string(path).expect("the Keycloak OpenAPI spec is committed");
        Self {
            doc: serde_json::from_str(&text).expect("the spec is JSON"),
        }
    }

    /// The operation for a concrete path (e.g. `/admin/realms/x/clients/123`), if the spec has it.
    pub fn operation(&self, method: &str, path: &str) -> Option<(&str, &Value)> {
        let paths = self.doc["paths"].as_object()?;
        let concrete: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        paths.iter().find_map(|(template, ops)| {
            let parts: Vec<&str> = template.split('/').collect();
            let matches = parts.len() == concrete.len()
                && parts
                    .iter()
                    .zip(&concrete)
                    .all(|(t, c)| (t.starts_with('{') && !c.is_empty()) || t == c);
            if !matches {
                return None;
            }
            ops.get(method.to_ascii_lowercase())
                .map(|op| (template.as_str(), op))
        })
    }

    /// Schema of the JSON request body of an operation.
    pub fn request_schema<'a>(&self, op: &'a Value) -> Option<&'a Value> {
        op.pointer("/requestBody/content/application~1json/schema")
    }

    /// Schema of the JSON response for `status`.
    pub fn response_schema<'a>(&self, op: &'a Value, status: u16) -> Option<&'a Value> {
        op.pointer(&format!(
            "/responses/{status}/content/application~1json/schema"
        ))
    }

    /// Property names of a named schema in `components/schemas`.
    pub fn property_names(&self, schema: &str) -> Vec<String> {
        self.doc["components"]["schemas"][schema]["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether the spec lists `status` among the operation's responses.
    pub fn documents_status(&self, op: &Value, status: u16) -> bool {
        op.pointer(&format!("/responses/{status}")).is_some()
    }

    /// Validates `value` against `schema`; returns every violation with its JSON path.
    pub fn validate(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(schema, value, "$", &mut errors);
        errors
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let pointer = r.trim_start_matches('#');
                self.resolve(
                    self.doc
                        .pointer(pointer)
                        .unwrap_or_else(|| panic!("dangling $ref {r}")),
                )
            }
            None => schema,
        }
    }

    fn check(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for part in all {
                self.check(part, value, at, errors);
            }
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array)
            && !options.contains(value)
        {
            errors.push(format!("{at}: {value} is not one of {options:?}"));
        }
        let Some(kind) = schema.get("type").and_then(Value::as_str) else {
            return;
        };
        match (kind, value) {
            ("string", Value::String(_)) | ("boolean", Value::Bool(_)) => {}
            ("number", Value::Number(_)) => {}
            ("integer", Value::Number(n)) => {
                let fits = match schema.get("format").and_then(Value::as_str) {
                    Some("int32") => n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()),
                    _ => n.as_i64().is_some(),
                };
                if !fits {
                    errors.push(format!("{at}: {n} is not a {kind} of this format"));
                }
            }
            ("array", Value::Array(items)) => {
                if let Some(item) = schema.get("items") {
                    for (i, v) in items.iter().enumerate() {
                        self.check(item, v, &format!("{at}[{i}]"), errors);
                    }
                }
            }
            ("object", Value::Object(map)) => {
                let properties = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties");
                for (key, v) in map {
                    let path = format!("{at}.{key}");
                    if let Some(p) = properties.and_then(|p| p.get(key)) {
                        self.check(p, v, &path, errors);
                    } else if let Some(extra) = additional.filter(|a| a.is_object()) {
                        self.check(extra, v, &path, errors);
                    } else if additional != Some(&Value::Bool(true)) {
                        errors.push(format!("{path}: unrecognized field"));
                    }
                }
            }
            (_, Value::Null) => errors.push(format!("{at}: null where {kind} is expected")),
            _ => errors.push(format!("{at}: expected {kind}, found {value}")),
        }
    }
}

/// Every admin request body and response body of `log` checked against the spec.
pub fn violations(spec: &OpenApi, log: &[super::emulator::Exchange]) -> Vec<String> {
    let mut violations = Vec::new();
    for e in log {
        if !e.path.starts_with("/admin/") {
            continue;
        }
        let Some((template, op)) = spec.operation(&e.method, &e.path) else {
            violations.push(format!(
                "{} {}: not in the Admin API spec",
                e.method, e.path
            ));
            continue;
        };
        if let Some(body) = &e.body {
            match spec.request_schema(op) {
                Some(schema) => violations.extend(
                    spec.validate(schema, body)
                        .into_iter()
                        .map(|v| format!("request {} {template}: {v}", e.method)),
                ),
                None => violations.push(format!(
                    "{} {template}: body sent where none is specified",
                    e.method
                )),
            }
        }
        if (200..300).contains(&e.status) {
            if !spec.documents_status(op, e.status) {
                violations.push(format!(
                    "{} {template}: status {} not documented",
                    e.method, e.status
                ));
            }
            if let (Some(resp), Some(schema)) = (&e.response, spec.response_schema(op, e.status)) {
                violations.extend(
                    spec.validate(schema, resp)
                        .into_iter()
                        .map(|v| format!("response {} {template}: {v}", e.method)),
                );
            }
        }
    }
    violations
}
