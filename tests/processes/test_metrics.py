"""/metrics, scraped over HTTP and parsed with prometheus_client's own parser, agrees with the store:
per-task outcome counters, attempts, runtime histogram, queue depths, workers."""

from __future__ import annotations

import threading
import urllib.request

import pytest

pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from litequeue import states  # noqa: E402
from litequeue.web import Dashboard  # noqa: E402
from tests.support import tasks  # noqa: E402
from tests.support.tasks import app as _support_app  # noqa: E402

DEFAULT = _support_app.conf.task_default_queue  # the queue jobs sent without one go to


def scrape(server: Dashboard) -> dict[tuple[str, tuple], float]:
    host, port = server.server_address[:2]
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=30) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_count_what_the_store_shows(app, run_burst, ledger):
    app.store.queue_depths()  # the store exists before the dashboard opens it
    server = Dashboard(app, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        ok = [tasks.add.delay(i, i) for i in range(5)]
        bad = [tasks.fail.delay("no") for _ in range(2)]
        flaky = tasks.flaky.delay("metrics", 2)  # fails twice, then succeeds on its third attempt
        waiting = [tasks.add.apply_async((0, 0), countdown=600) for _ in range(3)]
        run_burst("-c", "1")
        assert flaky.state == states.SUCCESS and all(r.state == states.FAILURE for r in bad)
        tasks.add.delay(9, 9)  # due, after the worker left
        m = scrape(server)
    finally:
        server.shutdown()
        server.server_close()
    add, fail, flaky_name = tasks.add.name, tasks.fail.name, tasks.flaky.name
    assert m[("litequeue_jobs_succeeded_total", (("task", add),))] == len(ok)
    assert m[("litequeue_jobs_succeeded_total", (("task", flaky_name),))] == 1
    assert m[("litequeue_jobs_failed_total", (("task", fail),))] == len(bad)
    assert m[("litequeue_jobs_started_total", (("task", flaky_name),))] == app.store.get(flaky.id).attempts == 3
    assert m[("litequeue_jobs_retried_total", (("task", flaky_name),))] == 2
    assert m[("litequeue_job_runtime_seconds_count", (("task", add),))] == len(ok)
    assert m[("litequeue_job_runtime_seconds_bucket", (("le", "+Inf"), ("task", add)))] == len(ok)
    assert m[("litequeue_queue_jobs", (("queue", DEFAULT), ("state", "scheduled")))] == len(waiting)
    assert m[("litequeue_queue_jobs", (("queue", DEFAULT), ("state", "due")))] == 1
    assert m[("litequeue_queue_jobs", (("queue", DEFAULT), ("state", "failed")))] == len(bad)
    assert m[("litequeue_workers", (("status", "stopped"),))] == 1
    assert m[("litequeue_lease_rescues_total", ())] == 0
