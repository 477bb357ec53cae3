"""Retry policy as a value: which delay tier an attempt goes to, and when to give up."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff on a fixed schedule (seconds), with jitter, honouring Retry-After."""

    delays: tuple[float, ...]
    jitter: float = 0.2
    retry_after_max: float = 3600.0

    @property
    def tiers(self) -> tuple[float, ...]:
        """The retry queues' delays, ascending (one queue per distinct delay)."""
        return tuple(sorted(set(self.delays)))

    def exhausted(self, failures: int) -> bool:
        """True when `failures` transient failures have used up the schedule."""
        return failures > len(self.delays)

    def wait_for(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the `failures`-th failure (1-based), jitter included.

        The schedule's delay, or Retry-After when that is longer (capped), plus jitter
        so the retries of many permits do not arrive all at once.
        """
        wanted = self.delays[min(failures, len(self.delays)) - 1]
        if retry_after is not None:
            wanted = max(wanted, min(retry_after, self.retry_after_max))
        return wanted * (1 + self.jitter * random.random())

    def tier_for(self, wait: float) -> tuple[float, int]:
        """(tier, expiration in ms) to wait `wait` seconds, or as long as the longest tier.

        The tier is the smallest queue whose TTL does not cut the wait short; a wait
        longer than every tier is served in several trips (see `not_before`).
        """
        tier = next((t for t in self.tiers if t * (1 + self.jitter) >= wait), self.tiers[-1])
        wait = min(wait, tier * (1 + self.jitter))
        return tier, max(1, int(wait * 1000))

    def next_delay(self, failures: int, retry_after: float | None = None) -> tuple[float, int]:
        """(tier, expiration in ms) for the retry after the `failures`-th failure."""
        return self.tier_for(self.wait_for(failures, retry_after))
