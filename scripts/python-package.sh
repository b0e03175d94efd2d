#!/usr/bin/env bash
# The pip-installable Python client (client/python): regenerates its committed
# generated files (otserve/_proto stubs, _version.py, service_config.json) from
# proto/ and CMakeLists.txt. With --check (CI) it changes nothing: it fails when
# the committed files are stale, then pip-installs the package into a scratch
# folder and imports it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
PY=/usr/bin/python3
version=$(grep -oP 'project\(otserve VERSION \K[0-9.]+' CMakeLists.txt)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
$PY client/python/gen_stubs.py --proto_dir proto --out "$tmp/gen" --version "$version" \
  --package_src client/python/otserve --grpc_plugin "$(command -v grpc_python_plugin)"
find "$tmp/gen" -name __pycache__ -prune -exec rm -rf {} +
pkg=client/python/otserve
if [ "${1:-}" != "--check" ]; then
  rm -rf "$pkg/_proto"
  cp -r "$tmp/gen/otserve/_proto" "$pkg/"
  cp "$tmp/gen/otserve/_version.py" "$tmp/gen/otserve/service_config.json" "$pkg/"
  echo "python-package: regenerated $pkg"
  exit 0
fi
if ! diff -r -x __pycache__ "$tmp/gen/otserve" "$pkg" >"$tmp/diff"; then
  head -40 "$tmp/diff"
  echo "python-package: generated files are stale: run scripts/python-package.sh" >&2
  exit 1
fi
$PY -m pip install --quiet --root-user-action=ignore --no-deps --no-build-isolation --no-cache-dir \
  --target "$tmp/site" ./client/python
(cd "$tmp" && PYTHONPATH="$tmp/site" $PY -c \
  'import otserve; print("python-package: pip-installed otserve", otserve.__version__, sorted(otserve.__all__))')
