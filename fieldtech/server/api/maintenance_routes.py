"""Maintenance windows (no new incidents for a customer or controller, e.g. winterization) and
the account's service settings (time zone of SLA clocks, its own response targets)."""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter
from sqlalchemy import select

from fieldtech.domain.calendar import ACCOUNT_DEFAULT_TIMEZONE
from fieldtech.domain.incidents import response_targets
from fieldtech.server import operations as ops
from fieldtech.server.api.common import context
from fieldtech.server.auth import Staff, State, confirm_owner
from fieldtech.server.journal import audit, log_change
from fieldtech.server.problems import not_found, validation
from fieldtech.server.schemas import MaintenanceIn, ServiceSettingsIn
from fieldtech.server.tables import MaintenanceWindowRow, ServiceSettingsRow
from fieldtech.server.views import iso, naive_utc

router = APIRouter(prefix="/v1", tags=["incidents"])


def window_json(w: MaintenanceWindowRow) -> dict[str, Any]:
    return {
        "id": w.id,
        "customer_id": w.customer_id,
        "controller_id": w.controller_id,
        "starts": iso(w.starts),
        "ends": iso(w.ends),
        "note": w.note,
        "created_by": w.created_by,
        "created_at": iso(w.created_at),
    }


@router.post("/maintenance", status_code=201, summary="Suppress new incidents for a while")
def create_window(state: State, caller: Staff, body: MaintenanceIn) -> dict[str, Any]:
    if (body.customer_id is None) == (body.controller_id is None):
        raise validation([("customer_id", "Give a customer_id or a controller_id, not both.")])
    starts, ends = naive_utc(body.starts), naive_utc(body.ends)
    assert starts is not None and ends is not None
    if ends <= starts:
        raise validation([("ends", "Must be after starts.")])
    ctx = context(state, caller)
    with state.db.write(ctx.account_id) as s:
        customer_id = body.customer_id
        if body.controller_id is not None:
            customer_id = ops.get_controller(s, ctx.account_id, body.controller_id).customer_id
        else:
            ops.get_customer(s, ctx.account_id, customer_id or "")
        row = MaintenanceWindowRow(
            id=str(uuid.uuid4()),
            account_id=ctx.account_id,
            customer_id=body.customer_id,
            controller_id=body.controller_id,
            starts=starts,
            ends=ends,
            note=body.note,
            created_by=ctx.actor,
            created_at=ctx.now,
        )
        s.add(row)
        audit(s, ctx, "maintenance.create", controller_id=body.controller_id,
              customer_id=customer_id, detail=window_json(row))
        return window_json(row)


@router.get("/maintenance", summary="Maintenance windows not yet over")
def list_windows(state: State, caller: Staff) -> dict[str, Any]:
    now = state.clock()
    with state.db.read() as s:
        rows = s.scalars(
            select(MaintenanceWindowRow)
            .where(MaintenanceWindowRow.account_id == caller.account_id,
                   MaintenanceWindowRow.ends > now)
            .order_by(MaintenanceWindowRow.starts, MaintenanceWindowRow.id)
        ).all()
    return {"windows": [window_json(w) for w in rows]}


@router.get("/maintenance/{window_id}", summary="One maintenance window")
def get_window(state: State, caller: Staff, window_id: str) -> dict[str, Any]:
    with state.db.read() as s:
        row = s.get(MaintenanceWindowRow, window_id)
        if row is None or row.account_id != caller.account_id:
            raise not_found("maintenance window")
        return window_json(row)


@router.delete("/maintenance/{window_id}", status_code=204, summary="End a window early")
def delete_window(state: State, caller: Staff, window_id: str) -> None:
    ctx = context(state, caller)
    with state.db.write(ctx.account_id) as s:
        row = s.get(MaintenanceWindowRow, window_id)
        if row is None or row.account_id != ctx.account_id:
            raise not_found("maintenance window")
        audit(s, ctx, "maintenance.delete", controller_id=row.controller_id,
              customer_id=row.customer_id, detail=window_json(row))
        s.delete(row)


def _settings_json(row: ServiceSettingsRow | None) -> dict[str, Any]:
    overrides = row.response_targets if row else None
    return {
        "timezone": row.timezone if row else None,
        "response_targets": {
            m.value: t.to_dict() for m, t in response_targets(overrides).items()
        },
        "overridden": sorted(overrides or {}),
    }


@router.get("/account/service-settings", tags=["account"],
            summary="SLA time zone and response targets (defaults unless overridden)")
def get_service_settings(state: State, caller: Staff) -> dict[str, Any]:
    with state.db.read() as s:
        return _settings_json(s.get(ServiceSettingsRow, caller.account_id))


@router.put("/account/service-settings", tags=["account"],
            summary="Set the SLA time zone and override response targets (new incidents)")
def put_service_settings(state: State, caller: Staff, body: ServiceSettingsIn) -> dict[str, Any]:
    try:
        ZoneInfo(body.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise validation([("timezone", "An IANA time zone, e.g. America/New_York.")]) from None
    ctx = context(state, caller)
    targets = {m.value: t.model_dump() for m, t in body.response_targets.items()}
    with state.db.write(ctx.account_id) as s:
        row = s.get(ServiceSettingsRow, ctx.account_id)
        if row is None:
            row = ServiceSettingsRow(account_id=ctx.account_id)
            s.add(row)
        if (row.timezone or ACCOUNT_DEFAULT_TIMEZONE) != body.timezone:
            # It moves membership dates and billing months (the contractor's calendar): the
            # owner's to change; the response targets are any staff's.
            confirm_owner(s, caller, "changing the account's time zone")
        if row.timezone != body.timezone:  # the contractor's calendar: clients ask for it
            log_change(s, ctx, "account", ctx.account_id, "upsert", {"timezone": body.timezone})
        row.timezone = body.timezone
        row.response_targets = targets or None
        audit(s, ctx, "account.service_settings",
              detail={"timezone": body.timezone, "response_targets": targets})
        s.flush()
        return _settings_json(row)
