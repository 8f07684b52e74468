"""Runs one workload under one column and turns the outcome into a measurement record.

Never trusts an exit status alone: a measurement passes only if the workload printed its
verdict line with matching checksums (bench_report in benchmarks/workloads/bench_common.c).
"""

import json
import os
import re
import resource
import subprocess
import time
from typing import Optional

from .columns import BOOT_VERDICT, Column, Context

# The line bench_report prints; guest columns mix it with console output, hence MULTILINE.
VERDICT_RE = re.compile(
    r"^(?P<name>\w+): checksum (?P<got>[0-9a-f]{8}) expected (?P<want>[0-9a-f]{8}) "
    r"(?P<verdict>PASS|FAIL)\s*$", re.MULTILINE)


def _children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def parse_verdict(workload: str, output: str) -> dict:
    """Returns checksum, expected and verdict ("PASS", "FAIL" or "NO-VERDICT")."""
    for m in VERDICT_RE.finditer(output):
        if m.group("name") == workload:
            ok = m.group("verdict") == "PASS" and m.group("got") == m.group("want")
            return {"checksum": m.group("got"), "expected": m.group("want"),
                    "verdict": "PASS" if ok else "FAIL"}
    return {"checksum": None, "expected": None, "verdict": "NO-VERDICT"}


def run_boot(ctx: Context, column: Column, rep: int) -> dict:
    """Times the column's VM booting the guest, running hello and powering off (a guest
    column's fixed cost, subtracted for the workload-only figures). Passes only if the guest
    printed its all-passed line."""
    return run_one(ctx, column, "boot", rep, column.boot_command(ctx),
                   lambda out: {"checksum": None, "expected": None,
                                "verdict": "PASS" if BOOT_VERDICT in out else "NO-VERDICT"})


def run_one(ctx: Context, column: Column, workload: str, rep: int, cmd: Optional[list] = None,
            verdict=None) -> dict:
    """Runs the command once; wall time around the whole process, CPU time of the child
    (user + system) from getrusage, which is steadier on a shared machine."""
    if cmd is None:
        cmd = column.command(ctx, workload)
    record = {"rep": rep, "workload": workload, "column": column.name, "command": cmd,
              "wall_s": None, "cpu_s": None, "exit_code": None, "stats": None,
              "unavailable": None, "error": None}
    metrics = column.metrics_file(ctx, workload) if column.metrics_file and verdict is None else None
    if metrics:
        os.makedirs(os.path.dirname(metrics), exist_ok=True)
        if os.path.exists(metrics):
            os.unlink(metrics)
    cpu0 = _children_cpu_s()
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=ctx.timeout_s, check=False)
    except subprocess.TimeoutExpired:
        record.update(verdict="TIMEOUT", checksum=None, expected=None,
                      error=f"no result within {ctx.timeout_s:g} s")
        return record
    except OSError as e:
        record.update(verdict="ERROR", checksum=None, expected=None,
                      error=f"{cmd[0]}: {e.strerror}")
        return record
    record["wall_s"] = time.perf_counter() - t0
    record["cpu_s"] = _children_cpu_s() - cpu0
    record["exit_code"] = r.returncode
    out = r.stdout.decode("utf-8", "replace")
    err = r.stderr.decode("utf-8", "replace")
    record.update(verdict(out) if verdict else parse_verdict(workload, out))
    if record["verdict"] == "PASS" and not column.guest and r.returncode != 0:
        record["verdict"] = "FAIL"
    if record["verdict"] != "PASS":
        record["error"] = (err.strip() or out.strip())[-400:]
        if column.unavailable:
            record["unavailable"] = column.unavailable(err)
    if metrics and os.path.exists(metrics):
        with open(metrics, encoding="utf-8") as f:
            record["stats"] = json.load(f)
    return record
