# shellcheck shell=bash
# Shared by cluster-up.sh, cluster-down.sh, remote-engine-up.sh and remote-engine-down.sh:
# the layout of the offline test cluster (issue 12) and the helpers that build and remove it.
#
# Everything lives in network namespaces this file creates; the host's network, iptables and
# Docker engine are never touched:
#
#   envkit-sw   the "switch": bridge envkit-br0 with 10.231.0.1/24 (also the test client's seat)
#   envkit-n1   swarm manager   eth0 10.231.0.11   dockerd unix:///run/envkit-cluster/n1.sock
#   envkit-n2   swarm worker    eth0 10.231.0.12   dockerd unix:///run/envkit-cluster/n2.sock
#   envkit-n3   swarm worker    eth0 10.231.0.13   dockerd unix:///run/envkit-cluster/n3.sock
#   envkit-rm   remote engine   eth0 10.231.0.20   dockerd unix:///run/envkit-cluster/rm.sock,
#                                                  tcp://10.231.0.20:2376 (TLS), sshd :22
#
# No namespace has a default route, so nothing leaves them. The host's own namespace has no
# route to 10.231.0.0/24 either (it would send such packets to its gateway): reach the nodes'
# addresses from inside a namespace, e.g. `nsenter --net=/run/netns/envkit-sw CMD`.
#
# State: /run/envkit-cluster (sockets, pid files, exec roots, env files, certs and keys),
#        /var/lib/envkit-cluster (data roots, the shared registry storage).
# Sourced only by the scripts above; needs bash and root.

CLUSTER_RUN=/run/envkit-cluster
CLUSTER_LIB=/var/lib/envkit-cluster
CLUSTER_NET=10.231.0
SWITCH_NS=envkit-sw
BRIDGE=envkit-br0
NODES=(n1 n2 n3)
REMOTE=rm
TEST_IMAGE=envkit-test/busybox:latest
REGISTRY_PORT=5000
DOCKER=${DOCKER:-/usr/bin/docker}

say() { echo "${0##*/}: $*" >&2; }
die() {
    say "error: $*"
    exit 1
}
now_ms() { date +%s%3N; }

ns_of() { echo "envkit-$1"; }        # node name -> namespace
sock_of() { echo "$CLUSTER_RUN/$1.sock"; }
addr_of() {
    case "$1" in
        n1) echo "$CLUSTER_NET.11" ;; n2) echo "$CLUSTER_NET.12" ;; n3) echo "$CLUSTER_NET.13" ;;
        rm) echo "$CLUSTER_NET.20" ;; *) die "unknown node $1" ;;
    esac
}
# Each node's own subnets for its default bridge and local networks. They exist only inside
# the node's namespace, so they cannot clash with the host's docker0 (172.17.0.0/16); they are
# distinct per node only so that `docker network inspect` output is unambiguous.
node_index() { case "$1" in n1) echo 1 ;; n2) echo 2 ;; n3) echo 3 ;; rm) echo 9 ;; esac; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (network namespaces, dockerd)"; }

need_tools() {
    local t missing=""
    for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing="$missing $t"; done
    [ -z "$missing" ] || die "missing:$missing; run: sudo bash scripts/cluster-setup.sh --install-only"
}

nsx() { # run a command in a namespace with nsenter (keeps the host's mounts, incl. cgroups)
    local ns=$1
    shift
    nsenter --net="/run/netns/$ns" -- "$@"
}

netns_exists() { [ -e "/run/netns/$1" ]; }

# The switch: one namespace with a bridge; the bridge's address is where tests sit as a client.
switch_up() { # safe to run twice at once (cluster-up and remote-engine-up run in parallel)
    netns_exists "$SWITCH_NS" || ip netns add "$SWITCH_NS" 2>/dev/null || netns_exists "$SWITCH_NS" ||
        die "cannot create network namespace $SWITCH_NS"
    ip -n "$SWITCH_NS" link set lo up
    ip -n "$SWITCH_NS" link show "$BRIDGE" >/dev/null 2>&1 ||
        ip -n "$SWITCH_NS" link add "$BRIDGE" type bridge 2>/dev/null ||
        ip -n "$SWITCH_NS" link show "$BRIDGE" >/dev/null 2>&1 || die "cannot create bridge $BRIDGE"
    ip -n "$SWITCH_NS" addr replace "$CLUSTER_NET.1/24" dev "$BRIDGE"
    ip -n "$SWITCH_NS" link set "$BRIDGE" up
}

# A node namespace joined to the switch by a veth pair (eth0 in the node, NODE on the switch).
# Both ends are created inside namespaces: the host never sees them.
node_net_up() {
    local node=$1 ns
    ns=$(ns_of "$node")
    netns_exists "$ns" || ip netns add "$ns"
    ip -n "$ns" link set lo up
    if ! ip -n "$ns" link show eth0 >/dev/null 2>&1; then
        ip -n "$SWITCH_NS" link del "$node" 2>/dev/null || true
        ip -n "$SWITCH_NS" link add "$node" type veth peer name eth0 netns "$ns"
        ip -n "$SWITCH_NS" link set "$node" master "$BRIDGE" up
        ip -n "$ns" addr add "$(addr_of "$node")/24" dev eth0
    fi
    ip -n "$ns" link set eth0 up
}

