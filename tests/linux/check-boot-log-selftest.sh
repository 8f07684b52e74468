#!/usr/bin/env bash
# Proves check-boot-log.sh can fail: a well-formed smoke log passes, and the same log with a
# line removed or a kernel oops/BUG/WARNING/panic added is rejected. Uses synthetic logs only.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

good="$work/good.log"
printf '%s\r\n' \
  '[    0.000000] Linux version 6.1.0-50-686 (debian-kernel@lists.debian.org) #1 SMP' \
  '[    0.000000] Kernel command line: console=ttyS0 noapic btvmm.test=smoke' \
  'btvmm-linux: init started (kernel 6.1.0-50-686, 1 cpu)' \
  "btvmm-linux: running test 'smoke'" \
  '== ls /' 'bin   dev   etc   init  lib   proc  root  run   sbin  sys   tmp   usr' \
  '== cat /proc/cpuinfo' 'processor	: 0' 'flags		: fpu tsc cx8 cmov' \
  '== pipeline: seq 1 1000 | sort -rn | head -3' 'pipeline result: 1000 999 998 ' \
  '== fork loop: 200 x /bin/true' 'fork loop: 200 iterations, 201 forks' \
  '== uname -a' 'Linux (none) 6.1.0-50-686 #1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 i686 GNU/Linux' \
  'btvmm-linux: smoke test passed' "btvmm-linux: test 'smoke' finished with status 0" \
  'btvmm-linux: rebooting' '[    6.318918] reboot: Restarting system' >"$good"

failures=0
verdict() {  # verdict NAME EXPECTED(pass|fail) LOG [KIND, default smoke]
  local got=pass
  "$here/check-boot-log.sh" "$3" "${4:-smoke}" >"$work/out" 2>&1 || got=fail
  if [ "$got" = "$2" ]; then
    echo "ok:   $1 -> $got"
  else
    echo "FAIL: $1 -> $got, expected $2"
    cat "$work/out"
    failures=$((failures + 1))
  fi
}
without() { grep -v -- "$1" "$good" >"$work/variant.log"; echo "$work/variant.log"; }
with_line() { { cat "$good"; printf '%s\r\n' "$1"; } >"$work/variant.log"; echo "$work/variant.log"; }

verdict "complete smoke log" pass "$good"
verdict "banner sharing a line with firmware output" pass \
  "$(sed '1s/^/Booting from ROM..\x1bc\x1b[?7l\x1b[2J./' "$good" >"$work/v.log"; echo "$work/v.log")"
verdict "no kernel banner" fail "$(without 'Linux version')"
verdict "no init marker" fail "$(without 'init started')"
verdict "no pass line" fail "$(without 'smoke test passed')"
verdict "no pipeline output" fail "$(without 'pipeline result')"
verdict "short fork loop" fail "$(sed 's/200 iterations/20 iterations/' "$good" >"$work/v.log"; echo "$work/v.log")"
verdict "ls / missing proc" fail "$(sed 's/ proc / /' "$good" >"$work/v.log"; echo "$work/v.log")"
verdict "no reboot" fail "$(without 'reboot: Restarting')"
verdict "oops" fail "$(with_line '[    2.1] Oops: 0002 [#1] PREEMPT SMP')"
verdict "BUG:" fail "$(with_line '[    2.1] BUG: unable to handle page fault for address: 0000')"
verdict "WARNING:" fail "$(with_line '[    2.1] WARNING: CPU: 0 PID: 1 at kernel/fork.c:1 x+0x1/0x2')"
verdict "panic" fail "$(with_line '[    2.1] Kernel panic - not syncing: Attempted to kill init!')"

# The disk test (issue 6): two boots, the token written on the first read back on the second.
disk="$work/disk.log"
token=token\ 0123abcd-4567-89ab-cdef-0123456789ab
{
  printf '%s\r\n' "btvmm-linux: mounted /dev/vda1 read-write on /mnt"
  sed "s/test 'smoke'/test 'disk'/" "$good"
  printf '%s\r\n' "disk: wrote /mnt/btvmm-disk-test.txt: $token" \
    'btvmm-linux: init started (kernel 6.1.0-50-686, 1 cpu)' "btvmm-linux: running test 'disk'" \
    "disk: read back /mnt/btvmm-disk-test.txt: $token" 'btvmm-linux: disk test passed'
} >"$disk"
verdict "complete disk log" pass "$disk" disk
verdict "disk: another token after the reboot" fail \
  "$(sed '/read back/s/0123abcd/ffffffff/' "$disk" >"$work/v.log"; echo "$work/v.log")" disk
verdict "disk: one boot only" fail "$(sed '/read back/,$d; 0,/init started/{/init started/d}' "$disk" >"$work/v.log"; echo "$work/v.log")" disk
verdict "disk: not mounted" fail "$(grep -v 'mounted /dev/vda1' "$disk" >"$work/v.log"; echo "$work/v.log")" disk

if [ "$failures" != 0 ]; then
  echo "$failures verdict(s) wrong"
  exit 1
fi
echo "check-boot-log.sh: every verdict right"
