#!/usr/bin/env bash
# Builds the benchmark overlay for the Linux test initramfs: a second gzip'd newc cpio holding
# /etc/btvmm/bench.sh (run by /init as btvmm.test=bench) and three static i386 programs
# (bench-true, bench-rw, bench-alloc, from benchmarks/linux/guest, -m32 -nostdlib), then the
# boot archive = BASE followed by the overlay (the kernel unpacks concatenated archives in order,
# Linux Documentation/driver-api/early-userspace/buffer-format.rst). Never modifies BASE.
# Usage: make-bench-initramfs.sh BASE_INITRAMFS OUT_DIR
#   writes OUT_DIR/bench-overlay.cpio.gz and OUT_DIR/initramfs-bench.cpio.gz
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
base="${1:?usage: make-bench-initramfs.sh BASE_INITRAMFS OUT_DIR}"
out="${2:?usage: make-bench-initramfs.sh BASE_INITRAMFS OUT_DIR}"
[ -f "$base" ] || { echo "make-bench-initramfs: $base not found (scripts/linux/make-initramfs.sh)" >&2; exit 1; }
for tool in gcc cpio gzip; do
  command -v "$tool" >/dev/null || { echo "make-bench-initramfs: $tool not found" >&2; exit 1; }
done

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/etc/btvmm" "$out"
cflags=(-m32 -static -nostdlib -ffreestanding -fno-pie -no-pie -O2 -fno-stack-protector
        -fno-asynchronous-unwind-tables -Wall -Wextra -Werror)
for prog in true rw alloc; do
  gcc "${cflags[@]}" -o "$stage/bin/bench-$prog" "$here/guest/bench_$prog.c"
done
install -m 0755 "$here/bench.sh" "$stage/etc/btvmm/bench.sh"
find "$stage" -type d -exec chmod 0755 {} +
find "$stage" -exec touch -h -d @0 {} +

# Fixed owners, times and order: the same sources give the same archive.
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
   cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9n >"$out/bench-overlay.cpio.gz.tmp"
mv "$out/bench-overlay.cpio.gz.tmp" "$out/bench-overlay.cpio.gz"
cat "$base" "$out/bench-overlay.cpio.gz" >"$out/initramfs-bench.cpio.gz.tmp"
mv "$out/initramfs-bench.cpio.gz.tmp" "$out/initramfs-bench.cpio.gz"
echo "$out/initramfs-bench.cpio.gz"
