"""Abortable tasks (Celery's ``celery.contrib.abortable``): a producer asks a running job to stop,
and the task checks between steps of its work whether it has been asked.

```python
from litequeue.contrib.abortable import AbortableAsyncResult, AbortableTask

@app.task(bind=True, base=AbortableTask)
def crunch(self, rows):
    for row in rows:
        if self.is_aborted():
            return "stopped"                 # clean up, then return (or raise)
        work(row)

result = crunch.delay(rows)
AbortableAsyncResult(result.id).abort()     # or crunch.AsyncResult(result.id).abort()
```

An abort is a cooperative revoke (``revoke(terminate=False)``): it never kills the job. A job
not begun yet is revoked and never runs; a running one only learns of it through
``is_aborted()`` and ends however its task decides (its state is then what it returned or
raised). litequeue has no ABORTED state: ``AbortableAsyncResult.is_aborted()`` says whether an
abort was asked for, from the store, during the job and after it.
"""

from __future__ import annotations

from .. import states
from ..result import AsyncResult
from ..task import Task

__all__ = ["AbortableAsyncResult", "AbortableTask"]


class AbortableAsyncResult(AsyncResult):
    """An AsyncResult that can ask its job to stop (``abort()``) and tell whether it was asked."""

    def abort(self) -> None:
        """Ask the job to stop: revoked if it has not begun (it never runs); if it is running,
        its task's ``self.is_aborted()`` turns true and it is left to end by itself."""
        self.revoke(terminate=False)

    def is_aborted(self) -> bool:
        """Whether an abort (or a revoke) was asked for this job."""
        job = self._job()
        if job is None:
            return False
        return job.state == states.REVOKED or job.id in self.app.store.revoke_requests([job.id])


class AbortableTask(Task):
    """A task that can be aborted: use it as ``base=AbortableTask`` (with ``bind=True``, the
    task calls ``self.is_aborted()`` between steps and stops cleanly when it is true)."""

    def AsyncResult(self, task_id: str) -> AbortableAsyncResult:  # noqa: N802 - Celery's name
        return AbortableAsyncResult(task_id, app=self.app)

    def is_aborted(self, *, task_id: str | None = None) -> bool:
        """Whether the running job (or the job ``task_id``) has been asked to abort. The worker
        tells a running job at once; failing that (a worker that missed the wake-up has not
        looked yet), this reads the store, as Celery's reads its result backend."""
        running = self.request.id
        task_id = task_id or running
        if task_id is None:  # called directly, not in a job
            return False
        if task_id == running and self.is_revoked():
            return True
        return self.AsyncResult(task_id).is_aborted()
