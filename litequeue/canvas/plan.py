"""Planning a workflow: a signature (task, chain, group, chord) becomes the jobs and groups to
store, all written by one store operation (``Store.enqueue``). What follows a job is stored in
its options, as plain (tagged) JSON:

- ``chain``: the signatures still to run after it; the first gets its result as first argument.
- ``link`` / ``link_error``: signatures called with its result / with (request, exc, traceback).
- ``group_id`` / ``group_index``: the group (and place) its result belongs to; ``chord``: the
  group's join it reports to when it is over.
- ``replaces``: the job is the last of a replacement (``Task.replace``) and takes the place, and
  the task id, of the REPLACED job (canvas/replace.py).

Every job of a workflow gets its task id here (``freeze``), so the results of steps not yet
sent can be handed out at once, and the stored signatures carry those ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import publishing, serialization
from ..calling import CallTemplate, new_task_id, parent_of_call, task_id_sequence
from ..errors import InvalidOptionError
from ..publish_retry import call_retry, with_publish_retry
from ..result import UNREAD, AsyncResult
from ..store.records import NewChain, NewGroup, NewJob
from .results import GroupResult, WorkflowResult
from .signature import Signature, maybe_signature
from .workflows import _Bulk, chain, chord, chunks, group

if TYPE_CHECKING:
    from ..app import LiteQueue

WORKFLOW_KEYS = frozenset({"link", "link_error", "chain", "group_id", "group_index", "chord", "chain_step",
                           "parent_id", "replaces"})
MEMBER_KEYS = ("group_id", "group_index", "chord")  # what makes a job's result part of a group
# Stored as they are (the rest: tagged JSON).
_PLAIN_KEYS = frozenset({*MEMBER_KEYS, "chain_step", "chain", "parent_id", "replaces"})
# Call options of a chain that apply to its first step only (a later step's parent is the step before it).
_FIRST_ONLY = ("countdown", "eta", "task_id", "parent_id")
_ONLY_HERE = ("retry", "retry_policy")  # publish options: how to send, not what to send


def _steps(rest: Any) -> list:
    """A chain's remaining steps given to a chord or group step (a list of signatures)."""
    if isinstance(rest, dict):  # a stored chain's reference: only a task step carries one
        raise InvalidOptionError("internal: a stored chain's reference given to a group or chord step")
    return list(rest or [])


def send_canvas(app: LiteQueue, sig: Signature, args: tuple, kwargs: dict, options: dict) -> Any:
    """Send a signature of any kind: every job and group of it in one transaction. Returns the
    result handle Celery returns (AsyncResult, GroupResult, or the last step's result)."""
    retry, policy = call_retry(app.conf, options)
    parent = parent_of_call(options)
    if parent is not None:
        options["parent_id"] = parent
    plan = Plan(app)
    result = plan.add(sig, args, kwargs, options)
    if plan.jobs:
        plan.jobs = list(publishing.before(plan.jobs))  # once per job, as Celery sends them per message
        with_publish_retry(app.store.enqueue, retry, policy, plan.jobs, plan.groups, plan.chains)
        publishing.after(plan.jobs)
        if app.conf.task_always_eager:
            from ..testing import drain

            drain(app)  # the whole workflow, here and now (what follows each job is sent as it ends)
    return result


