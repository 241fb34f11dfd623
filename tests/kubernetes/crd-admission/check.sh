#!/usr/bin/env bash
# Whether every Kubernetes release the chart installs on would create the operator's CRDs and
# enforce their CEL rules as the tests expect, asked of each release's own code (main.go: the API
# server's CRD create strategy, which compiles each rule in that release's CEL environment and
# prices it against that release's budget; and its CEL validator of custom resources).
# Real API servers run only two releases (tests/kubernetes/releases/); this covers every minor
# from Chart.yaml's kubeVersion floor to the newest, none skipped.
#
#   tests/kubernetes/crd-admission/check.sh build   build each release's checker (cached)
#   tests/kubernetes/crd-admission/check.sh         build, check the CRDs on each release, and
#                                                   probe that each checker is its release's;
#                                                   then run the tests' CEL scenarios with each
#                                                   release's CEL validator (cargo test)
#   tests/kubernetes/crd-admission/check.sh scenarios   only the CEL scenarios
#
# A release is go.MAJOR.MINOR.mod here (k8s.io/apiextensions-apiserver of that release, with its
# go.MAJOR.MINOR.sum); the Go module proxy serves them. Binaries are cached under
# $OMKC_KUBE_HOME (default ~/.cache/omkc-kube)/crd-admission, one per release and hash.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
CACHE="${OMKC_KUBE_HOME:-$HOME/.cache/omkc-kube}/crd-admission"
CHART="$ROOT/deploy/helm/openmetadata-keycloak-operator"

die() { echo "crd-admission: $*" >&2; exit 1; }

releases() { (cd "$HERE" && ls go.1.*.mod | sed 's/^go\.\(.*\)\.mod$/\1/' | sort -V); }

checker() {
  local hash
  hash=$(cat "$HERE/main.go" "$HERE/go.$1.mod" "$HERE/go.$1.sum" | sha256sum | cut -c1-16)
  echo "$CACHE/admit-$1-$hash"
}

build() {
  mkdir -p "$CACHE"
  local r bin
  for r in $(releases); do
    bin=$(checker "$r")
    [ -x "$bin" ] && continue
    (cd "$HERE" && go build -modfile="go.$r.mod" -trimpath -ldflags="-s -w" -o "$bin.partial" .)
    mv "$bin.partial" "$bin"
    find "$CACHE" -maxdepth 1 -name "admit-$r-*" ! -path "$bin" -exec rm -f {} +
    echo "crd-admission: built Kubernetes $r's checker" >&2
  done
}

# The releases asked must be every minor from the chart's floor to at least the newest release
# a real API server runs.
coverage() {
  local floor newest want have
  floor=$(sed -n 's/^kubeVersion: ">=\([0-9]*\.[0-9]*\)\.0-0"$/\1/p' "$CHART/Chart.yaml")
  [ -n "$floor" ] || die "no kubeVersion floor (>=MAJOR.MINOR.0-0) in $CHART/Chart.yaml"
  newest=$("$ROOT/tests/kubernetes/cluster.sh" releases | tail -n 1)
  have=$(releases | xargs)
  want=$(seq "${floor#1.}" "$(releases | tail -n 1 | cut -d. -f2)" | sed 's/^/1./' | xargs)
  [ "$have" = "$want" ] || die "releases here are '$have'; the chart's floor $floor wants '$want'"
  [ "$(printf '%s\n' "$newest" "${have##* }" | sort -V | tail -n 1)" = "${have##* }" ] \
    || die "the newest release here (${have##* }) is older than a real API server's ($newest)"
}

# A copy of the client CRD, $WORK/$1.yaml, with one change ($2: a sed expression), for the probes.
probe_crd() {
  local out="$WORK/$1.yaml"
  sed "$2" "$ROOT/crds/openmetadatakeycloakclients.omkc.dev.yaml" >"$out"
  cmp -s "$out" "$ROOT/crds/openmetadatakeycloakclients.omkc.dev.yaml" && die "probe '$2' changed nothing"
  echo "$out"
}

# Runs the checker of release $1 on $2; $3 is what it must answer: admitted, or a refusal or
# warning (a word it must print).
expect() {
  local said
  if said=$("$(checker "$1")" "$2" 2>&1); then
    [ "$3" = admitted ] || die "Kubernetes $1 admitted $2, expected '$3'"
  else
    [ "$3" != admitted ] || die "Kubernetes $1 did not admit $2: $said"
    grep -q -- "$3" <<<"$said" || die "Kubernetes $1 answered '$said', expected '$3'"
  fi
}

check() {
  coverage
  build
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
  # Each checker is its own release's: a new rule may call Kubernetes' IP library from 1.31 (it
  # came in 1.30, and an API server compiles new rules for the release before its own, which
  # it may be rolled back to), and an integer format the API server does not know (the CRDs
  # had `uint32` before 0.1.0) is warned about from 1.36.
  local ip uint r
  ip=$(probe_crd ip "s/rule: self != 'master'/rule: isIP(self)/")
  uint=$(probe_crd uint32 '0,/format: int64/s//format: uint32/')
  for r in $(releases); do
    "$(checker "$r")" "$ROOT"/crds/*.yaml "$CHART"/crds/*.yaml >/dev/null \
      || die "Kubernetes $r would not create the CRDs as they are (above)"
    if [ "$(printf '%s\n' "$r" 1.31 | sort -V | head -n 1)" = 1.31 ]; then
      expect "$r" "$ip" admitted
    else
      expect "$r" "$ip" "undeclared reference to 'isIP'"
    fi
    if [ "$(printf '%s\n' "$r" 1.36 | sort -V | head -n 1)" = 1.36 ]; then
      expect "$r" "$uint" 'warning: unrecognized format "uint32"'
    else
      expect "$r" "$uint" admitted
    fi
  done
  echo "crd-admission: Kubernetes $(releases | head -n 1) to $(releases | tail -n 1), every minor, would create the CRDs with no warning"
  scenarios
}

# The CEL scenarios of tests/it/crd/cel.rs (their fake_apiserver legs), each rule enforced by each
# release's own CEL validator (OMKC_TEST_CEL_CHECKER) instead of the in-process engine; the real
# API servers run their real_kubernetes legs. A checker that cannot answer must fail them.
scenarios() {
  local want r said
  want=$(grep -c '^both_apiservers!(' "$ROOT/tests/it/crd/cel.rs")
  run() { (cd "$ROOT" && OMKC_TEST_CEL_CHECKER="$1" cargo test --locked -q --test it -- crd::cel:: 2>&1); }
  for r in $(releases); do
    said=$(run "$(checker "$r")") || die "the CEL scenarios failed with Kubernetes $r's validator: $said"
    grep -q "test result: ok. $want passed; 0 failed" <<<"$said" \
      || die "Kubernetes $r: not the $want CEL scenarios: $said"
  done
  said=$(run false) && die "the CEL scenarios passed with a checker that cannot answer: $said"
  echo "crd-admission: the $want CEL scenarios pass with the CEL validator of each release, $(releases | head -n 1) to $(releases | tail -n 1)"
}

case "${1:-check}" in
  build) build ;;
  check) check ;;
  scenarios) build && scenarios ;;
  releases) releases ;;
  *) die "usage: $0 [build|check|scenarios|releases]" ;;
esac
