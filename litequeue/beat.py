"""Beat: sends the jobs of schedule entries when they are due.

All of beat's state lives in the store, and every fire is written together with its job under a
unique (entry, fire time) key, so any number of beats (standalone, or ``worker -B`` on several
machines) can run at once: each due fire is sent exactly once, and when one beat dies the others
carry on without a gap. ``tick()`` does one round and says how long to sleep; ``run()`` loops.

Misfires (fires that came while no beat was running, older than the entry's ``misfire_grace``):
``"once"`` sends one job for the latest of them, ``"skip"`` sends none, ``"all"`` sends up to
``misfire_limit`` of the latest. Fires within the grace period always run.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from . import publishing, signals
from .errors import LiteQueueError, StoreError
from .schedules import entries_from_code, jobs_for
from .store.schedules import ScheduleRow, SyncReport
from .timetable import Due, Timetable

if TYPE_CHECKING:
    from .app import LiteQueue

log = logging.getLogger("litequeue.beat")
FIRES_KEPT = 86400.0  # seconds fires stay recorded (the entry's next fire guards older ones)
PRUNE_EVERY = 3600.0


def plan(policy: str, due: Due) -> list[float]:
    """The fire times to send now, oldest first, under a misfire policy."""
    if policy == "all":
        return due.late + due.on_time
    if policy == "once" and due.late and not due.on_time:
        return due.late[-1:]
    return due.on_time


class Beat:
    """Sends the due jobs of the schedule in ``app``'s store."""

    def __init__(self, app: LiteQueue, max_interval: float = 1.0) -> None:
        self.app = app
        self.max_interval = max_interval  # longest sleep: how soon runtime changes are seen
        self._timetables: dict[str, tuple[float, Timetable]] = {}
        self._stopping = threading.Event()
        self._next_prune = 0.0

    def start(self, now: float | None = None) -> SyncReport:
        """Check the app's ``beat_schedule`` (a bad entry raises ConfigurationError naming it)
        and sync it into the store: entries added, changed, removed."""
        self.app.finalize()  # on_after_configure receivers may add entries (add_periodic_task)
        rows = entries_from_code(self.app, now)
        report = self.app.store.sync_schedules(rows)
        for label, names in (("added", report.added), ("changed", report.changed), ("removed", report.removed)):
            if names:
                log.info("beat: %s %s", label, ", ".join(names))
        total = len(self.app.store.schedules())
        log.info("beat: ready, %d schedule entr%s (%d from code)", total, "y" if total == 1 else "ies", len(rows))
        return report

    def tick(self, now: float | None = None) -> float:
        """Send every due fire once; returns the seconds until the next tick is needed."""
        now = time.time() if now is None else now
        soonest = now + self.max_interval
        for row in self.app.store.schedules():
            if row.paused or row.next_fire is None:
                continue
            next_fire = self._fire_due(row, now) if row.next_fire <= now else row.next_fire
            if next_fire is not None:
                soonest = min(soonest, next_fire)
            else:
                soonest = now  # another beat or a change came first: look again at once
        self._prune(now)
        return max(soonest - now, 0.0)

    def run(self) -> int:
        """Start, then tick until ``stop()`` or SIGTERM / SIGINT. Returns 0."""
        self.start()
        signals.beat_init.send(sender=self)
        previous = self._install_signals()
        try:
            while not self._stopping.is_set():
                try:
                    delay = self.tick()
                except StoreError as exc:
                    log.warning("beat: %s; trying again shortly.", exc)
                    delay = self.max_interval
                self._stopping.wait(delay)
        finally:
            for signum, handler in previous.items():  # the program's own handlers again
                signal.signal(signum, handler)
        log.info("beat: stopped.")
        return 0

    def stop(self) -> None:
        """Ask ``run()`` to return after the current tick."""
        self._stopping.set()

    # -- one entry ------------------------------------------------------------------------------

    def _fire_due(self, row: ScheduleRow, now: float) -> float | None:
        """Send the due fires of one entry. Returns its new next fire, or None when another beat
        (or a runtime change) came first."""
        assert row.next_fire is not None
        keep = {"once": 1, "skip": 0, "all": row.misfire_limit}[row.misfire]
        due = self._timetable(row).due(row.next_fire, now, row.misfire_grace, keep)
        times = plan(row.misfire, due)
        if due.late_total:
            log.warning("beat: %s missed %d fire(s) (misfire=%s): sending %d of them.", row.name,
                        due.late_total, row.misfire, len(times) - len(due.on_time))
        if not times:
            return due.next_fire if self.app.store.skip_fires(row, due.next_fire) else None
        for i, fire_time in enumerate(times):
            following = times[i + 1] if i + 1 < len(times) else due.next_fire
            if not self._send(row, fire_time, following):
                return None
            row = replace(row, next_fire=following)
        return due.next_fire

    def _send(self, row: ScheduleRow, fire_time: float, following: float | None) -> bool:
        try:
            jobs = jobs_for(self.app, row)
        except StoreError:
            raise
        except LiteQueueError as exc:  # e.g. a queue that no longer exists: skip, don't loop
            log.error("beat: %s cannot send %s, skipping this fire: %s", row.name, row.task, exc)
            return self.app.store.skip_fires(row, following)
        jobs = publishing.before(jobs)  # Celery's beat publishes its fires: the publish signals too
        sent = self.app.store.fire(row, fire_time, following, jobs)
        if sent is None:
            return False
        publishing.after(jobs)
        if sent == jobs[0].task_id:
            log.info("beat: sending due task %s (%s) [%s]", row.name, row.task, sent)
        else:
            log.info("beat: due task %s (%s) is unique and its job [%s] has not run yet: nothing new sent",
                     row.name, row.task, sent)
        return True

    def _timetable(self, row: ScheduleRow) -> Timetable:
        cached = self._timetables.get(row.name)
        if cached is None or cached[0] != row.updated_at:
            cached = (row.updated_at, Timetable(row.schedule, row.timezone, row.start_at))
            self._timetables[row.name] = cached
        return cached[1]

    def _prune(self, now: float) -> None:
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_EVERY
            self.app.store.prune_fires(now - FIRES_KEPT)

    def _install_signals(self) -> dict[int, Any]:
        """Stop on SIGTERM and SIGINT (in the main thread); returns the handlers they replaced."""
        if threading.current_thread() is not threading.main_thread():
            return {}  # an in-process beat is stopped through stop()
        return {signum: signal.signal(signum, self._on_signal) for signum in (signal.SIGTERM, signal.SIGINT)}

    def _on_signal(self, signum: int, frame: Any) -> None:
        log.info("beat: %s received, stopping.", signal.Signals(signum).name)
        self.stop()
