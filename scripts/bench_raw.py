"""Raw SQLite baselines, measured in the same run as litequeue so that ratios survive a noisy machine.

The table has the columns litequeue writes at enqueue (same row width: a UUID task id, task and
queue names, a small JSON body, timestamps and flags) with an integer primary key and a unique
task id, and for the claim baseline the index the design names: (queue, state, priority DESC, id).
Rows are built before the clock starts: these numbers are SQLite's, not Python's.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid

SCHEMA = """
CREATE TABLE raw_jobs (
    id INTEGER PRIMARY KEY, task_id TEXT NOT NULL UNIQUE, task TEXT NOT NULL, queue TEXT NOT NULL,
    routing_key TEXT NOT NULL, priority INTEGER NOT NULL, state TEXT NOT NULL, body BLOB,
    content_type TEXT NOT NULL, eta REAL, wait_until REAL, expires REAL, created_at REAL NOT NULL,
    started_at REAL, done_at REAL, attempts INTEGER NOT NULL DEFAULT 0, max_retries INTEGER,
    acks_late INTEGER, ignore_result INTEGER, durable INTEGER, lease_owner TEXT, lease_until REAL,
    result BLOB, options TEXT
)"""
CLAIM_INDEX = "CREATE INDEX raw_jobs_claim ON raw_jobs (queue, state, priority DESC, id)"
INSERT = (
    "INSERT INTO raw_jobs (task_id, task, queue, routing_key, priority, state, body, content_type, eta, "
    "wait_until, expires, created_at, max_retries, acks_late, ignore_result, durable, options) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
CLAIM = (
    "UPDATE raw_jobs SET state = 'STARTED', attempts = attempts + 1, lease_owner = ?, lease_until = ?, "
    "started_at = ? WHERE id IN (SELECT id FROM raw_jobs WHERE queue = ? AND state = 'QUEUED' "
    "ORDER BY priority DESC, id LIMIT ?) RETURNING id, task, body"
)
ACK = "UPDATE raw_jobs SET state = 'SUCCESS', result = ?, done_at = ?, lease_owner = NULL WHERE id = ?"


def rows(n: int) -> list[tuple]:
    now = time.time()
    return [(str(uuid.uuid4()), "bench_tasks.noop", "default", "default", 0, "QUEUED", b"[[],{}]",
             "application/json", None, None, None, now, 3, 1, 0, 1, None) for _ in range(n)]


def connect(path: str, synchronous: str, index: bool = False) -> sqlite3.Connection:
    """A fresh WAL database at ``path`` in autocommit mode (each statement commits by itself)."""
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = wal")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute(SCHEMA)
    if index:
        conn.execute(CLAIM_INDEX)
    return conn


def commit_block(conn: sqlite3.Connection, data: list[tuple]) -> None:
    """Insert ``data`` one row per committed transaction."""
    for row in data:
        conn.execute(INSERT, row)


def batch_block(conn: sqlite3.Connection, data: list[tuple], batch: int = 1_000) -> None:
    """Insert ``data`` with executemany, ``batch`` rows per transaction."""
    for start in range(0, len(data), batch):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(INSERT, data[start:start + batch])
        conn.execute("COMMIT")


def commit_rate(path: str, synchronous: str, n: int) -> float:
    """Single-row INSERTs, each its own committed transaction."""
    conn = connect(path, synchronous)
    data = rows(n)
    t = time.perf_counter()
    for row in data:
        conn.execute(INSERT, row)
    rate = n / (time.perf_counter() - t)
    conn.close()
    return rate


def batch_rate(path: str, synchronous: str, n: int, batch: int = 1_000) -> float:
    """executemany in transactions of ``batch`` rows."""
    conn = connect(path, synchronous)
    data = rows(n)
    t = time.perf_counter()
    for start in range(0, n, batch):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(INSERT, data[start:start + batch])
        conn.execute("COMMIT")
    rate = n / (time.perf_counter() - t)
    conn.close()
    return rate


def claim_ack_rate(path: str, synchronous: str, n: int, batch: int) -> float:
    """Claim ``batch`` jobs in one statement, then ack them in one transaction, until n are done."""
    conn = connect(path, synchronous, index=True)
    data = rows(n)
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(INSERT, data)
    conn.execute("COMMIT")
    done = 0
    t = time.perf_counter()
    while done < n:
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        claimed = conn.execute(CLAIM, ("raw", now + 60, now, "default", batch)).fetchall()
        conn.execute("COMMIT")
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(ACK, [(b"null", time.time(), row[0]) for row in claimed])
        conn.execute("COMMIT")
        done += len(claimed)
    rate = n / (time.perf_counter() - t)
    conn.close()
    return rate
