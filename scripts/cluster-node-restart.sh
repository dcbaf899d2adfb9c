#!/usr/bin/env bash
# Restart one node's dockerd in the test cluster (n1, n2 or n3), keeping its data root and
# so its place in the swarm; waits until the engine answers and the manager sees the node
# Ready again. The remedy for a node whose logs the manager has lost (moby/moby#35011);
# tests/cluster/harness.py runs it. Root only. Unlike cluster-up.sh, a failure here tears
# nothing down: the cluster is left as it is, for cluster-down.sh.
set -euo pipefail
# shellcheck source=scripts/cluster-lib.sh
source "$(dirname "$0")/cluster-lib.sh"

need_root
node=${1:-}
case "$node" in n1 | n2 | n3) ;; *) die "usage: ${0##*/} n1|n2|n3" ;; esac
t0=$(now_ms)
pidf="$CLUSTER_RUN/$node/dockerd.pid"
if [ -s "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then
    pid=$(cat "$pidf")
    kill -TERM "$pid"
    # Gone, or a zombie nobody has reaped yet (its third /proc stat field is Z).
    until [ ! -e "/proc/$pid" ] || [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ]; do
        [ $(($(now_ms) - t0)) -lt 60000 ] || die "dockerd of $node did not stop within 60 s"
        sleep 0.2
    done
fi
dockerd_up "$node"
dockerd_wait "$node"
mgr="unix://$(sock_of n1)"
host="envkit-$node"
until [ "$("$DOCKER" -H "$mgr" node inspect "$host" --format '{{.Status.State}}' 2>/dev/null)" = ready ]; do
    [ $(($(now_ms) - t0)) -lt 120000 ] || die "$host not Ready 120 s after its engine restarted"
    sleep 0.2
done
say "$node restarted and Ready in $(($(now_ms) - t0)) ms"
