#!/bin/sh
# Boots the test guest with the same command line under two backends and diffs the outputs after
# dropping the lines allowed to differ (README.md, "Output"): "bench:" always, "qemu-gap:" when
# one side is QEMU TCG, "umip:" when one side is btvmm's bt backend. Exits 77 (ctest skip) unless
# both backends are available. Usage: compare_backends.sh A B KERNEL APPEND [BTVMM]
set -u
[ $# -ge 4 ] || { echo "usage: $0 BACKEND_A BACKEND_B KERNEL APPEND [BTVMM]" >&2; exit 2; }
. "$(dirname "$0")/backends.sh"
a=$1 b=$2 kernel=$3 append=$4 btvmm=${5:-}
backend_available "$a" "$btvmm" || exit 77
backend_available "$b" "$btvmm" || exit 77
dir=$(mktemp -d "${TMPDIR:-/tmp}/guest-compare.XXXXXX")
trap 'rm -rf "$dir"' EXIT

drop='^bench:'
case " $a $b " in *" qemu "*) drop="$drop|^qemu-gap:" ;; esac
case " $a $b " in *" bt "*|*" btdirect "*) drop="$drop|^umip:" ;; esac

for side in "$a" "$b"; do
  backend_run "$side" "$kernel" "$append" "$btvmm" "$dir/$side.out"
  status=$?
  if ! guest_passed "$status" "$dir/$side.out"; then
    cat "$dir/$side.out"
    echo "compare_backends: $side '$append' did not pass (exit status $status)"
    exit 1
  fi
  # Only the guest's own output counts: start at its banner, drop the tolerated lines.
  sed -n '/^guest: btvmm test guest$/,$p' "$dir/$side.out" | grep -Ev "$drop" >"$dir/$side.cmp"
done
if diff -u "$dir/$a.cmp" "$dir/$b.cmp"; then
  echo "compare_backends: $a and $b agree on '$append' ($(wc -l <"$dir/$a.cmp") lines compared, pattern '$drop' dropped)"
  exit 0
fi
echo "compare_backends: $a and $b differ on '$append'"
exit 1
