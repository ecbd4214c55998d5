"""litequeue.Celery: Celery's constructor, broker URLs, settings as Celery projects write them, the
app found by -A as Celery finds it, and the app's own entry points (start, worker_main)."""

from __future__ import annotations

import logging
import os
import sys
import textwrap

import pytest

from litequeue import Celery, LiteQueue
from litequeue.discovery import find_app
from litequeue.errors import ConfigurationError


@pytest.fixture(autouse=True)
def no_celery_env(monkeypatch):
    for key in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def module_dir(tmp_path, monkeypatch):
    """A directory on sys.path for modules written by the test (forgotten afterwards)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    before = set(sys.modules)

    def write(name: str, text: str) -> None:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))

    yield write
    for name in set(sys.modules) - before:
        del sys.modules[name]


# -- the constructor and broker URLs ------------------------------------------------------------

def test_first_argument_is_the_main_module_name_not_a_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = Celery("tasks")
    assert app.main == "tasks" and app.url is None
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("broker, expected", [
    ("sqlite:///relative.sqlite", "relative.sqlite"),
    ("sqlite:////{tmp}/absolute.sqlite", "{tmp}/absolute.sqlite"),
    ("{tmp}/plain.sqlite", "{tmp}/plain.sqlite"),
    ("sqla+sqlite:///kombu.sqlite", "kombu.sqlite"),
])
def test_broker_urls_name_the_store(tmp_path, monkeypatch, broker, expected):
    monkeypatch.chdir(tmp_path)
    tmp = str(tmp_path).lstrip("/") if broker.startswith("sqlite:////") else str(tmp_path)
    app = Celery("proj", broker=broker.format(tmp=tmp))
    add = app.task(lambda x, y: x + y, name="add")
    add.delay(1, 2)
    path = expected.format(tmp=str(tmp_path))
    assert os.path.exists(path if os.path.isabs(path) else tmp_path / path)
    app.close()


def test_broker_url_setting_and_broker_argument_are_the_same(tmp_path):
    db = str(tmp_path / "x.sqlite")
    assert Celery(broker_url=db).url == Celery(broker=db).url == db
    app = Celery()
    app.conf.broker_url = f"sqlite:///{db}"
    assert app.url == f"sqlite:///{db}"


@pytest.mark.parametrize("broker", ["amqp://guest@localhost//", "pyamqp://", "redis://localhost:6379/0", "sqs://"])
def test_a_broker_litequeue_does_not_serve_is_one_clear_error(broker):
    with pytest.raises(ConfigurationError, match=r"names a \w+:// broker.*sqlite:///relative.sqlite.*postgresql://"):
        Celery("proj", broker=broker)


def test_results_live_with_the_jobs_so_a_different_backend_is_refused(tmp_path):
    db = str(tmp_path / "a.sqlite")
    for same in (None, "rpc://", f"db+sqlite:///{db}", db):
        Celery(broker=db, backend=same)
    with pytest.raises(ConfigurationError, match="result_backend 'redis://localhost' .*keeps results with the jobs"):
        Celery(broker=db, backend="redis://localhost")
    with pytest.raises(ConfigurationError, match="is not the broker's store"):
        Celery(broker=db, result_backend=str(tmp_path / "b.sqlite"))


def test_celery_broker_url_from_the_environment_wins_as_in_celery(tmp_path, monkeypatch):
    monkeypatch.setenv("CELERY_BROKER_URL", f"sqlite:///{tmp_path}/env.sqlite")
    assert Celery(broker=str(tmp_path / "code.sqlite")).url == f"sqlite:///{tmp_path}/env.sqlite"
    assert LiteQueue().url == f"sqlite:///{tmp_path}/env.sqlite"
    assert LiteQueue(str(tmp_path / "given.sqlite")).url == str(tmp_path / "given.sqlite")  # as before


def test_conf_reads_broker_url_and_result_backend_from_the_environment_as_celery_does(tmp_path, monkeypatch):
    env, code = f"sqlite:///{tmp_path}/env.sqlite", str(tmp_path / "code.sqlite")
    monkeypatch.setenv("CELERY_BROKER_URL", env)
    monkeypatch.setenv("CELERY_RESULT_BACKEND", env)
    assert Celery().conf.broker_url == env and Celery().conf.result_backend == env
    celery = Celery(broker=code)
    assert celery.conf.broker_url == env == celery.url  # the variable wins over the code, as in Celery
    assert celery.conf.table() == {"broker_url": code}  # the table shows what was set, as Celery's
    assert LiteQueue().conf.broker_url == env
    assert LiteQueue(broker_url=code).conf.broker_url == code == LiteQueue(broker_url=code).url  # code first
    monkeypatch.setenv("CELERY_RESULT_BACKEND", "rpc://")
    assert Celery().conf.result_backend is None  # results live with the jobs (as rpc:// given in code reads)


def test_custom_celery_machinery_classes_are_refused():
    with pytest.raises(ConfigurationError, match=r"Celery\(loader=...\)"):
        Celery("proj", loader="myproj.Loader")


def test_tasks_of_a_script_run_as_main_are_named_after_the_apps_main():
    app = Celery("myapp")

    def add(x, y):
        return x + y

    add.__module__ = "__main__"
    assert app.task(add).name == "myapp.add"
    assert app.task(name="explicit")(add).name == "explicit"


# -- settings the Celery ways ------------------------------------------------------------------

def test_settings_with_no_effect_here_are_accepted_with_one_notice(caplog):
    caplog.set_level(logging.WARNING, "litequeue.config")
    app = Celery("proj", broker_pool_limit=10, worker_send_task_events=True)
    app.conf.update(broker_pool_limit=20, broker_connection_retry_on_startup=True)
    notices = [r.getMessage() for r in caplog.records]
    assert sum("broker_pool_limit has no effect" in n for n in notices) <= 1
    assert app.conf.broker_pool_limit == 20


def test_settings_that_would_change_behaviour_are_refused_in_update_and_config_from_object(module_dir):
    with pytest.raises(ConfigurationError, match="security_key.*message signing"):
        Celery().conf.update(security_key="key.pem")
    module_dir("signed_config.py", "beat_scheduler = 'django_celery_beat.schedulers:DatabaseScheduler'\n")
    with pytest.raises(ConfigurationError, match="beat_scheduler.*litequeue schedule"):
        Celery().config_from_object("signed_config")
    Celery().conf.update(beat_scheduler="celery.beat:PersistentScheduler", task_acks_on_failure_or_timeout=True)


def test_a_mistyped_key_in_a_config_module_is_an_error_not_skipped(module_dir):
    module_dir("typo_config.py", "from datetime import timedelta\ntask_serialiser = 'json'\n")
    with pytest.raises(ConfigurationError, match="Unknown setting 'task_serialiser'.*task_serializer"):
        Celery().config_from_object("typo_config")


def test_config_from_object_takes_module_attr_and_a_namespace(module_dir, tmp_path):
    module_dir("djangoish/__init__.py", "")
    module_dir("djangoish/conf.py", f"""
        class Settings:
            DEBUG = True
            INSTALLED_APPS = ["x"]
            CELERY_BROKER_URL = "sqlite:///{tmp_path}/dj.sqlite"
            CELERY_TASK_SERIALIZER = "json"
            CELERY_TASK_DEFAULT_QUEUE = "jobs"
            CELERY_RESULT_BACKEND = "rpc://"
            CELERY_TIMEZONE = "Europe/Oslo"
        settings = Settings()
    """)
    app = Celery("proj")
    app.config_from_object("djangoish.conf:settings", namespace="CELERY")
    assert app.url == f"sqlite:///{tmp_path}/dj.sqlite"
    assert (app.conf.task_default_queue, app.conf.timezone) == ("jobs", "Europe/Oslo")
    app2 = Celery("proj", config_source="djangoish.conf.settings", namespace="CELERY")
    assert app2.conf.task_default_queue == "jobs"


def test_config_from_object_silent_ignores_a_missing_module():
    app = Celery()
    app.config_from_object("no_such_config_module", silent=True)
    with pytest.raises(ConfigurationError, match="Cannot import settings module 'no_such_config_module'"):
        app.config_from_object("no_such_config_module")


def test_celery_3_names_for_the_broker_and_backend_load(module_dir, tmp_path):
    module_dir("old_config.py", f"BROKER_URL = 'sqlite:///{tmp_path}/old.sqlite'\nCELERY_RESULT_BACKEND = 'rpc://'\n"
                                "CELERY_IMPORTS = ('old_tasks',)\n")
    app = Celery()
    app.config_from_object("old_config")
    assert app.url == f"sqlite:///{tmp_path}/old.sqlite" and app.conf.imports == ("old_tasks",)


# -- -A discovery ------------------------------------------------------------------------------

def test_dash_a_finds_the_app_as_celery_does(module_dir):
    module_dir("plain_app.py", "from litequeue import Celery\napp = Celery('plain_app')\n")
    module_dir("celery_attr.py", "from litequeue import Celery\ncelery = Celery('celery_attr')\n")
    module_dir("any_name.py", "from litequeue import Celery\nmy_queue = Celery('any_name')\n")
    module_dir("pkg/__init__.py", "")
    module_dir("pkg/celery.py", "from litequeue import Celery\napp = Celery('pkg')\n")
    module_dir("pkg2/__init__.py", "from .celery import app as celery_app\n__all__ = ('celery_app',)\n")
    module_dir("pkg2/celery.py", "from litequeue import Celery\napp = Celery('pkg2')\n")
    assert find_app("plain_app").main == "plain_app"
    assert find_app("celery_attr").main == "celery_attr"
    assert find_app("any_name").main == "any_name"
    assert find_app("pkg").main == "pkg"
    assert find_app("pkg2").main == "pkg2"
    assert find_app("pkg.celery:app").main == find_app("pkg.celery.app").main == "pkg"
    with pytest.raises(ConfigurationError, match="Cannot import the app module 'nothing_here'"):
        find_app("nothing_here")


def test_an_import_error_inside_the_app_module_is_reported_as_such(module_dir):
    module_dir("broken_app.py", "import not_installed_anywhere\n")
    with pytest.raises(ConfigurationError, match="module 'broken_app' failed.*not_installed_anywhere"):
        find_app("broken_app")


# -- configuration hooks and periodic tasks ----------------------------------------------------

def test_on_after_configure_receivers_run_once_at_finalize_and_add_periodic_tasks(tmp_path):
    app = Celery("proj", broker=str(tmp_path / "p.sqlite"))
    seen = []

    @app.on_after_configure.connect
    def setup_periodic_tasks(sender, **kwargs):
        seen.append(sender)
        sender.add_periodic_task(10.0, {"task": "proj.say", "args": ("hello",), "kwargs": {}, "options": {}},
                                 name="say every 10")
        sender.add_periodic_task(30.0, {"task": "proj.say", "args": ("world",)}, expires=10)

    app.finalize()
    app.finalize()
    assert seen == [app]
    assert app.conf.beat_schedule["say every 10"] == {
        "task": "proj.say", "schedule": 10.0, "args": ("hello",), "kwargs": {}, "options": {}}
    assert app.conf.beat_schedule["proj.say('world')"]["options"] == {"expires": 10}


def test_include_and_imports_are_imported_at_finalize(module_dir, tmp_path):
    module_dir("inc_tasks.py", "from litequeue import Celery\nfrom inc_app import app\n"
                               "@app.task\ndef ping():\n    return 'pong'\n")
    module_dir("inc_app.py", f"from litequeue import Celery\napp = Celery('inc_app', broker='{tmp_path}/i.sqlite', "
                             "include=['inc_tasks'])\n")
    app = find_app("inc_app")
    assert "inc_tasks.ping" not in app.tasks
    app.finalize()
    assert "inc_tasks.ping" in app.tasks


def test_a_missing_include_module_is_a_clear_error(tmp_path):
    app = Celery("proj", broker=str(tmp_path / "x.sqlite"), include=["proj_missing.tasks"])
    with pytest.raises(ConfigurationError, match="Cannot import 'proj_missing.tasks' .*include"):
        app.finalize()


def test_worker_main_runs_a_worker_with_this_app(tmp_path):
    app = Celery("wm", broker=str(tmp_path / "wm.sqlite"))

    @app.task(name="wm.add")
    def add(x, y):
        return x + y

    result = add.delay(20, 22)
    assert app.worker_main(["worker", "--burst", "-c", "1", "-l", "warning"]) == 0
    assert result.get(timeout=10) == 42
    with pytest.raises(ConfigurationError, match="worker_main needs the worker command"):
        app.worker_main(["status"])


def test_task_cls_is_the_apps_base_and_set_as_current_false_leaves_the_current_app(tmp_path):
    from litequeue import Task
    from litequeue.app import default_app

    class Counted(Task):
        pass

    app = Celery("tc", broker=str(tmp_path / "tc.sqlite"), task_cls=Counted)
    assert isinstance(app.task(lambda: 1, name="tc.one"), Counted) and app.Task is Counted
    Celery("aside", set_as_current=False)
    assert default_app() is app
    with pytest.raises(ConfigurationError, match="task_cls"):
        Celery(task_cls=dict)
