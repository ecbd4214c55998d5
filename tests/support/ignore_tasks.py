"""Tasks that raise Celery's Ignore (imported by tests.support.tasks, so workers have them)."""

from litequeue import Ignore
from tests.support.tasks import app, ledger_write


@app.task(bind=True, autoretry_for=(Exception,), max_retries=3, default_retry_delay=0)
def ignored(self, key, state=None, meta=None):
    """Records that it ran, stores ``state`` with ``meta`` (update_state) when given, then
    raises Ignore: autoretry_for=(Exception,) must not retry it."""
    ledger_write(key)
    if state is not None:
        self.update_state(state=state, meta=meta)
    raise Ignore()


@app.task
def ignored_if(value, key):
    """Returns ``value``, or raises Ignore when it is negative (a duplicate dropped silently)."""
    ledger_write(key)
    if value < 0:
        raise Ignore()
    return value
