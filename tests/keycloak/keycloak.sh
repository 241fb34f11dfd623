#!/usr/bin/env bash
# A real Keycloak as a test service: a plain Java process on 127.0.0.1, no container engine.
#
#   tests/keycloak/keycloak.sh test [VERSION...]   start each version, run the real-Keycloak tests
#                                                  against it, print its log if they fail, stop it
#   tests/keycloak/keycloak.sh start VERSION       start one; prints OMKC_TEST_KEYCLOAK_URL=...
#   tests/keycloak/keycloak.sh check VERSION       run the tests against the one started, stop it
#   tests/keycloak/keycloak.sh stop VERSION        stop it (by pid)
#   tests/keycloak/keycloak.sh log VERSION         print its log
#   tests/keycloak/keycloak.sh fetch|versions      fetch every version / list them
#
# VERSION defaults to every line of tests/keycloak/versions. The distribution comes from Maven
# Central only (`mvn dependency:get` of org.keycloak:keycloak-quarkus-dist, cached in ~/.m2), is
# unpacked once under $OMKC_KEYCLOAK_HOME (default ~/.cache/omkc-keycloak), and runs in
# development mode with its embedded H2 database (wiped at every start), a bootstrap admin, and
# health on the management port. Each version runs on the newest JDK under /usr/lib/jvm (or
# JAVA_HOME) that the versions file allows for it.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${OMKC_KEYCLOAK_HOME:-$HOME/.cache/omkc-keycloak}"
ADMIN_USER=admin
ADMIN_PASSWORD="${OMKC_TEST_KEYCLOAK_PASSWORD:-admin-password-for-tests}"
STARTUP_LIMIT="${OMKC_KEYCLOAK_STARTUP_SECONDS:-300}"

die() { echo "keycloak.sh: $*" >&2; exit 1; }

versions() { grep -v '^\s*#' "$HERE/versions" | awk 'NF {print $1}'; }
java_range() { # VERSION -> "min max"
  awk -v v="$1" '$1 == v {print $2, $3}' "$HERE/versions"
}

