"""Real ``litequeue beat`` and ``litequeue worker -B`` processes on one SQLite file: fires counted
per fire time in the store, several beats at once, a SIGKILLed beat, runtime changes."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import ROOT, ledger_counts, litequeue_command

ENTRY = "tick"


class BeatProcess:
    """A real ``litequeue beat`` subprocess with its log in a file."""

    def __init__(self, db: str, env: dict, log_path: Path, app: str = "tests.support.tasks") -> None:
        self.log_path = log_path
        self.log = open(log_path, "wb")
        cmd = litequeue_command() + ["beat", db, "-A", app, "-l", "info", "--max-interval", "0.2"]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_ready(self) -> None:
        wait_for(lambda: "beat: ready" in self.output() or self.proc.poll() is not None)
        assert "beat: ready" in self.output(), self.output()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


@pytest.fixture
def start_beat(worker_env, db, tmp_path):
    started: list[BeatProcess] = []

    def start(app: str = "tests.support.tasks", env: dict | None = None) -> BeatProcess:
        beat = BeatProcess(db, env or worker_env, tmp_path / f"beat{len(started)}.log", app)
        started.append(beat)
        return beat

    yield start
    for beat in started:
        beat.stop()


def wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def fires(app) -> list[float]:
    return [f.fire_time for f in app.store.fires(ENTRY)]


def jobs_per_fire_time(app) -> Counter:
    """How many jobs each fire time sent, from the jobs table joined to the fires."""
    by_task_id = {f.task_id: f.fire_time for f in app.store.fires(ENTRY)}
    jobs = app.store.list_jobs(task="tests.support.tasks.add", limit=10_000)
    assert {j.task_id for j in jobs} == set(by_task_id), "every job has its fire and every fire its job"
    return Counter(by_task_id[j.task_id] for j in jobs)


def assert_consecutive(times: list[float], step: float = 1.0) -> None:
    assert times == [times[0] + n * step for n in range(len(times))], times


def add_every_second(app, **fields) -> None:
    from litequeue.schedules import Schedule

    Schedule(app).add(ENTRY, "tests.support.tasks.add", 1.0, args=[1, 2], **fields)


def test_a_one_second_entry_sends_one_job_per_second_with_distinct_fire_times(app, start_beat):
    add_every_second(app)
    beat = start_beat()
    beat.wait_ready()
    wait_for(lambda: len(fires(app)) >= 6, timeout=30)
    beat.proc.send_signal(signal.SIGTERM)
    assert beat.proc.wait(30) == 0, beat.output()
    counts = jobs_per_fire_time(app)
    assert set(counts.values()) == {1}
    assert len(counts) >= 6
    assert_consecutive(sorted(counts))
    assert "beat: sending due task tick" in beat.output()


@pytest.mark.parametrize("beats", [2, 3])
def test_several_beats_send_each_fire_once_and_a_killed_one_leaves_no_gap(app, start_beat, beats):
    add_every_second(app)
    running = [start_beat() for _ in range(beats)]
    for beat in running:
        beat.wait_ready()
    wait_for(lambda: len(fires(app)) >= 3, timeout=30)
    running[0].proc.send_signal(signal.SIGKILL)
    killed_at = len(fires(app))
    wait_for(lambda: len(fires(app)) >= killed_at + 3, timeout=30)
    for beat in running[1:]:
        beat.proc.send_signal(signal.SIGTERM)
        assert beat.proc.wait(30) == 0, beat.output()
    counts = jobs_per_fire_time(app)
    assert max(counts.values()) == 1, "a fire time sent more than one job"
    assert_consecutive(sorted(counts))  # no gap where the killed beat stopped
    senders = [b for b in running if "beat: sending due task" in b.output()]
    assert len(senders) >= 1


def test_a_restarted_beat_sends_one_catch_up_job_for_its_downtime(app, start_beat):
    add_every_second(app, misfire="once", misfire_grace=0.5)
    first = start_beat()
    first.wait_ready()
    wait_for(lambda: len(fires(app)) >= 2, timeout=30)
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(10)
    before = fires(app)
    time.sleep(3.5)  # downtime: three or more fires are missed
    second = start_beat()
    second.wait_ready()
    wait_for(lambda: len(fires(app)) >= len(before) + 2, timeout=30)
    second.proc.send_signal(signal.SIGTERM)
    second.proc.wait(30)
    after = fires(app)[len(before):]
    catch_up, rest = after[0], after[1:]
    assert catch_up - before[-1] >= 3  # the missed fires in between were coalesced into this one
    assert_consecutive([catch_up] + rest)
    assert "missed" in second.output()


def test_runtime_add_pause_resume_remove_reach_a_running_beat(app, start_beat):
    from litequeue.schedules import Schedule

    beat = start_beat()
    beat.wait_ready()
    schedule = Schedule(app)
    add_every_second(app)
    wait_for(lambda: len(fires(app)) >= 2, timeout=30)
    schedule.pause(ENTRY)
    paused_at = len(fires(app))  # a pause is a compare-and-set guard: no fire can land after it
    time.sleep(2.5)
    assert len(fires(app)) == paused_at
    schedule.resume(ENTRY)
    wait_for(lambda: len(fires(app)) >= paused_at + 2, timeout=30)
    schedule.remove(ENTRY)
    sent = len(app.store.list_jobs(task="tests.support.tasks.add", limit=10_000))
    time.sleep(2.5)
    assert len(app.store.list_jobs(task="tests.support.tasks.add", limit=10_000)) == sent
    assert "beat: sending due task tick" in beat.output()


def test_beat_on_a_path_with_no_store_refuses_and_names_the_fixes(tmp_path, worker_env):
    fresh = tmp_path / "typo.sqlite"  # not the store the app names (LQ_TEST_DB): a typo, most likely
    proc = subprocess.run(litequeue_command() + ["beat", str(fresh), "-A", "tests.support.tasks"], cwd=ROOT,
                          env=worker_env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"No store at {fresh}" in proc.stderr and "--create" in proc.stderr
    assert not fresh.exists()


def test_worker_with_dash_b_runs_scheduled_jobs(app, start_worker, ledger):
    from litequeue.schedules import Schedule

    Schedule(app).add(ENTRY, "tests.support.tasks.record", 1.0, args=["scheduled"])
    worker = start_worker("-B", "-c", "1")
    wait_for(lambda: ledger_counts(ledger).get("scheduled", 0) >= 3, timeout=60)
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0, worker.output()
    fired = {f.task_id for f in app.store.fires(ENTRY)}
    jobs = app.store.list_jobs(task="tests.support.tasks.record", limit=10_000)
    assert {j.task_id for j in jobs} == fired
    assert ledger_counts(ledger)["scheduled"] == sum(j.state == "SUCCESS" for j in jobs)
    assert "beat: ready" in worker.output()


def test_beat_refuses_a_bad_entry_at_start_with_one_line_naming_it(start_beat, worker_env):
    env = dict(worker_env, LQ_BEAT_SCHEDULE=json.dumps({"broken": {"task": 5, "schedule": 10}}))
    beat = start_beat(app="tests.support.beat_app", env=env)
    assert beat.proc.wait(60) == 1
    out = beat.output()
    assert "beat_schedule entry 'broken', field 'task'" in out and "Traceback" not in out
