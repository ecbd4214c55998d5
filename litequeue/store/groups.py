"""Groups and chord joins: the store operations behind Celery's canvas (a mixin of ``Store``).

A group is a row in ``lq_groups`` (its members, in order) plus the ``group_id``/``group_index``
of each member job, so a group's results are one indexed query. A chord is a group with a
callback and a counter: the transaction that records a member's outcome moves the counter, and
the one that moves it to the group's size reads every member's result and enqueues the callback
-- exactly once, because each member's outcome is applied exactly once (its fence) and the
counter only moves while the join is OPEN. Building the callback job from the results needs
serialization and routing, which live above the store: the ``joiner`` the app gives the store
does it (``completed`` / ``failed``), from plain values, inside the transaction.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from .. import states
from .admin import JOB_COLUMNS
from .join_results import KnownResults
from .mixin import StoreMixin
from .records import ChainStep, FollowUp, Job, JoinStep, NewChain, NewGroup, NewJob

_ADD_GROUP = ("INSERT INTO lq_groups (id, size, done, state, members, callback, created_at) "
              "VALUES (?, ?, 0, 'OPEN', ?, ?, ?)")
_STEP = ("UPDATE lq_groups SET done = done + 1 WHERE id = ? AND state = 'OPEN' AND callback IS NOT NULL "
         "RETURNING done, size, callback")
_FIRE = "UPDATE lq_groups SET state = 'FIRED', done_at = ? WHERE id = ?"
_FAIL = ("UPDATE lq_groups SET state = 'FAILED', failed_member = ?, done_at = ? "
         "WHERE id = ? AND state = 'OPEN' AND callback IS NOT NULL RETURNING callback")
_REVOKED_JOB = ("UPDATE lq_jobs SET state = 'REVOKED', exc_message = 'its chain was revoked', done_at = ? "
                "WHERE task_id = ?")
_FAILED_JOB = ("UPDATE lq_jobs SET state = 'FAILURE', exc_type = ?, exc_message = ?, done_at = ? "
               "WHERE task_id = ?")
_END_REPLACED = ("UPDATE lq_jobs SET state = ?, exc_type = ?, exc_message = ?, traceback = ?, result = NULL, "
                 "result_type = NULL, done_at = ? WHERE task_id = ? AND state = 'REPLACED'")
MemberResult = tuple[str, bytes | None, str | None]  # (state, result, result_type) of one member


def chord_of(options: dict) -> str | None:
    """The chord a job's result is (or its chain's last step's will be) a member of."""
    return options.get("chord") or (options.get("chain") or {}).get("chord")


class Joiner(Protocol):
    """Builds what a chord's join sets off (given to the store by the app)."""

    def completed(self, group_id: str, callback: str, results: list[MemberResult]) -> FollowUp:
        """The callback's jobs, its arguments headed by the members' results (in order); their
        parent is the chord's group ``group_id``."""

    def failed(self, group_id: str, callback: str, member: str, message: str) -> FollowUp:
        """The callback stored as failed (ChordError naming ``member``) and its errbacks."""

    def chain_step(self, step: ChainStep, load: Callable[[], str]) -> FollowUp:
        """The jobs of a chain's next step (``load()`` reads the chain's steps, if not known)."""

    def unknown_tasks(self, callback: str) -> list[str]:
        """The tasks a chord's failure would send or store (its callback and the callback's
        errbacks) that this process's app does not have: their queues and arguments are
        decided by the application's code."""

    def ended(self, job: Job, state: str) -> FollowUp:
        """What a job of a workflow sets off when it ends outside a worker's outcome (revoked
        while waiting; failed when its lease expired): errbacks, a failed chord."""


