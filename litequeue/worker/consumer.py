"""The worker's main process: claim, dispatch, collect, record, sleep, heartbeat.

It does all database I/O and supervision; the pool children only run tasks. ``run()`` reads top
to bottom; each step is a short method below it, and its start and stop are in lifecycle.py.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import states
from ..canvas.followups import with_follow_ups
from ..store import ClaimRequest, Job, Outcome
from . import housekeeping, job_signals, lifecycle, outcomes
from .children import Death, Limits
from .clock import ClockWatch
from .execute import Reply
from .late_starts import LateStarts
from .leases import Leases
from .marks import BeganMarks, Mark
from .options import WorkerOptions, limits_for
from .pool import Pool
from .pools import AnyPool
from .queues import ClaimOrder, select_queues
from .recording import PendingOutcomes
from .registry import TaskResolver
from .remote_control import RemoteControl
from .revokes import RevokeWatch, take_expired, take_revoked
from .stopping import StopRequests
from .store_guard import StoreGuard
from .wake_claims import WakeClaims

if TYPE_CHECKING:
    from ..app import LiteQueue
    from ..beat import Beat

log = logging.getLogger("litequeue.worker")


class Worker:
    """One worker: a main process supervising a pool of children."""

    def __init__(self, app: LiteQueue, options: WorkerOptions = WorkerOptions()) -> None:
        self.app = app
        self.options = options
        conf = app.conf
        self.hostname = socket.gethostname()
        self.name = options.name or f"worker-{os.getpid()}@{self.hostname}"
        self.owner = f"{self.name}/{uuid.uuid4().hex[:8]}"  # unique per run: what leases are fenced on
        self.concurrency = 1 if options.pool == "solo" else (
            options.autoscale[0] if options.autoscale else
            options.concurrency or conf.worker_concurrency or os.cpu_count() or 1)  # the most children
        self.resolver = TaskResolver(app)
        self.lease = conf.worker_lease_seconds
        self.queues = select_queues(app.routing, options.queues, options.exclude)
        self.claim_order = ClaimOrder(self.queues, options.exclude, options.queue_order == "round-robin", self.lease)
        self.stop_requests = StopRequests()
        self.store_guard = StoreGuard()
        self.processed = 0
        self.ended: Counter[str] = Counter()  # outcomes recorded, by state (the --burst summary)
        self.started_at = time.monotonic()
        self.outcomes = PendingOutcomes()  # outcomes not yet written (kept across store hiccups)
        self.reserved: deque[Job] = deque()  # claimed (leased) but not yet handed to a child
        self.marks = BeganMarks()  # begun jobs, and which still read RESERVED in the store
        self.revokes = RevokeWatch()
        self.leases = Leases(self.owner, self.lease)
        self.clock_watch = ClockWatch(self.name)
        self.late_starts = LateStarts()  # how late children may begin rate-limited jobs
        self.prefetch = conf.worker_prefetch_multiplier
        self._more_waiting = False
        self.stop_heard = ""  # the stop acted on, "Warm" or "Cold" (logged, reserve released)
        self.handed_back = 0  # running jobs released by a cold stop
        self._next_eta: float | None = 0.0
        self._held_until: float | None = None  # when a rate limiter holding jobs back opens (epoch)
        self.next_beat = 0.0
        self.next_prune = 0.0
        self.scheduler: Beat | None = None  # -B
        self.next_tick = 0.0
        self.listener = None
        self.remote: RemoteControl | None = None  # what app.control asks of it, read from the store
        self.pool: AnyPool | None = None
        self.wake_claims: WakeClaims | None = None  # an idle child claims at the wake-up (prefork on SQLite)

    @property
    def pending(self) -> list[Outcome]:
        """Outcomes not yet written, oldest first."""
        return self.outcomes.items

    @pending.setter
    def pending(self, items: list[Outcome]) -> None:
        self.outcomes.items = items

    @property
    def stopping(self) -> bool:
        """Warm shutdown asked for: finish running jobs, claim nothing new."""
        return self.stop_requests.stopping

    @property
    def cold(self) -> bool:
        """Cold shutdown asked for: release running jobs and exit now."""
        return self.stop_requests.cold

    def request_stop(self, cold: bool = False) -> None:
        """Ask the loop to stop (warm, or cold) from another thread; wakes it at once."""
        self.stop_requests.request(cold)

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> int:
        """Run until a shutdown signal (or, with ``burst``, until nothing is due). Returns 0, or
        1 when it stopped because the store can no longer be trusted (corrupt, file replaced)."""
        lifecycle.start(self)
        try:
            while not self._finished():
                self._fill_pool()
                self.wait(self._timeout())
                self.flush()
                housekeeping.on_timers(self)
        finally:
            lifecycle.stop(self)
        return 0 if self.store_guard.fatal is None else 1

    def _finished(self) -> bool:
        assert self.pool is not None
        if self.stopping and not self.stop_heard:  # asked while a solo job ran: the loop never slept
            lifecycle.on_stop_request(self)
        busy = bool(self.pool.holding())
        if self.cold or (self.stopping and not busy) or self.store_guard.fatal is not None:
            return True
        if (self.options.burst and not busy and not self.reserved and not self.pool.unstarted
                and not self._more_waiting and not self.pending and self._held_until is None):
            return not self._due_now()
        return False

    def _fill_pool(self) -> None:
        """Claim due jobs (at most the free pool slots plus a small prefetch) and hand them out.

        ``_more_waiting`` remembers whether the last claim came back full (more may be due)."""
        if self.stopping or self.pool is None:
            return
        room = self._claim_room()
        if room:
            self._reserve(self.store_call(self._claim, room, default=[]), room)
        self._dispatch_reserved()  # what is due now starts first; jobs whose eta came are made due after
        if isinstance(self.pool, Pool):
            self.pool.autoscale(len(self.reserved) + len(self.pool.queued))
        if self._due_now():
            promoted = self.store_call(self.app.store.promote_due, default=0)
            self._next_eta = self.store_call(self.app.store.next_eta, default=0.0)
            self._more_waiting = self._more_waiting or bool(promoted)
        if self.wake_claims is not None and self.wake_claims.armed is None and self._idle():
            self.wake_claims.arm(self.owner, self._claim_request(1))

    def _idle(self) -> bool:
        """Nothing claimed waits and nothing more is known to be due: the next job comes with a
        wake-up, which an armed child may answer itself."""
        assert self.pool is not None
        return not (self.stopping or self.reserved or self.pool.queued or self.pool.unstarted
                    or self._more_waiting or self._due_now())

    def _claim_room(self) -> int:
        """How many jobs to claim now: none until the reserve has run low (or a child would sit
        idle), then up to the prefetch window: concurrency x worker_prefetch_multiplier, and
        while jobs are very short a few more per child (Pool.lookahead), so that children never
        wait for the main process's next claim."""
        assert self.pool is not None
        if self.stopping or self.pool.closed:  # stopping, or the pool is gone (_stop)
            return 0
        window = self.concurrency * self.prefetch + self.pool.lookahead()
        waiting = len(self.reserved) + len(self.pool.queued)  # claimed, not begun
        room = window - waiting - len(self.pool.running())
        low = waiting < self.pool.free() or waiting <= window // 2  # refilled at half
        return room if room > 0 and low else 0

    def _reserve(self, jobs: list[Job], asked: int) -> None:
        self.late_starts.claimed(jobs)
        self.reserved.extend(jobs)
        self._more_waiting = len(jobs) == asked  # a full batch: more may be due

    def _dispatch_reserved(self) -> None:
        """Hand reserved jobs to the pool's shared feed, where the next free child takes each
        (fair dispatch: no job waits for a busy child while another is idle)."""
        assert self.pool is not None
        if self.pool.unstarted:  # handed over, never begun (a child died): first in line again
            self.reserved.extendleft(reversed(self.pool.unstarted))
            self.pool.unstarted = []
        while (job := self._next_reserved()) is not None:
            if not self.pool.submit(job, self._limits(job)):
                self.reserved.appendleft(job)  # the feed is full: later
                return

    def _next_reserved(self) -> Job | None:
        """The next reserved job that has not expired (expired ones are recorded as revoked)."""
        for job in take_expired(self.reserved, self.resolver, self.name):
            self.pending.append(with_follow_ups(self.app, job, outcomes.expired(job)))
        return self.reserved.popleft() if self.reserved else None

    def _claim(self, n: int) -> list[Job]:
        store = self.app.store
        jobs = store.claim(self.owner, *self._claim_request(n))
        self._held_until = store.held_until
        return self.claim_order.arrange(jobs)

    def _claim_request(self, n: int) -> ClaimRequest:
        return self.claim_order.request(n, self._limited_room(), self.late_starts.current())

    def _limited_room(self) -> int:
        """How many rate-limited jobs a claim may take: as many as the children can start at
        their granted slot. That is one per idle child and, while recent jobs are short, the
        pool's lookahead more, waiting in the feed (a child is free again before their slots
        come). The store grants starts at most RATE_HORIZON ahead, so this only lets a worker
        keep that much of a busy rate limit in hand: a moment when no worker claims then leaves
        no gap in the rate."""
        assert self.pool is not None
        return max(self.concurrency + self.pool.lookahead() - len(self.pool.held()) - len(self.reserved), 0)

    def _timeout(self) -> float:
        assert self.pool is not None
        if self.cold or (self.stopping and not self.pool.holding()):
            return 0.0
        if not self.stopping and (self._more_waiting or self.reserved or self.pool.unstarted) and self.pool.free():
            return 0.0
        if self.options.burst and not self.pool.holding() and self._held_until is None:
            return 0.0  # nothing runs and the last claim came back short: the next check ends the run
        timeout = self.app.conf.worker_poll_interval
        # Outcomes are written with others within FLUSH_AFTER; begun jobs alone marked STARTED by MARK_AFTER.
        write_in = self.outcomes.wait_left() if self.pending else self.marks.wait_left()
        if write_in is not None:
            timeout = min(timeout, write_in)
        now = time.time()
        if self._next_eta is not None:
            timeout = min(timeout, max(self._next_eta - now, 0.0))
        if self._held_until is not None and self.pool.free():  # a rate limiter opens: claim then
            timeout = min(timeout, max(self._held_until - now, 0.0))
        if self.scheduler is not None:
            timeout = min(timeout, max(self.next_tick - now, 0.0))
        for deadline in (self.pool.next_deadline(), self.pool.next_scale() if isinstance(self.pool, Pool) else None,
                         self.revokes.owed_in()):
            if deadline is not None:
                timeout = min(timeout, deadline)
        # Until every producer knows of this worker, one more look (a poll) when they all do.
        heard_in = getattr(self.listener, "heard_from", 0.0) - time.monotonic()
        if heard_in > 0:
            timeout = min(timeout, heard_in)
        if self.listener is not None and self.listener.tend_at is not None:  # a listener reconnecting
            timeout = min(timeout, max(self.listener.tend_at - time.monotonic(), 0.0))
        return max(min(timeout, self.next_beat - time.monotonic()), 0.0)

    def wait(self, timeout: float) -> None:
        """Sleep until a child reports, a producer wakes us, a signal arrives, or the timeout."""
        assert self.pool is not None
        ready = self.pool.select(timeout)
        if not ready and not self.options.burst:  # the backstop poll: jobs may have arrived from
            self._next_eta, self._more_waiting = 0.0, True  # producers we cannot hear (a burst run ends instead)
        woken = self.heard_wakeup(ready)
        if self.stop_requests in ready:
            lifecycle.on_stop_request(self)
        reports = self.pool.collect(ready)
        if self.wake_claims is not None and self.wake_claims.take_heard():  # an armed child's wake-up
            woken, self._next_eta = True, 0.0
            self._held_until = self.wake_claims.held_until
            self._more_waiting = self._more_waiting or self.wake_claims.claimed
        begun = self.note_began()  # first: a job may have begun and ended since the last look
        if woken or self.revokes.owed_in() == 0.0:  # a job held may have been revoked (looked for
            self.store_call(self.look_for_revokes)  # once the "began"s are in)
        if begun and self.revokes.deferred:  # revoked while a child was taking them: act now they run
            self.act_on_revokes(self.revokes.begun(begun))
        for job, report in reports:
            self.pending.append(self._outcome(job, report))
        if self.wake_claims is not None and self.wake_claims.lost_since is not None:  # (after the
            self.store_call(housekeeping.put_back_lost_claim, self)  # reports: pending jobs are held)
        self.pool.enforce_limits()

    def heard_wakeup(self, ready: set[Any]) -> bool:
        """Whether a producer (or a revoke) woke this worker: a new job may have an earlier eta."""
        woken = self.listener is not None and self.listener in ready and bool(self.listener.drain())
        if woken:
            self._next_eta = 0.0
        return woken

    def note_began(self) -> list[int]:
        """Take the pool's news of jobs begun (logged, signalled, marked STARTED soon): their ids."""
        assert self.pool is not None
        begun = [job.id for job, _ in self.pool.began]
        for job, when in self.pool.began:
            self.marks.note(job, when)
            log.info("Task %s[%s] received", job.task, job.task_id)
            job_signals.received(self, job, self.name)
        self.pool.began.clear()
        return begun

    def _outcome(self, job: Job, report: Reply | Death) -> Outcome:
        began = self.marks.ended(job.id)
        self.revokes.ended(job.id)
        if isinstance(report, Reply) and report.missed_start is not None:
            self.late_starts.missed(report.missed_start)
        try:
            return with_follow_ups(self.app, job, outcomes.of_report(job, report, began, self.resolver, self.name))
        except Exception as exc:  # one job's report must never stop the worker
            log.exception("Task %s[%s]: its report could not be read.", job.task, job.task_id)
            return outcomes.unrecordable(job.id, job.attempts, exc)

    def flush(self) -> None:
        """Write pending outcomes in one fenced transaction; keep them if the store is busy.

        While children are busy and jobs are reserved, outcomes gather into larger batches (up to
        half the prefetch window, or FLUSH_AFTER seconds). Jobs begun since the last write are
        marked STARTED in the same transaction."""
        now = time.monotonic()
        if not self.pending and not self.marks.due(now):
            self.outcomes.since = 0.0
            return  # a job that begins and ends within MARK_AFTER costs no write of its own
        assert self.pool is not None
        busy = bool(self.reserved or self.pool.queued) and not self.stopping and bool(self.pool.running())
        if self.outcomes.gathering(now, max(self.concurrency * self.prefetch // 2, 1), busy):
            return
        if self.store_guard.waiting or self.store_guard.fatal is not None:
            return  # the server is unreachable (keep the outcomes until it is back), or untrustworthy
        batch, began = self.outcomes.take(), self.marks.take_due()
        room = self._claim_room()
        try:
            applied, claimed = self._finish_and_claim(batch, room, list(began.values()))
        except Exception as exc:
            self.marks.put_back(began)
            self.outcomes.not_written(batch, exc, self.store_guard)
            return
        if room:
            self._reserve(claimed, room)
        self.processed += len(applied)
        self.ended.update(o.state for o in applied)
        if any(o.state in (states.RETRY, states.QUEUED) for o in applied):
            self._more_waiting, self._next_eta = True, 0.0  # they may be due already
        if len(applied) < len(batch):
            lost = {o.job_id for o in batch} - {o.job_id for o in applied}
            log.warning("Ignored %d late outcome(s) for job(s) %s: this worker's lease had expired and "
                        "another attempt owns them.", len(lost), sorted(lost))

    def _finish_and_claim(self, batch: list[Outcome], room: int, began: list[Mark]) -> tuple[list[Outcome], list[Job]]:
        """Record ``batch`` (and mark ``began`` STARTED) and, when the reserve is low, claim the
        next jobs in the same transaction: one commit instead of two."""
        store = self.app.store
        applied, jobs = store.finish_and_claim(self.owner, batch, self._claim_request(room), began)
        if room:
            self._held_until = store.held_until
        return applied, self.claim_order.arrange(jobs)

    def look_for_revokes(self) -> None:
        """After a wake-up: whether a job this worker holds was revoked (a revoke reaches a
        running job in milliseconds)."""
        assert self.pool is not None
        requests = self.revokes.look(self.app.store, [job.id for job in [*self.pool.held(), *self.reserved]])
        if requests is not None:
            self.act_on_revokes(requests)

    def act_on_revokes(self, requests: dict[int, bool]) -> None:
        """Kill (terminate) or tell (``is_revoked()``) running jobs revoked; reserved ones are
        recorded REVOKED without running."""
        assert self.pool is not None
        not_running = self.revokes.act(requests, self.pool)
        self.reserved, revoked = take_revoked(self.pool, self.reserved, not_running, self.resolver, self.name)
        self.pending.extend(revoked)
        self.revokes.defer({job_id: requests[job_id] for job_id in not_running if job_id in self.pool.queued})

    # -- helpers --------------------------------------------------------------------------------

    def _due_now(self) -> bool:
        return self._next_eta is not None and self._next_eta <= time.time()

    def adopt(self, job: Job) -> Limits:
        """Take in a job a child claimed itself at a wake-up; its limits."""
        self.late_starts.claimed([job])
        self.claim_order.arrange([job])
        return self._limits(job)

    def _limits(self, job: Job) -> Limits:
        limits = limits_for(job, self.resolver.find(job.task), self.options, self.app.conf)
        return dataclasses.replace(limits, late_start=self.late_starts.take(job.id)) if job.granted_at else limits

    def store_call(self, fn: Callable[..., Any], *args: Any, default: Any = None) -> Any:
        return self.store_guard.call(fn, *args, default=default)
