"""Celery's canvas on litequeue: signatures, chain, group, chord, links and errbacks.

    python examples/workflows.py

Sends each workflow, runs a worker until they are all done, and prints their results.
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from workflow_tasks import add, app, fail, log_result, mul, on_error, squares, xsum  # noqa: E402

from litequeue import ChordError, chain, chord, group, signature  # noqa: E402

for suffix in ("", "-wal", "-shm"):
    if os.path.exists(app.url + suffix):
        os.remove(app.url + suffix)

partial = add.s(2).delay(3)                                       # add(3, 2)
by_name = signature("workflow_tasks.add", args=(5, 5), app=app).delay()
piped = (add.s(4, 4) | mul.s(8))()                                # 64; its parent is 8
chained = chain(add.s(2, 2), add.s(4), add.s(8))()                # 16
grouped = group(add.s(i, i) for i in range(10))()                 # [0, 2, ..., 18]
chorded = chord((add.s(i, i) for i in range(10)), xsum.s())()     # 90
upgraded = (group(add.s(1, 1), add.s(2, 2)) | xsum.s())()         # 6: a group then a task is a chord
linked = add.apply_async((2, 2), link=log_result.s(), link_error=on_error.s())
broken = chord([add.s(1, 1), fail.si("no luck")], xsum.s().on_error(on_error.s()))()
replaced = (squares.s(4) | xsum.s())()                            # 14: squares' job replaced by a group
parked = chord([add.s(1, 1), add.s(2, 2).set(queue="parked")], xsum.s())()  # no worker reads "parked"

litequeue = os.path.join(os.path.dirname(sys.executable), "litequeue")
subprocess.run([litequeue if os.path.exists(litequeue) else "litequeue", "worker", app.url, "-A", "workflow_tasks",
                "-c", "2", "--burst", "-l", "warning", "-Q", app.conf.task_default_queue], cwd=HERE, check=True)

print("partial: ", partial.get(timeout=10), "| by name:", by_name.get(timeout=10))
print("pipe:    ", piped.get(timeout=10), "parent:", piped.parent.get(timeout=10))
by_id = app.AsyncResult(piped.id)  # from the id alone, as another process would: parent and children are stored
print("by id:    parent", by_id.parent.get(timeout=10), "| children of the first step:",
      [child.id == piped.id for child in app.AsyncResult(piped.parent.id).children])
print("chain:   ", chained.get(timeout=10))
print("group:   ", grouped.get(timeout=10))
print("chord:   ", chorded.get(timeout=10), "| group | task:", upgraded.get(timeout=10))
print("linked:  ", linked.get(timeout=10))
print("replaced:", replaced.parent.get(timeout=10), "then summed:", replaced.get(timeout=10))
try:
    broken.get(timeout=10)
except ChordError as exc:
    print("chord failed as it should:", exc)
app.store.purge("parked")  # a member deleted before the join: its chord fails now, it never hangs
try:
    parked.get(timeout=10)
except ChordError as exc:
    print("purged member:", exc)
