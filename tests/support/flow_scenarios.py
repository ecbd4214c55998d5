"""Flow-control scenarios with real worker processes, run by the SQLite and PostgreSQL tiers.

Every task run records its own start and end time (tests.support.flow_tasks.record_span): the
concurrency checks read those (a run is inside the time its job held its slot, so runs that
overlap held slots together). A rate limit's guarantee is about the starts the store grants,
which it keeps (``Job.granted_at``); the task-side clock is checked beside them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from litequeue import states
from tests.conftest import ROOT, ledger_counts
from tests.support.observe import wait_until

FLOW_APP = ("-A", "tests.support.flow_tasks")


def spans(ledger: Path, prefix: str) -> list[tuple[float, float]]:
    """(start, end) of every recorded run whose key starts with ``prefix``, by start."""
    found = []
    for name in os.listdir(ledger):
        if name.startswith(prefix) and not name.rsplit(".", 1)[0].endswith("-start"):
            text = (ledger / name).read_text().split()
            if len(text) == 3:
                found.append((float(text[0]), float(text[1])))
    return sorted(found)


def most_in_window(starts: list[float], period: float) -> int:
    """The most starts in any half-open window [t, t + period)."""
    starts = sorted(starts)
    best, j = 0, 0
    for i, start in enumerate(starts):
        while starts[j] <= start - period:
            j += 1
        best = max(best, i - j + 1)
    return best


def most_at_once(runs: list[tuple[float, float]]) -> int:
    """The most runs in progress at any instant."""
    events = sorted([(s, 1) for s, _ in runs] + [(e, -1) for _, e in runs], key=lambda ev: (ev[0], ev[1]))
    best = now = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


def two_workers(start_worker: Callable[..., Any]) -> list[Any]:
    workers = [start_worker(*FLOW_APP, "-c", "3", "-n", f"flow{i}") for i in range(2)]
    for w in workers:
        w.wait_for_log("ready")
    return workers


def stop(workers: list[Any]) -> None:
    for w in workers:
        w.signal(signal.SIGTERM)
    for w in workers:
        assert w.wait() == 0, w.output()


def rate_is_never_exceeded(ledger: Path, start_worker: Callable[..., Any]) -> None:
    """25 jobs of a "10/s" task across two workers of three children: the starts the store granted
    (the rate limit's guarantee) never number more than 10 in any one-second window, and each run
    began at or after its grant. Jobs sent after a held-back job run meanwhile.

    Nothing here depends on the scheduler: grants are the store's own record, and a run that
    began late (a busy machine) moves the task-side check's window, not its outcome."""
    from tests.support.flow_tasks import hourly, rated, span

    sent = [rated.delay(f"rated-{i}") for i in range(25)]
    held = [hourly.delay(f"hourly-{i}") for i in range(2)]  # "1/h": the second waits an hour
    free = [span.delay(f"free-{i}", 0.0) for i in range(12)]
    workers = two_workers(start_worker)
    try:
        wait_until(lambda: len(spans(ledger, "")) == 25 + 1 + 12, timeout=60, what="38 runs")
    except AssertionError as timed_out:
        waiting = [(r.job.task, r.job_state, r.job.granted_at) for r in [*sent, *held, *free] if not r.ready()]
        logs = "\n".join(w.output()[-3000:] for w in workers)
        raise AssertionError(f"{timed_out}: not over: {waiting}\n{logs}") from None
    stop(workers)
    grants = [result.job.granted_at for result in sent]
    assert None not in grants
    assert most_in_window(grants, 1.0) <= 10, sorted(grants)
    assert max(grants) - min(grants) >= 24 * 0.1  # 25 starts, 0.1 s apart at the least
    runs = [spans(ledger, f"rated-{i}.") for i in range(25)]
    assert all(len(r) == 1 for r in runs), runs  # each ran once
    late = [run[0][0] - grant for run, grant in zip(runs, grants, strict=True)]
    assert min(late) >= -1e-3, late  # no run began before the start granted to it
    # On the tasks' own clock: a run begins up to max(late) after its grant, so the limit holds
    # for any window that much shorter than the period (the check is as strict as the machine
    # was quick, and never depends on it).
    if max(late) < 1.0:
        assert most_in_window([run[0][0] for run in runs], 1.0 - max(late)) <= 10
    assert [r.job_state for r in held] == [states.SUCCESS, states.QUEUED]
    assert held[1].job.attempts == 0  # held back: not an attempt
    assert all(r.job_state == states.SUCCESS for r in free)  # sent after it, they passed it


def late_child_gets_its_start_back(flow_app: Any, ledger: Path, start_worker: Callable[..., Any]) -> None:
    """A child stopped (SIGSTOP) while its worker claimed a "1/h" job reaches the job long after
    the start granted to it: it hands the job back unrun, the store gives the start back, and the
    job runs within moments, once (not an hour later)."""
    from tests.support.flow_tasks import hourly
    from tests.support.observe import child_pids

    worker = start_worker(*FLOW_APP, "-c", "1", "-n", "late")
    worker.wait_for_log("ready")
    [child] = child_pids(worker.pid)
    os.kill(child, signal.SIGSTOP)
    try:
        sent = hourly.delay("hourly-late")
        wait_until(lambda: sent.job.granted_at is not None, timeout=30, what="the job to be granted its start")
        time.sleep(0.3)  # past the start granted and its tolerance
    finally:
        os.kill(child, signal.SIGCONT)
    assert sent.get(timeout=30) is None
    assert sent.job.attempts == 1 and len(spans(ledger, "hourly-late")) == 1
    worker.wait_for_log("handed back unrun: reached")  # it was handed back once
    stop([worker])


def concurrency_is_never_exceeded(ledger: Path, start_worker: Callable[..., Any], worker_env: dict) -> None:
    """Per key (one at a time per account, accounts side by side), per task (two at a time) and
    per queue (reports: two at a time), across two workers of three children.

    The first jobs of two accounts, the first two of the two-at-a-time task and the first two
    reports each meet their partner (each waits until the other has begun): they run together
    whatever the scheduler does, so "side by side" and "two at a time" are shown, not hoped for."""
    from tests.support.flow_tasks import per_account, span, two_at_a_time

    worker_env["LQ_FLOW_QUEUES"] = "reports=2"
    for i in range(4):
        first = i == 0
        for account in ("a", "b", "c"):
            pair = {"a": ("acct-a", "acct-b"), "b": ("acct-b", "acct-a")}.get(account) if first else None
            per_account.delay(account, 0.3, pair)
        two_at_a_time.delay(f"two-{i}", 0.3, ("two-0", "two-4") if first else None)
        two_at_a_time.delay(f"two-{i + 4}", 0.3, ("two-4", "two-0") if first else None)
        span.apply_async((f"report-{i}", 0.3, ("report-0", "report-4") if first else None), queue="reports")
        span.apply_async((f"report-{i + 4}", 0.3, ("report-4", "report-0") if first else None), queue="reports")
    workers = two_workers(start_worker)
    wait_until(lambda: len(spans(ledger, "")) == 28, timeout=90, what="28 runs")
    stop(workers)
    accounts = {account: spans(ledger, f"acct-{account}.") for account in "abc"}
    assert all(len(runs) == 4 and most_at_once(runs) == 1 for runs in accounts.values()), accounts
    assert most_at_once(accounts["a"] + accounts["b"]) == 2, "keys never ran side by side"
    assert most_at_once(spans(ledger, "two-")) == 2
    assert most_at_once(spans(ledger, "report-")) == 2


def racing_producers_make_one_job(app: Any, db: str, tmp_path: Path, worker_env: dict) -> None:
    """8 producer processes send the same unique job at the same moment: one job, one id."""
    app.store  # noqa: B018 - the store exists before the producers start, as in an application
    go = tmp_path / "go"
    code = (
        "import os, sys, time\n"
        "from tests.support.flow_tasks import app, refresh\n"
        f"app.url = {db!r}\n"
        "refresh.app.store  # opened before the start line, so the sends race\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.001)\n"
        "print(refresh.delay('shared').id)\n"
    )
    producers = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=worker_env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(8)]
    time.sleep(0.5)  # not a synchronisation: only lets the producers reach the start line together
    go.touch()
    finished = [(p.communicate(timeout=60), p.returncode) for p in producers]  # every pipe read and closed
    assert all(code == 0 for _, code in finished), [err for (_, err), code in finished if code]
    ids = [out.strip() for (out, _), _ in finished]
    assert len(set(ids)) == 1, ids
    assert app.store.count_jobs() == 1 and app.store.get(ids[0]) is not None


