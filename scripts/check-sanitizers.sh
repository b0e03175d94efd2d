#!/usr/bin/env bash
# Builds everything with AddressSanitizer + UndefinedBehaviorSanitizer (clang)
# and runs the whole test suite under them (LeakSanitizer included). Extra
# arguments go to ctest. BUILD_DIR overrides ./build-asan.
set -euo pipefail
cd "$(dirname "$0")/.."
source ./scripts/configure-asan.sh
cmake --build "$BUILD_DIR" -j "$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)" "$@"
