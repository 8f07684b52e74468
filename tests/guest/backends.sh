# Shared by run_guest_test.sh and compare_backends.sh: whether a backend can run here, and how to
# boot the test guest under it. Sourced, never executed; prints reasons on stderr, never exits.
#
# Backends: qemu (qemu-system-i386 -accel tcg), kvm (btvmm --accel kvm, needs a KVM that runs
# 32-bit paged guests),
# bt (btvmm --accel bt, runs everywhere).

GUEST_MEMORY_MIB=128
GUEST_TIMEOUT_S=${GUEST_TIMEOUT_S:-120}

# backend_available BACKEND BTVMM -> 0 if it can run here
backend_available() {
  case "$1" in
    qemu)
      command -v qemu-system-i386 >/dev/null 2>&1 && return 0
      echo "skip: qemu-system-i386 not found" >&2
      return 1 ;;
    kvm)
      if [ ! -x "$2" ]; then
        echo "skip: btvmm binary $2 not built" >&2
        return 1
      fi
      # btvmm probes KVM with a 32-bit paged guest: /dev/kvm alone is not enough (kvm_pvm).
      _why=$("$2" run --accel help | sed -n 's/^kvm  Linux KVM (\(.*\))$/\1/p')
      [ "$_why" = available ] && return 0
      echo "skip: --accel kvm: ${_why:-no answer from $2 run --accel help}" >&2
      return 1 ;;
    bt)
      [ -x "$2" ] && return 0
      echo "skip: btvmm binary $2 not built" >&2
      return 1 ;;
    *)
      echo "unknown backend $1 (qemu, kvm or bt)" >&2
      return 1 ;;
  esac
}

# backend_run BACKEND KERNEL APPEND BTVMM OUTFILE -> the emulator's exit status; guest serial
# output (carriage returns removed) in OUTFILE
backend_run() {
  _b=$1 _k=$2 _a=$3 _v=$4 _o=$5
  case "$_b" in
    qemu)
      timeout "$GUEST_TIMEOUT_S" qemu-system-i386 -accel tcg -M pc -m "$GUEST_MEMORY_MIB" -kernel "$_k" \
        -append "$_a" -device isa-debug-exit,iobase=0xf4,iosize=0x04 -serial stdio -display none \
        -no-reboot -nodefaults </dev/null >"$_o.raw" ;;
    kvm|bt)
      timeout "$GUEST_TIMEOUT_S" "$_v" run --accel "$_b" -m "$GUEST_MEMORY_MIB" --kernel "$_k" --append "$_a" \
        --no-reboot </dev/null >"$_o.raw" ;;
  esac
  _s=$?
  tr -d '\r' <"$_o.raw" >"$_o"
  rm -f "$_o.raw"
  return $_s
}

# guest_passed STATUS OUTFILE -> 0 if the guest reported success (debug-exit 0 -> status 1)
guest_passed() {
  [ "$1" -eq 1 ] && grep -qx 'guest: PASS' "$2"
}
