#!/usr/bin/env bash
# Builds the Go example against Debian's Go packages (golang-google-grpc-dev,
# protoc-gen-go, protoc-gen-go-grpc), offline, in GOPATH mode:
#   client/go/build.sh OUT_DIR      -> OUT_DIR/bin/otserve-go-example
# The stubs are generated from proto/ into OUT_DIR/src/otserve/ot/v1.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$(mkdir -p "$1" && cd "$1" && pwd)"
pkg="$out/src/otserve/ot/v1"
rm -rf "$out/src/otserve"
mkdir -p "$pkg" "$out/src/otserve/example" "$out/bin"
map="Mot/v1/types.proto=otserve/ot/v1,Mot/v1/service.proto=otserve/ot/v1"
protoc -I "$root/proto" --go_out="$pkg" --go_opt=paths=source_relative,$map \
  --go-grpc_out="$pkg" --go-grpc_opt=paths=source_relative,$map \
  ot/v1/types.proto ot/v1/service.proto
mv "$pkg"/ot/v1/*.go "$pkg"/ && rm -rf "$pkg/ot"
cp "$here/example/main.go" "$out/src/otserve/example/"
cd "$out/src/otserve/example"
GO111MODULE=off GOPATH="$out:/usr/share/gocode" GOCACHE="$out/cache" \
  go build -o "$out/bin/otserve-go-example" .
echo "$out/bin/otserve-go-example"
