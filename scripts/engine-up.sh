#!/bin/sh
# Make sure a Docker engine answers on this machine; idempotent.
#
# Used by CI on a brand-new Debian 12 machine (run as root) and by developers. When
# `docker info` already answers, it does nothing. Otherwise it installs Debian's docker.io
# and busybox-static when missing, starts dockerd in the background (log in
# $ENVKIT_DOCKERD_LOG, default /var/log/envkit-dockerd.log) and waits until it answers.
# Fails loudly (exit 1, with the end of dockerd's log) when no engine answers in time.
set -eu

TIMEOUT_S="${ENVKIT_ENGINE_TIMEOUT:-60}"
LOG="${ENVKIT_DOCKERD_LOG:-/var/log/envkit-dockerd.log}"

say() { echo "engine-up: $*" >&2; }

docker_bin() {
    if [ -x /usr/bin/docker ]; then echo /usr/bin/docker; else command -v docker || true; fi
}

answers() {
    d="$(docker_bin)"
    [ -n "$d" ] && "$d" info >/dev/null 2>&1
}

if answers; then
    say "engine answers ($("$(docker_bin)" version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
    exit 0
fi

if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST#unix://}" = "$DOCKER_HOST" ]; then
    say "DOCKER_HOST=$DOCKER_HOST is a remote engine and it does not answer; not starting a local one"
    exit 1
fi

missing=""
[ -n "$(docker_bin)" ] && command -v dockerd >/dev/null 2>&1 || missing="$missing docker.io"
# The test images are FROM scratch: they need the static busybox, not the dynamic one.
if command -v dpkg >/dev/null 2>&1; then
    dpkg -s busybox-static >/dev/null 2>&1 || missing="$missing busybox-static"
else
    [ -x /bin/busybox ] || missing="$missing busybox-static"
fi
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        say "need to install:$missing but not root; run: sudo apt-get install -y$missing"
        exit 1
    fi
    say "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q $missing
fi

# Not pgrep: procps is not on a minimal Debian. dockerd keeps its pid in /var/run/docker.pid.
dockerd_running() {
    [ -s /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null
}
if ! dockerd_running; then
    if [ "$(id -u)" != 0 ]; then
        say "dockerd is not running and starting it needs root: sudo $0"
        exit 1
    fi
    say "starting dockerd (log: $LOG)"
    mkdir -p "$(dirname "$LOG")"
    nohup dockerd >>"$LOG" 2>&1 &
fi

elapsed=0
while ! answers; do
    if [ "$elapsed" -ge "$TIMEOUT_S" ]; then
        say "no engine answered after ${TIMEOUT_S}s; last lines of $LOG:"
        tail -n 30 "$LOG" >&2 2>/dev/null || true
        exit 1
    fi
    sleep 1
    elapsed=$((elapsed + 1))
done
say "engine answers after ${elapsed}s"