# One dockerd in the node's network namespace, through nsenter --net (not `ip netns exec`,
# which remounts /sys and so hides the cgroup mounts dockerd needs). Every path dockerd and
# its managed containerd write is per node; --config-file is the node's own, so that a host
# /etc/docker/daemon.json (hosts, mirrors, ...) cannot leak in. The choices:
#   --iptables=true   iptables (nf_tables) inside a network namespace is that namespace's own:
#                     the host's rules stay untouched, and the nodes get the real NAT and
#                     port-publishing rules (--iptables=false would leave host-mode ports to
#                     docker-proxy alone and test less of what production runs).
#   --bip, --default-address-pool  the default bridge docker0 and local networks on per-node
#                     subnets 10.24N.0.0/16, visible only inside the node's namespace: no clash
#                     with the host's docker0 (172.17.0.0/16), unambiguous in inspect output.
#                     Swarm overlays come from 10.250.0.0/16 (swarm init --default-addr-pool).
#   deprecated-key-path (daemon.json only, in 20.10) each node its own trust key, hence its own
#                     engine ID (`docker info` .ID): by default all share /etc/docker/key.json
#                     with the host's engine, and envkit keys its locks by engine identity.
#   unshare --uts     each node its own hostname (envkit-NODE) for Swarm; mounts stay shared.
dockerd_up() {
    local node=$1 extra=("${@:2}") ns i run data
    ns=$(ns_of "$node")
    i=$(node_index "$node")
    run="$CLUSTER_RUN/$node"
    data="$CLUSTER_LIB/$node"
    mkdir -p "$run/exec" "$data"
    if [ -S "$(sock_of "$node")" ] && "$DOCKER" -H "unix://$(sock_of "$node")" version >/dev/null 2>&1; then
        return 0
    fi
    echo "{\"deprecated-key-path\": \"$data/key.json\"}" >"$run/daemon.json"
    nsx "$ns" setsid unshare --uts -- sh -c 'hostname "$0" && exec "$@"' "envkit-$node" dockerd \
        --config-file "$run/daemon.json" \
        --data-root "$data/docker" \
        --exec-root "$run/exec" \
        --pidfile "$run/dockerd.pid" \
        -H "unix://$(sock_of "$node")" \
        --containerd-namespace "envkit-$node" \
        --containerd-plugins-namespace "envkit-$node-plugins" \
        --cgroup-parent "/envkit-$node" \
        --iptables=true \
        --bip "10.24$i.0.1/24" \
        --default-address-pool "base=10.24$i.16.0/20,size=24" \
        --log-level warn \
        "${extra[@]}" \
        >"$run/dockerd.log" 2>&1 </dev/null &
    echo $! >"$run/launch.pid" # the background job: it ends when dockerd does
}

dockerd_wait() {
    local node=$1 t0
    t0=$(now_ms)
    until "$DOCKER" -H "unix://$(sock_of "$node")" version >/dev/null 2>&1; do
        if ! kill -0 "$(cat "$CLUSTER_RUN/$node/launch.pid" 2>/dev/null || echo 0)" 2>/dev/null ||
            [ $(($(now_ms) - t0)) -gt 30000 ]; then
            say "dockerd of $node does not answer; end of its log:"
            tail -n 30 "$CLUSTER_RUN/$node/dockerd.log" >&2 || true
            return 1
        fi
        sleep 0.2
    done
}

# `docker save` the local test image to TAR (once) and load it into a node's engine.
image_load() {
    local node=$1 tar=$2
    if ! "$DOCKER" -H "unix://$(sock_of "$node")" image inspect "$TEST_IMAGE" >/dev/null 2>&1; then
        if [ ! -s "$tar" ]; then
            "$DOCKER" save -o "$tar.tmp" "$TEST_IMAGE" ||
                die "cannot save $TEST_IMAGE from the host engine; run scripts/build-test-images.sh"
            mv "$tar.tmp" "$tar"
        fi
        "$DOCKER" -H "unix://$(sock_of "$node")" load -q -i "$tar" >/dev/null
    fi
}

# --- teardown -----------------------------------------------------------------------------

ns_inode() { stat -L -c %i "/run/netns/$1" 2>/dev/null || true; }

