#!/usr/bin/env bash
# README's first command: installs dependencies, builds btvmm, assembles the default guest
# (Debian's stock i386 kernel + a busybox initramfs, cached outside the source tree) into
# disk.img, and boots it with its serial console in this terminal (Ctrl-a x quits).
# Extra arguments go to `btvmm run` (e.g. --accel kvm, -m 256, --stats).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh" >/dev/null
image=$("$top/scripts/linux/make-disk-image.sh" --btvmm "$top/build/host/btvmm")
exec "$top/build/host/btvmm" run "$image" "$@"
