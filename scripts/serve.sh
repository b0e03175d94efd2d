#!/usr/bin/env bash
# Installs what is missing, builds otserve (Release) and runs it in the foreground.
# Arguments pass through to otserve, e.g. ./scripts/serve.sh --listen=0.0.0.0:50051
# (default 127.0.0.1:50051; ./build/otserve --help lists the flags).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target otserve otctl otserve_python
exec "$BUILD_DIR/otserve" "$@"
