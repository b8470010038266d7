#!/usr/bin/env bash
# Install (if needed) and start a throwaway PostgreSQL for the tests, bound to 127.0.0.1 only.
#
#   eval "$(.ci/start-postgres.sh)"      # exports SQL2NL_TEST_PG_DSN
#
# Idempotent: a server already running in $SQL2NL_PG_DIR is reused. Logs go to stderr; stdout is
# only the `export` line. Authentication is `trust` for loopback connections: this cluster exists
# for tests and listens nowhere else.
set -euo pipefail

PORT="${SQL2NL_PG_PORT:-54329}"
DIR="${SQL2NL_PG_DIR:-/tmp/sql2nl-pg}"
DB="${SQL2NL_PG_DB:-sql2nl_test}"
log() { echo "start-postgres: $*" >&2; }

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

BIN="$(find_bin || true)"
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
    log "installing Debian's postgresql"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >&2
    BIN="$(find_bin)"
fi

# PostgreSQL refuses to run as root: use the postgres account Debian's package creates.
if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$DIR" postgres
    AS=(runuser -u postgres --)
else
    AS=()
fi

mkdir -p "$DIR"
[ "$(id -u)" -eq 0 ] && chown postgres "$DIR"
if [ ! -f "$DIR/data/PG_VERSION" ]; then
    log "initdb in $DIR/data"
    "${AS[@]}" "$BIN/initdb" -D "$DIR/data" -U postgres -A trust --no-sync -E UTF8 >&2
fi
if ! "${AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
    log "starting on 127.0.0.1:$PORT"
    "${AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >&2
fi
if ! "${AS[@]}" "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1; then
    "${AS[@]}" "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB" >&2
fi
DSN="postgresql://postgres@127.0.0.1:$PORT/$DB"
log "ready: $DSN"
echo "export SQL2NL_TEST_PG_DSN=$DSN"
