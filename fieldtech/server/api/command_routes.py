"""Remote commands through the cloud: send one to a controller, list its commands."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response
from sqlalchemy import select

from fieldtech.domain.incidents import offline_after
from fieldtech.server import remote_commands
from fieldtech.server.api.controllers import (
    _MAY_MODIFY,
    _MAY_VIEW,
    _actor_context,
    _visible_controller,
)
from fieldtech.server.auth import Caller, State, User
from fieldtech.server.journal import audit
from fieldtech.server.problems import Problem, ProblemType
from fieldtech.server.schemas import CommandIn
from fieldtech.server.state import ServerState
from fieldtech.server.tables import CommandRow, DeviceStatusRow, DeviceTokenRow

router = APIRouter(prefix="/v1/controllers", tags=["devices"])


def send_command(
    state: ServerState,
    caller: Caller,
    controller_id: str,
    body: CommandIn,
    *,
    require_paired: bool = True,
) -> tuple[CommandRow, bool]:
    """(the command, whether it was queued now: False when its key replayed an earlier one)."""
    need = _MAY_VIEW if body.kind in remote_commands.RUN_KINDS else _MAY_MODIFY
    with state.db.read() as s:
        account_id = _visible_controller(s, caller, controller_id, need).account_id
    if account_id is None:
        raise Problem(
            ProblemType.FORBIDDEN,
            "Remote commands go through a contractor's account; this controller has none.",
        )
    with state.db.write(account_id) as s:
        row = _visible_controller(s, caller, controller_id, need)
        ctx = _actor_context(state, caller, row)
        key = body.key or str(uuid.uuid4())
        params = remote_commands.checked_params(body.kind, body.params, row.zone_count)
        kept = s.scalars(
            select(CommandRow).where(CommandRow.account_id == account_id, CommandRow.key == key)
        ).first()
        if kept is not None:
            if (kept.controller_id, kept.kind, kept.params) != (row.id, body.kind, params):
                raise Problem(
                    ProblemType.IDEMPOTENCY_KEY_REUSED,
                    "This key was used for a different command. Use a new key per command.",
                )
            return kept, False
        paired = s.scalar(
            select(DeviceTokenRow.controller_id).where(DeviceTokenRow.controller_id == row.id)
        )
        if require_paired and paired is None:
            raise remote_commands.not_paired()
        # locked: a heartbeat taking the queued commands at this moment sees this one or not at
        # all, never half (the flag and the row commit together)
        status = s.get_one(DeviceStatusRow, row.id, with_for_update=True)
        gone = (
            status.offline_since is not None
            or status.last_contact is None
            or ctx.now - status.last_contact > offline_after(state.heartbeat_s)
        )
        if require_paired and gone and not body.queue_if_offline:
            raise remote_commands.offline(status.offline_since or status.last_contact)
        command = remote_commands.queue(s, ctx, row, status, body.kind, params, key)
        audit(s, ctx, f"command.{body.kind}", controller_id=row.id, customer_id=row.customer_id,
              detail={"command": command.id, "params": params, "queued_offline": gone})
        return command, True


@router.post(
    "/{controller_id}/commands",
    status_code=202,
    summary="Send a command (delivered with the device's next heartbeat)",
)
def post_command(
    state: State, caller: User, controller_id: str, body: CommandIn, response: Response
) -> dict[str, Any]:
    command, _new = send_command(state, caller, controller_id, body)
    return remote_commands.command_json(command)


@router.get("/{controller_id}/commands", summary="The controller's commands, newest first")
def list_commands(state: State, caller: User, controller_id: str) -> dict[str, Any]:
    with state.db.read() as s:
        row = _visible_controller(s, caller, controller_id, _MAY_VIEW)
        rows = s.scalars(
            select(CommandRow)
            .where(CommandRow.controller_id == row.id)
            .order_by(CommandRow.created_at.desc(), CommandRow.id)
            .limit(200)
        ).all()
    return {"commands": [remote_commands.command_json(c) for c in rows]}
