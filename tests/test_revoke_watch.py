"""The worker looks for revokes of the jobs it holds after each wake-up, at most every few
milliseconds: a wake-up that comes sooner puts the look off, and must never drop it (the revoke
that woke the worker may be the one a later look would have found)."""

from __future__ import annotations

import time

from litequeue.worker.revokes import RevokeWatch
from tests.support import tasks


def test_a_look_too_soon_after_the_last_is_owed_and_then_finds_the_revoke(app):
    store = app.store
    sent = tasks.add.delay(1, 1)
    (job,) = store.claim("w/1", None, (), 1, 60.0)
    watch = RevokeWatch()
    assert watch.look(store, [job.id]) == {} and watch.owed_in() is None
    app.control.revoke(sent.id, terminate=True)
    assert watch.look(store, [job.id]) is None  # too soon: put off...
    owed = watch.owed_in()
    assert owed is not None and owed <= 0.01  # ...and owed, for the worker's next turn
    time.sleep(owed)
    assert watch.owed_in() == 0.0
    assert watch.look(store, [job.id]) == {job.id: True}
    assert watch.owed_in() is None


def test_nothing_is_owed_when_nothing_is_held(app):
    watch = RevokeWatch()
    watch.look(app.store, [1])
    assert watch.look(app.store, []) is None and watch.owed_in() is None
