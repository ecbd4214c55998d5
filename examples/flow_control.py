"""Flow control: a global rate limit, one job at a time per account, and unique jobs.

    python examples/flow_control.py

Sends the jobs, runs a worker of four children until they are done, and prints when each job
started: the rate-limited calls 0.25 s apart, newsletters 0.5 s apart (a rate from
task_annotations), each account's syncs one after another (accounts side by side), and one
cache refresh for three sends.
"""

import os
import subprocess
import sys
import tempfile
import time

from litequeue import LiteQueue, Queue

DB = os.path.join(tempfile.mkdtemp(), "flow.sqlite")
app = LiteQueue(os.environ.get("FLOW_DB", DB))
app.conf.task_queues = (Queue("celery"), Queue("reports", concurrency=2))


@app.task(name="flow_control.call_partner_api", rate_limit="4/s")  # all workers together: a start every 0.25 s
def call_partner_api(order_id):
    return time.time()


@app.task(name="flow_control.send_newsletter")
def send_newsletter(user_id):
    return time.time()


# Celery's way from the settings: task_annotations (they win over the decorator's options).
app.conf.task_annotations = {"flow_control.send_newsletter": {"rate_limit": "2/s"}}


@app.task(name="flow_control.sync_account", concurrency=1,
          concurrency_key=lambda account_id, *args, **kwargs: account_id)
def sync_account(account_id, step):
    started = time.time()
    time.sleep(0.2)
    return started


@app.task(name="flow_control.refresh_cache", unique_for=60)
def refresh_cache(key):
    return time.time()


if __name__ == "__main__":
    calls = [call_partner_api.delay(i) for i in range(5)]
    letters = [send_newsletter.delay(user) for user in range(3)]
    syncs = [sync_account.delay(account, step) for step in range(3) for account in ("acct-1", "acct-2")]
    refreshes = [refresh_cache.delay("home") for _ in range(3)]
    assert len({r.id for r in refreshes}) == 1, "three sends, one job"
    litequeue = os.path.join(os.path.dirname(sys.executable), "litequeue")
    subprocess.run([litequeue if os.path.exists(litequeue) else "litequeue", "worker", app.url,
                    "-A", "flow_control", "-c", "4", "--burst", "-l", "warning"],
                   cwd=os.path.dirname(os.path.abspath(__file__)), env={**os.environ, "FLOW_DB": app.url}, check=True)
    starts = [r.get(timeout=30) for r in calls]
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    print("partner API calls started", ", ".join(f"{gap:.2f}" for gap in gaps), "s apart")
    granted = sorted(r.job.granted_at for r in letters)  # the starts the rate limit granted, kept by the store
    print("newsletters granted", ", ".join(f"{b - a:.2f}" for a, b in zip(granted, granted[1:], strict=False)),
          "s apart (2/s from task_annotations)")
    for account, results in (("acct-1", syncs[0::2]), ("acct-2", syncs[1::2])):
        times = [r.get(timeout=30) for r in results]
        print(account, "syncs started at +" + ", +".join(f"{t - min(times):.2f}" for t in times), "s")
    print("refresh_cache: 3 sends,", app.store.count_jobs(), "-", len(calls) + len(letters) + len(syncs), "= 1 job")
