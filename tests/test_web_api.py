"""The dashboard's HTTP API, checked against its OpenAPI file (litequeue/web/openapi.json): every
route answers what the file says, over real HTTP from a real server on a real store; actions need
their header and are refused read-only; other binds need a token or basic auth."""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from importlib import resources

import pytest

pytest.importorskip("prometheus_client")
openapi_core = pytest.importorskip("openapi_core")
from openapi_core.testing import MockRequest, MockResponse  # noqa: E402

from litequeue import states  # noqa: E402
from litequeue.errors import ConfigurationError  # noqa: E402
from litequeue.schedules import Schedule  # noqa: E402
from litequeue.store import Outcome, WorkerInfo  # noqa: E402
from litequeue.store.claims import ClaimRequest  # noqa: E402
from litequeue.web import Access, Dashboard, api  # noqa: E402
from tests.support.tasks import app as _support_app  # noqa: E402

DEFAULT = _support_app.conf.task_default_queue  # the queue jobs sent without one go to

SPEC = json.loads((resources.files("litequeue.web") / "openapi.json").read_text())
OPENAPI = openapi_core.OpenAPI.from_dict(SPEC)
OWNER = "w1@here/abc"


@pytest.fixture
def serve(app):
    servers: list[Dashboard] = []

    def start(access: Access = Access(), host: str = "127.0.0.1") -> Dashboard:
        server = Dashboard(app, host, 0, access, event_interval=0.1)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def call(server: Dashboard, method: str, path: str, headers: dict | None = None) -> tuple[int, bytes, dict]:
    host, port = server.server_address[:2]
    request = urllib.request.Request(f"http://{host}:{port}{path}", method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def checked(server: Dashboard, method: str, path: str, query: dict | None = None, headers: dict | None = None,
            status: int = 200):
    """Call the API and validate the answer against the OpenAPI file; the decoded JSON."""
    full = path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    code, body, answer_headers = call(server, method, full, headers)
    assert code == status, body
    request = MockRequest("http://127.0.0.1:5555", method.lower(), path, args=query or {},
                                               headers=headers or {})
    content_type = answer_headers["Content-Type"].split(";")[0]
    OPENAPI.validate_response(request, MockResponse(body, code, content_type=content_type))
    return json.loads(body) if content_type == "application/json" else body


@pytest.fixture
def filled(app):
    """Jobs in every state, a worker, a schedule entry."""
    from tests.support.tasks import add, fail

    ids = {"queued": add.delay(1, 1).id, "scheduled": add.apply_async((2, 2), countdown=600).id}
    for name in ("ok", "bad", "running"):
        ids[name] = add.apply_async((3, 3), queue="busy", task_id=name).id
    fail.apply_async(("never",), queue="busy")
    jobs = {j.task_id: j for j in app.store.claim(OWNER, ["busy"], (), 3, 60)}
    running = jobs["running"]  # claimed jobs are RESERVED until a child begins them
    app.store.finish_and_claim(OWNER, [], ClaimRequest(None, (), 0, 0.0), [(running.id, running.attempts, time.time())])
    app.store.finish(OWNER, [Outcome(jobs["ok"].id, 1, states.SUCCESS, result=b"6", result_type="application/json"),
                             Outcome(jobs["bad"].id, 1, states.FAILURE, exc_type="ValueError", exc_message="no",
                                     traceback="Traceback...\nValueError: no")])
    now = time.time()
    app.store.register_worker(WorkerInfo("w1@here", socket.gethostname(), os.getpid(), 2, "default,busy", now, now, 1))
    Schedule(app).add("tick", "tests.support.tasks.add", 60.0, args=(1, 2))
    return ids


def test_every_read_answers_as_the_openapi_file_says(serve, filled):
    server = serve()
    overview = checked(server, "GET", "/api/overview")
    assert {q["queue"] for q in overview["queues"]} == {DEFAULT, "busy"}
    assert [w["active"][0]["id"] for w in overview["workers"]] == ["running"]
    checked(server, "GET", "/api/queues")
    checked(server, "GET", "/api/workers")
    page = checked(server, "GET", "/api/jobs", {"limit": "2"})
    assert len(page["jobs"]) == 2 and page["next"] is not None
    rest = checked(server, "GET", "/api/jobs", {"before": str(page["next"]), "limit": "50"})
    assert len(page["jobs"]) + len(rest["jobs"]) == 6
    assert [j["id"] for j in checked(server, "GET", "/api/jobs", {"state": "FAILURE"})["jobs"]] == ["bad"]
    assert checked(server, "GET", "/api/jobs", {"search": "ok"})["jobs"][0]["id"] == "ok"
    job = checked(server, "GET", "/api/jobs/bad")
    assert (job["state"], job["exc_type"]) == ("FAILURE", "ValueError")
    assert job["traceback"].endswith("ValueError: no")
    assert checked(server, "GET", "/api/jobs/ok")["result"] == 6
    assert [s["name"] for s in checked(server, "GET", "/api/schedules")] == ["tick"]
    assert checked(server, "GET", "/api/throughput", {"minutes": "5"})["series"]["SUCCESS"][-1] == 1
    assert checked(server, "GET", "/api/info")["read_only"] is False
    checked(server, "GET", "/metrics")


def test_bad_requests_answer_with_the_problem_and_its_fix(serve, filled):
    server = serve()
    assert "not a job state" in checked(server, "GET", "/api/jobs", {"state": "DONE"}, status=400)["error"]
    assert "whole number" in checked(server, "GET", "/api/jobs", {"before": "x"}, status=400)["error"]
    assert "between 1 and 1440" in checked(server, "GET", "/api/throughput", {"minutes": "0"}, status=400)["error"]
    for limit in ("0", "-5", "501"):  # not quietly replaced by 50, 1 or 500
        assert "give 1 to 500" in checked(server, "GET", "/api/jobs", {"limit": limit}, status=400)["error"]
    # a mistyped filter is refused, rather than answered with every job as if each matched
    assert "Unknown parameter 'stat'" in checked(server, "GET", "/api/jobs", {"stat": "FAILURE"}, status=400)["error"]
    assert "No job with id" in checked(server, "GET", "/api/jobs/nope", status=404)["error"]
    assert call(server, "GET", "/api/nothing")[0] == 404
    assert call(server, "GET", "/static/../../setup.cfg")[0] == 404


def test_actions_change_the_store_and_need_their_header(serve, filled, app):
    server = serve()
    action = {"X-Litequeue-Action": "1"}
    assert "header" in checked(server, "POST", "/api/jobs/queued/revoke", status=403)["error"]
    assert app.store.get(filled["queued"]).state == states.QUEUED
    assert checked(server, "POST", f"/api/jobs/{filled['queued']}/revoke", headers=action)["changed"] == 1
    assert app.store.get(filled["queued"]).state == states.REVOKED
    assert checked(server, "POST", "/api/jobs/bad/retry", headers=action)["changed"] == 1
    assert app.store.get("bad").state == states.QUEUED
    assert "only a finished job" in checked(server, "POST", "/api/jobs/bad/retry", headers=action, status=409)["error"]
    checked(server, "POST", "/api/jobs/running/terminate", headers=action)
    assert app.store.get("running").state == states.STARTED  # its worker stops it at its next heartbeat
    assert checked(server, "POST", "/api/queues/busy/pause", headers=action)["changed"] == 1
    assert app.store.paused_queues() == {"busy"}
    assert [q["paused"] for q in checked(server, "GET", "/api/queues") if q["queue"] == "busy"] == [True]
    assert checked(server, "POST", "/api/queues/busy/resume", headers=action)["changed"] == 1
    assert checked(server, "POST", "/api/queues/busy/purge", headers=action)["changed"] == 2  # 'bad' and 'never'
    assert checked(server, "POST", "/api/schedules/tick/pause", headers=action)["state"] == "paused"
    assert checked(server, "POST", "/api/schedules/tick/resume", headers=action)["state"] == "active"
    assert checked(server, "POST", "/api/schedules/nope/pause", headers=action, status=404)["error"]


def test_read_only_refuses_every_action(serve, filled, app):
    server = serve(Access(read_only=True))
    assert checked(server, "GET", "/api/info")["read_only"] is True
    answer = checked(server, "POST", "/api/queues/busy/pause", headers={"X-Litequeue-Action": "1"}, status=403)
    assert "read-only" in answer["error"] and app.store.paused_queues() == set()


def test_any_other_bind_needs_a_token_or_basic_auth(serve, app):
    app.store.queue_depths()
    with pytest.raises(ConfigurationError, match="--token or --basic-auth"):
        Dashboard(app, "0.0.0.0", 0)
    server = serve(Access(token="s3cret"))
    assert call(server, "GET", "/api/info")[0] == 401
    assert call(server, "GET", "/api/info", {"Authorization": "Bearer wrong"})[0] == 401
    assert call(server, "GET", "/api/info", {"Authorization": "Bearer s3cret"})[0] == 200
    assert call(server, "GET", "/api/info", {"Cookie": "litequeue_token=s3cret"})[0] == 200
    link = http.client.HTTPConnection(*server.server_address[:2], timeout=30)  # a link with the token in it:
    link.request("GET", "/?token=s3cret")
    answer = link.getresponse()  # kept in a cookie, dropped from the address
    assert (answer.status, answer.getheader("Location")) == (303, "/")
    assert "litequeue_token=s3cret" in answer.getheader("Set-Cookie") and "HttpOnly" in answer.getheader("Set-Cookie")
    link.close()
    basic = serve(Access(basic_auth="ann:pw"))
    assert call(basic, "GET", "/api/info")[0] == 401
    good = base64.b64encode(b"ann:pw").decode()
    assert call(basic, "GET", "/api/info", {"Authorization": f"Basic {good}"})[0] == 200


def test_the_openapi_file_documents_every_route_the_server_has():
    documented = {(method.upper(), path) for path, ops in SPEC["paths"].items() for method in ops}
    served = {(r.method, r.pattern.pattern.strip("^$").replace("(?P<", "{").replace(">[^/]+)", "}"))
              for r in api.ROUTES} | {("GET", "/api/events"), ("GET", "/metrics")}
    assert documented == served


def test_events_stream_overviews(serve, filled):
    server = serve()
    host, port = server.server_address[:2]
    with urllib.request.urlopen(f"http://{host}:{port}/api/events", timeout=30) as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        events = []
        while len(events) < 2:
            line = stream.readline().decode()
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    assert all({q["queue"] for q in e["queues"]} == {DEFAULT, "busy"} for e in events)


def test_queues_show_jobs_finished_in_the_last_minute(serve, app):
    from tests.support.tasks import add

    for i in range(3):
        add.delay(i, i)
    server = serve()
    jobs = app.store.claim(OWNER, [DEFAULT], (), 2, 60)
    app.store.finish(OWNER, [Outcome(j.id, 1, states.SUCCESS, result=b"0", result_type="application/json")
                             for j in jobs])
    [queue] = checked(server, "GET", "/api/queues")
    assert (queue["queue"], queue["due"], queue["done_last_minute"]) == (DEFAULT, 1, 2)
    assert checked(server, "GET", "/api/overview")["queues"][0]["done_last_minute"] == 2


def test_the_dashboard_command_refuses_what_it_cannot_serve_safely(app, db, tmp_path):
    from click.testing import CliRunner

    from litequeue.cli import main

    def run(*args: str):
        return CliRunner().invoke(main, ["dashboard", *args])

    missing = run(str(tmp_path / "typo.sqlite"))
    assert missing.exit_code == 1 and "No database at" in missing.output
    assert not (tmp_path / "typo.sqlite").exists()  # a reading command never creates a store
    app.store.queue_depths()
    exposed = run(db, "--host", "0.0.0.0", "--port", "0")
    assert exposed.exit_code == 1 and "--token or --basic-auth" in exposed.output
    assert exposed.output.count("\n") == 1  # one line, no traceback
    bad = run(db, "--basic-auth", "no-colon")
    assert bad.exit_code == 2 and "user:password" in bad.output


def test_a_job_page_shows_where_the_job_stands_in_its_workflow(serve, app):
    from litequeue import chain, chord
    from litequeue.testing import drain
    from tests.support import canvas_tasks as ct
    from tests.support import tasks

    c = chord([tasks.add.s(i, i) for i in range(3)], ct.xsum.s())()
    chain(tasks.add.s(1, 1), ct.mul.s(3))()
    drain(app, limit=1)
    server = serve()
    member = checked(server, "GET", f"/api/jobs/{c.parent.results[0].id}")
    group = member["workflow"]["group"]
    assert (group["id"], group["chord"], group["members_total"]) == (c.parent.id, True, 3)
    first = app.store.list_jobs(task=tasks.add.name, states_=["QUEUED"])[-1]
    step = checked(server, "GET", f"/api/jobs/{first.task_id}")["workflow"]
    assert step["chain"] == {"step": 1, "of": 2} and step["next"] == [ct.mul.name]
    plain = tasks.add.delay(0, 0)
    assert checked(server, "GET", f"/api/jobs/{plain.id}")["workflow"] is None
