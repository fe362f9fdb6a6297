"""Wake-ups for long-polls of the change log (`GET /v1/changes?wait=…`).

A transaction that logs a change announces its account (`announce`, called by journal.py). When
it commits, long-polls of that account in this process wake at once; on PostgreSQL the same
transaction sends `NOTIFY fieldtech_changes, '<account>'`, delivered at commit to every worker,
each of which listens on ONE connection of its own (not one per request). A waiting long-poll
holds no database connection; it also looks again every `recheck` seconds, which is how several
SQLite workers (no NOTIFY) learn of each other's changes, and a safety net on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections import defaultdict
from collections.abc import Iterator

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

CHANNEL = "fieldtech_changes"
RECHECK_ENV = "FIELDTECH_LONG_POLL_RECHECK_S"
_ANNOUNCED = "ft_changed_accounts"  # Session.info key: accounts changed in this transaction
log = logging.getLogger("fieldtech.server")


class _Waiters:
    """Long-polls waiting in this process, by account; woken from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_account: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = (
            defaultdict(set)
        )

    @contextlib.contextmanager
    def listening(self, account_id: str) -> Iterator[asyncio.Event]:
        woke = asyncio.Event()
        entry = (asyncio.get_running_loop(), woke)
        with self._lock:
            self._by_account[account_id].add(entry)
        try:
            yield woke
        finally:
            with self._lock:
                waiting = self._by_account.get(account_id)
                if waiting is not None:
                    waiting.discard(entry)
                    if not waiting:
                        del self._by_account[account_id]

    def wake(self, account_id: str) -> None:
        with self._lock:
            waiting = list(self._by_account.get(account_id, ()))
        for loop, woke in waiting:
            with contextlib.suppress(RuntimeError):  # its loop closed: the request is gone
                loop.call_soon_threadsafe(woke.set)


# One per process: account ids are unique, so two apps in one process (tests) never mix.
WAITERS = _Waiters()


def announce(s: Session, account_id: str) -> None:
    """Called for every logged change: wake long-polls of this account once it commits."""
    announced: set[str] = s.info.setdefault(_ANNOUNCED, set())
    if account_id in announced:
        return
    announced.add(account_id)
    if s.get_bind().dialect.name == "postgresql":
        # transactional: delivered at commit, dropped on rollback
        s.execute(text("SELECT pg_notify(:channel, :account)"),
                  {"channel": CHANNEL, "account": account_id})


@event.listens_for(Session, "after_commit")
def _committed(s: Session) -> None:
    for account_id in s.info.pop(_ANNOUNCED, ()):
        WAITERS.wake(account_id)


@event.listens_for(Session, "after_rollback")
def _rolled_back(s: Session) -> None:
    s.info.pop(_ANNOUNCED, None)


class ChangeFeed:
    """What `GET /v1/changes?wait=` waits on; `db_url` given on PostgreSQL (LISTEN/NOTIFY)."""

    def __init__(self, db_url: str | None = None, recheck: float | None = None):
        self._conninfo = (
            None
            if db_url is None
            else make_url(db_url).set(drivername="postgresql").render_as_string(
                hide_password=False
            )
        )
        # SQLite: other workers' changes are seen by looking again; PostgreSQL: NOTIFY wakes,
        # and the look again is a safety net (RECHECK_ENV sets it, e.g. to prove NOTIFY alone).
        if recheck is None and (configured := os.environ.get(RECHECK_ENV)):
            recheck = float(configured)
        self.recheck = recheck if recheck is not None else (5.0 if db_url else 1.0)
        self._listener: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Listen from start-up (in the running loop), so even the first long-poll of this
        process hears a change another process makes; long-polls start it too, if not yet."""
        if self._conninfo is not None and self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(self._listen())

    def listening(self, account_id: str) -> contextlib.AbstractContextManager[asyncio.Event]:
        self.start()
        return WAITERS.listening(account_id)

    async def _listen(self) -> None:
        """This worker's one LISTEN connection; reconnects after a failure."""
        import psycopg

        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo or "", autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    delay = 0.5
                    async for note in conn.notifies():
                        WAITERS.wake(note.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database restarted: long-polls still recheck
                log.warning("change listener: %s; reconnecting in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            self._listener = None
