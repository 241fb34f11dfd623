#!/usr/bin/env bash
# A real Keycloak as a test service: a plain Java process on 127.0.0.1, no container engine.
#
#   tests/keycloak/keycloak.sh test [VERSION...]   start each version, run the real-Keycloak tests
#                                                  against it, print its log if they fail, stop it
#   tests/keycloak/keycloak.sh start VERSION       start one; prints OMKC_TEST_KEYCLOAK_URL=...
#   tests/keycloak/keycloak.sh check VERSION [FILTER]  run the tests (those FILTER names: test
#                                                  filters, separated by spaces) against the
#                                                  one started, stop it
#   tests/keycloak/keycloak.sh features-off VERSION  start it with the optional features the
#                                                  operator must cope without turned off
#                                                  (authorization), run the scenarios for such a
#                                                  server, stop it
#   tests/keycloak/keycloak.sh postgres VERSION [FILTER]  start it on a PostgreSQL of its own
#                                                  (an empty database, removed afterwards), run
#                                                  the scenarios whose answers depend on the
#                                                  database (or FILTER's), stop both
#   tests/keycloak/keycloak.sh mariadb VERSION [FILTER]  the same on a MariaDB of its own (Debian's
#                                                  `mariadb-server`; the database in
#                                                  utf8mb4_unicode_ci, as most are made)
#   tests/keycloak/keycloak.sh latency VERSION [N]  the benchmark's latency script
#                                                  (tools/bench/keycloak_latency.py) on N
#                                                  resources (default 30) against the one
#                                                  started, its create body checked against the
#                                                  operator's `plan`; leaves it running
#   tests/keycloak/keycloak.sh stop VERSION        stop it (by pid)
#   tests/keycloak/keycloak.sh log VERSION         print its log
#   tests/keycloak/keycloak.sh pause VERSION [S]   freeze the one started for S seconds (default
#                                                  320) while it imports realms; fails unless every
#                                                  import succeeds after it thaws
#   tests/keycloak/keycloak.sh fetch|versions      fetch every CI version / list them
#   tests/keycloak/keycloak.sh minors              run the tests against every version listed,
#                                                  one minor after another; say which failed
#                                                  (OMKC_KEYCLOAK_JAVA: which JDK, see below)
#
# VERSION defaults to the versions tests/keycloak/versions marks `ci`. The distribution comes
# from Maven Central only (`mvn dependency:get` of org.keycloak:keycloak-quarkus-dist, cached in
# ~/.m2), is unpacked once under $OMKC_KEYCLOAK_HOME (default ~/.cache/omkc-keycloak), and runs in
# development mode with an H2 database in a file (or, with KC_DB and Keycloak's other KC_DB_*
# variables set, that database: KC_DB=postgres KC_DB_URL=jdbc:postgresql://… for PostgreSQL, an
# empty database of your own), a bootstrap admin, and health on the management port.
#
# A frozen machine (a CI virtual machine snapshotted and restored mid-run) must not break it. On
# thawing, the wall clock jumps; Keycloak's transaction reaper (Narayana, on the wall clock) then
# aborts every request in flight as older than the default transaction timeout (5 min), and its
# interrupt can close the file of a file-backed H2 store for good ("The database has been closed"):
# hence a transaction timeout of a day, set as the Quarkus property
# every version here reads (26.6 and 26.7 would rather have their own option and say so in their
# log; 26.0 has none). `pause` checks it (run by hand on 26.0 and 26.7). Each version runs on the
# newest JDK under /usr/lib/jvm (or JAVA_HOME) that the versions file allows for it; with
# OMKC_KEYCLOAK_JAVA=lowest or highest, on the JDK of exactly that end of its range, or not at
# all (`minors`, run once with each, checks both ends of every line's range; with `lowest` it
# passes over a line whose range is one Java, which the `highest` run covers). Keycloak's own
# options pass through as its KC_* variables.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${OMKC_KEYCLOAK_HOME:-$HOME/.cache/omkc-keycloak}"
ADMIN_USER=admin
ADMIN_PASSWORD="${OMKC_TEST_KEYCLOAK_PASSWORD:-admin-password-for-tests}"
STARTUP_LIMIT="${OMKC_KEYCLOAK_STARTUP_SECONDS:-300}"
TRANSACTION_TIMEOUT="${OMKC_KEYCLOAK_TRANSACTION_TIMEOUT:-24h}"
# The password of the test certificates' PKCS #12 stores (see certificates).
STORE_PASSWORD=omkc-test-store

