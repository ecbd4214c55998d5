"""Transactional enqueue: a job sent inside the application's own transaction commits or rolls
back with the rows it needs.

    python examples/transactional_enqueue.py                                      # SQLite
    python examples/transactional_enqueue.py postgresql://postgres@127.0.0.1:5432/test  # PostgreSQL

The bug it prevents: ``place_order`` inserts an order and sends ``send_receipt(order_id)``. Sent
outside the transaction, a fast worker can run the job before the order row is committed -- it
finds no order and fails -- and if the transaction then rolls back, a receipt goes out for an
order that never existed. Inside ``app.transaction()``, the job becomes visible to workers only
when the order does, and vanishes with it on rollback; workers are woken after the commit.
"""

import os
import subprocess
import sys

from litequeue import LiteQueue

HERE = os.path.dirname(os.path.abspath(__file__))
URL = os.environ.get("SHOP_DB") or os.path.join(HERE, "shop.sqlite")

# share_database: the application's tables (orders) live in the same database as the queue.
app = LiteQueue(URL, share_database=True)


@app.task(name="transactional_enqueue.send_receipt")
def send_receipt(order_id):
    """Runs in a worker: reads the committed order (the store's connection reaches the app's tables)."""
    with app.transaction() as db:
        row = db.execute_sql(f"SELECT total FROM orders WHERE id = {int(order_id)}").fetchone()
    if row is None:
        raise LookupError(f"order {order_id} does not exist")
    return f"receipt for order {order_id}: {row[0]} EUR"


def place_order(order_id, total, payment_ok=True):
    """The application's own code: the order row and its job commit together, or not at all."""
    with app.transaction() as db:
        db.execute_sql(f"INSERT INTO orders (id, total) VALUES ({int(order_id)}, {int(total)})")
        receipt = send_receipt.delay(order_id)
        if not payment_ok:
            raise RuntimeError("payment declined")  # rolls back the order AND the job
    return receipt


def main(url):
    app.url = url
    if url.endswith(".sqlite"):
        for suffix in ("", "-wal", "-shm"):  # start afresh each run
            if os.path.exists(url + suffix):
                os.remove(url + suffix)
    with app.transaction() as db:
        db.execute_sql("DROP TABLE IF EXISTS orders")
        db.execute_sql("CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER NOT NULL)")
    app.control.purge()

    good = place_order(1, 25)
    try:
        place_order(2, 99, payment_ok=False)
    except RuntimeError as exc:
        print(f"order 2 rolled back ({exc}): no order row, no job")

    litequeue = os.path.join(os.path.dirname(sys.executable), "litequeue")
    command = [litequeue if os.path.exists(litequeue) else "litequeue", "worker", url,
               "-A", "transactional_enqueue", "-c", "1", "--burst"]
    subprocess.run(command, cwd=HERE, env={**os.environ, "SHOP_DB": url}, check=True)

    print(f"order 1: {good.state}: {good.get(timeout=10)}")
    print("jobs in the store:", {state: n for (_, state), n in app.store.counts().items()})


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else URL)
