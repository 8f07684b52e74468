#!/usr/bin/env bash
# Offline checks of fetch-boot-set.sh's cache contract, with apt replaced by fakes on PATH:
# a verified set is reused without asking apt; an unreachable archive exits 75 (which the
# fixture turns into a visible ctest skip); a set whose checksum no longer verifies is not reused.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
fetch="$here/../../scripts/linux/fetch-boot-set.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Fakes: apt-get and apt-cache record each call and find nothing (an archive that cannot be
# reached); dpkg says i386 is enabled; sudo just runs its command.
mkdir "$work/bin"
for tool in apt-get apt-cache; do
  printf '#!/bin/sh\necho "%s $*" >>"%s/apt-calls"\nexit 100\n' "$tool" "$work" >"$work/bin/$tool"
done
printf '#!/bin/sh\n[ "$1" = --print-foreign-architectures ] && echo i386\n' >"$work/bin/dpkg"
printf '#!/bin/sh\nexec "$@"\n' >"$work/bin/sudo"
chmod +x "$work/bin/"*
export PATH="$work/bin:$PATH"

failures=0
verdict() {  # verdict NAME CONDITION-RESULT(0 = as expected)
  if [ "$2" = 0 ]; then echo "ok:   $1"; else echo "FAIL: $1"; failures=$((failures + 1)); fi
}

# A cached set, as fetch-boot-set.sh leaves it.
set_dir="$work/cache/linux"
mkdir -p "$set_dir/debs" "$set_dir/kernel/boot" "$set_dir/busybox/bin"
echo deb >"$set_dir/debs/k.deb"
echo kernel >"$set_dir/kernel/boot/vmlinuz-6.1.0-0-686"
echo busybox >"$set_dir/busybox/bin/busybox"
echo "KERNEL_RELEASE=6.1.0-0-686" >"$set_dir/boot-set.env"
(cd "$set_dir" && sha256sum debs/k.deb kernel/boot/vmlinuz-6.1.0-0-686 busybox/bin/busybox \
   boot-set.env >boot-set.sha256)

rm -f "$work/apt-calls"
out="$(BTVMM_CACHE="$work/cache" "$fetch" --print-dir 2>"$work/err")"
status=$?
verdict "a verified set is reused (exit $status, dir '$out')" $([ "$status" = 0 ] && [ "$out" = "$set_dir" ]; echo $?)
verdict "reuse asks apt nothing" $([ ! -e "$work/apt-calls" ]; echo $?)

echo corrupted >"$set_dir/busybox/bin/busybox"
BTVMM_CACHE="$work/cache" "$fetch" >/dev/null 2>"$work/err"
status=$?
verdict "a set whose checksum fails is fetched again (apt asked, exit $status)" \
  $([ -e "$work/apt-calls" ] && [ "$status" = 75 ]; echo $?)

rm -f "$work/apt-calls"
"$fetch" --dir "$work/empty/linux" >/dev/null 2>"$work/err"
status=$?
verdict "an empty cache with an unreachable archive exits 75 (got $status)" $([ "$status" = 75 ]; echo $?)
verdict "and says why" $(grep -q 'archive unreachable' "$work/err"; echo $?)
verdict "and leaves no partial set behind" $([ ! -e "$work/empty/linux/boot-set.sha256" ]; echo $?)

if [ "$failures" != 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "fetch-boot-set.sh: cache contract holds"
