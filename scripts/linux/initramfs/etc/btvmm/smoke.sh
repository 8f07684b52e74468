#!/bin/sh
# btvmm.test=smoke: exercises the shell, procfs, pipes and fork/exec on a freshly booted kernel.
# Prints "btvmm-linux: smoke test passed" only when every step worked; never writes to a disk.
set -e

echo "== ls /"
ls /

echo "== cat /proc/cpuinfo"
cat /proc/cpuinfo

echo "== pipeline: seq 1 1000 | sort -rn | head -3"
top3="$(seq 1 1000 | sort -rn | head -3 | tr '\n' ' ')"
echo "pipeline result: $top3"
if [ "$top3" != "1000 999 998 " ]; then
  echo "btvmm-linux: smoke: pipeline gave '$top3', expected '1000 999 998 '"
  exit 1
fi

echo "== fork loop: 200 x /bin/true"
# /proc/stat "processes" counts forks since boot: it proves each iteration really forked.
forks_before="$(awk '/^processes/ {print $2}' /proc/stat)"
i=0
while [ "$i" -lt 200 ]; do
  /bin/true
  i=$((i + 1))
done
forks_after="$(awk '/^processes/ {print $2}' /proc/stat)"
forks=$((forks_after - forks_before))
echo "fork loop: $i iterations, $forks forks"
if [ "$forks" -lt 200 ]; then
  echo "btvmm-linux: smoke: only $forks forks for 200 iterations"
  exit 1
fi

echo "== uname -a"
uname -a

echo "btvmm-linux: smoke test passed"
