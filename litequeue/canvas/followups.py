"""What a job's outcome sets off, built where the outcome is known (the worker's main process)
and written by the store in the transaction that records the outcome (``Outcome.then``): a
chain's next step and links (its result as their first argument), errbacks (``request, exc,
traceback``), and a chord member's step of its join. ``ChordJoiner`` builds a chord's callback
when the store says its last member is over (or the chord failed)."""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from .. import serialization, states
from ..errors import ChordError, InvalidOptionError, LiteQueueError, PayloadTooLarge, StoreError
from ..result import rebuild_exception
from ..store.groups import chord_of
from ..store.records import ChainStep, FollowUp, JoinStep
from .plan import WORKFLOW_KEYS, Plan, _last, chain_ref
from .replace import with_replacement
from .signature import Signature, maybe_signature
from .workflows import _Canvas

if TYPE_CHECKING:
    from ..app import LiteQueue
    from ..store import Job, Outcome

log = logging.getLogger("litequeue.workflows")
_CHAINS_KEPT = 256
_CHORD_ERROR = f"{ChordError.__module__}.{ChordError.__qualname__}"
_RESULTS_MARKER = "\x00litequeue: the chord's results\x00"
_ENCODED_MARKER = serialization.dumps(_RESULTS_MARKER)


def with_follow_ups(app: LiteQueue, job: Job, outcome: Outcome) -> Outcome:
    """``outcome`` with what it sets off attached (``then``). Jobs with no workflow options
    (nearly all) are returned as they are."""
    if outcome.state == states.REPLACED:
        outcome = with_replacement(app, job, outcome)  # or FAILURE, when the replacement cannot be sent
        if outcome.state == states.REPLACED:
            return outcome
    options = job.options
    if not options or WORKFLOW_KEYS.isdisjoint(options):
        return outcome
    try:
        then = follow_ups(app, job, outcome.state, outcome.result, outcome.result_type,
                          outcome.exc_type, outcome.exc_message, outcome.traceback)
    except LiteQueueError as exc:
        log.error("Task %s[%s]: what should follow it cannot be sent: %s", job.task, job.task_id, exc)
        return outcome
    if not then:
        return outcome
    return dataclasses.replace(outcome, then=then, keep=outcome.keep or "group_id" in options)


def follow_ups(app: LiteQueue, job: Job, state: str, result: bytes | None, result_type: str | None,
               exc_type: str | None, exc_message: str | None, traceback: str | None) -> FollowUp:
    """What a job ending in ``state`` sets off (nothing for RETRY or a requeue)."""
    options = job.options
    if state == states.SUCCESS:
        ref = options.get("chain")  # the next step is sent by the store, from the chain stored once
        step = ChainStep(ref["id"], ref["next"], result, result_type, job.task_id) if ref else None
        links = _plain(options.get("link")) or []
        plan = Plan(app)
        if links:
            try:
                value = _decode(app, result, result_type)
                for link in links:
                    plan.add(link, (value,), None, {"parent_id": job.task_id})
            except LiteQueueError as error:  # logged; the chain and the join it is in go on
                log.error("Task %s[%s]: its link cannot be sent: %s", job.task, job.task_id, error)
                plan = Plan(app)
        join = JoinStep(options["group_id"], job.task_id, None, options.get("group_index"), result, result_type) \
            if options.get("chord") else None
        return FollowUp(tuple(plan.jobs), tuple(plan.groups), join, chains=tuple(plan.chains), step=step)
    if state == states.IGNORED:
        return _ignored(job)
    if state not in (states.FAILURE, states.REVOKED):
        return FollowUp()
    if state == states.REVOKED:
        why = f"Dependency {job.task_id} was revoked ({exc_message or 'cancelled'})"
        errbacks: tuple = ()
    else:
        why = f"Dependency {job.task_id} raised {_short(exc_type)}: {exc_message or ''}".rstrip(": ")
        raised = rebuild_exception(exc_type or "Exception", exc_message or "", None)
        try:
            errbacks = tuple(errback_jobs(app, job, _plain(options.get("link_error")) or [], raised, traceback))
        except LiteQueueError as error:  # logged; the chord it is in still fails
            log.error("Task %s[%s]: its errback cannot be sent: %s", job.task, job.task_id, error)
            errbacks = ()
    chord_id = chord_of(options)
    ref = options.get("chain")
    replaced = ref.get("replaces") if isinstance(ref, dict) else None  # a replacement's chain stops here
    ended = ((replaced, state, exc_type, exc_message if state == states.FAILURE else why, traceback),) \
        if replaced else ()
    return FollowUp(errbacks, (), JoinStep(chord_id, job.task_id, why) if chord_id else None, ended=ended)


IGNORED_MEMBER = "raised Ignore, so it has no result and the chord's callback cannot run"


