//! Random resources and connections, judged by a real API server (a dry run), by `plan` and by
//! the fake API server: `plan` refuses every one the API server refuses, and whatever the API
//! server admits passes `plan`'s schema check (the operator's own checks may still refuse it, as
//! the controller would); the fake admits exactly what the API server admits.

use kube::CustomResourceExt;
use omkc::crd::{ClusterKeycloakConnection, OpenMetadataKeycloakClient};
use serde_json::{Map, Value, json};

use super::cel::admitted_by_fake;
use crate::support::{apiserver::pruning_warnings, apiservers::Cluster, fixture};

#[tokio::test]
#[ignore = "needs a real API server: tests/kubernetes/cluster.sh test (docs/contributors/testing.md)"]
async fn plan_refuses_what_the_api_server_refuses_on_random_resources_real_kubernetes() {
    let bases = ["basic.yaml", "full.yaml"].map(|f| serde_json::to_value(fixture(f)).unwrap());
    let plan_text = |resource: &Value| resource.to_string();
    judge_random::<OpenMetadataKeycloakClient>(&bases, plan_text, 11).await;
}

/// The same for connections, which `plan` reads beside a resource that uses one.
#[tokio::test]
#[ignore = "needs a real API server: tests/kubernetes/cluster.sh test (docs/contributors/testing.md)"]
async fn plan_refuses_what_the_api_server_refuses_on_random_connections_real_kubernetes() {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    let read = |file: &str| std::fs::read_to_string(format!("{examples}/{file}")).unwrap();
    let connection = omkc::yaml::documents(&read("clusterkeycloakconnection.yaml")).unwrap();
    let resource = read("openmetadatakeycloakclient.yaml");
    let plan_text = |connection: &Value| format!("{resource}\n---\n{connection}\n");
    judge_random::<ClusterKeycloakConnection>(&connection, plan_text, 12).await;
}

/// Random changes to the specs of `bases`, each judged by a dry run and by `plan` reading
/// `plan_text` of it. `OMKC_TEST_ADMISSION_SEED` picks another seed than `seed`.
async fn judge_random<K: kube::Resource<DynamicType = ()> + CustomResourceExt>(
    bases: &[Value],
    plan_text: impl Fn(&Value) -> String,
    seed: u64,
) {
    let cluster = Cluster::real().await;
    let seed = std::env::var("OMKC_TEST_ADMISSION_SEED").map_or(seed, |s| s.parse().unwrap());
    let mut random = fastrand::Rng::with_seed(seed);
    let crd = serde_json::to_value(K::crd()).unwrap();
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    let mut tally = Tally::default();
    for _ in 0..300 {
        let mut object = bases[random.usize(..bases.len())].clone();
        for _ in 0..1 + random.usize(..3) {
            mutate(&mut random, &mut object["spec"], spec);
        }
        let server = created_as_kubectl_would::<K>(&cluster, &object).await;
        // The fake API server, which the other tests trust, must answer alike: asked as
        // kubectl asks (`Strict`), it refuses what it would prune. Not for `https://`, a URL
        // the in-process CEL engine refuses (`isURL`) and Kubernetes' takes.
        let pruned = pruning_warnings(&object, K::kind(&()).as_ref());
        let fake = match pruned.first() {
            Some(field) => Err(field.clone()),
            None => admitted_by_fake::<K>(&object, None),
        };
        if fake.is_ok() != server.is_ok() && !object.to_string().contains("\"https://\"") {
            let (spec, fake) = (&object["spec"], fake.err());
            tally.differences.push(format!(
                "{spec}\n  API server: {server:?}\n  fake: {fake:?}"
            ));
        }
        let text = plan_text(&object);
        let plan = crate::offline::run_with(&["plan", "-f", "-"], &[], Some(&text)).await;
        // Refused by the operator's own checks, after the schema's, as the controller would.
        let operator_refuses = ["invalid resource: ", "ClusterKeycloakConnection \""]
            .iter()
            .any(|s| plan.stderr.contains(s));
        match (&server, plan.code) {
            (Ok(()), Some(0)) => tally.admitted += 1,
            (Err(_), Some(1)) => tally.refused += 1,
            (Ok(()), Some(1)) if operator_refuses => tally.operator_refuses += 1,
            _ => tally.differences.push(format!(
                "{}\n  API server: {server:?}\n  plan ({:?}): {}",
                object["spec"],
                plan.code,
                plan.stderr.trim()
            )),
        }
    }
    cluster.clean_up().await;
    assert!(
        tally.differences.is_empty(),
        "seed {seed}:\n{}",
        tally.differences.join("\n")
    );
    // Each kind of answer is given often enough to mean something.
    assert!(
        tally.admitted >= 20 && tally.refused >= 100,
        "seed {seed}: {tally:?}"
    );
}

/// A dry run of the create `kubectl create` or `apply` sends, with its `fieldValidation=Strict`
/// (an unknown field refused): `Err` with the API server's refusal.
async fn created_as_kubectl_would<K: CustomResourceExt>(
    cluster: &Cluster,
    object: &Value,
) -> Result<(), String> {
    let crd = K::crd();
    let plural = &crd.spec.names.plural;
    let collection = match crd.spec.scope.as_str() {
        "Namespaced" => format!("namespaces/{}/{plural}", cluster.namespace()),
        _ => plural.clone(),
    };
    let url = format!("/apis/omkc.dev/v1alpha1/{collection}?dryRun=All&fieldValidation=Strict");
    let mut object = object.clone();
    object["metadata"] = json!({"name": "random"});
    let request = http::Request::post(url)
        .header("content-type", "application/json")
        .body(object.to_string().into_bytes())
        .unwrap();
    match cluster.admin().request::<Value>(request).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) => Err(status.message),
        Err(e) => panic!("{e}"),
    }
}

