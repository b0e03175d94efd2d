#!/usr/bin/env bash
# Builds the libFuzzer target over request decoding/validation/solving with
# ASan + UBSan (clang) and runs it for FUZZ_SECONDS (default 60) from a seed
# corpus of valid requests of every RPC. A crash, leak or sanitizer report
# fails the script (the reproducer is left in $BUILD_DIR/fuzz-artifacts).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$p" >/dev/null
done
BUILD_DIR=${BUILD_DIR:-build-asan}  # shared with check-sanitizers.sh
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DOTSERVE_SANITIZE=ON -DOTSERVE_FUZZ=ON >/dev/null
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
