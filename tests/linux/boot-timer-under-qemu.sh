#!/usr/bin/env bash
# Checks the initramfs's boot-timer signal: under QEMU TCG with an isa-debug-exit device placed
# on port 0x3f0, /init's write of 123 there must end QEMU with status (123 << 1) | 1 = 247
# right after "Run /init". Never changes the boot set.
# Usage: boot-timer-under-qemu.sh BOOT_DIR [LOG]   (exit 77 = skipped, with the reason printed)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
boot="${1:?usage: boot-timer-under-qemu.sh BOOT_DIR [LOG]}"
log="${2:-$boot/qemu-boot-timer.log}"
limit="${BTVMM_LINUX_QEMU_TIMEOUT:-240}"

. "$here/qemu-reference.sh"
require_qemu_and_boot_set "$boot"
qemu_reference_args "$boot" "$(linux_cmdline btvmm.test=smoke)"
qemu_args+=(-device isa-debug-exit,iobase=0x3f0,iosize=1)
echo "+ qemu-system-i386 ${qemu_args[*]}"

start=$(date +%s%N)
status=0
timeout -k 5 "$limit" "$qemu" "${qemu_args[@]}" </dev/null >"$log" 2>&1 || status=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
printf 'qemu exited with status %s after %d.%03d s; log: %s\n' \
  "$status" $((elapsed_ms / 1000)) $((elapsed_ms % 1000)) "$log"

if [ "$status" = 247 ] && tr -d '\r' <"$log" | grep -q 'Run /init as init process' &&
   ! tr -d '\r' <"$log" | grep -q 'btvmm-linux: running test'; then
  echo "ok: /init wrote 123 to port 0x3f0 before starting its test"
  exit 0
fi
echo "FAIL: expected exit status 247 from the boot-timer write, after 'Run /init' and before any test"
echo "----- console log ($log) -----"
cat "$log"
exit 1
