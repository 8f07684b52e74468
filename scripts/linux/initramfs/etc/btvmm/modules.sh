#!/bin/sh
# btvmm.test=modules: loads the virtio modules shipped in the initramfs through modprobe and
# modules.dep, as a later virtio block device will need. Loads only; binds no device.
set -e

for m in virtio_blk virtio_mmio virtio_pci; do
  echo "== modprobe $m"
  modprobe "$m"
done
echo "== lsmod"
lsmod
for m in virtio virtio_ring virtio_blk virtio_mmio virtio_pci virtio_pci_modern_dev virtio_pci_legacy_dev; do
  if ! grep -q "^$m " /proc/modules; then
    echo "btvmm-linux: modules: $m is not loaded"
    exit 1
  fi
done
echo "btvmm-linux: modules test passed"
