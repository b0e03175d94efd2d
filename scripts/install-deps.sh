#!/usr/bin/env bash
# Installs otserve's build, test and runtime dependencies from Debian packages.
# Idempotent: does nothing when every package is already installed.
#   install-deps.sh            everything (build, tests, benchmarks, clients)
#   install-deps.sh --build    only what building otserve and otctl needs (the
#                              container's build stage)
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libeigen3-dev libcpp-httplib-dev
)
if [ "${1:-}" != "--build" ]; then
  PKGS+=(
    libgtest-dev libgmock-dev libbenchmark-dev openssl
    golang-go golang-google-grpc-dev golang-google-protobuf-dev protoc-gen-go
    golang-github-golang-protobuf-1-5-dev protoc-gen-go-grpc
    python3 python3-numpy python3-grpcio python3-protobuf python3-pot
    python3-prometheus-client python3-pip python3-setuptools python3-yaml
    python3-torch python3-matplotlib
  )
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
