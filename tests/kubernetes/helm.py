"""The chart as Helm installs it, on a real API server, and the operator as that release runs it.

Run by `tests/kubernetes/cluster.sh helm VERSION`, which starts a bare control plane (nothing
applied) and Keycloak VERSION, with a Python that has helm-python-sdk (Helm v4's own library,
tests/deploy/requirements.txt). With OMKC_HELM=3, every Helm call is the `helm` v3 binary's
($OMKC_HELM3) instead, for the users who still run Helm 3. Every step is the README's or the
docs' own:

1. `helm install` in the README's command, with the watched namespaces and a connection from
   the values (docs/install.md): Helm installs the CRDs from `crds/`, then the release; the API
   server admits every object of it.
   Then the docs' CRD step of an upgrade, run as written, over the CRDs Helm installed.
2. The release's RBAC, as the API server authorises its ServiceAccount: what a watched namespace
   grants, and nothing in one that is not watched.
3. The operator binary, started as the kubelet would start the release's pod (see
   `operator_process`): its args and env, its projected ServiceAccount token and CA, its user,
   no capabilities and a read-only root file system. A resource in a watched namespace becomes
   Ready with its Secret; one in another namespace is not touched; the connection from the
   values reports Ready; the probes answer. Its token is rotated as the kubelet rotates it, and
   the old one revoked.
4. `helm upgrade --reuse-values --set rollout.enabled=true` grants the workload restarts; an
   upgrade that turns monitoring on (with prometheus-operator's CRDs installed) is admitted, its
   ServiceMonitor selecting the release's Service.
5. The documented uninstall (docs/operators/upgrade-and-uninstall.md), its commands as
   written: the resources deleted while the operator runs (their clients go from Keycloak), the
   connections and the release (which keeps the CRDs), then the CRDs.

The run fails if the API server warned during a Helm call, or if the operator logged a warning
or an error, or a credential.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import urllib.request
from pathlib import Path

import helm_python as helm
import yaml

from kubelet import as_the_pod, operator_process, rotate_token, scratch
from support import (ADMIN, CHART, KEYCLOAK, KUBECTL, NS, OTHER, PASSWORD, REALM, RELEASE, ROOT, RUN, WATCHED,
                     can_i, keycloak, kubectl, say, until, unwarned)


class Helm3:
    """The `helm` v3 binary behind the three calls this run makes of Helm 4's library (install,
    upgrade, uninstall), each answering as the library does. Its stderr is this process's, where
    `unwarned` reads the API server's warnings."""

    def __init__(self, binary: str):
        self.binary = binary

    def helm(self, *args: str, values: dict | None = None) -> subprocess.CompletedProcess:
        command = [self.binary, f"--kubeconfig={ADMIN}", *args]
        if values is not None:
            file = scratch("omkc-values-") / "values.json"
            file.write_text(json.dumps(values))
            command += ["-f", str(file), "-o", "json"]
        return subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True, timeout=300)

    @staticmethod
    def release(done: subprocess.CompletedProcess) -> dict:
        release = json.loads(done.stdout)
        return {"status": release["info"]["status"], "revision": release["version"], "manifest": release["manifest"]}

    def install(self, chart: str, name: str, values: dict, namespace: str, create_namespace: bool) -> dict:
        create = ["--create-namespace"] if create_namespace else []
        return self.release(self.helm("install", name, chart, "-n", namespace, *create, values=values))

    def upgrade(self, chart: str, name: str, values: dict, namespace: str, reuse_values: bool) -> dict:
        reuse = ["--reuse-values"] if reuse_values else []
        return self.release(self.helm("upgrade", name, chart, "-n", namespace, *reuse, values=values))

    def uninstall(self, name: str) -> None:
        self.helm("uninstall", name, "-n", NS)


def client_ids() -> list[str]:
    return [c["clientId"] for c in keycloak("GET", f"/{REALM}/clients")]


def resource(name: str, client_id: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "omkc.dev/v1alpha1",
            "kind": "OpenMetadataKeycloakClient",
            "metadata": {"name": name},
            "spec": {
                "keycloak": {"connectionRef": {"name": "keycloak"}, "realm": REALM},
                "openmetadata": {"url": f"https://{client_id}.example"},
                "client": {"clientId": client_id},
            },
        }
    )


def log_lines() -> list[dict]:
    log = (RUN / "helm-operator.log").read_text()
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]


