"""Flask: send jobs from a view, report their state from another.

    python examples/flask_app.py       # drives the app with Flask's test client and a burst worker
    flask --app flask_app run          # (from examples/) serve it, with a worker:
    litequeue worker flask_app.sqlite -A flask_app

``delay()`` is one short write: call it from the view, the worker does the slow part.
"""

import os
import subprocess
import sys

from flask import Flask, jsonify

from litequeue import AsyncResult, LiteQueue

HERE = os.path.dirname(os.path.abspath(__file__))
DB = os.path.join(HERE, "flask_app.sqlite")

queue = LiteQueue(DB)
web = Flask(__name__)


@queue.task(name="flask_app.make_thumbnail")
def make_thumbnail(image_id, size):
    return f"thumbnails/{image_id}-{size}.png"


@web.post("/images/<int:image_id>/thumbnail")
def request_thumbnail(image_id):
    result = make_thumbnail.delay(image_id, 128)
    return jsonify(job=result.id), 202


@web.get("/jobs/<job_id>")
def job_state(job_id):
    result = AsyncResult(job_id, app=queue)
    return jsonify(state=result.state, result=result.result if result.successful() else None)


if __name__ == "__main__":
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(DB + suffix):
            os.remove(DB + suffix)
    client = web.test_client()
    job = client.post("/images/7/thumbnail").get_json()["job"]
    print("queued:", client.get(f"/jobs/{job}").get_json())
    litequeue = os.path.join(os.path.dirname(sys.executable), "litequeue")
    subprocess.run([litequeue if os.path.exists(litequeue) else "litequeue", "worker", DB, "-A", "flask_app",
                    "--burst", "-c", "1"], cwd=HERE, check=True)
    done = client.get(f"/jobs/{job}").get_json()
    print("done:", done)
    assert done == {"state": "SUCCESS", "result": "thumbnails/7-128.png"}
