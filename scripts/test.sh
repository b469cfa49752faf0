#!/usr/bin/env bash
# Runs the whole test suite: unit and property tests, CLI tests, and the integration tests,
# which start throwaway Synapse homeservers on 127.0.0.1 (installed once into a cached venv);
# once on SQLite, then once more on a throwaway PostgreSQL server on 127.0.0.1 (the
# distribution's package, installed when missing), where every test gets a database of its own.
# Extra arguments go to `cargo test` (e.g. `scripts/test.sh --test proxy`).
# TEST_BACKENDS="sqlite postgres" (the default) chooses the passes.
set -euo pipefail
cd "$(dirname "$0")/.."

backends="${TEST_BACKENDS:-sqlite postgres}"
pg_dir=target/tmp/postgres
scripts/synapse.sh install
case " $backends " in *" postgres "*) scripts/postgres.sh install ;; esac
# A test killed half-way leaves its Synapse running: stop whatever is left at the end.
trap 'scripts/synapse.sh stop-all target/tmp/envs; scripts/postgres.sh stop "$pg_dir"' EXIT

for backend in $backends; do
  case "$backend" in
    sqlite)
      echo "==> the suite on SQLite" >&2
      PLURALMATRIX_TEST_POSTGRES= cargo test --locked "$@"
      ;;
    postgres)
      # A fresh server for each run: the last run's test databases go with it.
      scripts/postgres.sh stop "$pg_dir"
      rm -rf "$pg_dir"
      url="$(scripts/postgres.sh start "$pg_dir")"
      echo "==> the suite on PostgreSQL ($url)" >&2
      PLURALMATRIX_TEST_POSTGRES="$url" cargo test --locked "$@"
      ;;
    *) echo "test.sh: unknown backend '$backend' in TEST_BACKENDS (sqlite, postgres)" >&2; exit 2 ;;
  esac
done
