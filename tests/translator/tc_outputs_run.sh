#!/bin/sh
# End-to-end check of what btvmm writes about the translation cache for one run of the test guest
# (test=hello): --perf-map (/tmp/perf-PID.map, CONVENTIONS.md "perf"), --trace-tc FILE (the one
# CCF formatter: guest instructions with kinds, Capstone host code; TC events) and the executed-instruction
# counters of --stats. Usage: tc_outputs_run.sh BTVMM GUEST_KERNEL
set -u
[ $# -eq 2 ] || { echo "usage: $0 BTVMM GUEST_KERNEL" >&2; exit 2; }
btvmm=$1 kernel=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/tc-outputs.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "tc_outputs_run: FAILED: $*"; exit 1; }

"$btvmm" run --kernel "$kernel" --append test=hello --no-reboot --timeout 60 --perf-map --stats \
  --trace-tc "$dir/trace" >"$dir/out" 2>"$dir/err" &
pid=$!
wait $pid
status=$?
map=/tmp/perf-$pid.map
[ "$status" -eq 1 ] || { cat "$dir/out" "$dir/err"; fail "guest exit status $status, want 1 (debug-exit 0)"; }

# perf map: one "START SIZE g:0xEIP_cplN" line per CCF, hex without 0x, non-empty.
[ -s "$map" ] || fail "$map missing or empty"
bad=$(grep -cvE '^[0-9a-f]+ [0-9a-f]+ g:0x[0-9a-f]{8}_cpl[03]$' "$map")
[ "$bad" -eq 0 ] || { head "$map"; fail "$bad malformed perf map lines"; }
lines=$(wc -l <"$map")
ccfs=$(grep -c '^CCF ' "$dir/trace")
[ "$lines" -eq "$ccfs" ] || fail "perf map has $lines lines, the trace $ccfs CCFs"
entry=$(printf 'g:0x%08x_cpl0' "$(od -An -tu4 -j24 -N4 "$kernel" | tr -d ' ')")
grep -q " $entry\$" "$map" || fail "no perf map line for the kernel entry ($entry)"
rm -f "$map"

# trace: guest side with kinds, host side from Capstone headed by guest instruction.
grep -q '^IN: 0x' "$dir/trace" || fail "trace has no IN: block"
grep -qE '^  -- guest 0x[0-9a-f]{8}  .+  \((ident|ident\+addr32|reencode32|branch-direct|branch-indirect|return|virtual-cpu|callout)\)$' \
  "$dir/trace" || fail "trace has no guest instruction headings with kinds"
grep -q '^  -- attention check' "$dir/trace" || fail "trace has no attention check"
grep -qE '^  \+[0-9a-f]{4}  [0-9a-f]+ +(mov|lea|jmp) ' "$dir/trace" || fail "trace has no Capstone host code"
# TC events (-d tc, part of --trace-tc): the guest turns paging on, which cuts the CCFs run so far.
grep -qE '^STALE cr[034] load 0x[0-9a-f]{8}: [1-9][0-9]* CCF\(s\)' "$dir/trace" || fail "trace has no STALE event"
grep -qE '^  ccf 0x[0-9a-f]{8} cpl 0 \(host 0x[0-9a-f]+' "$dir/trace" || fail "trace events name no CCF"

# --stats: executed instructions by kind, with the IDENT share.
for c in exec.ccf_runs exec.cpl0.instructions exec.cpl0.ident exec.cpl0.ident_percent exec.callouts.io; do
  grep -qE "^  $c +[1-9][0-9]* " "$dir/err" || { cat "$dir/err"; fail "--stats lacks a non-zero $c"; }
done
grep -q '^  -- run counter' "$dir/trace" || fail "--stats run: CCFs without run counters"

# Without --stats the executed-instruction profile is off (EngineConfig::count_executions): CCFs
# carry no run counter, and --metrics leaves the exec.* counters out instead of writing zeros.
"$btvmm" run --kernel "$kernel" --append test=hello --no-reboot --timeout 60 --trace-tc "$dir/trace2" \
  --metrics "$dir/metrics.json" >"$dir/out2" 2>"$dir/err2"
[ $? -eq 1 ] || { cat "$dir/out2" "$dir/err2"; fail "second run: guest exit status, want 1"; }
grep -q '^CCF ' "$dir/trace2" || fail "second run: no CCFs traced"
! grep -q '^  -- run counter' "$dir/trace2" || fail "run counters emitted without --stats"
grep -q '"exec_profile": false' "$dir/metrics.json" || fail "metrics do not say the profile was off"
! grep -q '"exec\.' "$dir/metrics.json" || fail "metrics hold exec.* counters that were not collected"
grep -qE '"tc.translations": [1-9]' "$dir/metrics.json" || fail "metrics lack the monitor-side counters"
echo "tc_outputs_run: passed ($lines perf map lines)"
