#!/usr/bin/env bash
# Judges a Linux serial console log from a boot of the test boot set: every line the chosen
# built-in test must print is there and the kernel reported no oops, BUG, WARNING or panic.
# Usage: check-boot-log.sh LOG smoke|modules|shell|first-lines|disk. Prints each verdict; exit 0 = pass.
set -uo pipefail

log="${1:?usage: check-boot-log.sh LOG smoke|modules|shell|first-lines|disk}"
kind="${2:?usage: check-boot-log.sh LOG smoke|modules|shell|first-lines|disk}"
clean="$(mktemp)"
trap 'rm -f "$clean"' EXIT
# Serial output ends lines with CR LF and SeaBIOS adds terminal escapes: compare plain text.
tr -d '\r' <"$log" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g' >"$clean"

failures=0
expect() {  # expect DESCRIPTION EXTENDED-REGEX
  if grep -Eq -- "$2" "$clean"; then
    echo "ok:      $1"
  else
    echo "MISSING: $1 (/$2/)"
    failures=$((failures + 1))
  fi
}
forbid() {  # forbid DESCRIPTION EXTENDED-REGEX
  local hits
  hits="$(grep -En -- "$2" "$clean" | head -5)"
  if [ -n "$hits" ]; then
    echo "FOUND:   $1:"
    echo "$hits"
    failures=$((failures + 1))
  else
    echo "ok:      no $1"
  fi
}
# Words of the `ls /` listing, taken between its header and the next one (column layout varies).
ls_words() { awk '/^== ls \/$/ {on = 1; next} /^== / {on = 0} on' "$clean" | tr -s ' \t' '\n'; }

# Not anchored: the firmware's last characters can share the banner's line (SeaBIOS prints
# "Booting from ROM.." and the kernel's first serial output may land right after it).
expect "kernel banner" '\[ *[0-9.]+\] Linux version 6\.1\.'
expect "kernel command line as given" '\[ *[0-9.]+\] Kernel command line: .*console=ttyS0'
case "$kind" in
  first-lines)
    expect "e820 memory map from the loader" 'BIOS-(provided physical RAM map|e820)'
    ;;
  smoke)
    expect "init marker" '^btvmm-linux: init started'
    expect "smoke test started" "^btvmm-linux: running test 'smoke'"
    for w in bin dev etc init proc sys; do
      if ls_words | grep -qx "$w"; then echo "ok:      ls / lists $w"; else
        echo "MISSING: ls / lists $w"; failures=$((failures + 1)); fi
    done
    expect "/proc/cpuinfo processor line" '^processor[[:space:]]+: 0$'
    expect "/proc/cpuinfo flags with cx8" '^flags[[:space:]]+:.* cx8( |$)'
    expect "pipeline output" '^pipeline result: 1000 999 998 ?$'
    expect "fork loop ran 200 times" '^fork loop: 200 iterations, [0-9]+ forks$'
    expect "uname -a" '^Linux .* 6\.1\.[0-9]+-[0-9]+-686 .* i686'
    expect "smoke pass line" '^btvmm-linux: smoke test passed$'
    expect "test exit status 0" "^btvmm-linux: test 'smoke' finished with status 0$"
    expect "reboot through the kernel" 'reboot: Restarting system'
    ;;
  shell)
    expect "init marker" '^btvmm-linux: init started'
    expect "shell announced" '^btvmm-linux: no btvmm.test= given, starting a shell'
    expect "typed arithmetic evaluated by the shell" '^shell-42$'
    expect "the console is the shell's controlling tty" '^/dev/ttyS0$'
    expect "shell exit noticed by init" '^btvmm-linux: shell exited$'
    expect "reboot through the kernel" 'reboot: Restarting system'
    ;;
  modules)
    expect "init marker" '^btvmm-linux: init started'
    expect "virtio_pci loaded (lsmod)" '^virtio_pci '
    expect "modules pass line" '^btvmm-linux: modules test passed$'
    expect "test exit status 0" "^btvmm-linux: test 'modules' finished with status 0$"
    expect "reboot through the kernel" 'reboot: Restarting system'
    ;;
  disk)
    expect "init marker" '^btvmm-linux: init started'
    expect "the virtio disk mounted read-write" '^btvmm-linux: mounted /dev/vda1 read-write on /mnt$'
    expect "disk test started" "^btvmm-linux: running test 'disk'"
    for w in bin dev etc init proc sys; do
      if ls_words | grep -qx "$w"; then echo "ok:      ls / lists $w"; else
        echo "MISSING: ls / lists $w"; failures=$((failures + 1)); fi
    done
    expect "/proc/cpuinfo processor line" '^processor[[:space:]]+: 0$'
    expect "pipeline output" '^pipeline result: 1000 999 998 ?$'
    expect "fork loop ran 200 times" '^fork loop: 200 iterations, [0-9]+ forks$'
    expect "smoke pass line" '^btvmm-linux: smoke test passed$'
    expect "file written on the first boot" '^disk: wrote /mnt/btvmm-disk-test.txt: token [0-9a-f-]{36}$'
    expect "reboot through the kernel" 'reboot: Restarting system'
    boots="$(grep -c '^btvmm-linux: init started' "$clean")"
    if [ "$boots" = 2 ]; then echo "ok:      two boots"; else
      echo "MISSING: two boots (init started $boots times)"; failures=$((failures + 1)); fi
    written="$(sed -n 's|^disk: wrote /mnt/btvmm-disk-test.txt: ||p' "$clean" | head -1)"
    read_back="$(sed -n 's|^disk: read back /mnt/btvmm-disk-test.txt: ||p' "$clean" | head -1)"
    if [ -n "$written" ] && [ "$written" = "$read_back" ]; then
      echo "ok:      the file read back after the reboot is the one written ($written)"
    else
      echo "MISSING: the same file after the reboot (wrote '$written', read '$read_back')"
      failures=$((failures + 1))
    fi
    expect "disk pass line" '^btvmm-linux: disk test passed$'
    ;;
  *) echo "check-boot-log: unknown kind '$kind'"; exit 2 ;;
esac
forbid "Oops" 'Oops'
forbid "BUG:" 'BUG:'
forbid "WARNING:" 'WARNING:'
forbid "Kernel panic" 'Kernel panic'

if [ "$failures" != 0 ]; then
  echo "check-boot-log: $failures check(s) failed for '$kind' in $log"
  exit 1
fi
echo "check-boot-log: all checks passed for '$kind'"
