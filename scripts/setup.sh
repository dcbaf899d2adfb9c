#!/usr/bin/env bash
# Set up a fresh Debian 12 machine for envkit and its tests, idempotently:
#   1. install envkit (editable) with its test tools,
#   2. make sure a Docker engine answers (install Debian's docker.io, start dockerd),
#   3. build the local test images (there is no registry to pull from).
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

if [[ "${1:-}" == "--with-mariadb" ]]; then
  echo "==> building the MariaDB demo image" >&2
  bash scripts/build-mariadb-image.sh
fi
