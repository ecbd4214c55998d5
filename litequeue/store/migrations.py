"""Schema version and ordered upgrades. A store written by a newer litequeue is refused."""

from __future__ import annotations

from collections.abc import Callable

import peewee as pw

from .models import (
    FLOW_INDEXES,
    GROUP_INDEX,
    INDEXES,
    LEASES_INDEX,
    MONITOR_INDEXES,
    PARENT_INDEX,
    REVOKE_NOTICES_INDEX,
    STATS_INDEXES,
)

SCHEMA_VERSION = 12
CLAIM_INDEXES = ("lq_jobs_claim_queue", "lq_jobs_claim_any")


def _v1(db: pw.Database, models) -> None:
    db.create_tables(models.all, safe=True)
    for statement in INDEXES:
        db.execute_sql(statement)


def _v2(db: pw.Database, models) -> None:
    """Beat's tables: schedule entries and their fires."""
    db.create_tables(models.beat, safe=True)


def _v3(db: pw.Database, models) -> None:
    """Claims order by when a job became due (its eta, or when it was sent): a due_at column,
    filled in for the jobs already there, and the claim indexes rebuilt to walk it."""
    if "due_at" not in {c.name for c in db.get_columns("lq_jobs")}:
        db.execute_sql("ALTER TABLE lq_jobs ADD COLUMN due_at DOUBLE PRECISION")
        db.execute_sql("UPDATE lq_jobs SET due_at = COALESCE(eta, created_at)")
    for name in CLAIM_INDEXES:
        db.execute_sql(f"DROP INDEX IF EXISTS {name}")
    for statement in INDEXES:
        if any(name in statement for name in CLAIM_INDEXES):
            db.execute_sql(statement)


def _v4(db: pw.Database, models) -> None:
    """One claim index: the one across queues cost every enqueue an index write, and a claim on
    every queue now merges the heads of the per-queue index instead."""
    db.execute_sql("DROP INDEX IF EXISTS lq_jobs_claim_any")


def _v5(db: pw.Database, models) -> None:
    """Flow control: a job's unique key and concurrency key, and the table of limits."""
    have = {c.name for c in db.get_columns("lq_jobs")}
    for column, kind in (("unique_key", "VARCHAR(255)"), ("unique_until", "DOUBLE PRECISION"),
                         ("flow_key", "VARCHAR(255)")):
        if column not in have:
            db.execute_sql(f"ALTER TABLE lq_jobs ADD COLUMN {column} {kind}")
    db.create_tables([models.Limits], safe=True)
    for statement in FLOW_INDEXES:
        db.execute_sql(statement)


def _v6(db: pw.Database, models) -> None:
    """Watching and steering (the dashboard): paused queues, which claims skip, and partial
    indexes on the rarely entered states, so a page of failed, revoked or retrying jobs walks
    an index however few they are among millions (no cost on the claim and finish path)."""
    db.execute_sql("CREATE TABLE IF NOT EXISTS lq_paused (queue VARCHAR(255) PRIMARY KEY, "
                   "paused_at DOUBLE PRECISION NOT NULL)")
    for statement in MONITOR_INDEXES:
        db.execute_sql(statement)


def _v7(db: pw.Database, models) -> None:
    """Workflows: the group a job's result belongs to (id and place), a row per group (its
    members, and a chord's join counter and callback) and one per chain (its steps)."""
    if "group_id" not in {c.name for c in db.get_columns("lq_jobs")}:
        db.execute_sql("ALTER TABLE lq_jobs ADD COLUMN group_id VARCHAR(255)")
        db.execute_sql("ALTER TABLE lq_jobs ADD COLUMN group_index INTEGER")
    db.execute_sql(GROUP_INDEX)
    db.create_tables([models.Groups, models.Chains], safe=True)


def _v8(db: pw.Database, models) -> None:
    """A claimed job is RESERVED until a child begins it (then STARTED): the index of leases
    rescue_expired walks, and flow control's index of jobs holding a concurrency slot, cover both.
    A revoke says whether to kill a running job or only tell it (``self.is_revoked()``)."""
    if "revoke_terminate" not in {c.name for c in db.get_columns("lq_jobs")}:
        db.execute_sql("ALTER TABLE lq_jobs ADD COLUMN revoke_terminate BOOLEAN NOT NULL DEFAULT FALSE")
    for name, statement in (("lq_jobs_leases", LEASES_INDEX), ("lq_jobs_flow_running", FLOW_INDEXES[1])):
        db.execute_sql(f"DROP INDEX IF EXISTS {name}")
        db.execute_sql(statement)


def _v9(db: pw.Database, models) -> None:
    """status reads every per-queue count from an index: waiting jobs by queue and state, and
    finished jobs by queue and time (a full scan took seconds on a million jobs)."""
    for statement in STATS_INDEXES:
        db.execute_sql(statement)


def _v10(db: pw.Database, models) -> None:
    """The start a rate limit granted each attempt, kept after it ran (what the limit's guarantee
    is about: the starts it grants in any window of one period never exceed it)."""
    if "granted_at" not in {c.name for c in db.get_columns("lq_jobs")}:
        db.execute_sql("ALTER TABLE lq_jobs ADD COLUMN granted_at DOUBLE PRECISION")


def _v11(db: pw.Database, models) -> None:
    """Workflows: the job that started a job (a chain's step before it, the job it is a link
    of, the task that sent it; a chord's callback names the chord's group), so that a result read
    back by id knows its ``parent`` and a job its ``children`` (one indexed query)."""
    if "parent_id" not in {c.name for c in db.get_columns("lq_jobs")}:
        db.execute_sql("ALTER TABLE lq_jobs ADD COLUMN parent_id VARCHAR(255)")
    db.execute_sql(PARENT_INDEX)


def _v12(db: pw.Database, models) -> None:
    """Celery's control through the store: a job revoked while it waited is marked until a worker
    of its queue has sent task_revoked for it (a partial index finds the marks); a worker's row
    keeps the settings it runs with (inspect conf)."""
    if "revoke_notice" not in {c.name for c in db.get_columns("lq_jobs")}:
        db.execute_sql("ALTER TABLE lq_jobs ADD COLUMN revoke_notice BOOLEAN NOT NULL DEFAULT FALSE")
    db.execute_sql(REVOKE_NOTICES_INDEX)
    if "conf" not in {c.name for c in db.get_columns("lq_workers")}:
        db.execute_sql("ALTER TABLE lq_workers ADD COLUMN conf TEXT")


# MIGRATIONS[n] upgrades version n to n + 1.
MIGRATIONS: list[Callable] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8, _v9, _v10, _v11, _v12]
assert len(MIGRATIONS) == SCHEMA_VERSION


def read_version(db: pw.Database) -> int:
    """The schema version stored in ``db``, 0 for a fresh database."""
    if "lq_meta" not in db.get_tables():
        return 0
    row = db.execute_sql("SELECT value FROM lq_meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def upgrade(db: pw.Database, models, current: int) -> None:
    """Run the upgrades from ``current`` to SCHEMA_VERSION; the caller holds a write transaction."""
    for version in range(current, SCHEMA_VERSION):
        MIGRATIONS[version](db, models)
    meta = models.Meta
    meta.insert(key="schema_version", value=str(SCHEMA_VERSION)).on_conflict(
        conflict_target=[meta.key], preserve=[meta.value]).execute()
