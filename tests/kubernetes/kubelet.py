"""What the kubelet does for the release's pod, without a container engine: start its container
as a process (projected volume, security context) and rotate its token."""

from __future__ import annotations

import atexit
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

from support import BINARY, KUBECTL, NS, RELEASE, RUN, SERVICE_ACCOUNT, WATCHED, kubectl, say, until


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


def credential_id(token: str) -> str:
    """The credential id the API server's audit log gives a request made with a ServiceAccount
    `token`: its JWT id (ServiceAccountTokenJTI, on by default from 1.30)."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"JTI={claims['jti']}"


def made_a_request_with(token: str) -> bool:
    """Whether the audit log has a request the release's ServiceAccount made with `token`."""
    wanted = [credential_id(token)]
    with open(RUN / "audit.log") as log:
        # A line without its newline is one the API server is still writing: the next poll has it.
        return any(
            line.endswith("\n")
            and (user := json.loads(line)["user"]).get("username") == SERVICE_ACCOUNT
            and user.get("extra", {}).get("authentication.kubernetes.io/credential-id") == wanted
            for line in log
        )


def rotate_token(files: Path, old: str) -> str:
    """The kubelet's rotation of the projected token (at 80% of its lifetime), then the old
    token revoked: the operator goes on with the new one. kube-client re-reads the token file
    once its copy is 50 s old (its `TokenFile`: 60 s, refreshed 10 s early), so the old token
    is revoked once the audit log shows the operator's first request with the new one (up to
    50 s after the operator started); then a deleted output Secret is written again, which
    takes requests to the API server with the new token. The new token."""
    new = bound_token(3600, "pod-token-2")
    staged = files / ".token"
    staged.write_text(new)
    staged.chmod(0o444)
    os.replace(staged, files / "token")
    until("request of the operator's with the new token", lambda: made_a_request_with(new), 90)
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


def operator_process(manifest: list[dict]) -> tuple[subprocess.Popen, str, Path]:
    """The release's Deployment, started as the kubelet would start its pod, without a
    container engine: the container's args and env (the pod's fields filled in); its projected
    volume (a ServiceAccount token of the volume's lifetime, the CA from the namespace's
    kube-root-ca.crt ConfigMap, the namespace; mode defaultMode) mounted read-only at the
    ServiceAccount path, with KUBERNETES_SERVICE_HOST/PORT, so the operator configures itself as
    in a cluster; the pod's user and group, no capabilities, no privilege escalation and a
    read-only root file system, in a mount namespace of its own. Only the HTTP port differs: a
    free one of this machine. Also its token (to look for in the log) and the volume's folder
    (to rotate the token in)."""
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