class Plan:
    """The jobs and groups of one workflow (or of what one outcome sets off)."""

    def __init__(self, app: LiteQueue) -> None:
        self.app = app
        self.jobs: list[NewJob] = []
        self.groups: list[NewGroup] = []
        self.chains: list[NewChain] = []
        self._templates: dict[tuple, CallTemplate] = {}  # one per task and call options (a group's members share one)
        self._next_id = task_id_sequence()  # ids of one millisecond, counting up: in order in the id index

    def add(self, sig: Any, args: tuple = (), kwargs: dict | None = None, options: dict | None = None) -> Any:
        """Plan ``sig`` called with ``args`` prepended and ``options`` over its own; returns its result."""
        sig = normal(maybe_signature(sig, self.app))
        options = dict(options or {})
        for key in _ONLY_HERE:
            options.pop(key, None)
        if isinstance(sig, chain):
            return self._chain(sig, args, kwargs, options)
        if isinstance(sig, chord):
            return self._chord(sig, args, kwargs, options)
        if isinstance(sig, group):
            return self._group(sig, args, kwargs, options)
        return self._task(sig, args, kwargs or {}, options)

    def _task(self, sig: Signature, args: tuple, kwargs: dict, options: dict) -> WorkflowResult:
        args, kwargs, merged = sig._merge(args, kwargs, options)
        call = {k: v for k, v in merged.items() if k not in WORKFLOW_KEYS}
        task_id = call.pop("task_id", None) or self._next_id()
        flow = {k: v for k, v in merged.items() if k in WORKFLOW_KEYS and v not in (None, [], ())}
        for key in ("link", "link_error"):
            if key in flow:
                flow[key] = [maybe_signature(s, self.app) for s in _as_list(flow[key], key)]
                for callback in flow[key]:  # their options are checked now, not when they are sent
                    if not isinstance(callback, (chain, group, chord)):
                        self._template(callback, {k: v for k, v in callback.options.items()
                                                  if k not in WORKFLOW_KEYS and k != "task_id"})
        jobs = self._template(sig, call).jobs(args, kwargs, task_id)
        if flow:
            stored = {k: v if k in _PLAIN_KEYS else serialization.to_plain(v) for k, v in flow.items()}
            jobs = [job._replace(options={**(job.options or {}), **stored}) for job in jobs]
        self.jobs += jobs
        return WorkflowResult(task_id, app=self.app)

    def _template(self, sig: Signature, call: dict) -> CallTemplate:
        try:
            key: tuple | None = (sig.task, sig._type, *sorted(call.items()))
            template = self._templates.get(key)  # type: ignore[arg-type]
        except TypeError:  # an option value that cannot be a key (a dict): made for this call
            key, template = None, None
        if template is None:
            task = sig._type if sig._type is not None else self.app.tasks.get(sig.task)
            template = CallTemplate(self.app, sig.task, task, call)
            if key is not None:
                self._templates[key] = template
        return template

    def _chain(self, c: chain, args: tuple, kwargs: dict | None, options: dict) -> Any:
        steps = steps_of(c)
        if not steps:
            raise InvalidOptionError("An empty chain has nothing to run; give it at least one signature.")
        options = {**c.options, **options}
        rest = options.pop("chain", None) or []
        members = {k: options.pop(k) for k in MEMBER_KEYS if k in options}
        first_only = {k: options.pop(k) for k in _FIRST_ONLY if k in options}
        steps = [s.clone(**options) if options else s.clone() for s in steps]  # shared options: every step
        if "task_id" in first_only:  # Celery: a chain's task_id is its last step's
            steps[-1].set(task_id=first_only.pop("task_id"))
        if members:
            _mark_last(steps[-1], members)
        for i, s in enumerate(steps):  # shown by `litequeue result` / inspect: which step a chain is on
            if not isinstance(s, (chain, group, chord)):
                s.options["chain_step"] = [i + 1, len(steps)]
        results = [freeze(s, self.app) for s in steps]
        for parent, child in zip(results, results[1:], strict=False):
            _set_parent(child, parent)
        later = [*steps[1:], *(maybe_signature(s, self.app) for s in _steps(rest))]
        if later:  # a task step refers to the chain stored once; a chord step gets its rest as signatures
            first_only["chain"] = later if isinstance(steps[0], (chord, group)) else self.store_chain(later)
        self.add(steps[0], args, kwargs, first_only)
        return results[-1]

    def store_chain(self, steps: list[Signature], start: int = 0) -> Any:
        """What follows a step: for a task step, a reference to the steps stored once (in
        ``lq_chains``, so a step's job does not carry the whole rest of its chain); each
        step's job names the chain and the next step's index."""
        chain_id = new_task_id()
        self.chains.append(NewChain(chain_id, serialization.dumps([dict(s) for s in steps]).decode()))
        return chain_ref(chain_id, start, steps)

    def _group(self, g: group, args: tuple, kwargs: dict | None, options: dict) -> GroupResult:
        options = {**g.options, **options}
        if options.pop("chain", None):
            raise InvalidOptionError("A group followed by more steps is a chord: write chord(group, next) "
                                     "or group | next.")
        if any(k in options for k in MEMBER_KEYS):
            raise InvalidOptionError("A group cannot be the last step of a group member; make that member a "
                                     "chord (group | callback) instead.")
        group_id = options.pop("task_id", None) or options.pop("group_id", None) or new_task_id()
        results = [self.add(m, args, kwargs, {**options, "group_id": group_id, "group_index": i})
                   for i, m in enumerate(members_of(g))]
        self.groups.append(NewGroup(group_id, [r.id for r in results]))
        return GroupResult(group_id, results, app=self.app)

    def _chord(self, c: chord, args: tuple, kwargs: dict | None, options: dict) -> Any:
        options = {**c.options, **options}
        if c.body is None:
            raise InvalidOptionError("A chord needs a body (the callback): chord(header, body).")
        body = normal(maybe_signature(c.body, self.app)).clone()
        rest = _steps(options.pop("chain", None))
        if rest:
            body = chain(body, *rest, app=self.app)
        members = {k: options.pop(k) for k in MEMBER_KEYS if k in options}
        if members:
            _mark_last(body, members)
        group_id = options.pop("group_id", None) or new_task_id()
        if options.get("task_id"):  # Celery: a chord's task_id is its callback's
            _last(body).set(task_id=options.pop("task_id"))
        body_result = freeze(body, self.app)
        header = members_of(group(c.header, app=self.app))
        if not header:  # nothing to wait for: the callback gets an empty list at once
            self.add(body, ([],))
            return body_result
        results = [self.add(m, args, kwargs, {**options, "group_id": group_id, "group_index": i, "chord": group_id})
                   for i, m in enumerate(header)]
        callback = serialization.dumps(dict(body)).decode()
        self.groups.append(NewGroup(group_id, [r.id for r in results], callback))
        _set_parent(body_result, GroupResult(group_id, results, app=self.app))
        return body_result


