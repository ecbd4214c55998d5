"""Workers that run detached from the terminal (``litequeue multi``, ``worker --detach``), and
the locked pidfiles that tell whether one is running.

A detached worker is started by a double fork: the first child starts a new session (no
controlling terminal, so closing the terminal does not reach it) and exits; the grandchild takes
the pidfile's lock, writes its pid there, points stdin at /dev/null and stdout/stderr at the log
file, and execs the ``litequeue worker`` command. The worker holds the lock (flock) for as long
as it lives: a locked pidfile means a running worker; an unlocked one is stale, whatever pid it
names, so a reused pid is never mistaken for a worker.

``worker --detach`` (also from ``app.worker_main()`` or ``app.start()``) detaches the process
itself the same way, without exec: the detached copy carries on with the app as it is, so
nothing the calling program did before (its imports, its configuration, the jobs it sent) runs
again.
"""

from __future__ import annotations

import atexit
import errno
import os
import signal
import sys
import time
from collections.abc import Callable

from ..errors import LiteQueueError

try:
    import fcntl
except ImportError:  # Windows: no fork, no flock
    fcntl = None  # type: ignore[assignment]


class DetachError(LiteQueueError):
    """The worker could not be started in the background; see the message."""


def _require_posix() -> None:
    if fcntl is None or not hasattr(os, "fork"):
        raise DetachError("Detached workers (litequeue multi) need a POSIX system (fork and flock); on Windows run "
                          "litequeue worker under a service manager, or use app.worker() inside your program.")


class Pidfile:
    """A pidfile whose lock is held by the process it names."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def pid(self) -> int | None:
        """The pid written in the file, or None (missing, empty or not a number)."""
        try:
            with open(self.path) as f:
                return int(f.read().strip() or "0") or None
        except (OSError, ValueError):
            return None

    def is_locked(self) -> bool:
        """True while the process that wrote it is alive (it holds the lock)."""
        _require_posix()
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing also drops the lock if we just took it
        return False

    def running_pid(self) -> int | None:
        """The pid of the live worker holding this pidfile, or None."""
        return self.pid() if self.is_locked() else None

    def remove(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def remove_if_stale(self) -> bool:
        """Remove the file when no live process holds it; True if it was removed."""
        if self.exists() and not self.is_locked():
            self.remove()
            return True
        return False

    def wait_released(self, timeout: float | None = None, interval: float = 0.1) -> bool:
        """Wait until no process holds the lock (the worker and its children exited)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.is_locked():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(interval)
        return True

    def signal(self, signum: int) -> int | None:
        """Send ``signum`` to the live worker; its pid, or None when none is running."""
        pid = self.running_pid()
        if pid is None:
            return None
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            return None
        return pid


def start_detached(argv: list[str], pidfile: Pidfile, output: str, env: dict[str, str] | None = None) -> int:
    """Run ``argv`` (argv[0] an absolute path) as a detached process holding ``pidfile``'s lock,
    with stdout and stderr appended to ``output``. Returns its pid once it has exec'd."""
    pid = _in_background(pidfile, "start the worker",  # the report pipe is close-on-exec: EOF is success
                         lambda report_w: _become_worker(argv, pidfile, output, env, report_w))
    assert pid is not None  # the detached process exec'd or exited: it never returns here
    return pid


def detach_this_process(pidfile: Pidfile, output: str) -> int | None:
    """Carry on in the background: this process forks a detached copy of itself (a new session,
    stdin from /dev/null, stdout and stderr appended to ``output``, ``pidfile`` locked and naming
    it, removed when it exits). Returns the copy's pid in the calling process, which should then
    end; returns None in the copy, which carries on from here with everything already imported
    and configured (nothing is run again)."""
    for stream in (sys.stdout, sys.stderr):  # what is buffered is written once, not by both copies
        stream.flush()
    return _in_background(pidfile, "detach", lambda report_w: _become_detached(pidfile, output, report_w))


def _in_background(pidfile: Pidfile, what: str, become: Callable[[int], None]) -> int | None:
    """Double fork with a new session between (no controlling terminal can reach the result);
    the grandchild runs ``become(report_w)``, which writes a problem to report_w or closes it.
    In this process: the grandchild's pid once it reported success; in the grandchild: None."""
    _require_posix()
    report_r, report_w = os.pipe()
    first = os.fork()
    if first == 0:  # the first child: new session, then fork the detached process and leave
        try:
            os.close(report_r)
            os.setsid()
            if os.fork() == 0:
                become(report_w)
                return None
        except BaseException as exc:  # noqa: BLE001 - never return into the caller's code here
            _fail(report_w, f"cannot {what}: {exc}")
        os._exit(0)
    os.close(report_w)
    os.waitpid(first, 0)
    with os.fdopen(report_r, "rb") as report:
        problem = report.read().decode(errors="replace")
    if problem:
        raise DetachError(problem)
    pid = pidfile.pid()
    if pid is None:
        raise DetachError(f"The detached process started but wrote no pid to {pidfile.path}.")
    return pid


def _become_detached(pidfile: Pidfile, output: str, report_w: int) -> None:
    """The detached copy: lock the pidfile for life, write the pid, detach stdio, then tell the
    waiting caller all went well (by closing the report pipe)."""
    try:
        _hold(pidfile, report_w)
        atexit.register(_remove_pidfile, pidfile, os.getpid())
        _redirect_stdio(output)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # no terminal can end it
    except BaseException as exc:  # noqa: BLE001 - report anything, never return into the caller's code
        _fail(report_w, f"cannot detach: {exc}")
    os.close(report_w)


def _hold(pidfile: Pidfile, report_w: int) -> int:
    """Lock ``pidfile`` (or report who holds it and exit) and write this process's pid in it."""
    fd = os.open(pidfile.path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        _fail(report_w, f"already running (pid {pidfile.pid()}, pidfile {pidfile.path})")
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _remove_pidfile(pidfile: Pidfile, owner: int) -> None:
    if os.getpid() == owner:  # not a pool child exiting: the file is the worker's
        pidfile.remove()


def _become_worker(argv: list[str], pidfile: Pidfile, output: str, env: dict[str, str] | None,
                   report_w: int) -> None:
    """The grandchild: lock the pidfile, write the pid, detach stdio, exec. Never returns."""
    try:
        fd = _hold(pidfile, report_w)
        os.set_inheritable(fd, True)  # the worker keeps the lock after exec
        _redirect_stdio(output)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # inherited over exec: no terminal can end it
        os.execve(argv[0], argv, env if env is not None else os.environ)
    except OSError as exc:
        where = exc.filename or argv[0]
        _fail(report_w, f"cannot start the worker: {where}: {exc.strerror or errno.errorcode.get(exc.errno or 0, exc)}")
    except BaseException as exc:  # noqa: BLE001 - report anything, never return into the parent's code
        _fail(report_w, f"cannot start the worker: {exc}")


def _redirect_stdio(output: str) -> None:
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    log = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)  # logs hold results and tracebacks
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)


def _fail(report_w: int, message: str) -> None:
    try:
        os.write(report_w, message.encode())
    finally:
        os._exit(1)
