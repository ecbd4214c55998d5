"""One benchmark part for one system, run in a fresh interpreter; prints one JSON object.

    python scripts/bench_runner.py SYSTEM PART --workdir DIR [--n N] [--idle-wait S] [--samples M]
        [--option key=value]

SYSTEM names an adapter module (``litequeue`` -> bench_sys_litequeue, ``celery`` ->
bench_peer_celery, ...). PART is one of: enqueue, bulk, drain, session, long, mixed, fresh, revoke,
claim (and send, which fresh runs in a process of its own). Standard library only apart from the
adapter: the peers' virtualenvs run this same file.

An adapter is a class ``System(workdir, options)`` with: ``reset()`` (an empty broker),
``enqueue_each(n)``, ``enqueue_bulk(n)`` (or ``bulk_api = None``), ``fill(n)`` (queue n no-op
jobs, untimed), ``send_stamp(tag)``, ``worker_command(burst)`` -> (argv, cwd, env),
``done_count()``, ``stamps()`` -> {tag: start time}, ``done_time(tag)``, and optionally
``window()`` -> (first start, last done) from stored timestamps. ``burst_drain`` says the drain's
worker exits by itself. The fresh part needs ``broker()`` and ``attach(broker)``; the revoke part
(litequeue only) ``send_hold(tag, seconds)``, ``revoke_terminate(tag)`` and ``job_state(tag)``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_procs as procs  # noqa: E402
import bench_raw  # noqa: E402

LATENCY_INTERVAL = 0.05  # one job every 50 ms
INTERLEAVE = 1_000  # jobs per block when measuring against a raw baseline
SETTLE = 1.0  # seconds after the worker's first job before idle measurements begin


def adapter_module(system: str) -> str:
    return "bench_sys_litequeue" if system == "litequeue" else f"bench_peer_{system.replace('-', '_')}"


# -- parts ------------------------------------------------------------------------------------

def part_enqueue(system, args) -> dict:
    system.reset()
    if args.raw_baseline:
        return _interleaved(system.enqueue_each, bench_raw.commit_block, args, "enqueue_rate")
    t = time.perf_counter()
    system.enqueue_each(args.n)
    return {"enqueue_rate": args.n / (time.perf_counter() - t)}


def part_bulk(system, args) -> dict:
    if system.bulk_api is None:
        return {"bulk_rate": None, "bulk_api": None}
    system.reset()
    if args.raw_baseline:
        out = _interleaved(system.enqueue_bulk, bench_raw.batch_block, args, "bulk_rate")
        return {**out, "bulk_api": system.bulk_api}
    t = time.perf_counter()
    system.enqueue_bulk(args.n)
    return {"bulk_rate": args.n / (time.perf_counter() - t), "bulk_api": system.bulk_api}


def _interleaved(send, raw_block, args, key: str) -> dict:
    """Alternate blocks of the system's enqueues with blocks of raw SQLite inserts at the
    --raw-baseline setting, so that both meet the same moments of a noisy machine."""
    conn = bench_raw.connect(os.path.join(args.workdir, f"raw-{os.getpid()}.sqlite"), args.raw_baseline)
    rows = bench_raw.rows(args.n)
    mine = raw = 0.0
    for start in range(0, args.n, INTERLEAVE):
        k = min(INTERLEAVE, args.n - start)
        t = time.perf_counter()
        raw_block(conn, rows[start:start + k])
        t2 = time.perf_counter()
        send(k)
        mine, raw = mine + time.perf_counter() - t2, raw + t2 - t
    conn.close()
    return {key: args.n / mine, "raw_rate": args.n / raw}


def part_drain(system, args) -> dict:
    """Queue n no-op jobs, start a 2-process worker, time it until all n are done."""
    system.reset()
    system.fill(args.n)
    argv, cwd, env = system.worker_command(burst=system.burst_drain)
    log = os.path.join(args.workdir, "drain-worker.log")
    started_wall, started = time.time(), time.perf_counter()
    proc = procs.start(argv, cwd, env, log)
    peak = {"total": 0}
    deadline = time.monotonic() + max(120.0, args.n / 50)
    next_sample = 0.0
    try:
        while time.monotonic() < deadline:
            if system.burst_drain and proc.poll() is not None:
                break
            if not system.burst_drain and system.done_count() >= args.n:
                break
            if time.monotonic() >= next_sample:
                rss = procs.rss_kib(proc.pid)
                peak = rss if rss["total"] > peak["total"] else peak
                next_sample = time.monotonic() + 0.1
            time.sleep(0.002 if system.burst_drain else 0.01)
        elapsed = time.perf_counter() - started
    finally:
        code = procs.stop(proc)
    done = system.done_count()
    if done < args.n:
        raise RuntimeError(f"drain: only {done} of {args.n} jobs done (worker exit {code});\n{procs.tail(log)}")
    out = {"drain_rate": args.n / elapsed, "drain_rss_peak_kib": peak["total"], "worker_exit": code,
           "worker_command": " ".join(argv)}
    window = system.window() if hasattr(system, "window") else None
    if window:
        first, last = window
        out["drain_rate_jobs"] = args.n / (last - first)  # first job start to last job end
        out["drain_rate_to_last_done"] = args.n / (last - started_wall)
    return out


def part_session(system, args) -> dict:
    """Worker start to first job done, idle CPU and memory, then latency of one job per 50 ms."""
    system.reset()
    system.send_stamp("probe")
    argv, cwd, env = system.worker_command(burst=False)
    log = os.path.join(args.workdir, "session-worker.log")
    started_wall = time.time()
    proc = procs.start(argv, cwd, env, log)
    try:
        if not procs.wait_until(lambda: "probe" in system.stamps(), 60, 0.002, proc):
            raise RuntimeError(f"session: the worker never ran the first job;\n{procs.tail(log)}")
        out = {"start_to_first_done": system.done_time("probe") - started_wall}
        time.sleep(SETTLE)
        cpu0, t0 = procs.cpu_seconds(proc.pid), time.perf_counter()
        time.sleep(args.idle_wait)
        cpu1, t1 = procs.cpu_seconds(proc.pid), time.perf_counter()
        rss = procs.rss_kib(proc.pid)
        out.update(idle_cpu_percent=100 * (cpu1 - cpu0) / (t1 - t0), idle_seconds=t1 - t0,
                   idle_rss_kib=rss["total"], idle_rss_main_kib=rss["main"],
                   idle_rss_children_kib=rss["children"], processes=rss["processes"])
        out.update(_latency(system, args.samples, proc, log))
    finally:
        out_code = procs.stop(proc)
    out["worker_exit"] = out_code
    return out


def _latency(system, samples: int, proc, log: str) -> dict:
    sent: dict[str, float] = {}
    next_send = time.perf_counter()
    for i in range(samples):
        while (delay := next_send - time.perf_counter()) > 0:
            time.sleep(delay)
        tag = f"lat{i:05d}"
        sent[tag] = time.time()
        system.send_stamp(tag)
        next_send += LATENCY_INTERVAL
    if not procs.wait_until(lambda: len(system.stamps()) >= samples + 1, 60, 0.01, proc):
        raise RuntimeError(f"latency: {len(system.stamps()) - 1} of {samples} stamp jobs ran;\n{procs.tail(log)}")
    started = system.stamps()
    lat = [1000 * (started[tag] - t) for tag, t in sent.items()]
    return {"latency_p50_ms": procs.percentile(lat, 50), "latency_p99_ms": procs.percentile(lat, 99),
            "latency_max_ms": max(lat), "latency_first_after_idle_ms": lat[0], "latency_samples": len(lat)}


def part_long(system, args) -> dict:
    """Drain n jobs with a burst worker, sampling its memory against progress."""
    system.reset()
    system.fill(args.n)
    argv, cwd, env = system.worker_command(burst=True)
    log = os.path.join(args.workdir, "long-worker.log")
    proc = procs.start(argv, cwd, env, log)
    samples = []
    started = time.perf_counter()
    try:
        while proc.poll() is None and time.perf_counter() - started < max(600.0, args.n / 20):
            samples.append((system.done_count(), procs.rss_kib(proc.pid)["total"]))
            time.sleep(0.25)
        elapsed = time.perf_counter() - started
    finally:
        procs.stop(proc)
    useful = [(n, kib) for n, kib in samples if args.n * 0.05 <= n <= args.n * 0.95]  # not start-up or shutdown
    if len(useful) < 2:
        return {"long_jobs": args.n, "long_seconds": elapsed, "long_note": "too few samples"}
    return {"long_jobs": args.n, "long_seconds": elapsed, "long_rss_early_kib": useful[0][1],
            "long_rss_late_kib": useful[-1][1], "long_rss_growth_kib": useful[-1][1] - useful[0][1],
            "long_rss_max_kib": max(kib for _, kib in samples)}


MIXED_SHORT, MIXED_LONG, MIXED_EVERY = 0.001, 0.2, 20  # one job in 20 (5 %) is long
MIXED_LOAD = 0.7  # the steady stream's arrival rate, as a share of the 2-process worker's capacity


def _mixed_seconds(i: int) -> float:
    return MIXED_LONG if i % MIXED_EVERY == MIXED_EVERY // 2 else MIXED_SHORT


def part_mixed(system, args) -> dict:
    """95 % 1 ms jobs and 5 % 200 ms jobs on a 2-process worker: all pre-queued (makespan against
    the ideal, the work divided by the two processes), then a steady stream at 70 % of capacity
    (how long short jobs wait to start: p50 and p99)."""
    out = _mixed_prequeued(system, args)
    out.update(_mixed_stream(system, args))
    return out


def _run_worker_until(system, args, log_name: str, done) -> None:
    argv, cwd, env = system.worker_command(burst=False)
    proc = procs.start(argv, cwd, env, os.path.join(args.workdir, log_name))
    try:
        if not procs.wait_until(done, max(120.0, args.n / 20), 0.01, proc):
            raise RuntimeError(f"mixed: the jobs did not all run;\n{procs.tail(os.path.join(args.workdir, log_name))}")
        time.sleep(MIXED_LONG)  # the last long job ends
    finally:
        procs.stop(proc)


def _mixed_prequeued(system, args) -> dict:
    system.reset()
    seconds = {f"w{i:06d}": _mixed_seconds(i) for i in range(args.n)}
    for tag, s in seconds.items():
        system.send_work(tag, s)
    _run_worker_until(system, args, "mixed-worker.log", lambda: len(system.work_stamps()) >= args.n)
    starts = system.work_stamps()
    makespan = max(starts[t] + seconds[t] for t in seconds) - min(starts.values())
    ideal = sum(seconds.values()) / 2
    return {"mixed_makespan_s": makespan, "mixed_ideal_s": ideal, "mixed_makespan_ratio": makespan / ideal}


def _mixed_stream(system, args) -> dict:
    system.reset()
    mean = (MIXED_LONG + (MIXED_EVERY - 1) * MIXED_SHORT) / MIXED_EVERY
    interval = mean / (2 * MIXED_LOAD)
    argv, cwd, env = system.worker_command(burst=False)
    log = os.path.join(args.workdir, "mixed-stream-worker.log")
    proc = procs.start(argv, cwd, env, log)
    sent: dict[str, float] = {}
    try:
        system.send_stamp("probe")  # the worker is up and has run a job before the stream starts
        if not procs.wait_until(lambda: "probe" in system.stamps(), 60, 0.01, proc):
            raise RuntimeError(f"mixed: the worker never ran the first job;\n{procs.tail(log)}")
        next_send = time.perf_counter()
        for i in range(args.n):
            while (delay := next_send - time.perf_counter()) > 0:
                time.sleep(delay)
            tag = f"w{i:06d}"
            sent[tag] = time.time()
            system.send_work(tag, _mixed_seconds(i))
            next_send += interval
        if not procs.wait_until(lambda: len(system.work_stamps()) >= args.n, 120, 0.01, proc):
            raise RuntimeError(f"mixed: the stream's jobs did not all run;\n{procs.tail(log)}")
    finally:
        procs.stop(proc)
    starts = system.work_stamps()
    waits = [1000 * (starts[tag] - t) for i, (tag, t) in enumerate(sent.items()) if _mixed_seconds(i) == MIXED_SHORT]
    return {"mixed_stream_rate": 1 / interval, "mixed_short_wait_p50_ms": procs.percentile(waits, 50),
            "mixed_short_wait_p99_ms": procs.percentile(waits, 99), "mixed_jobs": args.n}


def part_fresh(system, args) -> dict:
    """The first job after --idle-wait seconds of idle, sent by a fresh producer process (its
    first send opens the store or connects to the broker): from that send to the job's start.
    --n samples, each after its own idle wait; the producer's interpreter start is not timed."""
    system.reset()
    system.send_stamp("probe")
    argv, cwd, env = system.worker_command(burst=False)
    log = os.path.join(args.workdir, "fresh-worker.log")
    proc = procs.start(argv, cwd, env, log)
    latencies = []
    try:
        if not procs.wait_until(lambda: "probe" in system.stamps(), 60, 0.002, proc):
            raise RuntimeError(f"fresh: the worker never ran the first job;\n{procs.tail(log)}")
        for i in range(args.n):
            time.sleep(args.idle_wait)
            tag = f"fresh{i:03d}"
            cmd = [sys.executable, os.path.abspath(__file__), args.system, "send", "--workdir", args.workdir,
                   "--tag", tag, "--broker", system.broker()] + [f"--option={o}" for o in args.option]
            sent = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120,
                                             stdin=subprocess.DEVNULL).stdout.strip().splitlines()[-1])["sent"]
            if not procs.wait_until(lambda tag=tag: tag in system.stamps(), 60, 0.001, proc):
                raise RuntimeError(f"fresh: the job from the fresh producer never ran;\n{procs.tail(log)}")
            latencies.append(1000 * (system.stamps()[tag] - sent))
    finally:
        procs.stop(proc)
    return {"fresh_after_idle_ms": statistics.median(latencies), "fresh_after_idle_max_ms": max(latencies),
            "fresh_samples": len(latencies)}


