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
build_opts=()
run_opts=()
if [ "$(basename "$engine")" = podman ]; then
  podman_format="--format docker"  # OCI images drop HEALTHCHECK
  [ "$(id -u)" -eq 0 ] && engine="$engine --storage-driver=vfs"  # no overlayfs needed
  # Hosts whose cgroups crun cannot drive (hybrid v1/v2, nested sandboxes):
  # build steps in a chroot, containers without a cgroup of their own.
  if ! $engine run --rm --cgroups=enabled "${BASE_PROBE:-scratch}" true 2>/dev/null &&
     [ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ]; then
    build_opts+=(--isolation=chroot)
    run_opts+=(--cgroups=disabled)
  fi
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
$engine build -q "${build_opts[@]}" ${podman_format:-} -t otserve:test --build-arg BASE="$base" \
  --build-arg RUNTIME_BASE="$base" .
echo "container-test: image built in $(( $(date +%s) - start )) s, $($engine image inspect otserve:test --format '{{.Size}}') bytes"
echo "container-test: image user $($engine image inspect otserve:test --format '{{.Config.User}}')"
port=$(( 20000 + RANDOM % 20000 ))
name=otserve-test-$$
root=""
cleanup() {
  $engine rm -f "$name" >/dev/null 2>&1 || true
  if [ -n "$root" ]; then
    umount "$root" 2>/dev/null || umount -l "$root" 2>/dev/null || true
    rm -rf "$root" "$root.log"
  fi
}
trap cleanup EXIT
# `in_image CMD...` runs a command inside the running container.
if $engine run -d "${run_opts[@]}" --name "$name" --read-only --cap-drop=ALL \
     --user 10001:10001 --security-opt no-new-privileges \
     -p "127.0.0.1:$port:50051" otserve:test --drain_seconds=2 >/dev/null 2>"$name.err"; then
  in_image() { $engine exec "$name" "$@"; }
  stop_server() { $engine stop -t 10 "$name" >/dev/null; \
    result="exit code $($engine inspect "$name" --format '{{.State.ExitCode}}')"; }
  inner=127.0.0.1:50051
  echo "container-test: running in $(basename "${engine%% *}"), read-only: $($engine inspect "$name" --format '{{.HostConfig.ReadonlyRootfs}}')"
else
  # Sandboxes that forbid an OCI runtime's setrlimit/cgroups (this project's
  # build machines): run the image's own filesystem, bind-mounted read-only,
  # with chroot as user 10001 and no capabilities.
  echo "container-test: the OCI runtime cannot start here ($(grep -v level=warning "$name.err" | tail -1 | head -c 160)); running the image's filesystem read-only with chroot"
  root=$(mktemp -d)
  chmod 755 "$root"  # the image's "/" must be readable by user 10001
  cid=$($engine create otserve:test 2>/dev/null)
  $engine export "$cid" | tar -C "$root" -x
  $engine rm "$cid" >/dev/null
  mount --bind "$root" "$root" && mount -o remount,bind,ro "$root"
  touch "$root/probe" 2>/dev/null && { echo "container-test: root is writable" >&2; exit 1; }
  # chroot needs CAP_SYS_CHROOT: chroot first, then the image's setpriv drops
  # to user 10001 with no capabilities.
  run_as() { chroot "$root" /usr/bin/setpriv --reuid=10001 --regid=10001 \
    --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs "$@"; }
  chroot "$root" /usr/bin/setpriv --reuid=10001 --regid=10001 --clear-groups \
    --inh-caps=-all --bounding-set=-all --no-new-privs /usr/bin/env \
    MALLOC_ARENA_MAX=2 /usr/local/bin/otserve --listen=127.0.0.1:$port \
    --drain_seconds=2 2>"$root.log" &
  pid=$!
  in_image() { run_as "$@"; }
  stop_server() { kill -TERM "$pid"; local rc=0; wait "$pid" || rc=$?; result="exit code $rc"; }
  inner=127.0.0.1:$port
fi
rm -f "$name.err"
for _ in $(seq 50); do
  in_image /usr/local/bin/otctl info --server "$inner" --timeout 1 >/dev/null 2>&1 && break
  sleep 0.2
done
echo "container-test: HEALTHCHECK command (otctl info): $(in_image /usr/local/bin/otctl info --server "$inner" --timeout 4 | head -c 100)..."
echo "container-test: user inside: $(in_image /usr/bin/id -u):$(in_image /usr/bin/id -g)"
PYTHONPATH=client/python /usr/bin/python3 - "$port" <<'PYEOF'
import sys, numpy as np, otserve
c = otserve.Client(f"127.0.0.1:{sys.argv[1]}")
r = c.distance(a=[.5, .5], b=[.2, .8], M=np.array([[0., 1.], [1., 0.]]))
print(f"container-test: Python client, seed example: {r.value} converged={r.converged}")
assert abs(r.value - 0.3) < 1e-12
PYEOF
start=$(date +%s%N)
stop_server
echo "container-test: SIGTERM: stopped in $(( ($(date +%s%N) - start) / 1000000 )) ms (--drain_seconds=2), $result"
echo "container-test: OK"
