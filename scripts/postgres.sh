#!/usr/bin/env bash
# Throwaway PostgreSQL servers on 127.0.0.1 for development and tests (groundwork for the
# PostgreSQL backend, issue 10 §3).
#
#   scripts/postgres.sh install          install the distribution's server if it is missing (apt)
#   scripts/postgres.sh start DIR        init (once) and start a server with its data in DIR on a free
#                                        port; prints its URL (postgres://…@127.0.0.1:PORT/pluralmatrix)
#                                        and writes DIR/postgres.env
#   scripts/postgres.sh stop DIR         stop the server of DIR
#
# PostgreSQL refuses to run as root: when run as root, the server runs as the `postgres` user.
set -euo pipefail

die() { echo "postgres.sh: $*" >&2; exit 1; }

bin_dir() {
  local found
  found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  [ -n "$found" ] && [ -x "$found/initdb" ] || return 1
  echo "$found"
}

install_server() {
  if bin_dir >/dev/null; then return 0; fi
  command -v apt-get >/dev/null || die "no PostgreSQL server and no apt-get to install one"
  echo "postgres.sh: installing the distribution's PostgreSQL server (once)" >&2
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends postgresql >&2 \
    || { $sudo apt-get update >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends postgresql >&2; }
  bin_dir >/dev/null || die "installed, but no initdb found"
}

# Runs a server command as the user that owns DIR (postgres when we are root).
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start() {
  local dir="$1" bin port
  bin="$(bin_dir)" || die "no PostgreSQL server; run: scripts/postgres.sh install"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
  chmod 0700 "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_owner "$bin/initdb" -D "$dir/data" -U pluralmatrix --auth=trust --encoding=UTF8 --locale=C >/dev/null
  fi
  port="$(free_port)"
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null || { tail -20 "$dir/server.log" >&2; die "the server did not start"; }
  as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U pluralmatrix pluralmatrix 2>/dev/null || true
  local url="postgres://pluralmatrix@127.0.0.1:$port/pluralmatrix"
  echo "POSTGRES_URL=$url" > "$dir/postgres.env"
  echo "$url"
}

stop() {
  local dir="$1" bin
  bin="$(bin_dir)" || return 0
  [ -f "$dir/data/postmaster.pid" ] || return 0
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null || true
}

case "${1:-}" in
  install) install_server ;;
  start) [ $# -eq 2 ] || die "usage: start DIR"; install_server; start "$2" ;;
  stop) [ $# -eq 2 ] || die "usage: stop DIR"; stop "$2" ;;
  *) die "usage: install | start DIR | stop DIR" ;;
esac
