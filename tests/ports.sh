# Shared by the scripts that start test services (tests/keycloak/keycloak.sh,
# tests/kubernetes/cluster.sh); sourced, not run.

# Seconds since boot. Elapsed times use this, not bash's SECONDS: SECONDS follows the wall
# clock, which jumps when a frozen machine thaws (tests/keycloak/keycloak.sh says more), and
# would end a wait at once.
uptime_s() { local up _; read -r up _ </proc/uptime; echo "${up%.*}"; }

# A free port below the kernel's ephemeral range. Tens of seconds may pass between this pick and
# the service's bind; a port of the ephemeral range could meanwhile be taken by any outgoing
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

