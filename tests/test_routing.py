"""Routing over a real SQLite file: topic keys, task_routes, precedence, Celery 3 settings,
transient queues in the store, configuration errors, and `litequeue queues`."""

from __future__ import annotations

import json
import logging
import re
import textwrap

import pytest
from click.testing import CliRunner

from litequeue import LiteQueue, Queue
from litequeue.cli import main
from litequeue.errors import ConfigurationError
from litequeue.monitoring import summarize_queues
from litequeue.routing import topic_matches
from litequeue.store import Outcome
from litequeue.worker.queues import interleave, select_queues

ISSUE_QUEUES = (
    Queue("celery", routing_key="task.#"),
    Queue("web_tasks", routing_key="web.#"),
    Queue("transient", routing_key="transient", delivery_mode=1),
)


def issue_app(db: str, **settings) -> LiteQueue:
    """The configuration of the routing guide's example."""
    app = LiteQueue(db, **settings)
    app.conf.task_queues = ISSUE_QUEUES
    app.conf.task_default_exchange = "tasks"
    app.conf.task_default_exchange_type = "topic"
    app.conf.task_default_routing_key = "task.default"
    app.conf.task_routes = {"proj.tasks.add": {"queue": "web_tasks", "routing_key": "web.add"}}
    return app


@pytest.fixture
def make_app(db):
    apps = []

    def make(**settings) -> LiteQueue:
        app = LiteQueue(db, **settings)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def where(app: LiteQueue, result) -> tuple[str, str]:
    job = app.store.get(result.id)
    return job.queue, job.routing_key


# -- topic matching --------------------------------------------------------------------------

@pytest.mark.parametrize(("binding", "key", "matches"), [
    ("#", "a", True),
    ("#", "a.b.c", True),
    ("a.#", "a", True),  # '#' matches zero words
    ("a.#", "a.b.c", True),
    ("a.#", "b.a", False),
    ("a.#", "ab", False),
    ("#.a", "a", True),
    ("#.a", "x.y.a", True),
    ("#.a", "a.x", False),
    ("a.#.b", "a.b", True),
    ("a.#.b", "a.x.y.b", True),
    ("a.#.b", "a.x.y", False),
    ("*", "a", True),
    ("*", "a.b", False),
    ("*.b", "a.b", True),
    ("*.b", "a.b.c", False),  # '*' is exactly one word
    ("*.b", "b", False),
    ("a.*", "a", False),
    ("a.*.#", "a", False),
    ("a.*.#", "a.b", True),
    ("a.*.#", "a.b.c.d", True),
    ("#.*", "a", True),
    ("*.*", "a", False),
    ("#.#", "a.b", True),
    ("a.b", "a.b", True),
    ("a.b", "a.b.c", False),
    ("a.b", "a.bc", False),
    ("web.#", "web", True),
])
def test_topic_matching_follows_amqp_rules(binding, key, matches):
    assert topic_matches(binding, key) is matches


# -- where jobs go ---------------------------------------------------------------------------

def test_the_guide_example_routes_by_task_routes_default_key_and_topic_bindings(db):
    app = issue_app(db)
    try:
        assert where(app, app.send_task("proj.tasks.add", (2, 3))) == ("web_tasks", "web.add")
        assert where(app, app.send_task("proj.tasks.other")) == ("celery", "task.default")
        assert where(app, app.send_task("x", routing_key="web.images.resize")) == ("web_tasks", "web.images.resize")
        assert where(app, app.send_task("x", routing_key="task.cleanup")) == ("celery", "task.cleanup")
        transient = app.store.get(app.send_task("x", routing_key="transient").id)
        assert (transient.queue, transient.durable) == ("transient", False)
    finally:
        app.close()


def test_a_key_matching_several_queues_gives_one_job_per_queue_and_the_first_queues_result(make_app):
    app = make_app(task_queues=(Queue("audit", routing_key="#"), Queue("images", routing_key="img.*"),
                                Queue("thumbs", routing_key="*.thumb")))
    result = app.send_task("resize", routing_key="img.thumb", task_id="job-1")
    assert result.id == "job-1"
    rows = sorted((j.task_id, j.queue) for j in app.store.list_jobs())
    assert rows == [("job-1", "audit"), ("job-1.images", "images"), ("job-1.thumbs", "thumbs")]


