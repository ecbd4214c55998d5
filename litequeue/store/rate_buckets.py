"""Rate buckets: the rows of ``lq_limits`` that space out the starts of a rate-limited task or queue.

A bucket lets one job start, then none until ``interval`` seconds later (a token bucket of
capacity one), so the starts in any window of one period never exceed the limit. Its state is
one number, ``next_at``: when the next start may be granted. A claim reads the buckets (on
PostgreSQL locking their rows, so claims on other connections wait for it to commit), grants
starts by moving ``next_at`` on, and writes the moved buckets back in its own transaction.

A granted start is a window: the job's child begins it at the start or up to the claim's
``tolerance`` later, else hands it back unrun. The bucket then opens ``tolerance -
LATE_START_LIMIT`` later than one interval on, so a start made at the end of its window leaves
the next one interval behind it as one made on time would (the rate's margin covers
LATE_START_LIMIT). A start handed back unrun is given back (``refund``) when no other was
granted after it, so the job need not wait a whole interval (an hour, under "1/h") for it.
"""

from __future__ import annotations

import time
from typing import Any

# Seconds ahead a claim may grant a bucket's next start: the child that gets the job waits for it.
# Starts granted ahead keep a busy bucket going while no worker claims (a worker starved of CPU
# for tens of milliseconds on a loaded machine); a start lost to an idle bucket is never made up.
RATE_HORIZON = 0.1
# A rate-limited start is granted at least this far ahead of its claim, so that the job reaches
# its child before its slot and starts on time (a child reaching it later than LATE_START_LIMIT
# after the slot hands it back). It matters when the bucket was idle; a busy one grants later.
RATE_LEAD = 0.02
# How late after its granted start a child may begin a rate-limited job, unless the claim allowed
# more (a worker whose children were late widens it): less than the smallest rate margin (2 % of
# one second, flow.parse_rate), so no window of one period on the tasks' own clocks ever holds
# more starts than the limit, however late a busy machine wakes a child.
LATE_START_LIMIT = 0.015


def opens_after(slot: float, interval: float, tolerance: float) -> float:
    """When a bucket opens again after granting ``slot`` to a job that may begin ``tolerance`` late."""
    return slot + interval + max(tolerance - LATE_START_LIMIT, 0.0)


def _last_grant(interval: float, next_at: float, slot: float, tolerance: float | None) -> bool:
    """Whether a bucket opening at ``next_at`` last granted ``slot`` (with ``tolerance``, if known)."""
    if tolerance is not None:
        return next_at == opens_after(slot, interval, tolerance)
    return opens_after(slot, interval, LATE_START_LIMIT) <= next_at < slot + 1.5 * interval


class RateBuckets:
    """The rate buckets as one claim sees and moves them, inside its transaction."""

    def __init__(self, store: Any, now: float, tolerance: float = LATE_START_LIMIT) -> None:
        self.store, self.tolerance = store, tolerance
        rows = store.db.execute_sql(
            f"SELECT name, spacing, next_at FROM lq_limits ORDER BY name{store.row_lock}").fetchall()
        self.now = max(now, time.time())  # read once the rows are held: no claim can start in between
        self.next_at = {name: (interval, next_at) for name, interval, next_at in rows if interval}
        self.moved: set[str] = set()
        self.blocked: set[str] = set()  # buckets that held jobs back

    def __contains__(self, name: str) -> bool:
        return name in self.next_at

    def is_open(self, name: str) -> bool:
        """Whether the bucket ``name`` lets a job start within RATE_HORIZON (noting it if not)."""
        spec = self.next_at.get(name)
        if spec is None or spec[1] is None or spec[1] <= self.now + RATE_HORIZON:
            return True
        self.blocked.add(name)
        return False

    def grant(self, names: list[str]) -> float:
        """The start granted to one job under the buckets ``names`` (all open): the latest of
        their next openings, and at least RATE_LEAD from now; each then opens one interval later
        (and as much later as the claim's tolerance exceeds LATE_START_LIMIT)."""
        slot = max([self.now + RATE_LEAD, *(self.next_at[name][1] or 0.0 for name in names)])
        for name in names:
            interval = self.next_at[name][0]
            self.next_at[name] = (interval, opens_after(slot, interval, self.tolerance))
            self.moved.add(name)
        return slot

    def refund(self, names: list[str], slot: float, tolerance: float | None = None) -> None:
        """Give back ``slot``, granted with ``tolerance`` and never begun, to those of the buckets
        ``names`` whose last grant it was: they open at it again (no later start was granted, so
        the one in its place keeps every window within the limit). With the tolerance unknown
        (None), a bucket opening less than 1.5 intervals after ``slot`` had no later grant: a
        later one would have been at least an interval after it and opened an interval on (a
        grant whose tolerance widened it by half an interval or more is conservatively kept)."""
        for name in names:
            spec = self.next_at.get(name)
            if spec is not None and spec[1] is not None and _last_grant(spec[0], spec[1], slot, tolerance):
                self.next_at[name] = (spec[0], slot)
                self.moved.add(name)

    def write(self) -> None:
        """Store the buckets this claim moved."""
        if self.moved:
            self.store.db.cursor().executemany(
                self.store.sql("UPDATE lq_limits SET next_at = ? WHERE name = ?"),
                [(self.next_at[name][1], name) for name in sorted(self.moved)])

    def held_until(self) -> float | None:
        """When the first bucket that held jobs back (or just moved) lets another start."""
        times = [self.next_at[name][1] for name in self.blocked | self.moved if self.next_at[name][1] is not None]
        return min(times) - RATE_HORIZON if times else None
