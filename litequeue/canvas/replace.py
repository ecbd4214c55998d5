"""``self.replace(sig)`` (Celery's ``Task.replace``): the running job ends and ``sig`` (a task's
signature, a chain, a group or a chord) takes its place.

The task's code raises ``Replaced`` with the signature; the worker's main process, which knows
the job's stored workflow options, plans the replacement here, and the store writes it in the
transaction that records the job as REPLACED (``Outcome.then``), as for any follow-up:

- The replacement's last job takes the job's task id, so ``AsyncResult(id).get()`` returns the
  replacement's result. A group (or a workflow ending in one) gets a last step,
  ``litequeue.accumulate``, whose result is the list of the group's results (as in Celery).
- That last job inherits what followed the job: its links, the rest of the chain it was a step
  of (which goes on with the replacement's result), and its place in a group and in the chord
  join it reports to. Its errbacks go to the replacement's jobs (``link_error`` of a chain: every
  step).
- Until then the job's row waits as REPLACED (Celery code sees PENDING); inserting the last job
  (its ``replaces`` option) deletes it. A replacement that stops before its last job (a step
  failed or was revoked) ends the row as that step ended, so ``get()`` raises.
- Revoking the job's id meanwhile flags its REPLACED row; the last job is then inserted REVOKED
  and never runs (``store/groups.py``), as Celery's worker drops a revoked id when it arrives.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from .. import serialization, states
from ..errors import InvalidOptionError, LiteQueueError, NotInJob, Replaced
from ..request import current_request
from ..store.records import FollowUp
from ..task_options import TaskOptions
from .plan import MEMBER_KEYS, Plan, _last, normal
from .signature import Signature, maybe_signature
from .workflows import chain, group, pipe

if TYPE_CHECKING:
    from ..app import LiteQueue
    from ..store import Job, Outcome
    from ..task import Task

log = logging.getLogger("litequeue.workflows")
ACCUMULATE_TASK = "litequeue.accumulate"
_JSON_ONLY = frozenset({serialization.JSON})


def replacing(task: Task, sig: Any) -> Replaced:
    """The exception ``task.replace(sig)`` raises, after checking that it can be done."""
    request = current_request()
    if request is None or request.called_directly or request.id is None:
        raise NotInJob(f"{task.name}.replace() was called outside a job: it ends the running job and gives its "
                       "place to the signature, so call it from the task's code while a worker runs it "
                       "(@app.task(bind=True), then return self.replace(sig)); here, send the signature instead.")
    if not isinstance(sig, dict):
        raise InvalidOptionError(f"replace() takes a signature (task.s(...), a chain, a group or a chord), "
                                 f"not {sig!r}.")
    sig = maybe_signature(sig, task.app)
    if sig.options.get("chord") or sig.options.get("group_id"):
        raise InvalidOptionError("A signature replacing a job must not be a member of a group or chord itself: "
                                 "the replacement takes the job's own place in its group.")
    if isinstance(sig, chain) and not sig.tasks:
        raise InvalidOptionError("replace() was given an empty chain; give it at least one signature.")
    return Replaced(sig, serialization.dumps(sig))


def with_replacement(app: LiteQueue, job: Job, outcome: Outcome) -> Outcome:
    """The REPLACED ``outcome`` with its replacement attached; a FAILURE saying why, when the
    replacement cannot be sent (the caller then sends the job's errbacks)."""
    try:
        then = _replacement(app, job, outcome.result)
    except LiteQueueError as exc:
        log.error("Task %s[%s]: its replacement cannot be sent: %s", job.task, job.task_id, exc)
        return dataclasses.replace(outcome, state=states.FAILURE, result=None, result_type=None,
                                   exc_type=f"{type(exc).__module__}.{type(exc).__qualname__}",
                                   exc_message=f"self.replace() was given a signature that cannot be sent: {exc}")
    return dataclasses.replace(outcome, then=then, keep=True)


def _replacement(app: LiteQueue, job: Job, encoded: bytes | None) -> FollowUp:
    sig = normal(maybe_signature(serialization.loads(encoded, serialization.JSON, _JSON_ONLY), app))
    if isinstance(_last(sig), group):  # its result is the list of the group's results
        sig = pipe(sig, Signature(ACCUMULATE_TASK, app=app))
    _inherit(sig, job)
    plan = Plan(app)
    plan.add(sig, (), None, {"parent_id": job.parent_id} if job.parent_id else None)
    return FollowUp(tuple(plan.jobs), tuple(plan.groups), chains=tuple(plan.chains))


def _inherit(sig: Signature, job: Job) -> None:
    """Give ``sig`` what followed ``job``: its last step takes the job's id, group place, chord
    and chain; links and errbacks are added as to any signature."""
    own = job.options or {}
    last = _last(sig)
    last.options.update({key: own[key] for key in MEMBER_KEYS if key in own})
    last.options.update(task_id=job.task_id, replaces=job.task_id)
    if isinstance(own.get("chain"), dict):  # the rest of the chain the job was a step of
        last.options["chain"] = own["chain"]
    for callback in _signatures(own.get("link")):
        sig.link(callback)
    for errback in _signatures(own.get("link_error")):
        sig.link_error(errback)


def _signatures(stored: Any) -> list:
    value = serialization.from_plain(stored) if stored else []
    return [value] if isinstance(value, dict) else list(value)


def register_accumulate_task(app: LiteQueue) -> None:
    """Every app knows litequeue.accumulate: the last step of a group that replaced a job."""
    app._register(_accumulate, TaskOptions(name=ACCUMULATE_TASK))


def _accumulate(results: list) -> list:
    return results
