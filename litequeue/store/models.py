"""The tables. ``lq_jobs`` holds a job from enqueue to result; see DESIGN.md for why one table."""

from __future__ import annotations

from types import SimpleNamespace

import peewee as pw

TABLE_PREFIX = "lq_"


def _table_name(model: type) -> str:
    """A model's table: ``lq_`` and the class's name in lower case (Jobs: lq_jobs)."""
    return TABLE_PREFIX + model.__name__.lower()


def bind_models(db: pw.Database) -> SimpleNamespace:
    """Model classes bound to ``db`` (a store may be one of several in a process)."""

    class Base(pw.Model):
        class Meta:
            database = db
            legacy_table_names = False
            table_function = _table_name

    class Jobs(Base):
        id = pw.AutoField()
        task_id = pw.CharField(max_length=255, unique=True)
        task = pw.CharField(max_length=255)
        queue = pw.CharField(max_length=255)
        routing_key = pw.CharField(max_length=255)
        priority = pw.IntegerField(default=0)
        state = pw.CharField(max_length=16)
        body = pw.BlobField(null=True)
        content_type = pw.CharField(max_length=64)
        eta = pw.DoubleField(null=True)  # when the job asked to run (epoch seconds)
        wait_until = pw.DoubleField(null=True)  # not claimable before this; NULL once due
        due_at = pw.DoubleField()  # when it became due (its eta, or when sent): the claim's order
        expires = pw.DoubleField(null=True)
        created_at = pw.DoubleField()
        started_at = pw.DoubleField(null=True)
        done_at = pw.DoubleField(null=True)
        attempts = pw.IntegerField(default=0)  # counted at claim
        max_retries = pw.IntegerField(null=True)
        acks_late = pw.BooleanField(default=True)
        ignore_result = pw.BooleanField(default=False)
        durable = pw.BooleanField(default=True)
        worker = pw.CharField(max_length=255, null=True)
        lease_owner = pw.CharField(max_length=255, null=True)
        lease_until = pw.DoubleField(null=True)
        revoke_requested = pw.BooleanField(default=False, constraints=[pw.SQL("DEFAULT FALSE")])
        revoke_terminate = pw.BooleanField(default=False, constraints=[pw.SQL("DEFAULT FALSE")])  # kill it
        # revoked while it waited: a worker of its queue is to send task_revoked (remote_control.py)
        revoke_notice = pw.BooleanField(default=False, constraints=[pw.SQL("DEFAULT FALSE")])
        result = pw.BlobField(null=True)
        result_type = pw.CharField(max_length=64, null=True)
        exc_type = pw.CharField(max_length=255, null=True)
        exc_message = pw.TextField(null=True)
        traceback = pw.TextField(null=True)
        custom_state = pw.CharField(max_length=64, null=True)  # set by update_state, e.g. PROGRESS
        meta = pw.BlobField(null=True)  # update_state's meta, in result_type's encoding
        history = pw.TextField(null=True)  # JSON list, one entry per failed attempt
        options = pw.TextField(null=True)  # JSON dict of rarely used per-call options
        # Flow control (store/flow.py): all NULL for a job no limit or uniqueness applies to.
        unique_key = pw.CharField(max_length=255, null=True)  # unique while it counts (see UNIQUE_COUNTS)
        unique_until = pw.DoubleField(null=True)  # the end of its uniqueness window
        flow_key = pw.CharField(max_length=255, null=True)  # its concurrency key ("task\x1fvalue")
        granted_at = pw.DoubleField(null=True)  # the start a rate limit granted this attempt (store/rate_buckets.py)
        # Workflows (store/groups.py): NULL for a job whose result belongs to no group.
        group_id = pw.CharField(max_length=255, null=True)  # the group whose result it is part of
        group_index = pw.IntegerField(null=True)  # its place in that group
        parent_id = pw.CharField(max_length=255, null=True)  # the job (or chord's group) that started it

    class Workers(Base):
        name = pw.CharField(max_length=255, primary_key=True)
        hostname = pw.CharField(max_length=255)
        pid = pw.IntegerField()
        concurrency = pw.IntegerField()
        queues = pw.TextField()
        started_at = pw.DoubleField()
        heartbeat_at = pw.DoubleField()
        processed = pw.IntegerField(default=0)
        stopped_at = pw.DoubleField(null=True)
        conf = pw.TextField(null=True)  # the settings it runs with, as JSON (inspect conf)

    class Meta(Base):
        key = pw.CharField(max_length=64, primary_key=True)
        value = pw.TextField()

    class Schedules(Base):
        """One beat entry and its state (what fired last, what fires next)."""

        name = pw.CharField(max_length=255, primary_key=True)
        task = pw.CharField(max_length=255)
        schedule = pw.TextField()  # JSON: {"every": s} / {"cron": {...}} / {"at": epoch}
        message = pw.BlobField()  # args, kwargs and options, JSON-encoded above the store
        misfire = pw.CharField(max_length=8)
        misfire_grace = pw.DoubleField()
        misfire_limit = pw.IntegerField()
        timezone = pw.CharField(max_length=64)
        origin = pw.CharField(max_length=8)  # "code" (beat_schedule) or "runtime" (CLI / API)
        start_at = pw.DoubleField()  # no fire before this (epoch seconds)
        next_fire = pw.DoubleField(null=True)  # NULL: nothing left to fire (a one-off that ran)
        last_fire = pw.DoubleField(null=True)
        runs = pw.IntegerField(default=0)
        paused = pw.BooleanField(default=False)
        created_at = pw.DoubleField()
        updated_at = pw.DoubleField()

    class Fires(Base):
        """One fire of an entry; unique per (entry, fire time), written with its job."""

        id = pw.AutoField()
        entry = pw.CharField(max_length=255)
        fire_time = pw.DoubleField()  # the scheduled time (epoch seconds), not when it was sent
        task_id = pw.CharField(max_length=255)
        fired_at = pw.DoubleField()

        class Meta:
            indexes = ((("entry", "fire_time"), True),)

    class Limits(Base):
        """One rate or concurrency limit of a task or a queue, and its rate limiter's state."""

        name = pw.CharField(max_length=255, primary_key=True)  # "task:<name>" or "queue:<name>"
        rate = pw.CharField(max_length=32, null=True)  # as declared in code, e.g. "10/m"
        rate_override = pw.CharField(max_length=32, null=True)  # set at run time (control rate-limit)
        spacing = pw.DoubleField(null=True)  # seconds between two starts, under the rate in force
        next_at = pw.DoubleField(null=True)  # no start before this (the rate limiter's state)
        concurrency = pw.IntegerField(null=True)  # at most this many running at once
        updated_at = pw.DoubleField()

    class Groups(Base):
        """A group of jobs (Celery's GroupResult) and, for a chord, its join: the counter the
        members' outcomes move and the callback the last one enqueues."""

        id = pw.CharField(max_length=255, primary_key=True)
        size = pw.IntegerField()
        done = pw.IntegerField(default=0)  # chord members over (moved in their outcome's transaction)
        state = pw.CharField(max_length=16)  # OPEN; a chord then FIRED (callback sent) or FAILED
        members = pw.TextField()  # JSON list of the member task ids, in order
        callback = pw.TextField(null=True)  # a chord's callback (JSON written above the store)
        failed_member = pw.CharField(max_length=255, null=True)
        created_at = pw.DoubleField()
        done_at = pw.DoubleField(null=True)

    class Chains(Base):
        """A chain's steps, stored once (not copied into every step's job)."""

        id = pw.CharField(max_length=255, primary_key=True)
        size = pw.IntegerField()
        steps = pw.TextField()  # JSON list of the steps' signatures (written above the store)
        revoked = pw.BooleanField(default=False, constraints=[pw.SQL("DEFAULT FALSE")])  # send no more steps
        created_at = pw.DoubleField()

    return SimpleNamespace(Jobs=Jobs, Workers=Workers, Meta=Meta, all=[Jobs, Workers, Meta],
                           Schedules=Schedules, Fires=Fires, beat=[Schedules, Fires], Limits=Limits,
                           Groups=Groups, Chains=Chains)


