#!/usr/bin/env bash
# Long coverage-guided fuzz runs (libFuzzer, through cargo-fuzz) of the parsers that take
# outside input: the transaction body, the command parser, tag matching, HTML stripping and
# the bot's escaping (targets in src/fuzzing.rs, harness in fuzz/).
#
#   scripts/fuzz.sh [RUNS] [TARGET...]     default: 10000000 inputs each, all four targets
#
# Needs the nightly toolchain (cargo-fuzz builds with sanitizer coverage); cargo-fuzz is
# installed when missing. Builds in release mode with debug assertions and overflow checks,
# without a sanitizer (the code under test is safe Rust). The corpus grows in fuzz/corpus/,
# findings land in fuzz/artifacts/<target>/; copy a finding into fuzz/seeds/<target>/ with
# its fix, and the test suite replays it from then on. The suite's short run of the same
# targets is `cargo test --lib fuzzing`.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-10000000}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(transaction command tags html); fi

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for target in "${targets[@]}"; do
    max_len=4096
    # Command lines up to 64 KiB.
    if [ "$target" = command ]; then max_len=65536; fi
    mkdir -p "fuzz/corpus/$target"
    echo "== $target: $runs inputs"
    cargo +nightly fuzz run --sanitizer none "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
        -runs="$runs" -max_len="$max_len" -dict="fuzz/dicts/$target.dict" -print_final_stats=1
done