# The newest JDK whose major version lies in [min, max].
pick_java() {
  local min=$1 max=$2 best="" best_major=0 home major
  for home in ${JAVA_HOME:-} /usr/lib/jvm/*; do
    [ -x "$home/bin/java" ] || continue
    major=$("$home/bin/java" -XshowSettings:properties -version 2>&1 \
      | awk -F= '/java.specification.version/ {gsub(/ /, "", $2); print $2}')
    [ -n "$major" ] || continue
    if [ "$major" -ge "$min" ] && [ "$major" -le "$max" ] && [ "$major" -gt "$best_major" ]; then
      best=$home best_major=$major
    fi
  done
  [ -n "$best" ] || die "no JDK between $min and $max under /usr/lib/jvm (Keycloak needs one)"
  echo "$best"
}

# A free port below the kernel's ephemeral range. Tens of seconds pass between this pick and
# Keycloak's bind; a port of the ephemeral range could meanwhile be taken by any outgoing
# connection on the machine (the tests make thousands), one below it only by another bind.
free_port() {
  python3 -c '
import random, socket
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except OSError:
    low = 32768
for _ in range(500):
    port = random.randrange(10000, max(low, 10001))
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
    print(port)
    break
'
}

fetch() { # VERSION -> unpacked home
  local v=$1 home="$CACHE/keycloak-$v" t=$SECONDS
  if [ ! -x "$home/bin/kc.sh" ]; then
    local archive="$HOME/.m2/repository/org/keycloak/keycloak-quarkus-dist/$v/keycloak-quarkus-dist-$v.tar.gz"
    if [ ! -s "$archive" ]; then
      mvn -q -B dependency:get -Dtransitive=false \
        -Dartifact="org.keycloak:keycloak-quarkus-dist:$v:tar.gz" >&2 \
        || die "Keycloak $v: Maven Central did not serve org.keycloak:keycloak-quarkus-dist:$v"
    fi
    mkdir -p "$CACHE"
    tar -xzf "$archive" -C "$CACHE"
    echo "Keycloak $v: fetched and unpacked in $((SECONDS - t)) s" >&2
  fi
  echo "$home"
}

state() { echo "$CACHE/run-$1"; }

start() {
  local v=$1 home java port mport run t
  read -r min max <<<"$(java_range "$v")"
  [ -n "${min:-}" ] || die "Keycloak $v is not in tests/keycloak/versions"
  home=$(fetch "$v")
  java=$(pick_java "$min" "$max")
  run=$(state "$v")
  stop "$v" 2>/dev/null || true
  mkdir -p "$run"
  rm -rf "$home/data"
  port=$(free_port)
  mport=$(free_port)
  while [ "$mport" = "$port" ]; do mport=$(free_port); done
  [ -n "$port" ] && [ -n "$mport" ] || die "no free port below the ephemeral range"
  t=$SECONDS
  # setsid: its own process group, so stop ends the JVM and the launcher together.
  JAVA_HOME="$java" KC_BOOTSTRAP_ADMIN_USERNAME=$ADMIN_USER KC_BOOTSTRAP_ADMIN_PASSWORD=$ADMIN_PASSWORD \
    KEYCLOAK_ADMIN=$ADMIN_USER KEYCLOAK_ADMIN_PASSWORD=$ADMIN_PASSWORD \
    setsid "$home/bin/kc.sh" start-dev --http-host=127.0.0.1 --http-port="$port" \
    --http-management-port="$mport" --health-enabled=true \
    >"$run/log" 2>&1 </dev/null &
  echo $! >"$run/pid"
  echo "http://127.0.0.1:$port" >"$run/url"
  until curl -fsS "http://127.0.0.1:$mport/health/ready" >/dev/null 2>&1; do
    if ! kill -0 "$(cat "$run/pid")" 2>/dev/null; then
      tail -n 60 "$run/log" >&2
      die "Keycloak $v exited during start-up (Java $(basename "$java")); its log is above"
    fi
    if [ $((SECONDS - t)) -gt "$STARTUP_LIMIT" ]; then
      tail -n 60 "$run/log" >&2
      stop "$v"
      die "Keycloak $v not ready after ${STARTUP_LIMIT} s; its log is above"
    fi
    sleep 1
  done
  echo "Keycloak $v: ready in $((SECONDS - t)) s on http://127.0.0.1:$port (Java: $(basename "$java"), log: $run/log)" >&2
  echo "OMKC_TEST_KEYCLOAK_URL=http://127.0.0.1:$port"
}

stop() {
  local run pid
  run=$(state "$1")
  [ -f "$run/pid" ] || return 0
  pid=$(cat "$run/pid")
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$run/pid"
}

run_tests() {
  local v=$1 url
  url=$(start "$v" | sed -n 's/^OMKC_TEST_KEYCLOAK_URL=//p')
  [ -n "$url" ] || die "Keycloak $v did not start"
  check "$v"
}

# The tests against the Keycloak `start` left running; stops it afterwards, pass or fail.
check() {
  local v=$1 url run t
  run=$(state "$v")
  [ -f "$run/pid" ] && kill -0 "$(cat "$run/pid")" 2>/dev/null || die "Keycloak $v is not running (start it first)"
  url=$(cat "$run/url")
  t=$SECONDS
  # The real-Keycloak tests are marked ignored (a plain `cargo test` has no Keycloak); they run
  # one at a time, since several of them change server-wide settings of the master realm.
  if ! (cd "$ROOT" && OMKC_TEST_KEYCLOAK_URL="$url" OMKC_TEST_KEYCLOAK_VERSION="$v" \
    OMKC_TEST_KEYCLOAK_USER=$ADMIN_USER OMKC_TEST_KEYCLOAK_PASSWORD=$ADMIN_PASSWORD \
    cargo test --locked --test it -- --ignored --test-threads=1 real_keycloak); then
    echo "== the real-Keycloak tests failed on Keycloak $v; its log (last 200 lines):" >&2
    tail -n 200 "$(state "$v")/log" >&2
    stop "$v"
    die "real-Keycloak tests failed on Keycloak $v"
  fi
  stop "$v"
  echo "Keycloak $v: the real-Keycloak tests passed in $((SECONDS - t)) s" >&2
}

cmd=${1:-test}
shift || true
case "$cmd" in
  test)
    [ $# -gt 0 ] || set -- $(versions)
    for v in "$@"; do run_tests "$v"; done ;;
  start) start "${1:?VERSION}" ;;
  check) check "${1:?VERSION}" ;;
  versions) versions ;;
  stop) stop "${1:?VERSION}" ;;
  log) cat "$(state "${1:?VERSION}")/log" ;;
  fetch)
    [ $# -gt 0 ] || set -- $(versions)
    for v in "$@"; do fetch "$v" >/dev/null; done ;;
  *) die "unknown command $cmd (test, start, stop, log, fetch)" ;;
esac
