"""Lineage: which job started which (a mixin of ``Store``).

A job's ``parent_id`` names the job that started it: the step before it in a chain, the job it
is a link of, or the task that sent it while running. A chord's callback names the chord's
group instead (it was started by all of its members). Written with the job; read through the
partial index ``lq_jobs_parent``, which holds only jobs that have a parent.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from .mixin import StoreMixin

_PARENT = ("SELECT j.parent_id, g.members FROM lq_jobs j LEFT JOIN lq_groups g ON g.id = j.parent_id "
           "WHERE j.task_id = ?")
# One query: the children (with their ids, the order they were sent in), then the members of
# the groups among them.
_CHILDREN = (
    "SELECT id, task_id, group_id, NULL FROM lq_jobs WHERE parent_id = ? AND parent_id IS NOT NULL "
    "UNION ALL SELECT NULL, NULL, id, members FROM lq_groups WHERE id IN (SELECT group_id FROM lq_jobs "
    "WHERE parent_id = ? AND parent_id IS NOT NULL AND group_id IS NOT NULL)"
)


class Parent(NamedTuple):
    """A job's parent: the id of the job that started it, or of a chord's group (``members``
    then lists the group's member task ids, in order)."""

    id: str
    members: list[str] | None = None


class LineageStore(StoreMixin):
    """parent_of, children_of."""

    def parent_of(self, task_id: str) -> Parent | None:
        """The parent of the job ``task_id``; None when it has none (or no such job is stored)."""
        with self.errors():
            row = self.db.execute_sql(self.sql(_PARENT), (task_id,)).fetchone()
        if row is None or row[0] is None:
            return None
        return Parent(row[0], json.loads(row[1]) if row[1] is not None else None)

    def children_of(self, task_id: str) -> list[Parent]:
        """The jobs ``task_id`` started, in the order they were sent, read in one query. Members
        of a stored group come as one entry, the group (its id and every member, in order), where
        the first of them stood."""
        with self.errors():
            rows = self.db.execute_sql(self.sql(_CHILDREN), (task_id, task_id)).fetchall()
        groups = {group_id: json.loads(members) for _, child, group_id, members in rows if child is None}
        out: list[Parent] = []
        seen: set[str] = set()
        for _, child, group_id, _ in sorted((row for row in rows if row[1] is not None), key=lambda row: row[0]):
            if group_id in groups:
                if group_id not in seen:
                    seen.add(group_id)
                    out.append(Parent(group_id, groups[group_id]))
            else:
                out.append(Parent(child))
        return out
