"""The controller's own side: pairing, heartbeats and fetching its configuration.

A device token reaches only its own controller, so there are no ids in these paths.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from sqlalchemy import delete, select, update

from fieldtech.domain.validation import normalize_serial, serial_error
from fieldtech.server.auth import DeviceTokenHash, State, client_address, unauthorized_device
from fieldtech.server.journal import Context, audit, log_change
from fieldtech.server.operations import check_serial_free
from fieldtech.server.problems import Problem, ProblemType, validation
from fieldtech.server.schemas import HeartbeatIn, PairIn
from fieldtech.server.security import new_device_token, normalize_pairing_code, token_hash
from fieldtech.server.state import ServerState
from fieldtech.server.tables import (
    ControllerRow,
    DeviceStatusRow,
    DeviceTokenRow,
    PairingCodeRow,
)
from fieldtech.server.views import controller_json, etag

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
    address = client_address(request)
    # This process's bucket first, in memory: a flood is turned away without a database write.
    # Then the one every server process shares, so N processes do not allow N× the guesses.
    state.pairing_limiter.check(address)
    state.guesses.take((f"pair|{address}", state.limits.pairing))
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
            check_serial_free(s, account_id, serial)
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


async def record_heartbeat(state: ServerState, digest: str, report: HeartbeatIn) -> dict[str, Any]:
    """The heartbeat's answer: status plus the commands waiting, each handed out once."""
    answer = await state.devices.heartbeat(digest, report, state.clock(), state.heartbeat_s)
    if answer is None:
        raise unauthorized_device()
    state.device_limiter.vouch(digest)
    return answer


async def poll_config(
    state: ServerState, digest: str, if_none_match: str | None
) -> tuple[dict[str, Any] | None, str]:
    """(the document, or None when the device has this revision already; its ETag)."""
    found = await state.devices.config_revision(digest)
    if found is None:
        raise unauthorized_device()
    controller_id, revision = found
    state.device_limiter.vouch(digest)
    tag = etag(revision)
    if if_none_match and tag in {t.strip().removeprefix("W/") for t in if_none_match.split(",")}:
        return None, tag  # the cheap, common answer: one indexed query, no document
    document = await state.devices.config(controller_id)
    if document is None:  # deleted in between: its token went with it
        raise unauthorized_device()
    return document, etag(document["revision"])


# Both are answered by `device_gateway.py` before FastAPI's routing; these routes document them
# in the OpenAPI spec and answer what the gateway hands on (bodies that fail validation).
@router.post("/heartbeat", summary="Report status; answers the latest revision and commands")
async def heartbeat(state: State, digest: DeviceTokenHash, body: HeartbeatIn) -> dict[str, Any]:
    return await record_heartbeat(state, digest, body)


@router.get(
    "/config",
    summary="The configuration; send If-None-Match with the revision you have to get 304",
    responses={304: {"description": "Unchanged since the revision you have"}},
)
async def device_config(
    state: State,
    digest: DeviceTokenHash,
    response: Response,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Any:
    document, tag = await poll_config(state, digest, if_none_match)
    if document is None:
        return Response(status_code=304, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return document
