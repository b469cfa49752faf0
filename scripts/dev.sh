#!/usr/bin/env bash
# Runs pluralmatrix against a local throwaway Synapse on 127.0.0.1 — everything in ./.dev.
#
#   scripts/dev.sh          build, start Synapse (installing it once), create two users, run the daemon
#   scripts/dev.sh reset    forget everything in ./.dev first
#
# Ctrl-C stops the daemon and Synapse. Ports: HS_PORT (default 8008), AS_PORT (default 9003).
set -euo pipefail
cd "$(dirname "$0")/.."

DEV="$PWD/.dev"
HS_PORT="${HS_PORT:-8008}"
AS_PORT="${AS_PORT:-9003}"

if [ "${1:-}" = "reset" ]; then
  scripts/synapse.sh stop "$DEV/synapse" || true
  rm -rf "$DEV"
fi
mkdir -p "$DEV"

if [ ! -f "$DEV/config.toml" ]; then
  cat >"$DEV/config.toml" <<TOML
# Development config written by scripts/dev.sh. See config.example.toml for every key.
[homeserver]
url = "http://127.0.0.1:$HS_PORT"
domain = "localhost"

[appservice]
listen = "127.0.0.1:$AS_PORT"
url = "http://127.0.0.1:$AS_PORT"
as_token = ""
hs_token = ""

[database]
url = "sqlite://data/pluralmatrix.db"
TOML
fi

cargo build --locked
BIN="$PWD/target/debug/pluralmatrix"
"$BIN" generate-registration -c "$DEV/config.toml" -o "$DEV/registration.yaml"

scripts/synapse.sh stop "$DEV/synapse"
HS_URL=$(scripts/synapse.sh start "$DEV/synapse" "$HS_PORT" "$DEV/registration.yaml")
trap 'scripts/synapse.sh stop "$DEV/synapse"' EXIT

for user in alice bob; do
  scripts/synapse.sh register "$DEV/synapse" "$user" "$user-password" >/dev/null
done

cat <<INFO

  Synapse:      $HS_URL   (server name: localhost, logs: .dev/synapse/homeserver.log)
  Users:        @alice:localhost / alice-password,  @bob:localhost / bob-password
  Bot:          @plural_bot:localhost
  Try it:       scripts/try.sh   (in another terminal), or log in with any Matrix client

INFO

RUST_LOG="${RUST_LOG:-info}" "$BIN" run -c "$DEV/config.toml"
