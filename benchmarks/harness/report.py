"""Summaries and outputs of a benchmark run: medians, ratios to the baseline, the SPEC-style
geometric mean, the terminal table, the JSON document and benchmarks/RESULTS.md.

Pure functions of the measurements (plus machine/git facts); never runs a workload. A cell
with no passing measurement is reported as missing, never as zero.
"""

import datetime
import math
import os
import platform
import statistics
import subprocess
from typing import Dict, List, Optional

SCHEMA = "btvmm-bench-suite/3"
# /1 documents (SPECint-style part only) can still be re-summarized with --from-json.
SCHEMAS_READ = ("btvmm-bench-suite/1", "btvmm-bench-suite/2", SCHEMA)


def choose_baseline(present: List[str]) -> Optional[str]:
    """native is the physical limit; native64 stands in only where i386 cannot run."""
    for name in ("native", "native64"):
        if name in present:
            return name
    return None


def geometric_mean(values: List[float]) -> Optional[float]:
    if not values or any(v <= 0 for v in values):
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def summarize(measurements: List[dict], columns: List[str], workloads: List[str],
              baseline: Optional[str], metric: str, boots: Optional[List[dict]] = None) -> dict:
    """Per column: the median of the passing measurements of each workload, the speed
    ratio baseline_median / column_median (1.0 = as fast as the baseline, SPEC habit) and
    the geometric mean of the ratios, marked complete only if every workload has one.

    With `boots` (runs of each guest column's VM booting the guest and running hello), also
    the workload-only figures: a guest column's median minus its boot median, as SPEC run
    inside an already booted VM is timed. Host-process columns have no boot to subtract."""
    medians: Dict[str, Dict[str, float]] = {c: {} for c in columns}
    for c in columns:
        for w in workloads:
            times = [m[metric] for m in measurements if m["column"] == c and m["workload"] == w
                     and m["verdict"] == "PASS" and m[metric] is not None]
            if times:
                medians[c][w] = statistics.median(times)
    out = {"metric": metric, "baseline": baseline, "columns": {}}
    for c in columns:
        ratios = {}
        if baseline is not None:
            for w, t in medians[c].items():
                base = medians[baseline].get(w)
                if base is not None and t > 0:
                    ratios[w] = base / t
        out["columns"][c] = {
            "median_s": medians[c],
            "ratio_to_baseline": ratios,
            "geomean_ratio": geometric_mean(list(ratios.values())),
            "complete": len(ratios) == len(workloads),
        }
    if boots is None:
        return out
    boot_s = {}
    for c in columns:
        times = [b[metric] for b in boots if b["column"] == c and b["verdict"] == "PASS"
                 and b[metric] is not None]
        if times:
            boot_s[c] = statistics.median(times)
    guest_columns = {b["column"] for b in boots}
    for c in columns:
        col = out["columns"][c]
        if c in guest_columns and c not in boot_s:
            continue  # a guest column whose boot never passed: no workload-only figure
        boot = boot_s.get(c, 0.0)
        net = {w: t - boot for w, t in medians[c].items() if t - boot > 0}
        base_net = {w: t - boot_s.get(baseline, 0.0) for w, t in medians.get(baseline, {}).items()} \
            if baseline is not None else {}
        net_ratios = {w: base_net[w] / t for w, t in net.items() if base_net.get(w, 0) > 0}
        col["boot_median_s"] = boot_s.get(c)
        col["net_median_s"] = net
        col["net_ratio_to_baseline"] = net_ratios
        col["net_geomean_ratio"] = geometric_mean(list(net_ratios.values()))
        col["net_complete"] = len(net_ratios) == len(workloads)
    return out


