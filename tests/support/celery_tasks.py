"""A Celery-style app for the tests of Celery's observable behaviour (``-A tests.support.celery_tasks``);
its store is $CELERY_BROKER_URL, as a Celery project's would be."""

from litequeue import Celery

app = Celery("celery_tasks")


class Overdrawn(Exception):
    """An exception whose constructor takes several arguments."""

    def __init__(self, account, amount):
        super().__init__(account, amount)
        self.account, self.amount = account, amount


@app.task
def add(x, y):
    return x + y


@app.task
def withdraw(account, amount):
    raise Overdrawn(account, amount)


@app.task(bind=True)
def headers_seen(self):
    return self.request.headers


@app.task
def wait_for(task_id, allow=False):
    return app.AsyncResult(task_id).get(timeout=10, disable_sync_subtasks=not allow)


@app.task(reject_on_worker_lost=True, max_retries=0)
def dies_once(marker):
    """Kills its pool child on the first run (as a segfault or the OOM killer would)."""
    import os

    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return "survived"


@app.task(max_retries=0)
def dies_always():
    import os

    os._exit(1)


@app.task(throws=(KeyError,))
def lookup(key):
    return {}[key]
