#!/usr/bin/env bash
# Installs what is missing, builds otserve (Release) and runs every test with ctest.
# Extra arguments go to ctest (e.g. -R service). BUILD_DIR overrides ./build;
# OTSERVE_WERROR=ON makes every compiler warning an error (CI sets it);
# OTSERVE_CUDA=AUTO|ON|OFF (default AUTO: the CUDA backend is compiled when
# nvcc is found, as on CI's machines; its GPU tests skip without a GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DOTSERVE_WERROR="${OTSERVE_WERROR:-OFF}" -DOTSERVE_CUDA="${OTSERVE_CUDA:-AUTO}" >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)" "$@"
