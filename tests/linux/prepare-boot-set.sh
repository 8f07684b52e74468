#!/usr/bin/env bash
# ctest fixture: makes sure the Linux boot set is in the cache (fetch-boot-set.sh) and builds
# this build tree's initramfs from the current scripts. Writes only OUT_DIR and the cache.
# Usage: prepare-boot-set.sh OUT_DIR   (exit 77 = skipped: the Debian archive is unreachable)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
scripts="$here/../../scripts/linux"
out="${1:?usage: prepare-boot-set.sh OUT_DIR}"
mkdir -p "$out"
# Stale artifacts must never stand in for a set this run could not prepare.
rm -f "$out/vmlinuz" "$out/initramfs.cpio.gz" "$out/boot-set.env"

status=0
dir="$("$scripts/fetch-boot-set.sh" --print-dir)" || status=$?
if [ "$status" = 75 ]; then
  echo "SKIP: the Linux boot set is not cached and the Debian archive cannot be reached"
  exit 77
elif [ "$status" != 0 ]; then
  echo "FAIL: fetch-boot-set.sh exited with status $status"
  exit 1
fi

"$scripts/make-initramfs.sh" -o "$out/initramfs.cpio.gz" "$dir"
ln -sfn "$(readlink -f "$dir/vmlinuz")" "$out/vmlinuz"
cp "$dir/boot-set.env" "$out/boot-set.env"
cat "$out/boot-set.env"
echo "initramfs: $(stat -c %s "$out/initramfs.cpio.gz") bytes"