def documented(section: str) -> list[list[str]]:
    """The commands of the ```sh blocks of a section of docs/operators/upgrade-and-uninstall.md,
    as written (comments dropped)."""
    doc = (ROOT / "docs" / "operators" / "upgrade-and-uninstall.md").read_text()
    text = doc.split(f"## {section}\n")[1].split("\n## ")[0]
    blocks = [b.split("```")[0].replace("\\\n", " ") for b in text.split("```sh\n")[1:]]
    return [[shlex.split(l.split(" #")[0]) for l in b.splitlines() if l.strip()] for b in blocks]


def install(config: helm.Config | Helm3) -> list[dict]:
    """Step 1: the README's `helm install`, namespaced, with a connection from the values. The
    release's objects."""
    keycloak("POST", "", {"realm": REALM, "enabled": True})
    # A namespaced install's namespaces exist first (values.yaml says so).
    kubectl("create", "namespace", WATCHED)
    kubectl("create", "namespace", OTHER)
    connection = {"name": "keycloak", "url": KEYCLOAK, "credentialsSecret": {"name": "keycloak-admin"},
                  "namespaceSelector": {}, "allowedRealms": [REALM]}
    values = {
        # The README's install command's values.
        "image": {"repository": "openmetadata-keycloak-operator", "tag": "dev", "pullPolicy": "Never"},
        "watchNamespaces": [WATCHED],
        "connections": [connection],
    }
    with unwarned("helm install"):
        release = config.install(str(CHART), RELEASE, values, namespace=NS, create_namespace=True)
    assert release["status"] == "deployed", {k: v for k, v in release.items() if k != "manifest"}
    manifest = [o for o in yaml.safe_load_all(release["manifest"]) if o]
    say(f"installed: {len(manifest)} objects, {sorted({o['kind'] for o in manifest})}")
    # The CRDs came from crds/, and the API server holds every object of the release.
    kubectl("wait", "--for=condition=Established", "--timeout=60s",
            "crd/openmetadatakeycloakclients.omkc.dev", "crd/clusterkeycloakconnections.omkc.dev")
    stored = kubectl("get", "-f", "-", "-o", "name", stdin=release["manifest"]).stdout.split()
    assert len(stored) == len(manifest), (stored, len(manifest))
    return manifest


