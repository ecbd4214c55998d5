"""The retry policy, readable without reading the worker: when a failed attempt runs again."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Celery's retry options of a task."""

    max_retries: int | None = 3  # None = retry forever
    default_retry_delay: float = 180.0
    autoretry_for: tuple[type[BaseException], ...] = ()
    dont_autoretry_for: tuple[type[BaseException], ...] = ()
    retry_backoff: bool | float = False
    retry_backoff_max: float = 600.0
    retry_jitter: bool = True

    @staticmethod
    def may_retry(retries_so_far: int, limit: int | None) -> bool:
        """True while fewer than ``limit`` retries were used (``None``: no limit)."""
        return limit is None or retries_so_far < limit

    def autoretries(self, exc: BaseException) -> bool:
        """True when ``exc`` should trigger an automatic retry."""
        return bool(self.autoretry_for) and isinstance(exc, self.autoretry_for) and not (
            self.dont_autoretry_for and isinstance(exc, self.dont_autoretry_for)
        )

    def delay(self, retries_so_far: int) -> float:
        """Seconds before the next attempt: fixed, or doubling backoff capped and jittered."""
        if not self.retry_backoff:
            return float(self.default_retry_delay)
        factor = 1.0 if self.retry_backoff is True else float(self.retry_backoff)
        countdown = min(self.retry_backoff_max, factor * (2 ** retries_so_far))
        if self.retry_jitter:
            countdown = random.randrange(int(countdown) + 1) if countdown >= 1 else random.uniform(0, countdown)
        return float(countdown)