def format_table(summary: dict, workloads: List[str], absent: Dict[str, str],
                 failures: Dict[str, Dict[str, str]]) -> str:
    """Baseline seconds first, then every present column as a speed ratio to it."""
    cols = list(summary["columns"].keys())
    base = summary["baseline"]
    head = ["workload", f"{base or 'baseline'} [s]"] + cols
    rows = [head]
    for w in workloads:
        base_s = summary["columns"].get(base, {}).get("median_s", {}).get(w) if base else None
        row = [w, f"{base_s:.3f}" if base_s is not None else "-"]
        for c in cols:
            # Without a baseline there are no ratios: show the medians in seconds instead.
            r = (summary["columns"][c]["ratio_to_baseline"] if base else
                 summary["columns"][c]["median_s"]).get(w)
            row.append(failures.get(c, {}).get(w) or (f"{r:.3f}" if r is not None else "-"))
        rows.append(row)
    geo = ["geomean", ""]
    for c in cols:
        g = summary["columns"][c]["geomean_ratio"]
        mark = "" if summary["columns"][c]["complete"] else "*"
        geo.append(f"{g:.3f}{mark}" if g is not None else "-")
    rows.append(geo)
    if any("net_geomean_ratio" in summary["columns"][c] for c in cols):
        net = ["geomean, workload only", ""]
        for c in cols:
            col = summary["columns"][c]
            g = col.get("net_geomean_ratio")
            net.append((f"{g:.3f}" + ("" if col["net_complete"] else "*")) if g is not None else "-")
        rows.append(net)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(cell.rjust(widths[i]) if i else cell.ljust(widths[i])
                       for i, cell in enumerate(r)) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    has_net = len(rows) > len(workloads) + 2
    lines.insert(len(lines) - (2 if has_net else 1), "-" * len(lines[0]))
    notes = [f"ratio = {base} time / column time ({summary['metric']}, median); 1.000 = as fast "
             f"as {base}; * = geometric mean over fewer than all workloads"] if base else [
             f"no baseline column ran: cells are median {summary['metric']} in seconds"]
    if has_net:
        boots = ", ".join(f"{c} {summary['columns'][c]['boot_median_s']:.2f} s" for c in cols
                          if summary["columns"][c].get("boot_median_s") is not None)
        notes.append("workload only = each guest column's times minus the median of its boot run "
                     f"(the VM boots the guest, runs hello, powers off: {boots}), as SPEC is timed "
                     "inside a running VM; the rows above include the boot")
    for name, why in absent.items():
        notes.append(f"{name}: absent ({why})")
    return "\n".join(lines + [""] + notes)


def _read(cmd: List[str], cwd: Optional[str] = None) -> Optional[str]:
    try:
        r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True, check=False)
    except OSError:
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def machine_info() -> dict:
    cpu = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu_model": cpu, "cpus_online": os.cpu_count(), "tsc_mhz": _tsc_mhz(),
            "kernel": f"{platform.system()} {platform.release()}",
            "os": _read(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
            "gcc": _read(["gcc", "-dumpfullversion"]),
            "qemu": (_read(["qemu-system-i386", "--version"]) or "").split("\n")[0] or None,
            "load_average": list(os.getloadavg())}


def _tsc_mhz() -> Optional[float]:
    """The host TSC rate, to read the nanobenchmarks' cycles as time (cpuinfo's "cpu MHz" is
    the TSC rate on hosts with constant_tsc, which the machine facts record)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    if "constant_tsc" not in text:
        return None
    for line in text.splitlines():
        if line.startswith("cpu MHz"):
            return float(line.split(":", 1)[1])
    return None


def btvmm_version(path: str) -> Optional[str]:
    return _read([path, "--version"]) if os.access(path, os.X_OK) else None


def git_info(repo: str) -> dict:
    commit = _read(["git", "rev-parse", "HEAD"], cwd=repo)
    dirty = _read(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo)
    return {"commit": commit, "dirty": bool(dirty) if dirty is not None else None}


def now_utc() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def spec_target(doc: dict) -> str:
    """The issue-7 target of the SPECint-style suite, as one line."""
    base = doc["summary"]["baseline"]
    bt = doc["summary"]["columns"].get("btvmm-bt")
    absent = {c["name"]: c["reason"] for c in doc["columns"] if not c["present"]}
    if bt and bt["geomean_ratio"] is not None:
        net = bt.get("net_geomean_ratio")
        # The workload-only figure is the one SPEC-in-a-VM results report; without it, the whole run.
        best, complete = (net, bt["net_complete"]) if net is not None else (bt["geomean_ratio"], bt["complete"])
        verdict = "met" if complete and best >= 0.97 else "not met"
        note = "" if base == "native" else (f" (measured against {base}: the host cannot run "
                                            "i386 code, so this is the closest figure)")
        figures = (f"{net:.3f}{'' if bt['net_complete'] else '*'} workload only, "
                   f"{bt['geomean_ratio']:.3f}{'' if bt['complete'] else '*'} with the guest's boot"
                   if net is not None else f"{bt['geomean_ratio']:.3f}{'' if bt['complete'] else '*'}")
        return f"SPECint-style geometric mean under bt >= 0.97 of native: {figures}, {verdict}{note}"
    why = absent.get("btvmm-bt") or "no passing btvmm-bt run"
    return f"SPECint-style geometric mean under bt >= 0.97 of native: not measured ({why})"


def results_header(doc: dict, json_name: str) -> str:
    """RESULTS.md's head for a run without the SPECint-style part."""
    m, g = doc["machine"], doc["git"]
    return "\n".join([
        "# Benchmark results", "",
        "Generated by `benchmarks/run --write-results`; do not edit by hand. Schema of the raw "
        f"data: [README.md](README.md). Raw measurements: [{json_name}]({json_name}).", "",
        f"* date: {doc['date']}",
        f"* machine: {m['cpu_model']}, {m['cpus_online']} CPUs online, {m['kernel']}, "
        f"load average at start {m['load_average'][0]:.2f}",
        f"* commit: {g['commit']}{' (working tree had local changes)' if g['dirty'] else ''}", ""])


