"""Named queues, topic routing keys, task routes and a dedicated worker per queue.

    python examples/routing.py

Declares the queues of the routing guide (docs/guide/routing.md), sends jobs that land in each of them, shows
`litequeue queues`, then runs two real workers (`--burst`: run what is due, then exit): one only
on `web_tasks`, one on every other queue. Each job returns the name of the worker that ran it.
This file is also the workers' app module (`-A routing`).
"""

import os
import subprocess
import sys

from litequeue import LiteQueue, Queue

HERE = os.path.dirname(os.path.abspath(__file__))
DB = os.path.join(HERE, "routing.sqlite")

app = LiteQueue(DB)
app.conf.task_queues = (
    Queue("celery", routing_key="task.#"),  # keys starting with "task." go to celery
    Queue("web_tasks", routing_key="web.#"),  # keys starting with "web." go to web_tasks
    Queue("transient", routing_key="transient", delivery_mode=1),  # no fsync; nothing kept
)
app.conf.task_default_exchange = "tasks"
app.conf.task_default_exchange_type = "topic"
app.conf.task_default_routing_key = "task.default"
app.conf.task_routes = {"proj.tasks.add": {"queue": "web_tasks", "routing_key": "web.add"}}


@app.task(name="proj.tasks.add", bind=True)
def add(self, x, y):
    return f"{x + y}, run by {self.request.hostname} from {self.request.delivery_info['queue']}"


@app.task(name="proj.tasks.where", bind=True)
def where(self):
    return f"run by {self.request.hostname} from {self.request.delivery_info['queue']}"


def litequeue(*args: str) -> None:
    script = os.path.join(os.path.dirname(sys.executable), "litequeue")
    command = [script if os.path.exists(script) else "litequeue", *args]
    print("$", "litequeue", " ".join(args))
    subprocess.run(command, cwd=HERE, check=True)


def main() -> None:
    for suffix in ("", "-wal", "-shm"):  # start from an empty queue each run
        if os.path.exists(DB + suffix):
            os.remove(DB + suffix)
    sent = {
        "add.delay(2, 3)  (task_routes)": add.delay(2, 3),
        "routing_key='web.images.resize'": where.apply_async(routing_key="web.images.resize"),
        "no route  (the default)": where.delay(),
        "queue='web_tasks'  (the call)": where.apply_async(queue="web_tasks"),
    }
    transient = where.apply_async(routing_key="transient")
    litequeue("queues", DB, "-A", "routing")
    litequeue("worker", DB, "-A", "routing", "-c", "1", "-n", "web@example", "-Q", "web_tasks", "--burst")
    litequeue("worker", DB, "-A", "routing", "-c", "1", "-n", "main@example", "-X", "web_tasks", "--burst")
    for label, result in sent.items():
        print(f"{label:34} -> {result.get(timeout=10)}")
    print(f"{'routing_key=transient':34} -> {transient.state}: a transient job keeps no row and no result")


if __name__ == "__main__":
    main()
