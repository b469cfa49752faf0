#!/usr/bin/env bash
# Throwaway Synapse homeservers on 127.0.0.1 for development and tests.
#
#   scripts/synapse.sh install                    create the cached venv (idempotent, flock-protected)
#   scripts/synapse.sh start DIR PORT REG_FILE [EXTRA_REG_FILE ...]
#                                                 start a fresh or existing server in DIR on 127.0.0.1:PORT
#                                                 (PORT 0 = pick a free one) with the appservice registration
#                                                 REG_FILE (and any extra ones, copied in as appservice-2.yaml,
#                                                 appservice-3.yaml, …); prints the base URL and writes
#                                                 DIR/synapse.env
#   scripts/synapse.sh stop DIR                   stop the server of DIR (SIGTERM, then SIGKILL)
#   scripts/synapse.sh stop-all ROOT              stop every server below ROOT (CI clean-up)
#   scripts/synapse.sh register DIR USER PASS     create a normal user with the shared registration secret
#
# Environment: SYNAPSE_VERSION (default 1.163.2), PLURALMATRIX_CACHE_DIR (default ~/.cache/pluralmatrix).
set -euo pipefail

SYNAPSE_VERSION="${SYNAPSE_VERSION:-1.163.2}"
CACHE_DIR="${PLURALMATRIX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pluralmatrix}"
VENV="$CACHE_DIR/synapse-$SYNAPSE_VERSION"
SHARED_SECRET="pluralmatrix_test_shared_secret"

die() { echo "synapse.sh: $*" >&2; exit 1; }

install_venv() {
  # Installed already: no lock needed (a Synapse started by this script must not hold it either).
  if [ -f "$VENV/.installed" ]; then return 0; fi
  mkdir -p "$CACHE_DIR"
  exec 9>"$CACHE_DIR/synapse.lock"
  flock 9
  if [ -f "$VENV/.installed" ]; then exec 9>&-; return 0; fi
  echo "synapse.sh: installing matrix-synapse $SYNAPSE_VERSION into $VENV (about a minute, once)" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  # pip compiles .pyc at install time (keep it: PYTHONDONTWRITEBYTECODE is set on these machines).
  "$VENV/bin/pip" install --quiet --only-binary :all: "matrix-synapse==$SYNAPSE_VERSION" >&2
  touch "$VENV/.installed"
  flock -u 9
  exec 9>&-
}

# A free port in 14000-19999: below Linux's ephemeral range (32768+), where outgoing
# connections take their ports, and apart from the test daemons' 20000-31999. Random, so that
# tests starting Synapses at once rarely pick the same one (and `start` checks it got its own).
free_port() {
  "$VENV/bin/python" - <<'PY'
import random, socket
for _ in range(200):
    port = random.randint(14000, 19999)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
else:
    raise SystemExit("no free port in 14000-19999")
PY
}

# The app_service_config_files entries: appservice.yaml, then appservice-2.yaml … for N extra ones.
appservice_files() {
  local dir="$1" extra="$2" i
  echo "  - \"$dir/appservice.yaml\""
  for ((i = 2; i <= extra + 1; i++)); do echo "  - \"$dir/appservice-$i.yaml\""; done
}

