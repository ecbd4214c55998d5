"""Django: jobs sent when the transaction commits (Celery style) and Django's own task API
(``django.tasks``; the ``django-tasks`` backport before Django 6) on litequeue.

    python examples/django_example.py

A one-file Django site (settings in django_settings.py); a real project puts its tasks in an
app's tasks.py. Its worker: DJANGO_SETTINGS_MODULE=mysite.settings litequeue worker -A
litequeue.contrib.django.worker
"""

import os
import subprocess
import sys

import django

HERE = os.path.dirname(os.path.abspath(__file__))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_settings")  # the worker gets it too
django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from litequeue import LiteQueue  # noqa: E402

try:
    from django.tasks import task
except ImportError:
    from django_tasks import task

app = LiteQueue(settings.DATABASES["default"]["NAME"], share_database=True)


@app.task(name="django_example.send_receipt")  # Celery style
def send_receipt(order_id):
    return f"receipt for order {order_id}"


@task  # Django style
def ship(order_id):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE orders SET shipped = 1 WHERE id = %s", [order_id])
    return {"shipped": order_id}


def place_order(item):
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO orders (item, shipped) VALUES (%s, 0)", [item])
            order_id = cursor.lastrowid
        send_receipt.delay_on_commit(order_id)  # sent once the order is committed
        result = ship.enqueue(order_id)  # written in this very transaction
    return order_id, result


if __name__ == "__main__":
    import django_example as site  # the module the worker imports, not __main__

    db = settings.DATABASES["default"]["NAME"]
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    site.app.store  # noqa: B018 - litequeue's tables, then the site's
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT, shipped INTEGER)")
    order_id, result = site.place_order("book")
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    litequeue = os.path.join(os.path.dirname(sys.executable), "litequeue")
    subprocess.run([litequeue if os.path.exists(litequeue) else "litequeue", "worker", "-A",
                    "litequeue.contrib.django.worker", "--burst", "-c", "1"], cwd=HERE, env=env, check=True)
    result.refresh()
    print(result.status, result.return_value)
    assert result.return_value == {"shipped": order_id}
