"""``-A tests.support.revoke_receivers``: the test tasks' app, with a task_revoked receiver that
appends each call, as one JSON line, to $LQ_LEDGER/revoked.jsonl (one write: lines never mix)."""

import json
import os

from litequeue import signals
from tests.support.tasks import app  # noqa: F401 - the app -A finds here


@signals.task_revoked.connect
def record(sender=None, request=None, terminated=None, signum=None, expired=None, **kwargs):
    line = json.dumps({"id": request.id, "task": getattr(sender, "name", None), "args": list(request.args),
                       "terminated": terminated, "signum": signum, "expired": expired, "pid": os.getpid(),
                       "hostname": request.hostname})
    fd = os.open(os.path.join(os.environ["LQ_LEDGER"], "revoked.jsonl"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)
