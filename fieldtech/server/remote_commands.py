"""Remote commands (CONTRACT-10): checked and queued for a person, handed out with a heartbeat,
finished by the device's report, expired by the sweeper. Call inside `Database.write(account)`."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldtech.domain.incidents import COMMAND_KINDS
from fieldtech.server.journal import Context, log_change
from fieldtech.server.problems import Problem, ProblemType, validation
from fieldtech.server.tables import CommandRow, ControllerRow, DeviceStatusRow
from fieldtech.server.views import iso

EXPIRE_AFTER = timedelta(minutes=10)  # queued or delivered this long with no result: expired
KINDS = COMMAND_KINDS
# What a customer with "view and run zones" may send; everything else changes the controller.
RUN_KINDS = frozenset({"zone.run", "zone.stop"})
MAX_RUN_SECONDS = 64800  # 18 h, as the run-zone route always allowed
MAX_RAIN_DELAY_HOURS = 24 * 14

# Commands are "run once": a command not yet finished when this comes again is not rerun.
OPEN_STATES = ("queued", "delivered")


def command_json(c: CommandRow) -> dict[str, Any]:
    return {
        "id": c.id,
        "controller_id": c.controller_id,
        "kind": c.kind,
        "params": c.params,
        "state": c.state,
        "message": c.message,
        "created_at": iso(c.created_at),
        "delivered_at": iso(c.delivered_at),
        "finished_at": iso(c.finished_at),
        "created_by": c.created_by,
    }


def _int(params: dict[str, Any], name: str, low: int, high: int) -> int:
    value = params.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise validation([(f"params.{name}", f"A whole number from {low} to {high}.")])
    return value


def checked_params(kind: str, params: dict[str, Any], zone_count: int) -> dict[str, Any]:
    """The params the device gets, or 422 naming the field (unknown kind, zone out of range)."""
    match kind:
        case "zone.run":
            return {
                "zone": _int(params, "zone", 1, zone_count),
                "seconds": _int(params, "seconds", 1, MAX_RUN_SECONDS),
            }
        case "rain_delay.set":
            return {"hours": _int(params, "hours", 0, MAX_RAIN_DELAY_HOURS)}
        case "device.enable":
            if not isinstance(params.get("enabled"), bool):
                raise validation([("params.enabled", "true or false.")])
            return {"enabled": params["enabled"]}
        case "zone.stop" | "device.reboot" | "config.fetch":
            return {}
    raise validation([("kind", f"Unknown command. One of: {', '.join(KINDS)}.")])


def not_paired() -> Problem:
    return Problem(
        ProblemType.NOT_PAIRED,
        "This controller has never been paired with the cloud, so nothing can reach it. "
        "Pair it on site first (pairing code), then send the command again.",
    )


def offline(since: datetime | None) -> Problem:
    when = f" since {iso(since)}" if since else ""
    return Problem(
        ProblemType.CONTROLLER_OFFLINE,
        f"The controller is offline{when}: the command would wait for it to come back. "
        "Send it with queue_if_offline to queue it anyway (it expires after 10 minutes).",
    )


def queue(
    s: Session,
    ctx: Context,
    controller: ControllerRow,
    status: DeviceStatusRow,
    kind: str,
    params: dict[str, Any],
    key: str,
) -> CommandRow:
    """Queue a checked command and flag the device's status row, so its next heartbeat leaves
    the one-statement path and takes the command."""
    row = CommandRow(
        id=str(uuid.uuid4()),
        account_id=ctx.account_id,
        controller_id=controller.id,
        key=key,
        kind=kind,
        params=params,
        state="queued",
        created_by=ctx.actor,
        created_at=ctx.now,
        expires_at=ctx.now + EXPIRE_AFTER,
    )
    s.add(row)
    status.commands_waiting = True
    s.flush()
    log_change(s, ctx, "command", row.id, "upsert", command_json(row))
    return row


def deliver(s: Session, ctx: Context, controller_id: str) -> list[dict[str, Any]]:
    """The queued commands of this controller as the heartbeat answer hands them out (once)."""
    rows = s.scalars(
        select(CommandRow)
        .where(CommandRow.controller_id == controller_id, CommandRow.state == "queued")
        .order_by(CommandRow.created_at, CommandRow.id)
    ).all()
    handed: list[dict[str, Any]] = []
    for row in rows:
        if row.expires_at <= ctx.now:
            finish(s, ctx, row, "expired", "Not delivered within 10 minutes.")
            continue
        row.state = "delivered"
        row.delivered_at = ctx.now
        s.flush()
        log_change(s, ctx, "command", row.id, "upsert", command_json(row))
        handed.append({"id": row.id, "kind": row.kind, "params": row.params})
    return handed


def finish(s: Session, ctx: Context, row: CommandRow, state: str, message: str | None) -> None:
    row.state = state
    row.message = message
    row.finished_at = ctx.now
    s.flush()
    log_change(s, ctx, "command", row.id, "upsert", command_json(row))


def record_results(
    s: Session, ctx: Context, controller_id: str, results: list[tuple[str, bool, str]]
) -> None:
    """A device's reports; a repeated report of a finished command is ignored (CONTRACT-10)."""
    ids = [r[0] for r in results]
    rows = {
        row.id: row
        for row in s.scalars(
            select(CommandRow).where(
                CommandRow.controller_id == controller_id,
                CommandRow.id.in_(ids),
                CommandRow.state.in_(OPEN_STATES),
            )
        )
    }
    for command_id, ok, message in results:
        row = rows.pop(command_id, None)
        if row is not None:
            finish(s, ctx, row, "done" if ok else "failed", message)
