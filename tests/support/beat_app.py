"""The test app with a ``beat_schedule`` read from $LQ_BEAT_SCHEDULE (JSON), for beat process tests."""

import json
import os

from tests.support.tasks import app

app.conf.beat_schedule = json.loads(os.environ.get("LQ_BEAT_SCHEDULE", "{}"))

__all__ = ["app"]