class GroupStore(StoreMixin):
    """Groups, their results, and chord joins."""

    joiner: Joiner | None = None
    known_results: KnownResults  # results of chord members this process recorded (made by Store)
    _insert_sql: str

    def _insert_rows(self, jobs: Sequence[NewJob], now: float) -> None:
        raise NotImplementedError  # provided by Store

    # -- inside the transactions that enqueue jobs or record outcomes -------------------------------

    def _add_groups(self, groups: Sequence[NewGroup], now: float) -> None:
        rows = [(g.group_id, len(g.members), json.dumps(g.members), g.callback, now) for g in groups]
        self.db.cursor().executemany(self.sql(_ADD_GROUP), rows)

    def _add_chains(self, chains: Sequence[NewChain], now: float) -> None:
        sql = "INSERT INTO lq_chains (id, size, steps, revoked, created_at) VALUES (?, 0, ?, ?, ?)"
        self.db.cursor().executemany(self.sql(sql), [(c.chain_id, c.steps, False, now) for c in chains])

    def chain_steps(self, chain_id: str) -> str | None:
        """A chain's steps as stored (JSON), or None."""
        with self.errors():
            return self._chain_steps(chain_id)

    def _chain_steps(self, chain_id: str) -> str | None:
        row = self.db.execute_sql(self.sql("SELECT steps FROM lq_chains WHERE id = ?"), (chain_id,)).fetchone()
        return row[0] if row else None

    def _follow_up(self, follow_ups: list[FollowUp], now: float) -> int:
        """Write what applied outcomes set off, in the caller's transaction; a join that
        completes (or fails) sets off more, written too. Returns how many jobs were enqueued."""
        enqueued = 0
        while follow_ups:
            jobs = [job for f in follow_ups for job in f.jobs]
            failed = [item for f in follow_ups for item in f.failed]
            groups = [g for f in follow_ups for g in f.groups]
            if groups:
                self._add_groups(groups, now)
            chains = [c for f in follow_ups for c in f.chains]
            if chains:
                self._add_chains(chains, now)
            if jobs or failed:
                self._insert_follow_ups(jobs, now, failing=[job for job, _, _ in failed])
                enqueued += len(jobs)
            for job, exc_type, message in failed:
                self.db.execute_sql(self.sql(_FAILED_JOB), (exc_type, message, now, job.task_id))
            for task_id, state, *error in (e for f in follow_ups for e in f.ended):
                self.db.execute_sql(self.sql(_END_REPLACED), (state, *error, now, task_id))
            # Joins in id order: two transactions moving the same joins lock them in one order.
            steps = sorted((f.join for f in follow_ups if f.join is not None), key=lambda s: s.group_id)
            nexts = [self._next_step(f.step, now) for f in follow_ups if f.step is not None]
            follow_ups = [f for f in [*(self._join(step, now) for step in steps), *nexts] if f]
        return enqueued

    def _insert_follow_ups(self, jobs: Sequence[NewJob], now: float, failing: Sequence[NewJob] = ()) -> None:
        """Insert jobs set off by outcomes (and ``failing``, which the caller then stores as
        failed); the last job of a replacement (``Task.replace``) takes the task id, and so the
        row, of the REPLACED job it stands in for. One whose REPLACED job was revoked is
        stored REVOKED, as if revoked while it waited: it never runs."""
        revoked = self._take_replaced_rows([*jobs, *failing])
        self._insert_rows([*jobs, *failing], now)
        if revoked:
            self._revoke_inserted([job.task_id for job in jobs if job.task_id in revoked], now)

    def _take_replaced_rows(self, jobs: Sequence[NewJob]) -> set[str]:
        """Delete the REPLACED rows whose ids these jobs take; the ids of those revoked."""
        replacing = [job.task_id for job in jobs if job.options and job.options.get("replaces")]
        if not replacing:
            return set()
        sql = (f"DELETE FROM lq_jobs WHERE state = 'REPLACED' AND task_id IN ({', '.join('?' * len(replacing))}) "
               "RETURNING task_id, revoke_requested")
        return {task_id for task_id, revoked in self.db.execute_sql(self.sql(sql), replacing).fetchall() if revoked}

    def _revoke_inserted(self, task_ids: Sequence[str], now: float) -> None:
        """Store these just inserted jobs REVOKED (marked for a worker to send task_revoked),
        with what that sets off: errbacks, a failed chord."""
        if not task_ids:
            return
        marks = ", ".join("?" * len(task_ids))
        flows = self._workflow_jobs(f"task_id IN ({marks})", task_ids)
        self.db.execute_sql(self.sql(
            "UPDATE lq_jobs SET state = 'REVOKED', done_at = ?, wait_until = NULL, revoke_notice = ? "
            f"WHERE task_id IN ({marks})"), (now, True, *task_ids))
        self._ended_elsewhere(flows, states.REVOKED, now)

    def _workflow_jobs(self, where: str, params: Sequence[Any]) -> list[Job]:
        """The jobs matching ``where`` that belong to a workflow (read before they change)."""
        if self.joiner is None:
            return []
        sql = f"SELECT {JOB_COLUMNS} FROM lq_jobs WHERE options IS NOT NULL AND {where}"
        return Job.all_from_cursor(self.db.execute_sql(self.sql(sql), params))

    def _ended_elsewhere(self, jobs: Sequence[Job], state: str, now: float) -> None:
        """In the caller's transaction: what these workflow jobs, now ended in ``state`` outside
        a worker's outcome, set off (the joiner ignores jobs with no workflow)."""
        if jobs and self.joiner is not None:
            follow_ups = [self.joiner.ended(job, state) for job in jobs]
            self._follow_up([f for f in follow_ups if f], now)

    def refuse_unbuildable_failures(self, jobs: Sequence[Job], how: str) -> None:
        """In the caller's transaction, before ``how`` (purge, forget, revoke) ends these jobs
        outside a worker: raise WorkflowNeedsApp (the caller's transaction then rolls back,
        changing nothing) when that fails an open chord whose callback or errbacks are tasks
        this process's app does not have. Recorded without them, the errbacks would go to the
        wrong queue, or get the wrong arguments."""
        chords = sorted({c for job in jobs if job.options and (c := chord_of(job.options))})
        if not chords or self.joiner is None:
            return
        marks = ", ".join("?" * len(chords))
        sql = f"SELECT id, callback FROM lq_groups WHERE id IN ({marks}) AND state = 'OPEN' AND callback IS NOT NULL"
        for group_id, callback in self.db.execute_sql(self.sql(sql), chords).fetchall():
            unknown = self.joiner.unknown_tasks(callback)
            if unknown:
                from ..errors import WorkflowNeedsApp

                raise WorkflowNeedsApp(
                    f"{how} would fail chord {group_id} (a member would never report), and recording that "
                    f"failure sends or stores {', '.join(unknown)}, tasks this process does not have: their "
                    "queues and arguments are decided by the application's code. Nothing was changed. Run it "
                    "with the app (-A module, as the worker is given), or from the application itself.")

    def _deleted(self, jobs: Sequence[Job], how: str, now: float) -> None:
        """In the transaction that deleted these jobs (``purge``, ``forget``): a chord waiting
        for one of them can never hear from it, so it fails now with ChordError naming it (its
        errbacks run), as if the member had been revoked; a chain ending in a chord fails it too.
        (Refused, changing nothing, where this process cannot record that failure:
        ``refuse_unbuildable_failures``.)"""
        if not jobs or self.joiner is None:
            return
        self.refuse_unbuildable_failures(jobs, how)
        waiting = [dataclasses.replace(job, exc_message=f"deleted by {how} before it ran")
                   for job in jobs if job.state in (states.QUEUED, states.RETRY)]
        self._ended_elsewhere(waiting, states.REVOKED, now)
        # A member that succeeded was counted, but the callback needs its result, now gone.
        joins = [FollowUp(join=JoinStep(job.options["group_id"], job.task_id,
                                        f"Dependency {job.task_id} was deleted by {how} before the chord's join"))
                 for job in jobs if job.state == states.SUCCESS and job.options.get("chord")]
        self._follow_up(joins, now)

    def _next_step(self, step: ChainStep, now: float) -> FollowUp:
        """A chain's next step; in a chain revoked meanwhile it is stored REVOKED instead (and
        a chord its chain ends in fails)."""
        follow_up = self._joiner().chain_step(step, self._loader(step.chain_id))
        row = self.db.execute_sql(self.sql("SELECT revoked FROM lq_chains WHERE id = ?"), (step.chain_id,)).fetchone()
        if not row or not row[0] or not follow_up.jobs:
            return follow_up
        self._insert_follow_ups(follow_up.jobs, now)
        joins = []
        for job in follow_up.jobs:
            self.db.execute_sql(self.sql(_REVOKED_JOB), (now, job.task_id))
            chord_id = chord_of(job.options or {})
            if chord_id:
                joins.append(FollowUp(join=JoinStep(chord_id, job.task_id,
                                                    f"Dependency {job.task_id} was revoked (its chain was revoked)")))
        return FollowUp(join=joins[0].join) if joins else FollowUp()

    def revoke_chains(self, chain_ids: Sequence[str]) -> int:
        """Send no more steps of these chains: a step due next is stored REVOKED instead."""
        if not chain_ids:
            return 0
        marks = ", ".join("?" * len(chain_ids))
        with self.errors(), self.write():
            return self.db.execute_sql(self.sql(f"UPDATE lq_chains SET revoked = ? WHERE id IN ({marks})"),
                                       (True, *chain_ids)).rowcount

    def _loader(self, chain_id: str) -> Callable[[], str]:
        def load() -> str:
            steps = self._chain_steps(chain_id)
            if steps is None:
                from ..errors import StoreError

                raise StoreError(f"The steps of chain {chain_id} are not in the store (deleted?).")
            return steps
        return load

    def _join(self, step: JoinStep, now: float) -> FollowUp | None:
        """Move a chord's counter for one member; what the join sets off, if it is over now."""
        if step.failed is not None:
            row = self.db.execute_sql(self.sql(_FAIL), (step.task_id, now, step.group_id)).fetchone()
            return self._joiner().failed(step.group_id, row[0], step.task_id, step.failed) if row else None
        row = self.db.execute_sql(self.sql(_STEP), (step.group_id,)).fetchone()
        if row is None:
            return None
        if step.place is not None:  # counted: its result is known here, not to be read back at the join
            self.known_results.note(step.group_id, step.place, (states.SUCCESS, step.result, step.result_type))
        if row[0] < row[1]:
            return None
        self.db.execute_sql(self.sql(_FIRE), (now, step.group_id))
        results = self._member_results(step.group_id, row[1])
        self.known_results.forget(step.group_id)
        return self._joiner().completed(step.group_id, row[2], results)

    def _member_results(self, group_id: str, size: int) -> list[MemberResult]:
        """The members' (state, result, result_type) in header order: those this process
        recorded from memory, the others in one indexed query (of all of them, when this process
        recorded fewer than half)."""
        known = self.known_results.of(group_id)
        if known and len(known) * 2 >= size:
            missing = [i for i in range(size) if i not in known]
            have = {**self._some_member_results(group_id, missing), **known}
            return [have.get(i, ("PENDING", None, None)) for i in range(size)]
        sql = ("SELECT group_index, state, result, result_type FROM lq_jobs WHERE group_id = ? "
               "AND group_id IS NOT NULL ORDER BY group_index")
        rows = self.db.execute_sql(self.sql(sql), (group_id,)).fetchall()
        if len(rows) == size and all(row[0] == i for i, row in enumerate(rows)):  # the usual case
            return [(state, result if result is None or type(result) is bytes else bytes(result), kind)
                    for _, state, result, kind in rows]
        found: dict[int, MemberResult] = {}
        for index, state, result, result_type in rows:
            found.setdefault(index, (state, bytes(result) if result is not None else None, result_type))
        return [found.get(i, ("PENDING", None, None)) for i in range(size)]

    def _some_member_results(self, group_id: str, indexes: list[int]) -> dict[int, MemberResult]:
        """{index: (state, result, result_type)} of the members at these places (500 a query)."""
        found: dict[int, MemberResult] = {}
        for start in range(0, len(indexes), 500):
            part = indexes[start:start + 500]
            sql = ("SELECT group_index, state, result, result_type FROM lq_jobs WHERE group_id = ? "
                   f"AND group_id IS NOT NULL AND group_index IN ({', '.join('?' * len(part))})")
            for index, state, result, kind in self.db.execute_sql(self.sql(sql), (group_id, *part)).fetchall():
                found.setdefault(index, (state, bytes(result) if result is not None else None, kind))
        return found

    def _joiner(self) -> Joiner:
        if self.joiner is None:
            from ..errors import ConfigurationError

            raise ConfigurationError("This store was opened without its app, so it cannot run a chord's "
                                     "callback; open it through the app (app.store).")
        return self.joiner

    # -- reading and saving groups ------------------------------------------------------------------

    def save_group(self, group_id: str, members: Sequence[str]) -> None:
        """Store a group's members (GroupResult.save); a group already stored is left as it is."""
        with self.errors(), self.write():
            exists = self.db.execute_sql(self.sql("SELECT 1 FROM lq_groups WHERE id = ?"), (group_id,)).fetchone()
            if not exists:
                self._add_groups([NewGroup(group_id, list(members))], time.time())

    def group_members(self, group_id: str) -> list[str] | None:
        """The member task ids of a stored group, in order; None when no such group is stored."""
        with self.errors():
            row = self.db.execute_sql(self.sql("SELECT members FROM lq_groups WHERE id = ?"), (group_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def group_info(self, group_id: str) -> dict[str, Any] | None:
        """A group's row: size, done (chord members over), state, failed_member, callback."""
        sql = "SELECT size, done, state, failed_member, callback, created_at, done_at FROM lq_groups WHERE id = ?"
        with self.errors():
            row = self.db.execute_sql(self.sql(sql), (group_id,)).fetchone()
        if row is None:
            return None
        keys = ("size", "done", "state", "failed_member", "callback", "created_at", "done_at")
        return dict(zip(keys, row, strict=True))

    def group_progress(self, group_id: str) -> dict[str, int]:
        """{state: jobs} of the members of a group that are stored (one indexed query)."""
        sql = "SELECT state, COUNT(*) FROM lq_jobs WHERE group_id = ? AND group_id IS NOT NULL GROUP BY state"
        with self.errors():
            return dict(self.db.execute_sql(self.sql(sql), (group_id,)).fetchall())

    def recent_groups(self, since: float, limit: int = 20) -> list[dict[str, Any]]:
        """The groups created since ``since``, newest first: id, size, done, state, is_chord, created_at."""
        sql = ("SELECT id, size, done, state, callback IS NOT NULL, created_at FROM lq_groups "
               "WHERE created_at >= ? ORDER BY created_at DESC LIMIT ?")
        keys = ("id", "size", "done", "state", "chord", "created_at")
        with self.errors():
            rows = self.db.execute_sql(self.sql(sql), (since, limit)).fetchall()
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def delete_group(self, group_id: str) -> None:
        """Forget a saved group (GroupResult.delete); its jobs are left as they are."""
        with self.errors(), self.write():
            self.db.execute_sql(self.sql("DELETE FROM lq_groups WHERE id = ?"), (group_id,))

    def outcomes_of(self, task_ids: Sequence[str]) -> dict[str, tuple]:
        """{task_id: (state, result, result_type, exc_type, exc_message, traceback, custom_state, done_at)}
        of the jobs with these ids that exist, read in one query per 500 ids (a group's poll)."""
        found: dict[str, tuple] = {}
        ids = list(dict.fromkeys(task_ids))
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            sql = ("SELECT task_id, state, result, result_type, exc_type, exc_message, traceback, custom_state, "
                   f"done_at FROM lq_jobs WHERE task_id IN ({', '.join('?' * len(part))})")
            with self.errors():
                for row in self.db.execute_sql(self.sql(sql), part).fetchall():
                    found[row[0]] = (row[1], bytes(row[2]) if row[2] is not None else None, *row[3:])
        return found

    def group_outcomes(self, group_id: str) -> dict[str, tuple]:
        """Like ``outcomes_of`` for the jobs of one group, in one indexed query."""
        sql = ("SELECT task_id, state, result, result_type, exc_type, exc_message, traceback, custom_state, "
               "done_at FROM lq_jobs WHERE group_id = ? AND group_id IS NOT NULL")
        with self.errors():
            rows = self.db.execute_sql(self.sql(sql), (group_id,)).fetchall()
        return {r[0]: (r[1], bytes(r[2]) if r[2] is not None else None, *r[3:]) for r in rows}