def results_markdown(doc: dict, table: str, png_name: Optional[str], json_name: str) -> str:
    m = doc["machine"]
    g = doc["git"]
    s = doc["settings"]
    base = doc["summary"]["baseline"]
    lines = [
        "# Benchmark results",
        "",
        "Generated by `benchmarks/run --write-results`; do not edit by hand. Schema of the raw "
        f"data: [README.md](README.md). Raw measurements: [{json_name}]({json_name}).",
        "",
        f"* date: {doc['date']}",
        f"* machine: {m['cpu_model']}, {m['cpus_online']} CPUs online, {m['kernel']}, "
        f"{m['os']}, gcc {m['gcc']}, load average at start {m['load_average'][0]:.2f}",
        f"* commit: {g['commit']}{' (working tree had local changes)' if g['dirty'] else ''}"
        + (f"; btvmm and the test guest built from {s['btvmm_commit']} (`{s.get('btvmm')}`)"
           if s.get("btvmm_commit") else ""),
        f"* repetitions: {s['repetitions']}"
        + (f" ({s['slow_repetitions']} for btvmm-bt in the SPECint-style and Linux suites)"
           if s.get("slow_repetitions", s["repetitions"]) != s["repetitions"] else "")
        + f", interleaved; metric: `{s['metric']}` (cpu_s = user + "
        "system CPU time of the run, wall_s = wall clock; both are in the JSON), median of the "
        "passing repetitions",
        f"* baseline: {base}; guest kernel for the guest columns: `{s.get('guest_kernel')}`",
        f"* SPECint-style inputs: {s.get('spec_size') or ('small' if s['quick'] else 'full')}" + (
            " (the --quick inputs, ~0.1 s natively: a guest column's time is mostly its VM's "
            "boot and start-up, so guest ratios understate guest speed)"
            if (s.get("spec_size") or ("small" if s["quick"] else "full")) == "small"
            else " (2-10 s natively)"),
        f"* TSC: {m.get('tsc_mhz')} MHz (the nanobenchmarks' cycles are host TSC cycles)",
        "",
        "## SPECint-style suite",
        "",
        "```",
        table,
        "```",
        "",
    ]
    if png_name:
        lines += [f"![speed relative to {base}]({png_name})", ""]
    lines += [f"Issue 7 target: {spec_target(doc)}.", ""]
    lines += ["## Median times [s]", "", "| workload | " +
              " | ".join(doc["summary"]["columns"].keys()) + " |",
              "|---|" + "---|" * len(doc["summary"]["columns"])]
    for w in doc["workloads"]:
        cells = []
        for c in doc["summary"]["columns"].values():
            t = c["median_s"].get(w)
            cells.append(f"{t:.3f}" if t is not None else "-")
        lines.append(f"| {w} | " + " | ".join(cells) + " |")
    boots = [c.get("boot_median_s") for c in doc["summary"]["columns"].values()]
    if any(b is not None for b in boots):
        lines.append("| boot (guest columns: boot, hello, power off; subtracted for \"workload only\") | "
                     + " | ".join(f"{b:.3f}" if b is not None else "-" for b in boots) + " |")
    lines.append("")
    if base != "native":
        lines += ["Note: the `native` column (the workloads as host 32-bit processes) could not "
                  "run on this machine, so ratios are relative to `native64`, the same sources "
                  "compiled for x86-64. That is a reference, not the physical limit of 32-bit "
                  "code: compare columns with each other, not with 1.0.", ""]
    return "\n".join(lines)
