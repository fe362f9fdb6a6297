"""The database side of the two calls every controller makes all day: heartbeat and config poll.

1,000 controllers polling is most of the service's traffic, so these two have their own store:
on PostgreSQL plain SQL through a small pool of async psycopg connections (one round trip per
call, no ORM, no thread hop); elsewhere (SQLite) SQLAlchemy Core in a worker thread. Both
answer the same; `device_gateway.py` and `api/devices.py` are the HTTP side.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Protocol

import anyio.to_thread
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.engine import make_url

from fieldtech.domain.incidents import HEARTBEAT_S
from fieldtech.server.db import Database
from fieldtech.server.heartbeats import Item, answer, apply_heartbeats, report_digest
from fieldtech.server.schemas import HeartbeatIn
from fieldtech.server.tables import AuditRow, ControllerRow, DeviceStatusRow, DeviceTokenRow


class DeviceStore(Protocol):
    async def config_revision(self, digest: str) -> tuple[str, int] | None:
        """(controller id, config revision) of the token with this sha256, or None."""

    async def config(self, controller_id: str) -> dict[str, Any] | None:
        """The configuration document as `GET /v1/device/config` answers it."""

    async def heartbeat(
        self, digest: str, report: HeartbeatIn, now: datetime, heartbeat_s: int = HEARTBEAT_S
    ) -> dict[str, Any] | None:
        """Record a heartbeat; the status plus the commands waiting (handed out once)."""

    async def close(self) -> None: ...


def _config_answer(
    controller_id: str, revision: int, zone_count: int, timezone: str, config: Any
) -> dict[str, Any]:
    return {
        "controller_id": controller_id,
        "revision": revision,
        "zone_count": zone_count,
        "timezone": timezone,
        "config": config,
    }


_token = DeviceTokenRow.__table__
_status = DeviceStatusRow.__table__
_controller = ControllerRow.__table__
_audit = AuditRow.__table__

# Built once: SQLAlchemy then reuses their compiled form.
_CORE_CONFIG_REVISION = (
    select(_controller.c.id, _controller.c.config_revision)
    .join(_token, _token.c.controller_id == _controller.c.id)
    .where(_token.c.token_hash == bindparam("digest"))
)
_CORE_CONFIG = select(
    _controller.c.id,
    _controller.c.config_revision,
    _controller.c.zone_count,
    _controller.c.timezone,
    _controller.c.config,
).where(_controller.c.id == bindparam("controller_id"))
_CORE_DEVICE = (
    select(
        _status.c.controller_id,
        _status.c.applied_revision,
        _status.c.firmware,
        _status.c.uptime_s,
        _status.c.report_digest,
        _status.c.offline_since,
        _status.c.commands_waiting,
        _status.c.out_of_sync_since,
        _controller.c.account_id,
        _controller.c.customer_id,
        _controller.c.serial,
        _controller.c.config_revision,
    )
    .select_from(_token)
    .join(_status, _status.c.controller_id == _token.c.controller_id)
    .join(_controller, _controller.c.id == _token.c.controller_id)
    .where(_token.c.token_hash == bindparam("digest"))
    .with_for_update(of=_status)
)


def _quiet(report: HeartbeatIn, found: Any, digest: str) -> bool:
    """Nothing a person would see changed: the one-statement path may take this heartbeat
    (heartbeats.py takes the others). Mirrors the WHERE of the PostgreSQL `_HEARTBEAT`."""
    applied = found.applied_revision if report.applied_revision is None else report.applied_revision
    return (
        not report.results
        and found.report_digest == digest
        and found.offline_since is None
        and not found.commands_waiting
        and (found.uptime_s is None or report.uptime_s is None or report.uptime_s >= found.uptime_s)
        and not (found.out_of_sync_since is not None and applied == found.config_revision)
        # A newly applied revision is news (the device_state a campaign's confirmation
        # waits for): only the slow path logs it.
        and applied == found.applied_revision
    )


def _quiet_answer(
    controller_id: str,
    serial: str | None,
    config_revision: int,
    applied: int | None,
    firmware: str | None,
    report: HeartbeatIn,
    now: datetime,
    heartbeat_s: int,
) -> dict[str, Any]:
    """The answer to a quiet heartbeat: it changed nothing and no command waits for it."""
    return answer(
        controller_id=controller_id,
        serial=serial,
        config_revision=config_revision,
        last_contact=now,
        applied_revision=applied,
        locally_modified=report.locally_modified,
        firmware=firmware,
        now=now,
        commands=[],
        heartbeat_s=heartbeat_s,
    )


class NewsQueue:
    """Heartbeats that carry news, applied a batch at a time (heartbeats.apply_heartbeats: one
    transaction per account). Each took its account's lock for a whole transaction of its own,
    so one account's fleet reporting news at once — back from an outage — was served ~50 a
    second. Now whatever arrived while earlier batches were being applied goes in the next
    one: a lone heartbeat is applied at once, a storm in batches of up to BATCH."""

    BATCH = 200
    LANES = 4  # batches applied at once: other accounts' news need not wait behind one

    def __init__(self, db: Database):
        self.db = db
        self._waiting: list[tuple[Item, asyncio.Future[dict[str, Any] | None]]] = []
        self._lanes: set[asyncio.Task[None]] = set()

    async def apply(self, item: Item) -> dict[str, Any] | None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[dict[str, Any] | None] = loop.create_future()
        self._waiting.append((item, done))
        # the lanes at work in this loop (one of a loop closed without stopping them would
        # never end, nor make room)
        self._lanes = {t for t in self._lanes if not t.done() and t.get_loop() is loop}
        if len(self._lanes) < self.LANES:
            self._lanes.add(loop.create_task(self._lane()))
        return await done

    async def close(self) -> None:
        """Stop the batches under way: their requests end too (the server is stopping)."""
        for _, done in self._waiting:
            done.cancel()
        self._waiting.clear()
        loop = asyncio.get_running_loop()
        lanes = [t for t in self._lanes if t.get_loop() is loop]
        for task in lanes:
            task.cancel()
        await asyncio.gather(*lanes, return_exceptions=True)
        self._lanes.clear()

    async def _lane(self) -> None:
        while self._waiting:
            batch = self._waiting[: self.BATCH]
            del self._waiting[: self.BATCH]
            try:
                results = await anyio.to_thread.run_sync(
                    apply_heartbeats, self.db, [item for item, _ in batch])
            except asyncio.CancelledError:  # the server stopping: its requests end too
                for _, done in batch:
                    done.cancel()
                raise
            except Exception as error:  # each request answers with it (a 500)
                results = [error] * len(batch)
            for (_, done), result in zip(batch, results, strict=True):
                if done.done():  # its request went away (the device hung up)
                    continue
                if isinstance(result, Exception):
                    done.set_exception(result)
                else:
                    done.set_result(result)


class CoreDeviceStore:
    """SQLAlchemy Core in a worker thread: any database SQLAlchemy supports (SQLite here)."""

    def __init__(self, db: Database):
        self.db = db
        self._news = NewsQueue(db)

    async def config_revision(self, digest: str) -> tuple[str, int] | None:
        return await anyio.to_thread.run_sync(self._config_revision, digest)

    async def config(self, controller_id: str) -> dict[str, Any] | None:
        return await anyio.to_thread.run_sync(self._config, controller_id)

    async def heartbeat(
        self, digest: str, report: HeartbeatIn, now: datetime, heartbeat_s: int = HEARTBEAT_S
    ) -> dict[str, Any] | None:
        quiet = await anyio.to_thread.run_sync(self._heartbeat, digest, report, now, heartbeat_s)
        if quiet is not False:
            return quiet
        return await self._news.apply((digest, report, now, heartbeat_s))

    async def close(self) -> None:
        await self._news.close()

    def _config_revision(self, digest: str) -> tuple[str, int] | None:
        with self.db.read_connection() as conn:
            found = conn.execute(_CORE_CONFIG_REVISION, {"digest": digest}).first()
        return None if found is None else (found[0], found[1])

    def _config(self, controller_id: str) -> dict[str, Any] | None:
        with self.db.read_connection() as conn:
            found = conn.execute(_CORE_CONFIG, {"controller_id": controller_id}).first()
        return None if found is None else _config_answer(*found)

    def _heartbeat(
        self, digest: str, report: HeartbeatIn, now: datetime, heartbeat_s: int
    ) -> dict[str, Any] | bool | None:
        """The answer, None for an unknown token, or False: not quiet, heartbeats.py takes it."""
        # Only the device_status row is written: heartbeats never wait on contractors' edits.
        report_digest_ = report_digest(report)
        with self.db.write_connection() as conn:
            if conn.dialect.name == "postgresql":
                # A heartbeat lost in a crash is harmless (the next one comes within a minute).
                conn.execute(text("SET LOCAL synchronous_commit = off"))
            found = conn.execute(_CORE_DEVICE, {"digest": digest}).first()
            if found is None:
                return None
            if not _quiet(report, found, report_digest_):
                return False
            cid, previous, firmware = found.controller_id, found.applied_revision, found.firmware
            revision = found.config_revision
            applied = previous if report.applied_revision is None else report.applied_revision
            changes: dict[str, Any] = {
                "last_contact": now,
                "applied_revision": applied,
                "locally_modified": report.locally_modified,
                "uptime_s": found.uptime_s if report.uptime_s is None else report.uptime_s,
            }
            if applied is not None and applied != revision and found.out_of_sync_since is None:
                changes["out_of_sync_since"] = now
            conn.execute(update(_status).where(_status.c.controller_id == cid).values(changes))
            if found.account_id and report.applied_revision not in (None, previous):
                conn.execute(
                    insert(_audit).values(
                        account_id=found.account_id,
                        controller_id=cid,
                        customer_id=found.customer_id,
                        actor=f"device:{found.serial}",
                        action="config.applied",
                        detail={"revision": report.applied_revision},
                        at=now,
                    )
                )
        return _quiet_answer(cid, found.serial, revision, applied, firmware, report, now,
                             heartbeat_s)


_CONFIG_REVISION = """
SELECT c.id, c.config_revision
FROM device_token t JOIN controller c ON c.id = t.controller_id
WHERE t.token_hash = %(digest)s
"""

_CONFIG = "SELECT id, config_revision, zone_count, timezone, config FROM controller WHERE id = %s"

# One statement, so one round trip and one atomic change: lock the status row, update it if the
# heartbeat is quiet (the same test as `_quiet`), and write the audit entry when the device
# reports a newly applied revision. A heartbeat that is not quiet changes nothing here and comes
# back with fast = false: heartbeats.py takes it in one transaction with its incidents.
_HEARTBEAT = """
WITH old AS (
    SELECT s.controller_id, s.applied_revision, s.firmware, s.uptime_s, s.report_digest,
        s.offline_since, s.commands_waiting, s.out_of_sync_since,
        c.account_id, c.customer_id, c.serial, c.config_revision,
        COALESCE(%(applied)s::integer, s.applied_revision) AS applied
    FROM device_token t JOIN device_status s ON s.controller_id = t.controller_id
        JOIN controller c ON c.id = t.controller_id
    WHERE t.token_hash = %(digest)s
    FOR UPDATE OF s
), beat AS (
    UPDATE device_status s SET
        last_contact = %(now)s,
        applied_revision = old.applied,
        locally_modified = %(locally_modified)s,
        uptime_s = COALESCE(%(uptime)s::integer, s.uptime_s),
        out_of_sync_since = CASE WHEN old.applied IS DISTINCT FROM old.config_revision
            AND old.applied IS NOT NULL THEN COALESCE(s.out_of_sync_since, %(now)s) END
    FROM old
    WHERE s.controller_id = old.controller_id
        AND old.report_digest = %(report)s
        AND old.offline_since IS NULL
        AND NOT old.commands_waiting
        AND (old.uptime_s IS NULL OR %(uptime)s::integer IS NULL
            OR %(uptime)s::integer >= old.uptime_s)
        AND NOT (old.out_of_sync_since IS NOT NULL AND old.applied = old.config_revision)
        AND old.applied IS NOT DISTINCT FROM old.applied_revision
    RETURNING s.controller_id
), logged AS (
    INSERT INTO audit (account_id, controller_id, customer_id, actor, action, detail, at)
    SELECT old.account_id, old.controller_id, old.customer_id,
        'device:' || COALESCE(old.serial, 'None'), 'config.applied',
        json_build_object('revision', %(applied)s::integer), %(now)s
    FROM old JOIN beat ON beat.controller_id = old.controller_id
    WHERE old.account_id IS NOT NULL AND %(applied)s::integer IS NOT NULL
        AND %(applied)s::integer IS DISTINCT FROM old.applied_revision
)
SELECT old.controller_id, old.serial, old.config_revision, old.applied, old.firmware,
    beat.controller_id IS NOT NULL AS quiet
