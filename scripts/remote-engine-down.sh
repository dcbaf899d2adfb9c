#!/usr/bin/env bash
# Remove the remote engine (namespace envkit-rm, its dockerd and sshd, its credentials);
# idempotent. The cluster, if up, stays; scripts/cluster-down.sh removes both. Root only.
set -euo pipefail
# shellcheck source=scripts/cluster-lib.sh
source "$(dirname "$0")/cluster-lib.sh"

need_root
t0=$(now_ms)
nodes_down "$REMOTE"
rm -rf "${CLUSTER_RUN:?}/remote" "$CLUSTER_RUN/remote.env"
# The switch goes too when no node is left on it.
if ! netns_exists envkit-n1 && ! netns_exists envkit-n2 && ! netns_exists envkit-n3; then
    kill_leftovers "$SWITCH_NS"
    netns_remove "$SWITCH_NS"
    rm -rf "${CLUSTER_RUN:?}" "${CLUSTER_LIB:?}"
    netns_dir_release
    leftovers || die "teardown left the above behind"
fi
say "remote engine down in $(($(now_ms) - t0)) ms"
