#!/bin/sh
# Boots the test guest under one backend and passes when it exits through isa-debug-exit with
# code 0 (process status 1) after printing "guest: PASS". Exits 77 (ctest skip) when the backend
# is not available here. Usage: run_guest_test.sh qemu|kvm|bt KERNEL APPEND [BTVMM]
set -u
[ $# -ge 3 ] || { echo "usage: $0 qemu|kvm|bt KERNEL APPEND [BTVMM]" >&2; exit 2; }
. "$(dirname "$0")/backends.sh"
backend=$1 kernel=$2 append=$3 btvmm=${4:-}
backend_available "$backend" "$btvmm" || exit 77
out=$(mktemp "${TMPDIR:-/tmp}/guest-$backend.XXXXXX")
trap 'rm -f "$out"' EXIT
backend_run "$backend" "$kernel" "$append" "$btvmm" "$out"
status=$?
cat "$out"
if guest_passed "$status" "$out"; then
  echo "run_guest_test: $backend '$append': passed"
  exit 0
fi
echo "run_guest_test: $backend '$append': FAILED (exit status $status, want 1 and a 'guest: PASS' line)"
exit 1
