#!/usr/bin/env bash
# A real Kubernetes control plane as a test service: etcd, kube-apiserver and
# kube-controller-manager as plain processes on 127.0.0.1, built from source (no container
# engine, no kubelet: nothing runs pods, everything else is the real API server).
#
#   tests/kubernetes/cluster.sh releases         list the Kubernetes releases it can build
#   tests/kubernetes/cluster.sh build            build the binaries (once per go.mod / go.sum)
#   tests/kubernetes/cluster.sh start            start it and apply the operator's manifest;
#                                                prints KUBECONFIG=... (an admin) and the
#                                                variables of the real-Kubernetes tests
#   tests/kubernetes/cluster.sh start bare       start it, nothing applied
#   tests/kubernetes/cluster.sh stop             stop it
#   tests/kubernetes/cluster.sh helm VERSION     start it bare and Keycloak VERSION, install the
#                                                chart with Helm, start the operator as the
#                                                kubelet would start the release's pod, upgrade,
#                                                uninstall as documented (helm.py); stop all
#   tests/kubernetes/cluster.sh bench ARGS...    start it, run the benchmark's backlog on it
#                                                (bench --real-apiserver ARGS: the operator as
#                                                its ServiceAccount, Keycloak emulated), stop
#   tests/kubernetes/cluster.sh test VERSION     start it and Keycloak VERSION, install the
#                                                operator's manifest, run the real-Kubernetes
#                                                tests, then the operator binary as its
#                                                ServiceAccount, the e2e suite and a failover
#                                                to a standby, a converged resync (no write);
#                                                fails on a warning of the API server's or a
#                                                deprecated API requested; stop all
#
# Each Kubernetes release is a Go module of its own, releases/MAJOR.MINOR/go.mod (k8s.io/kubernetes,
# with its staging modules replaced by their releases); $KUBERNETES picks one (default: the
# newest); etcd is etcd/go.mod's. The Go module proxy serves them. The binaries are cached under
# $OMKC_KUBE_HOME (default ~/.cache/omkc-kube), one directory per release and hash of the Go files.
#
# What the API server is given is what a kubeadm or kind cluster has that the operator meets:
# TLS with a private authority, client certificates, RBAC, service-account tokens (the operator
# runs with one, minted by the TokenRequest API, so the manifest's RBAC is what it is allowed),
# the garbage collector, the namespace controller and the root CA publisher (the kube-root-ca.crt
# ConfigMap a pod's projected volume reads). What it is not: no scheduler and no kubelet, so the
# manifest's Deployment stays without pods (the operator runs beside it, as a process; `helm`
# starts it as the kubelet would start the release's pod).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${OMKC_KUBE_HOME:-$HOME/.cache/omkc-kube}"
RUN="$CACHE/run"
# shellcheck source=../ports.sh
. "$ROOT/tests/ports.sh"

die() { echo "cluster.sh: $*" >&2; exit 1; }

# kubectl as the cluster's administrator.
kubectl() { "$(bin_dir)/kubectl" --kubeconfig="$RUN/admin.kubeconfig" "$@"; }

