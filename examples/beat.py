"""Periodic jobs: a worker with an embedded beat (-B) plus a second, standalone beat on the same
file, for five seconds; then the schedule and one job per fire, however many beats ran.

    python examples/beat.py

This module is also the app the commands load (``-A beat``); its database is beat.sqlite beside it.
"""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta

from litequeue import LiteQueue, crontab

HERE = os.path.dirname(os.path.abspath(__file__))
app = LiteQueue(os.path.join(HERE, "beat.sqlite"))
app.conf.timezone = "Europe/Berlin"
app.conf.beat_schedule = {
    "add-every-second": {"task": "beat.add", "schedule": 1.0, "args": (2, 3)},
    "report-mondays": {"task": "beat.add", "schedule": crontab(hour=7, minute=30, day_of_week="mon"),
                       "options": {"queue": "celery", "expires": 600}},
    "cleanup-hourly": {"task": "beat.add", "schedule": timedelta(hours=1), "args": (0, 0), "misfire": "skip"},
}


@app.task(name="beat.add")
def add(x, y):
    return x + y


def command(*args: str) -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "litequeue")
    return [script if os.path.exists(script) else "litequeue", *args]


def main() -> None:
    from litequeue.schedules import Schedule

    for suffix in ("", "-wal", "-shm"):  # start from an empty store each run
        if os.path.exists(app.url + suffix):
            os.remove(app.url + suffix)
    Schedule(app).add("ping-every-2s", "beat.add", 2.0, args=[1, 1])  # added at runtime, kept by beat
    processes = [
        subprocess.Popen(command("worker", app.url, "-A", "beat", "-B", "-c", "1", "-l", "info"), cwd=HERE),
        subprocess.Popen(command("beat", app.url, "-A", "beat", "-l", "info"), cwd=HERE),
    ]
    time.sleep(5)
    for p in processes:
        p.send_signal(signal.SIGTERM)
    for p in processes:
        p.wait(30)
    subprocess.run(command("schedule", app.url), check=True)
    per_fire = Counter((f.entry, f.fire_time) for f in app.store.fires())
    jobs = app.store.list_jobs(task="beat.add", limit=1000)
    print(f"{len(per_fire)} fires, {len(jobs)} jobs, at most {max(per_fire.values(), default=0)} job per fire "
          f"(two beats ran); {sum(j.state == 'SUCCESS' for j in jobs)} done")


if __name__ == "__main__":
    main()
