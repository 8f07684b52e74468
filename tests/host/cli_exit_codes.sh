#!/usr/bin/env bash
# btvmm's documented exit statuses for bad input and guest misbehaviour (README "Exit status"):
# each case must end with its status and a one-line message, never a crash.
# Usage: cli_exit_codes.sh BTVMM
set -u
btvmm=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

expect() {  # expect STATUS DESCRIPTION -- command...
  local want=$1 what=$2
  shift 3
  "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
  local got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL: $what: exit status $got, expected $want"; sed 's/^/    /' "$tmp/err" | head -5
    failures=$((failures + 1))
  elif [ "$want" -ge 2 ] && [ "$((want % 2))" -eq 0 ] && ! grep -q '^btvmm: ' "$tmp/err"; then
    echo "FAIL: $what: no 'btvmm: ...' message on stderr"; failures=$((failures + 1))
  else
    echo "ok   $what (status $got: $(head -1 "$tmp/err"))"
  fi
}

kernel() { python3 "$here/make_tiny_kernel.py" "$tmp/$1" "$2"; echo "$tmp/$1"; }

expect 2 "unknown option" -- "$btvmm" run --no-such-option
expect 2 "bad memory size" -- "$btvmm" run -m 1T "$tmp/x"
expect 4 "missing disk image" -- "$btvmm" run "$tmp/does-not-exist.img"
head -c 700 /dev/urandom >"$tmp/random.img"
expect 4 "random bytes as disk image" -- "$btvmm" run "$tmp/random.img"
good=$(kernel ok.elf "b842000000e6f4")  # mov eax,0x42; out 0xf4,al
"$btvmm" mkimage -o "$tmp/disk.img" --kernel "$good" --append "x" 2>/dev/null
head -c 5000 "$tmp/disk.img" >"$tmp/truncated.img"
expect 4 "truncated disk image" -- "$btvmm" run "$tmp/truncated.img"
cp "$tmp/disk.img" "$tmp/corrupt.img"
printf '\x99' | dd of="$tmp/corrupt.img" bs=1 seek=4100 conv=notrunc 2>/dev/null
expect 4 "kernel byte flipped in disk image" -- "$btvmm" run "$tmp/corrupt.img"
head -c 100000 /dev/urandom >"$tmp/random.kernel"
expect 6 "random bytes as kernel" -- "$btvmm" run --kernel "$tmp/random.kernel"
expect 6 "missing kernel" -- "$btvmm" run --kernel "$tmp/nope"
expect 133 "guest debug-exit 0x42 from disk.img (status 0x42<<1|1)" -- "$btvmm" run --accel bt "$tmp/disk.img"
# lidt with limit 0, then int3: #GP during delivery -> #DF -> shutdown (SDM vol. 3 6.15).
tf=$(kernel triple.elf "0f011d10001000cc0000000000000000000000000000")
expect 8 "guest triple fault under --no-reboot" -- "$btvmm" run --accel bt --no-reboot --kernel "$tf"
# Garbage as kernel code with no IDT: whatever it raises ends in a triple fault, never a crash.
for seed in 1 2 3 4 5; do
  hex=$(python3 -c "import random; r=random.Random($seed); print(bytes(r.randrange(256) for _ in range(256)).hex())")
  g=$(kernel "garbage$seed.elf" "$hex")
  "$btvmm" run --accel bt --no-reboot --timeout 10 --kernel "$g" >"$tmp/out" 2>"$tmp/err" </dev/null
  s=$?
  # Known gap, documented in the issue notes: an instruction whose access the shadow cannot map
  # (non-existent memory, page 0, MMIO) and that the monitor does not emulate yet (e.g. leave,
  # pop to memory forms) stops btvmm with status 10 and a message naming the instruction.
  if [ "$s" -eq 10 ] && grep -q "is not an instruction the monitor emulates yet" "$tmp/err"; then
    echo "ok   garbage kernel code (seed $seed): status 10, known gap: $(head -1 "$tmp/err")"
    continue
  fi
  case $s in
    8|14|1|3|5|7|9|11|13|15|0) echo "ok   garbage kernel code (seed $seed): status $s: $(head -1 "$tmp/err")" ;;
    *) echo "FAIL: garbage kernel code (seed $seed): status $s"; sed 's/^/    /' "$tmp/err" | head -5; failures=$((failures + 1)) ;;
  esac
done
spin=$(kernel spin.elf "ebfe")  # jmp $
expect 14 "--timeout stops a guest that spins" -- "$btvmm" run --accel bt --timeout 1 --kernel "$spin"
# Guest disks (README "Command line", "disk.img format"): unopenable files stop btvmm with 16
# before the guest starts; malformed -drive values are command-line errors.
expect 16 "-drive naming a missing file" -- "$btvmm" run --kernel "$good" -drive "file=$tmp/nope.img,format=raw,if=virtio"
expect 16 "--disk naming a directory" -- "$btvmm" run --kernel "$good" --disk "$tmp"
expect 2 "-drive with an unsupported format" -- "$btvmm" run --kernel "$good" -drive "file=$tmp/disk.img,format=qcow2"
expect 2 "-drive without file=" -- "$btvmm" run --kernel "$good" -drive "format=raw,if=virtio"
expect 133 "guest runs with a read-only -drive and -snapshot attached" -- \
  "$btvmm" run --accel bt --kernel "$good" -snapshot -drive "file=$tmp/disk.img,format=raw,if=virtio,readonly=on"
expect 133 "disk.img with -snapshot" -- "$btvmm" run --accel bt -snapshot "$tmp/disk.img"
# An image with a root filesystem: only the boot set is read at start, the rest is the disk.
mkdir -p "$tmp/rootdir" && echo hello >"$tmp/rootdir/f"
PATH="$PATH:/usr/sbin:/sbin" "$btvmm" mkimage -o "$tmp/rootfs.img" --kernel "$good" --rootfs "$tmp/rootdir" --rootfs-size 2 >/dev/null 2>&1
expect 133 "disk.img with a root filesystem boots and is attached" -- "$btvmm" run --accel bt "$tmp/rootfs.img"
head -c 2097152 "$tmp/rootfs.img" >"$tmp/rootfs-truncated.img"
expect 4 "disk.img whose root filesystem is cut short" -- "$btvmm" run "$tmp/rootfs-truncated.img"
# Where KVM cannot run this guest (no /dev/kvm, or kvm_pvm), btvmm refuses up front.
if ! "$btvmm" run --accel help | grep -q '^kvm  Linux KVM (available)$'; then
  expect 12 "--accel kvm where KVM cannot run a 32-bit paged guest" -- "$btvmm" run --accel kvm --kernel "$good"
fi
expect 0 "--accel help" -- "$btvmm" run --accel help
echo "$failures failed"
[ "$failures" -eq 0 ]
