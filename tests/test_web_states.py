"""The dashboard's API and /metrics show every queue state the store has: reserved jobs (claimed
by a worker, not begun) in the queue depths, the job filter and the metrics; replaced jobs in the
job filter and on their page; ignored jobs in the throughput chart; and due jobs that a rate or
concurrency limit holds back, from the same monitoring functions ``litequeue status`` prints.
Answers are checked against the OpenAPI file; metrics are parsed with prometheus_client's own
parser and compared with what the store holds."""

from __future__ import annotations

import urllib.request

import pytest

pytest.importorskip("prometheus_client")
pytest.importorskip("openapi_core")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from litequeue import monitoring, states  # noqa: E402
from litequeue.flow import code_limits  # noqa: E402
from litequeue.web import Dashboard  # noqa: E402
from tests import test_web_api  # noqa: E402
from tests.test_web_api import checked  # noqa: E402

serve = test_web_api.serve  # the fixture: a dashboard server in a thread of this process

OWNER = "w1@here/abc"


def scrape(server: Dashboard) -> dict[tuple[str, tuple], float]:
    host, port = server.server_address[:2]
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=30) as r:
        text = r.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_reserved_jobs_are_in_the_queue_depths_the_job_filter_and_the_metrics(serve, app):
    from tests.support.tasks import add

    sent = [add.apply_async((i, i), queue="busy").id for i in range(5)]
    claimed = app.store.claim(OWNER, ["busy"], (), 3, 60)  # a worker's prefetch: RESERVED, not begun
    assert {j.state for j in claimed} == {states.RESERVED}
    reserved = {j.task_id for j in app.store.list_jobs([states.RESERVED], limit=100)}
    assert len(reserved) == 3
    server = serve()

    [busy] = [q for q in checked(server, "GET", "/api/queues") if q["queue"] == "busy"]
    assert (busy["reserved"], busy["due"]) == (3, 2)
    [busy] = [q for q in checked(server, "GET", "/api/overview")["queues"] if q["queue"] == "busy"]
    assert busy["reserved"] == 3
    page = checked(server, "GET", "/api/jobs", {"state": "RESERVED"})
    assert {j["id"] for j in page["jobs"]} == reserved and {j["state"] for j in page["jobs"]} == {"RESERVED"}
    assert "RESERVED" in checked(server, "GET", "/api/info")["states"]
    job = checked(server, "GET", f"/api/jobs/{claimed[0].task_id}")
    assert (job["state"], job["held_back"]) == ("RESERVED", [])
    assert set(sent) >= reserved

    m = scrape(server)
    assert m[("litequeue_queue_jobs", (("queue", "busy"), ("state", "reserved")))] == len(reserved)
    assert m[("litequeue_queue_jobs", (("queue", "busy"), ("state", "due")))] == 2
    assert m[("litequeue_queue_jobs", (("queue", "busy"), ("state", "running")))] == 0


def test_held_back_jobs_are_served_from_the_status_functions_and_shown_on_their_job(serve, flow_app):
    from tests.support.flow_tasks import hourly, per_account

    flow_app.store.declare_limits(*code_limits(flow_app))
    hourly_ids = [hourly.delay("h").id for _ in range(3)]
    account_ids = [per_account.delay("acct-42", 0).id for _ in range(3)]
    other = per_account.delay("acct-7", 0).id
    flow_app.store.claim("w1", None, (), 10, 30)  # one of each limit starts; the rest are held back
    server = serve()

    held = checked(server, "GET", "/api/held-back")
    assert held == monitoring.held_back(flow_app)  # the function status and inspect print
    by_limit = {h["limit"]: h for h in held}
    assert (by_limit["rate"]["task"], by_limit["rate"]["waiting"]) == (hourly.name, 2)
    assert by_limit["rate"]["reason"].startswith("rate limited until")
    assert (by_limit["concurrency"]["key"], by_limit["concurrency"]["waiting"]) == ("acct-42", 2)
    assert checked(server, "GET", "/api/overview")["held_back"] == held

    waiting = {i for i in hourly_ids if flow_app.store.get(i).state == states.QUEUED}
    assert len(waiting) == 2
    for job_id in waiting:
        [shown] = checked(server, "GET", f"/api/jobs/{job_id}")["held_back"]
        assert shown == by_limit["rate"]
    key_waiting = [i for i in account_ids if flow_app.store.get(i).state == states.QUEUED]
    assert [h["key"] for h in checked(server, "GET", f"/api/jobs/{key_waiting[0]}")["held_back"]] == ["acct-42"]
    started = (set(hourly_ids) - waiting).pop()
    assert checked(server, "GET", f"/api/jobs/{started}")["held_back"] == []  # claimed: not held back
    assert checked(server, "GET", f"/api/jobs/{other}")["held_back"] == []  # another key: it was claimed


def test_replaced_jobs_can_be_listed_and_shown(serve, app, run_burst):
    from tests.support import canvas_tasks as ct

    replaced = ct.replaced_by.delay(5, "chain from later")
    run_burst("-Q", "celery", "-c", "1")  # its replacement's first step waits in queue "later"
    server = serve()

    assert "REPLACED" in checked(server, "GET", "/api/info")["states"]
    page = checked(server, "GET", "/api/jobs", {"state": "REPLACED"})
    assert [j["id"] for j in page["jobs"]] == [replaced.id]
    assert checked(server, "GET", f"/api/jobs/{replaced.id}")["state"] == "REPLACED"


def test_ignored_jobs_are_charted_with_the_other_outcomes(serve, app, run_burst):
    from tests.support import ignore_tasks as it
    from tests.support.tasks import add

    it.ignored.delay("charted")
    add.delay(1, 1)
    run_burst("-c", "1")

    series = checked(serve(), "GET", "/api/throughput", {"minutes": "5"})["series"]
    assert (sum(series["IGNORED"]), sum(series["SUCCESS"])) == (1, 1)
