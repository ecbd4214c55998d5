"""Tasks the workflow tests run through real workers (imported by tests.support.tasks)."""

import os

from tests.support.tasks import app, ledger_write


@app.task
def mul(x, y):
    return x * y


@app.task
def xsum(numbers):
    return sum(numbers)


@app.task
def collect(values, key="collect"):
    """A chord callback that records each run, so a test can count them; returns its input."""
    ledger_write(key)
    return values


@app.task
def log_result(value, key="link"):
    ledger_write(f"{key}-{value}")
    return value


@app.task
def on_error(request, exc, traceback, key="errback"):
    """An errback: records the failed job's id and the exception's type."""
    ledger_write(f"{key}-{type(exc).__name__}")
    return {"id": request.id, "task": request.task, "exc": type(exc).__name__}


@app.task
def step(value, key):
    """A chain step that records that it ran."""
    ledger_write(key)
    return value + 1


@app.task
def slow_add(x, y, seconds=0.05):
    import time

    time.sleep(seconds)
    return x + y


@app.task
def pid_add(x, y):
    return [os.getpid(), x + y]


@app.task
def member(i, key, seconds=0.0):
    """A chord member: records that its body began and that it completed; returns ``i``."""
    import time

    ledger_write(f"{key}-start-{i}")
    time.sleep(seconds)
    ledger_write(f"{key}-done-{i}")
    return i


@app.task
def old_style_errback(task_id):
    """An errback taking one argument: Celery calls it with the failed job's id."""
    ledger_write("old-errback")
    return task_id


@app.task
def fan_out(n):
    """While it runs, sends a group of ``n`` adds, one add, a bulk send of one add, and one add not
    recorded as its child (``add_to_parent=False``); returns [the group's id, its members' ids, the
    other three adds' ids]."""
    from litequeue import group
    from tests.support import tasks

    sent = group(tasks.add.s(i, i) for i in range(n))()
    one = tasks.add.delay(1, 1)
    (bulk,) = tasks.add.starmap([(5, 5)])
    apart = tasks.add.apply_async((2, 2), add_to_parent=False)
    return [sent.id, [r.id for r in sent.results], one.id, bulk.id, apart.id]


def _replacement(x, kind):
    from litequeue import chord, group
    from tests.support import tasks

    return {
        "task": lambda: tasks.add.s(x, 1),
        "chain": lambda: tasks.add.s(x, 1) | mul.s(10),
        "chain from later": lambda: tasks.add.s(x, 1).set(queue="later") | mul.s(10),
        "group": lambda: group(tasks.add.s(x, i) for i in range(3)),
        "chord": lambda: chord([tasks.add.s(x, i) for i in range(3)], xsum.s()),
        "failing chain": lambda: tasks.fail.si("replacement broke") | mul.s(10),
        "twice": lambda: replaced_by.s(x, "task"),
        "nothing": lambda: x,
    }[kind]()


@app.task(bind=True)
def replaced_by(self, x, kind="task"):
    """Replaces its job by a workflow of ``kind`` over ``x``; records if code after replace() runs."""
    self.replace(_replacement(x, kind))
    ledger_write("after-replace")
    return "not replaced"
