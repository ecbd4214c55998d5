"""``bench.py --compare``: the same work on Celery+Redis, RQ, Huey (SQLite and Redis) and Dramatiq.

Each peer library is installed with pip into its own virtualenv under the cache directory
(created on first use, reused after). Redis must answer on 127.0.0.1:6379; the benchmark uses
its database 15 and empties it between runs. A peer that fails to install or run is reported
and skipped; the rest carry on.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import venv
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Peer:
    """One system to compare: its adapter (bench_peer_<system>.py) and what pip installs."""

    name: str
    system: str
    env: str  # virtualenv name
    packages: tuple[str, ...]
    note: str
    options: dict = field(default_factory=dict)
    redis: bool = True


PEERS = [
    Peer("celery+redis", "celery", "celery", ("celery", "redis", "packaging"),  # kombu imports packaging
         "Celery, Redis broker, prefork pool -c 2; enqueue = noop.delay()"),
    Peer("rq", "rq", "rq", ("rq",), "RQ worker-pool -n 2; enqueue = Queue.enqueue(noop)"),
    Peer("huey-sqlite", "huey", "huey", ("huey", "redis"), "Huey, SQLite storage, -k process -w 2; enqueue = noop()",
         {"storage": "sqlite"}, redis=False),
    Peer("huey-redis", "huey", "huey", ("huey", "redis"), "Huey, Redis storage, -k process -w 2; enqueue = noop()",
         {"storage": "redis"}),
    Peer("dramatiq+redis", "dramatiq", "dramatiq", ("dramatiq[redis]",),
         "Dramatiq, Redis broker, 2 processes x 1 thread; enqueue = noop.send()"),
]


def redis_up() -> bool:
    """Does Redis answer PING on 127.0.0.1:6379?"""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def ensure_venv(cache_dir: str, peer: Peer, quiet: bool) -> str:
    """The Python of the peer's virtualenv, creating it and installing the packages if needed."""
    home = os.path.join(cache_dir, f"venv-{peer.env}")
    python = os.path.join(home, "bin", "python")
    marker = os.path.join(home, "installed.txt")
    wanted = " ".join(sorted(peer.packages))
    if os.path.exists(marker) and open(marker).read() == wanted and os.path.exists(python):
        return python
    if not quiet:
        print(f"[bench] creating {home} and installing {wanted} ...", file=sys.stderr, flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(home)
    proc = subprocess.run([python, "-m", "pip", "install", "-q", *peer.packages], capture_output=True, text=True,
                          timeout=900, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"pip install {wanted} failed:\n{(proc.stdout + proc.stderr)[-1500:]}")
    with open(marker, "w") as f:
        f.write(wanted)
    return python


def versions(python: str, peer: Peer) -> str:
    names = [p.split("[")[0] for p in peer.packages]
    code = ("import importlib.metadata as m, sys\n"
            f"print(', '.join(n + ' ' + m.version(n) for n in {names!r}))")
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    return proc.stdout.strip() or "unknown versions"


def peer_run(peer: Peer, python: str, config, workdir: str, run_part) -> dict:
    """One run of the peer: enqueue, bulk, drain and the idle session, each in a fresh process."""
    out: dict = {}
    for part in ("enqueue", "bulk", "drain", "session"):
        out.update(run_part(peer.system, part, workdir, config, python=python, options=peer.options))
    return out


def run(config, workdir: str, cache_dir: str, run_part, repeat, only: str | None, quiet: bool) -> dict:
    """Every selected peer, ``config.runs`` times; {peer name: {runs, commands, note, error}}."""
    wanted = {p.strip() for p in only.split(",")} if only else None
    results = {}
    for peer in PEERS:
        if wanted and peer.name not in wanted and peer.system not in wanted:
            continue
        entry: dict = {"note": peer.note}
        results[peer.name] = entry
        try:
            if peer.redis and not redis_up():
                raise RuntimeError("Redis does not answer on 127.0.0.1:6379; start redis-server to compare")
            python = ensure_venv(cache_dir, peer, quiet)
            entry["versions"] = versions(python, peer)
            peer_dir = os.path.join(workdir, peer.name)
            entry["runs"] = repeat(peer.name, config.runs, peer_run, peer, python, config, peer_dir, run_part,
                                   quiet=quiet)
            first = entry["runs"][0]
            entry["commands"] = {"versions": entry["versions"],
                                 "worker": first.get("worker_command", "").replace(cache_dir, "$CACHE"),
                                 "bulk": first.get("bulk_api") or "no bulk API"}
        except Exception as exc:  # a peer that fails is reported, and the comparison goes on
            entry["error"] = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
            entry["error_detail"] = str(exc)[-3000:]
            print(f"[bench] {peer.name}: not measured: {exc}", file=sys.stderr, flush=True)
    return results
