#!/usr/bin/env bash
# Turns the Linux boot set into a btvmm disk.img (`btvmm mkimage`): the stock kernel, the test
# initramfs and the command line of scripts/linux/cmdline. Fetches the boot set and builds the
# initramfs first. Never writes into the source tree unless told to (-o).
# Usage: make-disk-image.sh [-o OUTPUT] [--btvmm PATH] [--test NAME] [--prepared DIR] [BOOT_SET_DIR]
#   OUTPUT          default BOOT_SET_DIR/disk.img (printed on stdout when done)
#   --btvmm PATH    the btvmm binary; default $BTVMM, then `btvmm` on PATH, then build/host/btvmm
#   --test NAME     append btvmm.test=NAME (run that built-in test, then reboot); default: a shell
#   --prepared DIR  use DIR/vmlinuz and DIR/initramfs.cpio.gz as they are (no fetch, no rebuild)
#   BOOT_SET_DIR    default ${BTVMM_CACHE:-$HOME/.cache/btvmm}/linux
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
dir="${BTVMM_CACHE:-$HOME/.cache/btvmm}/linux"
out=""
btvmm="${BTVMM:-}"
test_name=""
prepared=""
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out="$2"; shift 2 ;;
    --btvmm) btvmm="$2"; shift 2 ;;
    --test) test_name="$2"; shift 2 ;;
    --prepared) prepared="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "make-disk-image: unknown option '$1'" >&2; exit 1 ;;
    *) dir="$1"; shift ;;
  esac
done
log() { echo "make-disk-image: $*" >&2; }

if [ -z "$btvmm" ]; then
  btvmm="$(command -v btvmm || true)"
  [ -n "$btvmm" ] || btvmm="$top/build/host/btvmm"
fi
[ -x "$btvmm" ] || { log "btvmm binary not found at '$btvmm' (build it with scripts/build.sh, or pass --btvmm)"; exit 1; }

if [ -n "$prepared" ]; then
  src="$prepared"
else
  # Both steps are cheap when nothing changed: the fetch reuses a verified cache, and the
  # reproducible initramfs is rebuilt so that it always matches the scripts in this tree.
  "$here/fetch-boot-set.sh" --dir "$dir" >&2
  "$here/make-initramfs.sh" "$dir"
  src="$dir"
fi
kernel="$(readlink -f "$src/vmlinuz")"
initrd="$src/initramfs.cpio.gz"
[ -f "$kernel" ] && [ -f "$initrd" ] || { log "no vmlinuz and initramfs.cpio.gz in $src"; exit 1; }

cmdline="$(sed '/^#/d; /^[[:space:]]*$/d' "$here/cmdline" | paste -sd ' ')"
[ -z "$test_name" ] || cmdline="$cmdline btvmm.test=$test_name"
out="${out:-$src/disk.img}"

log "$btvmm mkimage -o $out --kernel $kernel --initrd $initrd --append \"$cmdline\""
"$btvmm" mkimage -o "$out" --kernel "$kernel" --initrd "$initrd" --append "$cmdline" >&2
log "$out: $(stat -c %s "$out") bytes"
echo "$out"
