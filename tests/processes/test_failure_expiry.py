"""Failed jobs are kept apart from results: result_expires prunes SUCCESS rows, FAILURE rows stay
for failure_expires (30 days by default), so `failed` and `retry` still find them."""

from __future__ import annotations

import time

from litequeue import states
from tests.support import tasks


def test_result_expiry_keeps_failures_and_failure_expiry_drops_them(app, start_worker, worker_env):
    assert app.conf.failure_expires == 30 * 86400
    ok, bad = tasks.add.delay(1, 1), tasks.fail.delay("kept")
    assert start_worker("--burst", "-c", "1").wait(60) == 0
    assert (ok.state, bad.state) == (states.SUCCESS, states.FAILURE)
    time.sleep(0.3)  # let both age past the tiny expiries below
    worker_env["LQ_RESULT_EXPIRES"] = "0.2"
    assert start_worker("--burst", "-c", "1").wait(60) == 0
    assert (ok.state, bad.state) == (states.PENDING, states.FAILURE)
    worker_env["LQ_FAILURE_EXPIRES"] = "0.2"
    assert start_worker("--burst", "-c", "1").wait(60) == 0
    assert bad.state == states.PENDING