def killed_workers_slot_comes_back_at_rescue(app: Any, ledger: Path, start_worker: Callable[..., Any]) -> None:
    """The worker running a key's only slot is SIGKILLed: the key's next job waits until the lease
    is rescued; then the killed job runs again first, and the next after it."""
    from tests.support.flow_tasks import keyed_slow

    first = keyed_slow.delay("acct", 1.0)
    second = keyed_slow.delay("acct", 0.0)
    doomed = start_worker(*FLOW_APP, "-c", "1", "-n", "doomed")
    wait_until(lambda: ledger_counts(ledger).get("acct-start", 0) == 1, what="the first job to start")
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait()
    killed_at = time.time()
    survivor = start_worker(*FLOW_APP, "-c", "2", "-n", "survivor")
    assert first.get(timeout=60) is None and second.get(timeout=60) is None
    runs = spans(ledger, "acct.")
    assert len(runs) == 2 and ledger_counts(ledger)["acct-start"] == 3  # the first ran twice, once to its end
    (rerun_start, rerun_end), (second_start, _) = runs
    assert second_start >= rerun_end and rerun_start >= killed_at  # one at a time, first in line first
    assert app.store.get(first.id).attempts == 2 and app.store.get(second.id).attempts == 1
    assert app.store.get(first.id).state == states.SUCCESS
    stop([survivor])


def annotated_rates_hold(ledger: Path, start_worker: Callable[..., Any]) -> None:
    """Rate limits set by ``task_annotations`` only, and one overriding the decorator's, hold across
    two workers as ``rate_limit=`` does; a decorator's rate no annotation names stays in force."""
    from tests.support.flow_annotated import by_annotation, kept, overridden

    by_annotation_sent = [by_annotation.delay(f"by-annotation-{i}") for i in range(12)]
    overridden_sent = [overridden.delay(f"overridden-{i}") for i in range(12)]
    kept_sent = [kept.delay(f"kept-{i}") for i in range(2)]
    workers = [start_worker("-A", "tests.support.flow_annotated", "-c", "3", "-n", f"annotated{i}") for i in range(2)]
    wait_until(lambda: len(spans(ledger, "")) == 12 + 12 + 1, timeout=60, what="25 runs")
    stop(workers)
    for sent in (by_annotation_sent, overridden_sent):
        grants = [result.job.granted_at for result in sent]
        assert None not in grants and all(r.job_state == states.SUCCESS for r in sent)
        assert most_in_window(grants, 1.0) <= 10, sorted(grants)
        assert max(grants) - min(grants) >= 11 * 0.1  # 12 starts, 0.1 s apart at the least
    assert [r.job_state for r in kept_sent] == [states.SUCCESS, states.QUEUED]  # 1/h: the second waits
