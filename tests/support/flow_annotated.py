"""Tasks whose rate limits come from ``task_annotations`` (issue 17), on an app of their own
(``-A tests.support.flow_annotated``). The annotations are set after the tasks are declared, as
a settings module loaded later sets them; the worker applies them when it loads the app.
"""

import os

from litequeue import LiteQueue
from litequeue.app import _apps
from tests.support.flow_tasks import record_span

app = LiteQueue(os.environ.get("LQ_TEST_DB"))
_apps.remove(app)  # the support app stays the default one (AsyncResult(id) without app=)
_apps.insert(0, app)
app.conf.worker_lease_seconds = 3.0
app.conf.worker_heartbeat_interval = 0.5
app.conf.worker_poll_interval = 0.5


@app.task(name="annotated.by_annotation")
def by_annotation(key):
    """No rate_limit of its own: its limit comes only from the annotations."""
    record_span(key, 0.0)


@app.task(name="annotated.overridden", rate_limit="1/h")
def overridden(key):
    """The decorator says 1/h; an annotation says 10/s, and wins (Celery's precedence)."""
    record_span(key, 0.0)


@app.task(name="annotated.kept", rate_limit="1/h")
def kept(key):
    """No annotation names it: the decorator's 1/h stays."""
    record_span(key, 0.0)


class SpeedUp:
    """An annotation class (Celery's form): it has something for one task, by name."""

    def annotate(self, task):
        return {"rate_limit": "10/s"} if task.name == "annotated.overridden" else None


app.conf.task_annotations = [{"annotated.by_annotation": {"rate_limit": "10/s"}}, SpeedUp()]
