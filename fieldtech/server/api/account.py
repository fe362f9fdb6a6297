"""The account: tier and usage, tier changes, the change log (sync) and the audit log."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Query, Response
from sqlalchemy import Text, cast, select

from fieldtech.domain.plans import Tier, usage
from fieldtech.server import quota
from fieldtech.server.api.common import context, permissions
from fieldtech.server.auth import Owner, Staff, State, confirm_owner
from fieldtech.server.documents import may_see
from fieldtech.server.journal import audit, log_change
from fieldtech.server.memberships import account_timezone
from fieldtech.server.problems import Problem, ProblemType
from fieldtech.server.schemas import TierIn
from fieldtech.server.state import ServerState
from fieldtech.server.tables import (
    AccountRow,
    AuditRow,
    ChangeRow,
    ControllerRow,
    DeviceStatusRow,
)
from fieldtech.server.views import audit_json, device_status_json, iso

router = APIRouter(prefix="/v1", tags=["account"])
MAX_ID = 2**53  # cursors and ids fit every database's integer


def account_json(a: AccountRow, timezone: str) -> dict[str, Any]:
    limits = quota.limits_of(a)
    u = usage(Tier(a.tier), a.controllers_used, a.enthusiast_used, limits)
    return {
        "id": a.id,
        "name": a.name,
        "tier": a.tier,
        "tier_label": Tier(a.tier).label,
        "timezone": timezone,  # the contractor's calendar (fieldtech.domain.calendar)
        "usage": {
            "controllers_used": u.controllers_used,
            "controllers_limit": u.controllers_limit,
            "staff_used": a.staff_used,
            "staff_limit": u.staff_limit,
            "enthusiast_used": u.enthusiast_used,
            "enthusiast_included": limits.included_enthusiast,
            "enthusiast_available": u.enthusiast_available,
        },
        "change_cursor": a.change_seq,
    }


@router.get("/account", summary="Plan tier and usage")
def get_account(state: State, caller: Staff) -> dict[str, Any]:
    with state.db.read() as s:
        return account_json(s.get_one(AccountRow, caller.account_id),
                            account_timezone(s, caller.account_id))


@router.put(
    "/account/tier", summary="Change the contractor tier (owners; no downgrade below usage)"
)
def change_tier(state: State, caller: Owner, body: TierIn) -> dict[str, Any]:
    ctx = context(state, caller)
    with state.db.write(ctx.account_id) as s:
        confirm_owner(s, caller)
        account = s.get_one(AccountRow, ctx.account_id)
        if body.tier is Tier.PLATINUM and account.custom_controllers is None:
            raise Problem(
                ProblemType.FORBIDDEN,
                "Platinum limits are set per account by the vendor.",
                fix="Contact the vendor to move to Platinum.",
            )
        old = account.tier
        account.tier = body.tier.value
        limits = quota.limits_of(account)
        over = [
            (what, used, limit)
            for what, used, limit in (
                ("controllers", account.controllers_used, limits.controllers),
                ("staff_users", account.staff_used, limits.staff_users),
                ("included_enthusiast", account.enthusiast_used, limits.included_enthusiast),
            )
            if used > limit
        ]
        if over:
            what, used, limit = over[0]
            raise Problem(
                ProblemType.DOWNGRADE_BELOW_USAGE,
                f"{body.tier.label} allows {limit} {what.replace('_', ' ')}; the account uses "
                f"{used}.",
                what=what,
                limit=limit,
                used=used,
                plan=body.tier.value,
                remove={w: u - lim for w, u, lim in over},
                fix="Remove "
                + ", ".join(f"{u - lim} {w.replace('_', ' ')}" for w, u, lim in over)
                + " first, or choose a larger tier.",
            )
        if old != account.tier:
            s.flush()
            log_change(s, ctx, "account", ctx.account_id, "upsert", {"tier": account.tier})
            audit(s, ctx, "account.tier", detail={"from": old, "to": account.tier})
        return account_json(account, account_timezone(s, ctx.account_id))


MAX_WAIT = 30  # seconds a long-poll may wait (under common proxies' 60 s idle timeouts)


@router.get(
    "/changes",
    tags=["sync"],
    summary="The account's change log after a cursor; with `wait`, a long-poll",
)
async def changes(
    state: State,
    caller: Staff,
    cursor: Annotated[int, Query(ge=0, le=MAX_ID, description="Last seq you have")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    wait: Annotated[
        float, Query(ge=0, le=MAX_WAIT, description="Seconds to wait for a change if none yet")
    ] = 0,
) -> Response:
    account_id = caller.account_id or ""
    deadline = asyncio.get_running_loop().time() + wait
    # Listening before the first look, so a change committed in between still wakes us. The
    # database is used only for each look (in a thread), never held while waiting.
    with state.changes.listening(account_id) as woke:
        while True:
            woke.clear()
            page, more = await anyio.to_thread.run_sync(_page, state, account_id, cursor, limit)
            left = deadline - asyncio.get_running_loop().time()
            if page or left <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woke.wait(), min(left, state.changes.recheck))
    head = json.dumps({"cursor": page[-1].seq if page else cursor, "more": more})
    allowed = permissions(caller)
    items = ",".join(
        f'{{"seq":{seq},"entity":{json.dumps(entity)},"id":{json.dumps(entity_id)},'
        f'"op":{json.dumps(op)},"data":{data or "null"},"at":{json.dumps(iso(at))}}}'
        for seq, entity, entity_id, op, data, at in page
        # money documents only for those allowed to see money (the cursor still moves on)
        if entity != "document" or may_see(json.loads(data or "{}").get("kind", ""), allowed)
    )
    return Response(head[:-1] + ',"changes":[' + items + "]}", media_type="application/json")


def _page(state: ServerState, account_id: str, cursor: int, limit: int) -> tuple[list[Any], bool]:
    with state.db.read() as s:
        rows = s.execute(
            # The record is read as the JSON text it is stored as and spliced into the answer
            # as is: a first sync pulls pages of 500 whole records, and decoding then encoding
            # every zone again was most of this endpoint's time.
            select(ChangeRow.seq, ChangeRow.entity, ChangeRow.entity_id, ChangeRow.op,
                   cast(ChangeRow.data, Text), ChangeRow.at)
            .where(ChangeRow.account_id == account_id, ChangeRow.seq > cursor)
            .order_by(ChangeRow.seq)
            .limit(limit + 1)
        ).all()
    return list(rows[:limit]), len(rows) > limit


@router.get("/audit", summary="Who changed what and when, newest first")
def audit_log(
    state: State,
    caller: Staff,
    controller_id: str | None = None,
    customer_id: str | None = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID, description="An entry id")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    query = select(AuditRow).where(AuditRow.account_id == caller.account_id)
    if controller_id:
        query = query.where(AuditRow.controller_id == controller_id)
    if customer_id:
        query = query.where(AuditRow.customer_id == customer_id)
    if before:
        query = query.where(AuditRow.id < before)
    with state.db.read() as s:
        rows = s.scalars(query.order_by(AuditRow.id.desc()).limit(limit)).all()
    return {
        "entries": [audit_json(a) for a in rows],
        "before": rows[-1].id if len(rows) == limit else None,
    }


@router.get("/fleet/status", tags=["devices"], summary="Every controller's state, for triage")
def fleet_status(state: State, caller: Staff) -> Response:
    # Columns, not ORM rows, written as JSON once (not through FastAPI's encoder): a first
    # sync of 100,000 controllers asks for all of them, and took 8 s here.
    now = state.clock()
    with state.db.read() as s:
        rows = s.execute(
            select(ControllerRow.id, ControllerRow.serial, ControllerRow.config_revision,
                   DeviceStatusRow.last_contact, DeviceStatusRow.applied_revision,
                   DeviceStatusRow.locally_modified, DeviceStatusRow.firmware)
            .outerjoin(DeviceStatusRow, DeviceStatusRow.controller_id == ControllerRow.id)
            .where(ControllerRow.account_id == caller.account_id)
            .order_by(ControllerRow.id)
        ).all()
    controllers = [device_status_json(
        controller_id=cid, serial=serial, config_revision=revision, last_contact=last,
        applied_revision=applied, locally_modified=bool(modified), firmware=firmware, now=now,
        heartbeat_s=state.heartbeat_s)
        for cid, serial, revision, last, applied, modified, firmware in rows]
    return Response(json.dumps({"controllers": controllers}), media_type="application/json")
