"""The quickstart's tasks. The app's database is quickstart.sqlite beside this file."""

import os
import time

from litequeue import LiteQueue

app = LiteQueue(os.path.join(os.path.dirname(os.path.abspath(__file__)), "quickstart.sqlite"))


@app.task
def add(x, y):
    return x + y


@app.task(bind=True)
def slow_square(self, n):
    time.sleep(0.1)
    return {"n": n, "square": n * n, "attempt": self.request.retries + 1}


@app.task
def divide(a, b):
    return a / b
