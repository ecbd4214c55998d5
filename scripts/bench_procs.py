"""Benchmark helpers that need only the standard library: process trees, CPU and memory from
/proc, bounded waits, and summary statistics.

The peers' benchmark runs import this module inside their own virtualenvs, so it must never
import litequeue or anything outside the standard library.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import time
from collections.abc import Callable

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE_KIB = (os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096) // 1024


# -- /proc ------------------------------------------------------------------------------------

def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields from "state" on (comm may hold spaces)


def tree(pid: int) -> list[int]:
    """``pid`` and all its live descendants."""
    parents: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat_fields(int(name))
            if fields:
                parents.setdefault(int(fields[1]), []).append(int(name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(parents.get(p, []))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its live descendants (and of children they reaped)."""
    total = 0
    for p in tree(pid):
        fields = _stat_fields(p)
        if fields:
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / CLK_TCK


def rss_kib(pid: int) -> dict[str, int]:
    """Resident memory of ``pid`` ("main"), its descendants ("children") and the sum ("total")."""
    sizes = []
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/statm") as f:
                sizes.append(int(f.read().split()[1]) * PAGE_KIB)
        except OSError:
            sizes.append(0)
    main = sizes[0] if sizes else 0
    return {"main": main, "children": sum(sizes[1:]), "total": sum(sizes), "processes": len(sizes)}


# -- processes --------------------------------------------------------------------------------

def start(cmd: list[str], cwd: str, env: dict, log_path: str) -> subprocess.Popen:
    """Start ``cmd`` in its own process group with its output in ``log_path``."""
    log = open(log_path, "ab")
    try:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        log.close()


def stop(proc: subprocess.Popen, grace: float = 15.0) -> int | None:
    """SIGTERM the process, then SIGKILL its whole group if it has not exited within ``grace``."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # leftovers (pool children) of this run only
    except (ProcessLookupError, PermissionError):
        pass
    try:
        return proc.wait(5)
    except subprocess.TimeoutExpired:
        return None


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.005,
               proc: subprocess.Popen | None = None) -> bool:
    """Poll ``predicate`` until true (True), the timeout passes or ``proc`` exits (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if proc is not None and proc.poll() is not None:
            return predicate()
        time.sleep(interval)
    return False


def stopped(pid: int) -> bool:
    """Whether process ``pid`` no longer runs: gone, or a zombie waiting to be reaped."""
    fields = _stat_fields(pid)
    return fields is None or fields[0] in ("Z", "X")


def tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


# -- statistics -------------------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0-100) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(values: list[float]) -> dict[str, float] | None:
    """median, min and max of the numbers in ``values`` (None entries skipped)."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}
