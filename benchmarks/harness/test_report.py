"""Unit tests of the driver's pure logic (report.py, measure.parse_verdict, the interleaving
order); run by ctest as benchmark_harness_summary_logic. Never runs a workload."""

import math
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import columns, measure, report  # noqa: E402


def m(column, workload, wall, verdict="PASS", rep=1):
    return {"column": column, "workload": workload, "wall_s": wall, "cpu_s": wall,
            "verdict": verdict, "rep": rep}


class SummaryTest(unittest.TestCase):
    def test_ratio_is_baseline_median_over_column_median(self):
        ms = [m("native", "a", 1.0), m("native", "a", 3.0), m("native", "a", 2.0),
              m("bt", "a", 4.0), m("bt", "a", 100.0), m("bt", "a", 5.0)]
        s = report.summarize(ms, ["native", "bt"], ["a"], "native", "wall_s")
        self.assertEqual(s["columns"]["native"]["median_s"]["a"], 2.0)
        self.assertEqual(s["columns"]["bt"]["median_s"]["a"], 5.0)
        self.assertAlmostEqual(s["columns"]["bt"]["ratio_to_baseline"]["a"], 0.4)

    def test_geomean_is_spec_style_geometric_mean_of_ratios(self):
        ms = [m("native", "a", 1.0), m("native", "b", 1.0), m("bt", "a", 2.0), m("bt", "b", 0.5)]
        s = report.summarize(ms, ["native", "bt"], ["a", "b"], "native", "wall_s")
        self.assertAlmostEqual(s["columns"]["bt"]["geomean_ratio"], 1.0)
        self.assertTrue(s["columns"]["bt"]["complete"])

    def test_failed_runs_are_left_out_and_never_become_zero(self):
        ms = [m("native", "a", 1.0), m("native", "b", 1.0), m("bt", "a", 2.0),
              m("bt", "b", 0.001, verdict="FAIL")]
        s = report.summarize(ms, ["native", "bt"], ["a", "b"], "native", "wall_s")
        self.assertNotIn("b", s["columns"]["bt"]["ratio_to_baseline"])
        self.assertFalse(s["columns"]["bt"]["complete"])
        table = report.format_table(s, ["a", "b"], {"qemu-kvm": "no /dev/kvm"},
                                    {"bt": {"b": "FAIL"}})
        self.assertIn("FAIL", table)
        self.assertIn("qemu-kvm: absent (no /dev/kvm)", table)
        self.assertIn("0.500*", table)

    def test_workload_only_ratio_subtracts_each_guest_columns_boot_median(self):
        ms = [m("native", "a", 2.0), m("native", "b", 4.0), m("bt", "a", 3.0), m("bt", "b", 5.0)]
        boots = [m("bt", "boot", 1.0), m("bt", "boot", 1.2, rep=2), m("bt", "boot", 0.8, rep=3)]
        s = report.summarize(ms, ["native", "bt"], ["a", "b"], "native", "wall_s", boots)
        bt = s["columns"]["bt"]
        self.assertEqual(bt["boot_median_s"], 1.0)
        self.assertAlmostEqual(bt["net_ratio_to_baseline"]["a"], 1.0)  # 2 / (3 - 1)
        self.assertAlmostEqual(bt["net_ratio_to_baseline"]["b"], 1.0)  # 4 / (5 - 1)
        self.assertAlmostEqual(bt["ratio_to_baseline"]["a"], 2.0 / 3.0)  # the whole run stays
        self.assertTrue(bt["net_complete"])
        self.assertIsNone(s["columns"]["native"]["boot_median_s"])  # a host process: no boot
        table = report.format_table(s, ["a", "b"], {}, {})
        self.assertIn("geomean, workload only", table)
        self.assertIn("bt 1.00 s", table)

    def test_workload_only_figures_need_a_passing_boot_and_a_positive_difference(self):
        ms = [m("native", "a", 2.0), m("bt", "a", 3.0), m("qemu", "a", 0.5)]
        boots = [m("bt", "boot", 1.0, verdict="NO-VERDICT"), m("qemu", "boot", 1.0)]
        s = report.summarize(ms, ["native", "bt", "qemu"], ["a"], "native", "wall_s", boots)
        self.assertNotIn("net_geomean_ratio", s["columns"]["bt"])  # its boot never passed
        self.assertEqual(s["columns"]["qemu"]["net_ratio_to_baseline"], {})  # 0.5 - 1.0 < 0
        self.assertIsNone(s["columns"]["qemu"]["net_geomean_ratio"])

    def test_baseline_prefers_native_then_native64(self):
        self.assertEqual(report.choose_baseline(["qemu-tcg", "native64", "native"]), "native")
        self.assertEqual(report.choose_baseline(["qemu-tcg", "native64"]), "native64")
        self.assertIsNone(report.choose_baseline(["qemu-tcg"]))

    def test_geometric_mean_rejects_empty_and_non_positive(self):
        self.assertIsNone(report.geometric_mean([]))
        self.assertIsNone(report.geometric_mean([1.0, 0.0]))
        self.assertAlmostEqual(report.geometric_mean([2.0, 8.0]), 4.0)
        self.assertTrue(math.isclose(report.geometric_mean([3.0]), 3.0))


class VerdictTest(unittest.TestCase):
    def test_verdict_line_found_among_console_noise(self):
        out = "boot...\nmcf: flow 5\nmcf: checksum 0000abcd expected 0000abcd PASS\r\nhalt\n"
        v = measure.parse_verdict("mcf", out)
        self.assertEqual(v["verdict"], "PASS")
        self.assertEqual(v["checksum"], "0000abcd")

    def test_mismatched_checksums_fail_even_if_line_says_pass(self):
        out = "mcf: checksum 0000abcd expected 0000abce PASS\n"
        self.assertEqual(measure.parse_verdict("mcf", out)["verdict"], "FAIL")

    def test_missing_or_foreign_verdict_is_no_verdict(self):
        out = "queens: checksum 00000001 expected 00000001 PASS\n"
        self.assertEqual(measure.parse_verdict("mcf", out)["verdict"], "NO-VERDICT")


class RunOneTest(unittest.TestCase):
    """measure.run_one end to end, with shell commands standing in for workloads."""

    def run_shell(self, script, guest=False, timeout_s=5.0):
        col = columns.Column("fake", "test column", lambda ctx: None,
                             lambda ctx, w: ["sh", "-c", script], guest=guest)
        ctx = columns.Context(build_dir="/nonexistent", repo_dir="/nonexistent", quick=True,
                              timeout_s=timeout_s)
        return measure.run_one(ctx, col, "mcf", 1)

    def test_pass_needs_verdict_line_and_exit_status_zero(self):
        line = "echo 'mcf: checksum 00000001 expected 00000001 PASS'"
        self.assertEqual(self.run_shell(line)["verdict"], "PASS")
        self.assertEqual(self.run_shell(line + "; exit 3")["verdict"], "FAIL")
        # A VMM's exit status is its own (debug-exit), so guest columns ignore it.
        self.assertEqual(self.run_shell(line + "; exit 3", guest=True)["verdict"], "PASS")

    def test_silent_or_slow_runs_do_not_pass(self):
        self.assertEqual(self.run_shell("true")["verdict"], "NO-VERDICT")
        r = self.run_shell("sleep 10", timeout_s=0.5)
        self.assertEqual(r["verdict"], "TIMEOUT")
        self.assertIsNone(r["wall_s"])


if __name__ == "__main__":
    unittest.main()
