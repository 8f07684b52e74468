#!/bin/sh
# btvmm.test=disk (issue 6): first boot runs the smoke test and writes a file with a fresh token
# to the guest disk /init mounted on /mnt, syncs, and lets /init reboot; the next boot reads it
# back and leaves the VM through isa-debug-exit (port 0xf4): 42 when the file came back, 1 if not.
set -e
file=/mnt/btvmm-disk-test.txt

debug_exit() {
  # /dev/port maps file offsets to I/O ports; a byte v written to 0xf4 makes the VMM exit with
  # status (v << 1) | 1 (QEMU's isa-debug-exit, btvmm's port 0xf4).
  printf "\\$(printf %o "$1")" | dd of=/dev/port bs=1 seek=$((0xf4)) count=1 2>/dev/null
  echo "btvmm-linux: disk: the write to isa-debug-exit did not stop the machine"
  while :; do sleep 3600; done
}

if ! grep -q ' /mnt ' /proc/mounts; then
  echo "btvmm-linux: disk: /mnt is not mounted (no virtio disk?)"
  debug_exit 1
fi

if [ ! -f "$file" ]; then
  echo "== first boot: smoke test, then a file on the disk"
  sh /etc/btvmm/smoke.sh || debug_exit 1
  echo "token $(cat /proc/sys/kernel/random/uuid)" >"$file"
  sync
  echo "disk: wrote $file: $(cat "$file")"
  echo "btvmm-linux: disk: first boot done, rebooting to read the file back"
  exit 0
fi

echo "== second boot: the file written before the reboot"
echo "disk: read back $file: $(cat "$file")"
if grep -Eq '^token [0-9a-f-]{36}$' "$file"; then
  echo "btvmm-linux: disk test passed"
  debug_exit 42
fi
echo "btvmm-linux: disk: $file does not hold a token"
debug_exit 1
