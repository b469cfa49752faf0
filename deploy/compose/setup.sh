#!/usr/bin/env bash
# Prepares ./synapse and ./pluralmatrix for `docker compose up`: the daemon's config, its
# registration (with fresh tokens), and a Synapse config that loads it. Run once.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p synapse pluralmatrix
if [ ! -f pluralmatrix/config.toml ]; then
  cat > pluralmatrix/config.toml <<'TOML'
[homeserver]
url = "http://synapse:8008"
domain = "localhost"

[appservice]
listen = "0.0.0.0:9003"
url = "http://pluralmatrix:9003"
as_token = ""
hs_token = ""

[database]
url = "postgres://pluralmatrix:pluralmatrix@postgres:5432/pluralmatrix"
TOML
fi
# generate-registration fills in the tokens and writes the registration Synapse reads.
docker compose run --rm --no-deps --entrypoint /usr/local/bin/pluralmatrix pluralmatrix \
  generate-registration -c /data/config.toml -o /data/registration.yaml
cp pluralmatrix/registration.yaml synapse/pluralmatrix-registration.yaml
if [ ! -f synapse/homeserver.yaml ]; then
  docker compose run --rm --no-deps -e SYNAPSE_SERVER_NAME=localhost -e SYNAPSE_REPORT_STATS=no synapse generate
  # The database and the appservice settings (see ../synapse-appservice.yaml).
  python3 - <<'PY'
import re
p = "synapse/homeserver.yaml"
s = open(p).read()
s = re.sub(r"database:\n(  .*\n)+", "", s)
s += """
database:
  name: psycopg2
  args: {user: synapse, password: synapse, database: synapse, host: postgres, cp_min: 5, cp_max: 10}
"""
s += open("../synapse-appservice.yaml").read().replace("/path/to/", "/data/")
open(p, "w").write(s)
PY
fi
echo "ready: docker compose up --build"
