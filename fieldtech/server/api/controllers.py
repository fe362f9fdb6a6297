"""Controllers: CRUD, the configuration document (ETag / If-Match), pairing codes, status,
zone runs. Customers who may manage their own controllers reach a subset of these."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Response
from sqlalchemy import delete, select

from fieldtech.domain.plans import SelfManagement
from fieldtech.server import operations as ops
from fieldtech.server.api.common import IfMatch, context, parse_if_match
from fieldtech.server.auth import Caller, Staff, State, User
from fieldtech.server.journal import Context, audit
from fieldtech.server.problems import Problem, ProblemType, not_found
from fieldtech.server.schemas import CommandIn, ConfigIn, ControllerIn, ControllerPatch, RunZoneIn
from fieldtech.server.security import new_pairing_code, token_hash
from fieldtech.server.tables import (
    ControllerRow,
    CustomerRow,
    DeviceStatusRow,
    PairingCodeRow,
)
from fieldtech.server.views import config_json, controller_json, etag, iso, status_json

router = APIRouter(prefix="/v1", tags=["controllers"])
PAIRING_CODE_LIFETIME = timedelta(hours=1)

# What a customer's self-management level lets them do.
_MAY_VIEW = {SelfManagement.VIEW_AND_RUN, SelfManagement.MODIFY}
_MAY_MODIFY = {SelfManagement.MODIFY}


def _visible_controller(s, caller: Caller, controller_id: str, need: set[SelfManagement]):  # type: ignore[no-untyped-def]
    """The controller if the caller may reach it with `need`: staff of its account, or its own
    customer with enough self-management. Everyone else gets 404 (or 403 for a customer who
    may see but not do this)."""
    row = s.get(ControllerRow, controller_id)
    if row is None:
        raise not_found("controller")
    if caller.is_staff:
        if row.account_id != caller.account_id:
            raise not_found("controller")
        return row
    if row.customer_id != caller.customer_id:
        raise not_found("controller")
    level = _self_management(s, caller)
    if level not in _MAY_VIEW:
        raise not_found("controller")
    if level not in need:
        raise Problem(
            ProblemType.FORBIDDEN,
            f"Your contractor lets you {level.label.lower()} only.",
            fix="Ask your contractor for the 'Modify' permission.",
        )
    return row


def _self_management(s, caller: Caller) -> SelfManagement:  # type: ignore[no-untyped-def]
    customer = s.get(CustomerRow, caller.customer_id)
    if customer is None or customer.account_id is None:
        # An unlinked customer's controllers are looked after by nobody but them: view only
        # here; editing is for a contractor's account.
        return SelfManagement.VIEW_AND_RUN if customer else SelfManagement.NONE
    return SelfManagement(customer.self_management)


def _actor_context(state, caller: Caller, row: ControllerRow) -> Context:  # type: ignore[no-untyped-def]
    if caller.is_staff:
        return context(state, caller)
    assert row.account_id is not None
    return Context(account_id=row.account_id, actor=f"customer:{caller.email}", now=state.clock())


@router.get("/controllers", summary="Controllers of the account (a customer: their own)")
def list_controllers(state: State, caller: User, customer_id: str | None = None) -> dict[str, Any]:
    query = select(ControllerRow)
    with state.db.read() as s:
        if caller.is_staff:
            query = query.where(ControllerRow.account_id == caller.account_id)
            if customer_id:
                query = query.where(ControllerRow.customer_id == customer_id)
        elif _self_management(s, caller) in _MAY_VIEW:
            query = query.where(ControllerRow.customer_id == caller.customer_id)
        else:
            return {"controllers": []}
        rows = s.scalars(query.order_by(ControllerRow.name, ControllerRow.id)).all()
    return {"controllers": [controller_json(c) for c in rows]}


@router.post(
    "/controllers", status_code=201, summary="Create a controller (counts toward the plan)"
)
def create_controller(
    state: State, caller: Staff, body: ControllerIn, response: Response
) -> dict[str, Any]:
    ctx = context(state, caller)
    with state.db.write(ctx.account_id) as s:
        row = ops.create_controller(s, ctx, body)
        response.headers["ETag"] = etag(row.revision)
        return controller_json(row)


@router.get("/controllers/{controller_id}", summary="One controller")
def get_controller(
    state: State, caller: User, controller_id: str, response: Response
) -> dict[str, Any]:
    with state.db.read() as s:
        row = _visible_controller(s, caller, controller_id, _MAY_VIEW)
        response.headers["ETag"] = etag(row.revision)
        return controller_json(row)


@router.patch(
    "/controllers/{controller_id}",
    summary="Edit, move to another customer, or assign / remove the serial (If-Match optional)",
)
def update_controller(
    state: State,
    caller: Staff,
    controller_id: str,
    body: ControllerPatch,
    response: Response,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    base = parse_if_match(if_match, required=False)
    ctx = context(state, caller)
    with state.db.write(ctx.account_id) as s:
        row = ops.update_controller(s, ctx, controller_id, body, base)
        response.headers["ETag"] = etag(row.revision)
        return controller_json(row)


@router.delete("/controllers/{controller_id}", status_code=204, summary="Delete a controller")
def delete_controller(
    state: State, caller: Staff, controller_id: str, if_match: IfMatch = None
) -> None:
    base = parse_if_match(if_match, required=False)
    ctx = context(state, caller)
    with state.db.write(ctx.account_id) as s:
        ops.delete_controller(s, ctx, controller_id, base)


@router.get("/controllers/{controller_id}/config", summary="The configuration; ETag = revision")
def get_config(
    state: State, caller: User, controller_id: str, response: Response
) -> dict[str, Any]:
    with state.db.read() as s:
        row = _visible_controller(s, caller, controller_id, _MAY_VIEW)
        response.headers["ETag"] = etag(row.config_revision)
        return config_json(row)


@router.put(
    "/controllers/{controller_id}/config",
    summary="Replace the configuration; If-Match required, 412 with the server copy if stale",
)
def put_config(
    state: State,
    caller: User,
    controller_id: str,
    body: ConfigIn,
    response: Response,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    with state.db.read() as s:
        account_id = _visible_controller(s, caller, controller_id, _MAY_MODIFY).account_id
    base = parse_if_match(if_match, required=True)
    assert base is not None
    with state.db.write(account_id) as s:
        row = _visible_controller(s, caller, controller_id, _MAY_MODIFY)
        row = ops.put_config(s, _actor_context(state, caller, row), controller_id, body, base)
        response.headers["ETag"] = etag(row.config_revision)
        return config_json(row)


@router.get("/controllers/{controller_id}/status", tags=["devices"], summary="Online, last contact")
def get_status(state: State, caller: User, controller_id: str) -> dict[str, Any]:
    with state.db.read() as s:
        row = _visible_controller(s, caller, controller_id, _MAY_VIEW)
        return status_json(row, s.get(DeviceStatusRow, row.id), state.clock(),
                           state.heartbeat_s)


@router.post(
    "/controllers/{controller_id}/run",
    status_code=202,
    tags=["devices"],
    summary="Run a zone now (a zone.run command; see POST /v1/controllers/{id}/commands)",
)
def run_zone(state: State, caller: User, controller_id: str, body: RunZoneIn) -> dict[str, Any]:
    from fieldtech.server.api.command_routes import send_command
    from fieldtech.server.remote_commands import command_json

    # As it always did: queued whether or not the device is reachable now.
    command, _ = send_command(
        state,
        caller,
        controller_id,
        CommandIn(kind="zone.run", params={"zone": body.zone, "seconds": body.seconds},
                  queue_if_offline=True),
        require_paired=False,
    )
    return {"queued": {"id": command.id, "kind": command.kind, "params": command.params},
            "command": command_json(command)}


@router.get("/controllers/{controller_id}/audit", tags=["account"], summary="Audit of a controller")
def controller_audit(state: State, caller: Staff, controller_id: str) -> dict[str, Any]:
    from fieldtech.server.api.account import audit_log

    with state.db.read() as s:
        ops.get_controller(s, caller.account_id or "", controller_id)
    return audit_log(state, caller, controller_id=controller_id)


@router.post(
    "/controllers/{controller_id}/pairing-code",
    tags=["devices"],
    summary="A one-time code the controller presents to get its device token",
)
def pairing_code(state: State, caller: Staff, controller_id: str) -> dict[str, Any]:
    ctx = context(state, caller)
    code = new_pairing_code()
    with state.db.write(ctx.account_id) as s:
        row = ops.get_controller(s, ctx.account_id, controller_id)
        # one live code per controller: a new code replaces any older one
        s.execute(delete(PairingCodeRow).where(PairingCodeRow.controller_id == row.id))
        expires = ctx.now + PAIRING_CODE_LIFETIME
        s.add(PairingCodeRow(code_hash=token_hash(code), controller_id=row.id, expires_at=expires))
        audit(s, ctx, "device.pairing_code", controller_id=row.id, customer_id=row.customer_id)
    return {"code": code, "controller_id": controller_id, "expires_at": iso(expires)}