def part_send(system, args) -> dict:
    """(For part_fresh, in its own process.) Send one stamp job as a fresh producer."""
    system.attach(args.broker)
    sent = time.time()
    system.send_stamp(args.tag)
    return {"sent": sent}


REVOKE_SETTLE = 0.2  # seconds a job runs before it is revoked: begun, marked STARTED, the worker asleep


def part_revoke(system, args) -> dict:
    """revoke(terminate=True) of a running job, one at a time on a 2-process worker (--n
    samples): the time from the call until the job's process has stopped, until the store reads
    REVOKED, and until both hold (p50/p95)."""
    system.reset()
    argv, cwd, env = system.worker_command(burst=False)
    log = os.path.join(args.workdir, "revoke-worker.log")
    proc = procs.start(argv, cwd, env, log)
    ledger = os.environ["BENCH_LEDGER"]
    stopped, stored, both = [], [], []
    try:
        for i in range(args.n):
            tag = f"hold-{os.getpid()}-{i:04d}"
            path = os.path.join(ledger, tag)
            system.send_hold(tag, 60)
            if not procs.wait_until(lambda path=path: os.path.exists(path), 60, 0.002, proc):
                raise RuntimeError(f"revoke: the job never started;\n{procs.tail(log)}")
            with open(path) as f:
                pid = int(f.read())
            time.sleep(REVOKE_SETTLE)
            gone, revoked = _revoke_and_watch(system, tag, pid)
            stopped.append(gone)
            stored.append(revoked)
            both.append(max(gone, revoked))
    finally:
        procs.stop(proc)
    out = {"revoke_samples": len(both), "revoke_max_ms": max(both)}
    for key, values in (("revoke", both), ("revoke_stopped", stopped), ("revoke_stored", stored)):
        out[f"{key}_p50_ms"], out[f"{key}_p95_ms"] = procs.percentile(values, 50), procs.percentile(values, 95)
    return out


