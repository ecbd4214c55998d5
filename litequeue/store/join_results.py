"""The results of chord members this process recorded, kept so that the transaction recording a
chord's last member need not read every member's result back from the database (the largest
part of its time: a 1,000-member chord's join read 1,000 rows while holding the write lock).

A result is noted in the transaction that records it and kept only once that transaction
commits (``commit``; ``discard`` on rollback): a member's result never changes after its
outcome is recorded (its fence lets one outcome apply), so a kept value is what the row holds.
Members recorded by other processes are read from the database, by index, at the join.
"""

from __future__ import annotations

from collections import OrderedDict

MemberResult = tuple[str, bytes | None, str | None]  # (state, result, result_type) of one member
GROUPS_KEPT = 64  # open chords whose members' results are kept (the oldest are forgotten first)


class KnownResults:
    """{chord's group id: {member index: its result}} for the members this process recorded."""

    def __init__(self) -> None:
        self._kept: OrderedDict[str, dict[int, MemberResult]] = OrderedDict()
        self._noted: list[tuple[str, int, MemberResult]] = []  # in the transaction under way

    def note(self, group_id: str, index: int, result: MemberResult) -> None:
        """A member's result recorded in the transaction under way."""
        self._noted.append((group_id, index, result))

    def commit(self) -> None:
        """The transaction under way committed: keep what it noted."""
        for group_id, index, result in self._noted:
            kept = self._kept.get(group_id)
            if kept is None:
                kept = self._kept[group_id] = {}
                while len(self._kept) > GROUPS_KEPT:
                    self._kept.popitem(last=False)
            kept[index] = result
        self._noted.clear()

    def discard(self) -> None:
        """The transaction under way rolled back: forget what it noted."""
        self._noted.clear()

    def of(self, group_id: str) -> dict[int, MemberResult]:
        """The results known of ``group_id``'s members (kept, and noted in this transaction)."""
        found = dict(self._kept.get(group_id, {}))
        found.update((index, result) for noted, index, result in self._noted if noted == group_id)
        return found

    def forget(self, group_id: str) -> None:
        """The chord joined (or failed): its results are needed no more."""
        self._kept.pop(group_id, None)