def _ignored(job: Job) -> FollowUp:
    """What a job whose task raised Ignore sets off: no chain step, links or errbacks, as in
    Celery. A chord it is a member of fails (ChordError naming it and Ignore) rather than wait
    forever for its result, as Celery's would; a replacement that stops here ends the job it
    stands in for as IGNORED too."""
    options = job.options
    chord_id = chord_of(options)
    ref = options.get("chain")
    replaced = ref.get("replaces") if isinstance(ref, dict) else None
    return FollowUp(join=JoinStep(chord_id, job.task_id, f"Dependency {job.task_id} {IGNORED_MEMBER}")
                    if chord_id else None,
                    ended=((replaced, states.IGNORED, None, None, None),) if replaced else ())


def errback_jobs(app: LiteQueue, job: Any, errbacks: list, exc: BaseException, traceback: str | None) -> list:
    """The jobs of a failed job's errbacks: ``(request, exc, traceback)`` as in Celery, or just
    the task id for an errback task that takes one argument (Celery's older convention)."""
    if not errbacks:
        return []
    request = _request(app, job)
    plan = Plan(app)
    for errback in errbacks:
        sig = maybe_signature(errback, app)
        if isinstance(sig, _Canvas):
            raise InvalidOptionError(f"An errback must be a task's signature, not a {sig.TYPE}: {sig!r}.")
        args = (job.task_id,) if _takes_one(app, sig) else (request, exc, traceback)
        plan.add(sig, args)
    return plan.jobs


def _request(app: LiteQueue, job: Any) -> Any:
    from ..task import Request

    try:
        accept = serialization.accepted_types(app.conf.accept_content)
        args, kwargs = serialization.loads(job.body, job.content_type, accept)
    except Exception:  # the arguments are the errback's to see, not a reason to lose it
        args, kwargs = [], {}
    return Request(id=job.task_id, task=job.task, args=tuple(args), kwargs=kwargs, retries=job.retries,
                   delivery_info={"queue": job.queue, "routing_key": job.routing_key, "priority": job.priority},
                   hostname=job.worker, called_directly=False)


_ONE_ARGUMENT: dict[str, bool] = {}


def _takes_one(app: LiteQueue, sig: Signature) -> bool:
    """Whether the errback's task takes a single argument (then it gets the task id)."""
    if sig.task not in _ONE_ARGUMENT:
        task = app.tasks.get(sig.task)
        one = False
        if task is not None:
            try:
                params = list(inspect.signature(task.fun).parameters.values())
            except (TypeError, ValueError):
                params = []
            if task.options.bind and params:
                params = params[1:]
            positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            one = len(positional) <= 1 and not any(p.kind == p.VAR_POSITIONAL for p in params)  # as Celery counts
        _ONE_ARGUMENT[sig.task] = one
    return _ONE_ARGUMENT[sig.task]


def _plain(value: Any) -> Any:
    return serialization.from_plain(value) if value else value


def _decode(app: LiteQueue, data: bytes | None, content_type: str | None) -> Any:
    accept = serialization.accepted_types(app.conf.accept_content) | {serialization.JSON}
    return serialization.loads(data, content_type or serialization.JSON, accept)


def _short(type_name: str | None) -> str:
    return (type_name or "Exception").rpartition(".")[2]