die() { echo "keycloak.sh: $*" >&2; exit 1; }
# shellcheck source=../ports.sh
. "$ROOT/tests/ports.sh"

versions() { grep -v '^\s*#' "$HERE/versions" | awk '$4 == "ci" {print $1}'; }
minors() { grep -v '^\s*#' "$HERE/versions" | awk 'NF {print $1}'; }
java_range() { # VERSION -> "min max"
  awk -v v="$1" '$1 == v {print $2, $3}' "$HERE/versions"
}

# The newest JDK whose major version lies in [min, max] (with OMKC_KEYCLOAK_JAVA=lowest or
# highest, one of exactly min or max).
pick_java() {
  local min=$1 max=$2 best="" best_major=0 home major
  case "${OMKC_KEYCLOAK_JAVA:-newest}" in
    newest) ;;
    lowest) max=$min ;;
    highest) min=$max ;;
    *) die "OMKC_KEYCLOAK_JAVA is newest, lowest or highest, not '$OMKC_KEYCLOAK_JAVA'" ;;
  esac
  for home in ${JAVA_HOME:-} /usr/lib/jvm/*; do
    [ -x "$home/bin/java" ] || continue
    major=$(java_major "$home")
    [ -n "$major" ] || continue
    if [ "$major" -ge "$min" ] && [ "$major" -le "$max" ] && [ "$major" -gt "$best_major" ]; then
      best=$home best_major=$major
    fi
  done
  [ -n "$best" ] || die "no JDK of Java $min to $max in JAVA_HOME or under /usr/lib/jvm (Keycloak needs one)"
  echo "$best"
}

java_major() { # JAVA_HOME -> its Java major version
  "$1/bin/java" -XshowSettings:properties -version 2>&1 \
    | awk -F= '/java.specification.version/ {gsub(/ /, "", $2); print $2}'
}

fetch() { # VERSION -> unpacked home
  local v=$1 home="$CACHE/keycloak-$v" t=$(uptime_s)
  if [ ! -x "$home/bin/kc.sh" ]; then
    local archive="$HOME/.m2/repository/org/keycloak/keycloak-quarkus-dist/$v/keycloak-quarkus-dist-$v.tar.gz"
    if [ ! -s "$archive" ]; then
      mvn -q -B dependency:get -Dtransitive=false \
        -Dartifact="org.keycloak:keycloak-quarkus-dist:$v:tar.gz" >&2 \
        || die "Keycloak $v: Maven Central did not serve org.keycloak:keycloak-quarkus-dist:$v"
    fi
    mkdir -p "$CACHE"
    tar -xzf "$archive" -C "$CACHE"
    echo "Keycloak $v: fetched and unpacked in $(($(uptime_s) - t)) s" >&2
  fi
  echo "$home"
}

state() { echo "$CACHE/run-$1"; }

# A certificate authority of the run's own, and a certificate for 127.0.0.1 it signed, in a
# PKCS #12 store Keycloak serves HTTPS with: a Keycloak behind a private CA, which the tests
# reach with the authority's PEM as caBundle (and are refused without it). Both keys are RSA, as
# in most Keycloaks in the field, so the authority's signature and the server's in the handshake
# are RSA ones (the emulator's TLS front in tests/it has ECDSA keys).
certificates() { # RUN_DIR JAVA_HOME
  local run=$1 keytool="$2/bin/keytool" pw=$STORE_PASSWORD
  rm -f "$run"/ca.p12 "$run"/kc.p12 "$run"/ca.pem "$run"/kc.pem
  "$keytool" -genkeypair -alias ca -dname CN=omkc-test-authority -ext bc:c -keyalg RSA \
    -keysize 2048 -validity 2 -keystore "$run/ca.p12" -storepass $pw 2>/dev/null
  "$keytool" -exportcert -rfc -alias ca -keystore "$run/ca.p12" -storepass $pw >"$run/ca.pem"
  "$keytool" -genkeypair -alias kc -dname CN=127.0.0.1 -keyalg RSA -keysize 2048 \
    -validity 2 -keystore "$run/kc.p12" -storepass $pw 2>/dev/null
  "$keytool" -certreq -alias kc -keystore "$run/kc.p12" -storepass $pw \
    | "$keytool" -gencert -alias ca -keystore "$run/ca.p12" -storepass $pw -rfc -validity 2 \
      -ext san=ip:127.0.0.1 >"$run/kc.pem"
  "$keytool" -importcert -noprompt -alias ca -file "$run/ca.pem" -keystore "$run/kc.p12" \
    -storepass $pw >/dev/null 2>&1
  "$keytool" -importcert -alias kc -file "$run/kc.pem" -keystore "$run/kc.p12" -storepass $pw \
    >/dev/null 2>&1
  [ -s "$run/ca.pem" ] && [ -s "$run/kc.pem" ] || die "could not make the test certificates"
}

# Dies unless the Keycloak `start` left for VERSION is still running.
running() {
  local run
  run=$(state "$1")
  [ -f "$run/pid" ] && kill -0 "$(cat "$run/pid")" 2>/dev/null || die "Keycloak $1 is not running (start it first)"
}

start() {
  local v=$1 home java port mport hport run t
  read -r min max <<<"$(java_range "$v")"
  [ -n "${min:-}" ] || die "Keycloak $v is not in tests/keycloak/versions"
  # start runs inside a command substitution, where errexit does not hold: stop on either one's
  # failure (it said why).
  home=$(fetch "$v") || exit 1
  java=$(pick_java "$min" "$max") || exit 1
  run=$(state "$v")
  stop "$v" 2>/dev/null || true
  mkdir -p "$run"
  rm -rf "$home/data"
  port=$(free_port)
  hport=$(free_port)
  while [ "$hport" = "$port" ]; do hport=$(free_port); done
  [ -n "$port" ] && [ -n "$hport" ] || die "no free port below the ephemeral range"
  certificates "$run" "$java"
  t=$(uptime_s)
  # dev-file (an H2 file under $home/data, removed above), not dev-mem: H2 drops an in-memory
  # database when its last connection closes, and the pool closes idle ones, so a Keycloak left
  # idle for some minutes (CI compiling the tests on a machine with no caches) lost every table
  # ("Table REALM not found (this database is empty)", keycloak#13252).
  # setsid: its own process group, so stop ends the JVM and the launcher together.
  # Keycloak 25 brought the management interface; before it, health is on the HTTPS port.
  local management=() health="https://127.0.0.1:$hport/health/ready" db=(--db=dev-file)
  # KC_DB names another database (an option on the command line would override it).
  [ -z "${KC_DB:-}" ] || db=()
  if [ "${v%%.*}" -ge 25 ]; then
    mport=$(free_port)
    while [ "$mport" = "$port" ] || [ "$mport" = "$hport" ]; do mport=$(free_port); done
    [ -n "$mport" ] || die "no free port below the ephemeral range"
    management=(--http-management-port="$mport") health="https://127.0.0.1:$mport/health/ready"
  fi
  JAVA_HOME="$java" KC_BOOTSTRAP_ADMIN_USERNAME=$ADMIN_USER KC_BOOTSTRAP_ADMIN_PASSWORD=$ADMIN_PASSWORD \
    KEYCLOAK_ADMIN=$ADMIN_USER KEYCLOAK_ADMIN_PASSWORD=$ADMIN_PASSWORD \
    JAVA_OPTS_APPEND="-Dquarkus.transaction-manager.default-transaction-timeout=$TRANSACTION_TIMEOUT" \
    setsid "$home/bin/kc.sh" start-dev "${db[@]}" --http-host=127.0.0.1 --http-port="$port" \
    "${management[@]}" --health-enabled=true --https-port="$hport" \
    --https-key-store-file="$run/kc.p12" --https-key-store-password="$STORE_PASSWORD" \
    >"$run/log" 2>&1 </dev/null &
  echo $! >"$run/pid"
  echo "http://127.0.0.1:$port" >"$run/url"
  echo "$java/bin/java" >"$run/java"
  echo "https://127.0.0.1:$hport" >"$run/https-url"
  # With HTTPS on, the management interface inherits it (and its certificate).
  until curl -fsS --cacert "$run/ca.pem" "$health" >/dev/null 2>&1; do
    if ! kill -0 "$(cat "$run/pid")" 2>/dev/null; then
      tail -n 60 "$run/log" >&2
      die "Keycloak $v exited during start-up (Java $(java_major "$java") in $java); its log is above"
    fi
    if [ $(($(uptime_s) - t)) -gt "$STARTUP_LIMIT" ]; then
      tail -n 60 "$run/log" >&2
      stop "$v"
      die "Keycloak $v not ready after ${STARTUP_LIMIT} s; its log is above"
    fi
    sleep 1
  done
  echo "Keycloak $v: ready in $(($(uptime_s) - t)) s on http://127.0.0.1:$port (Java $(java_major "$java") in $java, log: $run/log)" >&2
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

# The tests named by FILTER (default: every real-Keycloak scenario) against the Keycloak `start`
# left running; stops it afterwards, pass or fail. A filter that runs none fails.
check() {
  local v=$1 filter=${2:-real_keycloak} url run t filters
  read -ra filters <<<"$filter"
  run=$(state "$v")
  running "$v"
  url=$(cat "$run/url")
  t=$(uptime_s)
  # The real-Keycloak tests are marked ignored (a plain `cargo test` has no Keycloak); they run
  # one at a time, since several of them change server-wide settings of the master realm.
  if ! (cd "$ROOT" && OMKC_TEST_KEYCLOAK_URL="$url" OMKC_TEST_KEYCLOAK_VERSION="$v" \
    OMKC_TEST_KEYCLOAK_HTTPS_URL="$(cat "$run/https-url")" OMKC_TEST_KEYCLOAK_CA="$run/ca.pem" \
    OMKC_TEST_KEYCLOAK_USER=$ADMIN_USER OMKC_TEST_KEYCLOAK_PASSWORD=$ADMIN_PASSWORD \
    OMKC_TEST_KEYCLOAK_JAVA="$(cat "$run/java")" OMKC_TEST_KEYCLOAK_DB="${KC_DB:-dev-file}" \
    cargo test --locked --test it -- --ignored --test-threads=1 "${filters[@]}" 2>&1 | tee "$run/tests") \
    || ! grep -Eq "test result: ok\. [1-9][0-9]* passed" "$run/tests"; then
    echo "== the tests ($filter) failed on Keycloak $v, or none ran; its log (last 200 lines):" >&2
    tail -n 200 "$(state "$v")/log" >&2
    stop "$v"
    die "real-Keycloak tests ($filter) failed on Keycloak $v"
  fi
  stop "$v"
  echo "Keycloak $v: the real-Keycloak tests ($filter) passed in $(($(uptime_s) - t)) s" >&2
}

# tools/bench/keycloak_latency.py on the Keycloak `start` left running (kept running): that the
# script still works and its body is still the operator's (benchmark.md's figures come from it).
latency() {
  local v=$1 resources=$2 operator="${CARGO_TARGET_DIR:-$ROOT/target}/debug/openmetadata-keycloak-operator"
  running "$v"
  # The binary as `cargo test` builds it: a `cargo build` would build the dependencies a second
  # time, without the dev-dependencies' features (about 35 s in CI).
  (cd "$ROOT" && cargo test --locked --quiet --test it --no-run)
  (cd "$ROOT" && python3 tools/bench/keycloak_latency.py --url "$(cat "$(state "$v")/url")" \
    --user $ADMIN_USER --password "$ADMIN_PASSWORD" --resources "$resources" \
    --operator "$operator") || die "the latency script failed on Keycloak $v"
}

# Keycloak started with the optional features the operator must cope without turned off, and the
# scenarios for such a server (each reads the server's features first and fails on one that has
# them). From 26.2 admin-fine-grained-authz (v2) depends on authorization: both go.
features_off() {
  local v=$1
  KC_FEATURES_DISABLED=authorization,admin-fine-grained-authz start "$v" >/dev/null
  check "$v" on_a_real_server_without_it
}

# What the database decides, by default: the client's columns, and client ids, redirect URIs and
# web origins it takes for others.
DATABASE_SCENARIOS="keycloak_stores_255_characters_of_a_clients_fields::real_keycloak a_client_id_the_database_takes_for_an_existing_one_is_refused::real_keycloak redirect_uris_that_differ_only_in_case_are_one_on_mariadb::real_keycloak"

# A folder of its own for a throwaway database server, owned by user $1 when root (the server
# runs as it: `as`), and a free loopback port: sets the caller's dir, as and port.
throwaway() {
  dir=$(mktemp -d)
  as=()
  if [ "$(id -u)" = 0 ]; then
    chown "$1" "$dir"
    as=(runuser -u "$1" --)
  fi
  port=$(free_port)
  [ -n "$port" ] || die "no free port below the ephemeral range"
}

# Keycloak on a throwaway PostgreSQL (the newest server under /usr/lib/postgresql: Debian's
# `postgresql`), on a free loopback port, run as user postgres when root; then the scenarios
# FILTER names (default: what the database decides, DATABASE_SCENARIOS). PostgreSQL is stopped
# and its files removed whatever happens.
postgres() {
  local v=$1 filter=${2:-$DATABASE_SCENARIOS}
  local bin dir port rc=0 as=()
  bin=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
  [ -n "$bin" ] && [ -x "$bin/initdb" ] || die "no PostgreSQL server (apt-get install postgresql)"
  throwaway postgres
  if ! "${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    >"$dir/initdb.log" 2>&1 \
    || ! "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null \
    || ! "${as[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres keycloak; then
    cat "$dir"/*.log "$dir/log" 2>/dev/null >&2 || true
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    die "PostgreSQL ($bin) did not start"
  fi
  # In a process of its own: start and check stop the script on a failure.
  (
    export KC_DB=postgres KC_DB_URL="jdbc:postgresql://127.0.0.1:$port/keycloak"
    export KC_DB_USERNAME=postgres KC_DB_PASSWORD=trusted
    start "$v" >/dev/null
    check "$v" "$filter"
  ) || rc=$?
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
  rm -rf "$dir"
  [ "$rc" = 0 ] || die "the scenarios ($filter) failed on Keycloak $v with PostgreSQL"
  echo "Keycloak $v on PostgreSQL ($("$bin/postgres" --version)): $filter passed" >&2
}

# Keycloak on a throwaway MariaDB (Debian's `mariadb-server`), on a free loopback port, run as
# user mysql when root, its database made `utf8mb4` with `utf8mb4_unicode_ci` (the usual
# setting: client ids then compare without case or accents); then the scenarios FILTER names
# (default: what the database decides). MariaDB is stopped and its files removed whatever
# happens.
on_mariadb() { # not `mariadb`: the client of that name is called inside
  local v=$1 filter=${2:-$DATABASE_SCENARIOS} dir port rc=0 as=() sql
  [ -x /usr/sbin/mariadbd ] || die "no MariaDB server (apt-get install mariadb-server)"
  throwaway mysql
  sql="CREATE DATABASE keycloak CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
    CREATE USER 'keycloak'@'%' IDENTIFIED BY 'keycloak-db-password';
    GRANT ALL ON keycloak.* TO 'keycloak'@'%';"
  if ! "${as[@]}" mariadb-install-db --no-defaults --datadir="$dir/data" \
    --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1; then
    cat "$dir/install.log" >&2
    rm -rf "$dir"
    die "MariaDB's data folder was not made"
  fi
  "${as[@]}" /usr/sbin/mariadbd --no-defaults --datadir="$dir/data" --port="$port" \
    --bind-address=127.0.0.1 --socket="$dir/sock" --pid-file="$dir/pid" \
    --log-error="$dir/error.log" >/dev/null 2>&1 &
  local i ready=""
  for i in $(seq 1 60); do
    if mariadb --no-defaults -S "$dir/sock" -u root -e "$sql" 2>/dev/null; then ready=1; break; fi
    sleep 1
  done
  if [ -z "$ready" ]; then
    cat "$dir/error.log" >&2 2>/dev/null || true
    [ ! -s "$dir/pid" ] || kill "$(cat "$dir/pid")" 2>/dev/null || true
    rm -rf "$dir"
    die "MariaDB did not start"
  fi
  (
    export KC_DB=mariadb KC_DB_URL="jdbc:mariadb://127.0.0.1:$port/keycloak"
    export KC_DB_USERNAME=keycloak KC_DB_PASSWORD=keycloak-db-password
    start "$v" >/dev/null
    check "$v" "$filter"
  ) || rc=$?
  local pid
  pid=$(cat "$dir/pid" 2>/dev/null || true)
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  fi
  rm -rf "$dir"
  [ "$rc" = 0 ] || die "the scenarios ($filter) failed on Keycloak $v with MariaDB"
  echo "Keycloak $v on MariaDB ($(/usr/sbin/mariadbd --version)): $filter passed" >&2
}

# Realm imports in flight while the JVM is stopped for $2 seconds; each must succeed once thawed.
pause() {
  local v=$1 seconds=$2 url jvm token i failed=0 run in_flight
  run=$(state "$v")
  running "$v"
  url=$(cat "$run/url")
  jvm=$(pgrep -g "$(cat "$run/pid")" java | head -1)
  token=$(curl -fsS -d grant_type=password -d client_id=admin-cli -d username=$ADMIN_USER \
    --data-urlencode password="$ADMIN_PASSWORD" "$url/realms/master/protocol/openid-connect/token" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
  for i in 1 2 3 4; do
    curl -sS -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $token" \
      -H 'Content-Type: application/json' -d "{\"realm\":\"pause-$$-$i\",\"enabled\":true}" \
      "$url/admin/realms" >"$run/pause-$i" &
  done
  sleep 0.4
  kill -STOP "$jvm"
  # An import answered before the freeze proves nothing: say so rather than pass.
  in_flight=$(jobs -rp | wc -l)
  if [ "$in_flight" -lt 4 ]; then
    kill -CONT "$jvm"
    wait
    rm -f "$run"/pause-*
    die "only $in_flight of 4 realm imports were in flight when Keycloak froze; nothing was checked"
  fi
  sleep "$seconds"
  kill -CONT "$jvm"
  wait
  for i in 1 2 3 4; do
    echo "realm import $i after a ${seconds} s freeze: HTTP $(cat "$run/pause-$i")" >&2
    [ "$(cat "$run/pause-$i")" = 201 ] || failed=1
  done
  rm -f "$run"/pause-*
  [ "$failed" = 0 ] || die "Keycloak $v lost requests in flight across a freeze; its log: $run/log"
}

cmd=${1:-test}
shift || true
case "$cmd" in
  test)
    [ $# -gt 0 ] || set -- $(versions)
    for v in "$@"; do run_tests "$v"; done ;;
  start) start "${1:?VERSION}" ;;
  check) check "${1:?VERSION}" "${2:-real_keycloak}" ;;
  features-off) features_off "${1:?VERSION}" ;;
  latency) latency "${1:?VERSION}" "${2:-30}" ;;
  postgres) postgres "${1:?VERSION}" "${2:-}" ;;
  mariadb) on_mariadb "${1:?VERSION}" "${2:-}" ;;
  versions) versions ;;
  minors)
    failed=""
    # Each in a process of its own (errexit holds there), so one failure does not stop the rest.
    ran=""
    for v in $(minors); do
      read -r lo hi <<<"$(java_range "$v")"
      if [ "${OMKC_KEYCLOAK_JAVA:-}" = lowest ] && [ "$lo" = "$hi" ]; then
        echo "keycloak.sh: $v runs on Java $lo only: passed over here, the run with OMKC_KEYCLOAK_JAVA=highest covers it" >&2
        continue
      fi
      ran="$ran $v"
      "$0" test "$v" || failed="$failed $v"
    done
    [ -z "$failed" ] || die "real-Keycloak tests failed on:$failed"
    echo "the real-Keycloak tests passed on:$ran" >&2 ;;
  stop) stop "${1:?VERSION}" ;;
  log) cat "$(state "${1:?VERSION}")/log" ;;
  pause) pause "${1:?VERSION}" "${2:-320}" ;;
  fetch)
    [ $# -gt 0 ] || set -- $(versions)
    for v in "$@"; do fetch "$v" >/dev/null; done ;;
  *) die "unknown command $cmd (test, start, check, features-off, postgres, mariadb, stop, log, pause, fetch, versions, minors)" ;;
esac
