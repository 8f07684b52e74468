#!/usr/bin/env bash
# Runs scripts/linux/make-disk-image.sh with the btvmm under test and checks that the disk.img it
# writes carries the cached kernel, initramfs and command line. Writes OUTPUT_DIR/disk.img only
# (and refreshes the cache's initramfs, as the script always does).
# Usage: make-and-check-disk-image.sh BTVMM OUTPUT_DIR   (exit 77 = skipped, reason printed)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
btvmm="${1:?usage: make-and-check-disk-image.sh BTVMM OUTPUT_DIR}"
out_dir="${2:?usage: make-and-check-disk-image.sh BTVMM OUTPUT_DIR}"
cache="${BTVMM_CACHE:-$HOME/.cache/btvmm}/linux"
if [ ! -f "$cache/boot-set.sha256" ]; then
  echo "SKIP: no boot set in $cache (the linux_boot_set_prepared fixture was skipped or failed)"
  exit 77
fi
mkdir -p "$out_dir"
rm -f "$out_dir/disk.img"

image="$("$here/../../scripts/linux/make-disk-image.sh" -o "$out_dir/disk.img" --btvmm "$btvmm" --test smoke)"
. "$here/qemu-reference.sh"
cmdline="$(linux_cmdline btvmm.test=smoke)"
python3 "$here/check-disk-image.py" "$image" "$(readlink -f "$cache/vmlinuz")" \
  "$cache/initramfs.cpio.gz" "$cmdline"
