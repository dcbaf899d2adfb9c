#!/usr/bin/env bash
# Remove the test cluster and the remote engine completely; idempotent, and safe after a failed
# or half-finished cluster-up.sh / remote-engine-up.sh: stops each dockerd (which stops its
# containers), kills every process left in the cluster's namespaces or cgroups, unmounts
# everything below its folders, removes the cgroups /envkit-*, the namespaces (and with them
# the veth pairs and the bridge) and the state folders. Root only.
set -euo pipefail
# shellcheck source=scripts/cluster-lib.sh
source "$(dirname "$0")/cluster-lib.sh"

need_root
t0=$(now_ms)
nodes_down "${NODES[@]}" "$REMOTE"
kill_leftovers "$SWITCH_NS"
netns_remove "$SWITCH_NS"
unmount_below "$CLUSTER_RUN" "$CLUSTER_LIB"
rm -rf "${CLUSTER_RUN:?}" "${CLUSTER_LIB:?}"
netns_dir_release
leftovers || die "teardown left the above behind"
say "down in $(($(now_ms) - t0)) ms"
