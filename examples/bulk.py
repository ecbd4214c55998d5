"""Send many jobs at once: enqueue_many, map, starmap and chunks, each one transaction.

    python examples/bulk.py

Runs a burst worker over them and prints a few results.
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from tasks import add, app, slow_square  # noqa: E402

for suffix in ("", "-wal", "-shm"):
    if os.path.exists(app.url + suffix):
        os.remove(app.url + suffix)

pairs = [(i, i) for i in range(1000)]
sums = add.starmap(pairs)                      # 1,000 jobs, one transaction
squares = slow_square.map([1, 2, 3])           # one argument per job
batches = add.chunks(pairs, 250)               # 4 jobs of 250 calls each
mixed = app.enqueue_many([(add, (1, 2)), ("tasks.add", (3, 4), {}, {"priority": 9})])
print(f"sent {len(sums) + len(squares) + len(batches) + len(mixed)} jobs")

litequeue = os.path.join(os.path.dirname(sys.executable), "litequeue")
subprocess.run([litequeue if os.path.exists(litequeue) else "litequeue", "worker", app.url, "-A", "tasks",
                "-c", "2", "--burst"], cwd=HERE, check=True)

print("starmap:", [r.get(timeout=10) for r in sums[:5]], "...")
print("map:    ", [r.get(timeout=10)["square"] for r in squares])
print("chunks: ", [len(r.get(timeout=10)) for r in batches], "results per job")
print("many:   ", [r.get(timeout=10) for r in mixed])
