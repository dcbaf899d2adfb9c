#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine, as root, in one idempotent command:
# set the machine up (envkit, the Docker engine, the MariaDB image), then bring up the
# three-database picture from stacks/databases.yaml — dev on 3307, test on 3308, release
# on 3306, each with its own data — wait until each is healthy, and say how to connect.
# Running it again changes nothing that is already right (envkit's plan is empty).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --with-mariadb

stack=stacks/databases.yaml
for env in dev test release; do
    echo "==> envkit -f $stack up $env --wait" >&2
    envkit -f "$stack" up "$env" --wait
done

echo >&2
envkit -f "$stack" ps
echo
echo "Connect (root password: \$DB_ROOT_PASSWORD when it was set, else devpassword):"
for env in dev test release; do
    address=$(envkit -f "$stack" port "$env" db 3306)
    echo "  $env  $address   mariadb -h ${address%:*} -P ${address##*:} -u root -p" \
        "   or: docker exec -it databases-$env-db-1 mariadb -u root -p"
done
