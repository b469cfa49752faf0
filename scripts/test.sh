#!/usr/bin/env bash
# Runs the whole test suite: unit and property tests, CLI tests, and the integration tests,
# which start throwaway Synapse homeservers on 127.0.0.1 (installed once into a cached venv).
# Extra arguments go to `cargo test` (e.g. `scripts/test.sh --test proxy`).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/synapse.sh install
# A test killed half-way leaves its Synapse running: stop whatever is left at the end.
trap 'scripts/synapse.sh stop-all target/tmp/envs' EXIT

cargo test --locked "$@"
