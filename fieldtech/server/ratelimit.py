"""Token-bucket rate limits: in memory per process for traffic (API and device tokens), in the
database for guessing (logins, plan codes), where N workers must not mean N times the tries.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from fieldtech.server.db import Database
from fieldtech.server.problems import Problem, ProblemType
from fieldtech.server.tables import RateLimitRow


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: int


def rate_limited(wait_s: float) -> Problem:
    wait = max(1, math.ceil(wait_s))
    return Problem(
        ProblemType.RATE_LIMITED,
        f"Slow down: try again in {wait} s.",
        headers={"Retry-After": str(wait)},
        retry_after=wait,
    )


def _refill(tokens: float, at: float, now: float, rate: Rate) -> float:
    return min(float(rate.burst), tokens + max(0.0, now - at) * rate.per_second)


class RateLimiter:
    """Buckets per key in this process's memory, at most `max_keys` of them.

    Keys nobody has vouched for (a device token not yet found in the database, a client
    address) live apart from vouched ones, and when either part is full its least recently
    used bucket goes: made-up tokens push out only each other, never a real device's bucket
    (forgetting a bucket forgives its key, so a device held at 429 must not be forgotten)."""

    def __init__(self, rate: Rate, clock=time.monotonic, max_keys: int = 100_000):  # type: ignore[no-untyped-def]
        self.rate, self._clock, self._max_keys = rate, clock, max_keys
        self._vouched: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._unvouched: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, key: str, *, vouched: bool = False) -> None:
        """Take one token for `key`, or raise a 429 problem saying when to come back.
        `vouched`: the caller already proved the key is real (a token found in the database)."""
        now = self._clock()
        with self._lock:
            if key in self._vouched:
                part = self._vouched
            elif vouched:
                part = self._vouched
                if key in self._unvouched:
                    part[key] = self._unvouched.pop(key)
            else:
                part = self._unvouched
            tokens, at = part.get(key, (float(self.rate.burst), now))
            tokens = _refill(tokens, at, now, self.rate)
            taken = tokens >= 1.0
            part[key] = (tokens - 1.0 if taken else tokens, now)
            part.move_to_end(key)
            if len(part) > self._max_keys:
                part.popitem(last=False)  # the least recently used
        if not taken:
            raise rate_limited((1.0 - tokens) / self.rate.per_second)

    def vouch(self, key: str) -> None:
        """`key` turned out to be real: keep its bucket with the others that are."""
        with self._lock:
            if key in self._unvouched:
                self._vouched[key] = self._unvouched.pop(key)
                if len(self._vouched) > self._max_keys:
                    self._vouched.popitem(last=False)


class SharedRateLimiter:
    """Buckets in the database (table rate_limit), so they hold across server processes.

    Keys are stored as sha256 hashes: the table holds no e-mail or address."""

    _CLEAN_EVERY = 1000  # calls between deletions of buckets untouched for STALE_S
    STALE_S = 30 * 24 * 3600

    def __init__(self, db: Database, clock=time.time):  # type: ignore[no-untyped-def]
        self.db, self._clock, self._calls = db, clock, 0

    def check(self, *limits: tuple[str, Rate]) -> None:
        """429 if any bucket is empty; nothing is taken."""
        self._run(limits, take=False)

    def take(self, *limits: tuple[str, Rate]) -> None:
        """Take a token from each bucket, or 429 (and take none) if one is empty."""
        self._run(limits, take=True)

    def mark(self, key: str) -> None:
        """Remember that `key` happened now (e.g. a successful login from an address)."""
        with self.db.write() as s:
            row = self._locked_row(s, key, 0.0, self._clock())
            row.at = self._clock()

    def seen_within(self, key: str, seconds: float) -> bool:
        with self.db.read() as s:
            row = s.get(RateLimitRow, _hash(key))
        return row is not None and self._clock() - row.at <= seconds

    def _run(self, limits: tuple[tuple[str, Rate], ...], take: bool) -> None:
        now = self._clock()
        wait = 0.0
        with self.db.write() as s:
            rows = []
            for key, rate in limits:
                row = self._locked_row(s, key, float(rate.burst), now) if take else s.get(
                    RateLimitRow, _hash(key)
                )
                tokens = rate.burst if row is None else _refill(row.tokens, row.at, now, rate)
                if tokens < 1.0:
                    wait = max(wait, (1.0 - tokens) / rate.per_second)
                rows.append((row, tokens))
            if take and not wait:
                for row, tokens in rows:
                    row.tokens, row.at = tokens - 1.0, now
            self._calls += 1
            if self._calls % self._CLEAN_EVERY == 0:
                s.execute(delete(RateLimitRow).where(RateLimitRow.at < now - self.STALE_S))
        if wait:
            raise rate_limited(wait)

    def _locked_row(self, s: Session, key: str, burst: float, now: float) -> RateLimitRow:
        digest = _hash(key)
        dialect = s.get_bind().dialect.name
        insert = postgres_insert if dialect == "postgresql" else sqlite_insert
        # a new bucket starts full; two processes creating it at once make one row
        s.execute(
            insert(RateLimitRow)
            .values(key_hash=digest, tokens=burst, at=now)
            .on_conflict_do_nothing(index_elements=["key_hash"])
        )
        return s.get_one(RateLimitRow, digest, with_for_update=True, populate_existing=True)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
