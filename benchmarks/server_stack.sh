#!/usr/bin/env bash
# PostgreSQL and `chroma run` for the benchmarks' server mode (benchmarks.scale / benchmarks.replicas
# with FACTDESK_DATABASE_URL and FACTDESK_CHROMA_URL), started as tests/postgres_server.py and the
# chroma_server fixture start them: initdb in DIR as the postgres user, its socket in DIR.
#   benchmarks/server_stack.sh start DIR [PG_PORT] [CHROMA_PORT]   prints the two settings
#   benchmarks/server_stack.sh stop DIR
set -euo pipefail
cmd=$1 dir=$(realpath -m "$2") pg_port=${3:-55432} chroma_port=${4:-58000}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case $cmd in
start)
  mkdir -p "$dir/pg" "$dir/chroma"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir/pg"
  [ -f "$dir/pg/data/PG_VERSION" ] \
    || as_pg "$bin/initdb" -D "$dir/pg/data" -A trust -U postgres -E UTF8 >/dev/null
  as_pg "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w \
    -o "-p $pg_port -k $dir/pg -c listen_addresses=127.0.0.1" start >/dev/null
  as_pg "$bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres factdesk 2>/dev/null || true
  nohup "${CHROMA:-chroma}" run --path "$dir/chroma" --port "$chroma_port" --host 127.0.0.1 \
    >"$dir/chroma.log" 2>&1 &
  echo $! >"$dir/chroma.pid"
  for _ in $(seq 120); do
    curl -sf "http://127.0.0.1:$chroma_port/api/v2/heartbeat" >/dev/null && break
    sleep 0.5
  done
  echo "FACTDESK_DATABASE_URL=postgresql://postgres@127.0.0.1:$pg_port/factdesk"
  echo "FACTDESK_CHROMA_URL=http://127.0.0.1:$chroma_port"
  ;;
stop)
  [ -f "$dir/chroma.pid" ] && kill "$(cat "$dir/chroma.pid")" && rm "$dir/chroma.pid"
  as_pg "$bin/pg_ctl" -D "$dir/pg/data" -m fast -w stop >/dev/null
  ;;
esac