def chain_ref(chain_id: str, index: int, steps: list) -> dict:
    """The reference a step's job holds: the chain, the next step's index, how many steps the
    chain stores, and the chord its last step is a member of (a failure anywhere fails it); for
    a replacement's chain, the REPLACED job its last step takes the place of (a failure anywhere
    ends that job)."""
    last = _last(normal(maybe_signature(steps[-1])))
    ref = {"id": chain_id, "next": index, "size": len(steps), "chord": last.options.get("chord")}
    if last.options.get("replaces"):
        ref["replaces"] = last.options["replaces"]
    return ref


def normal(sig: Signature) -> Signature:
    """The bulk signatures as what they send: xmap/xstarmap one litequeue.chunk job, chunks a group."""
    if isinstance(sig, chunks):
        return sig.group()
    if isinstance(sig, _Bulk):
        return Signature("litequeue.chunk", sig._call_args(), app=sig._app, **sig.options)
    return sig


def steps_of(c: chain) -> list[Signature]:
    """A chain's steps, nested chains flattened and a group followed by a step made a chord."""
    flat: list[Signature] = []
    for s in c.tasks:
        s = normal(maybe_signature(s))
        flat += steps_of(s) if isinstance(s, chain) and not s.options else [s]
    out: list[Signature] = []
    for s in flat:
        if out and isinstance(out[-1], group):
            out[-1] = chord(out[-1], s, app=c._app)
        elif out and isinstance(out[-1], chord) and out[-1].body is None:
            out[-1]["kwargs"]["body"] = s
        else:
            out.append(s)
    return out


def members_of(g: group) -> list[Signature]:
    """A group's members, nested groups flattened (as Celery does)."""
    out: list[Signature] = []
    for m in g.tasks:
        m = normal(maybe_signature(m))
        out += members_of(m) if isinstance(m, group) else [m]
    return out


def freeze(sig: Signature, app: LiteQueue) -> Any:
    """Give ``sig`` (and everything in it) its task ids now; returns the result it will have."""
    sig = normal(sig)
    if isinstance(sig, chain):
        results = [freeze(s, app) for s in sig.tasks]
        for parent, child in zip(results, results[1:], strict=False):
            _set_parent(child, parent)
        return results[-1]
    if isinstance(sig, chord):
        return freeze(sig.body, app)
    if isinstance(sig, group):
        group_id = sig.options.setdefault("task_id", new_task_id())
        return GroupResult(group_id, [freeze(m, app) for m in members_of(sig)], app=app)
    if not sig.options.get("task_id"):
        sig.options["task_id"] = new_task_id()
    return WorkflowResult(sig.options["task_id"], app=app)


def _last(sig: Signature) -> Signature:
    """The step whose result is a workflow's result (a chain's last; a chord's callback's)."""
    if isinstance(sig, chain):
        return _last(normal(maybe_signature(sig.tasks[-1])))
    if isinstance(sig, chord):
        return _last(normal(maybe_signature(sig.body)))
    return sig


def _mark_last(sig: Signature, members: dict) -> None:
    last = _last(sig)
    if isinstance(last, group):
        raise InvalidOptionError("A group cannot be the last step of a group member; end that member with a "
                                 "chord (group | callback) instead.")
    last.options.update(members)


def _set_parent(result: Any, parent: Any) -> None:
    while (above := _known_parent(result)) is not None:  # the first step of a nested workflow
        result = above
    result.parent = parent


def _known_parent(result: Any) -> Any:
    """The parent given to a result being planned (never read from the store: not sent yet)."""
    known = result._parent if isinstance(result, AsyncResult) else result.parent
    return None if known is UNREAD else known


def _as_list(value: Any, key: str) -> list:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise InvalidOptionError(f"{key} must be a signature or a list of signatures, not {value!r}.")