# Partial indexes: the claim walks the first in order and never sorts.
# The predicate is repeated verbatim in the claim statements so the planner can use them.
CLAIMABLE = "state IN ('QUEUED', 'RETRY') AND wait_until IS NULL"
# The jobs a worker holds (reserved, then started), by lease expiry: what rescue_expired walks.
LEASES_INDEX = ("CREATE INDEX IF NOT EXISTS lq_jobs_leases ON lq_jobs (lease_until) "
                "WHERE state IN ('RESERVED', 'STARTED')")
INDEXES = [
    f"CREATE INDEX IF NOT EXISTS lq_jobs_claim_queue ON lq_jobs (queue, priority DESC, due_at, id) WHERE {CLAIMABLE}",
    "CREATE INDEX IF NOT EXISTS lq_jobs_waiting ON lq_jobs (wait_until) WHERE wait_until IS NOT NULL",
    LEASES_INDEX,
    "CREATE INDEX IF NOT EXISTS lq_jobs_done ON lq_jobs (done_at) WHERE done_at IS NOT NULL",
]
# Flow control's indexes: only jobs with a unique key or a concurrency key are in them, so a store
# that uses neither pays nothing for them.
FLOW_INDEXES = [
    "CREATE UNIQUE INDEX IF NOT EXISTS lq_jobs_unique ON lq_jobs (unique_key) WHERE unique_key IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS lq_jobs_flow_running ON lq_jobs (flow_key) "
    "WHERE state IN ('RESERVED', 'STARTED') AND flow_key IS NOT NULL",
]
# Pages of these states walk them by id; counting them per queue reads the index alone.
MONITOR_INDEXES = [
    f"CREATE INDEX IF NOT EXISTS {name} ON lq_jobs (id, queue) WHERE state = '{state}'"
    for state, name in (("FAILURE", "lq_jobs_failed"), ("REVOKED", "lq_jobs_revoked"), ("RETRY", "lq_jobs_retrying"))
]
# What status counts per queue, each from an index alone: jobs waiting for an eta or a retry delay
# (only those rows: a store with none pays nothing), and finished jobs by queue and time.
STATS_INDEXES = [
    "CREATE INDEX IF NOT EXISTS lq_jobs_waiting_queue ON lq_jobs (queue, state) WHERE wait_until IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS lq_jobs_done_queue ON lq_jobs (queue, done_at) WHERE done_at IS NOT NULL",
]
# A job's children (AsyncResult.children): only jobs another job started are in it.
PARENT_INDEX = "CREATE INDEX IF NOT EXISTS lq_jobs_parent ON lq_jobs (parent_id, id) WHERE parent_id IS NOT NULL"
GROUP_INDEX = ("CREATE INDEX IF NOT EXISTS lq_jobs_group ON lq_jobs (group_id, group_index) "
               "WHERE group_id IS NOT NULL")
# Jobs revoked while they waited whose task_revoked no worker has sent yet (usually none).
REVOKE_NOTICES_INDEX = ("CREATE INDEX IF NOT EXISTS lq_jobs_revoke_notices ON lq_jobs (queue, id) "
                        "WHERE revoke_notice")