#[derive(Debug, Default)]
struct Tally {
    admitted: usize,
    refused: usize,
    /// Admitted, refused by the operator's own checks (as the controller would, with a status).
    operator_refuses: usize,
    differences: Vec<String>,
}

/// Replaces one node under `value` (whose schema is `schema`), or removes it, going down a
/// random path.
fn mutate(random: &mut fastrand::Rng, value: &mut Value, schema: &Value) {
    let properties = schema["properties"].as_object();
    let deeper = random.usize(..4) > 0;
    if let (Some(properties), true) = (properties, deeper) {
        let names: Vec<&String> = properties.keys().collect();
        let name = names[random.usize(..names.len())];
        if !value.is_object() {
            *value = json!({});
        }
        let child = &mut value[name.as_str()];
        if random.usize(..8) == 0 {
            value.as_object_mut().unwrap().remove(name.as_str());
        } else {
            mutate(random, child, &properties[name.as_str()]);
        }
        return;
    }
    *value = generate(random, schema);
}

/// A value for a node of `schema`: mostly of its type, at and around its bounds, sometimes of
/// another type, `null`, or with a field the schema does not know.
fn generate(random: &mut fastrand::Rng, schema: &Value) -> Value {
    const OTHERS: &[fn() -> Value] = &[
        || json!(null),
        || json!(5),
        || json!(5.5),
        || json!(true),
        || json!("5"),
        || json!({}),
        || json!([]),
    ];
    if random.usize(..6) == 0 {
        return OTHERS[random.usize(..OTHERS.len())]();
    }
    let bound = |name: &str| schema[name].as_u64().map(|n| n as usize);
    match schema["type"].as_str() {
        Some("string") => {
            if let Some(values) = schema["enum"].as_array() {
                return match random.usize(..3) {
                    0 => json!("Keep"),
                    1 => json!(
                        values[random.usize(..values.len())]
                            .as_str()
                            .unwrap()
                            .to_lowercase()
                    ),
                    _ => values[random.usize(..values.len())].clone(),
                };
            }
            let (min, max) = (
                bound("minLength").unwrap_or(0),
                bound("maxLength").unwrap_or(64),
            );
            json!(string(random, min, max))
        }
        Some("integer") => {
            let (min, max) = (schema["minimum"].as_i64(), schema["maximum"].as_i64());
            let near = [
                min.map(|n| n - 1),
                min,
                max,
                max.map(|n| n + 1),
                Some(5),
                Some(1 << 53),
            ];
            match near[random.usize(..near.len())] {
                Some(n) if random.usize(..4) == 0 => json!(n as f64),
                Some(n) => json!(n),
                None => json!(-1),
            }
        }
        Some("boolean") => {
            [json!(true), json!(false), json!("true"), json!(1)][random.usize(..4)].clone()
        }
        Some("array") => {
            let max = bound("maxItems").unwrap_or(4);
            let n = [0, 1, 2, max, max + 1][random.usize(..5)];
            let item = generate(random, &schema["items"]);
            let items = (0..n).map(|i| match i % 3 {
                0 => item.clone(),
                _ => generate(random, &schema["items"]),
            });
            Value::Array(items.collect())
        }
        Some("object") if schema["additionalProperties"].is_object() => {
            let max = bound("maxProperties").unwrap_or(4);
            let n = [0, 1, 3, max, max + 1][random.usize(..5)];
            const KEYS: &[&str] = &["team", "a/b", "x.example.com/y", "-bad", "UPPER", "é", ""];
            let map: Map<String, Value> = (0..n)
                .map(|i| {
                    let key = format!("{}{i}", KEYS[random.usize(..KEYS.len())]);
                    (key, generate(random, &schema["additionalProperties"]))
                })
                .collect();
            Value::Object(map)
        }
        Some("object") => {
            let mut object = json!({});
            if let Some(properties) = schema["properties"].as_object() {
                for (name, property) in properties {
                    if random.bool() {
                        object[name.as_str()] = generate(random, property);
                    }
                }
            }
            if random.usize(..6) == 0 {
                object["unknownField"] = json!(1);
            }
            object
        }
        _ => json!(null),
    }
}

/// Text near what the fields hold (URLs, realms, durations, names) or at and past `min` and
/// `max` characters (past 4,096 only to the bound).
fn string(random: &mut fastrand::Rng, min: usize, max: usize) -> String {
    const NEAR: &[&str] = &[
        "a",
        "master",
        "Master",
        "data-sec",
        "https://kc.example.com",
        "http://kc:8080/auth/",
        "ftp://kc.example.com",
        "https://",
        "kc.example.com",
        "https://kc.example.com/a path",
        "HTTPS://KC.EXAMPLE.COM",
        "https://[::1]:8443",
        "https://user:pw@kc.example.com",
        "1h",
        "30s",
        "0s",
        "1x",
        "-1h",
        "1h30m",
        "é",
        " ",
        "a/b",
        "a..b",
        "UPPER",
        "open-metadata",
        "Deployment",
        "x.example.com/y",
    ];
    let long = |n: usize, c: &str| c.repeat(n);
    match random.usize(..6) {
        0 => long(max.min(4096), if random.bool() { "x" } else { "é" }),
        1 if max < 4096 => long(max + 1, "x"),
        2 => long(min.saturating_sub(1), "x"),
        _ => NEAR[random.usize(..NEAR.len())].to_string(),
    }
}
