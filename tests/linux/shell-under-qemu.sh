#!/usr/bin/env bash
# Interactive reference boot: boots the prepared boot set under QEMU TCG without btvmm.test=, so
# /init gives the console a shell, types commands at its prompt as a user would, exits it, and
# judges the log with check-boot-log.sh. Never changes the boot set.
# Usage: shell-under-qemu.sh BOOT_DIR [LOG]   (exit 77 = skipped, with the reason printed)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
boot="${1:?usage: shell-under-qemu.sh BOOT_DIR [LOG]}"
log="${2:-$boot/qemu-shell.log}"
limit="${BTVMM_LINUX_QEMU_TIMEOUT:-240}"

. "$here/qemu-reference.sh"
require_qemu_and_boot_set "$boot"
qemu_reference_args "$boot" "$(linux_cmdline)"
echo "+ qemu-system-i386 ${qemu_args[*]}"

work="$(mktemp -d)"
mkfifo "$work/console-in"
: >"$log"
start=$(date +%s)
timeout -k 5 "$limit" "$qemu" "${qemu_args[@]}" <"$work/console-in" >"$log" 2>&1 &
pid=$!
exec 3>"$work/console-in"
trap 'exec 3>&-; kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

# wait_for TEXT: polls the console log until TEXT shows up, QEMU exits or time runs out.
wait_for() {
  while ! tr -d '\r' <"$log" | grep -qF -- "$1"; do
    if ! kill -0 "$pid" 2>/dev/null; then echo "qemu exited before '$1' appeared"; return 1; fi
    if [ $(( $(date +%s) - start )) -ge "$limit" ]; then echo "no '$1' after $limit s"; return 1; fi
    sleep 0.5
  done
}

verdict=0
# Keys typed before the prompt would be read by the line discipline anyway, but waiting for it
# is what proves the shell is up. Enter on a serial terminal sends CR.
if wait_for "/ # "; then
  echo "shell prompt after $(( $(date +%s) - start )) s"
  printf 'echo shell-$((6*7))\r' >&3
  if wait_for "shell-42"; then
    printf 'tty; exit\r' >&3
  else
    verdict=1
  fi
else
  verdict=1
fi
exec 3>&-
status=0
wait "$pid" || status=$?
echo "qemu exited with status $status after $(( $(date +%s) - start )) s; log: $log"
[ "$status" = 0 ] || verdict=1
"$here/check-boot-log.sh" "$log" shell || verdict=1
if [ "$verdict" != 0 ]; then
  echo "----- console log ($log) -----"
  cat "$log"
fi
exit "$verdict"
