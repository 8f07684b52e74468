#!/usr/bin/env bash
# Issue 6's end-to-end test: boots the Linux boot set from a disk.img that carries an ext2 root
# filesystem, runs btvmm.test=disk (smoke test, a file written to the virtio-blk disk and synced,
# a guest reboot inside the same run, the file read back) and judges the console log and the
# isa-debug-exit status. Works on a fresh copy of the image in a temporary directory, never on
# the cached disk.img. Under QEMU TCG (the reference) or under btvmm with a given --accel.
# Usage: disk-test.sh BTVMM BOOT_DIR qemu|bt|btdirect|kvm [LOG]   (exit 77 = skipped, reason printed)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
usage="usage: disk-test.sh BTVMM BOOT_DIR qemu|bt|btdirect|kvm [LOG]"
btvmm="${1:?$usage}"
boot="${2:?$usage}"
runner="${3:?$usage}"
log="${4:-$boot/disk-$runner.log}"
limit="${BTVMM_LINUX_DISK_TIMEOUT:-600}"
# isa-debug-exit status of a passing second boot: (42 << 1) | 1.
pass_status=85

. "$here/qemu-reference.sh"
if [ "$runner" = qemu ]; then
  require_qemu_and_boot_set "$boot"
elif [ ! -e "$boot/vmlinuz" ] || [ ! -e "$boot/initramfs.cpio.gz" ]; then
  echo "SKIP: no boot set in $boot (the linux_boot_set_prepared fixture was skipped or failed)"
  exit 77
fi
. "$here/../guest/backends.sh"
if [ "$runner" = kvm ] || [ "$runner" = btdirect ]; then
  backend_available "$runner" "$btvmm" 2>&1 || exit 77
fi
accel="$(backend_accel "$runner")"  # btdirect: --accel bt,direct=on
command -v mke2fs >/dev/null || export PATH="$PATH:/usr/sbin:/sbin"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/rootfs"
echo "btvmm disk test root filesystem" >"$work/rootfs/README"
cmdline="$(linux_cmdline btvmm.test=disk)"
"$btvmm" mkimage -o "$work/disk.img" --kernel "$boot/vmlinuz" --initrd "$boot/initramfs.cpio.gz" \
  --append "$cmdline" --rootfs "$work/rootfs" --rootfs-size 8 >/dev/null
# Everything before partition 1 (MBR, boot configuration, kernel, initrd, command line) is the
# boot area btvmm write-protects; its start LBA is in the MBR's first partition entry.
boot_area=$(( $(od -An -tu4 -j454 -N4 "$work/disk.img") * 512 ))
sha_before="$(head -c "$boot_area" "$work/disk.img" | sha256sum)"

if [ "$runner" = qemu ]; then
  qemu_disk_reference_args "$boot" "$cmdline" "$work/disk.img"
  cmd=("$qemu" "${qemu_args[@]}")
else
  cmd=("$btvmm" run "$work/disk.img" --accel "$accel" -m 256 --stats --timeout "$limit")
fi
echo "+ ${cmd[*]}"
start=$(date +%s%N)
status=0
timeout -k 5 "$((limit + 30))" "${cmd[@]}" </dev/null >"$log" 2>&1 || status=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
printf '%s exited with status %s after %d.%03d s (two boots); log: %s\n' \
  "$runner" "$status" $((elapsed_ms / 1000)) $((elapsed_ms % 1000)) "$log"

verdict=0
if [ "$status" != "$pass_status" ]; then
  echo "FAIL: exit status $status, expected $pass_status (isa-debug-exit 42 from the second boot)"
  verdict=1
fi
"$here/check-boot-log.sh" "$log" disk || verdict=1
sha_after="$(head -c "$boot_area" "$work/disk.img" | sha256sum)"
if [ "$sha_before" != "$sha_after" ]; then
  echo "FAIL: the boot area of disk.img (first $boot_area bytes) changed"
  verdict=1
else
  echo "ok:      the boot area (first $boot_area bytes) is unchanged"
fi
# The image must still pass btvmm's own checks: it is parsed before the (missing) kernel is read,
# so status 6 (bad kernel) means the image was fine and 4 means it no longer is.
check=0
"$btvmm" run "$work/disk.img" --kernel "$work/no-such-kernel" >/dev/null 2>"$work/err" || check=$?
if [ "$check" = 6 ]; then
  echo "ok:      the image still passes btvmm's checks"
else
  echo "FAIL: after the run the image gives status $check: $(cat "$work/err")"
  verdict=1
fi
if [ "$verdict" != 0 ]; then
  echo "----- console log, last 60 lines ($log) -----"
  tail -n 60 "$log"
fi
exit "$verdict"
