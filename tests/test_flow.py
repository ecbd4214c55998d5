"""Flow control in the store: unique jobs at enqueue, rate and concurrency limits at claim,
what a store without limits does, and the query plans of every statement flow control adds.

Store-agnostic: tests/postgres/test_same_as_flow.py runs them again on PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from litequeue import LiteQueue, Queue, states
from litequeue.errors import ConfigurationError, InvalidOptionError
from litequeue.flow import code_limits, parse_rate
from litequeue.store import Outcome


def claim(app, n=10, queues=None, limited_room=None):
    return app.store.claim("w1", queues, (), n, 30, None, limited_room)


def finish(app, jobs, state=states.SUCCESS):
    app.store.finish("w1", [Outcome(j.id, j.attempts, state) for j in jobs])


def declare(app) -> None:
    app.store.declare_limits(*code_limits(app))


def rate_of(app, task: str) -> tuple:
    [row] = [r for r in app.store.limits() if r.name == "task:" + task]
    return row.rate, row.rate_override, row.interval


# -- unique jobs ---------------------------------------------------------------------------------


def test_a_duplicate_unique_job_returns_the_first_jobs_result_and_enqueues_nothing(flow_app):
    from tests.support.flow_tasks import refresh

    first = refresh.delay("home")
    again = refresh.delay("home")
    other = refresh.delay("away")
    assert again.id == first.id and other.id != first.id
    assert flow_app.store.count_jobs() == 2


def test_keyword_order_does_not_make_a_call_unique_and_a_call_may_ask_for_uniqueness(flow_app):
    from tests.support.flow_tasks import span

    a = span.apply_async(kwargs={"key": "k", "seconds": 0}, unique_for=30)
    b = span.apply_async(kwargs={"seconds": 0, "key": "k"}, unique_for=30)
    c = span.apply_async(kwargs={"seconds": 0, "key": "k"})  # not unique: always enqueued
    d = span.apply_async(args=["k", 1], unique_for=30, unique_key="my-key")
    e = span.apply_async(args=["other", 2], unique_for=30, unique_key="my-key")
    assert a.id == b.id and c.id != a.id and d.id == e.id and d.id != a.id
    assert flow_app.store.count_jobs() == 3


@pytest.mark.parametrize("state", [states.FAILURE, states.REVOKED])
def test_a_failed_or_revoked_unique_job_no_longer_counts(flow_app, state):
    from tests.support.flow_tasks import refresh

    first = refresh.delay("home")
    if state == states.REVOKED:
        flow_app.control.revoke(first.id)
    else:
        finish(flow_app, claim(flow_app), states.FAILURE)
    second = refresh.delay("home")
    assert second.id != first.id
    assert refresh.delay("home").id == second.id


@pytest.mark.parametrize("state", [states.STARTED, states.SUCCESS])
def test_a_running_or_succeeded_unique_job_counts_until_its_window_ends(flow_app, state):
    from tests.support.flow_tasks import refresh

    first = refresh.delay("home")
    jobs = claim(flow_app)
    if state == states.SUCCESS:
        finish(flow_app, jobs)
    assert refresh.delay("home").id == first.id
    flow_app.store.db.execute_sql("UPDATE lq_jobs SET unique_until = unique_until - 61")  # the window has passed
    assert refresh.delay("home").id != first.id


def test_unique_jobs_inside_a_transaction_and_in_bulk(flow_app):
    from tests.support.flow_tasks import refresh

    with pytest.raises(RuntimeError), flow_app.transaction():
        refresh.delay("rolled-back")
        raise RuntimeError
    assert flow_app.store.count_jobs() == 0
    with flow_app.transaction():
        first = refresh.delay("home")
        assert refresh.delay("home").id == first.id
    results = flow_app.enqueue_many([(refresh, ("home",)), (refresh, ("x",)), (refresh, ("x",)), (refresh, ("y",))])
    assert results[0].id == first.id and results[1].id == results[2].id
    assert flow_app.store.count_jobs() == 3


def test_a_beat_fire_of_a_unique_task_enqueues_once_while_the_first_counts(flow_app, caplog):
    """Every fire records, and logs, the one job that stands for it: the later fires joined it."""
    import logging

    from litequeue.beat import Beat
    from tests.support.flow_tasks import refresh

    flow_app.conf.beat_schedule = {"refresh": {"task": refresh.name, "schedule": 0.05, "args": ("home",)}}
    try:
        beat = Beat(flow_app)
        beat.start()
        fired = 0
        with caplog.at_level(logging.INFO, logger="litequeue"):
            while fired < 3:
                beat.tick()
                fired = len(flow_app.store.fires())
                __import__("time").sleep(0.03)
        [job] = flow_app.store.list_jobs()
        assert {f.task_id for f in flow_app.store.fires()} == {job.task_id}
        said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("beat:")]
        assert said[0].endswith(f"[{job.task_id}]") and "sending due task" in said[0]
        assert all(f"[{job.task_id}] has not run yet: nothing new sent" in line for line in said[1:]) and said[1:]
    finally:
        flow_app.conf.beat_schedule = {}


def test_bad_flow_options_are_refused_with_the_fix():
    app = LiteQueue()
    with pytest.raises(ConfigurationError, match="rate limit"):
        app.task(rate_limit="ten per second")(lambda: None)
    with pytest.raises(ConfigurationError, match="concurrency must be an integer"):
        app.task(concurrency=0)(lambda: None)
    with pytest.raises(ConfigurationError, match="concurrency_key needs concurrency"):
        app.task(concurrency_key=lambda: "k")(lambda: None)
    with pytest.raises(ConfigurationError, match="unique_for must be a positive"):
        app.task(unique_for=-1)(lambda: None)
    with pytest.raises(ConfigurationError, match="concurrency must be"):
        Queue("q", concurrency="2")
    spacings = [parse_rate(r, "x") for r in ("10/s", "120/m", "3600/h", 4, "0", None)]  # period + margin, / count
    assert spacings == [1.02 / 10, 60.05 / 120, 3600.05 / 3600, 1.02 / 4, None, None]


def test_a_concurrency_key_that_fails_refuses_the_call_and_enqueues_nothing(flow_app):
    from tests.support.flow_tasks import per_account

    with pytest.raises(InvalidOptionError, match="concurrency_key raised TypeError"):
        flow_app.send_task(per_account.name, kwargs={"seconds": 1})  # by name: no arity check before the key
    assert flow_app.store.count_jobs() == 0


# -- concurrency -----------------------------------------------------------------------------------


def test_a_concurrency_key_holds_back_jobs_of_a_busy_key_only_and_keeps_their_order(flow_app):
    from tests.support.flow_tasks import per_account, span

    sent = [per_account.delay(account, i) for i, account in enumerate(["a", "a", "b", "a", "b"])]
    plain = span.delay("p", 0)
    first = claim(flow_app)
    assert sorted(j.task_id for j in first) == sorted([sent[0].id, sent[2].id, plain.id])
    assert claim(flow_app) == []  # a and b are busy
    finish(flow_app, [j for j in first if j.task_id == sent[0].id])
    assert [j.task_id for j in claim(flow_app)] == [sent[1].id]  # a's next, in order
    held = {h.limit.split("\x1f")[1]: h for h in flow_app.store.held_back()}
    assert held["a"].waiting == 1 and held["b"].waiting == 1 and held["a"].running == 1


def test_a_task_concurrency_and_a_queue_concurrency_cap_running_jobs(flow_app):
    from tests.support.flow_tasks import span, two_at_a_time

    flow_app.conf.task_queues = (Queue("celery"), Queue("reports", concurrency=1))
    try:
        declare(flow_app)
        for i in range(4):
            two_at_a_time.delay(f"t{i}", 0)
            span.apply_async(("r", 0), queue="reports")
        taken = claim(flow_app, queues=["celery", "reports"])
        assert sorted(j.queue for j in taken) == ["celery", "celery", "reports"]
        assert claim(flow_app, queues=["celery", "reports"]) == []
        finish(flow_app, taken)
        assert len(claim(flow_app, queues=["celery", "reports"])) == 3
    finally:
        flow_app.conf.task_queues = None


def test_a_claim_takes_at_most_its_limited_room_of_rate_limited_jobs(flow_app):
    from tests.support.flow_tasks import per_account, rated, span

    declare(flow_app)
    flow_app.control.rate_limit(rated.name, "1000/s")  # several starts fit in one claim's horizon
    for i in range(6):
        rated.delay(i)
    per_account.delay("a", 0)
    span.delay("p", 0)
    assert sorted(j.task for j in claim(flow_app, limited_room=0)) == sorted([per_account.name, span.name])
    assert [j.task for j in claim(flow_app, limited_room=2)] == [rated.name] * 2


def test_an_expired_lease_gives_the_slot_back_when_rescued_not_before(flow_app):
    from tests.support.flow_tasks import per_account

    per_account.delay("a", 0)
    second = per_account.delay("a", 0)
    [job] = claim(flow_app)
    flow_app.store.db.execute_sql(flow_app.store.sql("UPDATE lq_jobs SET lease_until = 0 WHERE id = ?"), (job.id,))
    assert claim(flow_app) == []  # the lease has expired, but nobody rescued it yet
    flow_app.store.rescue_expired()
    assert [j.task_id for j in claim(flow_app)] == [job.task_id]  # first in line again, before the second
    assert claim(flow_app) == [] and second.job_state == states.QUEUED


# -- rates ---------------------------------------------------------------------------------------


def test_a_rate_limited_task_starts_one_job_per_interval_and_others_pass_it(flow_app):
    from tests.support.flow_tasks import hourly, span

    declare(flow_app)
    for i in range(3):
        hourly.delay(f"r{i}")
    plain = span.delay("p", 0)
    first = claim(flow_app)
    assert sorted(j.task for j in first) == sorted([hourly.name, span.name]) and plain.id in {j.task_id for j in first}
    assert claim(flow_app) == []
    [held] = flow_app.store.held_back()
    assert held.kind == "rate" and held.waiting == 2 and held.until is not None
    assert flow_app.store.held_until == pytest.approx(held.until)
    assert flow_app.store.count_jobs([states.QUEUED]) == 2
    assert {j.attempts for j in flow_app.store.list_jobs([states.QUEUED])} == {0}  # held back: not an attempt


def test_a_rate_set_at_run_time_applies_at_the_next_claim_and_can_be_reset(flow_app):
    from tests.support.flow_tasks import rated

    declare(flow_app)
    for i in range(4):
        rated.delay(f"r{i}")
    flow_app.control.rate_limit(rated.name, "1/h")
    assert len(claim(flow_app)) == 1 and claim(flow_app) == []
    assert rate_of(flow_app, rated.name) == ("10/s", "1/h", 3600.05)
    declare(flow_app)  # a worker starting with the code's rate keeps the run-time one
    assert rate_of(flow_app, rated.name)[1:] == ("1/h", 3600.05)
    flow_app.control.rate_limit(rated.name, None)
    assert rate_of(flow_app, rated.name) == ("10/s", None, 1.02 / 10)
    flow_app.control.rate_limit(rated.name, "0")  # no limit at all, until reset
    assert len(claim(flow_app)) == 3


def test_a_queue_rate_limit_holds_back_that_queue_only(flow_app):
    from tests.support.flow_tasks import span

    flow_app.conf.task_queues = (Queue("celery"), Queue("slow", rate_limit="1/h"))
    try:
        declare(flow_app)
        for i in range(2):
            span.apply_async((f"s{i}", 0), queue="slow")
            span.delay(f"d{i}", 0)
        assert sorted(j.queue for j in claim(flow_app)) == ["celery", "celery", "slow"]
        assert claim(flow_app) == []
    finally:
        flow_app.conf.task_queues = None


def test_a_limit_removed_from_the_code_stops_applying_when_a_worker_starts(flow_app):
    flow_app.conf.task_queues = (Queue("celery"), Queue("slow", concurrency=1))
    try:
        declare(flow_app)
        names = [r.name for r in flow_app.store.limits()]
        assert names[0] == "queue:slow" and {f"task:{flow_app.tasks[t].name}" for t in (
            "tests.support.flow_tasks.hourly", "tests.support.flow_tasks.two_at_a_time")} <= set(names)
        flow_app.conf.task_queues = (Queue("celery"), Queue("slow"))
        declare(flow_app)
        assert "queue:slow" not in [r.name for r in flow_app.store.limits()]
    finally:
        flow_app.conf.task_queues = None


# -- what a store without limits does ------------------------------------------------------------------


def test_a_store_without_limits_claims_with_the_one_statement_of_before(app):
    from tests.support.tasks import add

    add.delay(1, 2)
    statements = []
    original = app.store.db.execute_sql

    def recording(sql, params=None, *args, **kwargs):
        statements.append(sql)
        return original(sql, params, *args, **kwargs)

    app.store.db.execute_sql = recording
    try:
        assert len(app.store.claim("w", ["celery"], (), 8, 30)) == 1
    finally:
        del app.store.db.execute_sql
    claims = [s for s in statements if "lq_jobs" in s]
    assert len(claims) == 1 and "lq_limits" not in " ".join(statements)


# -- query plans (SQLite) ----------------------------------------------------------------------------


def test_every_flow_statement_seeks_an_index_without_sorting(flow_app):
    from tests.support.flow_tasks import hourly, per_account, refresh, span, two_at_a_time
    from tests.test_store_sqlite import capture_sql, plan

    store = flow_app.store
    flow_app.conf.task_queues = (Queue("celery"), Queue("reports", concurrency=1, rate_limit="1/h"))
    try:
        declare(flow_app)
        for i in range(3):
            hourly.delay(i)
            per_account.delay("a", 0)
            two_at_a_time.delay(i, 0)
            span.apply_async(("r", 0), queue="reports")
        actions = [
            lambda: refresh.delay("home"), lambda: refresh.delay("home"),
            lambda: claim(flow_app, queues=["celery", "reports"]), lambda: claim(flow_app),
            lambda: claim(flow_app, limited_room=0), store.held_back,
            lambda: flow_app.control.rate_limit(hourly.name, "2/h"),
        ]
        statements = [s for action in actions for s in capture_sql(store, action)]
    finally:
        flow_app.conf.task_queues = None
    assert any("lq_limits" in sql for sql, _ in statements) and any("unique_key" in sql for sql, _ in statements)
    for sql, params in statements:
        if sql.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "INSERT INTO LQ_META")):
            continue
        steps = plan(store, sql, params)
        assert not any("TEMP B-TREE" in s for s in steps), (sql, steps)
        assert not any(s.startswith("SCAN lq_jobs") and "INDEX" not in s for s in steps), (sql, steps)


# -- seeing it -------------------------------------------------------------------------------------


def test_status_inspect_and_json_say_which_jobs_are_held_back_and_why(flow_app, db):
    import json
    import time

    from tests.support.flow_tasks import hourly, per_account
    from tests.test_cli_admin import cli

    declare(flow_app)
    for _ in range(3):
        hourly.delay("h")
        per_account.delay("acct-42", 0)
    claim(flow_app)
    [rate] = [h for h in flow_app.store.held_back() if h.kind == "rate"]
    until = time.strftime("%H:%M:%S", time.localtime(rate.until))
    shown = cli("status", db).output
    assert f"2 job(s) of task {hourly.name}: rate limited until {until}" in shown
    assert f"2 job(s) of task {per_account.name}: waiting for a concurrency slot of key acct-42" in shown
    assert "rate limited until" in cli("inspect", db, "held_back").output
    held = {h["limit"]: h for h in json.loads(cli("status", db, "--json").output)["held_back"]}
    assert held["concurrency"]["key"] == "acct-42" and held["concurrency"]["waiting"] == 2
    assert held["rate"]["task"] == hourly.name  # times in JSON are ISO-8601 UTC, like every other
    assert dt.datetime.fromisoformat(held["rate"]["until"]).timestamp() > time.time()
    assert flow_app.control.inspect().held_back() == json.loads(cli("inspect", db, "held_back", "--json").output)


def test_the_control_command_sets_and_resets_a_rate_limit_for_every_worker(flow_app, db):
    from tests.support.flow_tasks import rated
    from tests.test_cli_admin import cli

    declare(flow_app)
    done = cli("control", "rate-limit", db, rated.name, "5/m")
    assert done.exit_code == 0 and "5/m" in done.output
    assert rate_of(flow_app, rated.name) == ("10/s", "5/m", 60.05 / 5)
    assert "reset to 10/s" in cli("control", "rate-limit", db, rated.name, "--reset").output
    assert rate_of(flow_app, rated.name) == ("10/s", None, 1.02 / 10)
    bad = cli("control", "rate-limit", db, rated.name, "5/x")
    assert bad.exit_code == 1 and "is not a rate limit" in bad.output and "Traceback" not in bad.output


def test_a_rate_limit_for_a_task_or_queue_nobody_knows_is_refused_and_nothing_is_stored(flow_app, db):
    from tests.test_cli_admin import cli, one_line_error

    for target, named in (("tests.support.flow_tasks.rat3d", "unknown task 'tests.support.flow_tasks.rat3d'"),
                          ("queue:nosuchq", "unknown queue 'nosuchq'")):
        with pytest.raises(InvalidOptionError, match=named):
            flow_app.control.rate_limit(target, "5/s", reply=True)
        refused = cli("control", "rate-limit", db, "-A", "tests.support.flow_tasks", target, "2/s")
        assert refused.exit_code == 1 and named in one_line_error(refused)
    assert "-A proj" in one_line_error(cli("control", "rate-limit", db, "nosuch", "2/s"))
    assert flow_app.store.limits() == []


def test_a_rate_limit_for_a_task_known_only_by_its_stored_limit_or_a_queue_holding_jobs_is_set(db):
    from tests.support.flow_tasks import rated, span
    from tests.test_cli_admin import cli

    producer = LiteQueue(db)
    producer.send_task(span.name, ("k", 0), queue="side")
    producer.store.set_rate_override("task:" + rated.name, "1/m", 60.6)
    assert cli("control", "rate-limit", db, rated.name, "2/m").exit_code == 0  # no -A: the store knows it
    assert cli("control", "rate-limit", db, "queue:side", "3/m").exit_code == 0  # holds a job
    assert {r.name: r.rate_override for r in producer.store.limits()} == {
        "task:" + rated.name: "2/m", "queue:side": "3/m"}
    producer.close()


def test_rate_limit_replies_for_each_live_worker_and_says_destination_cannot_narrow_it(flow_app, caplog):
    from tests.support.flow_tasks import rated

    [alone] = flow_app.control.rate_limit(rated.name, "5/m", reply=True)
    assert "no worker is live" in alone["litequeue"]["ok"]
    with flow_app.worker(name="w1@here", pool="solo"), flow_app.worker(name="w2@here", pool="solo"):
        replies = flow_app.control.rate_limit(rated.name, "6/m", destination=["w1@here"], reply=True)
    assert replies == [{"w1@here": {"ok": f"new rate limit set successfully: {rated.name} 6/m"}},
                       {"w2@here": {"ok": f"new rate limit set successfully: {rated.name} 6/m"}}]
    assert any("destination=" in r.getMessage() and "every worker" in r.getMessage() for r in caplog.records)


def test_starts_granted_a_moment_ahead_are_kept_by_the_child_that_runs_them(flow_app):
    from litequeue import serialization
    from litequeue.worker.child import ChildContext, Work, execute
    from litequeue.worker.registry import TaskResolver
    from tests.support.flow_tasks import rated

    declare(flow_app)
    flow_app.control.rate_limit(rated.name, "100/s")  # a start every 10.2 ms: several fit in the 50 ms ahead
    for i in range(3):
        rated.delay(f"ahead-{i}")
    jobs = sorted(claim(flow_app, limited_room=3), key=lambda j: j.started_at)
    assert len(jobs) == 3
    gaps = [b.started_at - a.started_at for a, b in zip(jobs, jobs[1:], strict=False)]
    assert all(gap >= 1.02 / 100 - 1e-9 for gap in gaps), gaps
    ctx = ChildContext(TaskResolver(flow_app), "here", serialization.accepted_types(flow_app.conf.accept_content),
                       serialization.content_type_for(flow_app.conf.result_serializer))
    replies = [execute(Work.of(job), ctx) for job in jobs]
    assert all(job.granted_at == job.started_at for job in jobs)
    assert all(reply.started_at >= job.granted_at for reply, job in zip(replies, jobs, strict=True))


def test_the_start_a_rate_limit_granted_is_kept_after_the_job_ran_and_only_for_rated_jobs(flow_app):
    from tests.support.flow_tasks import rated, span

    declare(flow_app)
    flow_app.control.rate_limit(rated.name, "100/s")
    sent = [rated.delay(f"g-{i}") for i in range(3)]
    plain = span.delay("p", 0)
    jobs = claim(flow_app, limited_room=3)
    assert len(jobs) == 4
    grants = sorted(j.granted_at for j in jobs if j.task == rated.name)
    assert all(b - a >= 1.02 / 100 - 1e-9 for a, b in zip(grants, grants[1:], strict=False)), grants
    assert [j.granted_at for j in jobs if j.task == span.name] == [None]
    began = max(grants) + 0.5  # the runs began later than granted (a busy machine)
    flow_app.store.finish("w1", [Outcome(j.id, j.attempts, states.SUCCESS, started_at=began) for j in jobs])
    assert sorted(r.job.granted_at for r in sent) == grants  # kept: the rate limit's own record
    assert {r.job.started_at for r in sent} == {began} and plain.job.granted_at is None


def test_a_job_reached_too_late_after_its_granted_start_is_put_back_not_begun(flow_app, ledger):
    """A busy machine woke the child long after the job's grant: beginning it then could crowd one
    start too many into a window, so the child hands it back; the store puts it back (the attempt
    refunded) and grants it a new start at the next claim."""
    import time

    from litequeue import serialization
    from litequeue.worker import outcomes
    from litequeue.worker.child import ChildContext, Work, execute
    from litequeue.worker.registry import TaskResolver
    from tests.support.flow_tasks import rated

    declare(flow_app)
    sent = rated.delay("late")
    [job] = claim(flow_app, limited_room=1)
    ctx = ChildContext(TaskResolver(flow_app), "here", serialization.accepted_types(flow_app.conf.accept_content),
                       serialization.content_type_for(flow_app.conf.result_serializer))
    reply = execute(Work.of(job)._replace(not_before=job.granted_at - 0.5), ctx)  # reached 0.5 s late
    assert reply.state == states.QUEUED and "after the start its rate limit granted" in reply.exc_message
    assert not list(ledger.iterdir())  # the task did not run
    flow_app.store.finish("w1", [outcomes.from_reply(job, reply, "w1")])
    assert sent.job_state == states.QUEUED and sent.job.attempts == 0
    time.sleep(max(job.granted_at + 1.02 / 10 - time.time(), 0))  # the bucket's next opening
    [again] = claim(flow_app, limited_room=1)
    assert again.task_id == sent.id and again.granted_at >= job.granted_at + 1.02 / 10 - 1e-9
    on_time = execute(Work.of(again), ctx)
    assert on_time.state == states.SUCCESS and on_time.started_at >= again.granted_at


def _late_reply(flow_app, job, late_start=None):
    """What the child sends for ``job`` when it reaches it after its granted start and tolerance."""
    import time

    from litequeue import serialization
    from litequeue.worker.child import ChildContext, Work, execute
    from litequeue.worker.registry import TaskResolver

    work = Work.of(job) if late_start is None else Work.of(job, late_start)
    time.sleep(max(job.granted_at + work.late_start + 0.01 - time.time(), 0))
    ctx = ChildContext(TaskResolver(flow_app), "here", serialization.accepted_types(flow_app.conf.accept_content),
                       serialization.content_type_for(flow_app.conf.result_serializer))
    return execute(work, ctx)


@pytest.mark.parametrize("tolerance", [0.015, 0.25])
def test_a_start_handed_back_unrun_is_given_back_so_a_slow_rate_costs_no_period(flow_app, ledger, tolerance):
    """Under "1/h", a child that reached its job late would otherwise leave it waiting an hour:
    the start it missed was the bucket's last grant, so the store gives it back and the next
    claim grants the job a start at once (with the usual tolerance, and a widened one)."""
    from litequeue.worker import outcomes
    from tests.support.flow_tasks import hourly

    declare(flow_app)
    sent = hourly.delay("late")
    [job] = flow_app.store.claim("w1", None, (), 1, 30, None, 1, tolerance)
    reply = _late_reply(flow_app, job, tolerance)
    assert reply.state == states.QUEUED and (reply.missed_start, reply.late_start) == (job.granted_at, tolerance)
    assert not list(ledger.iterdir())  # the task did not run
    flow_app.store.finish("w1", [outcomes.from_reply(job, reply, "w1")])
    assert sent.job_state == states.QUEUED and sent.job.attempts == 0
    [again] = flow_app.store.claim("w1", None, (), 1, 30, None, 1, tolerance)
    assert again.task_id == sent.id and again.granted_at - job.granted_at < 60
    hourly.delay("next")
    assert claim(flow_app, limited_room=1) == []  # and the hour runs from the start given again


def test_a_start_is_not_given_back_once_a_later_one_was_granted(flow_app):
    """Two starts granted in turn; the first is handed back unrun. Giving it back would let a
    third start come before the second's interval is over, so the bucket keeps its place and
    the job waits for its next turn."""
    from litequeue.worker import outcomes
    from tests.support.flow_tasks import rated

    declare(flow_app)
    flow_app.control.rate_limit(rated.name, "100/s")
    first, second = rated.delay("a"), rated.delay("b")
    jobs = sorted(claim(flow_app, limited_room=2), key=lambda j: j.granted_at)
    assert [j.task_id for j in jobs] == [first.id, second.id]
    reply = _late_reply(flow_app, jobs[0])
    flow_app.store.finish("w1", [outcomes.from_reply(jobs[0], reply, "w1")])
    [again] = claim(flow_app, limited_room=1)
    assert again.task_id == first.id and again.granted_at >= jobs[1].granted_at + 1.02 / 100 - 1e-9


def test_a_claim_that_allows_later_starts_spaces_its_grants_by_as_much_more(flow_app):
    """A worker whose children were late claims with a wider tolerance: the grants are spaced by
    the interval plus what the tolerance adds to LATE_START_LIMIT, so a job begun at the very end
    of its window is still one interval less LATE_START_LIMIT before the next one can begin."""
    from litequeue.store.rate_buckets import LATE_START_LIMIT
    from tests.support.flow_tasks import rated

    declare(flow_app)
    flow_app.control.rate_limit(rated.name, "1000/s")
    for i in range(3):
        rated.delay(f"w{i}")
    tolerance = 0.03
    jobs = sorted(flow_app.store.claim("w1", None, (), 3, 30, None, 3, tolerance), key=lambda j: j.granted_at)
    assert len(jobs) == 3  # 16.02 ms apart: all within the claim's 100 ms horizon
    gaps = [b.granted_at - a.granted_at for a, b in zip(jobs, jobs[1:], strict=False)]
    assert all(gap >= 1.02 / 1000 + tolerance - LATE_START_LIMIT - 1e-9 for gap in gaps), gaps


def test_a_worker_whose_children_missed_a_start_widens_its_tolerance_then_narrows_it_back():
    """Children woken late again and again would hand the same job back for ever: a miss widens
    the tolerance of the worker's next claims to twice the lateness, and every NARROW_AFTER
    seconds without a miss halves it, back to LATE_START_LIMIT; the tolerance each claimed job
    was granted with is the one its child is given."""
    import time

    from litequeue.store.rate_buckets import LATE_START_LIMIT
    from litequeue.worker.late_starts import MOST, NARROW_AFTER, LateStarts

    starts = LateStarts()
    assert starts.current() == LATE_START_LIMIT
    starts.missed(time.time() - 0.2)
    widened = starts.current()
    assert 0.4 <= widened < 0.5
    starts.missed(time.time() - 0.01)  # a small miss still doubles what it was
    assert starts.current() == pytest.approx(2 * widened)
    starts.changed_at -= NARROW_AFTER
    assert starts.current() == pytest.approx(widened)
    starts.changed_at -= 10 * NARROW_AFTER
    assert starts.current() == LATE_START_LIMIT
    starts.missed(time.time() - 3600)
    assert starts.current() == MOST
