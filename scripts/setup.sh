#!/usr/bin/env bash
# Set up a fresh Debian 12 machine for envkit and its tests, idempotently:
#   1. install envkit (editable) with its test tools,
#   2. make sure a Docker engine answers (install Debian's docker.io, start dockerd),
#   3. build the local test images (there is no registry to pull from),
#   4. bring up, fresh, the offline Swarm cluster and remote engine of tests/cluster (root only;
#      remove it with scripts/cluster-down.sh).
# Usage: bash scripts/setup.sh [--with-mariadb]   (--with-mariadb also builds the demo database image)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
echo "==> installing envkit and its test tools" >&2
"$PYTHON" -m pip install --quiet --disable-pip-version-check -e '.[test]'

echo "==> making sure a Docker engine answers" >&2
bash scripts/engine-up.sh

echo "==> Debian tools: docker-registry (tests), pigz (bundle gzip), docker-compose (the Compose oracle)" >&2
bash scripts/install-image-tools.sh

echo "==> building test images" >&2
bash scripts/build-test-images.sh

echo "==> the offline Swarm cluster and the remote engine (tests/cluster)" >&2
if [[ "$(id -u)" == 0 ]]; then
  bash scripts/cluster-setup.sh
else
  echo "setup: not root: run \`sudo bash scripts/cluster-setup.sh\` for tests/cluster (they fail without it)" >&2
fi

if [[ "${1:-}" == "--with-mariadb" ]]; then
  echo "==> building the MariaDB demo image" >&2
  bash scripts/build-mariadb-image.sh
fi
