"""Send a few jobs, run a worker that processes them, and print the results.

    python examples/quickstart.py

The worker is the real command line one (`litequeue worker ... --burst`): it runs every job that
is due, then exits.
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from tasks import add, app, divide, slow_square  # noqa: E402

for suffix in ("", "-wal", "-shm"):  # start from an empty queue each run
    if os.path.exists(app.url + suffix):
        os.remove(app.url + suffix)

results = [add.delay(2, 3), add.apply_async((10, 20), priority=5)]
results += [slow_square.delay(n) for n in range(4)]
bad = divide.delay(1, 0)
print(f"sent {len(results) + 1} jobs to {app.url}")

litequeue = os.path.join(os.path.dirname(sys.executable), "litequeue")
command = [litequeue if os.path.exists(litequeue) else "litequeue", "worker", app.url,
           "-A", "tasks", "-c", "2", "-l", "info", "--burst"]
print("running:", " ".join(command))
subprocess.run(command, cwd=HERE, check=True)

for r in results:
    print(f"{r.id}  {r.state:8}  {r.get(timeout=10)!r}")
try:
    bad.get(timeout=10)
except ZeroDivisionError as exc:
    print(f"{bad.id}  {bad.state:8}  raised {exc!r}, as expected")
