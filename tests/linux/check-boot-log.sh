#!/usr/bin/env bash
# Judges a Linux serial console log from a boot of the test boot set: every line the chosen
# built-in test must print is there and the kernel reported no oops, BUG, WARNING or panic.
# Usage: check-boot-log.sh LOG smoke|modules|shell|first-lines. Prints each verdict; exit 0 = pass.
set -uo pipefail

log="${1:?usage: check-boot-log.sh LOG smoke|modules|shell|first-lines}"
kind="${2:?usage: check-boot-log.sh LOG smoke|modules|shell|first-lines}"
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
