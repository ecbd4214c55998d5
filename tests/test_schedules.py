"""Beat in-process over a real SQLite file: crontab fields, time zones and DST, entries checked
and synced, misfire policies after a restart, runtime changes, and the one-job-per-fire rule.

Beat's loop takes ``now=``, so fire times here are exact, with no sleeping."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from litequeue import LiteQueue, crontab
from litequeue.beat import Beat
from litequeue.errors import ConfigurationError
from litequeue.schedules import Schedule, jobs_for
from litequeue.timetable import Timetable

BERLIN = ZoneInfo("Europe/Berlin")
T0 = 1_900_000_000.0  # a whole second, so interval fire times are T0 + n


@pytest.fixture
def beat_app(db: str) -> LiteQueue:
    app = LiteQueue(db)
    yield app
    app.close()


def fire_times(app: LiteQueue, name: str) -> list[float]:
    return [f.fire_time for f in app.store.fires(name)]


def jobs_of(app: LiteQueue, task: str) -> list:
    return app.store.list_jobs(task=task, limit=10_000)


def next_fires(schedule: crontab, start: dt.datetime, n: int, zone: str = "UTC") -> list[dt.datetime]:
    tz = ZoneInfo(zone)
    timetable = Timetable(json.dumps({"cron": schedule.fields()}), zone, start.timestamp())
    out, t = [], timetable.first(start.timestamp())
    for _ in range(n):
        out.append(dt.datetime.fromtimestamp(t, tz))
        t = timetable.after(t)
    return out


# -- crontab --------------------------------------------------------------------------------------

WEDNESDAY = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("sunday", [0, 7, "0", "7", "sun", "sunday", "SUN"])
def test_crontab_day_of_week_0_7_and_sun_all_mean_sunday(sunday):
    fires = next_fires(crontab(minute=0, hour=9, day_of_week=sunday), WEDNESDAY, 2)
    assert [f.strftime("%a %d %H:%M") for f in fires] == ["Sun 05 09:00", "Sun 12 09:00"]


def test_crontab_day_of_week_1_is_monday_and_names_like_mon_fri_work():
    assert next_fires(crontab(minute=30, hour=7, day_of_week=1), WEDNESDAY, 1)[0].strftime("%a %d") == "Mon 06"
    weekdays = next_fires(crontab(minute=0, hour=8, day_of_week="mon-fri"), WEDNESDAY, 5)
    assert [f.strftime("%a") for f in weekdays] == ["Thu", "Fri", "Mon", "Tue", "Wed"]
    assert crontab(day_of_week="mon-fri") == crontab(day_of_week="1-5") == crontab(day_of_week=[1, 2, 3, 4, 5])


def test_crontab_weekday_ranges_wrap_around_the_week_and_steps_count_from_sunday():
    assert crontab(day_of_week="fri-mon").values["day_of_week"] == {5, 6, 0, 1}
    assert crontab(day_of_week="*/2").values["day_of_week"] == {0, 2, 4, 6}  # sun, tue, thu, sat


def test_crontab_minutes_hours_days_and_months():
    fires = next_fires(crontab(minute="*/15", hour="9-10"), WEDNESDAY, 9)
    assert [f.strftime("%d %H:%M") for f in fires] == [
        "02 09:00", "02 09:15", "02 09:30", "02 09:45", "02 10:00", "02 10:15", "02 10:30", "02 10:45", "03 09:00"]
    monthly = next_fires(crontab(minute=0, hour=0, day_of_month=31, month_of_year="jan-dec"), WEDNESDAY, 3)
    assert [f.strftime("%m-%d") for f in monthly] == ["05-31", "07-31", "08-31"]  # months without a 31st skipped


def test_crontab_needs_day_of_month_and_day_of_week_both_to_match_as_celery_does():
    fires = next_fires(crontab(minute=0, hour=0, day_of_month=13, day_of_week="fri"), WEDNESDAY, 2)
    assert [f.strftime("%Y-%m-%d %a") for f in fires] == ["2024-09-13 Fri", "2024-12-13 Fri"]


def test_a_cron_line_reads_minute_hour_day_month_weekday():
    assert crontab.from_cron_line("30 7 * * 0") == crontab(minute=30, hour=7, day_of_week="sun")
    with pytest.raises(ConfigurationError, match="5 fields"):
        crontab.from_cron_line("* * *")


@pytest.mark.parametrize("field, value", [
    ("minute", 60), ("hour", "25"), ("day_of_week", 8), ("day_of_month", 0), ("month_of_year", 13),
    ("minute", "*/0"), ("minute", "10-5"), ("day_of_week", "someday"), ("hour", None), ("hour", True),
])
def test_a_bad_crontab_field_is_refused_naming_the_field(field, value):
    with pytest.raises(ConfigurationError, match=f"crontab {field}="):
        crontab(**{field: value})


# -- time zones and DST -----------------------------------------------------------------------------

def test_a_daily_entry_fires_once_on_each_day_of_a_dst_change_in_berlin():
    daily = crontab(minute=30, hour=2)  # 02:30 does not exist on 31 March and happens twice on 27 October
    spring = next_fires(daily, dt.datetime(2024, 3, 30, 12, tzinfo=BERLIN), 3, "Europe/Berlin")
    assert [f.strftime("%m-%d") for f in spring] == ["03-31", "04-01", "04-02"]
    autumn = next_fires(daily, dt.datetime(2024, 10, 26, 12, tzinfo=BERLIN), 3, "Europe/Berlin")
    assert [f.strftime("%m-%d %H:%M%z") for f in autumn] == ["10-27 02:30+0200", "10-28 02:30+0100", "10-29 02:30+0100"]


def test_an_hourly_entry_fires_every_real_hour_across_dst_changes():
    hourly = crontab(minute=30)
    for day, hours in ((dt.datetime(2024, 3, 31, tzinfo=BERLIN), 23), (dt.datetime(2024, 10, 27, tzinfo=BERLIN), 25)):
        fires = next_fires(hourly, day, hours + 1, "Europe/Berlin")
        assert [f.date() for f in fires[:hours]] == [day.date()] * hours and fires[hours].date() != day.date()
        gaps = {b.timestamp() - a.timestamp() for a, b in zip(fires, fires[1:], strict=False)}
        assert gaps == {3600.0}


def test_beat_schedules_crontabs_in_the_timezone_setting(beat_app):
    beat_app.conf.timezone = "Europe/Berlin"
    beat_app.conf.beat_schedule = {"report": {"task": "tasks.report", "schedule": crontab(minute=30, hour=7)}}
    Beat(beat_app).start(now=dt.datetime(2024, 5, 1, 12, tzinfo=BERLIN).timestamp())
    entry = Schedule(beat_app).get("report")
    assert entry.timezone == "Europe/Berlin"
    assert entry.next_fire == dt.datetime(2024, 5, 2, 7, 30, tzinfo=BERLIN)


def test_celery_3_setting_names_give_the_schedule_and_zone(beat_app):
    beat_app.conf.update(CELERYBEAT_SCHEDULE={"tick": {"task": "tasks.tick", "schedule": 10}},
                         CELERY_TIMEZONE="America/New_York")
    Beat(beat_app).start()
    assert [(e.name, e.timezone) for e in Schedule(beat_app).entries()] == [("tick", "America/New_York")]


def test_enable_utc_decides_the_zone_when_no_timezone_is_set(beat_app):
    from tzlocal import get_localzone_name

    beat_app.conf.beat_schedule = {"tick": {"task": "tasks.tick", "schedule": 10}}
    Beat(beat_app).start()
    assert Schedule(beat_app).get("tick").timezone == "UTC"
    beat_app.conf.enable_utc = False
    beat_app.conf.beat_schedule = {"tick2": {"task": "tasks.tick", "schedule": 10}}
    Beat(beat_app).start()
    assert Schedule(beat_app).get("tick2").timezone == (get_localzone_name() or "UTC")


def test_an_unknown_timezone_is_refused_at_beat_start(beat_app):
    beat_app.conf.timezone = "Europe/Berln"
    beat_app.conf.beat_schedule = {"tick": {"task": "tasks.tick", "schedule": 10}}
    with pytest.raises(ConfigurationError, match="timezone.*Europe/Berln"):
        Beat(beat_app).start()


# -- entries checked at beat start -------------------------------------------------------------------

@pytest.mark.parametrize("entry, field", [
    ({"task": "t", "schedule": "every minute"}, "schedule"),
    ({"task": "t", "schedule": -5}, "schedule"),
    ({"task": 42, "schedule": 10}, "task"),
    ({"schedule": 10}, "task"),
    ({"task": "t"}, "schedule"),
    ({"task": "t", "schedule": 10, "options": {"priority": "high"}}, "options"),
    ({"task": "t", "schedule": 10, "options": {"countdown": -1}}, "options"),
    ({"task": "t", "schedule": 10, "options": {"bogus": 1}}, "options"),
    ({"task": "t", "schedule": 10, "options": {"task_id": "fixed"}}, "options"),
    ({"task": "t", "schedule": 10, "args": "1, 2"}, "args"),
    ({"task": "t", "schedule": 10, "kwargs": {1: 2}}, "kwargs"),
    ({"task": "t", "schedule": 10, "misfire": "sometimes"}, "misfire"),
    ({"task": "t", "schedule": 10, "misfire_grace": -1}, "misfire_grace"),
    ({"task": "t", "schedule": 10, "misfire_limit": 0}, "misfire_limit"),
    ({"task": "t", "schedule": 10, "every": 5}, "every"),
])
def test_a_bad_entry_is_refused_at_beat_start_naming_the_entry_and_field(beat_app, entry, field):
    beat_app.conf.beat_schedule = {"good": {"task": "t", "schedule": 10}, "broken": entry}
    with pytest.raises(ConfigurationError, match=f"entry 'broken', field '{field}'"):
        Beat(beat_app).start()
    assert beat_app.store.schedules() == []  # nothing half-synced


def test_entry_options_take_apply_async_options(beat_app):
    beat_app.conf.beat_schedule = {"report": {
        "task": "tasks.report", "schedule": 1.0, "args": (16, 16), "kwargs": {"fmt": "pdf"},
        "options": {"queue": "web_tasks", "priority": 7, "expires": 600, "countdown": 30}}}
    beat = Beat(beat_app)
    beat.start(now=T0)
    beat.tick(now=T0 + 1.01)
    [job] = jobs_of(beat_app, "tasks.report")
    assert (job.queue, job.priority) == ("web_tasks", 7)
    assert job.expires is not None and job.eta is not None and job.eta < job.expires


# -- firing, sync, restarts ------------------------------------------------------------------------------

def every_second(beat_app: LiteQueue, **fields) -> Beat:
    beat_app.conf.beat_schedule = {"tick": {"task": "tasks.tick", "schedule": 1.0, **fields}}
    beat = Beat(beat_app)
    beat.start(now=T0)
    return beat


def test_an_interval_entry_fires_once_per_interval_with_distinct_fire_times(beat_app):
    beat = every_second(beat_app)
    for step in range(1, 41):
        beat.tick(now=T0 + step * 0.25 + 0.01)  # four looks per second
    assert fire_times(beat_app, "tick") == [T0 + n for n in range(1, 11)]
    assert len(jobs_of(beat_app, "tasks.tick")) == 10
    entry = Schedule(beat_app).get("tick")
    assert (entry.runs, entry.last_fire.timestamp(), entry.next_fire.timestamp()) == (10, T0 + 10, T0 + 11)


def test_each_fire_is_sent_once_however_many_beats_look_at_it(beat_app, db):
    beat = every_second(beat_app)
    others = [LiteQueue(db) for _ in range(2)]  # separate connections, as other beats have
    try:
        beats = [beat] + [Beat(app) for app in others]
        for step in range(1, 6):
            for b in beats:
                b.tick(now=T0 + step + 0.01)
    finally:
        for app in others:
            app.close()
    assert fire_times(beat_app, "tick") == [T0 + n for n in range(1, 6)]
    assert len(jobs_of(beat_app, "tasks.tick")) == 5


def test_a_fire_already_recorded_sends_no_second_job(beat_app):
    every_second(beat_app)
    row = beat_app.store.schedule("tick")
    assert beat_app.store.fire(row, T0 + 1, T0 + 2, jobs_for(beat_app, row)) is not None
    assert beat_app.store.fire(row, T0 + 1, T0 + 2, jobs_for(beat_app, row)) is None  # stale: next fire moved on
    fresh = beat_app.store.schedule("tick")
    assert beat_app.store.fire(fresh, T0 + 1, T0 + 3, jobs_for(beat_app, fresh)) is None  # same key again
    assert len(jobs_of(beat_app, "tasks.tick")) == 1
    assert beat_app.store.schedule("tick").next_fire == T0 + 3


def restart_after_downtime(beat_app: LiteQueue, now: float, **fields) -> list[float]:
    """Fire once at T0+1, 'stop' beat, start a new one at ``now`` and let it tick once."""
    every_second(beat_app, **fields).tick(now=T0 + 1.01)
    restarted = Beat(beat_app)
    restarted.start(now=now)
    restarted.tick(now=now)
    return fire_times(beat_app, "tick")


def test_misfire_once_sends_one_catch_up_job_after_downtime(beat_app):
    assert restart_after_downtime(beat_app, T0 + 10.7, misfire_grace=0.5) == [T0 + 1, T0 + 10]
    assert Schedule(beat_app).get("tick").next_fire.timestamp() == T0 + 11


def test_misfire_skip_sends_nothing_for_the_downtime(beat_app):
    assert restart_after_downtime(beat_app, T0 + 10.7, misfire="skip", misfire_grace=0.5) == [T0 + 1]
    assert Schedule(beat_app).get("tick").next_fire.timestamp() == T0 + 11


def test_misfire_all_sends_the_latest_missed_fires_up_to_the_limit(beat_app):
    fires = restart_after_downtime(beat_app, T0 + 10.7, misfire="all", misfire_limit=3, misfire_grace=0.5)
    assert fires == [T0 + 1, T0 + 8, T0 + 9, T0 + 10]
    assert len(jobs_of(beat_app, "tasks.tick")) == 4


def test_fires_within_misfire_grace_are_on_time_and_all_run(beat_app):
    fires = restart_after_downtime(beat_app, T0 + 10.7, misfire="skip", misfire_grace=3)
    assert fires == [T0 + 1, T0 + 8, T0 + 9, T0 + 10]


def test_a_long_outage_is_caught_up_without_walking_every_missed_fire(beat_app):
    year = 365 * 86400
    fires = restart_after_downtime(beat_app, T0 + year + 0.7, misfire="all", misfire_limit=2, misfire_grace=0.5)
    assert fires == [T0 + year - 1, T0 + year]  # (fires are kept for a day: T0 + 1 is forgotten)
    assert len(jobs_of(beat_app, "tasks.tick")) == 3


def test_a_restart_keeps_each_entrys_state_and_neither_repeats_nor_forgets_a_fire(beat_app):
    beat = every_second(beat_app)
    beat.tick(now=T0 + 2.01)
    again = Beat(beat_app)
    assert again.start(now=T0 + 2.5).changed == ()
    again.tick(now=T0 + 3.01)
    assert fire_times(beat_app, "tick") == [T0 + 1, T0 + 2, T0 + 3]
    assert Schedule(beat_app).get("tick").runs == 3


def test_sync_adds_changes_and_removes_code_entries_and_keeps_runtime_ones(beat_app):
    beat_app.conf.beat_schedule = {"a": {"task": "t.a", "schedule": 10}, "b": {"task": "t.b", "schedule": 10}}
    Beat(beat_app).start(now=T0)
    Schedule(beat_app).add("runtime", "t.r", 30)
    beat_app.conf.beat_schedule = {"a": {"task": "t.a", "schedule": 10, "args": [1]},
                                   "c": {"task": "t.c", "schedule": crontab(minute=0)}}
    report = Beat(beat_app).start(now=T0 + 5)
    assert (report.added, report.changed, report.removed) == (("c",), ("a",), ("b",))
    entries = {e.name: e for e in Schedule(beat_app).entries()}
    assert sorted(entries) == ["a", "c", "runtime"]
    assert entries["a"].args == (1,) and entries["a"].next_fire.timestamp() == T0 + 10  # same timetable kept


def test_changing_an_entrys_schedule_starts_its_timetable_afresh(beat_app):
    beat_app.conf.beat_schedule = {"a": {"task": "t.a", "schedule": 10}}
    Beat(beat_app).start(now=T0)
    beat_app.conf.beat_schedule = {"a": {"task": "t.a", "schedule": 60}}
    Beat(beat_app).start(now=T0 + 5)
    assert Schedule(beat_app).get("a").next_fire.timestamp() == T0 + 65


def test_a_one_off_datetime_entry_fires_once_and_then_is_done(beat_app):
    at = dt.datetime.fromtimestamp(T0 + 3, dt.UTC)
    beat_app.conf.beat_schedule = {"once": {"task": "t.once", "schedule": at}}
    beat = Beat(beat_app)
    beat.start(now=T0)
    for step in range(1, 8):
        beat.tick(now=T0 + step)
    Beat(beat_app).start(now=T0 + 9)  # a restart does not send it again
    Beat(beat_app).tick(now=T0 + 10)
    assert fire_times(beat_app, "once") == [T0 + 3]
    assert Schedule(beat_app).get("once").next_fire is None


def test_relative_intervals_are_aligned_to_their_unit(beat_app):
    start = dt.datetime(2024, 5, 1, 10, 17, 42, tzinfo=dt.UTC).timestamp()
    beat_app.conf.beat_schedule = {"hourly": {"task": "t.h", "schedule": dt.timedelta(hours=1), "relative": True}}
    Beat(beat_app).start(now=start)
    assert Schedule(beat_app).get("hourly").next_fire == dt.datetime(2024, 5, 1, 11, 0, tzinfo=dt.UTC)


# -- runtime changes -----------------------------------------------------------------------------------

def test_runtime_add_pause_resume_and_remove_are_seen_by_a_running_beat(beat_app):
    beat = Beat(beat_app)
    beat.start()
    schedule = Schedule(beat_app)
    entry = schedule.add("ping", "tasks.ping", 1.0, args=[1])
    first = entry.next_fire.timestamp()
    beat.tick(now=first + 0.01)
    assert len(jobs_of(beat_app, "tasks.ping")) == 1
    schedule.pause("ping")
    beat.tick(now=first + 5.01)
    assert len(jobs_of(beat_app, "tasks.ping")) == 1
    resumed = schedule.resume("ping").next_fire.timestamp()
    beat.tick(now=resumed + 0.01)
    assert len(jobs_of(beat_app, "tasks.ping")) == 2
    schedule.remove("ping")
    beat.tick(now=resumed + 5.01)
    assert len(jobs_of(beat_app, "tasks.ping")) == 2 and schedule.entries() == []


def test_runtime_changes_to_code_entries_are_refused_where_they_would_not_last(beat_app):
    beat_app.conf.beat_schedule = {"a": {"task": "t.a", "schedule": 10}}
    Beat(beat_app).start()
    schedule = Schedule(beat_app)
    with pytest.raises(ConfigurationError, match="defined in code"):
        schedule.remove("a")
    with pytest.raises(ConfigurationError, match="defined in code"):
        schedule.add("a", "t.b", 5, replace=True)
    assert schedule.pause("a").paused
    with pytest.raises(ConfigurationError, match="No schedule entry named 'nope'"):
        schedule.pause("nope")
    schedule.add("r", "t.r", 5)
    with pytest.raises(ConfigurationError, match="exists already"):
        schedule.add("r", "t.r", 6)
    assert schedule.add("r", "t.r", 6, replace=True).schedule == dt.timedelta(seconds=6)


def test_beat_run_in_the_main_thread_stops_on_sigint_and_gives_the_programs_handlers_back(beat_app):
    """A program that runs beat in its main thread (``Beat(app).run()``) gets SIGINT and SIGTERM
    back as they were once beat has stopped: its own Ctrl-C handling works again afterwards."""
    import os
    import signal
    import threading

    from litequeue.beat import Beat

    def mine(signum, frame):
        pass

    before = {signum: signal.signal(signum, mine) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        beat = Beat(beat_app)
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
        assert beat.run() == 0  # stopped by the signal, not by KeyboardInterrupt
        assert signal.getsignal(signal.SIGINT) is mine and signal.getsignal(signal.SIGTERM) is mine
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
