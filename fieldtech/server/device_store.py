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

from fieldtech.server.db import Database
from fieldtech.server.schemas import HeartbeatIn
from fieldtech.server.tables import AuditRow, ControllerRow, DeviceStatusRow, DeviceTokenRow
from fieldtech.server.views import device_status_json


class DeviceStore(Protocol):
    async def config_revision(self, digest: str) -> tuple[str, int] | None:
        """(controller id, config revision) of the token with this sha256, or None."""

    async def config(self, controller_id: str) -> dict[str, Any] | None:
        """The configuration document as `GET /v1/device/config` answers it."""

    async def heartbeat(
        self, digest: str, report: HeartbeatIn, now: datetime
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
        _status.c.commands,
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


class CoreDeviceStore:
    """SQLAlchemy Core in a worker thread: any database SQLAlchemy supports (SQLite here)."""

    def __init__(self, db: Database):
        self.db = db

    async def config_revision(self, digest: str) -> tuple[str, int] | None:
        return await anyio.to_thread.run_sync(self._config_revision, digest)

    async def config(self, controller_id: str) -> dict[str, Any] | None:
        return await anyio.to_thread.run_sync(self._config, controller_id)

    async def heartbeat(
        self, digest: str, report: HeartbeatIn, now: datetime
    ) -> dict[str, Any] | None:
        return await anyio.to_thread.run_sync(self._heartbeat, digest, report, now)

    async def close(self) -> None:
        pass

    def _config_revision(self, digest: str) -> tuple[str, int] | None:
        with self.db.read_connection() as conn:
            found = conn.execute(_CORE_CONFIG_REVISION, {"digest": digest}).first()
        return None if found is None else (found[0], found[1])

    def _config(self, controller_id: str) -> dict[str, Any] | None:
        with self.db.read_connection() as conn:
            found = conn.execute(_CORE_CONFIG, {"controller_id": controller_id}).first()
        return None if found is None else _config_answer(*found)

    def _heartbeat(self, digest: str, report: HeartbeatIn, now: datetime) -> dict[str, Any] | None:
        # Only the device_status row is written: heartbeats never wait on contractors' edits.
        with self.db.write_connection() as conn:
            if conn.dialect.name == "postgresql":
                # A heartbeat lost in a crash is harmless (the next one comes within a minute).
                conn.execute(text("SET LOCAL synchronous_commit = off"))
            found = conn.execute(_CORE_DEVICE, {"digest": digest}).first()
            if found is None:
                return None
            cid, previous, firmware, commands, account_id, customer_id, serial, revision = found
            applied = previous if report.applied_revision is None else report.applied_revision
            firmware = firmware if report.firmware is None else report.firmware
            changes: dict[str, Any] = {
                "last_contact": now,
                "applied_revision": applied,
                "firmware": firmware,
                "locally_modified": report.locally_modified,
            }
            if commands:
                changes["commands"] = None  # handed out now, so never again
            conn.execute(update(_status).where(_status.c.controller_id == cid).values(changes))
            if account_id and report.applied_revision not in (None, previous):
                conn.execute(
                    insert(_audit).values(
                        account_id=account_id,
                        controller_id=cid,
                        customer_id=customer_id,
                        actor=f"device:{serial}",
                        action="config.applied",
                        detail={"revision": report.applied_revision},
                        at=now,
                    )
                )
        status = device_status_json(
            controller_id=cid,
            serial=serial,
            config_revision=revision,
            last_contact=now,
            applied_revision=applied,
            locally_modified=report.locally_modified,
            firmware=firmware,
            now=now,
        )
        return {**status, "commands": commands or []}


_CONFIG_REVISION = """
SELECT c.id, c.config_revision
FROM device_token t JOIN controller c ON c.id = t.controller_id
WHERE t.token_hash = %(digest)s
"""

_CONFIG = "SELECT id, config_revision, zone_count, timezone, config FROM controller WHERE id = %s"

# One statement, so one round trip and one atomic change: lock the status row (two heartbeats of
# one device must not both hand out its commands), update it, and write the audit entry when the
# device reports a newly applied revision (as CoreDeviceStore does).
_HEARTBEAT = """
WITH old AS (
    SELECT s.controller_id, s.applied_revision, s.commands
    FROM device_token t JOIN device_status s ON s.controller_id = t.controller_id
    WHERE t.token_hash = %(digest)s
    FOR UPDATE OF s
), beat AS (
    UPDATE device_status s SET
        last_contact = %(now)s,
        applied_revision = COALESCE(%(applied)s::integer, s.applied_revision),
        firmware = COALESCE(%(firmware)s, s.firmware),
        locally_modified = %(locally_modified)s,
        commands = NULL
    FROM old
    WHERE s.controller_id = old.controller_id
    RETURNING s.controller_id, s.last_contact, s.applied_revision, s.firmware,
        s.locally_modified, old.applied_revision AS previous, old.commands
), info AS (
    SELECT beat.*, c.account_id, c.customer_id, c.serial, c.config_revision
    FROM beat JOIN controller c ON c.id = beat.controller_id
), logged AS (
    INSERT INTO audit (account_id, controller_id, customer_id, actor, action, detail, at)
    SELECT account_id, controller_id, customer_id,
        'device:' || COALESCE(serial, 'None'), 'config.applied',
        json_build_object('revision', %(applied)s::integer), %(now)s
    FROM info
    WHERE account_id IS NOT NULL AND %(applied)s::integer IS NOT NULL
        AND %(applied)s::integer IS DISTINCT FROM previous
)
SELECT controller_id, serial, config_revision, last_contact, applied_revision, locally_modified,
    firmware, commands
FROM info
"""


class PostgresDeviceStore:
    """Plain SQL over a few async psycopg connections, made on first use in the serving loop.

    The connections are in autocommit with `synchronous_commit = off`: each call is one
    statement, and a heartbeat lost in a crash is harmless (the next comes within a minute).
    """

    def __init__(self, url: str, size: int = 8):
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
        self, digest: str, report: HeartbeatIn, now: datetime
    ) -> dict[str, Any] | None:
        params = {
            "digest": digest,
            "now": now,
            "applied": report.applied_revision,
            "firmware": report.firmware,
            "locally_modified": report.locally_modified,
        }
        async with self._connection() as conn:
            cur = await conn.execute(_HEARTBEAT, params)
            row = await cur.fetchone()
        if row is None:
            return None
        cid, serial, config_revision, last, applied, modified, firmware, commands = row
        status = device_status_json(
            controller_id=cid,
            serial=serial,
            config_revision=config_revision,
            last_contact=last,
            applied_revision=applied,
            locally_modified=modified,
            firmware=firmware,
            now=now,
        )
        return {**status, "commands": commands or []}

    async def close(self) -> None:
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
