"""How the peers' benchmark tasks report, without trusting any queue: each run appends to files
in the directory named by $BENCH_LEDGER (O_APPEND; small writes land whole).

``mark()`` appends one byte per finished no-op job (the count is the file's size); ``stamp(tag)``
appends one line "tag start-time". Standard library only: the peers' virtualenvs import it.
"""

from __future__ import annotations

import os
import time

DONE = "done"
STAMPS = "stamps"


def _append(name: str, data: bytes) -> None:
    fd = os.open(os.path.join(os.environ["BENCH_LEDGER"], name), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def mark() -> None:
    """Record that one no-op job ran."""
    _append(DONE, b".")


def stamp(tag: str) -> None:
    """Record the time a stamp job started."""
    _append(STAMPS, f"{tag} {time.time():.6f}\n".encode())


class Ledger:
    """The reading side, for one directory."""

    def __init__(self, directory: str) -> None:
        self.dir = directory
        os.makedirs(directory, exist_ok=True)

    def reset(self) -> None:
        for name in (DONE, STAMPS):
            try:
                os.unlink(os.path.join(self.dir, name))
            except FileNotFoundError:
                pass

    def done(self) -> int:
        try:
            return os.stat(os.path.join(self.dir, DONE)).st_size
        except FileNotFoundError:
            return 0

    def stamps(self) -> dict[str, float]:
        try:
            with open(os.path.join(self.dir, STAMPS)) as f:
                pairs = [line.split() for line in f if line.strip()]
        except FileNotFoundError:
            return {}
        return {tag: float(t) for tag, t in pairs}
