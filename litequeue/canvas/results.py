"""Results of workflows: ``GroupResult`` / ``ResultSet`` (many jobs, read in one query per poll)
and ``WorkflowResult`` (an AsyncResult that knows the step before it, ``.parent``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .. import serialization, states
from ..current import default_app
from ..errors import TaskRevokedError, TimeoutError
from ..result import UNREAD, AsyncResult, assert_will_not_block, ignored_error, rebuild_exception

if TYPE_CHECKING:
    from ..app import LiteQueue
    from ..store import Job

# (state, result, result_type, exc_type, exc_message, traceback, custom_state, done_at) of a job
Outcome = tuple


class WorkflowResult(AsyncResult):
    """The result of one step of a workflow. ``parent`` is the step before it (a chain), or the
    header of the chord it is the callback of; ``get()`` raises as soon as an earlier step of its
    chain has failed, since the chain then never reaches this one."""

    def get(self, timeout: float | None = None, propagate: bool = True, interval: float = 0.05,
            no_ack: bool = True, follow_parents: bool = True, disable_sync_subtasks: bool = True) -> Any:
        if disable_sync_subtasks:
            assert_will_not_block()
        result, job = self._wait(timeout, interval, lambda job: _failed_step(_earlier_step(self, job)))
        if result is not self and not propagate:  # the chain stopped earlier: this step will never run
            return None
        return result._outcome(job, propagate)

    wait = get

    def revoke(self, terminate: bool = False) -> None:
        """Revoke this step and every earlier step of its chain not over yet; the chain sends
        no further steps (one due next is stored REVOKED, so ``get()`` raises)."""
        ids, chains = [], set()
        result: Any = self
        while isinstance(result, AsyncResult):
            job = result.job
            if job is None or job.state not in states.READY_STATES:
                ids.append(result.id)
            ref = job.options.get("chain") if job is not None else None
            if isinstance(ref, dict):
                chains.add(ref["id"])
            result = _earlier_step(result, job)
        self.app.store.revoke_chains(sorted(chains))
        self.app.control.revoke(ids, terminate=terminate)


def stored_result(app: LiteQueue, task_id: str, members: list[str] | None = None, parent: Any = UNREAD) -> Any:
    """The result of a job read back by id (a WorkflowResult), or of a group when ``members``
    are given (a GroupResult of theirs)."""
    if members is not None:
        return GroupResult(task_id, [WorkflowResult(m, app=app) for m in members], app=app)
    return WorkflowResult(task_id, app=app, parent=parent)


def _earlier_step(result: AsyncResult, job: Job | None) -> Any:
    """The step before ``result`` in its chain (``job``: its job as read), or None: the parent
    given when the workflow was sent, else, for a step read back by id that is not the first
    of its chain, its stored parent. (A first step's stored parent is the task that sent the
    chain, whose own outcome is not the chain's.)"""
    known = result._parent
    if known is not UNREAD:
        return known
    step = job.options.get("chain_step") if job is not None else None
    return result.parent if isinstance(step, list) and step and step[0] > 1 else None


def _failed_step(result: Any) -> tuple[AsyncResult, Job] | None:
    """The nearest step of a chain, from ``result`` back, that failed, was revoked or raised
    Ignore (the chain stops there), and its job."""
    while isinstance(result, AsyncResult):
        job = result.job
        if job is not None and job.state in (states.FAILURE, states.REVOKED, states.IGNORED):
            return result, job
        result = _earlier_step(result, job)
    return None


class ResultSet:
    """Many results handled as one: ``get()`` / ``join()`` the list of their results in order,
    ``completed_count()``, ``as_completed()``. Each poll reads all of them in one query."""

    def __init__(self, results: Any = None, app: LiteQueue | None = None, **kwargs: Any) -> None:
        self.results: list[Any] = list(results or [])
        if app is None:
            app = next((r.app for r in self.results if hasattr(r, "app")), None)
            if app is None:
                app = default_app()
        self.app = app

    # -- reading --------------------------------------------------------------------------------

    def _outcomes(self) -> dict[str, Outcome]:
        """{task_id: outcome} of every member in the store, in one query (per 500 members)."""
        return self.app.store.outcomes_of(self._ids())

    def _ids(self) -> list[str]:
        return [r.id for r in self.results]

    def _states(self) -> list[str]:
        found = self._outcomes()
        return [found[i][0] if i in found else states.PENDING for i in self._ids()]

    def completed_count(self) -> int:
        """How many members succeeded."""
        return self._states().count(states.SUCCESS)

    def ready(self) -> bool:
        """Whether every member is over (succeeded, failed, revoked or ignored)."""
        return all(s in states.READY_STATES for s in self._states())

    def successful(self) -> bool:
        return all(s == states.SUCCESS for s in self._states())

    def failed(self) -> bool:
        return any(s == states.FAILURE for s in self._states())

    def waiting(self) -> bool:
        return not self.ready()

    def progress(self) -> dict[str, int]:
        """{"done": members over, "total": members, state: count, ...}."""
        found = self._states()
        counts: dict[str, int] = {}
        for s in found:
            counts[s] = counts.get(s, 0) + 1
        return {"done": sum(1 for s in found if s in states.READY_STATES), "total": len(found), **counts}

    def get(self, timeout: float | None = None, propagate: bool = True, interval: float = 0.05,
            callback: Any = None, disable_sync_subtasks: bool = True) -> list[Any]:
        """Wait for every member and return their results, in order. Raises the first failed
        member's exception (in member order) when ``propagate`` (TaskIgnoredError for a member that
        raised Ignore; without ``propagate``, that error is its value); TimeoutError after ``timeout``;
        RuntimeError inside a worker's task unless ``disable_sync_subtasks=False``, as in Celery."""
        if disable_sync_subtasks:
            assert_will_not_block()
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.001
        ids = self._ids()
        while True:
            found = self._outcomes()
            for task_id in ids:
                o = found.get(task_id)
                if o is None or o[0] not in states.READY_STATES:
                    break
                if propagate and o[0] != states.SUCCESS:
                    raise self._error(task_id, o)
            else:
                values = [self._value(found[i], i) for i in ids]
                if callback is not None:
                    for task_id, value in zip(ids, values, strict=True):
                        callback(task_id, value)
                return values
            pause = self._pause(deadline, pause, interval, timeout, found)

    join = join_native = get

    def as_completed(self, timeout: float | None = None, interval: float = 0.05) -> Iterator[AsyncResult]:
        """Yield each member's AsyncResult as it finishes (in the order they finished), one
        query per poll for all of them."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.001
        left = {r.id: r for r in self.results}
        while left:
            found = self._outcomes()
            over = sorted((found[i][7] or 0.0, i) for i in left if i in found and found[i][0] in states.READY_STATES)
            for _, task_id in over:
                yield left.pop(task_id)
            if over:
                pause = 0.001
            elif left:
                pause = self._pause(deadline, pause, interval, timeout, found)

    def iterate(self, timeout: float | None = None, propagate: bool = True,
                interval: float = 0.05) -> Iterator[Any]:
        """Yield each member's result as it finishes (Celery's ``iterate``)."""
        for result in self.as_completed(timeout, interval):
            yield result.get(propagate=propagate)

    def revoke(self, terminate: bool = False, **kwargs: Any) -> None:
        """Revoke every member that has not run yet (and, with ``terminate``, stop running ones)."""
        self.app.control.revoke(self._ids(), terminate=terminate)

    def forget(self) -> None:
        for r in self.results:
            r.forget()

    # -- the set -------------------------------------------------------------------------------

    def add(self, result: Any) -> None:
        if result not in self.results:
            self.results.append(result)

    def remove(self, result: Any) -> None:
        self.results.remove(result)

    def discard(self, result: Any) -> None:
        if result in self.results:
            self.results.remove(result)

    def clear(self) -> None:
        self.results.clear()

    @property
    def children(self) -> list[Any]:
        return self.results

    def __iter__(self) -> Iterator[Any]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, index: int) -> Any:
        return self.results[index]

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: [{', '.join(r.id for r in self.results)}]>"

    # -- helpers --------------------------------------------------------------------------------

    def _value(self, o: Outcome, task_id: str) -> Any:
        if o[0] == states.SUCCESS:
            accept = serialization.accepted_types(self.app.conf.accept_content) | {serialization.JSON}
            return serialization.loads(o[1], o[2] or serialization.JSON, accept)
        if o[0] == states.REVOKED:
            return TaskRevokedError(f"revoked: {o[4] or 'cancelled'}")
        if o[0] == states.IGNORED:
            return ignored_error(task_id, None, states.celery_state(o[0], o[6]))
        return rebuild_exception(o[3], o[4] or "", o[5]) if o[3] else None

    def _error(self, task_id: str, o: Outcome) -> BaseException:
        if o[0] == states.REVOKED:
            return TaskRevokedError(f"Job {task_id} was revoked: {o[4] or 'cancelled'}.")
        return self._value(o, task_id) or TaskRevokedError(f"Job {task_id} failed.")

    def _pause(self, deadline: float | None, pause: float, interval: float, timeout: float | None,
               found: dict) -> float:
        if deadline is not None and time.monotonic() >= deadline:
            done = sum(1 for o in found.values() if o[0] in states.READY_STATES)
            raise TimeoutError(f"{done} of {len(self.results)} jobs are over after {timeout}s; wait longer, "
                               "or check that a worker consuming their queues is running.")
        time.sleep(pause if deadline is None else max(0.0, min(pause, deadline - time.monotonic())))
        return min(pause * 2, interval)


class GroupResult(ResultSet):
    """The result of a group: its id and its members' results, in order. A group sent by
    litequeue is stored with its jobs, so ``GroupResult.restore(id)`` works without ``save()``;
    its members' results are read with one indexed query per poll."""

    def __init__(self, id: str | None = None, results: Any = None, parent: Any = None,  # noqa: A002
                 app: LiteQueue | None = None, **kwargs: Any) -> None:
        super().__init__(results, app=app)
        self.id = id
        self.parent = parent

    def _outcomes(self) -> dict[str, Outcome]:
        store = self.app.store
        found = store.group_outcomes(self.id) if self.id else {}
        missing = [i for i in self._ids() if i not in found]
        if missing:  # a GroupResult made by hand, or members whose last step is not sent yet
            found.update(store.outcomes_of(missing))
        return found

    def save(self, backend: Any = None) -> GroupResult:
        """Store the group's members so ``GroupResult.restore(id)`` finds them."""
        if self.id is None:
            from ..calling import new_task_id

            self.id = new_task_id()
        self.app.store.save_group(self.id, self._ids())
        return self

    def delete(self, backend: Any = None) -> None:
        """Forget the saved group (its jobs are left as they are)."""
        if self.id:
            self.app.store.delete_group(self.id)

    @classmethod
    def restore(cls, id: str, backend: Any = None, app: LiteQueue | None = None) -> GroupResult | None:  # noqa: A002
        """The group stored under ``id`` (sent as a group, or saved), or None."""
        if app is None:
            app = default_app()
        members = app.store.group_members(id)
        if members is None:
            return None
        return cls(id, [WorkflowResult(m, app=app) for m in members], app=app)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GroupResult) and other.id == self.id and other.results == self.results

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"<GroupResult: {self.id} [{', '.join(r.id for r in self.results)}]>"
