#!/bin/bash
# Build a local MariaDB server image for the three-database demo (issue 5, item 6).
#
#   envkit/mariadb:latest  and  envkit/mariadb:<major.minor>  (10.11 on Debian 12)
#
# Why this script exists: the machines envkit is developed and tested on have no internet and
# no image registry, so `docker pull mariadb` is impossible. Only Debian's package mirror
# answers. So the image is made from Debian packages: debootstrap (minbase + mariadb-server +
# mariadb-client) into a temp dir under /var/tmp, trimmed (apt lists/caches, docs, man pages,
# locales, the Debian-initialised datadir), an entrypoint added, then `tar | docker import`.
# The mirror is read at run time from this machine's apt sources (deb822 or sources.list);
# $ENVKIT_DEBIAN_MIRROR overrides it. $ENVKIT_DEBIAN_SUITE overrides the suite (bookworm).
#
# The image behaves like the official image's essentials:
#   - first start with an empty /var/lib/mysql: mariadb-install-db, a temporary server on a
#     private socket (no networking, so health checks cannot pass during initialisation), root
#     password for 'root'@'localhost' and 'root'@'%', optional database and user,
#     /docker-entrypoint-initdb.d/*.sql|*.sql.gz|*.sh; then the real server in the foreground.
#   - later starts with existing data: just the server (logs to stderr, PID 1, SIGTERM = clean
#     shutdown).
#   Env: MARIADB_ROOT_PASSWORD (or MYSQL_ROOT_PASSWORD), MARIADB_ALLOW_EMPTY_ROOT_PASSWORD
#   (or MYSQL_ALLOW_EMPTY_PASSWORD), MARIADB_ROOT_HOST (default %), MARIADB_DATABASE,
#   MARIADB_USER, MARIADB_PASSWORD (each also as MYSQL_*; passwords also as *_FILE).
#   - /etc/mysql/conf.d/*.cnf is read LAST (after Debian's mariadb.conf.d defaults, the
#     include order in mariadb.cnf is swapped), so a bind-mounted conf.d overrides everything.
#     Listening on 0.0.0.0:3306 comes from a config file, not the command line, for that reason.
#   - no VOLUME: envkit mounts a named volume on /var/lib/mysql; an image VOLUME would only
#     leave anonymous volumes behind when none is mounted.
#   - health check: `mysqladmin ping` (socket, root via unix_socket auth; exit 0 once the server
#     answers, even on "access denied"), or over TCP:
#     mariadb-admin ping -h 127.0.0.1 -uroot -p"$MARIADB_ROOT_PASSWORD"
#
# Idempotent: the image carries the label io.envkit.build-hash (sha256 of this script and the
# suite); when it matches, nothing is built. --force rebuilds anyway. Needs root (debootstrap);
# installs debootstrap with apt-get when it is missing. A build takes about 1-2 minutes.
#
# Usage: scripts/build-mariadb-image.sh [--force]
set -euo pipefail

DOCKER="${DOCKER:-/usr/bin/docker}"
[ -x "$DOCKER" ] || DOCKER="$(command -v docker || true)"
REPO="${ENVKIT_MARIADB_IMAGE:-envkit/mariadb}"
SUITE="${ENVKIT_DEBIAN_SUITE:-bookworm}"
LABEL_HASH="io.envkit.build-hash"
LABEL_VERSION="io.envkit.mariadb.version"

say() { echo "build-mariadb-image: $*" >&2; }
die() { echo "build-mariadb-image: error: $*" >&2; exit 1; }

force=0
for arg in "$@"; do
    case "$arg" in
        --force|-f) force=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $arg (usage: $0 [--force])" ;;
    esac
done

[ -n "$DOCKER" ] && [ -x "$DOCKER" ] || die "docker CLI not found (install Debian's docker.io)"
"$DOCKER" info >/dev/null 2>&1 || die "no Docker engine answers ('docker info' failed); start dockerd first (scripts/engine-up.sh)"

build_hash="$( { cat "${BASH_SOURCE[0]}"; echo "suite=$SUITE"; } | sha256sum | cut -c1-32)"

