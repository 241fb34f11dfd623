#!/usr/bin/env python3
"""What a real Keycloak answers the operator's requests in: the source of the benchmark's Keycloak
model (the emulator's `--latency-ms`, 10 ms; docs/contributors/benchmark.md).

For each of N resources, the requests the operator makes for a fresh one (find the client by
`clientId`, create it with the body `plan` shows for examples/openmetadatakeycloakclient.yaml,
read it back by id), then for each the request of a converged resync (find it again), with
CONCURRENCY requests in flight as the operator's per-host limit allows (8 by default), each
worker on a kept-alive connection as reqwest's pool keeps them. Prints, per request kind, the
mean and percentiles of the time to the answer, and each phase's requests a second. The realm is
made for the run and deleted after it.

    tests/keycloak/keycloak.sh start 26.7.4      # prints OMKC_TEST_KEYCLOAK_URL=...
    python3 tools/bench/keycloak_latency.py --url http://127.0.0.1:PORT [--resources 300]
        [--concurrency 8] [--user admin] [--password admin-password-for-tests]
        [--operator target/debug/openmetadata-keycloak-operator]

With --operator, the body is first checked against the one that binary's `plan` prints for the
example: the same fields and attributes, and the same values where they do not depend on the
resource (CI runs it so, on 30 resources: `tests/keycloak/keycloak.sh latency`).
"""
from __future__ import annotations

import argparse
import http.client
import json
import re
import statistics
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor


class Admin:
    """The Admin API as master's admin over one kept-alive connection; one token, renewed on a
    401 (shared by the workers)."""

    token = None
    lock = threading.Lock()

    def __init__(self, url: str, user: str, password: str):
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.user, self.password = user, password
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def grant(self) -> str:
        form = urllib.parse.urlencode({"grant_type": "password", "client_id": "admin-cli",
                                       "username": self.user, "password": self.password})
        status, body, _ = self.raw("POST", "/realms/master/protocol/openid-connect/token", form,
                                   "application/x-www-form-urlencoded", None)
        assert status == 200, f"the admin may sign in: {status} {body}"
        return json.loads(body)["access_token"]

    def raw(self, method, path, body, kind, token):
        headers = {"Content-Type": kind} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.conn.request(method, path, body=body, headers=headers)
        answer = self.conn.getresponse()
        return answer.status, answer.read(), answer.getheader("Location")

    def call(self, method: str, path: str, body: dict | None = None):
        """Status, JSON (or None), Location, and the seconds to the answer."""
        data = json.dumps(body) if body is not None else None
        for _ in range(2):
            with Admin.lock:
                if Admin.token is None:
                    Admin.token = self.grant()
                token = Admin.token
            started = time.perf_counter()
            status, raw, location = self.raw(method, "/admin/realms" + path, data,
                                             "application/json", token)
            took = time.perf_counter() - started
            if status != 401:
                return status, (json.loads(raw) if raw else None), location, took
            with Admin.lock:
                if Admin.token == token:
                    Admin.token = None
        raise AssertionError(f"{method} {path}: 401 with a fresh token")


def client(i: int) -> dict:
    """The body the operator POSTs (`plan -f examples/openmetadatakeycloakclient.yaml`)."""
    url = f"https://openmetadata-{i}.example.com"
    return {
        "clientId": f"om-latency-{i}", "name": "OpenMetadata", "protocol": "openid-connect",
        "enabled": True, "publicClient": False, "bearerOnly": False,
        "clientAuthenticatorType": "client-secret", "standardFlowEnabled": True,
        "implicitFlowEnabled": False, "directAccessGrantsEnabled": False,
        "rootUrl": url, "redirectUris": [f"{url}/callback"], "webOrigins": [url],
        "attributes": {"omkc.dev/owner": f"bench/ns/r{i}", "omkc.dev/owner-uid": f"uid-{i}",
                       "pkce.code.challenge.method": "", "post.logout.redirect.uris": f"{url}/logout"},
    }