write_config() {
  local dir="$1" port="$2" extra="${3:-0}"
  cat >"$dir/homeserver.yaml" <<YAML
server_name: "localhost"
public_baseurl: "http://127.0.0.1:$port/"
pid_file: "$dir/homeserver.pid"
report_stats: false
listeners:
  - port: $port
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: "$dir/homeserver.db"
log_config: "$dir/log.config"
media_store_path: "$dir/media_store"
signing_key_path: "$dir/signing.key"
trusted_key_servers: []
suppress_key_server_warning: true
registration_shared_secret: "$SHARED_SECRET"
enable_registration: false
bcrypt_rounds: 4
app_service_config_files:
$(appservice_files "$dir" "$extra")
experimental_features:
  msc2409_to_device_messages_enabled: true
  msc3202_transaction_extensions: true
caches:
  sync_response_cache_duration: 0
rc_message: {per_second: 1000, burst_count: 1000}
rc_registration: {per_second: 1000, burst_count: 1000}
rc_login:
  address: {per_second: 1000, burst_count: 1000}
  account: {per_second: 1000, burst_count: 1000}
  failed_attempts: {per_second: 1000, burst_count: 1000}
rc_joins:
  local: {per_second: 1000, burst_count: 1000}
  remote: {per_second: 1000, burst_count: 1000}
rc_joins_per_room: {per_second: 1000, burst_count: 1000}
rc_invites:
  per_room: {per_second: 1000, burst_count: 1000}
  per_user: {per_second: 1000, burst_count: 1000}
  per_issuer: {per_second: 1000, burst_count: 1000}
rc_room_creation: {per_second: 1000, burst_count: 1000}
rc_key_requests: {per_second: 1000, burst_count: 1000}
rc_presence:
  per_user: {per_second: 1000, burst_count: 1000}
rc_admin_redaction: {per_second: 1000, burst_count: 1000}
rc_profile: {per_second: 1000, burst_count: 1000}
rc_delayed_event_mgmt: {per_second: 1000, burst_count: 1000}
YAML
  cat >"$dir/log.config" <<YAML
version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s'
handlers:
  file:
    class: logging.FileHandler
    formatter: precise
    filename: $dir/homeserver.log
    encoding: utf8
loggers:
  synapse.storage.SQL:
    level: WARNING
root:
  level: INFO
  handlers: [file]
disable_existing_loggers: false
YAML
}

check_registration() {
  local reg="$1"
  [ -f "$reg" ] || die "registration file $reg not found"
  # Only loopback appservice URLs: tests and the dev loop never leave this machine.
  local as_url
  as_url=$(sed -n 's/^url: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$reg" | head -n1)
  case "$as_url" in
    http://127.0.0.1:*|http://localhost:*|http://\[::1\]:*) ;;
    *) die "refusing non-loopback appservice url '$as_url' in $reg" ;;
  esac
}

start() {
  local dir="$1" port="$2" reg="$3"
  shift 3
  local extras=("$@") extra
  check_registration "$reg"
  for extra in ${extras[@]+"${extras[@]}"}; do check_registration "$extra"; done
  install_venv
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/homeserver.pid" ] && kill -0 "$(cat "$dir/homeserver.pid")" 2>/dev/null; then
    die "a server is already running in $dir"
  fi
  # With a port of 0, a port is picked, and picked again (up to 3 times) if another process
  # took it first.
  local auto=0 attempt
  [ "$port" = "0" ] && auto=1
  for attempt in 1 2 3; do
    [ "$auto" = 1 ] && port=$(free_port)
    if launch "$dir" "$port" "$reg" "${#extras[@]}" "${extras[@]+"${extras[@]}"}"; then return 0; fi
    [ "$auto" = 1 ] || break
    echo "synapse.sh: port $port was taken (attempt $attempt); trying another" >&2
  done
  echo "synapse.sh: Synapse exited during start-up; last log lines:" >&2
  tail -n 30 "$dir/stdout.log" "$dir/homeserver.log" >&2 || true
  exit 1
}

