#!/usr/bin/env bash
# A CI job's life with envkit: a throwaway instance of the stack, healthy, its ports read
# from JSON, a check against it, and nothing left behind — even when the check fails or
# the job is cancelled (the trap), and even when the job is killed outright (the ttl,
# reaped by `envkit gc` in a later job or a cron).
#
#   scripts/ci-example.sh                    # stacks/web.yaml, environment ci
#   STACK=path/to/envkit.yaml ENV=ci scripts/ci-example.sh
#   ENVKIT="python -m envkit" scripts/ci-example.sh   # envkit not on PATH
#
# The stack's `ci` environment has `ephemeral_ports: true`, so any number of these jobs
# run side by side on one host: every instance gets its own random host ports.
set -euo pipefail

STACK=${STACK:-stacks/web.yaml}
ENV=${ENV:-ci}
TTL=${TTL:-30m}
CHECK_PATH=${CHECK_PATH:-/migrated}   # what the check GETs from the api service
read -r -a envkit <<<"${ENVKIT:-envkit}"

workdir=$(mktemp -d)
state="$workdir/state.json"

json_field() {  # json_field FILE KEY: a top-level string of the state file
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]) or "")' "$@"
}

cleanup() {
    rc=$?
    instance=""
    [ -s "$state" ] && instance=$(json_field "$state" instance || true)
    if [ -n "$instance" ]; then
        echo "ci: tearing down instance $instance" >&2
        "${envkit[@]}" -f "$STACK" down "$ENV" --instance "$instance" --volumes || rc=1
    fi
    # Last step: reap what earlier jobs left (killed runners) once their ttl has passed.
    "${envkit[@]}" gc || true
    rm -rf "$workdir"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. Up: a new instance, healthy before this returns; its state as JSON on stdout. On
#    failure the JSON still names the instance, so the trap can tear it down.
"${envkit[@]}" -f "$STACK" up "$ENV" --ephemeral --ttl "$TTL" --wait --json >"$state"
instance=$(json_field "$state" instance)
echo "ci: instance $instance is up" >&2

# 2. Its addresses: from the JSON, or as shell variables.
port=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["services"]["api"]["ports"]["8000/tcp"])' "$state")
eval "$("${envkit[@]}" -f "$STACK" env "$ENV" --instance "$instance")"
[ "$port" = "$ENVKIT_API_8000" ] || { echo "ci: JSON says $port, env says $ENVKIT_API_8000" >&2; exit 1; }

# 3. The tests: here, one HTTP request to the api service on 127.0.0.1.
python3 - "$ENVKIT_API_8000_HOST" "$ENVKIT_API_8000_PORT" "$CHECK_PATH" <<'PY'
import sys, urllib.error, urllib.request
host, port, path = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=10) as response:
        body = response.read().decode().strip()
except (OSError, urllib.error.URLError) as exc:
    sys.exit(f"ci: GET {path} failed: {exc}")
print(f"ci: GET {path} -> {response.status} {body!r}", file=sys.stderr)
sys.exit(0 if body == "ok" else 1)
PY
echo "ci: checks passed" >&2
