#!/usr/bin/env bash
# Reference boot: runs the prepared boot set under qemu-system-i386 -accel tcg on the minimal ISA
# PC of qemu-reference.sh with btvmm.test=TEST (the built-in test of the initramfs), then
# judges the console log with check-boot-log.sh. Never changes the boot set.
# Usage: boot-under-qemu.sh BOOT_DIR TEST [LOG]   (exit 77 = skipped, with the reason printed)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
boot="${1:?usage: boot-under-qemu.sh BOOT_DIR TEST [LOG]}"
test_name="${2:?usage: boot-under-qemu.sh BOOT_DIR TEST [LOG]}"
log="${3:-$boot/qemu-$test_name.log}"
# Seconds QEMU may run before the boot counts as hung (it takes ~15 s on the project's machines).
limit="${BTVMM_LINUX_QEMU_TIMEOUT:-240}"

. "$here/qemu-reference.sh"
require_qemu_and_boot_set "$boot"
qemu_reference_args "$boot" "$(linux_cmdline "btvmm.test=$test_name")"
echo "+ qemu-system-i386 ${qemu_args[*]}"

start=$(date +%s%N)
status=0
timeout -k 5 "$limit" "$qemu" "${qemu_args[@]}" </dev/null >"$log" 2>&1 || status=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
printf 'qemu exited with status %s after %d.%03d s (boot, test and reboot); log: %s\n' \
  "$status" $((elapsed_ms / 1000)) $((elapsed_ms % 1000)) "$log"

verdict=0
if [ "$status" = 124 ] || [ "$status" = 137 ]; then
  echo "FAIL: the guest did not reboot within $limit s"
  verdict=1
elif [ "$status" != 0 ]; then
  echo "FAIL: qemu-system-i386 exited with status $status"
  verdict=1
fi
"$here/check-boot-log.sh" "$log" "$test_name" || verdict=1
if [ "$verdict" != 0 ]; then
  echo "----- console log ($log) -----"
  cat "$log"
fi
exit "$verdict"
