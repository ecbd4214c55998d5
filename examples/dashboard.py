"""Watching and steering a store over HTTP: the dashboard's JSON API and Prometheus metrics.

    pip install 'litequeue-jobs[web]'
    python examples/dashboard.py

This starts the dashboard inside the program (``litequeue dashboard jobs.sqlite`` runs the same
server from the command line, on http://127.0.0.1:5555/), runs a few jobs, one of which fails,
then does through the HTTP API what a person does on the page: find the failure, read its
traceback, retry it, pause a queue -- and reads /metrics. It exits 0.
"""

import json
import os
import tempfile
import threading
import urllib.request

from litequeue import LiteQueue
from litequeue.web import Dashboard

DATA = tempfile.mkdtemp(prefix="litequeue-dashboard-example-")
app = LiteQueue(os.path.join(DATA, "jobs.sqlite"))
ATTEMPTS = os.path.join(DATA, "attempts")


@app.task
def resize(image, width):
    return f"{image} at {width}px"


@app.task
def flaky_upload(name):
    """Fails on its first run, succeeds when retried."""
    first = not os.path.exists(ATTEMPTS)
    open(ATTEMPTS, "a").close()
    if first:
        raise ConnectionError(f"upload of {name} timed out")
    return f"{name} uploaded"


def api(base, path, post=False):
    headers = {"X-Litequeue-Action": "1"} if post else {}  # every action carries this header
    request = urllib.request.Request(base + path, method="POST" if post else "GET", headers=headers)
    with urllib.request.urlopen(request, timeout=30) as answer:
        body = answer.read().decode()
    return json.loads(body) if answer.headers["Content-Type"] == "application/json" else body


if __name__ == "__main__":
    for width in (320, 640, 1280):
        resize.delay("cat.jpg", width)
    upload = flaky_upload.delay("holidays.zip")
    with app.worker(concurrency=2) as worker:
        upload.get(propagate=False, timeout=60)
        server = Dashboard(app, "127.0.0.1", 0)  # port 0: any free port
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = server.url.rstrip("/")
        print(f"dashboard at {server.url}")

        failed = api(base, "/api/jobs?state=FAILURE")["jobs"]
        print("failed jobs:", [(j["task"], j["error"]) for j in failed])
        job = api(base, f"/api/jobs/{failed[0]['id']}")
        print("its traceback ends with:", job["traceback"].strip().splitlines()[-1])
        print("retry:", api(base, f"/api/jobs/{job['id']}/retry", post=True))
        print("after the retry:", upload.get(timeout=60))
        print("pause:", api(base, "/api/queues/celery/pause", post=True))
        print("queues:", [(q["queue"], q["due"], q["paused"]) for q in api(base, "/api/queues")])
        api(base, "/api/queues/celery/resume", post=True)
        metrics = api(base, "/metrics")
        print("from /metrics:", [line for line in metrics.splitlines() if line.startswith("litequeue_jobs_succeeded")])
        server.shutdown()
        server.server_close()
    print(f"worker {worker.name} stopped")
