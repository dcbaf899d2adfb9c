#!/usr/bin/env bash
# CI step for the cluster tests (tests/cluster, marker `cluster`): install the Debian packages
# they need, then bring up, fresh, the 3-node Swarm cluster and the remote engine (issue 12).
# Root only; ~8 s on a quiet 2-core machine, ~15 s under load. Remove everything with
# scripts/cluster-down.sh (~1-3 s; it fails naming anything it could not remove).
# Usage: sudo bash scripts/cluster-setup.sh [--install-only]
#   iproute2         ip netns / link / addr
#   util-linux       nsenter, unshare, setsid, mountpoint (essential on Debian; checked anyway)
#   openssh-server   sshd of the remote engine (run only inside its namespace)
#   openssh-client   ssh, ssh-keygen
#   openssl          the test CA and certificates
#   docker-registry  the nodes' registries (scripts/install-image-tools.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "cluster-setup: $*" >&2; }
[ "$(id -u)" = 0 ] || { say "must run as root"; exit 1; }

missing=""
command -v ip >/dev/null 2>&1 || missing="$missing iproute2"
command -v nsenter >/dev/null 2>&1 && command -v unshare >/dev/null 2>&1 || missing="$missing util-linux"
[ -x /usr/sbin/sshd ] || missing="$missing openssh-server"
command -v ssh-keygen >/dev/null 2>&1 || missing="$missing openssh-client"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
[ -x /usr/bin/docker-registry ] || missing="$missing docker-registry"
if [ -n "$missing" ]; then
    say "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    # The packages must not start their services on the host (sshd on :22, a registry on
    # :5000): a policy-rc.d that says no, unless the machine already has one.
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        policy=/usr/sbin/policy-rc.d
    fi
    # shellcheck disable=SC2086
    if ! apt-get install -y -q $missing >&2; then
        apt-get update -q >&2
        # shellcheck disable=SC2086
        apt-get install -y -q $missing >&2
    fi
    [ -z "$policy" ] || rm -f "$policy"
fi
[ "${1:-}" = "--install-only" ] && exit 0

t0=$(date +%s%3N)
# Fresh each time: /run is not a tmpfs on every machine, so a previous run's state can be stale.
bash scripts/cluster-down.sh
# In parallel: they share only the switch namespace, whose creation is safe to race.
bash scripts/cluster-up.sh &
cluster=$!
bash scripts/remote-engine-up.sh &
remote=$!
rc=0
wait "$cluster" || rc=1
wait "$remote" || rc=1
if [ $rc != 0 ]; then
    say "failed; see the messages above"
    exit 1
fi
say "cluster and remote engine up in $(($(date +%s%3N) - t0)) ms"
