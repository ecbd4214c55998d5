"""A desktop-style program with background jobs and no second command to run.

    python examples/desktop_app.py

The worker runs inside this program (``with app.worker(...)``): its pool children are started
with ``spawn``, as on macOS and Windows, so they import this script again -- which is why the
program's own work sits under ``if __name__ == "__main__":``. The "UI" loop below shows each
job's progress, reported from inside the task with ``self.update_state``, the way a window would
update a progress bar. Leaving the ``with`` block stops the worker after its running jobs.
"""

import os
import tempfile
import time

from litequeue import LiteQueue

DATA = os.path.join(tempfile.gettempdir(), "litequeue-desktop-example")
os.makedirs(DATA, exist_ok=True)
app = LiteQueue(os.path.join(DATA, "jobs.sqlite"))


@app.task(bind=True)
def export_album(self, name, photos):
    """Pretend to export ``photos`` pictures, reporting progress after each one."""
    for done in range(1, photos + 1):
        time.sleep(0.05)
        self.update_state(state="PROGRESS", meta={"done": done, "total": photos})
    return f"{name}: {photos} photos exported"


def show(results):
    """One line per job: a text progress bar, or the outcome."""
    for r in results:
        state, info = r.state, r.info
        if state == "PROGRESS":
            bar = "#" * info["done"] + "." * (info["total"] - info["done"])
            print(f"  {r.id[:8]}  [{bar}]")
        else:
            print(f"  {r.id[:8]}  {state}  {info if state == 'SUCCESS' else ''}")


if __name__ == "__main__":
    with app.worker(concurrency=2, start_method="spawn") as worker:
        print(f"worker {worker.name} running inside this program (pid {os.getpid()})")
        results = [export_album.delay(name, photos) for name, photos in (("Holidays", 12), ("Garden", 8), ("Cats", 10))]
        while not all(r.ready() for r in results):
            show(results)
            print()
            time.sleep(0.25)
        show(results)
    print("worker stopped; all jobs done:", [r.get() for r in results])
    app.close()
