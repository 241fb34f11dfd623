"""The chart as Helm installs it, on a real API server, and the operator as that release runs it.

Run by `tests/kubernetes/cluster.sh helm VERSION`, which starts a bare control plane (nothing
applied) and Keycloak VERSION, with a Python that has helm-python-sdk (Helm v4's own library,
tests/deploy/requirements.txt). Every step is the README's or the docs' own:

1. `helm install` in the README's command, with the watched namespaces and a connection from
   the values (docs/install.md): Helm installs the CRDs from `crds/`, then the release; the API
   server admits every object of it.
2. The release's RBAC, as the API server authorises its ServiceAccount: what a watched namespace
   grants, and nothing in one that is not watched.
3. The operator binary, started as the kubelet would start the release's pod (see
   `operator_process`): its args and env, its projected ServiceAccount token and CA, its user,
   no capabilities and a read-only root file system; its token rotated as the kubelet
   rotates it, and the old one revoked. A resource in a watched namespace becomes Ready with its Secret; one in another
   namespace is not touched; the connection from the values reports Ready.
4. `helm upgrade --reuse-values --set rollout.enabled=true` grants the workload restarts; an
   upgrade that turns monitoring on (with prometheus-operator's CRDs installed) is admitted, its
   ServiceMonitor selecting the release's Service.
5. The documented uninstall (docs/operators/upgrade-and-uninstall.md): the resources deleted
   while the operator runs (their clients go from Keycloak), then `helm uninstall`, which
   removes the release and keeps the CRDs and what is stored in them.

The run fails if the operator logged a warning or an error, or a credential.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "openmetadata-keycloak-operator"
RELEASE, NS = "openmetadata-keycloak-operator", "omkc-system"
WATCHED, OTHER, REALM = "team-a", "team-b", "omkc-helm"
RUN = Path(os.environ["OMKC_RUN"])
KUBECTL = os.environ["OMKC_KUBECTL"]
BINARY = os.environ["OMKC_BINARY"]
KEYCLOAK = os.environ["KEYCLOAK_URL"]
PASSWORD = os.environ["KEYCLOAK_ADMIN_PASSWORD"]
ADMIN = RUN / "admin.kubeconfig"
SERVICE_ACCOUNT = f"system:serviceaccount:{NS}:{RELEASE}"


def say(text: str) -> None:
    print(f"helm: {text}", file=sys.stderr, flush=True)


def kubectl(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [KUBECTL, f"--kubeconfig={ADMIN}", *args], input=stdin, text=True, capture_output=True
    )
    if check and done.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {done.stderr.strip()}")
    return done


def can_i(verb: str, resource: str, namespace: str) -> bool:
    """What the API server's authoriser answers for the release's ServiceAccount."""
    done = kubectl("auth", "can-i", verb, resource, "-n", namespace, "--as", SERVICE_ACCOUNT, check=False)
    return done.stdout.strip() == "yes"


def until(what: str, check, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {seconds:.0f} s")
        time.sleep(0.5)


def keycloak(method: str, path: str, body: dict | None = None):
    """Keycloak's Admin API as the master realm's admin; the answer's JSON, if any."""
    form = urllib.parse.urlencode(
        {"grant_type": "password", "client_id": "admin-cli", "username": "admin", "password": PASSWORD}
    ).encode()
    with urllib.request.urlopen(f"{KEYCLOAK}/realms/master/protocol/openid-connect/token", form) as r:
        token = json.load(r)["access_token"]
    request = urllib.request.Request(
        f"{KEYCLOAK}/admin/realms{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as r:
        text = r.read()
    return json.loads(text) if text else None


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


def scratch(prefix: str) -> Path:
    """A folder outside $OMKC_RUN (which may be under a home the pod's user cannot enter),
    removed when the run ends."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def bound_token(seconds: int, holder: str) -> str:
    """A token of the release's ServiceAccount, bound to a Secret `holder` (made here) as a
    pod's token is bound to its pod: deleting the holder revokes it."""
    kubectl("-n", NS, "create", "secret", "generic", holder)
    return kubectl("-n", NS, "create", "token", RELEASE, f"--duration={seconds}s",
                   "--bound-object-kind=Secret", f"--bound-object-name={holder}").stdout.strip()


def rotate_token(files: Path, old: str) -> str:
    """The kubelet's rotation of the projected token (at 80% of its lifetime), then the old
    token revoked: the operator goes on with the new one. kube-client re-reads the token file
    once its copy is 50 s old (its `TokenFile`: 60 s, refreshed 10 s early), so the old token
    is revoked only after 60 s; then a deleted output Secret is written again, which takes
    requests to the API server with the new token. The new token."""
    new = bound_token(3600, "pod-token-2")
    staged = files / ".token"
    staged.write_text(new)
    staged.chmod(0o444)
    os.replace(staged, files / "token")
    time.sleep(60)
    kubectl("-n", NS, "delete", "secret", "pod-token-1")
    server = (RUN / "url").read_text().strip()
    as_old = [KUBECTL, "--kubeconfig=/dev/null", f"--server={server}",
              f"--certificate-authority={RUN / 'ca.crt'}", f"--token={old}", "auth", "whoami"]
    until("the old token refused", lambda: subprocess.run(as_old, capture_output=True).returncode != 0)
    kubectl("-n", WATCHED, "delete", "secret", "oidc-secrets")
    until("the output Secret written again",
          lambda: kubectl("-n", WATCHED, "get", "secret", "oidc-secrets", check=False).returncode == 0)
    say("the projected token rotated and the old one revoked: the operator writes with the new one")
    return new


def operator_process(manifest: list[dict]) -> tuple[subprocess.Popen, str]:
    """The release's Deployment, started as the kubelet would start its pod, without a
    container engine: the container's args and env (the pod's fields filled in); its projected
    volume (a ServiceAccount token of the volume's lifetime, the CA from the namespace's
    kube-root-ca.crt ConfigMap, the namespace; mode defaultMode) mounted read-only at the
    ServiceAccount path, with KUBERNETES_SERVICE_HOST/PORT, so the operator configures itself as
    in a cluster; the pod's user and group, no capabilities, no privilege escalation and a
    read-only root file system, in a mount namespace of its own. Only the HTTP port differs: a
    free one of this machine. Also the token, to look for in the log."""
    if os.geteuid() != 0:
        sys.exit("helm.py starts the operator as a pod: a mount namespace and the pod's user need root")
    deployment = next(o for o in manifest if o["kind"] == "Deployment")
    pod_spec = deployment["spec"]["template"]["spec"]
    container = pod_spec["containers"][0]
    pod = {"metadata.namespace": NS, "metadata.name": f"{RELEASE}-helm-test"}
    server = urllib.parse.urlsplit((RUN / "url").read_text().strip())
    env = {"KUBERNETES_SERVICE_HOST": server.hostname, "KUBERNETES_SERVICE_PORT": str(server.port)}
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = variable["value"]
        else:
            env[variable["name"]] = pod[variable["valueFrom"]["fieldRef"]["fieldPath"]]
    assert env["HTTP_ADDRESS"] == "0.0.0.0:8080", env["HTTP_ADDRESS"]
    env["HTTP_ADDRESS"] = "127.0.0.1:0"

    # The projected volume, as the kubelet writes it.
    (mount,) = container["volumeMounts"]
    (volume,) = [v for v in pod_spec["volumes"] if v["name"] == mount["name"]]
    assert mount["mountPath"] == "/var/run/secrets/kubernetes.io/serviceaccount" and mount["readOnly"]
    files = scratch("omkc-pod-")
    for source in volume["projected"]["sources"]:
        if "serviceAccountToken" in source:
            seconds = source["serviceAccountToken"]["expirationSeconds"]
            token = bound_token(seconds, "pod-token-1")
            (files / source["serviceAccountToken"]["path"]).write_text(token)
        elif "configMap" in source:
            name = source["configMap"]["name"]
            until(f"ConfigMap {name}", lambda: kubectl("-n", NS, "get", "configmap", name, check=False).returncode == 0)
            data = json.loads(kubectl("-n", NS, "get", "configmap", name, "-o", "json").stdout)["data"]
            for item in source["configMap"]["items"]:
                (files / item["path"]).write_text(data[item["key"]])
        else:
            for item in source["downwardAPI"]["items"]:
                (files / item["path"]).write_text(pod[item["fieldRef"]["fieldPath"]])
    for f in [files, *files.iterdir()]:
        f.chmod(0o755 if f.is_dir() else volume["projected"]["defaultMode"])
    # The image's binary, where the pod's user can run it.
    image = scratch("omkc-image-")
    image.chmod(0o755)
    shutil.copy(BINARY, image / "openmetadata-keycloak-operator")

    user = pod_spec["securityContext"]
    security = container["securityContext"]
    assert user["runAsNonRoot"] and security["capabilities"]["drop"] == ["ALL"]
    assert not security["allowPrivilegeEscalation"] and security["readOnlyRootFilesystem"]
    setup = f"""
        mount -t tmpfs -o mode=755 tmpfs /run
        mkdir -p {mount["mountPath"]}
        mount --bind {files} {mount["mountPath"]}
        mount -o remount,bind,ro {mount["mountPath"]}
        mount -o remount,bind,ro /
        exec setpriv --reuid={user["runAsUser"]} --regid={user["runAsGroup"]} --clear-groups \\
          --no-new-privs --inh-caps=-all --bounding-set=-all -- "$@"
    """
    command = [image / "openmetadata-keycloak-operator", *container["args"]]
    log = open(RUN / "helm-operator.log", "w")
    process = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "--", "sh", "-ec", setup, "pod", *map(str, command)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    return process, token, files


def as_the_pod(pid: int) -> None:
    """The operator's process is the pod's: its user, no capabilities, no privilege escalation,
    a read-only root and the projected volume, and no kubeconfig (it configured itself from the
    ServiceAccount path)."""
    status = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    assert status["Uid"].split()[0] == "65532" and status["Gid"].split()[0] == "65532", status["Uid"]
    assert int(status["CapEff"], 16) == 0 and int(status["CapBnd"], 16) == 0, status["CapEff"]
    assert status["NoNewPrivs"].strip() == "1"
    mounts = {m.split()[4]: m.split()[5] for m in Path(f"/proc/{pid}/mountinfo").read_text().splitlines()}
    assert mounts["/"].startswith("ro"), mounts["/"]
    # /var/run is /run, as mountinfo says.
    assert mounts[os.path.realpath("/var/run/secrets/kubernetes.io/serviceaccount")].startswith("ro"), mounts
    environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert not any(e.startswith((b"KUBECONFIG=", b"HOME=")) for e in environment)


def log_lines() -> list[dict]:
    log = (RUN / "helm-operator.log").read_text()
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]


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


