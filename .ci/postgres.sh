#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster on loopback for the integration tests.
# Usage: eval "$(bash .ci/postgres.sh)"  -> exports EMOTIONDESK_TEST_POSTGRES_URL
# (and PG_TEST_STOP, a command that stops the cluster). Needs Debian's
# postgresql package; run as root (the server itself runs as user postgres).
set -euo pipefail
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$PGBIN" ]; then
  echo "postgresql is not installed (apt-get install -y postgresql)" >&2
  exit 1
fi
BASE=$(mktemp -d /tmp/emotiondesk-pg.XXXXXX)
chown postgres:postgres "$BASE"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
as_pg() { runuser -u postgres -- "$@"; }
as_pg "$PGBIN/initdb" -D "$BASE/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$BASE/initdb.log" 2>&1
as_pg "$PGBIN/pg_ctl" -D "$BASE/data" -l "$BASE/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $BASE -c fsync=off -c max_connections=200" start >&2
as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres emotiondesk_test
echo "export EMOTIONDESK_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:$PORT/emotiondesk_test"
echo "export PG_TEST_STOP='runuser -u postgres -- $PGBIN/pg_ctl -D $BASE/data -m fast stop'"
