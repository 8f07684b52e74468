"""btvmm's counters (`--metrics FILE`: {"exit_status": N, "counters": {name: value}}, the names
of core/stats.h) turned into the "why" lines of a slow column: monitor exits, traps by kind,
indirect-branch misses, shadow-MMU work. Reads only; a run without a metrics file has no
counters, and a line is shown only for counters the run actually has.
"""

import json
import os
import statistics
from typing import Dict, List, Optional

# The counters that explain time in a guest run, in the order they are explained.
WHY = [
    ("tc.entries", "entries into the TC from the dispatcher"),
    ("tc.exits_branch", "TC exits at unchained branches or indirect misses"),
    ("tc.exits_monitor", "monitor exits from the TC"),
    ("tc.exits_fault", "faults taken in the TC"),
    ("tc.indirect_misses", "indirect-branch lookups that missed the inline table"),
    ("shadow.hidden_faults", "hidden page faults (shadow filled on demand)"),
    ("shadow.true_faults", "true guest page faults reflected"),
    ("shadow.flushes_cr3", "shadow flushes on CR3 loads"),
    ("shadow.flushes_mode", "shadow flushes on mode switches"),
    ("traps.traced_write", "writes to traced pages (page tables, code) single-stepped"),
    ("tc.simulated_stores", "writes performed by SIMULATE after adaptive retranslation"),
    ("shadow.unmaps", "host unmap calls (each a host TLB flush)"),
    ("shadow.maps", "host mmap calls filling the shadow"),
    ("shadow.pages_mapped", "guest pages mapped into the shadow"),
    ("tc.revalidated", "CCFs re-checked after a CR3 load or INVLPG"),
    ("translator.decoded", "guest instructions decoded"),
    ("tc.translations", "translations"),
    ("tc.invalidations", "CCF invalidations (self-modifying or reused code pages)"),
    ("tc.flushes", "whole-TC flushes"),
    ("cpu.emulated_memory_instructions", "memory instructions emulated in the monitor"),
]


def load_metrics(path: Optional[str]) -> Optional[dict]:
    if not path or not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def counters_of(stats: Optional[dict]) -> Dict[str, int]:
    if not stats:
        return {}
    c = stats.get("counters", stats)
    return {k: v for k, v in c.items() if isinstance(v, (int, float))}


def median_counters(runs: List[dict]) -> Dict[str, float]:
    """Per counter, the median over the runs that recorded it."""
    values: Dict[str, List[float]] = {}
    for r in runs:
        for k, v in counters_of(r.get("stats")).items():
            values.setdefault(k, []).append(v)
    return {k: statistics.median(v) for k, v in values.items()}


def why_lines(c: Dict[str, float], per: Optional[float] = None, per_what: str = "",
              limit: int = 18) -> List[str]:
    """Readable lines for the counters that explain a slow column. `per` divides each value
    (e.g. by the number of iterations) and is named by per_what."""
    out = []
    for name, what in WHY:
        v = c.get(name)
        if not v:
            continue
        extra = f" ({v / per:.1f} per {per_what})" if per else ""
        out.append(f"{name} = {v:,.0f}{extra}: {what}")
    out = out[:limit]
    traps = sorted(((k, v) for k, v in c.items() if k.startswith("traps.") and v),
                   key=lambda kv: -kv[1])
    if traps:
        out.append("traps by kind: " + ", ".join(f"{k[6:]} {v:,.0f}" for k, v in traps[:8]))
    total = c.get("tc.guest_instructions")
    ident = c.get("tc.ident_instructions")
    if total and ident is not None:
        out.append(f"IDENT share of translated guest instructions: {ident / total:.1%}")
    return out
