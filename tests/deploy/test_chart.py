"""The Helm chart, through Helm's own library: lint, schema, rendering with several value sets,
every rendered object against the Kubernetes schemas, the hardening, the two RBAC modes, and the
kubectl manifest kept in sync with the chart."""

from __future__ import annotations

import copy
import json
import os
import subprocess

import helm_python as helm
import jsonschema
import kubernetes_validate
import promql_parser
import pytest
import yaml

import render

KUBE_VERSION = "1.33"
# Chart.yaml's kubeVersion floor: the rendered objects must be valid there too.
OLDEST_KUBE_VERSION = "1.25"

ALL_ON = {
    "image": {"digest": "sha256:" + "a" * 64},
    "imagePullSecrets": [{"name": "regcred"}],
    "priorityClassName": "system-cluster-critical",
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}
                ]
            }
        }
    },
    "topologySpreadConstraints": [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "openmetadata-keycloak-operator"}},
        }
    ],
    "extraEnv": [{"name": "RUST_BACKTRACE", "value": "1"}],
    "extraArgs": ["--log-level=debug"],
    "commonLabels": {"team": "data-platform"},
    "podAnnotations": {"example.com/owner": "data-platform"},
    "podLabels": {"tier": "ops"},
    "serviceAccount": {"annotations": {"example.com/role": "omkc"}},
    "operator": {"resync": "2m", "concurrency": 8, "logLevel": "omkc=debug,info", "logFormat": "text"},
    "metrics": {
        "port": 9090,
        "service": {"annotations": {"prometheus.io/scrape": "true"}},
        "serviceMonitor": {"enabled": True, "interval": "15s", "labels": {"release": "prometheus"}},
    },
    "networkPolicy": {
        "enabled": True,
        "metricsFrom": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        "egress": [
            {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
            {"ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]},
        ],
    },
    "podDisruptionBudget": {"enabled": True},
}

SHARED_KEYCLOAK = {
    "inlineConnections": False,
    "installationId": "prod-eu-1",
    "connections": [
        {
            "name": "platform",
            "url": "http://keycloak.keycloak.svc:8080",
            "publicUrl": "https://sso.example.com",
            "credentialsSecret": {"name": "keycloak-admin"},
            "namespaceSelector": {"matchLabels": {"omkc.dev/tenant": "true"}},
            "allowedRealms": ["data-sec"],
        }
    ],
}

VALUE_SETS = {
    "defaults": {},
    "shared-keycloak": SHARED_KEYCLOAK,
    "namespaced": {"watchNamespaces": ["openmetadata", "openmetadata-staging"]},
    "rollout": {"rollout": {"enabled": True}},
    "monitoring": {
        "metrics": {
            "serviceMonitor": {"enabled": True},
            "prometheusRule": {"enabled": True, "labels": {"release": "prometheus"}},
            "grafanaDashboard": {"enabled": True, "annotations": {"grafana_folder": "Operators"}},
        }
    },
    "everything-on": ALL_ON,
    "own-service-account": {"serviceAccount": {"create": False, "name": "platform-operators"}, "rbac": {"create": False}},
    "network-policy-metrics-closed": {"networkPolicy": {"enabled": True}},
}


def by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict], kind: str) -> dict:
    found = by_kind(objects, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


@pytest.mark.parametrize("name", VALUE_SETS)
def test_helm_lint_strict_passes(name):
    report = helm.lint(render.CHART, VALUE_SETS[name], strict=True, namespace=render.NAMESPACE)
    assert report["errors"] == []
    # Not even the informational findings (such as a missing icon).
    assert report["messages"] == []


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_rendered_object_is_valid_kubernetes(name):
    objects = render.objects(VALUE_SETS[name])
    assert objects, "nothing rendered"
    for obj in objects:
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            if obj["kind"] == "PrometheusRule":
                check_prometheus_rule(obj)
            else:
                check_service_monitor(obj)
            continue
        if obj["apiVersion"].startswith("omkc.dev/"):
            # This project's own kinds: against their committed CRDs.
            crd = render.CONNECTION_CRD if obj["kind"] == "ClusterKeycloakConnection" else render.CRD
            body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
            jsonschema.validate(body, render.crd_schema(crd))
            continue
        for version in (OLDEST_KUBE_VERSION, KUBE_VERSION):
            kubernetes_validate.validate(obj, version, strict=True)


def check_service_monitor(sm: dict) -> None:
    # prometheus-operator's CRD is not in kubernetes-validate; check what the operator reads
    # (`tests/kubernetes/cluster.sh helm` has a real API server admit it against that CRD).
    assert sm["kind"] == "ServiceMonitor" and sm["apiVersion"] == "monitoring.coreos.com/v1"
    (endpoint,) = sm["spec"]["endpoints"]
    assert endpoint["port"] == "http-metrics" and endpoint["path"] == "/metrics"
    assert set(sm["spec"]["selector"]["matchLabels"]) == {"app.kubernetes.io/name", "app.kubernetes.io/instance"}


def check_prometheus_rule(rule: dict) -> None:
    # prometheus-operator's CRD is not in kubernetes-validate: its shape, and every expression
    # through a PromQL parser (promql-parser, the Rust parser's Python binding). The CRD's own
    # schema is applied by a real API server in `tests/kubernetes/cluster.sh helm`.
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    (group,) = rule["spec"]["groups"]
    assert group["name"] == "openmetadata-keycloak-operator"
    for r in group["rules"]:
        assert set(r) <= {"alert", "expr", "for", "labels", "annotations"}, r
        assert r["alert"].startswith("Omkc") and r["labels"]["severity"] in {"critical", "warning", "info"}
        assert r["annotations"]["summary"] and r["annotations"]["description"]
        promql_parser.parse(r["expr"])


def test_monitoring_is_opt_in_and_renders_the_dashboard_and_the_alerts():
    assert by_kind(render.objects(), "PrometheusRule") == []
    assert [c for c in by_kind(render.objects(), "ConfigMap")] == []
    objects = render.objects(VALUE_SETS["monitoring"])
    rule = one(objects, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    alerts = {r["alert"] for r in rule["spec"]["groups"][0]["rules"]}
    assert alerts == {"OmkcResourcesNotReady", "OmkcKeycloakErrors", "OmkcTokenFailures", "OmkcNoLeader", "OmkcClientOrphaned", "OmkcConnectionNotReady"}
    dashboard_map = one(objects, "ConfigMap")
    assert dashboard_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard_map["metadata"]["annotations"] == {"grafana_folder": "Operators"}
    dashboard = json.loads(dashboard_map["data"]["openmetadata-keycloak-operator.json"])
    assert dashboard["uid"] == "omkc-operator"
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 10
    for expr in exprs:
        # Grafana's variables, as Grafana substitutes them.
        promql_parser.parse(expr.replace("$job", ".*"))
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"


def test_a_broken_object_is_caught_by_the_validator():
    deployment = copy.deepcopy(one(render.objects(), "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSION, strict=True)
    deployment = copy.deepcopy(one(render.objects(), "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGett"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSION, strict=True)


def test_the_pod_is_hardened_and_probes_the_real_endpoints():
    deployment = one(render.objects(), "Deployment")
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert container["args"] == ["run"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["HTTP_ADDRESS"] == "0.0.0.0:8080"
    assert env["WATCH_NAMESPACES"] == ""
    (port,) = container["ports"]
    assert port == {"name": "http", "containerPort": 8080, "protocol": "TCP"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["resources"]["limits"]["memory"] == "128Mi"
    # The only token in the pod: projected, bounded lifetime, mounted read-only.
    (volume,) = pod["volumes"]
    token = volume["projected"]["sources"][0]["serviceAccountToken"]
    assert token["expirationSeconds"] == 3600
    (mount,) = container["volumeMounts"]
    assert mount["readOnly"] is True
    assert mount["mountPath"] == "/var/run/secrets/kubernetes.io/serviceaccount"
    assert one(render.objects(), "ServiceAccount")["automountServiceAccountToken"] is False


def test_scheduling_and_extras_reach_the_pod():
    objects = render.objects(ALL_ON)
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"].endswith("@sha256:" + "a" * 64)
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert pod["nodeSelector"] == ALL_ON["nodeSelector"]
    assert pod["tolerations"] == ALL_ON["tolerations"]
    assert pod["affinity"] == ALL_ON["affinity"]
    assert pod["topologySpreadConstraints"] == ALL_ON["topologySpreadConstraints"]
    assert container["args"] == ["run", "--log-level=debug"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["RUST_BACKTRACE"] == "1"
    assert env["RESYNC_PERIOD"] == "2m" and env["CONCURRENCY"] == "8"
    assert env["LOG_FORMAT"] == "text" and env["HTTP_ADDRESS"] == "0.0.0.0:9090"
    assert container["ports"][0]["containerPort"] == 9090
    service = one(objects, "Service")
    assert service["spec"]["ports"][0]["port"] == 9090
    assert one(objects, "ServiceMonitor")["metadata"]["labels"]["release"] == "prometheus"
    policy = one(objects, "NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["ingress"][0]["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert one(objects, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    for obj in objects:
        assert obj["metadata"]["labels"]["team"] == "data-platform", obj["kind"]


def test_a_network_policy_without_scrapers_admits_nothing():
    policy = one(render.objects({"networkPolicy": {"enabled": True}}), "NetworkPolicy")
    assert policy["spec"]["ingress"] == []
    assert policy["spec"]["policyTypes"] == ["Ingress"]


def named(objects: list[dict], kind: str, name: str) -> dict:
    (found,) = [o for o in by_kind(objects, kind) if o["metadata"]["name"] == name]
    return found


CLUSTER_READS = [
    {"apiGroups": ["omkc.dev"], "resources": ["clusterkeycloakconnections"], "verbs": ["get", "list", "watch"]},
    # The one cluster-wide write: the connections' own status (their health).
    {"apiGroups": ["omkc.dev"], "resources": ["clusterkeycloakconnections/status"], "verbs": ["patch"]},
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]},
]


def test_namespaced_mode_grants_the_same_rules_in_roles_and_only_reads_cluster_wide():
    namespaced_rules = named(render.objects(), "ClusterRole", render.RELEASE)["rules"]
    namespaces = VALUE_SETS["namespaced"]["watchNamespaces"]
    objects = render.objects(VALUE_SETS["namespaced"])
    # Cluster-wide: only reads of connections and namespace labels, and the connections' status.
    (cluster_role,) = by_kind(objects, "ClusterRole")
    assert cluster_role["metadata"]["name"] == f"{render.RELEASE}-cluster"
    assert cluster_role["rules"] == CLUSTER_READS
    own = ("-credentials", "-leader-election")
    roles = [r for r in by_kind(objects, "Role") if not r["metadata"]["name"].endswith(own)]
    bindings = [b for b in by_kind(objects, "RoleBinding") if not b["metadata"]["name"].endswith(own)]
    assert sorted(r["metadata"]["namespace"] for r in roles) == sorted(namespaces)
    assert sorted(b["metadata"]["namespace"] for b in bindings) == sorted(namespaces)
    for role in roles:
        assert role["rules"] == namespaced_rules
    for binding in bindings:
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": render.RELEASE,
        }
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": render.RELEASE, "namespace": render.NAMESPACE}
        ]
    # The release namespace is not watched: a Role there reads the connections' credentials.
    credentials = named(objects, "Role", f"{render.RELEASE}-credentials")
    assert credentials["metadata"]["namespace"] == render.NAMESPACE
    assert credentials["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}]
    # ...and none when it is watched anyway.
    watched = render.objects({"watchNamespaces": [render.NAMESPACE, "openmetadata"]})
    assert [r for r in by_kind(watched, "Role") if r["metadata"]["name"].endswith("-credentials")] == []


def test_all_namespaces_mode_grants_the_namespaced_rules_and_the_cluster_reads():
    objects = render.objects()
    assert named(objects, "ClusterRole", f"{render.RELEASE}-cluster")["rules"] == CLUSTER_READS
    assert [r["metadata"]["name"] for r in by_kind(objects, "Role")] == [f"{render.RELEASE}-leader-election"]


# The leader election's one rule; tests/it/leader/mod.rs checks the election uses exactly this.
LEASE_RULE = {
    "apiGroups": ["coordination.k8s.io"],
    "resources": ["leases"],
    "verbs": ["get", "list", "watch", "create", "patch"],
}


def test_high_availability_by_default():
    objects = render.objects()
    deployment = one(objects, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    pod = spec["template"]["spec"]
    preferred = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert preferred[0]["podAffinityTerm"]["labelSelector"]["matchLabels"] == spec["selector"]["matchLabels"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["LEADER_ELECTION"]["value"] == "true"
    assert env["LEASE_NAME"]["value"] == render.RELEASE
    assert env["LEASE_DURATION"]["value"] == "15s" and env["LEASE_RENEW_GRACE"]["value"] == "5s"
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert pod["terminationGracePeriodSeconds"] == 30, "20 s for in-flight reconciles, then the lease"
    pdb = one(objects, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == spec["selector"]["matchLabels"]
    role = named(objects, "Role", f"{render.RELEASE}-leader-election")
    assert role["metadata"]["namespace"] == render.NAMESPACE
    assert role["rules"] == [LEASE_RULE]
    binding = named(objects, "RoleBinding", f"{render.RELEASE}-leader-election")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]


def test_one_replica_without_leader_election_and_never_two():
    single = render.objects({"replicaCount": 1, "leaderElection": {"enabled": False}})
    env = {e["name"]: e.get("value") for e in one(single, "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["LEADER_ELECTION"] == "false" and "LEASE_NAME" not in env
    assert [r for r in by_kind(single, "Role") if r["metadata"]["name"].endswith("-leader-election")] == []
    # No election to keep two copies apart: no surge, the old pod goes first.
    assert one(single, "Deployment")["spec"]["strategy"] == {"type": "Recreate"}
    with pytest.raises(Exception, match="replicaCount above 1 needs leaderElection.enabled"):
        render.objects({"leaderElection": {"enabled": False}})
    hard = one(render.objects({"podAntiAffinity": "hard"}), "Deployment")["spec"]["template"]["spec"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" in hard["affinity"]["podAntiAffinity"]
    none = one(render.objects({"podAntiAffinity": "none"}), "Deployment")["spec"]["template"]["spec"]
    assert "affinity" not in none
    sharded = render.objects({"resourceSelector": "omkc.dev/shard=a", "leaderElection": {"leaseName": "omkc-shard-a"}})
    env = {e["name"]: e.get("value") for e in one(sharded, "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["RESOURCE_SELECTOR"] == "omkc.dev/shard=a" and env["LEASE_NAME"] == "omkc-shard-a"


def test_namespaced_mode_tells_the_operator_its_namespaces():
    namespaces = VALUE_SETS["namespaced"]["watchNamespaces"]
    objects = render.objects(VALUE_SETS["namespaced"])
    env = {e["name"]: e.get("value") for e in one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["WATCH_NAMESPACES"] == ",".join(namespaces)


def test_every_rbac_rule_is_commented():
    text = render.render()["openmetadata-keycloak-operator/templates/rbac.yaml"]
    lines = text.splitlines()
    rule_starts = [i for i, line in enumerate(lines) if line.strip().startswith("- apiGroups:")]
    assert len(rule_starts) == 9
    for i in rule_starts:
        assert lines[i - 1].strip().startswith("#"), f"rule without a comment: {lines[i]}"


# The one rule rollout.enabled adds; tests/it/day2/rollout.rs checks the operator's restarts of
# workloads need exactly this.
ROLLOUT_RULE = {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets"], "verbs": ["get", "patch"]}


def test_restarting_workloads_is_opt_in_and_adds_one_commented_rule():
    default = named(render.objects(), "ClusterRole", render.RELEASE)["rules"]
    assert all("apps" not in r["apiGroups"] for r in default), "no access to workloads by default"
    enabled = named(render.objects(VALUE_SETS["rollout"]), "ClusterRole", render.RELEASE)["rules"]
    assert enabled == default + [ROLLOUT_RULE]
    namespaced = render.objects({**VALUE_SETS["namespaced"], **VALUE_SETS["rollout"]})
    for role in by_kind(namespaced, "Role"):
        if role["metadata"]["namespace"] in VALUE_SETS["namespaced"]["watchNamespaces"]:
            assert role["rules"][-1] == ROLLOUT_RULE
    text = render.render(VALUE_SETS["rollout"])["openmetadata-keycloak-operator/templates/rbac.yaml"]
    lines = text.splitlines()
    (start,) = [i for i, line in enumerate(lines) if line.strip() == '- apiGroups: ["apps"]']
    assert lines[start - 1].strip().startswith("#")


def test_the_chart_creates_connections_and_passes_the_trust_settings():
    objects = render.objects(SHARED_KEYCLOAK)
    (connection,) = by_kind(objects, "ClusterKeycloakConnection")
    assert connection["metadata"]["name"] == "platform"
    spec = connection["spec"]
    assert spec["credentialsSecretRef"] == {"name": "keycloak-admin", "namespace": render.NAMESPACE}
    assert spec["allowedRealms"] == ["data-sec"]
    body = {k: v for k, v in connection.items() if k not in ("apiVersion", "kind", "metadata")}
    jsonschema.validate(body, render.crd_schema(render.CONNECTION_CRD))
    container = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["ALLOW_INLINE_CONNECTIONS"]["value"] == "false"
    assert env["INSTALLATION_ID"]["value"] == "prod-eu-1"
    assert env["OPERATOR_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    defaults = {e["name"]: e for e in one(render.objects(), "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]}
    # Off by default: a shared cluster is safe as installed; a single team opts in.
    assert defaults["ALLOW_INLINE_CONNECTIONS"]["value"] == "false"
    single = one(render.objects({"inlineConnections": True}), "Deployment")["spec"]["template"]["spec"]
    assert {e["name"]: e for e in single["containers"][0]["env"]}["ALLOW_INLINE_CONNECTIONS"]["value"] == "true"
    assert "INSTALLATION_ID" not in defaults, "the kube-system namespace's UID by default"
    # Adoption is off unless asked for, for connections and inline resources alike.
    assert "allowAdoption" not in spec
    assert defaults["ALLOW_INLINE_ADOPTION"]["value"] == "false"
    consenting = dict(SHARED_KEYCLOAK, inlineAdoption=True)
    consenting["connections"] = [dict(SHARED_KEYCLOAK["connections"][0], allowAdoption=True, maxClients=0)]
    objects = render.objects(consenting)
    (connection,) = by_kind(objects, "ClusterKeycloakConnection")
    assert connection["spec"]["allowAdoption"] is True
    assert connection["spec"]["maxClients"] == 0, "0 is a limit (closed), not absent"
    assert "maxClients" not in spec, "no limit unless set"
    body = {k: v for k, v in connection.items() if k not in ("apiVersion", "kind", "metadata")}
    jsonschema.validate(body, render.crd_schema(render.CONNECTION_CRD))
    env = {e["name"]: e for e in one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["ALLOW_INLINE_ADOPTION"]["value"] == "true"


def test_rbac_can_be_left_to_the_user():
    objects = render.objects(VALUE_SETS["own-service-account"])
    kinds = {o["kind"] for o in objects}
    assert kinds.isdisjoint({"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"})
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "platform-operators"


# Values the schema refuses, each with a word its message must name (Helm 3 and 4 alike).
MISTAKES = [
    ({"imagee": {"tag": "x"}}, "imagee"),
    ({"image": {"tagg": "x"}}, "tagg"),
    ({"operator": {"concurrency": 0}}, "concurrency"),
    ({"operator": {"logFormat": "xml"}}, "logFormat"),
    ({"operator": {"resync": "5 minutes"}}, "resync"),
    ({"watchNamespaces": ["Not_A_Namespace"]}, "watchNamespaces"),
    ({"metrics": {"port": "8080"}}, "port"),
    ({"tokenExpirationSeconds": 60}, "tokenExpirationSeconds"),
    ({"installationId": "a/b"}, "installationId"),
    ({"connections": [{"name": "x", "url": "https://kc", "credentialsSecret": {"name": "s"}}]}, "allowedRealms"),
    # A connection open to every namespace must say so ({}), never by omission.
    (
        {"connections": [{"name": "x", "url": "https://kc", "credentialsSecret": {"name": "s"},
                          "allowedRealms": ["data-sec"]}]},
        "namespaceSelector",
    ),
    # A misspelt selector key would reach the API server, which drops what its schema does
    # not know: the selector would be empty, and the connection open to every namespace.
    (
        {"connections": [{"name": "x", "url": "https://kc", "credentialsSecret": {"name": "s"},
                          "allowedRealms": ["data-sec"], "namespaceSelector": {"matchLabel": {"team": "a"}}}]},
        "matchLabel",
    ),
    (
        {"connections": [{"name": "x", "url": "https://kc", "credentialsSecret": {"name": "s"},
                          "allowedRealms": ["r"] * 65, "namespaceSelector": {}}]},
        "allowedRealms",
    ),
]


@pytest.mark.parametrize("values, fragment", MISTAKES)
def test_values_schema_rejects_mistakes(values, fragment):
    with helm.Chart.load(render.CHART) as chart:
        with pytest.raises(helm.HelmValuesError) as err:
            chart.validate_schema(values)
    assert fragment in str(err.value)
    report = helm.lint(render.CHART, values, strict=True)
    assert report["errors"] or any(m["severity"] >= 2 for m in report["messages"])


def test_the_default_values_pass_the_schema():
    with helm.Chart.load(render.CHART) as chart:
        chart.validate_schema(chart.values)
        assert chart.schema is not None


def test_a_service_account_name_is_required_when_not_created():
    with pytest.raises(helm.HelmRenderError) as err:
        render.render({"serviceAccount": {"create": False}})
    assert "serviceAccount.name is required" in str(err.value)


def test_chart_crds_are_byte_identical_to_the_top_level_crds():
    chart_crds = sorted((render.CHART / "crds").iterdir())
    top = sorted((render.ROOT / "crds").iterdir())
    assert [p.name for p in chart_crds] == [p.name for p in top]
    for a, b in zip(chart_crds, top):
        assert a.read_bytes() == b.read_bytes(), f"{a} differs from {b}"


def test_the_kubectl_manifest_is_the_chart_rendered_with_defaults():
    assert render.MANIFEST.read_text() == render.kubectl_manifest(), (
        "deploy/kubernetes is stale: run `python3 tests/deploy/render.py --write`"
    )


def test_the_kubectl_manifest_is_valid_and_complete():
    docs = list(yaml.safe_load_all(render.MANIFEST.read_text()))
    kinds = [d["kind"] for d in docs]
    assert kinds[:3] == ["Namespace", "CustomResourceDefinition", "CustomResourceDefinition"]
    assert {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Service", "Deployment"} <= set(kinds)
    for doc in docs:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        labels = doc["metadata"].get("labels", {})
        assert "helm.sh/chart" not in labels
        assert labels.get("app.kubernetes.io/managed-by") in (None, "kubectl")
        if doc["kind"] not in ("Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"):
            assert doc["metadata"]["namespace"] == render.NAMESPACE


def test_notes_tell_the_user_what_to_do_next():
    notes = render.render()["openmetadata-keycloak-operator/templates/NOTES.txt"]
    assert "rollout status deployment/openmetadata-keycloak-operator" in notes
    assert "every namespace" in notes
    assert "kubectl -n openmetadata wait omkc/openmetadata --for=condition=Ready" in notes
    assert "oidc-secrets" in notes
    namespaced = render.render(VALUE_SETS["namespaced"])["openmetadata-keycloak-operator/templates/NOTES.txt"]
    assert "in: openmetadata, openmetadata-staging" in namespaced
    elsewhere = render.render({"watchNamespaces": ["analytics"]})["openmetadata-keycloak-operator/templates/NOTES.txt"]
    assert "kubectl -n analytics wait omkc/openmetadata" in elsewhere
    assert "-n openmetadata" not in elsewhere and "namespace openmetadata" not in elsewhere
    # Until a release is published, the default image may not exist: the notes say what to do.
    assert "ImagePullBackOff" in notes
    assert "ImagePullBackOff" not in render.render({"image": {"tag": "dev"}})["openmetadata-keycloak-operator/templates/NOTES.txt"]


def validate_custom_resource(obj: dict) -> None:
    assert obj["apiVersion"] == "omkc.dev/v1alpha1"
    crd = {"OpenMetadataKeycloakClient": render.CRD, "ClusterKeycloakConnection": render.CONNECTION_CRD}[obj["kind"]]
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    jsonschema.validate(body, render.crd_schema(crd))


def test_artifact_hub_annotations():
    meta = yaml.safe_load((render.CHART / "Chart.yaml").read_text())
    notes = meta["annotations"]
    for key in ("artifacthub.io/operator", "artifacthub.io/license", "artifacthub.io/images",
                "artifacthub.io/crds", "artifacthub.io/crdsExamples", "artifacthub.io/links",
                "artifacthub.io/changes", "artifacthub.io/prerelease", "artifacthub.io/operatorCapabilities"):
        assert key in notes, key
    assert notes["artifacthub.io/operatorCapabilities"] in (
        "Basic Install", "Seamless Upgrades", "Full Lifecycle", "Deep Insights", "Auto Pilot")
    (image,) = yaml.safe_load(notes["artifacthub.io/images"])
    values = yaml.safe_load((render.CHART / "values.yaml").read_text())
    assert image["image"] == f"{values['image']['repository']}:{meta['appVersion']}"
    crds = yaml.safe_load(notes["artifacthub.io/crds"])
    assert sorted(c["name"] for c in crds) == sorted(p.stem for p in render.CRDS)
    assert all(c["version"] == "v1alpha1" for c in crds)
    for example in yaml.safe_load(notes["artifacthub.io/crdsExamples"]):
        validate_custom_resource(example)
    for change in yaml.safe_load(notes["artifacthub.io/changes"]):
        assert change["kind"] in ("added", "changed", "deprecated", "removed", "fixed", "security")
    assert meta["kubeVersion"] == f">={OLDEST_KUBE_VERSION}.0-0"
    icon = meta["icon"].split("/main/", 1)[1]
    assert (render.ROOT / icon).is_file(), meta["icon"]
    # appVersion is the crate's version.
    cargo = (render.ROOT / "Cargo.toml").read_text()
    assert f'version = "{meta["appVersion"]}"' in cargo


def test_the_repository_examples_are_valid():
    for path in sorted((render.ROOT / "examples").glob("*.yaml")):
        if path.name == "openmetadata-values.yaml":
            continue  # Helm values for OpenMetadata's chart, not a Kubernetes object
        for doc in yaml.safe_load_all(path.read_text()):
            if doc["apiVersion"].startswith("omkc.dev/"):
                validate_custom_resource(doc)
            else:
                kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def test_a_connections_values_are_bounded_as_its_crd_bounds_it():
    """What `helm install` accepts of a connection the API server admits: each value's bounds at
    least as tight as the CRD field it fills (connections.yaml: credentialsSecret fills
    credentialsSecretRef)."""
    values = json.loads((render.CHART / "values.schema.json").read_text())
    connection = values["properties"]["connections"]["items"]["properties"]
    crd = render.crd_schema(render.CONNECTION_CRD)["properties"]["spec"]["properties"]
    at_most, at_least = ("maxLength", "maxItems", "maxProperties", "maximum"), ("minLength", "minItems", "minimum")

    def compare(value, field, path):
        for bound in at_most:
            if bound in field:
                assert value.get(bound, float("inf")) <= field[bound], f"{path}: {bound}"
        for bound in at_least:
            if bound in field:
                assert value.get(bound, float("-inf")) >= field[bound], f"{path}: {bound}"
        for key, child in value.get("properties", {}).items():
            compare(child, field["properties"][key], f"{path}.{key}")
        if "items" in value:
            compare(value["items"], field["items"], f"{path}[]")
        if isinstance(value.get("additionalProperties"), dict):
            compare(value["additionalProperties"], field["additionalProperties"], f"{path}.*")

    for key, value in connection.items():
        if key != "name":  # metadata.name, bounded by the API server
            compare(value, crd["credentialsSecretRef" if key == "credentialsSecret" else key], key)


def test_the_values_schema_is_strict_everywhere():
    schema = json.loads((render.CHART / "values.schema.json").read_text())

    def walk(node, path):
        if node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, f"{path} accepts unknown keys"
            for key, child in node["properties"].items():
                walk(child, f"{path}.{key}")

    walk(schema, "values")


def test_a_service_monitor_needs_the_metrics_service():
    with pytest.raises(helm.HelmRenderError) as err:
        render.render({"metrics": {"service": {"enabled": False}, "serviceMonitor": {"enabled": True}}})
    assert "metrics.serviceMonitor.enabled needs metrics.service.enabled" in str(err.value)


STUB_KUBECTL = """#!/usr/bin/env python3
import json, os, sys
log = os.environ["KUBECTL_LOG"]
args = sys.argv[1:]
reads_stdin = ("-f" in args and "-" in args) or any(a.endswith("=/dev/stdin") for a in args)
stdin = sys.stdin.read() if reads_stdin else ""
with open(log, "a") as f:
    f.write(json.dumps({"args": sys.argv[1:], "stdin": stdin}) + "\\n")
"""


def notes_script(notes: str) -> str:
    """The commands the notes print, as a user pastes them: every line that starts with
    kubectl (or reads the password and pipes it to kubectl), and a heredoc with its body up to
    its terminator."""
    lines = notes.splitlines()
    script, i = [], 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(("kubectl ", "read ", "printf ")):
            script.append(line)
            if "<<'YAML'" in line:
                i += 1
                while lines[i] != "YAML":
                    script.append(lines[i])
                    i += 1
                script.append("YAML")
        i += 1
    return "\n".join(script) + "\n"


@pytest.mark.parametrize("name", ["defaults", "namespaced", "shared-keycloak", "inline"])
def test_the_notes_commands_run_as_printed(name, tmp_path):
    values = {**VALUE_SETS, "inline": {"inlineConnections": True}}[name]
    notes = render.render(values)["openmetadata-keycloak-operator/templates/NOTES.txt"]
    script = notes_script(notes)
    assert script.count("kubectl ") >= 8, script
    stub = tmp_path / "kubectl"
    stub.write_text(STUB_KUBECTL)
    stub.chmod(0o755)
    log = tmp_path / "calls.jsonl"
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "KUBECTL_LOG": str(log)},
        capture_output=True, text=True, timeout=30, input="typed-at-the-prompt\n",
    )
    assert done.returncode == 0, done.stderr
    calls = [json.loads(l) for l in log.read_text().splitlines()]
    # The password goes from the prompt to kubectl's standard input, never on a command line.
    assert "typed-at-the-prompt" not in notes and "<password>" not in notes
    assert not any("typed-at-the-prompt" in a for c in calls for a in c["args"])
    (create,) = [c for c in calls if c["args"][2:4] == ["create", "secret"]]
    assert create["stdin"] == "typed-at-the-prompt"
    watched = values.get("watchNamespaces") or []
    applied = [yaml.safe_load(c["stdin"]) for c in calls if c["args"][:2] == ["apply", "-f"] and c["stdin"].strip()]
    (resource,) = [a for a in applied if a and a.get("kind") == "OpenMetadataKeycloakClient"]
    body = {k: v for k, v in resource.items() if k not in ("apiVersion", "kind", "metadata")}
    jsonschema.validate(body, render.crd_schema())
    assert resource["spec"]["client"]["clientId"] == "open-metadata"
    # Without inline connections, the notes never walk through inline credentials: the
    # resource names the connection, and the namespace is labelled into its selector.
    keycloak = resource["spec"]["keycloak"]
    if values.get("inlineConnections"):
        assert keycloak["credentialsSecretRef"] == {"name": "keycloak-admin"}
    else:
        assert keycloak == {"connectionRef": {"name": "platform"}, "realm": "data-sec"}
        assert "credentialsSecretRef" not in notes
        assert create["args"][:2] == ["-n", render.NAMESPACE]
        assert ["label", "namespace", resource["metadata"]["namespace"], "omkc.dev/tenant=true", "--overwrite"] in [
            c["args"] for c in calls
        ]
    used = {c["args"][c["args"].index("-n") + 1] for c in calls if "-n" in c["args"]}
    used.add(resource["metadata"]["namespace"])
    for ns in used - {render.NAMESPACE}:
        assert not watched or ns in watched, f"the notes use namespace {ns}, which the release does not watch"
    # The roles named are the README's.
    for role in ("manage-clients", "view-clients"):
        assert role in notes
    # Keycloak has no role query-client-scopes (22.0.5 and 26.7.4 seen): view-clients reads scopes.
    assert "query-client-scopes" not in notes


def test_every_value_is_documented_and_the_readme_table_is_current():
    import values_doc

    undocumented = [key for key, _, description in values_doc.rows() if not description]
    assert undocumented == [], f"values without a `# --` description: {undocumented}"
    readme = (render.CHART / "README.md").read_text()
    assert values_doc.readme_with_table(readme) == readme, "run: python3 tests/deploy/values_doc.py --write"
    # Every key of the schema is a documented value (or under one).
    schema = json.loads((render.CHART / "values.schema.json").read_text())
    keys = {key for key, _, _ in values_doc.rows()}
    for top in schema["properties"]:
        if top == "global":
            continue
        assert any(k == top or k.startswith(top + ".") for k in keys), top


def test_schema_errors_stay_readable():
    """Helm prints a refused value with the pattern it failed: patterns short enough to read, and
    every constrained value described (the chart README's table shows the descriptions)."""
    schema = json.loads((render.CHART / "values.schema.json").read_text())

    def walk(node, path):
        if isinstance(node, dict):
            if "pattern" in node:
                assert len(node["pattern"]) <= 130, f"{path}: a {len(node['pattern'])}-character pattern"
                assert node.get("description") or path.endswith(".items"), f"{path}: no description"
            for key, child in node.items():
                walk(child, f"{path}.{key}")
        elif isinstance(node, list):
            for child in node:
                walk(child, path)

    walk(schema, "values")
    with pytest.raises(Exception) as refused:
        render.render({"operator": {"logLevel": "loud"}})
    assert "logLevel" in str(refused.value) and len(str(refused.value)) < 600, str(refused.value)
