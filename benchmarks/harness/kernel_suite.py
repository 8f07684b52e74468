"""The kernel-heavy table (issue 7 item 2, first half): the test guest's nanobenchmarks
(`bench=nano`) and forkwait (`forkwait=N`) under btvmm-bt and qemu-tcg, the host counterparts
(benchmarks/nano/native_nano.c) as native64, and Adams & Agesen's figure 4 beside them.

Figures are the cycles per iteration the guest prints on its "bench:" lines (rdtsc: host TSC
cycles under both btvmm and QEMU TCG, so columns compare). A run counts only if the guest says
"guest: PASS"; a missing figure is shown as "-", never as zero.
"""

import os
import re
import statistics
from typing import Dict, List, Optional

from . import columns, counters, paper, procrun

NANO = ["syscall", "in", "cr3wr", "callret", "pgfault", "divzero", "ptemod", "cli/sti",
        "pushf/popf", "user-pgfault"]
ROWS = NANO + ["forkwait"]

# What native64 (a host x86-64 user process) measures for each row, and whether that is the same
# operation as in the guest (like-for-like) or only a figure for scale.
NATIVE_COUNTERPART = {
    "syscall": (True, "host getpid by SYSCALL (the guest uses int 0x80)"),
    "in": (True, "host inb 0x80 after ioperm (on this host it exits to the hypervisor)"),
    "callret": (True, "the same call/ret loop"),
    "pushf/popf": (True, "the same loop in user mode (POPF cannot change IF there)"),
    "user-pgfault": (True, "host demand-zero fault on fresh anonymous memory"),
    "forkwait": (True, "host fork + waitpid of a child that exits at once"),
    "divzero": (False, "host #DE arrives as SIGFPE: signal delivery + sigreturn, not a kernel "
                       "handler as in the guest"),
}
NO_NATIVE = {
    "cr3wr": "a host process cannot write CR3",
    "pgfault": "a kernel-mode true page fault has no host user-mode equivalent",
    "ptemod": "a host process cannot write its page tables",
    "cli/sti": "CLI/STI fault in host user mode",
}

COLUMN_NAMES = ["native64", "btvmm-bt", "qemu-tcg", "btvmm-kvm", "qemu-kvm"]
BENCH_LINE = re.compile(r"^bench: (?P<name>\S+) (?P<cycles>\d+) cycles/(iter|fork)\s*$",
                        re.MULTILINE)


def native_nano(ctx: columns.Context) -> str:
    return os.path.join(ctx.build_dir, "benchmarks", "nano", "native_nano")


def forks(ctx: columns.Context) -> int:
    return 100 if ctx.quick else 2000


def probe(ctx: columns.Context) -> Dict[str, Optional[str]]:
    """Why each column cannot run here (None: it can)."""
    nn = native_nano(ctx)
    return {
        "native64": None if os.access(nn, os.X_OK) else f"not built: {nn} (ninja bench_nano)",
        "btvmm-bt": columns.COLUMNS[2].probe(ctx),
        "qemu-tcg": columns.COLUMNS[4].probe(ctx),
        "btvmm-kvm": columns.COLUMNS[3].probe(ctx),
        "qemu-kvm": columns.COLUMNS[5].probe(ctx),
    }


def _guest_cmd(ctx: columns.Context, column: str, append: str, metrics: str) -> List[str]:
    if column.startswith("btvmm-"):
        return [ctx.btvmm(), "run", "--kernel", ctx.guest_kernel(), "--accel",
                column.split("-", 1)[1], "-m", "128", "--no-reboot", "--timeout",
                str(int(ctx.timeout_s)), "--append", append, "--metrics", metrics]
    accel = column.split("-", 1)[1]
    return ["qemu-system-i386", "-accel", accel, *columns.QEMU_COMMON, "-kernel",
            ctx.guest_kernel(), "-append", append]


def commands(ctx: columns.Context, column: str) -> List[tuple]:
    """(kind, argv, metrics file or None) of one repetition of a column."""
    if column == "native64":
        return [("nano+forkwait", [native_nano(ctx), str(forks(ctx))], None)]
    mdir = os.path.join(ctx.build_dir, "benchmarks", "metrics")
    out = []
    for kind, append in (("nano", "bench=nano"), ("forkwait", f"forkwait={forks(ctx)}")):
        metrics = os.path.join(mdir, f"kernel-{column}-{kind}.json") if column.startswith(
            "btvmm-") else None
        out.append((kind, _guest_cmd(ctx, column, append, metrics or ""), metrics))
    return out


def run_one(ctx: columns.Context, column: str, kind: str, cmd: List[str],
            metrics: Optional[str], rep: int) -> dict:
    if metrics:
        os.makedirs(os.path.dirname(metrics), exist_ok=True)
        if os.path.exists(metrics):
            os.unlink(metrics)
    log = os.path.join(ctx.build_dir, "benchmarks", "logs", f"kernel-{column}-{kind}-rep{rep}.log")
    os.makedirs(os.path.dirname(log), exist_ok=True)
    o = procrun.run_watched(cmd, {}, [], ctx.timeout_s, log_path=log)
    cycles = {m.group("name"): int(m.group("cycles")) for m in BENCH_LINE.finditer(o.output)}
    passed = ("native_nano: PASS" in o.output and o.exit_code == 0) if column == "native64" \
        else "guest: PASS" in o.output
    verdict = "TIMEOUT" if o.timed_out else ("ERROR" if o.error else
                                             ("PASS" if passed else "FAIL"))
    return {"rep": rep, "kind": kind, "column": column, "command": cmd, "log": log,
            "wall_s": o.wall_s,
            "cpu_s": o.cpu_s, "exit_code": o.exit_code, "verdict": verdict,
            "error": None if verdict == "PASS" else (o.error or o.output.strip()[-400:]),
            "cycles": cycles if verdict == "PASS" else {},
            "stats": counters.load_metrics(metrics)}


