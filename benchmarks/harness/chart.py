"""The PNG charts of a run: for the SPECint-style suite one cluster of bars per workload (and
the geometric mean), one bar per column, height = speed relative to the baseline; for the
kernel-heavy and Linux suites the cycles / seconds per column on a log scale. Drawn with
gnuplot from Debian (gnuplot-nox); never fails the run when gnuplot is missing, it says so."""

import os
import shutil
import subprocess
import tempfile
from typing import List, Optional


def _quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def write_png(summary: dict, workloads: List[str], path: str, title: str) -> Optional[str]:
    """Returns None on success, otherwise the reason no chart was written."""
    if shutil.which("gnuplot") is None:
        return "gnuplot not installed (Debian package gnuplot-nox)"
    base = summary["baseline"]
    cols = [c for c in summary["columns"] if c != base and summary["columns"][c]["ratio_to_baseline"]]
    if base is None or not cols:
        return "no column besides the baseline has results"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "ratios.dat")
        with open(data, "w", encoding="utf-8") as f:
            f.write("workload " + " ".join(cols) + "\n")
            for w in workloads + ["geomean"]:
                cells = []
                for c in cols:
                    s = summary["columns"][c]
                    v = s["geomean_ratio"] if w == "geomean" else s["ratio_to_baseline"].get(w)
                    cells.append(f"{v:.5f}" if v is not None else "-")
                f.write(w + " " + " ".join(cells) + "\n")
        values = [v for c in cols for v in summary["columns"][c]["ratio_to_baseline"].values()]
        top = max([1.1] + [1.1 * v for v in values])
        plots = [f"{_quote(data)} using {i + 2}{':xtic(1)' if i == 0 else ''} "
                 f"title columnheader({i + 2})" for i in range(len(cols))]
        script = "\n".join([
            "set terminal pngcairo size 1100,520 noenhanced font 'sans,10'",
            f"set output {_quote(path)}",
            f"set title {_quote(title)}",
            "set style data histograms",
            "set style histogram clustered gap 1",
            "set style fill solid 0.85 border -1",
            "set datafile missing '-'",
            "set key outside right top",
            "set grid ytics",
            f"set yrange [0:{top:.3f}]",
            f"set ylabel {_quote('speed relative to ' + base + ' (1.0 = as fast; higher is faster)')}",
            "set arrow from graph 0, first 1 to graph 1, first 1 nohead dashtype 2",
            "plot " + ", ".join(plots),
        ])
        r = subprocess.run(["gnuplot"], input=script, text=True, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, check=False)
        if r.returncode != 0:
            return "gnuplot failed: " + r.stderr.strip()[-300:]
    return None


def _histogram(data_path: str, cols: List[str], title: str, ylabel: str) -> List[str]:
    plots = [f"{_quote(data_path)} using {i + 2}{':xtic(1)' if i == 0 else ''} "
             f"title columnheader({i + 2})" for i in range(len(cols))]
    return [f"set title {_quote(title)}", f"set ylabel {_quote(ylabel)}",
            "plot " + ", ".join(plots)]


def write_kernel_png(doc: dict, path: str, title: str) -> Optional[str]:
    """Two log-scale panels: the test guest's nanobenchmarks and forkwait (cycles per iteration,
    native64 / btvmm-bt / qemu-tcg) and the Linux guest's phases (seconds). Missing cells are
    gaps, never zero bars. Returns None on success, otherwise why no chart was written."""
    if shutil.which("gnuplot") is None:
        return "gnuplot not installed (Debian package gnuplot-nox)"
    k, lx = doc.get("kernel", {}).get("summary"), doc.get("linux", {}).get("summary")
    panels = []
    if k:
        cols = [c for c in ("native64", "btvmm-bt", "qemu-tcg") if k["cycles"].get(c)]
        rows = doc["kernel"]["settings"]["rows"]
        table = {r: {c: k["cycles"][c].get(r, {}).get("median") for c in cols} for r in rows}
        if cols:
            panels.append(("test guest, cycles per iteration (log scale, lower is faster)",
                           "host TSC cycles", cols, rows, table))
    if lx:
        cols = [c for c in ("btvmm-bt", "qemu-tcg") if lx["median_s"].get(c)]
        # Every phase any pooled run recorded (runs made before a phase existed lack it).
        rows = [r for r in ("kernel-boot", "boot", "forkexec", "rw", "alloc")
                if any(r in lx["median_s"][c] for c in cols)]
        table = {r: {c: lx["median_s"][c].get(r) for c in cols} for r in rows}
        if cols:
            panels.append((f"Linux guest, {lx['metric']} per phase (log scale, lower is faster)",
                           "seconds", cols, rows, table))
    if not panels:
        return "no kernel-heavy or Linux results"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        script = ["set terminal pngcairo size 1300,520 noenhanced font 'sans,10'",
                  f"set output {_quote(path)}", "set style data histograms",
                  "set style histogram clustered gap 1", "set style fill solid 0.85 border -1",
                  "set datafile missing '-'", "set key top left", "set grid ytics",
                  "set logscale y", "set xtics rotate by -30",
                  f"set multiplot layout 1,{len(panels)} title {_quote(title)}"]
        for i, (ptitle, ylabel, cols, rows, table) in enumerate(panels):
            data = os.path.join(tmp, f"panel{i}.dat")
            with open(data, "w", encoding="utf-8") as f:
                f.write("row " + " ".join(cols) + "\n")
                for r in rows:
                    cells = [f"{table[r][c]:.6g}" if table[r][c] else "-" for c in cols]
                    f.write(r.replace(" ", "_") + " " + " ".join(cells) + "\n")
            script += _histogram(data, cols, ptitle, ylabel)
        script.append("unset multiplot")
        r = subprocess.run(["gnuplot"], input="\n".join(script), text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        if r.returncode != 0:
            return "gnuplot failed: " + r.stderr.strip()[-300:]
    return None
