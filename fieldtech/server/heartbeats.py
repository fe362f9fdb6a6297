"""A heartbeat that changes something a person would see: device state, incidents, commands.

The common heartbeat (nothing changed) is one statement in device_store.py. It falls through to
`apply_heartbeat` here when the report's visible part differs from the last one (its digest),
the controller was offline, commands wait, results come in, uptime went down (a reboot) or the
device just caught up with the cloud's revision. Everything of one heartbeat is in one
transaction under the account lock — shared with the other news of that account that arrived
in the same batch (`apply_heartbeats`) —: the state, its incidents and their change-log entries
commit together, so a crash loses or doubles none of them (the device's next heartbeat simply
finds the change again).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from fieldtech.domain.incidents import FAULT_KINDS, HEARTBEAT_S, IncidentKind
from fieldtech.server import incidents, remote_commands
from fieldtech.server.db import Database
from fieldtech.server.journal import Context, audit, log_change
from fieldtech.server.schemas import HeartbeatIn
from fieldtech.server.tables import (
    ControllerRow,
    CustomerRow,
    DeviceStatusRow,
    DeviceTokenRow,
)
from fieldtech.server.views import device_status_json, iso, naive_utc


def report_digest(report: HeartbeatIn) -> str:
    """sha256 of what a person would see in the report (the keys it sent; a running zone's
    countdown left out, so a run does not make every heartbeat "changed")."""
    seen: dict[str, Any] = {}
    fields = report.model_fields_set
    if "enabled" in fields:
        seen["enabled"] = report.enabled
    if "running" in fields:
        seen["running"] = report.running.zone if report.running else None
    if "rain_delay_until" in fields:
        seen["rain_delay_until"] = iso(naive_utc(report.rain_delay_until))
    if report.firmware is not None:
        seen["firmware"] = report.firmware
    if report.faults is not None:
        seen["faults"] = _faults(report)
    return hashlib.sha256(json.dumps(seen, sort_keys=True).encode()).hexdigest()


def _faults(report: HeartbeatIn) -> list[dict[str, Any]]:
    """The known faults, sorted, one per (kind, zone); unknown kinds ignored (newer firmware)."""
    found: dict[tuple[str, int], dict[str, Any]] = {}
    for f in report.faults or []:
        if f.kind in FAULT_KINDS:
            found.setdefault((f.kind, f.zone or 0), {"kind": f.kind, "zone": f.zone,
                                                     "detail": f.detail})
    return [found[k] for k in sorted(found)]


def device_state_json(st: DeviceStatusRow) -> dict[str, Any]:
    """The change log's "device_state" entry (CONTRACT-10)."""
    return {
        "controller_id": st.controller_id,
        "online": st.offline_since is None and st.last_contact is not None,
        "last_contact": iso(st.last_contact),
        "offline_since": iso(st.offline_since),
        "enabled": st.enabled,
        "running": st.running,
        "rain_delay_until": iso(st.rain_delay_until),
        "uptime_s": st.uptime_s,
        "faults": st.faults or [],
        "firmware": st.firmware,
        "applied_revision": st.applied_revision,
    }


def _visible(state: dict[str, Any]) -> dict[str, Any]:
    """A device state without what changes on every heartbeat (never news on its own)."""
    return {k: v for k, v in state.items() if k not in ("last_contact", "uptime_s")}


def answer(
    *,
    controller_id: str,
    serial: str | None,
    config_revision: int,
    last_contact: datetime | None,
    applied_revision: int | None,
    locally_modified: bool,
    firmware: str | None,
    now: datetime,
    commands: list[dict[str, Any]],
    heartbeat_s: int,
) -> dict[str, Any]:
    """The heartbeat's answer: the status fields of old plus CONTRACT-10's."""
    status = device_status_json(
        controller_id=controller_id,
        serial=serial,
        config_revision=config_revision,
        last_contact=last_contact,
        applied_revision=applied_revision,
        locally_modified=locally_modified,
        firmware=firmware,
        now=now,
        heartbeat_s=heartbeat_s,
    )
    return {
        **status,
        "config_revision": config_revision,
        "heartbeat_s": heartbeat_s,
        "commands": commands,
    }


def apply_heartbeat(
    db: Database, digest: str, report: HeartbeatIn, now: datetime, heartbeat_s: int = HEARTBEAT_S
) -> dict[str, Any] | None:
    """Record a heartbeat with all it changes; None for an unknown device token."""
    found = _devices(db, [digest]).get(digest)
    if found is None:
        return None
    with db.write(found[1]) as s:
        return _apply_one(s, found, report, now, heartbeat_s)


