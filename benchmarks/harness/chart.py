"""The PNG chart of a run: one cluster of bars per workload (and the geometric mean), one
bar per column, height = speed relative to the baseline. Drawn with gnuplot from Debian
(gnuplot-nox); never fails the run when gnuplot is missing, it says so instead."""

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
