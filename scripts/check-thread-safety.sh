#!/usr/bin/env bash
# Builds the server and the client library with clang's -Wthread-safety
# analysis as errors (ABSL_GUARDED_BY / ABSL_EXCLUSIVE_LOCKS_REQUIRED on
# absl::Mutex). BUILD_DIR overrides ./build-tsa.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
command -v clang++ >/dev/null || {
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends clang >/dev/null
}
BUILD_DIR=${BUILD_DIR:-build-tsa}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_COMPILER=clang++ -DOTSERVE_THREAD_SAFETY=ON -DOTSERVE_WERROR=ON \
  -DOTSERVE_BUILD_TESTS=OFF -DOTSERVE_CUDA=OFF >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target otserve otctl
echo "check-thread-safety: clean"