def test_a_queue_declared_twice_is_bound_by_both_keys_and_gets_one_job(make_app):
    app = make_app(task_queues=(Queue("web", routing_key="web.#"), Queue("web", routing_key="api.#")))
    app.send_task("a", routing_key="api.call")
    app.send_task("b", routing_key="web.api.call")
    assert [(j.task, j.queue) for j in app.store.list_jobs()] == [("a", "web"), ("b", "web")]


def test_a_key_matching_no_queue_goes_to_the_default_queue_with_a_warning(make_app, caplog):
    app = make_app(task_queues=(Queue("celery"), Queue("web", routing_key="web.#")))
    with caplog.at_level(logging.WARNING, logger="litequeue.routing"):
        result = app.send_task("x", routing_key="nowhere.at.all")
    assert where(app, result) == ("celery", "nowhere.at.all")
    assert "'nowhere.at.all' matches no queue" in caplog.text


def test_a_key_matching_no_queue_is_refused_when_missing_queues_are_not_created(make_app):
    app = make_app(task_queues=(Queue("celery"), Queue("web", routing_key="web.#")),
                   task_create_missing_queues=False)
    with pytest.raises(ConfigurationError, match="'nowhere' matches no binding in task_queues"):
        app.send_task("x", routing_key="nowhere")
    with pytest.raises(ConfigurationError, match="This call sends jobs to queue 'elsewhere', which task_queues"):
        app.send_task("x", queue="elsewhere")
    assert app.store.list_jobs() == []


def test_a_direct_exchange_matches_keys_literally(make_app):
    app = make_app(task_queues=(Queue("celery"), Queue("web", routing_key="web.#")),
                   task_default_exchange_type="direct")
    assert where(app, app.send_task("x", routing_key="web.#")) == ("web", "web.#")
    assert where(app, app.send_task("x", routing_key="web.x")) == ("celery", "web.x")


def test_a_queue_on_another_exchange_is_reached_only_through_that_exchange(make_app):
    app = make_app(task_queues=(Queue("celery", routing_key="#"),
                                Queue("videos", exchange="media", routing_key="media.#")),
                   task_routes={"encode": {"exchange": "media", "routing_key": "media.video"}})
    assert where(app, app.send_task("encode")) == ("videos", "media.video")
    assert where(app, app.send_task("other", routing_key="media.video")) == ("celery", "media.video")


# -- task_routes ------------------------------------------------------------------------------

def test_task_routes_dict_takes_exact_names_before_glob_patterns_and_regexes(make_app):
    app = make_app(task_routes={"proj.web.*": "web", "proj.web.special": {"queue": "special"},
                                re.compile(r"proj\.(img|video)\."): {"queue": "media"}})
    assert where(app, app.send_task("proj.web.page"))[0] == "web"
    assert where(app, app.send_task("proj.web.special"))[0] == "special"
    assert where(app, app.send_task("proj.video.encode"))[0] == "media"
    assert where(app, app.send_task("proj.other"))[0] == "celery"


def test_task_routes_list_is_checked_in_order_and_a_router_that_returns_none_passes(make_app):
    seen = []

    def by_argument(name, args, kwargs, options, task=None):
        seen.append((name, args, kwargs, task))
        return {"queue": "big"} if kwargs.get("size", 0) > 100 else None

    app = make_app(task_routes=[{"proj.fixed": "fixed"}, by_argument, {"proj.*": "catch_all"}])
    assert where(app, app.send_task("proj.fixed", kwargs={"size": 500}))[0] == "fixed"
    assert where(app, app.send_task("proj.resize", kwargs={"size": 500}))[0] == "big"
    assert where(app, app.send_task("proj.resize", kwargs={"size": 5}))[0] == "catch_all"
    assert seen == [("proj.resize", (), {"size": 500}, None), ("proj.resize", (), {"size": 5}, None)]


def test_router_functions_receive_the_task_object_when_it_is_registered(make_app):
    received = []
    app = make_app(task_routes=lambda name, args, kwargs, options, task=None: received.append(task))

    @app.task(name="proj.known")
    def known():
        pass

    known.delay()
    assert received == [known]


class Celery3Router:
    """A Celery 3 router class: route_for_task(task, args, kwargs)."""

    def route_for_task(self, task, args=None, kwargs=None):
        return {"queue": "legacy", "routing_key": "legacy.key"} if task.startswith("old.") else None


def test_a_celery3_router_class_given_by_dotted_name_is_imported_and_used(make_app):
    app = make_app(task_routes=("tests.test_routing.Celery3Router",))
    assert where(app, app.send_task("old.job")) == ("legacy", "legacy.key")
    assert where(app, app.send_task("new.job"))[0] == "celery"


