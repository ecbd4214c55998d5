"""Celery projects in the shapes of Celery's documentation, written into a temporary directory with
only their import and broker URL changed, started the way Celery's docs start them, each with a
real worker whose results the test reads.

The apps are written here from Celery's documented API (First Steps, ``examples/app``, the
Next Steps ``proj/`` package, Periodic Tasks); the lines marked ``# changed`` are the only
differences from a Celery project of the same shape.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import litequeue_command


class Project:
    """A project directory with its own environment; runs commands in it."""

    def __init__(self, path: Path, env: dict | None = None) -> None:
        self.path = path
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_")}
        self.env = {**inherited, **(env or {})}
        self.started: list[subprocess.Popen] = []

    def write(self, name: str, text: str) -> None:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))

    def start(self, *cmd: str) -> subprocess.Popen:
        with open(self.path / f"process{len(self.started)}.log", "wb") as log:
            proc = subprocess.Popen(list(cmd), cwd=self.path, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.started.append(proc)
        return proc

    def log(self, index: int = 0) -> str:
        return (self.path / f"process{index}.log").read_text(errors="replace")

    def python(self, code: str, timeout: float = 60) -> str:
        """Run client code in the project directory (as a user's program does); its stdout."""
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=self.path, env=self.env,
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, done.stderr + "\n-- worker log --\n" + "\n".join(
            self.log(i) for i in range(len(self.started)))
        return done.stdout

    def stop(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)


@pytest.fixture
def project(tmp_path):
    made: list[Project] = []

    def make(env: dict | None = None) -> Project:
        p = Project(tmp_path, env)
        made.append(p)
        return p

    yield make
    for p in made:
        p.stop()


def test_first_steps_tutorial_runs_with_its_import_and_broker_url_changed(project):
    p = project()
    p.write("tasks.py", """
        from litequeue import Celery  # changed

        app = Celery('tasks', backend='rpc://', broker='sqlite:///tasks.sqlite')  # changed

        @app.task
        def add(x, y):
            return x + y
    """)
    p.start(*litequeue_command(), "-A", "tasks", "worker", "--loglevel=INFO")
    out = p.python("""
        from tasks import add
        result = add.delay(4, 4)
        print(result.get(timeout=30), result.ready(), result.successful(), result.state)
        print(add.delay(2, 2).get(timeout=30))
    """)
    assert out.split() == ["8", "True", "True", "SUCCESS", "4"]
    assert not (p.path / "tasks").exists()  # Celery('tasks') names the app, not a database file


def test_examples_app_runs_from_python_myapp_py_worker(project):
    p = project()
    p.write("myapp.py", """
        from litequeue import Celery  # changed

        app = Celery(
            'myapp',
            broker='sqlite:///myapp.sqlite',  # changed
            backend='rpc://',
        )

        @app.task
        def add(x, y):
            return x + y

        if __name__ == '__main__':
            app.start()
    """)
    p.start(sys.executable, "myapp.py", "worker", "-l", "INFO")
    out = p.python("""
        from myapp import add
        result = add.delay(4, 4)
        print(result.get(timeout=30), add.name)
    """)
    assert out.split() == ["8", "myapp.add"]  # the worker, running myapp.py as __main__, knows the name


def test_next_steps_proj_package_with_include_runs_under_dash_a_proj(project):
    p = project()
    p.write("proj/__init__.py", "")
    p.write("proj/celery.py", """
        from litequeue import Celery  # changed

        app = Celery('proj',
                     broker='sqlite:///proj.sqlite',  # changed
                     backend='rpc://',
                     include=['proj.tasks'])

        # Optional configuration, see the application user guide.
        app.conf.update(
            result_expires=3600,
        )

        if __name__ == '__main__':
            app.start()
    """)
    p.write("proj/tasks.py", """
        from .celery import app


        @app.task
        def add(x, y):
            return x + y


        @app.task
        def mul(x, y):
            return x * y


        @app.task
        def xsum(numbers):
            return sum(numbers)
    """)
    p.start(*litequeue_command(), "-A", "proj", "worker", "-l", "INFO")
    out = p.python("""
        from proj.tasks import add, mul, xsum
        print(add.delay(2, 2).get(timeout=30), mul.apply_async((3, 4)).get(timeout=30),
              xsum.delay([1, 2, 3]).get(timeout=30))
        from proj.celery import app
        print(app.send_task('proj.tasks.add', (10, 5)).get(timeout=30))
    """)
    assert out.split() == ["4", "12", "6", "15"]
    status = subprocess.run([*litequeue_command(), "-A", "proj", "status", "--json"], cwd=p.path, env=p.env,
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr
    assert '"celery"' in status.stdout  # the store the app names, and Celery's default queue


def test_python_m_proj_celery_worker_also_starts_the_next_steps_project(project):
    p = project()
    p.write("proj/__init__.py", "")
    p.write("proj/celery.py", """
        from litequeue import Celery
        app = Celery('proj', broker='sqlite:///proj.sqlite', include=['proj.tasks'])
        if __name__ == '__main__':
            app.start()
    """)
    p.write("proj/tasks.py", """
        from .celery import app
        @app.task
        def add(x, y):
            return x + y
    """)
    p.start(sys.executable, "-m", "proj.celery", "worker", "-l", "INFO")
    assert p.python("from proj.tasks import add; print(add.delay(1, 2).get(timeout=30))").split() == ["3"]


def test_the_broker_can_come_from_celery_broker_url_for_every_command(project, tmp_path):
    db = tmp_path / "env.sqlite"
    p = project({"CELERY_BROKER_URL": f"sqlite:///{db}"})
    p.write("tasks.py", """
        from litequeue import Celery
        app = Celery('tasks')

        @app.task
        def add(x, y):
            return x + y
    """)
    out = p.python("from tasks import add; print(add.delay(5, 6).id)")
    task_id = out.strip()
    run = [*litequeue_command(), "-A", "tasks"]
    burst = subprocess.run([*run, "worker", "--burst"], cwd=p.path, env=p.env, capture_output=True,
                           text=True, timeout=60)
    assert burst.returncode == 0, burst.stderr
    for command in (["result", task_id], ["status"], ["failed"], ["queues"], ["purge", "-f"]):
        done = subprocess.run([*run, *command], cwd=p.path, env=p.env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (command, done.stderr)
    shown = subprocess.run([*litequeue_command(), "result", task_id], cwd=p.path, env=p.env,
                           capture_output=True, text=True, timeout=60)
    assert "SUCCESS" in shown.stdout and "11" in shown.stdout


def test_periodic_tasks_example_runs_under_beat_and_a_worker(project):
    p = project({"CELERY_BROKER_URL": "sqlite:///periodic.sqlite"})  # changed: the broker URL
    p.write("periodic.py", """
        from litequeue import Celery  # changed
        from litequeue.schedules import crontab  # changed

        app = Celery()

        @app.on_after_configure.connect
        def setup_periodic_tasks(sender, **kwargs):
            # Calls test('hello') every second (every 10 in Celery's page; a test has less time).
            sender.add_periodic_task(1.0, test.s('hello'), name='add every 1')

            # Calls test('hello') every 30 seconds.
            # It uses the same signature of previous task, an explicit name is
            # defined to avoid this task replacing the previous one defined.
            sender.add_periodic_task(30.0, test.s('hello'), name='add every 30')

            # Calls test('world') every 30 seconds
            sender.add_periodic_task(30.0, test.s('world'), expires=10)

            # Executes every Monday morning at 7:30 a.m.
            sender.add_periodic_task(
                crontab(hour=7, minute=30, day_of_week=1),
                test.s('Happy Mondays!'),
            )

        @app.task
        def test(arg):
            print(arg)

        @app.task
        def add(x, y):
            z = x + y
            print(z)
    """)
    p.start(*litequeue_command(), "-A", "periodic", "beat", "-l", "INFO")
    p.start(*litequeue_command(), "-A", "periodic", "worker", "-l", "INFO")

    def ran_hello_twice() -> bool:
        db = p.path / "periodic.sqlite"
        if not db.exists():
            return False
        with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
            try:
                done = conn.execute("SELECT count(*) FROM lq_jobs WHERE task = 'periodic.test' AND state = 'SUCCESS'")
            except sqlite3.OperationalError:  # the store is being created
                return False
            return done.fetchone()[0] >= 2

    _wait_for(ran_hello_twice, timeout=120)
    listed = subprocess.run([*litequeue_command(), "-A", "periodic", "schedule", "list", "--json"], cwd=p.path,
                            env=p.env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    for name in ("add every 1", "add every 30", "periodic.test('world')", "periodic.test('Happy Mondays!')"):
        assert name in listed.stdout


def test_a_django_project_with_namespaced_settings_shared_tasks_and_autodiscovery(project):
    pytest.importorskip("django")
    p = project()
    p.write("proj/__init__.py", """
        # This will make sure the app is always imported when
        # Django starts so that shared_task will use this app.
        from .celery import app as celery_app

        __all__ = ('celery_app',)
    """)
    p.write("proj/celery.py", """
        import os

        from litequeue import Celery  # changed

        # Set the default Django settings module for the 'celery' program.
        os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')

        app = Celery('proj')

        # Using a string here means the worker doesn't have to serialize
        # the configuration object to child processes.
        # - namespace='CELERY' means all celery-related configuration keys
        #   should have a `CELERY_` prefix.
        app.config_from_object('django.conf:settings', namespace='CELERY')

        # Load task modules from all registered Django apps.
        app.autodiscover_tasks()


        @app.task(bind=True, ignore_result=True)
        def debug_task(self):
            print(f'Request: {self.request!r}')
    """)
    p.write("proj/settings.py", """
        SECRET_KEY = 'not-secret-test-only'
        DEBUG = True
        INSTALLED_APPS = [
            'django.contrib.contenttypes',
            'django.contrib.auth',
            'orders',
        ]
        DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': 'django.sqlite3'}}
        USE_TZ = True
        TIME_ZONE = 'Europe/Oslo'
        SHIPPING_FEE = 5

        # Celery Configuration Options
        CELERY_BROKER_URL = 'sqlite:///celery.sqlite'  # changed
        CELERY_RESULT_BACKEND = 'rpc://'
        CELERY_TIMEZONE = 'Europe/Oslo'
        CELERY_TASK_TRACK_STARTED = True
        CELERY_TASK_TIME_LIMIT = 30 * 60
    """)
    p.write("orders/__init__.py", "")
    p.write("orders/tasks.py", """
        from django.conf import settings

        from litequeue import shared_task  # changed


        @shared_task
        def add(x, y):
            return x + y


        @shared_task(bind=True)
        def total_with_shipping(self, amount):
            return amount + settings.SHIPPING_FEE
    """)
    p.start(*litequeue_command(), "-A", "proj", "worker", "-l", "INFO")
    out = p.python("""
        import os
        import django
        os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')
        django.setup()
        from orders.tasks import add, total_with_shipping
        print(add.delay(2, 3).get(timeout=30), total_with_shipping.delay(10).get(timeout=30))
        from proj import celery_app
        print(celery_app.conf.task_time_limit, celery_app.url)
    """)
    assert out.split() == ["5", "15", "1800", "sqlite:///celery.sqlite"]
    registered = subprocess.run([*litequeue_command(), "-A", "proj", "inspect", "registered"], cwd=p.path, env=p.env,
                                capture_output=True, text=True, timeout=60)
    assert "* orders.tasks.add" in registered.stdout and "* proj.celery.debug_task" in registered.stdout


def _wait_for(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")
