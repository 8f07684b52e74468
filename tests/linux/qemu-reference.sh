# Sourced by the QEMU wrappers: the one definition of the reference machine, the minimal ISA PC
# of CONVENTIONS.md ("Devices a stock Linux kernel will use"), and of the kernel command line
# (scripts/linux/cmdline), and of the skip checks. Defines functions only; runs nothing.

# require_qemu_and_boot_set BOOT_DIR: exits 77 (ctest's skip), saying why, when qemu-system-i386
# or the prepared boot set is missing; otherwise sets `qemu` to QEMU's path.
require_qemu_and_boot_set() {
  qemu="$(command -v qemu-system-i386 || true)"
  if [ -z "$qemu" ]; then
    echo "SKIP: qemu-system-i386 not found (Debian package qemu-system-x86)"
    exit 77
  fi
  if [ ! -e "$1/vmlinuz" ] || [ ! -e "$1/initramfs.cpio.gz" ]; then
    echo "SKIP: no boot set in $1 (the linux_boot_set_prepared fixture was skipped or failed)"
    exit 77
  fi
}

# linux_cmdline [EXTRA...]: the boot set's command line, with EXTRA words appended.
linux_cmdline() {
  local here
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  echo "$(sed '/^#/d; /^[[:space:]]*$/d' "$here/../../scripts/linux/cmdline" | paste -sd ' ')${*:+ $*}"
}

# qemu_reference_args BOOT_DIR CMDLINE: sets the array qemu_args. The CPU is a Pentium II
# stripped to FPU, TSC, CX8 and CMOV, what btvmm's first Linux milestone provides; QEMU exits
# on the guest's reset (-no-reboot) instead of rebooting.
qemu_reference_args() {
  local cpu="pentium2,-vme,-de,-pse,-msr,-pae,-mce,-apic,-sep,-mtrr,-pge,-mca,-pat,-pse36,-mmx,-fxsr"
  qemu_args=(-accel tcg -M isapc -cpu "$cpu" -m 256 -nographic -no-reboot
             -kernel "$1/vmlinuz" -initrd "$1/initramfs.cpio.gz" -append "$2")
}

# qemu_disk_reference_args BOOT_DIR CMDLINE DISK: sets the array qemu_args for the runs with a
# guest disk (issue 6): the same CPU, memory and command line, on QEMU's i440FX PC (`-M pc`: a
# PCI bus, which isapc lacks) with only the devices btvmm has: DISK as a virtio-blk-pci function
# (modern interface, INTx, as btvmm's) and isa-debug-exit at 0xf4. No -no-reboot: the guest
# reboots inside the run, as btvmm does without --no-reboot.
qemu_disk_reference_args() {
  local cpu="pentium2,-vme,-de,-pse,-msr,-pae,-mce,-apic,-sep,-mtrr,-pge,-mca,-pat,-pse36,-mmx,-fxsr"
  qemu_args=(-accel tcg -M pc -cpu "$cpu" -m 256 -nographic -vga none -nic none
             -drive "file=$3,format=raw,if=none,id=disk0"
             -device virtio-blk-pci,drive=disk0,disable-legacy=on
             -device isa-debug-exit,iobase=0xf4,iosize=0x04
             -kernel "$1/vmlinuz" -initrd "$1/initramfs.cpio.gz" -append "$2")
}
