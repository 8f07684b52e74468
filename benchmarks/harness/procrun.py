"""Runs one VM (or host) process while watching its console: each line that matches a marker is
stamped with the wall time since start and the process's CPU time at that moment, so a boot or
one phase of a guest script can be timed from outside the guest (the guest's own clock is not
trusted under emulation). Deadlines end the process; a phase that misses its deadline is
reported as timed out, never as a time.
"""

import os
import re
import select
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Pattern

_TICK = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> Optional[float]:
    """User + system CPU time of every thread of pid and of its waited-for children
    (proc(5), /proc/PID/stat fields 14-17, in clock ticks)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            # The command name (field 2) may hold spaces; the fields after ')' are fixed.
            rest = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    utime, stime, cutime, cstime = (int(v) for v in rest[11:15])
    return (utime + stime + cutime + cstime) / _TICK


@dataclass
class Mark:
    """The first console line matching a marker."""
    line: str
    wall_s: float
    cpu_s: Optional[float]


@dataclass
class Outcome:
    output: str = ""
    marks: Dict[str, Mark] = field(default_factory=dict)
    exit_code: Optional[int] = None
    wall_s: Optional[float] = None
    cpu_s: Optional[float] = None  # whole run, from wait4's rusage (exact)
    timed_out: Optional[str] = None  # name of the deadline that ended the run
    error: Optional[str] = None


@dataclass
class Deadline:
    """Kill the run if `until` has not been seen `seconds` after `after` (None: the start)."""
    name: str
    after: Optional[str]
    until: str
    seconds: float


def run_watched(cmd: List[str], markers: Dict[str, Pattern], deadlines: List[Deadline],
                total_timeout_s: float, stop_after: Optional[str] = None,
                log_path: Optional[str] = None) -> Outcome:
    """Runs cmd with stdout and stderr merged, stamping the first match of every marker.
    stop_after: a marker whose appearance ends the run at once (the harness has what it wants).
    log_path: the console is also written there as it arrives (to follow a long boot)."""
    out = Outcome()
    t0 = time.perf_counter()
    try:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as e:
        out.error = f"{cmd[0]}: {e.strerror}"
        return out
    fd = p.stdout.fileno()
    log = open(log_path, "wb") if log_path else None
    chunks: List[bytes] = []
    pending = b""
    killed_by: Optional[str] = None
    while True:
        now = time.perf_counter() - t0
        if now >= total_timeout_s:
            killed_by = "total"
        for d in deadlines:
            start = 0.0 if d.after is None else (out.marks[d.after].wall_s
                                                 if d.after in out.marks else None)
            if start is not None and d.until not in out.marks and now - start >= d.seconds:
                killed_by = d.name
        if stop_after and stop_after in out.marks:
            killed_by = killed_by or ""
        if killed_by is not None:
            _kill_group(p)
            break
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        data = os.read(fd, 65536)
        if not data:
            break
        chunks.append(data)
        if log:
            log.write(data)
            log.flush()
        pending += data
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            _stamp(out, raw, markers, p.pid, t0)
    if pending:
        _stamp(out, pending, markers, p.pid, t0)
    p.stdout.close()
    if log:
        log.close()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    out.wall_s = time.perf_counter() - t0
    out.cpu_s = usage.ru_utime + usage.ru_stime
    out.exit_code = p.returncode
    out.output = b"".join(chunks).decode("utf-8", "replace")
    out.timed_out = killed_by or None
    return out


def _stamp(out: Outcome, raw: bytes, markers: Dict[str, Pattern], pid: int, t0: float) -> None:
    line = raw.decode("utf-8", "replace").rstrip("\r")
    for name, pattern in markers.items():
        if name not in out.marks and pattern.search(line):
            out.marks[name] = Mark(line, time.perf_counter() - t0, process_cpu_s(pid))


def _kill_group(p: subprocess.Popen) -> None:
    """The run has its own session (start_new_session), so its whole group is ours to end."""
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def compile_markers(spec: Dict[str, str]) -> Dict[str, Pattern]:
    return {name: re.compile(rx) for name, rx in spec.items()}