# Starts Synapse in DIR on PORT with the registration REG (and N_EXTRAS more) and waits until
# it answers. It counts as started only when its
# own log says it listens on PORT: a Synapse of another test that took the port first also
# answers there. Returns 1 if it could not listen on PORT; dies on other failures.
launch() {
  local dir="$1" port="$2" reg="$3" n_extras="$4"
  shift 4
  local extras=("$@") i
  write_config "$dir" "$port" "$n_extras"
  cp "$reg" "$dir/appservice.yaml"
  rm -f "$dir"/appservice-[0-9]*.yaml
  for ((i = 0; i < ${#extras[@]}; i++)); do cp "${extras[$i]}" "$dir/appservice-$((i + 2)).yaml"; done
  : >"$dir/homeserver.log"
  "$VENV/bin/python" -m synapse.app.homeserver --config-path "$dir/homeserver.yaml" \
    --generate-missing-configs >/dev/null 2>&1 || true
  nohup "$VENV/bin/python" -m synapse.app.homeserver --config-path "$dir/homeserver.yaml" \
    >"$dir/stdout.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$dir/synapse.pid"
  local url="http://127.0.0.1:$port"
  for _ in $(seq 1 240); do
    if kill -0 "$pid" 2>/dev/null && grep -qE "Synapse now listening on TCP port $port\$" "$dir/homeserver.log" \
      && curl -fsS "$url/_matrix/client/versions" >/dev/null 2>&1; then
      cat >"$dir/synapse.env" <<ENV
SYNAPSE_URL=$url
SYNAPSE_PID=$pid
SYNAPSE_SHARED_SECRET=$SHARED_SECRET
ENV
      echo "$url"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      grep -qs "Address already in use" "$dir/stdout.log" "$dir/homeserver.log" && return 1
      echo "synapse.sh: Synapse exited during start-up; last log lines:" >&2
      tail -n 30 "$dir/stdout.log" "$dir/homeserver.log" >&2 || true
      exit 1
    fi
    sleep 0.25
  done
  kill "$pid" 2>/dev/null || true
  die "Synapse did not answer on $url within 60 s (see $dir/homeserver.log)"
}

stop() {
  local dir="$1"
  [ -f "$dir/synapse.pid" ] || return 0
  local pid
  pid=$(cat "$dir/synapse.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/synapse.pid"
}

stop_all() {
  local root="$1"
  [ -d "$root" ] || return 0
  find "$root" -name synapse.pid 2>/dev/null | while read -r f; do stop "$(dirname "$f")"; done
}

register() {
  local dir="$1" user="$2" pass="$3"
  # shellcheck disable=SC1091
  . "$dir/synapse.env"
  "$VENV/bin/python" - "$SYNAPSE_URL" "$SYNAPSE_SHARED_SECRET" "$user" "$pass" <<'PY'
import hashlib, hmac, json, sys, urllib.request
url, secret, user, password = sys.argv[1:5]
nonce = json.load(urllib.request.urlopen(url + "/_synapse/admin/v1/register"))["nonce"]
mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
mac.update(b"\x00".join([nonce.encode(), user.encode(), password.encode(), b"notadmin"]))
body = json.dumps({"nonce": nonce, "username": user, "password": password, "admin": False,
                   "mac": mac.hexdigest()}).encode()
req = urllib.request.Request(url + "/_synapse/admin/v1/register", data=body,
                             headers={"Content-Type": "application/json"})
try:
    print(json.load(urllib.request.urlopen(req))["user_id"])
except urllib.error.HTTPError as e:
    err = json.load(e)
    if err.get("errcode") == "M_USER_IN_USE":
        print("@%s:localhost (already exists)" % user)
    else:
        sys.exit("register failed: %s" % err)
PY
}

cmd="${1:-}"
case "$cmd" in
  install) install_venv ;;
  start) [ $# -ge 4 ] || die "usage: start DIR PORT REG_FILE [EXTRA_REG_FILE ...]"; shift; start "$@" ;;
  stop) [ $# -eq 2 ] || die "usage: stop DIR"; stop "$2" ;;
  stop-all) [ $# -eq 2 ] || die "usage: stop-all ROOT"; stop_all "$2" ;;
  register) [ $# -eq 4 ] || die "usage: register DIR USER PASS"; register "$2" "$3" "$4" ;;
  *) die "usage: $0 install | start DIR PORT REG_FILE [EXTRA_REG_FILE ...] | stop DIR | stop-all ROOT | register DIR USER PASS" ;;
esac
