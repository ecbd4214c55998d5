"""A Celery project on litequeue: the import and the broker URL are the only Celery lines changed.

    python examples/celery_project.py

Celery's idioms, as a Celery project writes them: the Celery constructor, a shared_task, a Task
base class with hooks, a periodic task added from on_after_configure, PENDING while a job waits,
an exception coming back as its own class. The worker runs here with app.worker_main (--burst:
run what is due, then return).
"""

import os
import tempfile

from litequeue import Celery, shared_task  # was: from celery import Celery, shared_task

DB = os.path.join(tempfile.mkdtemp(), "proj.sqlite")
app = Celery("proj", broker=f"sqlite:///{DB}", backend="rpc://")  # was: broker="amqp://..."
app.conf.update(task_serializer="json", result_expires=3600, broker_connection_retry_on_startup=True)


class Audited(app.Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        print(f"  on_failure hook: {self.name}{args} raised {exc!r}")


class Overdrawn(Exception):
    def __init__(self, account, amount):
        super().__init__(account, amount)
        self.account, self.amount = account, amount


@shared_task
def add(x, y):
    return x + y


@app.task(base=Audited)
def withdraw(account, amount):
    raise Overdrawn(account, amount)


@app.on_after_configure.connect
def setup_periodic_tasks(sender, **kwargs):
    sender.add_periodic_task(3600.0, add.s(1, 1), name="add every hour")


if __name__ == "__main__":
    total, refused = add.delay(2, 3), withdraw.delay("acct-7", 250)
    print(f"waiting: add is {total.state}, withdraw is {refused.state} (job_state {total.job_state})")
    app.worker_main(["worker", "--burst", "-c", "1", "-l", "warning"])
    print(f"add(2, 3) = {total.get(timeout=10)}  ({total.state})")
    try:
        refused.get(timeout=10)
    except Overdrawn as exc:
        print(f"withdraw raised Overdrawn(account={exc.account!r}, amount={exc.amount})  ({refused.state})")
    print("beat entries:", sorted(app.conf.beat_schedule))
