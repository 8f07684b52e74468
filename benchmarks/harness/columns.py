"""The columns of the benchmark table: how to run one workload under each backend.

Adding a backend is one Column with a probe (why it cannot run here, or None) and a
command line. A column must never pretend to run: if its backend is missing, probe() says
why and the driver shows it as absent, never as zero.
"""

import errno
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Callable, List, Optional

WORKLOADS = ["compress", "mcf", "queens", "interp", "sorthash", "compiler"]

# The guest kernel that runs the workloads as user programs: the test guest of tests/guest
# (CMake target guest_kernel), once it embeds them (linked with bench_env_guest.c) and
# runs the one named by bench=<name>. BTVMM_BENCH_GUEST overrides the path.
GUEST_KERNEL_RELPATH = "tests/guest/guest.elf"

# The QEMU-compatible debug-exit port the test guest uses to report its status
# (DESIGN.md 4): exit status = (value << 1) | 1.
QEMU_COMMON = ["-m", "128", "-nographic", "-no-reboot", "-monitor", "none",
               "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]


@dataclass
class Context:
    build_dir: str
    repo_dir: str
    quick: bool
    timeout_s: float
    # The SPECint-style workloads at their small (--quick) inputs with normal repetitions:
    # for backends too slow for the full inputs within a session (recorded as spec_size).
    spec_small: bool = False
    cache: dict = field(default_factory=dict)

    def native32(self, workload: str) -> str:
        return os.path.join(self.build_dir, "benchmarks", "native32", workload)

    def native64(self, workload: str) -> str:
        return os.path.join(self.build_dir, "benchmarks", "native64", workload)

    def btvmm(self) -> str:
        return os.environ.get("BTVMM_BENCH_BTVMM", os.path.join(self.build_dir, "host", "btvmm"))

    def guest_kernel(self) -> str:
        return os.environ.get("BTVMM_BENCH_GUEST",
                              os.path.join(self.build_dir, GUEST_KERNEL_RELPATH))

    def workload_args(self) -> List[str]:
        return ["--quick"] if self.quick or self.spec_small else []

    def guest_append(self, workload: str) -> str:
        return f"bench={workload}" + (" benchargs=--quick" if self.quick or self.spec_small else "")


@dataclass
class Column:
    name: str
    description: str
    probe: Callable[[Context], Optional[str]]
    command: Callable[[Context, str], List[str]]
    # btvmm columns write their counters here (issue 7 item 4); None for the others.
    metrics_file: Optional[Callable[[Context, str], str]] = None
    # Guest columns report through the console; their exit status is the VMM's, not the
    # workload's, so only host-process columns must also exit with status 0.
    guest: bool = False
    # Recognises a run that failed because the backend is missing rather than the workload.
    unavailable: Optional[Callable[[str], Optional[str]]] = None
    # Guest columns: the same VM booting the guest, running its smallest user program (hello)
    # and powering off. Its time is subtracted for the workload-only figures (report.py).
    boot_command: Optional[Callable[[Context], List[str]]] = None


def _missing_binaries(paths: List[str]) -> Optional[str]:
    missing = [p for p in paths if not os.access(p, os.X_OK)]
    if missing:
        return f"not built: {missing[0]} (ninja bench_workloads)"
    return None


def _probe_native(ctx: Context) -> Optional[str]:
    why = _missing_binaries([ctx.native32(w) for w in WORKLOADS])
    if why:
        return why
    try:
        subprocess.run([ctx.native32("queens"), "--quick"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60, check=False)
    except OSError as e:
        if e.errno == errno.ENOEXEC:
            return ("the host kernel refuses i386 executables (execve: ENOEXEC, IA-32 "
                    "emulation off); see the native64 reference column")
        return f"cannot execute {ctx.native32('queens')}: {e.strerror}"
    return None


def _probe_native64(ctx: Context) -> Optional[str]:
    return _missing_binaries([ctx.native64(w) for w in WORKLOADS])


def _probe_qemu_user(ctx: Context) -> Optional[str]:
    if shutil.which("qemu-i386") is None:
        return "qemu-i386 not installed (Debian package qemu-user)"
    return _missing_binaries([ctx.native32(w) for w in WORKLOADS])


def _kvm_reason(ctx: Context) -> Optional[str]:
    """/dev/kvm alone is not enough: kvm_pvm opens it and then cannot run a 32-bit guest with
    paging. btvmm's `--accel help` runs a probe guest (host/kvm_probe.h) and says why not."""
    if not os.path.exists("/dev/kvm"):
        return "no /dev/kvm on this host"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "/dev/kvm is not accessible to this user"
    if "kvm-probe" not in ctx.cache:
        ctx.cache["kvm-probe"] = None
        if os.access(ctx.btvmm(), os.X_OK):
            r = subprocess.run([ctx.btvmm(), "run", "--accel", "help"], capture_output=True,
                               timeout=30, check=False)
            for line in r.stdout.decode("utf-8", "replace").splitlines():
                m = re.fullmatch(r"kvm\s+Linux KVM \((.*)\)", line.strip())
                if m and m.group(1) != "available":
                    ctx.cache["kvm-probe"] = m.group(1).removeprefix("not available: ")
    return ctx.cache["kvm-probe"]


def _guest_reason(ctx: Context) -> Optional[str]:
    """A guest kernel file is not enough: it must answer bench=queens with the verdict line.
    Checked once per run with a quick boot under QEMU TCG."""
    kernel = ctx.guest_kernel()
    if not os.path.exists(kernel):
        return f"no guest kernel built ({kernel})"
    if "guest" not in ctx.cache:
        if shutil.which("qemu-system-i386") is None:
            ctx.cache["guest"] = "cannot check the guest: qemu-system-i386 not installed"
            return ctx.cache["guest"]
        cmd = ["qemu-system-i386", "-accel", "tcg", *QEMU_COMMON, "-kernel", kernel,
               "-append", "bench=queens benchargs=--quick"]
        try:
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=120, check=False)
            out = r.stdout.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            out = "(no exit within 120 s)"
        if "queens: checksum" in out:
            ctx.cache["guest"] = None
        else:
            last = (out.strip().splitlines() or ["(no output)"])[-1].strip()
            ctx.cache["guest"] = (f"the guest kernel does not run the workloads yet ({kernel} "
                                  f"with bench=queens printed no verdict; last line: {last[:120]})")
    return ctx.cache["guest"]


def _btvmm_reason(ctx: Context, accel: str) -> Optional[str]:
    """Both facts matter and both are reported: whether btvmm offers the accelerator here
    (asked with a short run of the guest kernel, which btvmm refuses up front when the
    backend is missing) and whether the guest kernel runs the workloads."""
    if not os.access(ctx.btvmm(), os.X_OK):
        return f"btvmm not built ({ctx.btvmm()})"
    key = f"btvmm-{accel}"
    if key not in ctx.cache:
        accel_reason = None
        if os.path.exists(ctx.guest_kernel()):
            try:
                r = subprocess.run([ctx.btvmm(), "run", "--kernel", ctx.guest_kernel(), "--accel",
                                    accel, "--no-reboot", "--timeout", "10", "--append",
                                    "bench=none"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, timeout=30, check=False)
                accel_reason = btvmm_unavailable(r.stderr.decode("utf-8", "replace"))
            except subprocess.TimeoutExpired:
                pass
        reasons = [why for why in (accel_reason, _guest_reason(ctx)) if why]
        ctx.cache[key] = "; ".join(reasons) if reasons else None
    return ctx.cache[key]


def btvmm_unavailable(stderr: str) -> Optional[str]:
    """btvmm exits with a reason when an accelerator is missing from this build or host
    (host/run_command.cpp); the driver then shows the column as absent with that reason."""
    for line in stderr.splitlines():
        if "--accel" in line and "not available" in line:
            return f"btvmm says: {line.strip()}"
    return None


def _probe_btvmm_bt(ctx: Context) -> Optional[str]:
    return _btvmm_reason(ctx, "bt")


def _probe_btvmm_kvm(ctx: Context) -> Optional[str]:
    return _kvm_reason(ctx) or _btvmm_reason(ctx, "kvm")


def _probe_qemu_tcg(ctx: Context) -> Optional[str]:
    if shutil.which("qemu-system-i386") is None:
        return "qemu-system-i386 not installed (Debian package qemu-system-x86)"
    return _guest_reason(ctx)


def _probe_qemu_kvm(ctx: Context) -> Optional[str]:
    return _kvm_reason(ctx) or _probe_qemu_tcg(ctx)


def _metrics_path(ctx: Context, workload: str) -> str:
    return os.path.join(ctx.build_dir, "benchmarks", "metrics", f"{workload}.json")


DIRECT_ACCEL = "bt,direct=on"


def _direct_metrics_path(ctx: Context, workload: str) -> str:
    return os.path.join(ctx.build_dir, "benchmarks", "metrics", f"{workload}-direct.json")


# What a boot run asks the test guest for: boot, run the hello user program, power off
# (tests/guest/kernel/kmain.c). It prints BOOT_VERDICT when everything passed.
BOOT_APPEND = "test=hello"
BOOT_VERDICT = "guest: PASS"


def _btvmm_argv(ctx: Context, accel: str, append: str) -> List[str]:
    return [ctx.btvmm(), "run", "--kernel", ctx.guest_kernel(), "--accel", accel, "-m", "128",
            "--no-reboot", "--timeout", str(int(ctx.timeout_s)), "--append", append]


def _btvmm_command(ctx: Context, workload: str, accel: str,
                   metrics: Callable[[Context, str], str] = _metrics_path) -> List[str]:
    return _btvmm_argv(ctx, accel, ctx.guest_append(workload)) + [
        "--metrics", metrics(ctx, workload)]


def _qemu_command(ctx: Context, append: str, accel: str) -> List[str]:
    return ["qemu-system-i386", "-accel", accel, *QEMU_COMMON, "-kernel", ctx.guest_kernel(),
            "-append", append]


COLUMNS = [
    Column("native", "host 32-bit Linux process (gcc -m32 -O2): the physical limit",
           _probe_native, lambda ctx, w: [ctx.native32(w), *ctx.workload_args()]),
    Column("native64", "reference: same sources as an x86-64 process (gcc -m64 -O2)",
           _probe_native64, lambda ctx, w: [ctx.native64(w), *ctx.workload_args()]),
    Column("btvmm-bt", "btvmm --accel bt, workload as a guest user program",
           _probe_btvmm_bt, lambda ctx, w: _btvmm_command(ctx, w, "bt"), _metrics_path,
           unavailable=btvmm_unavailable, guest=True,
           boot_command=lambda ctx: _btvmm_argv(ctx, "bt", BOOT_APPEND)),
    Column("btvmm-kvm", "btvmm --accel kvm, workload as a guest user program",
           _probe_btvmm_kvm, lambda ctx, w: _btvmm_command(ctx, w, "kvm"), _metrics_path,
           unavailable=btvmm_unavailable, guest=True,
           boot_command=lambda ctx: _btvmm_argv(ctx, "kvm", BOOT_APPEND)),
    Column("qemu-tcg", "qemu-system-i386 -accel tcg, same guest",
           _probe_qemu_tcg, lambda ctx, w: _qemu_command(ctx, ctx.guest_append(w), "tcg"),
           guest=True, boot_command=lambda ctx: _qemu_command(ctx, BOOT_APPEND, "tcg")),
    Column("qemu-kvm", "qemu-system-i386 -accel kvm, same guest",
           _probe_qemu_kvm, lambda ctx, w: _qemu_command(ctx, ctx.guest_append(w), "kvm"),
           guest=True, boot_command=lambda ctx: _qemu_command(ctx, BOOT_APPEND, "kvm")),
    Column("qemu-user", "reference: qemu-i386 user-mode TCG running the native 32-bit binary",
           _probe_qemu_user, lambda ctx, w: ["qemu-i386", ctx.native32(w), *ctx.workload_args()]),
    # Last, so the suites' positional references to the columns above stay valid.
    Column("btvmm-direct", "btvmm --accel bt,direct=on: the guest's user code runs directly on the CPU",
           lambda ctx: _btvmm_reason(ctx, DIRECT_ACCEL),
           lambda ctx, w: _btvmm_command(ctx, w, DIRECT_ACCEL, _direct_metrics_path),
           _direct_metrics_path, unavailable=btvmm_unavailable, guest=True,
           boot_command=lambda ctx: _btvmm_argv(ctx, DIRECT_ACCEL, BOOT_APPEND)),
]

COLUMN_NAMES = [c.name for c in COLUMNS]