def summarize(measurements: List[dict], present: List[str]) -> dict:
    """Median (and minimum) cycles per row and column over passing runs; median CPU seconds of
    the forkwait runs (whole VM process); ratios and the paper's figure beside them."""
    cyc: Dict[str, Dict[str, dict]] = {}
    for c in present:
        cyc[c] = {}
        for row in ROWS:
            vals = [m["cycles"][row] for m in measurements
                    if m["column"] == c and m["verdict"] == "PASS" and row in m["cycles"]]
            if vals:
                cyc[c][row] = {"median": statistics.median(vals), "min": min(vals), "n": len(vals)}
    fork_cpu = {}
    for c in present:
        vals = [m["cpu_s"] for m in measurements if m["column"] == c and m["verdict"] == "PASS"
                and m["kind"] in ("forkwait", "nano+forkwait")]
        if vals:
            fork_cpu[c] = statistics.median(vals)
    rows = {}
    for row in ROWS:
        bt = cyc.get("btvmm-bt", {}).get(row, {}).get("median")
        nat = cyc.get("native64", {}).get(row, {}).get("median")
        qemu = cyc.get("qemu-tcg", {}).get(row, {}).get("median")
        like, what = NATIVE_COUNTERPART.get(row, (False, NO_NATIVE.get(row, "")))
        p = paper.for_ours(row)
        r = {"native_counterpart": what, "native_like_for_like": like,
             "bt_over_native64": bt / nat if bt and nat and like else None,
             "bt_over_qemu_tcg": bt / qemu if bt and qemu else None,
             "paper": p, "paper_bt_over_native": p["bt_over_native"] if p else None}
        r["target_faster_than_qemu"] = None if r["bt_over_qemu_tcg"] is None else \
            r["bt_over_qemu_tcg"] < 1.0
        if r["bt_over_native64"] is not None and r["paper_bt_over_native"] is not None:
            r["target_no_worse_than_vmware_bt"] = r["bt_over_native64"] <= r["paper_bt_over_native"]
        else:
            r["target_no_worse_than_vmware_bt"] = None
        rows[row] = r
    return {"cycles": cyc, "forkwait_run_cpu_s": fork_cpu, "rows": rows}


def _f(v: Optional[float], digits: int = 2) -> str:
    if v is None:
        return "-"
    return f"{v:.{digits}f}" if v < 100 else f"{v:.0f}"


def format_table(summary: dict, absent: Dict[str, str], failures: Dict[str, str]) -> str:
    cyc = summary["cycles"]
    head = ["benchmark", "native64", "btvmm-bt", "qemu-tcg", "bt/native64", "bt/qemu",
            "VMware BT/native", "VMware BT cyc"]
    lines = [head]
    for row in ROWS:
        r = summary["rows"][row]

        def cell(c: str) -> str:
            if c in failures:
                return failures[c]
            v = cyc.get(c, {}).get(row, {}).get("median")
            return f"{v:.0f}" if v is not None else "-"
        p = r["paper"]
        lines.append([row, cell("native64"), cell("btvmm-bt"), cell("qemu-tcg"),
                      _f(r["bt_over_native64"]), _f(r["bt_over_qemu_tcg"], 3),
                      _f(r["paper_bt_over_native"]), str(p["bt"]) if p and p["bt"] else "-"])
    widths = [max(len(r[i]) for r in lines) for i in range(len(head))]
    text = ["  ".join(cell.rjust(widths[i]) if i else cell.ljust(widths[i])
                      for i, cell in enumerate(r)) for r in lines]
    text.insert(1, "-" * len(text[0]))
    notes = ["cycles per iteration (forkwait: per fork), host TSC, median of the repetitions; "
             "bt/qemu < 1 means btvmm-bt is faster than QEMU TCG",
             "bt/native64 only where the host can run the same operation (see benchmarks/README.md);"
             " VMware BT/native: Adams & Agesen 2006 figure 4 (text figures)"]
    for c, v in summary["forkwait_run_cpu_s"].items():
        notes.append(f"forkwait run, whole process CPU (median): {c} {v:.2f} s")
    for name, why in absent.items():
        notes.append(f"{name}: absent ({why})")
    return "\n".join(text + [""] + notes)


def targets(summary: dict) -> List[str]:
    """One line per issue-7 target this table decides."""
    out = []
    slower = [r for r, v in summary["rows"].items() if v["target_faster_than_qemu"] is False]
    faster = [r for r, v in summary["rows"].items() if v["target_faster_than_qemu"] is True]
    unmeasured = [r for r, v in summary["rows"].items() if v["target_faster_than_qemu"] is None]
    out.append("every kernel-heavy workload under bt faster than QEMU TCG: "
               + ("met" if not slower and not unmeasured else "not met")
               + f" (faster: {', '.join(faster) or 'none'}; slower: {', '.join(slower) or 'none'}"
               + (f"; not measured: {', '.join(unmeasured)}" if unmeasured else "") + ")")
    judged = {r: v for r, v in summary["rows"].items()
              if v["target_no_worse_than_vmware_bt"] is not None}
    worse = [r for r, v in judged.items() if not v["target_no_worse_than_vmware_bt"]]
    no_native = [r for r, v in summary["rows"].items() if v["paper"] and r not in judged]
    out.append("nanobenchmarks no worse relative to native than VMware BT (figure 4): "
               + ("met" if judged and not worse else "not met")
               + f" (judged: {', '.join(judged) or 'none'}; worse: {', '.join(worse) or 'none'}; "
               f"no native counterpart here: {', '.join(no_native) or 'none'})")
    return out
