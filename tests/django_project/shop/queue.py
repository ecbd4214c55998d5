"""The project's litequeue app (Celery style): the store in the project's own database."""

import os

from litequeue import LiteQueue

app = LiteQueue(os.environ["LQ_TEST_DB"], share_database=True)


@app.task
def send_receipt(order_id):
    from shop.models import Order

    Order.objects.filter(id=order_id).update(receipt_sent=True)
    return f"receipt for {order_id}"