def test_precedence_is_call_then_task_then_routes_then_default(make_app):
    app = make_app(task_routes={"proj.*": {"queue": "route_q"}})

    @app.task(name="proj.with_queue", queue="task_q")
    def with_queue():
        pass

    @app.task(name="proj.with_key", routing_key="task.key")
    def with_key():
        pass

    @app.task(name="plain")
    def plain():
        pass

    assert where(app, with_queue.apply_async(queue="call_q")) == ("call_q", "call_q")
    assert where(app, with_queue.apply_async(routing_key="call.key")) == ("celery", "call.key")
    assert where(app, with_queue.delay()) == ("task_q", "task_q")
    assert where(app, with_key.delay()) == ("celery", "task.key")
    assert where(app, app.send_task("proj.unregistered")) == ("route_q", "route_q")
    assert where(app, plain.delay()) == ("celery", "celery")


def test_celery3_settings_load_from_a_module(make_app, tmp_path, monkeypatch):
    (tmp_path / "celery3_settings.py").write_text(textwrap.dedent("""
        from litequeue import Queue
        CELERY_QUEUES = (
            Queue("celery", routing_key="task.#"),
            Queue("web_tasks", routing_key="web.#"),
        )
        CELERY_ROUTES = {"proj.tasks.add": {"queue": "web_tasks", "routing_key": "web.add"}}
        CELERY_DEFAULT_QUEUE = "celery"
        CELERY_DEFAULT_EXCHANGE = "tasks"
        CELERY_DEFAULT_EXCHANGE_TYPE = "topic"
        CELERY_DEFAULT_ROUTING_KEY = "task.default"
        BROKER_URL = "sqlite:///celery3.sqlite"  # Celery 3's name for broker_url
        DEBUG = True  # another project's upper-case name: ignored, as Celery does
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    app = make_app()
    app.config_from_object("celery3_settings")
    assert [q.name for q in app.conf.task_queues] == ["celery", "web_tasks"]
    assert app.conf.CELERY_DEFAULT_EXCHANGE == app.conf.task_default_exchange == "tasks"
    assert app.conf.task_default_routing_key == "task.default"
    assert app.conf.broker_url == "sqlite:///celery3.sqlite"
    assert where(app, app.send_task("proj.tasks.add")) == ("web_tasks", "web.add")
    assert where(app, app.send_task("proj.tasks.other")) == ("celery", "task.default")
    assert where(app, app.send_task("x", routing_key="web.page")) == ("web_tasks", "web.page")


# -- bad configuration -------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["a..b", ".a", "a.", "."])
def test_a_binding_with_an_empty_word_is_refused_naming_the_queue_and_the_fix(key):
    with pytest.raises(ConfigurationError, match=r"task_queues: Queue 'q' routing_key .* empty word.*did you mean"):
        Queue("q", routing_key=key)


@pytest.mark.parametrize("mode", [0, 3, "transient", True, None])
def test_a_delivery_mode_other_than_1_or_2_is_refused(mode):
    with pytest.raises(ConfigurationError, match=r"Queue 'q' has delivery_mode=.*use 2 \(persistent.*or 1 \(transient"):
        Queue("q", delivery_mode=mode)


def test_an_unknown_exchange_type_is_refused_naming_the_key_and_the_choices(make_app):
    with pytest.raises(ConfigurationError, match="task_default_exchange_type='fanout'.*use 'topic'.*or 'direct'"):
        make_app(task_default_exchange_type="fanout")
    with pytest.raises(ConfigurationError, match="task_default_exchange_type='headers'"):
        make_app().config_from_object(type("Conf", (), {"CELERY_DEFAULT_EXCHANGE_TYPE": "headers"}))


def test_a_route_to_an_undeclared_queue_is_refused_on_load_when_missing_queues_are_not_created(make_app):
    settings = dict(task_queues=(Queue("celery"), Queue("web")), task_create_missing_queues=False,
                    task_routes={"proj.*": {"queue": "wbe"}})
    with pytest.raises(ConfigurationError, match=r"task_routes\['proj\.\*'\] sends jobs to queue 'wbe'.*"
                                                 r"add Queue\('wbe'\) to task_queues or use one of celery, web"):
        make_app(**settings)
    conf = type("Conf", (), {"CELERY_QUEUES": settings["task_queues"], "CELERY_CREATE_MISSING_QUEUES": False,
                             "CELERY_ROUTES": {"proj.x": {"routing_key": "nothing.binds.this"}}})
    with pytest.raises(ConfigurationError, match=r"task_routes\['proj.x'\] routes to routing_key 'nothing.binds.this'"):
        make_app().config_from_object(conf)
    with pytest.raises(ConfigurationError, match="task_default_queue sends jobs to queue 'celery'"):
        make_app(task_queues=(Queue("web"),), task_create_missing_queues=False)


def test_routing_settings_assigned_one_by_one_may_come_in_any_order_and_are_checked_at_first_send(make_app):
    app = make_app()
    app.conf.task_create_missing_queues = False
    app.conf.task_routes = {"proj.x": "web"}  # web is declared on the next line
    app.conf.task_queues = (Queue("celery"), Queue("web"))
    assert where(app, app.send_task("proj.x"))[0] == "web"
    app.conf.task_routes = {"proj.x": "nowhere"}
    with pytest.raises(ConfigurationError, match="task_routes\\['proj.x'\\] sends jobs to queue 'nowhere'"):
        app.send_task("proj.y")


@pytest.mark.parametrize(("routes", "message"), [
    ({"proj.x": {"queue": "web", "priority": 5}}, r"unknown route key\(s\) \['priority'\]"),
    ({"proj.x": {"exchange": "media"}}, "names no queue or routing_key"),
    ({"proj.x": 42}, "a route is a queue name or a dict"),
    ("no_such_module.router", "cannot import the router 'no_such_module.router'"),
    (42, "task_routes must be a dict, a router function, or a list of them"),
    ([{"a": "b"}, 7], r"task_routes\[1\] entries must be dicts or router functions"),
])
def test_malformed_task_routes_are_refused_on_assignment(make_app, routes, message):
    app = make_app()
    with pytest.raises(ConfigurationError, match=message):
        app.conf.task_routes = routes


def test_a_router_function_returning_a_bad_route_fails_the_call_and_enqueues_nothing(make_app):
    app = make_app(task_routes=lambda *a, **kw: {"queue": "q", "colour": "blue"})
    with pytest.raises(ConfigurationError, match=r"unknown route key\(s\) \['colour'\]"):
        app.send_task("x")
    assert app.store.list_jobs() == []


def test_a_queue_declared_twice_with_different_delivery_modes_is_refused(make_app):
    with pytest.raises(ConfigurationError, match="declares queue 'q' twice with different delivery_mode"):
        make_app(task_queues=(Queue("q"), Queue("q", routing_key="k", delivery_mode=1)))


# -- worker queue selection --------------------------------------------------------------------

def test_worker_queue_selection_drops_excluded_and_refuses_undeclared_names(make_app):
    app = make_app(task_queues=(Queue("celery"), Queue("a"), Queue("b")), task_create_missing_queues=False)
    assert select_queues(app.routing, None, ("a",)) is None
    assert select_queues(app.routing, ("b", "a", "b"), ("x",)) == ["b", "a"]
    assert select_queues(app.routing, ("a", "b"), ("a",)) == ["b"]
    with pytest.raises(ConfigurationError, match="-X excludes every queue given to -Q"):
        select_queues(app.routing, ("a",), ("a",))
    with pytest.raises(ConfigurationError, match="-Q names queue\\(s\\) c that task_queues does not declare"):
        select_queues(app.routing, ("a", "c"), ())


def test_claim_with_a_fair_share_takes_from_every_queue_then_fills_up(make_app):
    app = make_app()
    for queue, n in (("a", 5), ("b", 1), ("c", 3)):
        for i in range(n):
            app.send_task(f"{queue}{i}", queue=queue)
    jobs = app.store.claim("me", ["a", "b", "c"], (), 6, 30, per_queue=2)
    assert [j.task for j in jobs] == ["a0", "a1", "a2", "b0", "c0", "c1"]
    assert [j.task for j in interleave(jobs, ["a", "b", "c"])] == ["a0", "b0", "c0", "a1", "c1", "a2"]


# -- transient queues in the store --------------------------------------------------------------

def test_transient_enqueue_skips_the_disk_wait_and_restores_the_connections_synchronous_level(make_app):
    app = make_app(task_queues=(Queue("celery"), Queue("fast", delivery_mode=1)))
    app.send_task("x", queue="fast")
    app.send_task("x", queue="fast")
    assert app.store.db.execute_sql("PRAGMA synchronous").fetchone()[0] == 2  # FULL, as configured
    app.send_task("y")
    jobs = app.store.list_jobs()
    assert [(j.queue, j.durable) for j in jobs] == [("fast", False), ("fast", False), ("celery", True)]


def test_revoking_a_waiting_transient_job_leaves_no_row(make_app):
    app = make_app(task_queues=(Queue("celery"), Queue("fast", delivery_mode=1)))
    transient, durable = app.send_task("x", queue="fast"), app.send_task("x")
    assert app.control.revoke([transient.id, durable.id]) == 2
    assert app.store.get(transient.id) is None
    assert app.store.get(durable.id).state == "REVOKED"


def test_a_transient_job_whose_worker_died_leaves_no_row_once_it_has_failed(make_app):
    app = make_app(task_queues=(Queue("celery"), Queue("fast", delivery_mode=1)), task_acks_late=False)
    transient, durable = app.send_task("x", queue="fast"), app.send_task("x")
    assert len(app.store.claim("gone", None, (), 10, -1)) == 2  # leases already expired
    rescued = sorted(state for _, _, state in app.store.rescue_expired())
    assert rescued == ["FAILURE", "FAILURE"]
    assert app.store.get(transient.id) is None
    assert app.store.get(durable.id).state == "FAILURE"


# -- litequeue queues ----------------------------------------------------------------------------

def _fill_every_state(app: LiteQueue) -> None:
    for _ in range(3):
        app.send_task("x", routing_key="web.page")
    app.send_task("x", routing_key="web.page", countdown=3600)
    app.send_task("x", routing_key="transient")
    app.send_task("x", queue="adhoc")
    running = app.store.claim("w", ["web_tasks"], (), 2, 60)
    app.store.finish("w", [Outcome(running[0].id, running[0].attempts, "FAILURE", exc_type="ValueError")])


def test_queues_command_lists_bindings_modes_and_counts(db, tmp_path, monkeypatch):
    (tmp_path / "routed_app.py").write_text(textwrap.dedent(f"""
        from tests.test_routing import issue_app
        app = issue_app({db!r})
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    app = issue_app(db)
    _fill_every_state(app)
    runner = CliRunner()
    table = runner.invoke(main, ["queues", db, "-A", "routed_app"])
    assert table.exit_code == 0, table.output
    lines = [line.split() for line in table.output.splitlines()]
    assert lines == [
        ["queue", "mode", "exchange", "bindings", "queued", "scheduled", "reserved", "running", "failed", "state"],
        ["celery", "persistent", "tasks", "task.#", "0", "0", "0", "0", "0", "active"],
        ["web_tasks", "persistent", "tasks", "web.#", "1", "1", "1", "0", "1", "active"],
        ["transient", "transient", "tasks", "transient", "1", "0", "0", "0", "0", "active"],
        ["adhoc", "-", "tasks", "-", "1", "0", "0", "0", "0", "active"],
    ]
    listed = json.loads(runner.invoke(main, ["queues", db, "-A", "routed_app", "--json"]).output)
    assert listed[1] == {"name": "web_tasks", "bindings": ["web.#"], "exchange": "tasks", "delivery_mode": 2,
                         "declared": True, "queued": 1, "scheduled": 1, "reserved": 1, "running": 0, "failed": 1,
                         "paused": False}
    app.close()


def test_queues_without_an_app_shows_the_queues_found_in_the_store(make_app):
    app = make_app()
    app.send_task("x", queue="reports")
    app.send_task("x")
    summary = summarize_queues(LiteQueue().conf, app.store.counts())
    assert [(s.name, s.bindings, s.declared, s.queued) for s in summary] == [
        ("celery", ("celery",), True, 1), ("reports", (), False, 1)]


def test_queues_command_reports_a_bad_database_in_one_line(tmp_path):
    bad = tmp_path / "not.sqlite"
    bad.write_bytes(b"this is not a database" * 10)
    result = CliRunner().invoke(main, ["queues", str(bad)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "Traceback" not in result.output



def test_a_transient_job_sent_inside_the_apps_transaction_commits_with_it(tmp_path):
    app = LiteQueue(tmp_path / "t.sqlite")
    app.conf.task_queues = [Queue("celery"), Queue("fleeting", delivery_mode=1)]

    @app.task(name="t.ping")
    def ping():
        return None

    try:
        with app.transaction():
            kept = ping.apply_async(queue="fleeting")
        with pytest.raises(RuntimeError), app.transaction():
            gone = ping.apply_async(queue="fleeting")
            raise RuntimeError("roll back")
        assert app.store.get(kept.id) is not None and app.store.get(gone.id) is None
    finally:
        app.close()
