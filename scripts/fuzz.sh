#!/usr/bin/env bash
# Builds the libFuzzer target over request decoding/validation/solving with
# ASan + UBSan (clang) and runs it for FUZZ_SECONDS (default 60) from a seed
# corpus of valid requests of every RPC. A crash, leak or sanitizer report
# fails the script (the reproducer is left in $BUILD_DIR/fuzz-artifacts).
set -euo pipefail
cd "$(dirname "$0")/.."
source ./scripts/configure-asan.sh
cmake --build "$BUILD_DIR" -j "$(nproc)" --target decode_fuzzer fuzz_seeds
corpus="$BUILD_DIR/fuzz-corpus"
mkdir -p "$corpus" "$BUILD_DIR/fuzz-artifacts"
"$BUILD_DIR/tests/fuzz_seeds" "$corpus"
rc=0
"$BUILD_DIR/tests/decode_fuzzer" -max_total_time="${FUZZ_SECONDS:-60}" \
  -max_len=4096 -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
  -artifact_prefix="$BUILD_DIR/fuzz-artifacts/" "$corpus" \
  >"$BUILD_DIR/fuzz.log" 2>&1 || rc=$?
grep -E "^Done|stat::number_of_executed_units" "$BUILD_DIR/fuzz.log" || true
if [ "$rc" -ne 0 ]; then
  tail -60 "$BUILD_DIR/fuzz.log"
  echo "fuzz: FAILED (exit $rc); reproducer in $BUILD_DIR/fuzz-artifacts" >&2
  exit 1
fi
echo "fuzz: no crash"
