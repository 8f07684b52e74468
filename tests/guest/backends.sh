# Shared by run_guest_test.sh and compare_backends.sh: whether a backend can run here, and how to
# boot the test guest under it. Sourced, never executed; prints reasons on stderr, never exits.
#
# Backends: qemu (qemu-system-i386 -accel tcg), kvm (btvmm --accel kvm, needs a KVM that runs
# 32-bit paged guests), bt (btvmm --accel bt, runs everywhere), btdirect (btvmm --accel bt,direct=on: guest user code
# runs directly, needs a host with IA-32 emulation).

GUEST_MEMORY_MIB=128
GUEST_TIMEOUT_S=${GUEST_TIMEOUT_S:-120}

# accel_available BTVMM ACCEL -> 0 if `BTVMM run --accel help` says ACCEL's line is "(available)";
# btvmm decides with probes (a 32-bit paged guest for kvm: /dev/kvm alone is not enough under
# kvm_pvm; compat-mode code for bt,direct=on), and gives the reason otherwise.
accel_available() {
  if [ ! -x "$1" ]; then
    echo "skip: btvmm binary $1 not built" >&2
    return 1
  fi
  _why=$("$1" run --accel help | awk -v a="$2" '$1 == a { sub(/^[^(]*\(/, ""); sub(/\)$/, ""); print }')
  [ "$_why" = available ] && return 0
  echo "skip: --accel $2: ${_why:-no answer from $1 run --accel help}" >&2
  return 1
}

# backend_available BACKEND BTVMM -> 0 if it can run here
backend_available() {
  case "$1" in
    qemu)
      command -v qemu-system-i386 >/dev/null 2>&1 && return 0
      echo "skip: qemu-system-i386 not found" >&2
      return 1 ;;
    kvm) accel_available "$2" kvm ;;
    bt) accel_available "$2" bt ;;
    btdirect) accel_available "$2" "$(backend_accel btdirect)" ;;
    *)
      echo "unknown backend $1 (qemu, kvm, bt or btdirect)" >&2
      return 1 ;;
  esac
}

# backend_accel BACKEND -> btvmm's --accel value for a btvmm backend (kvm, bt, btdirect)
backend_accel() {
  case "$1" in
    btdirect) echo bt,direct=on ;;
    *) echo "$1" ;;
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
    kvm|bt|btdirect)
      timeout "$GUEST_TIMEOUT_S" "$_v" run --accel "$(backend_accel "$_b")" -m "$GUEST_MEMORY_MIB" --kernel "$_k" --append "$_a" \
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
