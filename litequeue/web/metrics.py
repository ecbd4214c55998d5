"""``/metrics`` in Prometheus's text format, through prometheus_client.

Gauges are read from the store at each scrape (queue depths from their partial indexes, workers by
state). Counters and the runtime histogram count the jobs that finished since the dashboard
started: each scrape reads only the jobs finished since the previous one (the ``done_at`` index),
so a scrape costs what happened in between, not the size of the store. Like every Prometheus
counter they start at zero with the process; ``rate()`` and ``increase()`` are what to graph.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from .. import monitoring

if TYPE_CHECKING:
    from ..app import LiteQueue

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, float("inf"))
READ_BATCH = 5000  # finished jobs read per statement while catching up
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LOST = "WorkerLostError"
RECENT = 120  # seconds of per-queue counts kept for the queues' throughput
QUEUE_STATES = ("due", "scheduled", "reserved", "running", "retrying", "failed")  # litequeue_queue_jobs{state=}


class Tally:
    """Counts of finished jobs per task, kept up to date from the store's done_at index."""

    def __init__(self, app: LiteQueue, since: float | None = None) -> None:
        self.app = app
        self.cursor = (time.time() if since is None else since, 0)
        self.outcomes: dict[tuple[str, str], int] = defaultdict(int)  # (task, state) -> jobs
        self.started: dict[str, int] = defaultdict(int)  # task -> attempts (each a start)
        self.retried: dict[str, int] = defaultdict(int)  # task -> attempts after the first
        self.rescues = 0  # leases that expired and were rescued (WorkerLostError in a history)
        self.runtime: dict[str, list[int]] = {}  # task -> count per bucket
        self.runtime_sum: dict[str, float] = defaultdict(float)
        self.per_second: dict[int, Counter[str]] = {}  # second -> jobs finished per queue (the last RECENT s)
        self.lock = threading.Lock()

    def catch_up(self) -> None:
        """Count every job finished since the last call."""
        with self.lock:
            while rows := self.app.store.finished_since(self.cursor, READ_BATCH):
                for row in rows:
                    self._count(*row)
                self.cursor = (rows[-1][0], rows[-1][1])
                if len(rows) < READ_BATCH:
                    break
            horizon = int(time.time()) - RECENT
            for second in [s for s in self.per_second if s < horizon]:
                del self.per_second[second]

    def done_last_minute(self) -> dict[str, int]:
        """{queue: jobs finished in the last 60 seconds}, as counted so far (call catch_up first)."""
        since = int(time.time()) - 60
        out: Counter[str] = Counter()
        with self.lock:
            for second, counts in self.per_second.items():
                if second >= since:
                    out.update(counts)
        return dict(out)

    def _count(self, done_at: float, job_id: int, task: str, queue: str, state: str, attempts: int,
               started_at: float | None, history: str | None, exc_type: str | None) -> None:
        self.outcomes[(task, state)] += 1
        self.per_second.setdefault(int(done_at), Counter())[queue] += 1
        self.started[task] += attempts
        self.retried[task] += max(attempts - 1, 0)
        if history and _LOST in history:
            self.rescues += sum(1 for entry in json.loads(history) if (entry.get("exc_type") or "").endswith(_LOST))
        if started_at is not None and state != "REVOKED":
            seconds = max(done_at - started_at, 0.0)
            counts = self.runtime.setdefault(task, [0] * len(BUCKETS))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
                    break
            self.runtime_sum[task] += seconds


class StoreCollector:
    """A prometheus_client collector reading the store at each scrape."""

    def __init__(self, app: LiteQueue, tally: Tally) -> None:
        self.app, self.tally = app, tally

    def collect(self) -> Iterator[Metric]:
        yield from self._queues()
        yield self._workers()
        self.tally.catch_up()
        yield from self._counters()
        yield self._histogram()

    def _queues(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("litequeue_queue_jobs", "Jobs in a queue by state (due: waiting for a "
                                  "worker; scheduled: waiting for an eta; reserved: claimed by a worker, not "
                                  "begun).", labels=["queue", "state"])
        age = GaugeMetricFamily("litequeue_queue_oldest_due_age_seconds",
                                "How long the oldest due job of a queue has waited.", labels=["queue"])
        paused = GaugeMetricFamily("litequeue_queue_paused", "1 when a queue is paused.", labels=["queue"])
        now = time.time()
        paused_now = self.app.store.paused_queues()
        depths = self.app.store.queue_depths()
        for queue, d in sorted(depths.items()):
            for state in QUEUE_STATES:
                depth.add_metric([queue, state], d[state])
            age.add_metric([queue], max(now - d["oldest_due_at"], 0.0) if d["oldest_due_at"] else 0.0)
        for queue in sorted(set(depths) | paused_now):
            paused.add_metric([queue], 1.0 if queue in paused_now else 0.0)
        yield from (depth, age, paused)

    def _workers(self) -> Metric:
        gauge = GaugeMetricFamily("litequeue_workers", "Workers by status (running, lost, dead, stopped).",
                                  labels=["status"])
        counts: dict[str, int] = defaultdict(int)
        for w in monitoring.workers(self.app, time.time()):
            counts[w["status"]] += 1
        for status in ("running", "lost", "dead", "stopped"):
            gauge.add_metric([status], counts[status])
        return gauge

    def _counters(self) -> Iterator[Metric]:
        tally = self.tally
        names = {"SUCCESS": ("succeeded", "Jobs that succeeded"), "FAILURE": ("failed", "Jobs that failed for good"),
                 "REVOKED": ("revoked", "Jobs revoked or expired"),
                 "IGNORED": ("ignored", "Jobs whose task raised Ignore")}
        with tally.lock:
            for state, (word, text) in names.items():
                family = CounterMetricFamily(f"litequeue_jobs_{word}", f"{text}, per task.", labels=["task"])
                for (task, s), n in sorted(tally.outcomes.items()):
                    if s == state:
                        family.add_metric([task], n)
                yield family
            kinds = (("started", tally.started, "Attempts started, per task (counted when the job ends)"),
                     ("retried", tally.retried, "Attempts after the first, per task (counted when the job ends)"))
            for word, values, text in kinds:
                family = CounterMetricFamily(f"litequeue_jobs_{word}", f"{text}.", labels=["task"])
                for task, n in sorted(values.items()):
                    family.add_metric([task], n)
                yield family
            rescues = CounterMetricFamily("litequeue_lease_rescues", "Jobs taken back from a worker that stopped "
                                          "heartbeating (lease expired), counted when the job ends.")
            rescues.add_metric([], tally.rescues)
            yield rescues

    def _histogram(self) -> Metric:
        family = HistogramMetricFamily("litequeue_job_runtime_seconds", "How long finished jobs ran, per task.",
                                       labels=["task"])
        with self.tally.lock:
            for task, counts in sorted(self.tally.runtime.items()):
                cumulative, buckets = 0, []
                for bound, n in zip(BUCKETS, counts, strict=True):
                    cumulative += n
                    buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
                family.add_metric([task], buckets, self.tally.runtime_sum[task])
        return family


class Metrics:
    """What ``/metrics`` serves for one app."""

    def __init__(self, app: LiteQueue, since: float | None = None) -> None:
        self.tally = Tally(app, since)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(StoreCollector(app, self.tally))

    def render(self) -> bytes:
        return generate_latest(self.registry)
