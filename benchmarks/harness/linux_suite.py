"""The Linux-guest table (issue 7 item 2, second half, and issue 6's boot-time benchmark): the
stock kernel of the boot set (~/.cache/btvmm/linux) boots to /init, then runs
benchmarks/linux/bench.sh (fork/exec/wait shell loop, 1-byte read/write loop, page-fault-heavy
allocator loop) from an overlay archive appended to the cached initramfs.

Everything is timed from outside: boot time = start of the VM process to the console line
"btvmm-linux: init started" (what /init prints right after its boot-timer write to port 0x3f0,
scripts/linux/initramfs/init; btvmm has no boot-timer device to report it); a workload = its
"bench-linux: begin" line to its "end" line. Each phase has its own deadline: a phase that misses
it is TIMEOUT, and later phases of that run are NOT-REACHED, never a time.
"""

import os
import re
import shutil
import statistics
import subprocess
from typing import Dict, List, Optional

from . import columns, counters, procrun

WORKLOADS = ["forkexec", "rw", "alloc"]
ROWS = ["kernel-boot", "boot"] + WORKLOADS
COLUMN_NAMES = ["btvmm-bt", "qemu-tcg", "btvmm-kvm", "qemu-kvm"]
WHAT = {
    "kernel-boot": "process start to the kernel's \"Run /init as init process\" line",
    "boot": "boot to /init (console line after the 0x3f0 boot-timer write)",
    "forkexec": "shell loop: fork + exec + wait of a static program (200 runs)",
    "rw": "1-byte read of /dev/zero + 1-byte write to /dev/null (20000 each)",
    "alloc": "mmap 256 pages, touch each, munmap (20 rounds: 5120 demand-zero faults)",
}
# Iterations in the full sizes of bench.sh, for "per iteration" counter lines.
ITERATIONS = {"forkexec": 200, "rw": 40000, "alloc": 5120}

# The reference machine of tests/linux/qemu-reference.sh (CONVENTIONS.md, "Devices a stock
# Linux kernel will use"): ISA PC, Pentium II stripped to FPU, TSC, CX8 and CMOV.
QEMU_CPU = "pentium2,-vme,-de,-pse,-msr,-pae,-mce,-apic,-sep,-mtrr,-pge,-mca,-pat,-pse36,-mmx,-fxsr"


def boot_dir() -> str:
    return os.path.join(os.environ.get("BTVMM_CACHE", os.path.expanduser("~/.cache/btvmm")),
                        "linux")


