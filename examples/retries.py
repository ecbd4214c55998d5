"""Retries three ways (automatic with backoff, explicit ``self.retry()``, none at all), a job's
history of failed attempts, and running a failed job again with ``litequeue retry``.

    python examples/retries.py

It starts a real worker (``litequeue worker retries.sqlite -A retries``), prints what happened to
each job, and stops the worker. The database is retries.sqlite beside this file.
"""

import os
import signal
import subprocess
import sys

from litequeue import LiteQueue

HERE = os.path.dirname(os.path.abspath(__file__))
app = LiteQueue(os.path.join(HERE, "retries.sqlite"))


# Tasks are named explicitly so the script (module __main__) and the worker (module retries) agree.
@app.task(name="retries.fetch", bind=True, autoretry_for=(ConnectionError,), max_retries=5,
          retry_backoff=0.2, retry_jitter=False)
def fetch(self, url):
    """Fails twice with ConnectionError; retried automatically after 0.2 s, then 0.4 s."""
    if self.request.retries < 2:
        raise ConnectionError(f"{url} did not answer")
    return f"{url}: 200 OK after {self.request.retries} retries"


@app.task(name="retries.charge", bind=True, max_retries=3)
def charge(self, order):
    """Asks for one retry itself, half a second later."""
    if self.request.retries == 0:
        raise self.retry(exc=TimeoutError("payment gateway busy"), countdown=0.5)
    return f"order {order} charged on attempt {self.request.retries + 1}"


@app.task(name="retries.import_file", max_retries=0)
def import_file(path):
    """Fails for good while the file is missing (FileNotFoundError is not retried)."""
    with open(path) as f:
        return f"imported {len(f.read().split())} words"


def litequeue(*args):
    script = os.path.join(os.path.dirname(sys.executable), "litequeue")
    return [script if os.path.exists(script) else "litequeue", *args]


def main():
    for suffix in ("", "-wal", "-shm"):  # start from an empty queue each run
        if os.path.exists(app.url + suffix):
            os.remove(app.url + suffix)
    data = os.path.join(HERE, "retries-data.txt")
    if os.path.exists(data):
        os.remove(data)

    fetched, charged, imported = fetch.delay("https://example.org"), charge.delay(42), import_file.delay(data)
    worker = subprocess.Popen(litequeue("worker", app.url, "-A", "retries", "-c", "2"), cwd=HERE)
    try:
        print(fetched.get(timeout=30), "| history:", [h["message"] for h in fetched.history])
        print(charged.get(timeout=30), "| retries:", charged.retries)
        try:
            imported.get(timeout=30)
        except FileNotFoundError as exc:
            print(f"import_file failed for good: {exc}")
        subprocess.run(litequeue("failed", app.url), check=True)

        with open(data, "w") as f:  # fix the cause, then run the failed job again
            f.write("the quick brown fox")
        subprocess.run(litequeue("retry", app.url, "--task", "retries.import_file"), check=True)
        print(imported.get(timeout=30), "| earlier failures kept:", len(imported.history))
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
        if os.path.exists(data):
            os.remove(data)


if __name__ == "__main__":
    main()
