"""Run by tests/test_django.py in a process of its own: ``send`` migrates and sends jobs in
committed and rolled-back transactions; ``check`` reports what became of them. Prints JSON."""

import json
import sys

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from shop.models import Order  # noqa: E402
from shop.queue import app, send_receipt  # noqa: E402
from shop.tasks import note, refuse, ship  # noqa: E402

from litequeue.contrib.django import enqueue_in  # noqa: E402


class Rollback(Exception):
    pass


def send() -> dict:
    app.store  # noqa: B018 - litequeue's tables, then the project's
    call_command("migrate", verbosity=0)
    out: dict = {}
    with transaction.atomic():
        kept = Order.objects.create(item="book")
        send_receipt.delay_on_commit(kept.id)
        out["ship"] = ship.enqueue(kept.id).id  # through Django's connection (ENQUEUE_IN)
        with enqueue_in():
            out["receipt_in_txn"] = send_receipt.delay(kept.id).id
        out["before_commit"] = app.store.get(out["ship"]) is not None  # the store's own connection
    try:
        with transaction.atomic():
            lost = Order.objects.create(item="pen")
            send_receipt.delay_on_commit(lost.id)
            out["lost_ship"] = ship.enqueue(lost.id).id
            with enqueue_in():
                out["lost_receipt"] = send_receipt.delay(lost.id).id
            raise Rollback
    except Rollback:
        pass
    out["kept"] = kept.id
    out["refuse"] = refuse.enqueue(kept.id).id  # outside any transaction: sent at once
    out["note"] = note.enqueue("hi").id
    return out


def selflock() -> dict:
    """A served site: the project's tables made first (manage.py migrate), litequeue's store not
    opened yet, a server thread besides this one; a job sent inside atomic() on the shared file."""
    import threading
    import time

    from litequeue.errors import SelfDeadlock

    call_command("migrate", verbosity=0)
    threading.Thread(target=threading.Event().wait, daemon=True).start()  # another thread, as a server has
    app.conf.sqlite_busy_timeout = 30.0
    out: dict = {}
    for case in ("delay", "enqueue_in", "delay_after_open"):
        if case == "delay_after_open":
            app.store  # noqa: B018 - opened at start-up, as the guide says
        started = time.monotonic()
        try:
            with transaction.atomic():
                Order.objects.create(item=case)
                if case == "enqueue_in":
                    with enqueue_in():
                        send_receipt.delay(1)
                else:
                    send_receipt.delay(1)
            out[case] = "sent"
        except SelfDeadlock as exc:
            out[case] = "SelfDeadlock: " + str(exc)
        except Exception as exc:
            out[case] = f"{type(exc).__name__}: {exc}"
        out[case + "_seconds"] = time.monotonic() - started
    return out


def check(ids: dict) -> dict:
    result = ship.get_result(ids["ship"])
    order = Order.objects.get(id=ids["kept"])
    try:
        ship.get_result(ids["lost_ship"])
        lost = "found"
    except Exception as exc:
        lost = type(exc).__name__
    refused, noted = refuse.get_result(ids["refuse"]), note.get_result(ids["note"])
    error = refused.errors[-1] if refused.errors else None
    out = {"refused": str(refused.status), "refused_errors": len(refused.errors),
           "refused_class": error.exception_class.__name__ if error else None,
           "refused_traceback": error.traceback if error else None, "refused_attempts": refused.attempts,
           "note": noted.return_value, "note_attempts": noted.attempts, "note_finished": noted.is_finished}
    return out | {"status": str(result.status), "return_value": result.return_value, "shipped": order.shipped,
            "receipt_sent": order.receipt_sent, "lost_ship": lost,
            "lost_receipt": app.store.get(ids["lost_receipt"]) is None,
            "receipt": app.AsyncResult(ids["receipt_in_txn"]).get(timeout=10),
            "orders": Order.objects.count()}


if __name__ == "__main__":
    if sys.argv[1] == "selflock":
        print(json.dumps(selflock()))
    else:
        print(json.dumps(send() if sys.argv[1] == "send" else check(json.loads(sys.argv[2]))))
