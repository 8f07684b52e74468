#!/usr/bin/env bash
# Builds the test initramfs (gzip-compressed newc cpio) from a boot set made by
# fetch-boot-set.sh: busybox-static as /bin/busybox with applet links, /init and the built-in
# tests of scripts/linux/initramfs/, and the virtio and ext4 modules with their dependencies.
# Usage: make-initramfs.sh [-o OUTPUT] [BOOT_SET_DIR]
#   BOOT_SET_DIR  default ${BTVMM_CACHE:-$HOME/.cache/btvmm}/linux
#   OUTPUT        default BOOT_SET_DIR/initramfs.cpio.gz
# The archive is reproducible (fixed owners, times and order), so rebuilding is always safe.
# Never touches the boot set itself except to write OUTPUT.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
dir="${BTVMM_CACHE:-$HOME/.cache/btvmm}/linux"
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "make-initramfs: unknown option '$1'" >&2; exit 1 ;;
    *) dir="$1"; shift ;;
  esac
done
out="$(realpath -m "${out:-$dir/initramfs.cpio.gz}")"
log() { echo "make-initramfs: $*" >&2; }

[ -f "$dir/boot-set.env" ] || { log "$dir/boot-set.env missing: run scripts/linux/fetch-boot-set.sh first"; exit 1; }
# shellcheck source=/dev/null
. "$dir/boot-set.env"
busybox="$dir/$BUSYBOX"
modules="$dir/$MODULES"
# depmod and modinfo live in /usr/sbin, which a normal user's PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"
for tool in cpio gzip depmod modinfo python3; do
  command -v "$tool" >/dev/null || { log "$tool not found (scripts/install-deps.sh installs it)"; exit 1; }
done

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,run,lib/modules}

install -m 0755 "$busybox" "$stage/bin/busybox"
applets="$(python3 "$here/busybox-applets.py" "$busybox")"
for name in $applets; do
  [ "$name" = busybox ] || ln -s busybox "$stage/bin/$name"
done
cp -R "$here/initramfs/." "$stage/"
chmod 0755 "$stage/init" "$stage"/etc/btvmm/*.sh

# Kernel modules for the virtio block device and the disk's ext2 filesystem (Debian's kernel
# drives ext2 with the ext4 module, CONFIG_EXT4_USE_FOR_EXT2), with everything they depend on,
# taken from the same package as the kernel (a module only loads into the exact kernel it was
# built for). crc32c_generic is ext4's soft dependency (modinfo softdep "pre: crypto-crc32c").
wanted=(virtio virtio_ring virtio_pci virtio_blk virtio_mmio ext4 crc32c_generic)
declare -A seen=()
queue=("${wanted[@]}")
while [ ${#queue[@]} -gt 0 ]; do
  m="${queue[0]}"
  queue=("${queue[@]:1}")
  [ -n "${seen[$m]:-}" ] && continue
  seen[$m]=1
  path="$(find "$modules/kernel" -name "$m.ko" -print -quit)"
  [ -n "$path" ] || { log "module $m.ko not found under $modules"; exit 1; }
  rel="${path#"$modules"/}"
  mkdir -p "$stage/lib/modules/$KERNEL_RELEASE/$(dirname "$rel")"
  cp "$path" "$stage/lib/modules/$KERNEL_RELEASE/$rel"
  deps="$(modinfo -F depends "$path")"
  for d in ${deps//,/ }; do queue+=("$d"); done
done
cp "$modules/modules.builtin" "$modules/modules.builtin.modinfo" "$stage/lib/modules/$KERNEL_RELEASE/"
(cd "$stage/lib/modules/$KERNEL_RELEASE" && find kernel -name '*.ko' | LC_ALL=C sort >modules.order)
depmod -b "$stage" "$KERNEL_RELEASE"

# Modes must not depend on the umask of whoever checked out or runs this (reproducibility).
find "$stage" -type d -exec chmod 0755 {} +
find "$stage" -type f -perm -u+x -exec chmod 0755 {} +
find "$stage" -type f ! -perm -u+x -exec chmod 0644 {} +
chmod 1777 "$stage/tmp"

tmp_out="$out.tmp.$$"
trap 'rm -rf "$stage" "$tmp_out"' EXIT
# Device nodes need root; fakeroot records them (and root ownership) in the archive for a
# normal user. /dev/console must exist before /init runs: the kernel opens it for PID 1.
pack() {
  set -e
  cd "$1"
  mknod -m 0600 dev/console c 5 1
  mknod -m 0666 dev/null c 1 3
  mknod -m 0660 dev/ttyS0 c 4 64
  find . -exec touch -h -d @0 {} +
  find . -mindepth 1 | LC_ALL=C sort |
    cpio -o -H newc -R 0:0 --reproducible --quiet | gzip -9 -n >"$2"
}
if [ "$(id -u)" = 0 ]; then
  (pack "$stage" "$tmp_out")
else
  command -v fakeroot >/dev/null || { log "fakeroot not found (scripts/install-deps.sh installs it)"; exit 1; }
  # fakeroot is a /bin/sh script, and dash drops exported bash functions: pass the source.
  fakeroot bash -c "$(declare -f pack)"'; pack "$1" "$2"' _ "$stage" "$tmp_out"
fi
mv "$tmp_out" "$out"
log "$out: $(stat -c %s "$out") bytes ($(wc -w <<<"$applets") applets, ${#seen[@]} modules, kernel $KERNEL_RELEASE)"
