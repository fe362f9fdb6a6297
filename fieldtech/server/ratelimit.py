"""A token-bucket rate limit per key (API token, device token, login e-mail, client address).

In memory and per worker process: with N uvicorn workers a client may get up to N times the
rate. That is enough to stop a runaway sync loop or password guessing, which is its purpose.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from fieldtech.server.problems import Problem, ProblemType


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: int


class RateLimiter:
    def __init__(self, rate: Rate, clock=time.monotonic, max_keys: int = 100_000):  # type: ignore[no-untyped-def]
        self.rate, self._clock, self._max_keys = rate, clock, max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        """Take one token for `key`, or raise a 429 problem saying when to come back."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(self.rate.burst), now))
            tokens = min(float(self.rate.burst), tokens + (now - at) * self.rate.per_second)
            if tokens < 1.0:
                wait = math.ceil((1.0 - tokens) / self.rate.per_second)
                self._buckets[key] = (tokens, now)
                raise Problem(
                    ProblemType.RATE_LIMITED,
                    f"Slow down: try again in {wait} s.",
                    headers={"Retry-After": str(wait)},
                    retry_after=wait,
                )
            if len(self._buckets) >= self._max_keys and key not in self._buckets:
                self._buckets.clear()  # crude bound on memory; forgetting only forgives
            self._buckets[key] = (tokens - 1.0, now)