def monitoring(config: helm.Config) -> str:
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


def main() -> None:
    keycloak("POST", "", {"realm": REALM, "enabled": True})
    # A namespaced install's namespaces exist first (values.yaml says so).
    kubectl("create", "namespace", WATCHED)
    kubectl("create", "namespace", OTHER)
    config = helm.Config(kubeconfig_path=str(ADMIN), namespace=NS)
    values = {
        # The README's install command's values.
        "image": {"repository": "openmetadata-keycloak-operator", "tag": "dev", "pullPolicy": "Never"},
        "watchNamespaces": [WATCHED],
        "connections": [
            {
                "name": "keycloak",
                "url": KEYCLOAK,
                "credentialsSecret": {"name": "keycloak-admin"},
                "namespaceSelector": {},
                "allowedRealms": [REALM],
            }
        ],
    }
    release = config.install(str(CHART), RELEASE, values, namespace=NS, create_namespace=True)
    assert release["status"] == "deployed", {k: v for k, v in release.items() if k != "manifest"}
    manifest = [o for o in yaml.safe_load_all(release["manifest"]) if o]
    say(f"installed: {len(manifest)} objects, {sorted({o['kind'] for o in manifest})}")

    # 1. The CRDs came from crds/, and the API server holds every object of the release.
    kubectl("wait", "--for=condition=Established", "--timeout=60s",
            "crd/openmetadatakeycloakclients.omkc.dev", "crd/clusterkeycloakconnections.omkc.dev")
    stored = kubectl("get", "-f", "-", "-o", "name", stdin=release["manifest"]).stdout.split()
    assert len(stored) == len(manifest), (stored, len(manifest))

    # 2. The release's RBAC as the API server authorises it.
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

    # 3. The operator as the release runs it.
    kubectl("-n", NS, "create", "secret", "generic", "keycloak-admin",
            "--from-literal=username=admin", f"--from-literal=password={PASSWORD}")
    kubectl("-n", NS, "label", "secret", "keycloak-admin", "omkc.dev/keycloak-credentials=true")
    operator, token, pod_files = operator_process(manifest)
    first_token = token
    try:
        kubectl("-n", WATCHED, "apply", "-f", "-", stdin=resource("openmetadata", "om-helm"))
        kubectl("-n", OTHER, "apply", "-f", "-", stdin=resource("openmetadata", "om-helm-other"))
        kubectl("-n", WATCHED, "wait", "--for=condition=Ready", "omkc/openmetadata", "--timeout=60s")
        kubectl("wait", "--for=condition=Ready", "kcconn/keycloak", "--timeout=60s")
        secret = json.loads(kubectl("-n", WATCHED, "get", "secret", "oidc-secrets", "-o", "json").stdout)
        assert set(secret["data"]) == {"openmetadata-oidc-client-id", "openmetadata-oidc-client-secret"}, secret["data"].keys()
        assert "om-helm" in client_ids()
        other = json.loads(kubectl("-n", OTHER, "get", "omkc", "openmetadata", "-o", "json").stdout)
        assert "status" not in other and not other["metadata"].get("finalizers"), other
        assert kubectl("-n", OTHER, "get", "secret", "oidc-secrets", check=False).returncode != 0
        assert "om-helm-other" not in client_ids()
        as_the_pod(operator.pid)
        say("the operator, run as the release's pod: Ready in the watched namespace, the other untouched")
        probe(manifest)
        token = rotate_token(pod_files, token)

        # 4. An upgrade that turns workload restarts on.
        upgraded = config.upgrade(str(CHART), RELEASE, {"rollout": {"enabled": True}},
                                  namespace=NS, reuse_values=True)
        assert upgraded["status"] == "deployed" and upgraded["revision"] == 2, upgraded["status"]
        assert can_i("patch", "deployments.apps", WATCHED) and not can_i("patch", "deployments.apps", OTHER)
        say("upgraded: rollout.enabled grants workload restarts in the watched namespace only")
        latest = monitoring(config)

        # 5. The documented uninstall: the resources first, while the operator runs.
        kubectl("-n", WATCHED, "delete", "omkc", "openmetadata", "--timeout=60s")
        until("client deletion in Keycloak", lambda: "om-helm" not in client_ids())
    finally:
        os.killpg(operator.pid, signal.SIGTERM)
        operator.wait(timeout=30)
    config.uninstall(RELEASE)
    left = kubectl("get", "-f", "-", "-o", "name", "--ignore-not-found", stdin=latest).stdout
    assert left.strip() == "", f"left after helm uninstall: {left}"
    kubectl("get", "crd/openmetadatakeycloakclients.omkc.dev", "crd/clusterkeycloakconnections.omkc.dev")
    kubectl("-n", OTHER, "get", "omkc", "openmetadata")
    say("uninstalled: the release is gone; the CRDs and the resources stored in them stay")

    # The operator met nothing that called for a warning, and logged no credential.
    log = (RUN / "helm-operator.log").read_text()
    lines = log_lines()
    levels = {line["level"] for line in lines}
    assert levels and not levels & {"WARN", "ERROR"}, log[-4000:]
    # Its scope said plainly, as the chart's watchNamespaces gave it.
    said = {line["fields"]["message"]: line["fields"] for line in lines}
    assert said["resource cache synced"]["namespace"] == WATCHED, said["resource cache synced"]
    started = next(f for m, f in said.items() if m.startswith("starting openmetadata-keycloak-operator"))
    assert started["namespaces"] == WATCHED and started["resource_selector"] == "(every resource)", started
    assert PASSWORD not in log and token not in log and first_token not in log, "a credential is in the operator's log"


if __name__ == "__main__":
    main()