label_of() { "$DOCKER" image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }

# Up to date? Then make sure the version tag exists too, and stop.
up_to_date() {
    [ "$(label_of "$REPO:latest" "$LABEL_HASH")" = "$build_hash" ] || return 1
    local version
    version="$(label_of "$REPO:latest" "$LABEL_VERSION")"
    if [ -n "$version" ] && [ "$(label_of "$REPO:$version" "$LABEL_HASH")" != "$build_hash" ]; then
        "$DOCKER" tag "$REPO:latest" "$REPO:$version"
    fi
    say "$REPO:latest${version:+ ($REPO:$version)} is up to date ($build_hash)"
}
if [ "$force" = 0 ] && up_to_date; then
    exit 0
fi

[ "$(id -u)" = 0 ] || die "debootstrap needs root; run this script as root"

# One build at a time on a host (parallel CI jobs); the second one then finds the image built.
exec 9>/var/tmp/envkit-mariadb-image.lock
if command -v flock >/dev/null 2>&1; then
    flock 9
    if [ "$force" = 0 ] && up_to_date; then
        exit 0
    fi
fi

if ! command -v debootstrap >/dev/null 2>&1; then
    say "debootstrap is missing; installing Debian's debootstrap"
    if ! apt-get install -y debootstrap >&2; then
        apt-get update >&2 || die "apt-get update failed; cannot install debootstrap"
        apt-get install -y debootstrap >&2 || die "apt-get install debootstrap failed"
    fi
fi

# The Debian mirror, from this machine's apt sources: the first deb entry whose suites include
# $SUITE; failing that, the first deb entry for a plain release (no -security/-updates suite).
find_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v want="$SUITE" '
            function flush(   n, u) {
                if (enabled != "no" && (" " types " ") ~ / deb / && uris != "") {
                    n = split(uris, u, " ")
                    if ((" " suites " ") ~ (" " want " ")) { if (exact == "") exact = u[1] }
                    else if (suites !~ /-/ && plain == "") plain = u[1]
                }
                types = suites = uris = enabled = field = ""
            }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]/ { v = $0; gsub(/[ \t]+/, " ", v)
                       if (field == "types") types = types v; else if (field == "suites") suites = suites v
                       else if (field == "uris") uris = uris v; next }
            { k = tolower($0); sub(/:.*/, "", k); v = $0; sub(/^[^:]*:[ \t]*/, "", v); gsub(/[ \t]+/, " ", v)
              field = k
              if (k == "types") types = v; else if (k == "suites") suites = v
              else if (k == "uris") uris = v; else if (k == "enabled") enabled = tolower(v) }
            END { flush(); if (exact != "") print "exact " exact; else if (plain != "") print "plain " plain }
        ' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v want="$SUITE" '
            $1 != "deb" { next }
            { i = 2
              if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
              uri = $i; suite = $(i + 1)
              if (suite == want) { print "exact " uri; exit }
              if (suite !~ /-/ && plain == "") plain = uri }
            END { if (plain != "") print "plain " plain }
        ' "$f"
    done
}
if [ -n "${ENVKIT_DEBIAN_MIRROR:-}" ]; then
    MIRROR="$ENVKIT_DEBIAN_MIRROR"
else
    candidates="$(find_mirror)"
    MIRROR="$(printf '%s\n' "$candidates" | awk '$1 == "exact" { print $2; exit }')"
    [ -n "$MIRROR" ] || MIRROR="$(printf '%s\n' "$candidates" | awk '$1 == "plain" { print $2; exit }')"
    [ -n "$MIRROR" ] || die "no Debian mirror for '$SUITE' in /etc/apt/sources.list(.d); set ENVKIT_DEBIAN_MIRROR=URL"
fi

