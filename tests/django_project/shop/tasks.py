"""Django's own task API: run by litequeue through its django.tasks backend. The signal receivers
write each signal Django's task API sends (in the sending process and in the worker) to a file."""

import json
import os

try:
    from django.tasks import task
    from django.tasks.signals import task_enqueued, task_finished, task_started
except ImportError:  # Django before 6: the backport
    from django_tasks import task
    from django_tasks.signals import task_enqueued, task_finished, task_started


@task
def ship(order_id):
    from shop.models import Order

    Order.objects.filter(id=order_id).update(shipped=True)
    return {"shipped": order_id}


@task
def refuse(order_id):
    raise ValueError(f"order {order_id} refused")


@task(takes_context=True, priority=5)
def note(context, text):
    return {"attempt": context.attempt, "id": context.task_result.id, "status": str(context.task_result.status),
            "text": text}


def _record(signal_name):
    def receiver(sender, task_result, **kwargs):
        path = os.environ.get("LQ_DJANGO_SIGNALS")
        if path:
            line = json.dumps({"signal": signal_name, "id": task_result.id, "status": str(task_result.status),
                               "task": task_result.task.name, "errors": len(task_result.errors)})
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.write(fd, (line + "\n").encode())
            os.close(fd)
    return receiver


_receivers = {name: _record(name) for name in ("enqueued", "started", "finished")}
task_enqueued.connect(_receivers["enqueued"])
task_started.connect(_receivers["started"])
task_finished.connect(_receivers["finished"])