def cmdline(repo_dir: str, quick: bool) -> str:
    with open(os.path.join(repo_dir, "scripts", "linux", "cmdline"), encoding="utf-8") as f:
        words = [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    return " ".join(words + ["btvmm.test=bench"] + (["btvmm.bench=quick"] if quick else []))


def initramfs(ctx: columns.Context) -> str:
    return os.path.join(ctx.build_dir, "benchmarks", "linux", "initramfs-bench.cpio.gz")


def prepare(ctx: columns.Context) -> Optional[str]:
    """Builds the boot archive (this tree's initramfs + benchmark overlay); returns why it could not.

    The initramfs is made from the current scripts, as the ctest fixture does, never taken from
    the cache: a stale or missing archive there must not hide the suite or stand in for it."""
    if not os.path.exists(os.path.join(boot_dir(), "vmlinuz")):
        return f"no Linux boot set in {boot_dir()} (scripts/linux/fetch-boot-set.sh)"
    out_dir = os.path.dirname(initramfs(ctx))
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(out_dir, "initramfs.cpio.gz")
    steps = [
        [os.path.join(ctx.repo_dir, "scripts", "linux", "make-initramfs.sh"), "-o", base, boot_dir()],
        [os.path.join(ctx.repo_dir, "benchmarks", "linux", "make-bench-initramfs.sh"), base, out_dir],
    ]
    for step in steps:
        r = subprocess.run(step, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        if r.returncode != 0:
            return f"{os.path.basename(step[0])} failed: {r.stdout.strip()[-300:]}"
    return None


def probe(ctx: columns.Context, quick: bool) -> Dict[str, Optional[str]]:
    why = ctx.cache.get("linux-prepare")
    if "linux-prepare" not in ctx.cache:
        why = ctx.cache["linux-prepare"] = prepare(ctx)
    kvm = columns._kvm_reason(ctx)
    out = {}
    for c in COLUMN_NAMES:
        if why:
            out[c] = why
        elif c.startswith("btvmm-"):
            out[c] = None if os.access(ctx.btvmm(), os.X_OK) else f"btvmm not built ({ctx.btvmm()})"
            if c == "btvmm-kvm":
                out[c] = kvm or out[c]
            elif quick:
                out[c] = ("not run by --quick: a Linux boot under btvmm-bt takes minutes today "
                          "(the full run measures it)")
        else:
            out[c] = "qemu-system-i386 not installed" if shutil.which("qemu-system-i386") is None \
                else (kvm if c == "qemu-kvm" else None)
    return out


def command(ctx: columns.Context, column: str, metrics: Optional[str]) -> List[str]:
    kernel = os.path.join(boot_dir(), "vmlinuz")
    append = cmdline(ctx.repo_dir, ctx.quick)
    if column.startswith("btvmm-"):
        cmd = [ctx.btvmm(), "run", "--accel", column.split("-", 1)[1], "-m", "256", "--no-reboot",
               "--kernel", kernel, "--initrd", initramfs(ctx), "--append", append]
        return cmd + (["--metrics", metrics] if metrics else [])
    return ["qemu-system-i386", "-accel", column.split("-", 1)[1], "-M", "isapc", "-cpu", QEMU_CPU,
            "-m", "256", "-nographic", "-no-reboot", "-monitor", "none", "-kernel", kernel,
            "-initrd", initramfs(ctx), "-append", append]


MARKERS = {"kernel-boot": r"Run /init as init process", "boot": r"btvmm-linux: init started",
           "done": r"^bench-linux: done"}
for _w in WORKLOADS:
    MARKERS[f"begin:{_w}"] = rf"^bench-linux: begin {_w}\b"
    MARKERS[f"end:{_w}"] = rf"^bench-linux: end {_w} status \d+"
COMPILED = procrun.compile_markers(MARKERS)
RESULT_OK = {"forkexec": re.compile(r"^bench-linux: forkexec \d+ runs, 0 failures", re.M),
             "rw": re.compile(r"^bench-rw: .* ok\s*$", re.M),
             "alloc": re.compile(r"^bench-alloc: .* ok\s*$", re.M)}


def run_one(ctx: columns.Context, column: str, rep: int, boot_timeout: float,
            phase_timeout: float) -> dict:
    metrics = None
    if column.startswith("btvmm-"):
        metrics = os.path.join(ctx.build_dir, "benchmarks", "metrics", f"linux-{column}.json")
        os.makedirs(os.path.dirname(metrics), exist_ok=True)
        if os.path.exists(metrics):
            os.unlink(metrics)
    cmd = command(ctx, column, metrics)
    deadlines = [procrun.Deadline("boot", None, "boot", boot_timeout)]
    deadlines += [procrun.Deadline(w, f"begin:{w}", f"end:{w}", phase_timeout) for w in WORKLOADS]
    # The first workload must begin soon after /init (it is the next thing the script does).
    deadlines.append(procrun.Deadline("start", "boot", f"begin:{WORKLOADS[0]}", phase_timeout))
    total = boot_timeout + phase_timeout * (len(WORKLOADS) + 1)
    log = os.path.join(ctx.build_dir, "benchmarks", "logs", f"linux-{column}-rep{rep}.log")
    os.makedirs(os.path.dirname(log), exist_ok=True)
    o = procrun.run_watched(cmd, COMPILED, deadlines, total, stop_after="done", log_path=log)
    phases = {}
    kboot = o.marks.get("kernel-boot")
    phases["kernel-boot"] = _phase(0.0, 0.0, kboot, "PASS" if kboot else
                                   ("TIMEOUT" if o.timed_out else "FAIL"))
    boot = o.marks.get("boot")
    phases["boot"] = _phase(0.0, 0.0, boot, "PASS" if boot else
                            ("TIMEOUT" if o.timed_out else "FAIL"))
    for w in WORKLOADS:
        b, e = o.marks.get(f"begin:{w}"), o.marks.get(f"end:{w}")
        if b and e:
            ok = RESULT_OK[w].search(o.output) and e.line.rstrip().endswith("status 0")
            phases[w] = _phase(b.wall_s, b.cpu_s, e, "PASS" if ok else "FAIL")
        elif b:
            phases[w] = _phase(0, 0, None, "TIMEOUT" if o.timed_out else "FAIL")
        else:
            phases[w] = _phase(0, 0, None, "NOT-REACHED")
    bad = [p["verdict"] for p in phases.values() if p["verdict"] != "PASS"]
    tail = o.output.strip().splitlines()[-6:]
    return {"rep": rep, "column": column, "command": cmd, "log": log,
            "wall_s": o.wall_s, "cpu_s": o.cpu_s,
            "exit_code": o.exit_code, "timed_out": o.timed_out, "phases": phases,
            "verdict": "PASS" if not bad else bad[0],
            "error": None if not bad else (o.error or " | ".join(tail)[-400:]),
            "stats": counters.load_metrics(metrics)}


def _phase(wall0: float, cpu0: Optional[float], end: Optional[procrun.Mark], verdict: str) -> dict:
    if end is None or verdict != "PASS":
        return {"verdict": verdict, "wall_s": None, "cpu_s": None}
    cpu = end.cpu_s - cpu0 if end.cpu_s is not None and cpu0 is not None else None
    return {"verdict": verdict, "wall_s": end.wall_s - wall0, "cpu_s": cpu}


def summarize(measurements: List[dict], present: List[str], metric: str) -> dict:
    med: Dict[str, Dict[str, float]] = {c: {} for c in present}
    verdicts: Dict[str, Dict[str, List[str]]] = {c: {} for c in present}
    for c in present:
        for row in ROWS:
            # Runs recorded before a phase existed simply lack it.
            runs = [m["phases"][row] for m in measurements if m["column"] == c
                    and row in m["phases"]]
            verdicts[c][row] = [p["verdict"] for p in runs]
            vals = [p[metric] for p in runs if p["verdict"] == "PASS" and p[metric] is not None]
            if vals:
                med[c][row] = statistics.median(vals)
    ratio = {}
    for row in ROWS:
        bt, q = med.get("btvmm-bt", {}).get(row), med.get("qemu-tcg", {}).get(row)
        ratio[row] = bt / q if bt and q else None
    return {"metric": metric, "median_s": med, "verdicts": verdicts, "bt_over_qemu_tcg": ratio}


def format_table(summary: dict, absent: Dict[str, str]) -> str:
    cols = [c for c in COLUMN_NAMES if c in summary["median_s"]]
    head = ["linux", *[f"{c} [s]" for c in cols], "bt/qemu"]
    lines = [head]
    for row in ROWS:
        cells = [row]
        for c in cols:
            v = summary["median_s"][c].get(row)
            vs = summary["verdicts"][c].get(row, [])
            bad = next((x for x in vs if x != "PASS"), None)
            cells.append(f"{v:.2f}" if v is not None else (bad or "-"))
        r = summary["bt_over_qemu_tcg"][row]
        cells.append(f"{r:.2f}" if r is not None else "-")
        lines.append(cells)
    widths = [max(len(r[i]) for r in lines) for i in range(len(head))]
    text = ["  ".join(cell.rjust(widths[i]) if i else cell.ljust(widths[i])
                      for i, cell in enumerate(r)) for r in lines]
    text.insert(1, "-" * len(text[0]))
    notes = [f"median {summary['metric']} of each phase (boot: process start to /init); "
             "bt/qemu < 1 means btvmm-bt is faster; TIMEOUT/NOT-REACHED: no time exists"]
    notes += [f"{r}: {WHAT[r]}" for r in ROWS]
    for c in cols:
        n = [f"{r} {sum(v == 'PASS' for v in summary['verdicts'][c].get(r, []))}" for r in ROWS]
        notes.append(f"passing samples, {c}: " + ", ".join(n))
    for name, why in absent.items():
        notes.append(f"{name}: absent ({why})")
    return "\n".join(text + [""] + notes)


def targets(summary: dict) -> List[str]:
    r = summary["bt_over_qemu_tcg"]
    faster = [w for w in ROWS if r[w] is not None and r[w] < 1]
    slower = [w for w in ROWS if r[w] is not None and r[w] >= 1]
    none = [w for w in ROWS if r[w] is None]
    met = not slower and not none
    return [f"Linux guest workloads under bt faster than QEMU TCG: {'met' if met else 'not met'} "
            f"(faster: {', '.join(faster) or 'none'}; slower: {', '.join(slower) or 'none'}"
            + (f"; not measured: {', '.join(none)}" if none else "") + ")"]
