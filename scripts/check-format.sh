#!/usr/bin/env bash
# Fails when a tracked C++ file differs from clang-format's output (the style is
# .clang-format at the root). Fix with: git ls-files '*.cc' '*.h' '*.cu' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || {
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends clang-format >/dev/null
}
git ls-files '*.cc' '*.h' '*.cu' | xargs clang-format --dry-run --Werror
echo "check-format: $(git ls-files '*.cc' '*.h' '*.cu' | wc -l) files formatted"
