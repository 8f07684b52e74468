#!/usr/bin/env bash
# Boots the prepared boot set with `btvmm run --kernel --initrd --append` and checks that the
# stock kernel's first console lines appear (banner, e820 map, command line). Stops the btvmm
# it started once they do: the rest of the boot is the business of the Linux tests under bt.
# Usage: boot-under-btvmm.sh BTVMM BOOT_DIR ACCEL [LOG]   (exit 77 = skipped, reason printed)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
usage="usage: boot-under-btvmm.sh BTVMM BOOT_DIR ACCEL [LOG]"
btvmm="${1:?$usage}"
boot="${2:?$usage}"
accel="${3:?$usage}"
log="${4:-$boot/btvmm-$accel.log}"
# Seconds to wait for the first console lines. The kernel prints nothing until its serial
# console registers (then it replays the log from the banner), well after early memory setup.
limit="${BTVMM_LINUX_FIRST_LINES_TIMEOUT:-600}"

if [ "$accel" = kvm ]; then
  . "$here/../guest/backends.sh"
  backend_available kvm "$btvmm" 2>&1 || exit 77
fi
if [ ! -e "$boot/vmlinuz" ] || [ ! -e "$boot/initramfs.cpio.gz" ]; then
  echo "SKIP: no boot set in $boot (the linux_boot_set_prepared fixture was skipped or failed)"
  exit 77
fi

. "$here/qemu-reference.sh"
cmdline="$(linux_cmdline btvmm.test=smoke)"
args=(run --accel "$accel" -m 256 --no-reboot
      --kernel "$boot/vmlinuz" --initrd "$boot/initramfs.cpio.gz" --append "$cmdline")
echo "+ $btvmm ${args[*]}"

start=$(date +%s)
"$btvmm" "${args[@]}" </dev/null >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
status=""
# "Kernel command line:" closes the burst of lines printed when the console registers.
while ! grep -q 'Kernel command line:' "$log"; do
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid" && status=0 || status=$?
    break
  fi
  if [ $(( $(date +%s) - start )) -ge "$limit" ]; then
    echo "FAIL: no 'Kernel command line:' on the console after $limit s"
    break
  fi
  sleep 1
done
if [ -z "$status" ]; then
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "stopped btvmm (pid $pid) after $(( $(date +%s) - start )) s"
else
  echo "btvmm exited with status $status after $(( $(date +%s) - start )) s"
fi

if "$here/check-boot-log.sh" "$log" first-lines; then
  exit 0
fi
echo "----- console log ($log) -----"
cat "$log"
exit 1