def crds_upgraded() -> None:
    """The docs' CRD step of an upgrade (docs/operators/upgrade-and-uninstall.md, run as
    written) over the CRDs Helm installed, with a new version's CRD (a description changed): it
    applies, where the same command without `--force-conflicts` stops at Helm's ownership."""
    ((command,), (helm_upgrade,)) = documented("Upgrade")
    assert helm_upgrade[:3] == ["helm", "upgrade", RELEASE] and "--reuse-values" in helm_upgrade
    tree = scratch("omkc-next-")
    (tree / "crds").mkdir()
    for crd in (ROOT / "crds").glob("*.yaml"):
        body = yaml.safe_load(crd.read_text())
        schema = body["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        schema["description"] += " (the next version)"
        (tree / "crds" / crd.name).write_text(yaml.safe_dump(body))
    admin = [KUBECTL, f"--kubeconfig={ADMIN}"]
    without = [a for a in command[1:] if a != "--force-conflicts"]
    refused = subprocess.run(admin + without, cwd=tree, capture_output=True, text=True)
    assert refused.returncode != 0 and "conflict" in refused.stderr, refused
    applied = subprocess.run(admin + command[1:], cwd=tree, capture_output=True, text=True, check=True)
    assert "Warning:" not in applied.stderr, applied.stderr
    served = json.loads(kubectl("get", "crd/openmetadatakeycloakclients.omkc.dev", "-o", "json").stdout)
    assert served["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["description"].endswith("(the next version)")
    say(f"the docs' CRD upgrade ({' '.join(command)}) applies over Helm's CRDs; without --force-conflicts it conflicts")


def rbac() -> None:
    """Step 2: the release's RBAC, as the API server's authoriser answers for its account."""
    granted = {
        ("list", "openmetadatakeycloakclients.omkc.dev", WATCHED): True,
        ("patch", "openmetadatakeycloakclients.omkc.dev/status", WATCHED): True,
        ("create", "secrets", WATCHED): True,
        ("create", "events.events.k8s.io", WATCHED): True,
        ("list", "openmetadatakeycloakclients.omkc.dev", OTHER): False,
        ("create", "secrets", OTHER): False,
        ("get", "secrets", OTHER): False,
        ("list", "clusterkeycloakconnections.omkc.dev", NS): True,
        ("get", "leases.coordination.k8s.io", NS): True,
        ("get", "leases.coordination.k8s.io", WATCHED): False,
        ("patch", "deployments.apps", WATCHED): False,
        ("watch", "secrets", NS): True,
        ("create", "secrets", NS): False,
    }
    answers = {ask: can_i(*ask) for ask in granted}
    assert answers == granted, {ask: a for ask, a in answers.items() if a != granted[ask]}
    say(f"RBAC: {len(granted)} answers as expected (watched, other and release namespaces)")


def reconciles(operator: subprocess.Popen) -> None:
    """Step 3: the operator, as the release's pod, makes the watched namespace's resource
    Ready and leaves the other namespace's alone."""
    kubectl("-n", WATCHED, "apply", "-f", "-", stdin=resource("openmetadata", "om-helm"))
    kubectl("-n", OTHER, "apply", "-f", "-", stdin=resource("openmetadata", "om-helm-other"))
    kubectl("-n", WATCHED, "wait", "--for=condition=Ready", "omkc/openmetadata", "--timeout=60s")
    kubectl("wait", "--for=condition=Ready", "kcconn/keycloak", "--timeout=60s")
    secret = json.loads(kubectl("-n", WATCHED, "get", "secret", "oidc-secrets", "-o", "json").stdout)
    assert set(secret["data"]) == {"openmetadata-oidc-client-id", "openmetadata-oidc-client-secret"}, secret["data"]
    assert "om-helm" in client_ids()
    other = json.loads(kubectl("-n", OTHER, "get", "omkc", "openmetadata", "-o", "json").stdout)
    assert "status" not in other and not other["metadata"].get("finalizers"), other
    assert kubectl("-n", OTHER, "get", "secret", "oidc-secrets", check=False).returncode != 0
    assert "om-helm-other" not in client_ids()
    as_the_pod(operator.pid)
    say("the operator, run as the release's pod: Ready in the watched namespace, the other untouched")


def probe(manifest: list[dict]) -> None:
    """The Deployment's probes, as the kubelet would make them, and the metrics the Service
    exposes, on the port the operator says it serves."""
    started = next(line["fields"] for line in log_lines() if line["fields"]["message"].startswith("starting "))
    base = f"http://{started['http_address']}"
    deployment = next(o for o in manifest if o["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    service = next(o for o in manifest if o["kind"] == "Service")
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"], service["spec"]["ports"]
    assert [p["name"] for p in container["ports"]] == ["http"], container["ports"]
    paths = [container[p]["httpGet"]["path"] for p in ("livenessProbe", "readinessProbe")]
    for path in [*paths, "/metrics"]:
        with urllib.request.urlopen(base + path, timeout=5) as r:
            assert r.status == 200, (path, r.status)
            body = r.read().decode()
    assert "omkc_resources" in body, body[:2000]
    say(f"probes {paths} answer 200, and /metrics the operator's metrics")


def monitoring(config: helm.Config | Helm3) -> str:
    """With prometheus-operator's CRDs installed (from its Go module, $OMKC_MONITORING_CRDS), an
    upgrade that turns on the ServiceMonitor, the PrometheusRule, the Grafana dashboard and the
    NetworkPolicy: the API server admits each against its schema, and the ServiceMonitor selects
    the release's Service by its labels and names one of its ports. The new manifest."""
    crds = Path(os.environ["OMKC_MONITORING_CRDS"])
    for kind in ("servicemonitors", "prometheusrules"):
        kubectl("apply", "--server-side", "-f", str(crds / f"monitoring.coreos.com_{kind}.yaml"))
        kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{kind}.monitoring.coreos.com")
    on = {
        "metrics": {
            "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
            "prometheusRule": {"enabled": True},
            "grafanaDashboard": {"enabled": True},
        },
        "networkPolicy": {"enabled": True},
    }
    with unwarned("helm upgrade with monitoring"):
        upgraded = config.upgrade(str(CHART), RELEASE, on, namespace=NS, reuse_values=True)
    assert upgraded["status"] == "deployed" and upgraded["revision"] == 3, upgraded["status"]
    kinds = {o["kind"] for o in yaml.safe_load_all(upgraded["manifest"]) if o}
    assert {"ServiceMonitor", "PrometheusRule", "ConfigMap", "NetworkPolicy"} <= kinds, kinds
    stored = kubectl("get", "-f", "-", "-o", "json", stdin=upgraded["manifest"]).stdout
    objects = json.loads(stored)["items"]
    (monitor,) = [o for o in objects if o["kind"] == "ServiceMonitor"]
    (service,) = [o for o in objects if o["kind"] == "Service"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items(), (selector, service["metadata"]["labels"])
    ports = {p["name"] for p in service["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports, (monitor["spec"]["endpoints"], ports)
    (rule,) = [o for o in objects if o["kind"] == "PrometheusRule"]
    alerts = [r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]]
    say(f"upgraded: monitoring on, admitted by prometheus-operator's CRDs ({len(alerts)} alerts), "
        "the ServiceMonitor selecting the Service's port")
    return upgraded["manifest"]


def uninstall(config: helm.Config | Helm3, latest: str, operator: subprocess.Popen) -> None:
    """Step 5: the documented uninstall, its steps 2 to 4 as written (step 1 only chooses to
    keep the clients). The resources are deleted while the operator runs, and their clients go
    from Keycloak; then the connections and the release, which leaves nothing of itself and
    keeps the CRDs; then the CRDs."""
    (_, resources, release, crds) = documented("Uninstall")
    admin = [KUBECTL, f"--kubeconfig={ADMIN}"]
    assert resources == [["kubectl", "delete", "omkc", "--all", "-A", "--wait"]], resources
    subprocess.run(admin + resources[0][1:], check=True, capture_output=True, timeout=120)
    assert "om-helm" not in client_ids()
    until("the output Secret collected", lambda: kubectl(
        "-n", WATCHED, "get", "secret", "oidc-secrets", check=False).returncode != 0)
    (connections, helm_uninstall) = release
    subprocess.run(admin + connections[1:], check=True, capture_output=True, timeout=60)
    assert helm_uninstall == ["helm", "uninstall", RELEASE, "-n", NS], helm_uninstall
    with unwarned("helm uninstall"):
        config.uninstall(RELEASE)
    os.killpg(operator.pid, signal.SIGTERM)  # the Deployment went with the release
    operator.wait(timeout=30)
    left = kubectl("get", "-f", "-", "-o", "name", "--ignore-not-found", stdin=latest).stdout
    assert left.strip() == "", f"left after helm uninstall: {left}"
    kubectl("get", "crd/openmetadatakeycloakclients.omkc.dev", "crd/clusterkeycloakconnections.omkc.dev")
    subprocess.run(admin + crds[0][1:], check=True, capture_output=True, timeout=60, cwd=ROOT)
    assert kubectl("get", "crd", "-o", "name").stdout.count("omkc.dev") == 0
    say("uninstalled as documented: clients deleted, the release gone (CRDs kept), then the CRDs")


def log_is_clean(tokens: list[str]) -> None:
    """The operator met nothing that called for a warning, logged no credential, and said its
    scope plainly, as the chart's watchNamespaces gave it."""
    log = (RUN / "helm-operator.log").read_text()
    lines = log_lines()
    levels = {line["level"] for line in lines}
    assert levels and not levels & {"WARN", "ERROR"}, log[-4000:]
    said = {line["fields"]["message"]: line["fields"] for line in lines}
    assert said["resource cache synced"]["namespace"] == WATCHED, said["resource cache synced"]
    started = next(f for m, f in said.items() if m.startswith("starting openmetadata-keycloak-operator"))
    assert started["namespaces"] == WATCHED and started["resource_selector"] == "(every resource)", started
    assert not any(secret in log for secret in [PASSWORD, *tokens]), "a credential is in the operator's log"


def main() -> None:
    if os.environ.get("OMKC_HELM") == "3":
        config = Helm3(os.environ["OMKC_HELM3"])
        version = config.helm("version", "--short").stdout.strip()
        assert version.startswith("v3."), version
        say(f"every Helm call is the helm binary's, {version}")
    else:
        config = helm.Config(kubeconfig_path=str(ADMIN), namespace=NS)
    manifest = install(config)
    crds_upgraded()
    rbac()
    kubectl("-n", NS, "create", "secret", "generic", "keycloak-admin",
            "--from-literal=username=admin", f"--from-literal=password={PASSWORD}")
    kubectl("-n", NS, "label", "secret", "keycloak-admin", "omkc.dev/keycloak-credentials=true")
    operator, token, pod_files = operator_process(manifest)
    tokens = [token]
    try:
        reconciles(operator)
        probe(manifest)
        tokens.append(rotate_token(pod_files, token))
        # Step 4: upgrades.
        with unwarned("helm upgrade"):
            upgraded = config.upgrade(str(CHART), RELEASE, {"rollout": {"enabled": True}},
                                      namespace=NS, reuse_values=True)
        assert upgraded["status"] == "deployed" and upgraded["revision"] == 2, upgraded["status"]
        assert can_i("patch", "deployments.apps", WATCHED) and not can_i("patch", "deployments.apps", OTHER)
        say("upgraded: rollout.enabled grants workload restarts in the watched namespace only")
        latest = monitoring(config)
        uninstall(config, latest, operator)
    finally:
        if operator.poll() is None:
            os.killpg(operator.pid, signal.SIGTERM)
            operator.wait(timeout=30)
    log_is_clean(tokens)


if __name__ == "__main__":
    main()
