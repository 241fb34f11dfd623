"""What tests/kubernetes/helm.py and kubelet.py share: the run's settings (from
tests/kubernetes/cluster.sh helm), kubectl as the cluster's administrator, Keycloak's Admin API."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

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


@contextlib.contextmanager
def unwarned(what: str):
    """Runs a Helm call and fails if the API server warned (an unknown schema format, a deprecated
    API): Helm's Go code, in this process, logs each warning on stderr, as the helm binary does
    for its users."""
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            said = caught.read().decode(errors="replace")
            sys.stderr.write(said)  # still shown, the failing call's too
    warned = [line for line in said.splitlines() if "Warning:" in line]
    assert not warned, f"{what}: the API server warned: {warned}"


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