def check_body(operator: str) -> None:
    """Fail unless `client` has the fields and attributes of the create body `plan` prints for
    the example, and its values where they do not name the resource or its URLs."""
    example = Path(__file__).resolve().parents[2] / "examples/openmetadatakeycloakclient.yaml"
    out = subprocess.run([operator, "plan", "-f", str(example)], check=True, capture_output=True,
                         text=True).stdout
    document = out.split("\n---\n")[1]  # the client, after the header of comments
    fields = dict(re.findall(r"^(\w+):[ ]?(.*)$", document, re.M))
    attributes = re.findall(r"^  ([\w.\-/]+):", document, re.M)
    ours = client(0)
    assert sorted(fields) == sorted(ours), f"plan's fields {sorted(fields)}, ours {sorted(ours)}"
    assert sorted(attributes) == sorted(ours["attributes"]), \
        f"plan's attributes {sorted(attributes)}, ours {sorted(ours['attributes'])}"
    for name, value in ours.items():
        if isinstance(value, (bool, str)) and name not in ("clientId", "rootUrl"):
            assert fields[name] == json.dumps(value).strip('"'), \
                f"{name}: plan sends {fields[name]}, this script {json.dumps(value)}"
    print(f"the create body matches {operator} plan -f {example}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default="admin-password-for-tests")
    parser.add_argument("--resources", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--operator", help="check the body against this binary's plan first")
    o = parser.parse_args()
    if o.operator:
        check_body(o.operator)

    local = threading.local()

    def admin() -> Admin:
        if not hasattr(local, "admin"):
            local.admin = Admin(o.url, o.user, o.password)
        return local.admin

    realm = f"omkc-latency-{int(time.time())}"
    status, _, _, _ = admin().call("POST", "", {"realm": realm, "enabled": True})
    assert status == 201, status
    times: dict[str, list[float]] = {}

    def timed(kind: str, method: str, path: str, body=None, want=200):
        status, answer, location, took = admin().call(method, path, body)
        assert status == want, f"{kind}: {status} {answer}"
        with Admin.lock:
            times.setdefault(kind, []).append(took)
        return answer, location

    def fresh(i: int) -> None:
        found, _ = timed("find (absent)", "GET", f"/{realm}/clients?clientId=om-latency-{i}")
        assert found == [], found
        _, location = timed("create", "POST", f"/{realm}/clients", client(i), want=201)
        read, _ = timed("read back", "GET", f"/{realm}/clients/{location.rsplit('/', 1)[1]}")
        assert read["secret"], "a confidential client has its secret"

    def converged(i: int) -> None:
        found, _ = timed("find (resync)", "GET", f"/{realm}/clients?clientId=om-latency-{i}")
        assert len(found) == 1, found

    try:
        print(f"Keycloak at {o.url}, realm {realm}: {o.resources} resources, "
              f"{o.concurrency} requests in flight")
        for phase, work, per in (("fresh", fresh, 3), ("converged resync", converged, 1)):
            started = time.perf_counter()
            with ThreadPoolExecutor(o.concurrency) as pool:
                list(pool.map(work, range(o.resources)))
            took = time.perf_counter() - started
            print(f"{phase}: {o.resources} resources in {took:.2f} s, "
                  f"{o.resources * per / took:.0f} requests a second")
        print(f"{'request':<15} {'n':>5} {'mean':>8} {'p50':>8} {'p90':>8} {'p99':>8}   (ms)")
        for kind, values in times.items():
            ms = sorted(v * 1000 for v in values)
            q = statistics.quantiles(ms, n=100)
            print(f"{kind:<15} {len(ms):>5} {statistics.fmean(ms):>8.1f} {q[49]:>8.1f} "
                  f"{q[89]:>8.1f} {q[98]:>8.1f}")
    finally:
        admin().call("DELETE", f"/{realm}")


if __name__ == "__main__":
    main()
