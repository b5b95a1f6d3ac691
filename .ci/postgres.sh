#!/usr/bin/env bash
# A throwaway PostgreSQL on loopback for the store tests.
#
#   export TRUSTACKS_TEST_POSTGRES_URL=$(bash .ci/postgres.sh)   # start (or reuse) it; prints the URL
#   bash .ci/postgres.sh stop                                     # stop it
#
# Installs PostgreSQL from Debian packages when no server binaries are found (needs root), creates a
# cluster in $TRUSTACKS_PG_DIR (default /tmp/trustacks-pg) owned by the postgres user, listening on
# 127.0.0.1:$TRUSTACKS_PG_PORT (default 55432) only, with trust auth (loopback, CI only) and fsync off
# (the data is disposable). Progress goes to stderr; stdout carries only the URL.
set -euo pipefail

PGPORT="${TRUSTACKS_PG_PORT:-55432}"
PGDIR="${TRUSTACKS_PG_DIR:-/tmp/trustacks-pg}"
DB="${TRUSTACKS_PG_DB:-trustacks_test}"
DATA="$PGDIR/data"

log() { echo "postgres.sh: $*" >&2; }

find_bindir() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
    done
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return 0
    fi
    return 1
}

BINDIR="$(find_bindir || true)"
if [ -z "$BINDIR" ]; then
    if [ "$(id -u)" != 0 ]; then
        log "no PostgreSQL server found and not root: install the 'postgresql' package, then re-run"
        exit 1
    fi
    log "installing PostgreSQL from Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    BINDIR="$(find_bindir)"
fi

# As root, the server runs as the postgres user (PostgreSQL refuses to run as root).
if [ "$(id -u)" = 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
        log "creating the postgres system user"
        useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    fi
    if command -v runuser >/dev/null 2>&1; then
        as_pg() { runuser -u postgres -- "$@"; }
    else
        as_pg() { su -s /bin/sh postgres -c "$(printf '%q ' "$@")"; }
    fi
else
    as_pg() { "$@"; }
fi

if [ "${1:-}" = "stop" ]; then
    if [ -f "$DATA/PG_VERSION" ]; then
        as_pg "$BINDIR/pg_ctl" -D "$DATA" -m fast -w stop >&2 || true
    fi
    exit 0
fi

mkdir -p "$PGDIR"
if [ "$(id -u)" = 0 ]; then chown postgres: "$PGDIR"; fi
chmod 700 "$PGDIR"

if [ ! -f "$DATA/PG_VERSION" ]; then
    log "initialising a cluster in $DATA"
    as_pg "$BINDIR/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
fi

if as_pg "$BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    log "reusing the server already running in $DATA"
else
    log "starting PostgreSQL on 127.0.0.1:$PGPORT"
    as_pg "$BINDIR/pg_ctl" -D "$DATA" -l "$PGDIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PGPORT -c unix_socket_directories=$PGDIR -c fsync=off -c full_page_writes=off -c synchronous_commit=off" \
        start >&2 || { log "start failed; see $PGDIR/server.log"; tail -n 20 "$PGDIR/server.log" >&2 || true; exit 1; }
fi

PSQL="$BINDIR/psql"
[ -x "$PSQL" ] || PSQL="$(command -v psql)"
exists="$("$PSQL" -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")"
if [ "$exists" != "1" ]; then
    log "creating database $DB"
    "$PSQL" -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -qc "CREATE DATABASE \"$DB\"" >&2
fi

echo "postgresql://postgres@127.0.0.1:$PGPORT/$DB"
