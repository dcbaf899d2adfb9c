#!/bin/sh
# Install the Debian packages envkit's image features and their tests use; idempotent.
#   pigz             parallel gzip: `envkit bundle save` compresses with it when present
#                    (it falls back to zlib in-process without it)
#   docker-registry  Debian's registry (distribution), run by the tests on 127.0.0.1
#   graphviz         `dot`: the tests check that `envkit graph --format dot` is valid DOT
#   docker-compose   Debian's docker-compose 1.29.2: the oracle the Compose tests compare
#                    envkit with (tests/compose_oracle.py, `docker-compose config`)
# As root it installs what is missing with apt-get; otherwise it says what to run.
set -eu

say() { echo "install-image-tools: $*" >&2; }

missing=""
command -v pigz >/dev/null 2>&1 || missing="$missing pigz"
[ -x /usr/bin/docker-registry ] || missing="$missing docker-registry"
command -v dot >/dev/null 2>&1 || missing="$missing graphviz"
[ -x /usr/bin/docker-compose ] || missing="$missing docker-compose"
if [ -z "$missing" ]; then
    say "pigz, docker-registry, graphviz and docker-compose are installed"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    say "need:$missing; run: sudo apt-get install -y$missing"
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
say "installing:$missing"
# shellcheck disable=SC2086
if ! apt-get install -y -q $missing >&2; then
    apt-get update -q >&2
    # shellcheck disable=SC2086
    apt-get install -y -q $missing >&2
fi
# The package starts a registry service on :5000 with htpasswd auth where an init system
# runs; the tests start their own on a free 127.0.0.1 port and do not need it.
