"""SQLAlchemy: a job sent inside the application's own transaction commits or rolls back with it.

    python examples/sqlalchemy_app.py

The orders table and litequeue's tables share one SQLite file (PostgreSQL works the same way:
one database). ``enqueue_in(session)`` writes the job through the session's connection, so a
worker sees it only once the order is committed, and never if the transaction rolls back.
"""

import os
import subprocess
import sys

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from litequeue import LiteQueue
from litequeue.contrib.sqlalchemy import enqueue_in

HERE = os.path.dirname(os.path.abspath(__file__))
DB = os.path.join(HERE, "sqlalchemy_app.sqlite")

app = LiteQueue(DB, share_database=True)  # the queue's tables beside the application's
engine = sa.create_engine(f"sqlite:///{DB}")


class Base(DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    item: Mapped[str]
    receipt_sent: Mapped[bool] = mapped_column(default=False)


@app.task(name="sqlalchemy_app.send_receipt")
def send_receipt(order_id):
    with Session(engine) as session, session.begin():
        order = session.get(Order, order_id)  # committed before the job could be seen
        order.receipt_sent = True
        return f"receipt for order {order.id} ({order.item})"


def place_order(item, fail=False):
    with Session(engine) as session, session.begin():
        order = Order(item=item)
        session.add(order)
        session.flush()  # the order's id
        with enqueue_in(session):
            result = send_receipt.delay(order.id)
        if fail:
            raise RuntimeError("payment declined")  # rolls back the order and the job
        return result


if __name__ == "__main__":
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(DB + suffix):
            os.remove(DB + suffix)
    app.store  # noqa: B018 - litequeue's tables first (share_database), then the application's
    Base.metadata.create_all(engine)
    kept = place_order("book")
    try:
        place_order("pen", fail=True)
    except RuntimeError as exc:
        print("second order failed:", exc)
    litequeue = os.path.join(os.path.dirname(sys.executable), "litequeue")
    subprocess.run([litequeue if os.path.exists(litequeue) else "litequeue", "worker", DB, "-A", "sqlalchemy_app",
                    "--burst", "-c", "1"], cwd=HERE, check=True)
    print(kept.get(timeout=10))
    with engine.connect() as conn:
        jobs = conn.exec_driver_sql("SELECT count(*) FROM lq_jobs").scalar()
        orders = conn.exec_driver_sql("SELECT count(*) FROM orders").scalar()
    print(f"{orders} order and {jobs} job stored: the failed order left neither")
    assert (orders, jobs) == (1, 1)
