"""Unit tests of the kernel-heavy and Linux suites' pure logic and of the console watcher
(run by ctest as benchmark_harness_kernel_linux_tables_and_deadlines). Never boots a VM: shell
commands stand in for one."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import columns, counters, kernel_suite, linux_suite, paper, procrun, results_doc  # noqa: E402


def krun(column, cycles, verdict="PASS", kind="nano", cpu=1.0):
    return {"column": column, "kind": kind, "verdict": verdict, "cycles": cycles, "cpu_s": cpu}


class KernelSuiteTest(unittest.TestCase):
    def test_medians_ratios_and_paper_target_use_like_for_like_native_only(self):
        ms = [krun("btvmm-bt", {"callret": 40, "pgfault": 9000}),
              krun("btvmm-bt", {"callret": 60, "pgfault": 7000}),
              krun("btvmm-bt", {"callret": 50, "pgfault": 8000}),
              krun("qemu-tcg", {"callret": 100, "pgfault": 4000}),
              krun("native64", {"callret": 10, "divzero": 100})]
        s = kernel_suite.summarize(ms, ["native64", "btvmm-bt", "qemu-tcg"])
        self.assertEqual(s["cycles"]["btvmm-bt"]["callret"]["median"], 50)
        self.assertEqual(s["cycles"]["btvmm-bt"]["callret"]["min"], 40)
        r = s["rows"]["callret"]
        self.assertAlmostEqual(r["bt_over_native64"], 5.0)
        self.assertAlmostEqual(r["bt_over_qemu_tcg"], 0.5)
        # Paper: BT call/ret 51 / native 11 = 4.64 < 5.0, so the target is not met here.
        self.assertFalse(r["target_no_worse_than_vmware_bt"])
        self.assertTrue(r["target_faster_than_qemu"])
        self.assertFalse(s["rows"]["pgfault"]["target_faster_than_qemu"])
        # divzero's host figure is a signal round trip: never used as the native ratio.
        self.assertIsNone(s["rows"]["divzero"]["bt_over_native64"])

    def test_failed_runs_give_no_figure_and_targets_say_not_measured(self):
        ms = [krun("btvmm-bt", {}, verdict="FAIL"), krun("qemu-tcg", {"syscall": 10})]
        s = kernel_suite.summarize(ms, ["btvmm-bt", "qemu-tcg"])
        self.assertNotIn("syscall", s["cycles"]["btvmm-bt"])
        self.assertIsNone(s["rows"]["syscall"]["target_faster_than_qemu"])
        table = kernel_suite.format_table(s, {"btvmm-kvm": "no /dev/kvm"}, {"btvmm-bt": "FAIL"})
        self.assertIn("FAIL", table)
        self.assertIn("btvmm-kvm: absent (no /dev/kvm)", table)
        self.assertIn("not met", kernel_suite.targets(s)[0])
        self.assertIn("not measured", kernel_suite.targets(s)[0])

    def test_bench_lines_parse_from_console_noise(self):
        out = "kernel: x\nbench: cli/sti 336 cycles/iter\r\nok\nbench: forkwait 99 cycles/fork\n"
        got = {m.group("name"): int(m.group("cycles")) for m in kernel_suite.BENCH_LINE.finditer(
            out.replace("\r", ""))}
        self.assertEqual(got, {"cli/sti": 336, "forkwait": 99})

    def test_paper_rows_carry_only_stated_figures(self):
        self.assertAlmostEqual(paper.for_ours("callret")["bt_over_native"], 51 / 11)
        self.assertIsNone(paper.for_ours("cr3wr"))
        self.assertIsNone(paper.for_ours("syscall")["bt_over_native"])


def lrun(column, phases):
    return {"column": column, "phases": {r: ({"verdict": "PASS", "cpu_s": v, "wall_s": v}
                                             if isinstance(v, float) else
                                             {"verdict": v, "cpu_s": None, "wall_s": None})
                                         for r, v in phases.items()}}


class LinuxSuiteTest(unittest.TestCase):
    def test_timeouts_are_never_times_and_ratio_needs_both_columns(self):
        ms = [lrun("btvmm-bt", {"boot": 60.0, "forkexec": "TIMEOUT", "rw": "NOT-REACHED",
                                "alloc": "NOT-REACHED"}),
              lrun("btvmm-bt", {"boot": 40.0, "forkexec": 3.0, "rw": 2.0, "alloc": 1.0}),
              lrun("qemu-tcg", {"boot": 5.0, "forkexec": 6.0, "rw": 1.0, "alloc": 1.0})]
        s = linux_suite.summarize(ms, ["btvmm-bt", "qemu-tcg"], "cpu_s")
        self.assertEqual(s["median_s"]["btvmm-bt"]["boot"], 50.0)
        self.assertEqual(s["median_s"]["btvmm-bt"]["forkexec"], 3.0)
        self.assertAlmostEqual(s["bt_over_qemu_tcg"]["forkexec"], 0.5)
        self.assertAlmostEqual(s["bt_over_qemu_tcg"]["boot"], 10.0)
        t = linux_suite.targets(s)[0]
        self.assertIn("not met", t)
        self.assertIn("faster: forkexec", t)

    def test_all_timeouts_show_the_verdict(self):
        ms = [lrun("btvmm-bt", {"boot": "TIMEOUT", "forkexec": "NOT-REACHED",
                                "rw": "NOT-REACHED", "alloc": "NOT-REACHED"})]
        s = linux_suite.summarize(ms, ["btvmm-bt"], "cpu_s")
        table = linux_suite.format_table(s, {})
        self.assertIn("TIMEOUT", table)
        self.assertIn("NOT-REACHED", table)
        self.assertNotIn("0.00", table)

    def test_cmdline_drops_comment_lines_and_adds_the_test(self):
        with tempfile.TemporaryDirectory() as repo:
            os.makedirs(os.path.join(repo, "scripts", "linux"))
            with open(os.path.join(repo, "scripts", "linux", "cmdline"), "w") as f:
                f.write("# comment\nconsole=ttyS0 a=1\n\n  # more\nb=2\n")
            self.assertEqual(linux_suite.cmdline(repo, False),
                             "console=ttyS0 a=1 b=2 btvmm.test=bench")
            self.assertTrue(linux_suite.cmdline(repo, True).endswith("btvmm.bench=quick"))


class KvmProbeTest(unittest.TestCase):
    def test_kvm_columns_take_btvmm_accel_help_reason_in_every_suite(self):
        """btvmm's `run --accel help` decides, not /dev/kvm alone (kvm_pvm opens it and cannot
        run the guests); a stand-in btvmm gives the answer."""
        with tempfile.TemporaryDirectory() as d:
            fake = os.path.join(d, "btvmm")
            with open(fake, "w") as f:
                f.write("#!/bin/sh\necho 'Accelerators:'\n"
                        "echo 'bt   binary translation (available)'\n"
                        "echo 'kvm  Linux KVM (not available: stand-in reason (nested))'\n")
            os.chmod(fake, 0o755)
            old = os.environ.get("BTVMM_BENCH_BTVMM")
            os.environ["BTVMM_BENCH_BTVMM"] = fake
            try:
                ctx = columns.Context(build_dir=d, repo_dir=d, quick=True, timeout_s=10)
                ctx.cache["linux-prepare"] = None  # as if the boot set were ready
                want = ("stand-in reason (nested)" if os.access("/dev/kvm", os.R_OK | os.W_OK)
                        else columns._kvm_reason(columns.Context(d, d, True, 10)))
                self.assertEqual(columns._kvm_reason(ctx), want)
                out = linux_suite.probe(ctx, quick=True)
                self.assertEqual(out["btvmm-kvm"], want)
            finally:
                if old is None:
                    del os.environ["BTVMM_BENCH_BTVMM"]
                else:
                    os.environ["BTVMM_BENCH_BTVMM"] = old


class WatchTest(unittest.TestCase):
    def test_markers_are_stamped_in_order(self):
        o = procrun.run_watched(["sh", "-c", "echo start; sleep 0.3; echo begin x; echo end x"],
                                procrun.compile_markers({"s": "^start", "b": "^begin x",
                                                         "e": "^end x"}), [], 10)
        self.assertLessEqual(o.marks["s"].wall_s, o.marks["b"].wall_s)
        self.assertGreaterEqual(o.marks["b"].wall_s, 0.25)
        self.assertEqual(o.exit_code, 0)
        self.assertIsNone(o.timed_out)

    def test_phase_deadline_ends_the_run_and_names_itself(self):
        o = procrun.run_watched(["sh", "-c", "echo begin x; sleep 30; echo end x"],
                                procrun.compile_markers({"b": "^begin x", "e": "^end x"}),
                                [procrun.Deadline("x", "b", "e", 0.5)], 20)
        self.assertEqual(o.timed_out, "x")
        self.assertNotIn("e", o.marks)
        self.assertLess(o.wall_s, 10)

    def test_stop_after_ends_a_run_that_would_go_on(self):
        o = procrun.run_watched(["sh", "-c", "echo done; sleep 30"],
                                procrun.compile_markers({"d": "^done"}), [], 20, stop_after="d")
        self.assertIsNone(o.timed_out)
        self.assertLess(o.wall_s, 10)


class ResultsDocTest(unittest.TestCase):
    def test_readme_region_replaced_and_rest_untouched(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "README.md")
            with open(p, "w") as f:
                f.write(f"head\n{results_doc.RESULTS_BEGIN}\nold\n{results_doc.RESULTS_END}\ntail\n")
            self.assertIsNone(results_doc.rewrite_readme(
                p, f"{results_doc.RESULTS_BEGIN}\nnew\n{results_doc.RESULTS_END}"))
            with open(p) as f:
                self.assertEqual(f.read(), f"head\n{results_doc.RESULTS_BEGIN}\nnew\n"
                                           f"{results_doc.RESULTS_END}\ntail\n")

    def test_readme_without_markers_is_refused(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "README.md")
            with open(p, "w") as f:
                f.write("no markers\n")
            self.assertIsNotNone(results_doc.rewrite_readme(p, "x"))
            with open(p) as f:
                self.assertEqual(f.read(), "no markers\n")

    def test_why_lines_divide_by_iterations_and_list_traps(self):
        c = {"tc.exits_monitor": 2000, "traps.int80": 30, "traps.gp": 50,
             "tc.guest_instructions": 100, "tc.ident_instructions": 80}
        lines = counters.why_lines(c, per=100, per_what="fork")
        self.assertIn("tc.exits_monitor = 2,000 (20.0 per fork)", lines[0])
        self.assertIn("traps by kind: gp 50, int80 30", lines)
        self.assertIn("IDENT share of translated guest instructions: 80.0%", lines)


if __name__ == "__main__":
    unittest.main()
