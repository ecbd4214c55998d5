"""The workflow example's tasks. The app's database is workflows.sqlite beside this file."""

import os

from litequeue import LiteQueue, group

app = LiteQueue(os.path.join(os.path.dirname(os.path.abspath(__file__)), "workflows.sqlite"))


@app.task
def add(x, y):
    return x + y


@app.task
def mul(x, y):
    return x * y


@app.task
def xsum(numbers):
    return sum(numbers)


@app.task
def fail(message):
    raise ValueError(message)


@app.task
def log_result(value):
    print(f"link got {value!r}", flush=True)
    return value


@app.task
def on_error(request, exc, traceback):
    print(f"errback: job {request.id} ({request.task}) raised {exc!r}", flush=True)


@app.task(bind=True)
def squares(self, n):
    """Decides at run time what to do: its job ends and a group takes its place (self.replace)."""
    return self.replace(group(mul.s(i, i) for i in range(n)))