# The release's version stamped in, as its own build does (`kubectl version` and /version say it).
ldflags() {
  local v pkg=k8s.io/component-base/version
  v=$(kubernetes_version)
  v=${v#v}
  echo "-s -w -X $pkg.gitVersion=v$v -X $pkg.gitMajor=${v%%.*} -X $pkg.gitMinor=$(echo "$v" | cut -d. -f2)"
}

# Without the in-tree cloud providers (the `providerless` build tag of Kubernetes' own build):
# their modules are not served for every release (1.30's legacy-cloud-providers), and nothing
# here uses them.
TAGS=providerless

releases() { (cd "$HERE/releases" && ls -d -- */ | tr -d / | sort -V); }

# The release's Go module: $KUBERNETES, else the newest.
module() {
  local r=${KUBERNETES:-$(releases | tail -n 1)}
  [ -f "$HERE/releases/$r/go.mod" ] || die "no Kubernetes release '$r' (releases: $(releases | xargs))"
  echo "$HERE/releases/$r"
}

bin_dir() {
  local hash m
  m=$(module)
  hash=$( (cat "$m/go.mod" "$m/go.sum" "$m/tools.go" "$HERE"/etcd/*; ldflags; echo "$TAGS") | sha256sum | cut -c1-16)
  echo "$CACHE/bin-$(basename "$m")-$hash"
}

build() {
  local bin t
  bin=$(bin_dir)
  [ -x "$bin/kubectl" ] && return 0
  t=$(uptime_s)
  mkdir -p "$bin.partial"
  (cd "$(module)" && go build -tags "$TAGS" -trimpath -ldflags="$(ldflags)" -o "$bin.partial/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kubectl)
  (cd "$HERE/etcd" && go build -trimpath -ldflags="-s -w" -o "$bin.partial/etcd" .)
  mv "$bin.partial" "$bin"
  # This release's binaries of other versions (or flags) go, and those cached before releases had
  # directories of their own: ~300 MB each.
  find "$CACHE" -maxdepth 1 -name 'bin-*' ! -path "$bin" ! -path "$bin.partial" \
    \( -name "bin-$(basename "$(module)")-*" -o ! -name "bin-[0-9]*.*-*" \) -exec rm -rf {} +
  echo "Kubernetes $(kubernetes_version): built in $(($(uptime_s) - t)) s into $bin" >&2
}

kubernetes_version() { grep -oE "k8s.io/kubernetes v[0-9.]+" "$(module)/go.mod" | cut -d" " -f2; }

# A certificate signed by the run's authority: NAME SUBJECT EXTENSIONS.
sign() {
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$RUN/$1.key" \
    -subj "$2" 2>/dev/null \
    | openssl x509 -req -CA "$RUN/ca.crt" -CAkey "$RUN/ca.key" -CAcreateserial -days 2 \
      -out "$RUN/$1.crt" -extfile <(printf '%s\n' "$3") 2>/dev/null
}

certificates() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$RUN/ca.key" -out "$RUN/ca.crt" -subj /CN=omkc-test-kubernetes-authority \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
  sign apiserver /CN=kube-apiserver \
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc
extendedKeyUsage=serverAuth"
  sign admin "/O=system:masters/CN=omkc-test-admin" "extendedKeyUsage=clientAuth"
  sign controller-manager /CN=system:kube-controller-manager "extendedKeyUsage=clientAuth"
  openssl genrsa -out "$RUN/sa.key" 2048 2>/dev/null
  openssl rsa -in "$RUN/sa.key" -pubout -out "$RUN/sa.pub" 2>/dev/null
}

kubeconfig() { # USER: a kubeconfig for the user's client certificate
  cat <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: omkc-test
    cluster: {server: "$(cat "$RUN/url")", certificate-authority: "$RUN/ca.crt"}
users:
  - name: $1
    user: {client-certificate: "$RUN/$1.crt", client-key: "$RUN/$1.key"}
contexts:
  - name: omkc-test
    context: {cluster: omkc-test, user: $1, namespace: default}
current-context: omkc-test
EOF
}

# Starts a process of the run in its own process group; its pid goes to $RUN/NAME.pid.
launch() { # NAME COMMAND...
  local name=$1
  shift
  setsid "$@" >"$RUN/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

wait_until() { # WHAT NAME COMMAND...: until COMMAND succeeds, while process NAME lives (60 s)
  local what=$1 name=$2 t
  shift 2
  t=$(uptime_s)
  until "$@" >/dev/null 2>&1; do
    alive "$name" || { tail -n 40 "$RUN/$name.log" >&2; die "$name exited before $what"; }
    [ $(($(uptime_s) - t)) -lt 60 ] || { tail -n 40 "$RUN/$name.log" >&2; die "no $what after 60 s"; }
    sleep 0.5
  done
}

start() {
  local bin eport aport t
  build
  bin=$(bin_dir)
  stop
  rm -rf "$RUN"
  mkdir -p "$RUN"
  certificates
  eport=$(free_port)
  aport=$(free_port)
  while [ "$aport" = "$eport" ]; do aport=$(free_port); done
  t=$(uptime_s)
  launch etcd "$bin/etcd" "$RUN/etcd" "http://127.0.0.1:$eport"
  wait_until "etcd ready" etcd curl -fsS "http://127.0.0.1:$eport/health"
  echo "https://127.0.0.1:$aport" >"$RUN/url"
  # Every request's metadata, as an audit log (what deprecated_requests reads).
  printf '%s\n' 'apiVersion: audit.k8s.io/v1' 'kind: Policy' 'omitStages: [RequestReceived]' \
    'rules: [{level: Metadata}]' >"$RUN/audit-policy.yaml"
  # No endpoints for the `kubernetes` Service: nothing reaches the API server through it here
  # (the operator's pod in `helm` is given 127.0.0.1), and newer API servers (1.37) refuse to
  # publish a loopback address.
  launch apiserver "$bin/kube-apiserver" --etcd-servers="http://127.0.0.1:$eport" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$aport" \
    --tls-cert-file="$RUN/apiserver.crt" --tls-private-key-file="$RUN/apiserver.key" \
    --client-ca-file="$RUN/ca.crt" --authorization-mode=RBAC \
    --service-account-issuer=https://kubernetes.default.svc \
    --service-account-key-file="$RUN/sa.pub" --service-account-signing-key-file="$RUN/sa.key" \
    --service-cluster-ip-range=10.96.0.0/24 --cert-dir="$RUN/apiserver-certs" \
    --endpoint-reconciler-type=none \
    --audit-policy-file="$RUN/audit-policy.yaml" --audit-log-path="$RUN/audit.log" --audit-log-format=json
  kubeconfig admin >"$RUN/admin.kubeconfig"
  kubeconfig controller-manager >"$RUN/controller-manager.kubeconfig"
  wait_until "API server ready" apiserver curl -fsS --cacert "$RUN/ca.crt" \
    --cert "$RUN/admin.crt" --key "$RUN/admin.key" "https://127.0.0.1:$aport/readyz"
  # Owner references are collected, and deleted namespaces emptied, as in any cluster: each
  # controller with its own ServiceAccount, as kubeadm and kind run them (the controller
  # manager's own identity may not delete what they delete).
  launch controller-manager "$bin/kube-controller-manager" \
    --kubeconfig="$RUN/controller-manager.kubeconfig" --leader-elect=false \
    --controllers=garbagecollector,namespace,serviceaccount,root-ca-cert-publisher --secure-port=0 \
    --use-service-account-credentials=true \
    --service-account-private-key-file="$RUN/sa.key" --root-ca-file="$RUN/ca.crt"
  sleep 1
  alive controller-manager || { cat "$RUN/controller-manager.log" >&2; die "kube-controller-manager exited"; }
  echo "Kubernetes $(kubernetes_version): ready in $(($(uptime_s) - t)) s at $(cat "$RUN/url") (logs: $RUN)" >&2
  echo "KUBECONFIG=$RUN/admin.kubeconfig"
  echo "OMKC_TEST_KUBECONFIG=$RUN/admin.kubeconfig"
  [ "${1:-}" = bare ] && return
  install
  echo "OMKC_TEST_OPERATOR_KUBECONFIG=$RUN/operator.kubeconfig"
}

# What users apply (deploy/kubernetes/openmetadata-keycloak-operator.yaml: the CRDs, the
# namespace, the ServiceAccount and its RBAC), and a kubeconfig with a token of that
# ServiceAccount (TokenRequest), as the operator's pod is given.
install() {
  local token said
  # A warning of the API server's (an unknown schema format, a deprecated field) fails the run:
  # every user applying the manifest would read it.
  said=$(kubectl apply --server-side -f "$ROOT/deploy/kubernetes/openmetadata-keycloak-operator.yaml" 2>&1 >/dev/null) \
    || die "the manifest was refused: $said"
  [ -z "$said" ] || die "applying the manifest warned: $said"
  kubectl wait --for=condition=Established --timeout=60s crd --all >/dev/null
  token=$(kubectl -n omkc-system create token openmetadata-keycloak-operator --duration=2h)
  cat >"$RUN/operator.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: omkc-test, cluster: {server: "$(cat "$RUN/url")", certificate-authority: "$RUN/ca.crt"}}]
users: [{name: operator, user: {token: "$token"}}]
contexts: [{name: omkc-test, context: {cluster: omkc-test, user: operator, namespace: omkc-system}}]
current-context: omkc-test
EOF
}

stop() {
  local name pid
  for name in standby operator controller-manager apiserver etcd; do
    [ -f "$RUN/$name.pid" ] || continue
    pid=$(cat "$RUN/$name.pid")
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$RUN/$name.pid"
  done
}

# The operator's writes in the audit log since a time (RFC 3339), verb and URI; aside: the
# Lease's renewals, and a connection's status (its health check writes when it was last checked,
# once per resync period and connection, however many resources name it).
operator_writes() {
  python3 - "$RUN/audit.log" "$1" <<'EOF'
import json, sys, time
# The API server appends to the log as this reads it: read again until the last line is whole.
for _ in range(100):
    text = open(sys.argv[1]).read()
    if text.endswith("\n"):
        break
    time.sleep(0.05)
else:
    sys.exit("the audit log's last line stayed unfinished for 5 s")
for line in text.splitlines():
    event = json.loads(line)
    # A request refused at authentication has no user name.
    if (event["user"].get("username") == "system:serviceaccount:omkc-system:openmetadata-keycloak-operator"
            and event["stageTimestamp"] >= sys.argv[2]
            and event["verb"] in ("create", "update", "patch", "delete", "deletecollection")
            and event["objectRef"].get("resource") != "leases"
            and not (event["objectRef"].get("resource") == "clusterkeycloakconnections"
                     and event["objectRef"].get("subresource") == "status")):
        print(event["verb"], event["requestURI"])
EOF
}

# Whether the Deployment openmetadata of namespace NS carries the Secret's checksum.
marked() {
  [ -n "$(kubectl -n "$1" get deployment openmetadata \
    -o jsonpath='{.metadata.annotations.omkc\.dev/secret-checksum}')" ]
}

# Whether the Deployment openmetadata of namespace NS was restarted: its pod template carries the
# Secret's checksum.
restarted() {
  [ -n "$(kubectl -n "$1" get deployment openmetadata \
    -o jsonpath='{.spec.template.metadata.annotations.omkc\.dev/secret-checksum}')" ]
}

# Whether namespace NS has each Event RESOURCE/REASON given.
said() {
  local ns=$1 events
  events=$(kubectl -n "$ns" get events.events.k8s.io \
    -o jsonpath='{range .items[*]}{.regarding.name}/{.reason}{"\n"}{end}')
  shift
  for event in "$@"; do grep -qx "$event" <<<"$events" || return 1; done
}

# Converged resources at their next resync (RESYNC_SECONDS) on a real API server, as the
# benchmark counts it: reconciled again (the operator's omkc_reconciliations_total, counted once a
# reconcile has ended, as many more as there are resources in the cluster), and not one write.
quiet_resync() { # NAME NS RESOURCE/REASON...: the instance leading, the resources' namespace,
  # the Events the last change made
  local metrics since before writes resources
  metrics="http://$(grep -o 'http_address=[0-9.:]*' "$RUN/$1.log" | head -n 1 | cut -d= -f2)/metrics"
  reconciles() { curl -fsS "$metrics" | awk '/^omkc_reconciliations_total/ {n += $2} END {print n + 0}'; }
  resynced() { [ "$(reconciles)" -ge $((before + resources)) ]; }
  resources=$(kubectl get omkc -A -o name | wc -l)
  # The reconcile that made one Ready writes its Event after the status `kubectl wait` saw: the
  # window starts once each Event is there (CI once counted one as a resync's write).
  wait_until "the Events ${*:3}" "$1" said "${@:2}"
  since=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
  before=$(reconciles)
  wait_until "a resync of the converged resources" "$1" resynced
  writes=$(operator_writes "$since")
  [ -z "$writes" ] || { printf 'writes in a converged resync:\n%s\n' "$writes" >&2; return 1; }
  echo "failover: after ${*:3}, the $resources converged resources' next resync reconciled them and wrote nothing" >&2
}

# The requests of the audit log that used an API the release deprecates (the API server marks
# them k8s.io/deprecated), but the control plane's own: user, verb, URI.
deprecated_requests() {
  python3 - "$RUN/audit.log" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    event = json.loads(line)
    user = event["user"].get("username", "")
    if event.get("annotations", {}).get("k8s.io/deprecated") != "true" or user in (
        "system:apiserver", "system:kube-controller-manager"
    ) or user.startswith("system:serviceaccount:kube-system:"):
        continue
    print(user, event["verb"], event["requestURI"])
EOF
}

# The resync period of the operator instances here, and so the e2e suite's quiet window (two
# periods): 10 s, not the e2e workflow's 30 s, so that CI waits 80 s less per release; a converged
# resync writes nothing whatever its period (the benchmark counts one at 10 s too).
RESYNC_SECONDS=10

# An instance of the operator, NAME (its log in $RUN/NAME.log), as the chart's Deployment runs it
# (leader election on) with the e2e workflow's settings but the resync period.
operator() {
  launch "$1" env KUBECONFIG="$RUN/operator.kubeconfig" OPERATOR_NAMESPACE=omkc-system \
    RESYNC_PERIOD=${RESYNC_SECONDS}s MIN_ROTATION_INTERVAL=0s ALLOW_INLINE_CONNECTIONS=true \
    HTTP_ADDRESS=127.0.0.1:0 \
    "${CARGO_TARGET_DIR:-$ROOT/target}/debug/openmetadata-keycloak-operator" run
}

# A rolling update's failover: a second instance stands by; the leader gets SIGTERM and releases
# the lease; the standby leads at once and reconciles a new resource (Keycloak at KC).
failover() {
  local kc=$1 t ns=omkc-e2e-failover
  operator standby
  wait_until "the standby standing by" standby grep -q "standing by until" "$RUN/standby.log"
  t=$(uptime_s)
  kill -TERM -- "-$(cat "$RUN/operator.pid")"
  wait_until "the standby leading" standby grep -q "holding the lease" "$RUN/standby.log"
  echo "failover: the standby led $(($(uptime_s) - t)) s after the leader's SIGTERM" >&2
  kubectl create namespace $ns >/dev/null
  kubectl -n $ns create secret generic keycloak-admin --from-literal=username=admin \
    --from-literal=password="$(keycloak_password)" >/dev/null
  kubectl -n $ns label secret keycloak-admin omkc.dev/keycloak-credentials=true >/dev/null
  kubectl label namespace $ns omkc.dev/failover=true >/dev/null
  kubectl -n omkc-system create secret generic keycloak-failover --from-literal=username=admin \
    --from-literal=password="$(keycloak_password)" >/dev/null
  kubectl -n omkc-system label secret keycloak-failover omkc.dev/keycloak-credentials=true >/dev/null
  # One resource with its own credentials, a values ConfigMap, the Secret's own labels and
  # annotations and a Deployment to restart (granted here, as the chart's rollout.enabled grants
  # it); one through a connection: a resync of either must write nothing.
  kubectl -n $ns apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: omkc-rollout}
rules: [{apiGroups: [apps], resources: [deployments], verbs: [get, patch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: omkc-rollout}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: omkc-rollout}
subjects: [{kind: ServiceAccount, name: openmetadata-keycloak-operator, namespace: omkc-system}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: openmetadata}
spec:
  selector: {matchLabels: {app: openmetadata}}
  template:
    metadata: {labels: {app: openmetadata}}
    spec: {containers: [{name: openmetadata, image: openmetadata/server}]}
---
apiVersion: omkc.dev/v1alpha1
kind: OpenMetadataKeycloakClient
metadata: {name: openmetadata}
spec:
  keycloak: {url: "$kc", realm: omkc-e2e, credentialsSecretRef: {name: keycloak-admin}}
  openmetadata: {url: "https://openmetadata.failover.example", valuesConfigMap: {name: openmetadata-values}}
  client: {clientId: om-failover}
  secret:
    labels: {team: data}
    annotations: {reloader.stakater.com/match: "true"}
    rollout: [{kind: Deployment, name: openmetadata}]
---
apiVersion: omkc.dev/v1alpha1
kind: ClusterKeycloakConnection
metadata: {name: failover}
spec:
  url: "$kc"
  credentialsSecretRef: {name: keycloak-failover}
  namespaceSelector: {matchLabels: {omkc.dev/failover: "true"}}
  allowedRealms: [omkc-e2e]
---
apiVersion: omkc.dev/v1alpha1
kind: OpenMetadataKeycloakClient
metadata: {name: through-connection}
spec:
  keycloak: {connectionRef: {name: failover}, realm: omkc-e2e}
  openmetadata: {url: "https://openmetadata.failover.example"}
  client: {clientId: om-failover-connection}
  secret: {name: oidc-secrets-connection}
EOF
  kubectl -n $ns wait --for=condition=Ready omkc/openmetadata omkc/through-connection --timeout=60s >/dev/null \
    || { echo "== the standby's log:" >&2; cat "$RUN/standby.log" >&2; return 1; }
  echo "failover: the standby made two new resources Ready" >&2
  # The Deployment marked with the first Secret's checksum (a baseline: its pods are left alone).
  wait_until "the Deployment marked" standby marked $ns
  quiet_resync standby $ns openmetadata/ClientCreated through-connection/ClientCreated || return 1
  # A rotation on demand: a new secret, the Deployment's pods rolled (one Event says both); then
  # again, nothing.
  kubectl -n $ns annotate omkc/openmetadata omkc.dev/rotate=failover-1 >/dev/null
  wait_until "the Deployment restarted" standby restarted $ns
  quiet_resync standby $ns openmetadata/SecretRotated || return 1
  kubectl delete namespace $ns --timeout=60s >/dev/null
  kubectl delete clusterkeycloakconnection failover >/dev/null
  kubectl -n omkc-system delete secret keycloak-failover >/dev/null
}

# The real-Kubernetes tests (both_apiservers! scenarios, tests/it/support/apiservers.rs), then
# the e2e suite (tests/it/e2e/) against this cluster and a real Keycloak.
# Whatever happens next, the cluster and Keycloak VERSION stop when this script ends (a wait that
# times out ends it at once; stopping twice is fine).
stop_all_on_exit() { trap "stop; bash '$ROOT/tests/keycloak/keycloak.sh' stop '$1'" EXIT; }

run_tests() {
  local v=$1 kc t ok=0
  t=$(uptime_s)
  stop_all_on_exit "$v"
  start >/dev/null
  kc=$(bash "$ROOT/tests/keycloak/keycloak.sh" start "$v" | sed -n 's/^OMKC_TEST_KEYCLOAK_URL=//p')
  [ -n "$kc" ] || die "Keycloak $v did not start"
  # The binary as `cargo test` builds it (a `cargo build` would rebuild the dependencies without
  # the dev-dependencies' features, and the test build after it would rebuild them again).
  (cd "$ROOT" && cargo test --locked --quiet --test it --no-run)
  # Before the operator runs: the scenarios call the operator's code with its ServiceAccount's
  # client themselves, and a running operator would reconcile their resources too.
  # And `plan`'s YAML held to this release's kubectl (OMKC_TEST_KUBECTL).
  if ! (cd "$ROOT" && OMKC_TEST_KUBECONFIG="$RUN/admin.kubeconfig" \
    OMKC_TEST_OPERATOR_KUBECONFIG="$RUN/operator.kubeconfig" OMKC_TEST_KUBECTL="$(bin_dir)/kubectl" \
    cargo test --locked --test it -- --ignored real_kubernetes); then
    echo "== the API server's log (last 50 lines):" >&2
    tail -n 50 "$RUN/apiserver.log" >&2
    die "the real-Kubernetes tests failed on Kubernetes $(kubernetes_version)"
  fi
  # Their namespaces gone first: the operator starts on a cluster without them.
  kubectl wait --for=delete namespace \
    -l omkc.dev/test-scenario=true --timeout=60s >/dev/null
  operator operator
  if (cd "$ROOT" && KUBECONFIG="$RUN/admin.kubeconfig" KEYCLOAK_URL="$kc" \
    KEYCLOAK_ADMIN_USER=admin KEYCLOAK_ADMIN_PASSWORD="$(keycloak_password)" \
    E2E_RESYNC_SECONDS=$RESYNC_SECONDS cargo test --locked --test it -- --ignored --nocapture e2e::) \
    && failover "$kc"; then
    ok=1
  else
    echo "== the operator's log (last 200 lines):" >&2
    tail -n 200 "$RUN/operator.log" >&2
    echo "== the API server's log (last 50 lines):" >&2
    tail -n 50 "$RUN/apiserver.log" >&2
  fi
  # Stopped before the checks of their logs (stopping must not warn either).
  stop
  bash "$ROOT/tests/keycloak/keycloak.sh" stop "$v"
  # No request of the operator's (nor of the tests') used an API the release deprecates.
  if [ "$ok" = 1 ] && deprecated_requests | grep . >&2; then
    echo "== a deprecated API was requested (above, from the API server's audit log)" >&2
    ok=0
  fi
  # Neither instance met anything that called for a warning, nor logged a credential: the
  # Keycloak admin's password, or its own ServiceAccount token.
  if [ "$ok" = 1 ] && grep -E '^[^ ]+ +(WARN|ERROR) ' "$RUN/operator.log" "$RUN/standby.log" >&2; then
    echo "== the operator warned during the e2e suite (above)" >&2
    ok=0
  fi
  if grep -qF -e "$(keycloak_password)" -e "$(sed -n 's/.*token: "\(.*\)".*/\1/p' "$RUN/operator.kubeconfig")" \
    "$RUN/operator.log" "$RUN/standby.log" 2>/dev/null; then
    echo "== a credential is in the operator's log ($RUN/operator.log, $RUN/standby.log)" >&2
    ok=0
  fi
  [ "$ok" = 1 ] || die "the e2e suite failed on Kubernetes $(kubernetes_version) and Keycloak $v"
  echo "the real-Kubernetes tests and the e2e suite passed on Kubernetes $(kubernetes_version) and Keycloak $v in $(($(uptime_s) - t)) s" >&2
}

# The version whose CRDs the monitoring templates are checked against.
PROMETHEUS_OPERATOR=github.com/prometheus-operator/prometheus-operator@v0.85.0

# The chart as Helm installs it, on a bare cluster, and the operator as that release runs it
# against Keycloak VERSION (tests/kubernetes/helm.py says what is checked). $PYTHON (default
# python3) has tests/deploy/requirements.txt installed. OMKC_HELM=3 runs it with the helm v3
# binary $OMKC_HELM3 instead of Helm 4's library.
run_helm() {
  local v=$1 kc t crds
  t=$(uptime_s)
  stop_all_on_exit "$v"
  start bare >/dev/null
  kc=$(bash "$ROOT/tests/keycloak/keycloak.sh" start "$v" | sed -n 's/^OMKC_TEST_KEYCLOAK_URL=//p')
  [ -n "$kc" ] || die "Keycloak $v did not start"
  (cd "$ROOT" && cargo test --locked --quiet --test it --no-run) # the binary, as in run_tests
  # prometheus-operator's CRDs (ServiceMonitor, PrometheusRule), from its Go module.
  crds=$(cd / && go mod download -json "$PROMETHEUS_OPERATOR" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -d "$crds/example/prometheus-operator-crd" ] || die "no CRDs in $PROMETHEUS_OPERATOR"
  if ! OMKC_RUN="$RUN" OMKC_KUBECTL="$(bin_dir)/kubectl" KEYCLOAK_URL="$kc" \
    KEYCLOAK_ADMIN_PASSWORD="$(keycloak_password)" \
    OMKC_MONITORING_CRDS="$crds/example/prometheus-operator-crd" \
    OMKC_BINARY="${CARGO_TARGET_DIR:-$ROOT/target}/debug/openmetadata-keycloak-operator" \
    "${PYTHON:-python3}" "$ROOT/tests/kubernetes/helm.py"; then
    echo "== the operator's log (last 100 lines):" >&2
    tail -n 100 "$RUN/helm-operator.log" >&2 2>/dev/null || true
    die "the Helm release failed on Kubernetes $(kubernetes_version) and Keycloak $v"
  fi
  stop
  bash "$ROOT/tests/keycloak/keycloak.sh" stop "$v"
  echo "the Helm release passed on Kubernetes $(kubernetes_version) and Keycloak $v with Helm ${OMKC_HELM:-4} in $(($(uptime_s) - t)) s" >&2
}

keycloak_password() { echo "${OMKC_TEST_KEYCLOAK_PASSWORD:-admin-password-for-tests}"; }

# The benchmark's backlog on this real API server (tools/bench/real/), counted by its audit log.
run_bench() {
  start >/dev/null
  trap stop EXIT
  (cd "$ROOT" && KUBECONFIG="$RUN/admin.kubeconfig" OMKC_TEST_OPERATOR_KUBECONFIG="$RUN/operator.kubeconfig" \
    cargo run --locked --example bench -- --real-apiserver "$@")
}

cmd=${1:-}
shift || true
case "$cmd" in
  releases) releases ;;
  build) build ;;
  start) start "${1:-}" ;;
  stop) stop ;;
  test) run_tests "${1:?KEYCLOAK_VERSION}" ;;
  bench) run_bench "$@" ;;
  helm) run_helm "${1:?KEYCLOAK_VERSION}" ;;
  *) die "unknown command '$cmd' (releases, build, start, stop, bench ARGS, test VERSION, helm VERSION)" ;;
esac
