#!/usr/bin/env bash
# Shared by check-sanitizers.sh and fuzz.sh: installs clang and its sanitizer
# runtime when missing and configures the ASan + UBSan (+ libFuzzer) build in
# ${BUILD_DIR:-build-asan}. Sourced; sets BUILD_DIR.
./scripts/install-deps.sh
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$p" >/dev/null
done
BUILD_DIR=${BUILD_DIR:-build-asan}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DOTSERVE_SANITIZE=ON -DOTSERVE_FUZZ=ON \
  -DOTSERVE_CUDA=OFF >/dev/null