def _revoke_and_watch(system, tag: str, pid: int) -> tuple[float, float]:
    """Revoke ``tag`` with terminate; milliseconds until process ``pid`` stopped, and until the
    store read REVOKED (polled every 0.5 ms)."""
    started = time.perf_counter()
    system.revoke_terminate(tag)
    gone = revoked = None
    while gone is None or revoked is None:
        elapsed = 1000 * (time.perf_counter() - started)
        if gone is None and procs.stopped(pid):
            gone = elapsed
        if revoked is None and system.job_state(tag) == "REVOKED":
            revoked = elapsed
        if elapsed > 30_000:
            raise RuntimeError(f"revoke: after 30 s, process stopped: {gone is not None}, "
                               f"REVOKED: {revoked is not None}")
        time.sleep(0.0005)
    return gone, revoked


def part_claim(system, args) -> dict:
    """In-process claim+ack rate, one job at a time and 32 at a time (litequeue only)."""
    out = {}
    for batch in (1, 32):
        system.reset()
        out[f"claim_ack_{batch}"] = system.claim_ack(args.n, batch)
    return out


PARTS = {"claim": part_claim, "enqueue": part_enqueue, "bulk": part_bulk, "drain": part_drain, "session": part_session,
         "long": part_long, "mixed": part_mixed, "fresh": part_fresh, "send": part_send, "revoke": part_revoke}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("system")
    parser.add_argument("part", choices=sorted(PARTS))
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--idle-wait", type=float, default=10.0)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--raw-baseline", choices=["full", "normal"],
                        help="enqueue/bulk: interleave raw SQLite inserts at this synchronous setting")
    parser.add_argument("--option", action="append", default=[], help="key=value for the adapter")
    parser.add_argument("--tag", help="send: the stamp job's tag")
    parser.add_argument("--broker", default="", help="send: where the jobs go (the adapter's broker())")
    args = parser.parse_args(argv)
    options = dict(item.split("=", 1) for item in args.option)
    os.makedirs(args.workdir, exist_ok=True)
    # Adapters that are also their workers' task modules read these at import, in both processes.
    os.environ["BENCH_LEDGER"] = os.path.join(args.workdir, f"ledger-{args.system}")
    os.makedirs(os.environ["BENCH_LEDGER"], exist_ok=True)
    for key, value in options.items():
        os.environ[f"BENCH_OPT_{key.upper()}"] = value
    system = importlib.import_module(adapter_module(args.system)).System(args.workdir, options)
    try:
        result = PARTS[args.part](system, args)
    finally:
        system.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