# Pids of every process in one of the given namespaces, or in a cgroup below /envkit-NODE.
pids_of() {
    local inodes=() ns ino d
    for ns in "$@"; do
        ino=$(ns_inode "$ns")
        if [ -n "$ino" ]; then inodes+=("$ino"); fi
    done
    if [ "${#inodes[@]}" -gt 0 ]; then # one stat for all processes: /proc/PID/ns/net inodes
        stat -L -c '%i %n' /proc/[0-9]*/ns/net 2>/dev/null |
            awk -v want=" ${inodes[*]} " 'index(want, " " $1 " ") { split($2, p, "/"); print p[3] }' || true
    fi
    for ns in "$@"; do
        for d in /sys/fs/cgroup/*/"$ns"; do
            if [ -d "$d" ]; then find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null || true; fi
        done
    done | sort -u
}

kill_leftovers() { # every process still in our namespaces or cgroups
    local pids round
    for round in 1 2 3 4 5 6 7 8 9 10; do
        pids=$(pids_of "$@")
        [ -z "$pids" ] && return 0
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null || true
        sleep 0.2
    done
    say "warning: processes left: $(pids_of "$@" | tr '\n' ' ')"
}

unmount_below() { # every mount point below the given folders, deepest first
    local root mp
    for root in "$@"; do
        awk -v r="$root" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo |
            sort -r | while read -r mp; do
            umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || say "warning: cannot unmount $mp"
        done
    done
}

remove_cgroups() { # /sys/fs/cgroup/*/envkit-NODE, deepest first
    local ns d
    for ns in "$@"; do
        for d in /sys/fs/cgroup/*/"$ns"; do
            [ -d "$d" ] || continue
            find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || say "warning: cannot remove cgroup $d"
        done
    done
}

netns_remove() {
    local ns
    for ns in "$@"; do
        if netns_exists "$ns"; then
            ip netns del "$ns" 2>/dev/null || { umount -l "/run/netns/$ns" 2>/dev/null; rm -f "/run/netns/$ns"; }
        fi
    done
}

# Tear down nodes (names like n1, rm): processes, mounts, cgroups, namespaces, state.
# Everything is killed at once (SIGKILL): the nodes' state is thrown away, and a graceful
# dockerd shutdown in swarm mode takes ~12 s (it waits for gossip leave broadcasts). The only
# trace a killed containerd shim leaves outside our folders is its socket in /run/containerd/s,
# whose path the shim wrote into its task folder: those are removed by name.
nodes_down() {
    local node nss=() shim_sockets s f
    for node in "$@"; do nss+=("$(ns_of "$node")"); done
    shim_sockets=$(for f in "${@/#/$CLUSTER_RUN/}"; do
        for f in "$f"/exec/containerd/daemon/io.containerd.runtime.v2.task/*/*/address; do
            if [ -f "$f" ]; then echo "$(cat "$f")"; fi
        done
    done)
    kill_leftovers "${nss[@]}"
    for s in $shim_sockets; do
        s=${s#unix://}
        case "$s" in /run/containerd/s/*) rm -f "$s" ;; esac
    done
    for node in "$@"; do
        unmount_below "$CLUSTER_RUN/$node" "$CLUSTER_LIB/$node"
    done
    remove_cgroups "${nss[@]}"
    netns_remove "${nss[@]}"
    for node in "$@"; do
        rm -rf "${CLUSTER_RUN:?}/$node" "${CLUSTER_LIB:?}/$node" "$(sock_of "$node")"
    done
}

# /run/netns is made a mount point by `ip netns add`; unmount it when nothing else uses it.
netns_dir_release() {
    if [ -d /run/netns ] && [ -z "$(ls -A /run/netns)" ] && mountpoint -q /run/netns; then
        umount /run/netns 2>/dev/null && rmdir /run/netns 2>/dev/null || true
    fi
}

# What a teardown must not leave: print each leftover, return 1 when there is one.
leftovers() {
    local found=0 line
    for line in $(ip netns list 2>/dev/null | awk '$1 ~ /^envkit-(sw|n[0-9]+|rm)$/ { print $1 }'); do
        say "left: network namespace $line"
        found=1
    done
    while read -r line; do
        [ -n "$line" ] || continue
        say "left: mount $line"
        found=1
    done < <(awk -v a="$CLUSTER_RUN" -v b="$CLUSTER_LIB" 'index($5, a) == 1 || index($5, b) == 1 { print $5 }' /proc/self/mountinfo)
    for line in /sys/fs/cgroup/*/envkit-sw /sys/fs/cgroup/*/envkit-n[0-9] /sys/fs/cgroup/*/envkit-rm; do
        if [ -e "$line" ]; then say "left: cgroup $line"; found=1; fi
    done
    # "...cluste[r]": the pattern does not match grep's own command line
    for line in $(grep -l -s -e "${CLUSTER_RUN%?}[${CLUSTER_RUN: -1}]" -e "${CLUSTER_LIB%?}[${CLUSTER_LIB: -1}]" \
        /proc/[0-9]*/cmdline | cut -d/ -f3); do
        [ -e "/proc/$line" ] || continue
        say "left: process $line: $(tr '\0' ' ' <"/proc/$line/cmdline" 2>/dev/null)"
        found=1
    done
    for line in "$CLUSTER_RUN" "$CLUSTER_LIB"; do
        if [ -e "$line" ]; then say "left: $line"; found=1; fi
    done
    return $found
}