Item = tuple[str, HeartbeatIn, datetime, int]  # (token digest, report, now, heartbeat_s)


def apply_heartbeats(db: Database, items: list[Item]) -> list[dict[str, Any] | Exception | None]:
    """`apply_heartbeat` for many at once: the news of one account in ONE transaction under its
    lock, instead of one each (a fleet of one account reporting news together — back from an
    outage — queued on that lock one heartbeat at a time, ~50 a second). → each item's answer,
    None (unknown token) or the error it raised: if one fails, its account's items are applied
    again one transaction each, so the others still land and it alone fails."""
    found = _devices(db, [digest for digest, *_ in items])
    results: list[dict[str, Any] | Exception | None] = [None] * len(items)
    accounts: dict[str | None, list[int]] = {}
    for n, (digest, *_) in enumerate(items):
        if digest in found:
            accounts.setdefault(found[digest][1], []).append(n)
    for account_id, ns in accounts.items():
        try:
            with db.write(account_id) as s:
                held = _load(s, [found[items[n][0]][0] for n in ns])  # noqa: F841 (kept alive)
                for n in ns:
                    results[n] = _apply_one(s, found[items[n][0]], *items[n][1:], loaded=True)
        except Exception:  # rolled back: each again on its own, below
            for n in ns:
                try:
                    results[n] = apply_heartbeat(db, *items[n])
                except Exception as error:  # that item's answer is its error
                    results[n] = error
    return results


def _devices(db: Database, digests: list[str]) -> dict[str, tuple[str, str | None]]:
    """Token digest → (controller id, account id) of the devices known."""
    with db.read() as s:
        return {digest: (cid, account_id) for digest, cid, account_id in s.execute(
            select(DeviceTokenRow.token_hash, ControllerRow.id, ControllerRow.account_id)
            .join(ControllerRow, DeviceTokenRow.controller_id == ControllerRow.id)
            .where(DeviceTokenRow.token_hash.in_(set(digests)))
        )}


def _load(s: Any, controller_ids: list[str]) -> list[Any]:
    """A batch's controllers, their customers and their states (locked, in one order) read in
    three statements, not three per heartbeat: the session then finds each by its key while
    the caller holds what this returns (its identity map keeps only what is referenced)."""
    ids = sorted(set(controller_ids))
    controllers = s.scalars(select(ControllerRow).where(ControllerRow.id.in_(ids))).all()
    customers = s.scalars(select(CustomerRow).where(
        CustomerRow.id.in_({c.customer_id for c in controllers}))).all()
    states = s.scalars(select(DeviceStatusRow).where(DeviceStatusRow.controller_id.in_(ids))
                       .order_by(DeviceStatusRow.controller_id).with_for_update()).all()
    return [*controllers, *customers, *states]


def _apply_one(s: Any, device: tuple[str, str | None], report: HeartbeatIn, now: datetime,
               heartbeat_s: int, loaded: bool = False) -> dict[str, Any] | None:
    """One heartbeat inside its account's transaction (the account row already locked);
    `loaded`: its rows are in the session already, its state locked (`_load`)."""
    controller_id, account_id = device
    controller = s.get(ControllerRow, controller_id)
    if controller is None:
        return None  # deleted in between: its token went with it
    st = (s.get_one(DeviceStatusRow, controller.id) if loaded
          else s.get_one(DeviceStatusRow, controller.id, with_for_update=True))
    ctx = Context(account_id=account_id or "", actor=f"device:{controller.serial}", now=now)
    customer = s.get_one(CustomerRow, controller.customer_id) if account_id else None
    commands = _apply(s, ctx, controller, customer, st, report)
    return answer(
        controller_id=controller.id,
        serial=controller.serial,
        config_revision=controller.config_revision,
        last_contact=st.last_contact,
        applied_revision=st.applied_revision,
        locally_modified=st.locally_modified,
        firmware=st.firmware,
        now=now,
        commands=commands,
        heartbeat_s=heartbeat_s,
    )


