"""The published figures we measure the kernel-heavy table against: Adams & Agesen, "A Comparison
of Software and Hardware Techniques for x86 Virtualization", ASPLOS 2006, section 6.1 and
figure 4 (Pentium 4 672, 3.8 GHz, VT-x; cycles per iteration). Data only: every number here
is one the paper's text states, with what it is; a figure the text does not state is None and
is never guessed. benchmarks/README.md shows the same table.
"""

from typing import Dict, Optional

CITATION = ("K. Adams, O. Agesen, A Comparison of Software and Hardware Techniques for x86 "
            "Virtualization, ASPLOS 2006, section 6.1, figure 4")

# name in the paper -> cycles for native, VMware's software VMM (BT) and the hardware VMM (VT-x),
# plus the name of our nanobenchmark that does the same thing (None: we have no counterpart).
FIGURE4: Dict[str, dict] = {
    "syscall": {"ours": "syscall", "native": None, "bt": None, "hw": None,
                "bt_over_native": None,
                "note": "text: BT adds about 2000 cycles to a native system call; the hardware "
                        "VMM runs it at native speed (absolute figures only in the chart)"},
    "in": {"ours": "in", "native": 3209, "bt": None, "hw": 15826,
           "bt_over_native": 1 / 15,
           "note": "text: BT is fifteen times faster than native (a chipset register access)"},
    "cr8wr": {"ours": None, "native": None, "bt": 35, "hw": None, "bt_over_native": 1 / 4,
              "note": "text: BT 35 cycles, about four times faster than native; we have no "
                      "%cr8 (a 64-bit register): our cr3wr is a different, far costlier "
                      "operation and has no figure in the paper"},
    "call/ret": {"ours": "callret", "native": 11, "bt": 51, "hw": 11, "bt_over_native": 51 / 11,
                 "note": "text: native and hardware VMM 11 cycles, BT 51"},
    "pgfault": {"ours": "pgfault", "native": 1093, "bt": 3927, "hw": 11242,
                "bt_over_native": 3927 / 1093, "note": "text: a true guest page fault"},
    "divzero": {"ours": "divzero", "native": 889, "bt": 3223, "hw": 1014,
                "bt_over_native": 3223 / 889, "note": "text: #DE delivered to the guest"},
    "ptemod": {"ours": "ptemod", "native": 1, "bt": 391, "hw": 12733, "bt_over_native": 391.0,
               "note": "text: native is a single-cycle store; BT's adaptive translation makes "
                       "the PTE write a 391-cycle callout"},
}


def for_ours(name: str) -> Optional[dict]:
    """The paper's row for one of our nanobenchmarks, or None when the paper has none."""
    for paper_name, row in FIGURE4.items():
        if row["ours"] == name:
            return dict(row, paper_name=paper_name)
    return None