FROM old LEFT JOIN beat ON beat.controller_id = old.controller_id
"""


class PostgresDeviceStore:
    """Plain SQL over a few async psycopg connections, made on first use in the serving loop.

    The connections are in autocommit with `synchronous_commit = off`: each call is one
    statement, and a heartbeat lost in a crash is harmless (the next comes within a minute).
    """

    def __init__(self, url: str, size: int = 8, db: Database | None = None):
        self.db = db  # for heartbeats that change something (heartbeats.py)
        self._news = NewsQueue(db) if db is not None else None
        # SQLAlchemy's URL (postgresql+psycopg://…) → a libpq one
        self._conninfo = (
            make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        self._gate = asyncio.Semaphore(size)  # at most `size` connections, in use or idle
        self._idle: list[Any] = []

    async def config_revision(self, digest: str) -> tuple[str, int] | None:
        async with self._connection() as conn:
            cur = await conn.execute(_CONFIG_REVISION, {"digest": digest})
            row = await cur.fetchone()
        return None if row is None else (row[0], row[1])

    async def config(self, controller_id: str) -> dict[str, Any] | None:
        async with self._connection() as conn:
            cur = await conn.execute(_CONFIG, (controller_id,))
            row = await cur.fetchone()
        return None if row is None else _config_answer(*row)

    async def heartbeat(
        self, digest: str, report: HeartbeatIn, now: datetime, heartbeat_s: int = HEARTBEAT_S
    ) -> dict[str, Any] | None:
        if not report.results:  # results always take the full path: they finish commands
            params = {
                "digest": digest,
                "now": now,
                "applied": report.applied_revision,
                "locally_modified": report.locally_modified,
                "uptime": report.uptime_s,
                "report": report_digest(report),
            }
            async with self._connection() as conn:
                cur = await conn.execute(_HEARTBEAT, params)
                row = await cur.fetchone()
            if row is None:
                return None
            cid, serial, config_revision, applied, firmware, quiet = row
            if quiet:
                return _quiet_answer(cid, serial, config_revision, applied, firmware, report,
                                     now, heartbeat_s)
        assert self._news is not None, "PostgresDeviceStore needs the Database for full heartbeats"
        return await self._news.apply((digest, report, now, heartbeat_s))

    async def close(self) -> None:
        if self._news is not None:
            await self._news.close()
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        async with self._gate:
            conn = self._idle.pop() if self._idle else await self._connect()
            try:
                yield conn
            except BaseException:
                # broken, or cancelled mid-query: never reuse it; the next call makes a new one
                await conn.close()
                raise
            finally:
                if not conn.closed:
                    self._idle.append(conn)

    async def _connect(self) -> Any:
        import psycopg

        conn = await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, prepare_threshold=0
        )
        await conn.execute("SET synchronous_commit = off")
        return conn