def _apply(
    s: Any,
    ctx: Context,
    controller: ControllerRow,
    customer: CustomerRow | None,
    st: DeviceStatusRow,
    report: HeartbeatIn,
) -> list[dict[str, Any]]:
    fields = report.model_fields_set
    before = device_state_json(st)
    rebooted = (
        report.uptime_s is not None and st.uptime_s is not None and report.uptime_s < st.uptime_s
        and st.offline_since is None
    )
    back_online = st.offline_since is not None
    st.last_contact = ctx.now
    st.offline_since = None
    st.locally_modified = report.locally_modified
    st.report_digest = report_digest(report)
    if report.uptime_s is not None:
        st.uptime_s = report.uptime_s
    if "enabled" in fields:
        st.enabled = report.enabled
    if "running" in fields:
        old_zone = (st.running or {}).get("zone")
        new_zone = report.running.zone if report.running else None
        if old_zone != new_zone:  # the countdown alone is not news
            st.running = report.running.model_dump() if report.running else None
    if "rain_delay_until" in fields:
        st.rain_delay_until = naive_utc(report.rain_delay_until)
    if report.firmware is not None:
        st.firmware = report.firmware
    applied_before = st.applied_revision
    if report.applied_revision is not None:
        st.applied_revision = report.applied_revision
    in_sync = st.applied_revision is None or st.applied_revision == controller.config_revision
    was_out_of_sync = st.out_of_sync_since is not None
    st.out_of_sync_since = None if in_sync else (st.out_of_sync_since or ctx.now)
    old_faults = st.faults
    if report.faults is not None:
        st.faults = _faults(report)
    if not ctx.account_id:
        return []  # an unlinked customer's controller: no account to log or queue in
    assert customer is not None
    if report.applied_revision not in (None, applied_before):
        audit(s, ctx, "config.applied", controller_id=controller.id,
              customer_id=controller.customer_id, detail={"revision": report.applied_revision})
    if back_online:
        _back_online(s, ctx, controller, customer)
    if rebooted:
        incidents.raise_incident(
            s, ctx, kind=IncidentKind.REBOOTED, customer=customer, controller=controller,
            detail=f"Restarted (uptime {report.uptime_s} s, was {before['uptime_s']} s).",
        )
    if in_sync and was_out_of_sync:  # the sweeper opens one only while out_of_sync_since is set
        incidents.recover(s, ctx, controller.id, IncidentKind.OUT_OF_SYNC)
    if report.faults is not None:
        _faults_changed(s, ctx, controller, customer, old_faults or [], st.faults or [])
    if rebooted or _visible(device_state_json(st)) != _visible(before):
        log_change(s, ctx, "device_state", controller.id, "upsert", device_state_json(st))
    results = [(r.id, r.ok, r.message) for r in report.results]
    if results:
        remote_commands.record_results(s, ctx, controller.id, results)
    handed: list[dict[str, Any]] = []
    if st.commands_waiting:
        handed = remote_commands.deliver(s, ctx, controller.id)
        st.commands_waiting = False
    return handed


def _faults_changed(
    s: Any,
    ctx: Context,
    controller: ControllerRow,
    customer: CustomerRow,
    old: list[dict[str, Any]],
    new: list[dict[str, Any]],
) -> None:
    was = {(f["kind"], f["zone"]) for f in old}
    now = {(f["kind"], f["zone"]): f for f in new}
    for (kind, zone), fault in now.items():
        if (kind, zone) not in was:
            incidents.raise_incident(
                s, ctx, kind=IncidentKind(kind), customer=customer, controller=controller,
                zone=zone, detail=fault["detail"],
            )
    for kind, zone in was - now.keys():
        incidents.recover(s, ctx, controller.id, IncidentKind(kind), zone)


def _back_online(
    s: Any, ctx: Context, controller: ControllerRow, customer: CustomerRow
) -> None:
    incidents.recover(s, ctx, controller.id, IncidentKind.OFFLINE)
    site = incidents.recover(s, ctx, customer.id, IncidentKind.SITE_OFFLINE)
    if site is None:
        return
    # The site is no longer down as a whole: the controllers still offline get their own.
    still = s.scalars(
        select(ControllerRow)
        .join(DeviceStatusRow, DeviceStatusRow.controller_id == ControllerRow.id)
        .where(
            ControllerRow.customer_id == customer.id,
            ControllerRow.id != controller.id,
            DeviceStatusRow.offline_since.is_not(None),
        )
    ).all()
    for other in still:
        incidents.raise_incident(
            s, ctx, kind=IncidentKind.OFFLINE, customer=customer, controller=other,
            detail="No heartbeat (its site is partly back).", repeat=False,
        )


def paired_controllers(s: Any, customer_id: str) -> int:
    """How many of a customer's controllers have a device token (what "all offline" counts)."""
    return s.scalar(
        select(func.count(func.distinct(DeviceTokenRow.controller_id)))
        .join(ControllerRow, ControllerRow.id == DeviceTokenRow.controller_id)
        .where(ControllerRow.customer_id == customer_id)
    )
