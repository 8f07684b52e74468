#!/bin/sh
# The Linux-guest workloads of issue 7 item 2, run by the test initramfs's /init as
# `btvmm.test=bench` (init runs /etc/btvmm/NAME.sh). Each workload is bracketed by
# "bench-linux: begin NAME" / "bench-linux: end NAME status S" lines that the harness times from
# outside (the guest clock is not trusted under emulation). Must print nothing else with that prefix.
# Sizes: `btvmm.bench=quick` on the kernel command line selects the smoke-test sizes.
size=full
only=""
for word in $(cat /proc/cmdline); do
  case "$word" in
    btvmm.bench=*) size="${word#btvmm.bench=}" ;;
    btvmm.bench_only=*) only="${word#btvmm.bench_only=}" ;;
  esac
done
if [ "$size" = quick ]; then
  forks=10 rw=1000 rounds=2 pages=64
else
  forks=200 rw=20000 rounds=20 pages=256
fi

wanted() { [ -z "$only" ] || [ "$only" = "$1" ]; }

# forkexec: a shell loop of fork/exec/wait. /bin/bench-true is a separate static program, so the
# shell really forks and execs (busybox would run its own applets without an exec).
if wanted forkexec; then
  echo "bench-linux: begin forkexec $forks"
  i=0
  fails=0
  while [ $i -lt $forks ]; do
    /bin/bench-true || fails=$((fails + 1))
    i=$((i + 1))
  done
  echo "bench-linux: forkexec $i runs, $fails failures"
  echo "bench-linux: end forkexec status $fails"
fi

if wanted rw; then
  echo "bench-linux: begin rw $rw"
  /bin/bench-rw "$rw"
  echo "bench-linux: end rw status $?"
fi

if wanted alloc; then
  echo "bench-linux: begin alloc $rounds x $pages"
  /bin/bench-alloc "$rounds" "$pages"
  echo "bench-linux: end alloc status $?"
fi
echo "bench-linux: done"
