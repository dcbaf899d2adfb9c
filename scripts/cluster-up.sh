#!/usr/bin/env bash
# Bring up the offline 3-node Docker Swarm cluster the cluster tests use (issue 12); idempotent.
#
#   switch namespace envkit-sw (bridge envkit-br0, 10.231.0.1/24)
#   nodes envkit-n1..n3 (10.231.0.11..13), one dockerd each on unix:///run/envkit-cluster/NODE.sock
#   swarm: n1 manager (advertise 10.231.0.11:2377), n2 and n3 workers
#   images: envkit-test/busybox:latest loaded into each node from the host engine, and a
#           docker-registry on 127.0.0.1:5000 in each node's namespace (one shared storage),
#           holding 127.0.0.1:5000/envkit-test/busybox:latest
#
# Writes /run/envkit-cluster/cluster.env (KEY=VALUE lines) for the tests. Root only.
# Remove with scripts/cluster-down.sh. Takes ~4 s on a quiet 2-core machine (~13 s under load).
set -euo pipefail
# shellcheck source=scripts/cluster-lib.sh
source "$(dirname "$0")/cluster-lib.sh"

need_root
need_tools ip nsenter setsid dockerd "$DOCKER" docker-registry
t0=$(now_ms)
mkdir -p "$CLUSTER_RUN" "$CLUSTER_LIB"
chmod 0755 "$CLUSTER_RUN"

# A failed run leaves nothing half-made behind: down removes whatever exists.
ok=0
trap '[ $ok = 1 ] || { say "failed: tearing down"; bash "$(dirname "$0")/cluster-down.sh" || true; }' EXIT

switch_up
for n in "${NODES[@]}"; do node_net_up "$n"; done
for n in "${NODES[@]}"; do dockerd_up "$n"; done
for n in "${NODES[@]}"; do dockerd_wait "$n"; done
t_engines=$(now_ms)

# Registry per node on the node's own 127.0.0.1:5000 (dockerd trusts 127.0.0.0/8 without TLS),
# all three sharing one storage folder: a push through any node is pullable on every node.
mkdir -p "$CLUSTER_LIB/registry"
cat >"$CLUSTER_RUN/registry.yml" <<EOF
version: 0.1
log: {level: warn, fields: {service: registry}}
storage:
  filesystem: {rootdirectory: $CLUSTER_LIB/registry}
  delete: {enabled: true}
http:
  addr: 127.0.0.1:$REGISTRY_PORT
EOF
for n in "${NODES[@]}"; do
    pidf="$CLUSTER_RUN/$n/registry.pid"
    if ! { [ -s "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; }; then
        nsx "$(ns_of "$n")" setsid docker-registry serve "$CLUSTER_RUN/registry.yml" \
            >"$CLUSTER_RUN/$n/registry.log" 2>&1 </dev/null &
        echo $! >"$pidf"
    fi
done

tar="$CLUSTER_RUN/images.tar"
rm -f "$tar"
image_load n1 "$tar" # saves the tar once, then the other nodes load it at the same time
pids=()
for n in n2 n3; do
    image_load "$n" "$tar" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || die "cannot load $TEST_IMAGE into a node"; done
t_images=$(now_ms)

# Swarm. The heartbeat is short so that a node whose link goes down is seen Down in seconds.
mgr="unix://$(sock_of n1)"
# Only a node that is in no swarm joins one: a restarted node is "pending" until it has
# reconnected, and `swarm join` there would fail ("already part of a swarm").
if [ "$("$DOCKER" -H "$mgr" info --format '{{.Swarm.LocalNodeState}}')" = inactive ]; then
    "$DOCKER" -H "$mgr" swarm init --advertise-addr "$(addr_of n1)" \
        --listen-addr "$(addr_of n1):2377" --dispatcher-heartbeat 2s --task-history-limit 2 \
        --default-addr-pool 10.250.0.0/16 --default-addr-pool-mask-length 24 >/dev/null
fi
token=$("$DOCKER" -H "$mgr" swarm join-token -q worker)
for n in n2 n3; do
    h="unix://$(sock_of "$n")"
    if [ "$("$DOCKER" -H "$h" info --format '{{.Swarm.LocalNodeState}}')" = inactive ]; then
        "$DOCKER" -H "$h" swarm join --token "$token" --advertise-addr "$(addr_of "$n")" \
            --listen-addr "$(addr_of "$n"):2377" "$(addr_of n1):2377" >/dev/null
    fi
done
t_swarm=$(now_ms)
until [ "$("$DOCKER" -H "$mgr" node ls --format '{{.Status}}' | grep -c Ready)" = 3 ]; do
    [ $(($(now_ms) - t_swarm)) -lt 30000 ] || die "swarm nodes not Ready after 30 s: $("$DOCKER" -H "$mgr" node ls)"
    sleep 0.2
done
# Node labels for placement constraints: node.labels.envkit.node == n1|n2|n3.
for n in "${NODES[@]}"; do
    id=$("$DOCKER" -H "unix://$(sock_of "$n")" info --format '{{.Swarm.NodeID}}')
    "$DOCKER" -H "$mgr" node update --label-add "envkit.node=$n" "$id" >/dev/null
done
t_ready=$(now_ms)

# The registry answers once the node's registry process listens; push the test image once.
reg_image="127.0.0.1:$REGISTRY_PORT/envkit-test/busybox:latest"
for _ in $(seq 50); do
    "$DOCKER" -H "$mgr" tag "$TEST_IMAGE" "$reg_image" &&
        "$DOCKER" -H "$mgr" push -q "$reg_image" >/dev/null 2>&1 && break
    sleep 0.2
done
"$DOCKER" -H "$mgr" push -q "$reg_image" >/dev/null || die "cannot push to the registry of n1"

env_file="$CLUSTER_RUN/cluster.env"
{
    echo "# written by scripts/cluster-up.sh; read by tests/cluster/conftest.py"
    echo "ENVKIT_CLUSTER_NODES=${NODES[*]}"
    for n in "${NODES[@]}"; do
        u=$(echo "$n" | tr a-z A-Z)
        echo "ENVKIT_CLUSTER_${u}_HOST=unix://$(sock_of "$n")"
        echo "ENVKIT_CLUSTER_${u}_ADDR=$(addr_of "$n")"
        echo "ENVKIT_CLUSTER_${u}_NETNS=/run/netns/$(ns_of "$n")"
    done
    echo "ENVKIT_CLUSTER_MANAGER_HOST=$mgr"
    echo "ENVKIT_CLUSTER_CLIENT_NETNS=/run/netns/$SWITCH_NS"
    echo "ENVKIT_CLUSTER_CLIENT_ADDR=$CLUSTER_NET.1"
    echo "ENVKIT_CLUSTER_SUBNET=$CLUSTER_NET.0/24"
    echo "ENVKIT_CLUSTER_IMAGE=$TEST_IMAGE"
    echo "ENVKIT_CLUSTER_REGISTRY=127.0.0.1:$REGISTRY_PORT"
    echo "ENVKIT_CLUSTER_REGISTRY_IMAGE=$reg_image"
} >"$env_file.tmp"
mv "$env_file.tmp" "$env_file"
ok=1
say "3 nodes up in $(($(now_ms) - t0)) ms (engines $((t_engines - t0)) ms, images $((t_images - t_engines)) ms," \
    "swarm $((t_ready - t_images)) ms, registry push $(($(now_ms) - t_ready)) ms); env: $env_file"
