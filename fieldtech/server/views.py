"""How rows look in the API (JSON-ready dicts): one place, used by responses and the change log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fieldtech.server.status import controller_state
from fieldtech.server.tables import (
    AuditRow,
    ControllerRow,
    CustomerRow,
    DeviceStatusRow,
)


def iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


def naive_utc(moment: datetime | None) -> datetime | None:
    """A time from a device or a person (it may carry a zone) as the naive UTC we store."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def etag(revision: int) -> str:
    return f'"{revision}"'


def customer_json(c: CustomerRow) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "email": c.email,
        "phone": c.phone,
        "address": c.address,
        "plan": c.plan,
        "plan_source": c.plan_source,
        "self_management": c.self_management,
        "membership": c.membership,
        "tags": c.tags,
        "revision": c.revision,
        "updated_at": iso(c.updated_at),
    }


def controller_json(c: ControllerRow) -> dict[str, Any]:
    """The record without its configuration (that is its own document, with its own revision)."""
    return {
        "id": c.id,
        "customer_id": c.customer_id,
        "name": c.name,
        "model": c.model,
        "zone_count": c.zone_count,
        "serial": c.serial,
        "timezone": c.timezone,
        "location": c.location,
        "notes": c.notes,
        "tags": c.tags,
        "revision": c.revision,
        "config_revision": c.config_revision,
        "updated_at": iso(c.updated_at),
    }


def config_json(c: ControllerRow) -> dict[str, Any]:
    return {"controller_id": c.id, "revision": c.config_revision, "config": c.config}


def status_json(c: ControllerRow, st: DeviceStatusRow | None, now: datetime,
                heartbeat_s: int) -> dict[str, Any]:
    return device_status_json(
        controller_id=c.id,
        serial=c.serial,
        config_revision=c.config_revision,
        last_contact=st.last_contact if st else None,
        applied_revision=st.applied_revision if st else None,
        locally_modified=bool(st and st.locally_modified),
        firmware=st.firmware if st else None,
        now=now,
        heartbeat_s=heartbeat_s,
    )


def device_status_json(
    *,
    controller_id: str,
    serial: str | None,
    config_revision: int,
    last_contact: datetime | None,
    applied_revision: int | None,
    locally_modified: bool,
    firmware: str | None,
    now: datetime,
    heartbeat_s: int,
) -> dict[str, Any]:
    """`status_json` from plain column values (the device fast path reads no ORM rows)."""
    state = controller_state(
        serial=serial,
        config_revision=config_revision,
        last_contact=last_contact,
        applied_revision=applied_revision,
        locally_modified=locally_modified,
        now=now,
        heartbeat_s=heartbeat_s,
    )
    return {
        "controller_id": controller_id,
        "state": state.value,
        "online": state not in ("offline", "not_linked"),
        "last_contact": iso(last_contact),
        "revision": config_revision,
        "applied_revision": applied_revision,
        "firmware": firmware,
    }


def audit_json(a: AuditRow) -> dict[str, Any]:
    return {
        "id": a.id,
        "at": iso(a.at),
        "actor": a.actor,
        "action": a.action,
        "controller_id": a.controller_id,
        "customer_id": a.customer_id,
        "detail": a.detail,
    }