work="$(mktemp -d /var/tmp/envkit-mariadb.XXXXXX)"
root="$work/rootfs"
cleanup() {
    local rc=$? m
    # debootstrap bind-mounts /dev entries and mounts /proc and /sys in the target; an
    # interrupted run can leave them mounted. Unmount (deepest first) before deleting anything.
    for m in $(awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r); do
        umount -l "$m" 2>/dev/null || true
    done
    rm -rf --one-file-system "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$(date +%s)
say "building $REPO ($build_hash): debootstrap $SUITE from $MIRROR into $work (about a minute)"
if ! debootstrap --variant=minbase --include=mariadb-server,mariadb-client \
        "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.out" 2>&1; then
    tail -n 25 "$work/debootstrap.out" >&2
    [ -f "$root/debootstrap/debootstrap.log" ] && tail -n 15 "$root/debootstrap/debootstrap.log" >&2
    die "debootstrap of $SUITE from $MIRROR failed (see above); is the mirror reachable? (ENVKIT_DEBIAN_MIRROR overrides it)"
fi
t1=$(date +%s)
say "debootstrap done in $((t1 - t0))s"

version_full="$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f '${Version}' mariadb-server 2>/dev/null || true)"
# 1:10.11.18-0+deb12u1 -> 10.11
version="$(printf '%s' "$version_full" | sed -E 's/^[0-9]+://; s/^([0-9]+\.[0-9]+).*/\1/')"
[ -x "$root/usr/sbin/mariadbd" ] && [ -n "$version" ] || die "mariadb-server is not installed in the debootstrap target"

# --- trim -----------------------------------------------------------------------------------
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
       "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
       "$root"/usr/share/lintian "$root"/usr/share/linda "$root"/tmp/* "$root"/var/tmp/* \
       "$root"/var/lib/mysql/* "$root"/debootstrap
find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
find "$root/var/log" -type f -delete
: >"$root/etc/resolv.conf"          # Docker provides these at run time
: >"$root/etc/hostname"
mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
cat >"$root/etc/dpkg/dpkg.cfg.d/envkit-nodoc" <<'EOF'
# keep later apt-get installs in this image small, like the build did
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
EOF

# --- configure ------------------------------------------------------------------------------
# conf.d last, so that a bind-mounted /etc/mysql/conf.d overrides Debian's defaults.
sed -i 's|^!includedir /etc/mysql/conf.d/$|#envkit: moved below|' "$root/etc/mysql/mariadb.cnf"
grep -q '^!includedir /etc/mysql/mariadb.conf.d/' "$root/etc/mysql/mariadb.cnf" \
    || die "unexpected /etc/mysql/mariadb.cnf in the package (no includedir mariadb.conf.d)"
printf '!includedir /etc/mysql/conf.d/\n' >>"$root/etc/mysql/mariadb.cnf"
sed -i -E 's/^([[:space:]]*bind-address[[:space:]]*=.*)$/#\1   # envkit: see 90-envkit-container.cnf/' \
    "$root/etc/mysql/mariadb.conf.d/50-server.cnf"
cat >"$root/etc/mysql/mariadb.conf.d/90-envkit-container.cnf" <<'EOF'
# envkit/mariadb container defaults; anything in /etc/mysql/conf.d/ is read after this file.
[mysqld]
bind-address = 0.0.0.0
port = 3306
skip-name-resolve
host-cache-size = 0
EOF
mkdir -p "$root/run/mysqld" "$root/var/lib/mysql" "$root/docker-entrypoint-initdb.d"
chroot "$root" chown mysql:mysql /run/mysqld /var/lib/mysql
chmod 0755 "$root/var/lib/mysql"

cat >"$root/usr/local/bin/envkit-mariadb-entrypoint" <<'ENTRYPOINT'
#!/bin/sh
# envkit/mariadb entrypoint (written by envkit's scripts/build-mariadb-image.sh).
# First start with an empty data directory: initialise it; then run the server in the foreground.
set -eu

log() { echo "envkit-mariadb-entrypoint: $*" >&2; }
die() { log "error: $*"; exit 1; }

# `docker run IMAGE --option ...` -> server options; anything else that is not the server
# (a shell, a client) is run as it is.
[ $# -gt 0 ] || set -- mariadbd
case "$1" in -*) set -- mariadbd "$@" ;; esac
case "$1" in
    mariadbd|mysqld|/usr/sbin/mariadbd|/usr/sbin/mysqld) ;;
    *) exec "$@" ;;
esac

# first of: $A, $A_FILE's content, $B, $B_FILE's content
pick() {
    for name in "$@"; do
        eval "v=\${$name:-}"
        if [ -n "$v" ]; then printf '%s' "$v"; return; fi
        eval "f=\${${name}_FILE:-}"
        if [ -n "$f" ]; then
            [ -r "$f" ] || die "$name""_FILE=$f is not readable"
            cat "$f"; return
        fi
    done
}
sql_string() { printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g")"; }
# dash's echo would expand backslashes in passwords; printf does not
line() { printf '%s\n' "$*"; }
sql_ident() { printf '`%s`' "$(printf '%s' "$1" | sed -e 's/`/``/g')"; }

datadir=/var/lib/mysql
for a in "$@"; do case "$a" in --datadir=*) datadir="${a#--datadir=}" ;; esac; done
if [ "$datadir" = /var/lib/mysql ]; then
    d="$(my_print_defaults mysqld server mariadb 2>/dev/null | sed -n 's/^--datadir=//p' | tail -n 1)"
    [ -z "$d" ] || datadir="$d"
fi

as_root=0
[ "$(id -u)" = 0 ] && as_root=1
user_opt=""
[ "$as_root" = 1 ] && user_opt="--user=mysql"

mkdir -p /run/mysqld "$datadir"
if [ "$as_root" = 1 ]; then
    chown mysql:mysql /run/mysqld
    # a fresh named volume or host directory may belong to someone else
    find "$datadir" \! -user mysql -exec chown mysql:mysql '{}' +
fi

if [ ! -d "$datadir/mysql" ]; then
    root_pw="$(pick MARIADB_ROOT_PASSWORD MYSQL_ROOT_PASSWORD)"
    allow_empty="$(pick MARIADB_ALLOW_EMPTY_ROOT_PASSWORD MYSQL_ALLOW_EMPTY_PASSWORD)"
    root_host="$(pick MARIADB_ROOT_HOST MYSQL_ROOT_HOST)"
    root_host="${root_host:-%}"
    database="$(pick MARIADB_DATABASE MYSQL_DATABASE)"
    user="$(pick MARIADB_USER MYSQL_USER)"
    user_pw="$(pick MARIADB_PASSWORD MYSQL_PASSWORD)"
    if [ -z "$root_pw" ] && [ -z "$allow_empty" ]; then
        die "the database is uninitialised and no root password is set: set MARIADB_ROOT_PASSWORD (or MYSQL_ROOT_PASSWORD), or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1"
    fi
    [ -z "$user" ] || [ "$user" != root ] || die "MARIADB_USER=root: the root account is set with MARIADB_ROOT_PASSWORD"
    [ -z "$user" ] || [ -n "$user_pw" ] || die "MARIADB_USER is set but MARIADB_PASSWORD is not"

    log "initialising a new database in $datadir"
    out="$(mktemp)"
    # shellcheck disable=SC2086
    if ! mariadb-install-db $user_opt --datadir="$datadir" --rpm --skip-test-db --skip-name-resolve \
            --auth-root-authentication-method=socket >"$out" 2>&1; then
        cat "$out" >&2
        die "mariadb-install-db failed"
    fi
    rm -f "$out"

    # A temporary server on a private socket and no TCP: `mysqladmin ping` (default socket)
    # and TCP health checks both fail until the real server runs.
    sock=/run/mysqld/envkit-init.sock
    # shellcheck disable=SC2086
    mariadbd $user_opt --datadir="$datadir" --skip-networking --socket="$sock" \
        --pid-file=/run/mysqld/envkit-init.pid --skip-log-bin &
    pid=$!
    i=0
    until mariadb-admin --socket="$sock" -uroot --silent ping >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || die "the temporary server for initialisation exited (see its log above)"
        i=$((i + 1))
        [ "$i" -lt 300 ] || die "the temporary server did not answer within 60s"
        sleep 0.2
    done

    {
        line "SET @@SESSION.SQL_LOG_BIN=0;"
        line "DELETE FROM mysql.global_priv WHERE User='';"      # no anonymous accounts
        # install-db grants a proxy to mysql@<this container's hostname>, which changes with every
        # container and only yields a warning per start under skip-name-resolve
        line "DELETE FROM mysql.proxies_priv WHERE Host NOT IN ('localhost', '%');"
        line "SET PASSWORD FOR 'root'@'localhost' = PASSWORD($(sql_string "$root_pw"));"
        if [ "$root_host" != localhost ]; then
            rh="$(sql_string "$root_host")"
            line "CREATE USER 'root'@$rh IDENTIFIED BY $(sql_string "$root_pw");"
            line "GRANT ALL ON *.* TO 'root'@$rh WITH GRANT OPTION;"
            line "GRANT PROXY ON ''@'%' TO 'root'@$rh WITH GRANT OPTION;"
        fi
        [ -z "$database" ] || line "CREATE DATABASE IF NOT EXISTS $(sql_ident "$database");"
        if [ -n "$user" ]; then
            line "CREATE USER $(sql_string "$user")@'%' IDENTIFIED BY $(sql_string "$user_pw");"
            [ -z "$database" ] || line "GRANT ALL ON $(sql_ident "$database").* TO $(sql_string "$user")@'%';"
        fi
        line "FLUSH PRIVILEGES;"
    } | mariadb --protocol=socket --socket="$sock" -uroot mysql || die "setting up the root account failed"

    for f in /docker-entrypoint-initdb.d/*; do
        [ -f "$f" ] || continue
        log "running $f"
        case "$f" in
            *.sh) MARIADB_INIT_SOCKET="$sock" sh "$f" ;;
            *.sql) mariadb --protocol=socket --socket="$sock" -uroot ${database:+"$database"} <"$f" ;;
            *.sql.gz) gzip -dc "$f" | mariadb --protocol=socket --socket="$sock" -uroot ${database:+"$database"} ;;
            *) log "ignoring $f (not .sh, .sql or .sql.gz)" ;;
        esac || die "$f failed"
    done

    kill -TERM "$pid"
    wait "$pid" || true
    log "initialisation done"
fi

shift
# shellcheck disable=SC2086
exec mariadbd $user_opt "$@"
ENTRYPOINT
chmod 0755 "$root/usr/local/bin/envkit-mariadb-entrypoint"

# --- import ---------------------------------------------------------------------------------
t2=$(date +%s)
old_id="$("$DOCKER" image inspect -f '{{.Id}}' "$REPO:latest" 2>/dev/null || true)"
say "importing the root filesystem ($(du -sh "$root" | cut -f1)) as $REPO:latest"
new_id="$(tar -C "$root" --numeric-owner --one-file-system -cf - . | "$DOCKER" import \
    --message "envkit: MariaDB $version_full from Debian $SUITE (scripts/build-mariadb-image.sh)" \
    --change 'ENTRYPOINT ["/usr/local/bin/envkit-mariadb-entrypoint"]' \
    --change 'CMD ["mariadbd"]' \
    --change 'EXPOSE 3306' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL $LABEL_HASH=$build_hash" \
    --change "LABEL $LABEL_VERSION=$version" \
    --change "LABEL io.envkit.mariadb.package-version=$version_full" \
    - "$REPO:latest")" || die "docker import failed"
"$DOCKER" tag "$REPO:latest" "$REPO:$version"
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
    # the previous build, unless a container or another tag still uses it
    "$DOCKER" image rm "$old_id" >/dev/null 2>&1 || true
fi
t3=$(date +%s)
size="$("$DOCKER" image inspect -f '{{.Size}}' "$REPO:latest")"
say "built $REPO:latest and $REPO:$version (MariaDB $version_full, $((size / 1000000)) MB) in $((t3 - t0))s (debootstrap $((t1 - t0))s, import $((t3 - t2))s)"
