#!/usr/bin/env bash
# Builds the otserve image with podman (or docker) and checks it as a cluster
# would run it: read-only root filesystem, numeric non-root user, all
# capabilities dropped; then the Python client computes the seed example
# through the published port, the image's HEALTHCHECK command runs, and
# SIGTERM stops the container within its drain. When no registry is reachable
# the Debian base image is made with debootstrap (BASE_IMAGE overrides).
# Not run by CI (minutes of package installs); see the README.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=$(command -v podman || true)
if [ -z "$engine" ] && command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  engine=$(command -v docker)
fi
if [ -z "$engine" ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    podman debootstrap >/dev/null
  engine=$(command -v podman)
fi
if [ "$(basename "$engine")" = podman ] && [ "$(id -u)" -eq 0 ]; then
  engine="$engine --storage-driver=vfs"  # works without overlay support
fi
base=${BASE_IMAGE:-}
if [ -z "$base" ]; then
  if $engine pull -q docker.io/library/debian:bookworm >/dev/null 2>&1; then
    base=docker.io/library/debian:bookworm
  else
    base=localhost/otserve-debian-base:bookworm
    if ! $engine image exists "$base" 2>/dev/null; then
      command -v debootstrap >/dev/null ||
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
      root=$(mktemp -d)
      echo "container-test: debootstrap bookworm (no registry reachable)"
      debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
      tar -C "$root" -c . | $engine import - "$base" >/dev/null
      rm -rf "$root"
    fi
  fi
fi
echo "container-test: base image $base"
start=$(date +%s)
$engine build -q -t otserve:test --build-arg BASE="$base" --build-arg RUNTIME_BASE="$base" . 
echo "container-test: image built in $(( $(date +%s) - start )) s, $($engine image inspect otserve:test --format '{{.Size}}') bytes"
echo "container-test: image user $($engine image inspect otserve:test --format '{{.Config.User}}')"
port=$(( 20000 + RANDOM % 20000 ))
name=otserve-test-$$
$engine run -d --name "$name" --read-only --cap-drop=ALL --user 10001:10001 \
  --security-opt no-new-privileges -p "127.0.0.1:$port:50051" otserve:test \
  --drain_seconds=2 >/dev/null
trap '$engine rm -f "$name" >/dev/null 2>&1 || true' EXIT
for _ in $(seq 50); do
  $engine exec "$name" /usr/local/bin/otctl info --server 127.0.0.1:50051 --timeout 1 \
    >/dev/null 2>&1 && break
  sleep 0.2
done
echo "container-test: HEALTHCHECK command: $($engine exec "$name" /usr/local/bin/otctl info --server 127.0.0.1:50051 --timeout 4 | head -c 120)"
echo "container-test: running as $($engine exec "$name" id -u):$($engine exec "$name" id -g), root filesystem read-only: $($engine inspect "$name" --format '{{.HostConfig.ReadonlyRootfs}}')"
PYTHONPATH=client/python /usr/bin/python3 - "$port" <<'PYEOF'
import sys, numpy as np, otserve
c = otserve.Client(f"127.0.0.1:{sys.argv[1]}")
r = c.distance(a=[.5, .5], b=[.2, .8], M=np.array([[0., 1.], [1., 0.]]))
print(f"container-test: Python client seed example {r.value} converged {r.converged}")
assert abs(r.value - 0.3) < 1e-12
PYEOF
start=$(date +%s.%N)
$engine stop -t 10 "$name" >/dev/null
echo "container-test: stopped in $(echo "$(date +%s.%N) - $start" | bc) s (drain 2 s); exit code $($engine inspect "$name" --format '{{.State.ExitCode}}')"
echo "container-test: OK"
