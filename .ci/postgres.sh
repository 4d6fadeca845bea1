#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on loopback for the batch tests; prints the URL to use, then
# (second line) its data directory. `postgres.sh --stop DIR` stops that server and removes DIR.
set -euo pipefail
run() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }
if [ "${1:-}" = "--stop" ]; then
  case "${2:-}" in /tmp/apeopt-pg.*) ;; *) echo "postgres.sh --stop: not a directory this script made: ${2:-}" >&2; exit 2 ;; esac
  BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  run "$BIN/pg_ctl -D $2 -m fast -w stop" >/dev/null
  rm -rf "$2"
  exit 0
fi
# a free port unless one is given: a server left by an earlier run on this machine must not collide
PORT=${APEOPT_PG_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
fi
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
DATA=$(mktemp -d /tmp/apeopt-pg.XXXXXX)
id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
chown postgres "$DATA"
run "$BIN/initdb -D $DATA -A trust -U postgres" >/dev/null
run "$BIN/pg_ctl -D $DATA -l $DATA/log -w -o '-p $PORT -k $DATA -c listen_addresses=127.0.0.1' start" >/dev/null
run "$BIN/createdb -h 127.0.0.1 -p $PORT -U postgres apeopt"
echo "postgresql://postgres@127.0.0.1:$PORT/apeopt"
echo "$DATA"
