#!/usr/bin/env bash
# Configures and builds btvmm into build/ (Ninja, warnings as errors).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$top" -B "$top/build" -G Ninja -DBTVMM_WERROR=ON >/dev/null
ninja -C "$top/build"
