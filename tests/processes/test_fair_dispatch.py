"""Fair dispatch: a job never waits for a busy child while another child of the worker is idle,
whatever mix of short and long jobs arrives (the head-of-line cases of issue 18)."""

from __future__ import annotations

import pytest

from tests.support import tasks

IDLE_WAIT_BOUND = 0.3  # seconds; waiting behind a long job costs 0.5-1 s, a hand-over milliseconds


def idle_wait(spans: list[list[float]], children: int) -> list[float]:
    """For each job, how long it waited (from the first job's start to its own) while fewer
    than ``children`` jobs were running: time a free child could have run it."""
    origin = min(start for start, _ in spans)
    edges = sorted({t for span in spans for t in span})
    waits = []
    for start, _ in spans:
        waited = 0.0
        for a, b in zip(edges, edges[1:], strict=False):
            if a < origin or b > start:
                continue
            running = sum(1 for s, e in spans if s <= a and e >= b)
            if running < children:
                waited += b - a
        waits.append(waited)
    return waits


def run_mix(run_burst, quick: int, slow: int, seconds: float) -> list[list[float]]:
    results = [tasks.span.delay(0) for _ in range(quick)] + [tasks.span.delay(seconds) for _ in range(slow)]
    run_burst("-c", "2")
    return [r.get(timeout=10) for r in results]


@pytest.mark.parametrize(("quick", "slow", "seconds"), [(40, 4, 1.0), (2, 4, 0.5)])
def test_long_jobs_after_short_ones_spread_over_both_children(app, run_burst, quick, slow, seconds):
    spans = run_mix(run_burst, quick, slow, seconds)
    ideal = slow * seconds / 2  # the work divided by the children (the short jobs take ~nothing)
    makespan = max(end for _, end in spans) - min(start for start, _ in spans)
    assert makespan <= ideal * 1.10, (makespan, ideal, spans)
    waits = idle_wait(spans, 2)
    assert max(waits) < IDLE_WAIT_BOUND, [round(w, 3) for w in waits]


def test_the_idle_wait_measure_sees_a_job_queued_behind_a_long_one():
    # Child A runs a 1 s job then the queued one; child B is idle from 0.01 s: the second waited.
    spans = [[0.0, 1.0], [1.0, 1.5], [0.0, 0.01]]
    assert idle_wait(spans, 2)[1] == pytest.approx(0.99)
    assert idle_wait([[0.0, 1.0], [0.0, 1.0], [1.0, 1.5]], 2)[2] == 0.0  # both busy: no idle wait
