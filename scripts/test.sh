#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs dependencies, builds, runs ctest (unit tests,
# their ASan+UBSan twins, guest-level tests; tests needing /dev/kvm or QEMU skip visibly).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh"
cd "$top/build"
ctest --output-on-failure -j"$(nproc)" --timeout 1200 "$@"
