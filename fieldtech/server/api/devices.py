"""The controller's own side: pairing, heartbeats and fetching its configuration.

A device token reaches only its own controller, so there are no ids in these paths.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import defer

from fieldtech.domain.validation import normalize_serial, serial_error
from fieldtech.server.auth import DeviceTokenHash, State, unauthorized_device
from fieldtech.server.journal import Context, audit, log_change
from fieldtech.server.operations import check_serial_free
from fieldtech.server.problems import Problem, ProblemType, validation
from fieldtech.server.schemas import HeartbeatIn, PairIn
from fieldtech.server.security import new_device_token, normalize_pairing_code, token_hash
from fieldtech.server.tables import (
    ControllerRow,
    DeviceStatusRow,
    DeviceTokenRow,
    PairingCodeRow,
)
from fieldtech.server.views import controller_json, etag, status_json

router = APIRouter(prefix="/v1/device", tags=["devices"])


def _invalid_code() -> Problem:
    # One answer for unknown, used and expired codes: nothing to learn by guessing.
    return Problem(
        ProblemType.PAIRING_CODE_INVALID,
        "This pairing code is unknown, used or expired. Get a new one for this controller.",
        errors=[{"field": "code", "message": "Not a valid pairing code."}],
    )


@router.post("/pair", summary="Trade a one-time pairing code for a device token")
def pair(state: State, body: PairIn, request: Request) -> dict[str, Any]:
    state.pairing_limiter.check(request.client.host if request.client else "unknown")
    serial = normalize_serial(body.serial)
    if message := serial_error(serial):
        raise validation([("serial", message)])
    code_hash = token_hash(normalize_pairing_code(body.code))
    now = state.clock()
    with state.db.read() as s:
        found = s.execute(
            select(PairingCodeRow.controller_id, ControllerRow.account_id)
            .join(ControllerRow, ControllerRow.id == PairingCodeRow.controller_id)
            .where(PairingCodeRow.code_hash == code_hash)
        ).first()
    if found is None or found[1] is None:
        raise _invalid_code()
    controller_id, account_id = found
    token = new_device_token()
    with state.db.write(account_id) as s:
        code = s.get(PairingCodeRow, code_hash)
        if code is None or code.used_at is not None or code.expires_at < now:
            raise _invalid_code()
        row = s.get_one(ControllerRow, controller_id)
        ctx = Context(account_id=account_id, actor=f"device:{serial}", now=now)
        if row.serial is None:
            check_serial_free(s, serial)
            row.serial = serial  # pairing binds the hardware to a "not linked" record
            row.revision += 1
            row.updated_at = now
            s.flush()
            log_change(s, ctx, "controller", row.id, "upsert", controller_json(row))
        elif row.serial != serial:
            raise Problem(
                ProblemType.SERIAL_MISMATCH,
                f"This code is for the controller with serial {row.serial}, not {serial}.",
            )
        code.used_at = now
        # one device token per controller: pairing again replaces the old one
        s.execute(delete(DeviceTokenRow).where(DeviceTokenRow.controller_id == row.id))
        s.add(DeviceTokenRow(token_hash=token_hash(token), controller_id=row.id, created_at=now))
        s.execute(
            update(DeviceStatusRow)
            .where(DeviceStatusRow.controller_id == row.id)
            .values(last_contact=now, firmware=body.firmware)
        )
        audit(
            s,
            ctx,
            "device.paired",
            controller_id=row.id,
            customer_id=row.customer_id,
            detail={"serial": serial, "firmware": body.firmware},
        )
        revision = row.config_revision
    return {"device_token": token, "controller_id": controller_id, "revision": revision}


@router.post("/heartbeat", summary="Report status; answers the latest revision and commands")
def heartbeat(state: State, digest: DeviceTokenHash, body: HeartbeatIn) -> dict[str, Any]:
    now = state.clock()
    # Only the device_status row is written: heartbeats never wait on contractors' edits.
    with state.db.write() as s:
        if s.get_bind().dialect.name == "postgresql":
            # A heartbeat lost in a crash is harmless (the next one comes within a minute),
            # so don't wait for the disk: this is most of the device write load.
            s.execute(text("SET LOCAL synchronous_commit = off"))
        found = s.execute(
            select(DeviceStatusRow, ControllerRow)
            .join(DeviceTokenRow, DeviceTokenRow.controller_id == DeviceStatusRow.controller_id)
            .join(ControllerRow, ControllerRow.id == DeviceStatusRow.controller_id)
            .where(DeviceTokenRow.token_hash == digest)
            .options(defer(ControllerRow.config))  # a heartbeat never needs the document
            .with_for_update(of=DeviceStatusRow)
        ).first()
        if found is None:
            raise unauthorized_device()
        st, row = found
        previous = st.applied_revision
        st.last_contact = now
        if body.applied_revision is not None:
            st.applied_revision = body.applied_revision
        if body.firmware is not None:
            st.firmware = body.firmware
        st.locally_modified = body.locally_modified
        commands = st.commands or []
        if commands:
            st.commands = None
        if row.account_id and body.applied_revision not in (None, previous):
            audit(
                s,
                Context(row.account_id, f"device:{row.serial}", now),
                "config.applied",
                controller_id=row.id,
                customer_id=row.customer_id,
                detail={"revision": body.applied_revision},
            )
        status = status_json(row, st, now)
    return {**status, "commands": commands}


@router.get(
    "/config",
    summary="The configuration; send If-None-Match with the revision you have to get 304",
    responses={304: {"description": "Unchanged since the revision you have"}},
)
def device_config(
    state: State,
    digest: DeviceTokenHash,
    response: Response,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Any:
    with state.db.read() as s:
        found = s.execute(
            select(ControllerRow.id, ControllerRow.config_revision)
            .join(DeviceTokenRow, DeviceTokenRow.controller_id == ControllerRow.id)
            .where(DeviceTokenRow.token_hash == digest)
        ).first()
        if found is None:
            raise unauthorized_device()
        tag = etag(found.config_revision)
        if if_none_match and tag in {
            t.strip().removeprefix("W/") for t in if_none_match.split(",")
        }:
            return Response(status_code=304, headers={"ETag": tag})  # the cheap, common answer
        row = s.get_one(ControllerRow, found.id)
        response.headers["ETag"] = etag(row.config_revision)
        return {
            "controller_id": row.id,
            "revision": row.config_revision,
            "zone_count": row.zone_count,
            "timezone": row.timezone,
            "config": row.config,
        }