class ChordJoiner:
    """Builds a chord's callback when the store's join says so (``Store.joiner``)."""

    def __init__(self, app: LiteQueue) -> None:
        self.app = app
        self._chains: dict[str, list] = {}  # chain id -> its steps (plain dicts), the latest kept

    def completed(self, group_id: str, callback: str, results: list[tuple]) -> FollowUp:
        """The callback with the list of the members' results (in header order) as its first
        argument, its parent the chord's group. A callback that cannot be sent (say, the results
        are too large for task_max_payload_bytes) is stored as failed with ChordError saying why."""
        try:
            return self._completed(group_id, callback, results)
        except LiteQueueError as exc:
            log.error("A chord's callback could not be sent: %s", exc)
            return self.failed(group_id, callback, "", f"the callback could not be sent: {exc}")

    def _completed(self, group_id: str, callback: str, results: list[tuple]) -> FollowUp:
        body = maybe_signature(self._load(callback), self.app)
        plan = Plan(self.app)
        started_by = {"parent_id": group_id}
        if all(kind in (serialization.JSON, None) for _, _, kind in results):
            # The results go into the callback's body as the JSON they are stored as: the
            # callback is sent with a marker in their place, which is then replaced.
            plan.add(body, (_RESULTS_MARKER,), None, started_by)
            joined = b"[" + b",".join(data if data is not None and state == states.SUCCESS else b"null"
                                      for state, data, _ in results) + b"]"
            jobs = [job._replace(body=job.body.replace(_ENCODED_MARKER, joined, 1))
                    if job.content_type == serialization.JSON and _ENCODED_MARKER in job.body else job
                    for job in plan.jobs]
            if all(_ENCODED_MARKER not in job.body for job in jobs):
                limit = self.app.conf.task_max_payload_bytes
                if any(len(job.body) > limit for job in jobs):
                    raise PayloadTooLarge(f"the header's results take {len(joined)} bytes, over "
                                          f"task_max_payload_bytes ({limit}); return references, not data")
                return FollowUp(tuple(jobs), tuple(plan.groups), chains=tuple(plan.chains))
            plan = Plan(self.app)  # a callback not encoded as JSON: decode the results, encode them again
        values = [_decode(self.app, data, kind) if state == states.SUCCESS else None for state, data, kind in results]
        plan.add(body, (values,), None, started_by)
        return FollowUp(tuple(plan.jobs), tuple(plan.groups), chains=tuple(plan.chains))

    def failed(self, group_id: str, callback: str, member: str, message: str) -> FollowUp:
        """The callback stored as FAILURE with ChordError (naming the member), and its errbacks.
        (Errbacks that cannot be sent are logged, not allowed to undo the member's outcome.)"""
        try:
            return self._failed(group_id, callback, message)
        except LiteQueueError as exc:
            log.error("A failed chord's callback and errbacks could not be recorded: %s", exc)
            return FollowUp()

    def _failed(self, group_id: str, callback: str, message: str) -> FollowUp:
        body = maybe_signature(self._load(callback), self.app)
        last = _last(body)
        plan = Plan(self.app)
        plan.add(last.clone(), (), None, {"parent_id": group_id})
        job = plan.jobs[0]
        failed = ((job, _CHORD_ERROR, message),)
        stored = SimpleNamespace(task_id=job.task_id, task=job.task, body=job.body, content_type=job.content_type,
                                 retries=0, queue=job.queue, routing_key=job.routing_key, priority=job.priority,
                                 worker=None)
        errbacks = errback_jobs(self.app, stored, _plain((job.options or {}).get("link_error")) or [],
                                ChordError(message), None)
        chord_id = (job.options or {}).get("chord")
        join = JoinStep(chord_id, job.task_id, f"Dependency {job.task_id} raised ChordError: {message}") \
            if chord_id else None
        return FollowUp(tuple(errbacks), (), join, failed)

    def unknown_tasks(self, callback: str) -> list[str]:
        """The callback (its last step: the one stored as failed) and its errbacks, where this
        app does not have their tasks (a process opened without the application's code)."""
        last = _last(maybe_signature(self._load(callback), self.app))
        given = last.options.get("link_error") or []
        errbacks = [maybe_signature(e, self.app) for e in ([given] if isinstance(given, dict) else given)]
        names = [last.task, *(e.task for e in errbacks if not isinstance(e, _Canvas))]
        return [name for name in dict.fromkeys(names) if name not in self.app.tasks]

    def chain_step(self, step: ChainStep, load: Callable[[], str]) -> FollowUp:
        """The next step of a chain, with the step before's result as its first argument. The
        chain's steps are read from the store once per process and kept (they never change)."""
        try:
            return self._chain_step(step, load)
        except StoreError:
            raise  # the transaction failed: the outcome is written again later
        except LiteQueueError as exc:
            log.error("Step %d of chain %s could not be sent: %s", step.position + 1, step.chain_id, exc)
            return FollowUp()

    def _chain_step(self, step: ChainStep, load: Callable[[], str]) -> FollowUp:
        steps = self._chains.get(step.chain_id)
        if steps is None:
            steps = self._chains[step.chain_id] = self._load(load())
            while len(self._chains) > _CHAINS_KEPT:
                self._chains.pop(next(iter(self._chains)))
        sig = maybe_signature(steps[step.position], self.app)
        after = step.position + 1
        options: dict = {"parent_id": step.parent_id} if step.parent_id else {}
        if after < len(steps):
            is_task = not isinstance(sig, _Canvas)
            options["chain"] = chain_ref(step.chain_id, after, steps) if is_task else steps[after:]
        plan = Plan(self.app)
        plan.add(sig, (_decode(self.app, step.result, step.result_type),), None, options)
        return FollowUp(tuple(plan.jobs), tuple(plan.groups), chains=tuple(plan.chains))

    def ended(self, job: Job, state: str) -> FollowUp:
        """What a workflow job that ended outside a worker's outcome (revoked while waiting, or
        failed when its lease expired) sets off."""
        if WORKFLOW_KEYS.isdisjoint(job.options):
            return FollowUp()
        try:
            return follow_ups(self.app, job, state, None, None, job.exc_type, job.exc_message, job.traceback)
        except LiteQueueError as exc:
            log.error("Task %s[%s]: what should follow it cannot be sent: %s", job.task, job.task_id, exc)
            return FollowUp()

    def _load(self, callback: str) -> Any:
        return serialization.loads(callback.encode(), serialization.JSON, frozenset({serialization.JSON}))
