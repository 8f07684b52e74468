#!/usr/bin/env bash
# Runs scripts/linux/make-disk-image.sh with the btvmm under test on the fixture's prepared boot
# set and checks that the disk.img it writes carries that kernel, initramfs and command line
# byte for byte. Writes BOOT_DIR/disk.img only; never touches the shared cache.
# Usage: make-and-check-disk-image.sh BTVMM BOOT_DIR   (exit 77 = skipped, reason printed)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
btvmm="${1:?usage: make-and-check-disk-image.sh BTVMM BOOT_DIR}"
boot="${2:?usage: make-and-check-disk-image.sh BTVMM BOOT_DIR}"
if [ ! -e "$boot/vmlinuz" ] || [ ! -e "$boot/initramfs.cpio.gz" ]; then
  echo "SKIP: no boot set in $boot (the linux_boot_set_prepared fixture was skipped or failed)"
  exit 77
fi
rm -f "$boot/disk.img"

image="$("$here/../../scripts/linux/make-disk-image.sh" -o "$boot/disk.img" --btvmm "$btvmm" \
  --test smoke --prepared "$boot")"
. "$here/qemu-reference.sh"
python3 "$here/check-disk-image.py" "$image" "$(readlink -f "$boot/vmlinuz")" \
  "$boot/initramfs.cpio.gz" "$(linux_cmdline btvmm.test=smoke)"
