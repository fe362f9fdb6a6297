"""Incidents in the database: open, repeat, reopen and resolve them, with their change-log entry.

The rules (kinds, severity, targets, the SLA clock) are fieldtech.domain.incidents'; this module
applies them to rows. Call inside `Database.write(account_id)`: the account lock serialises every
writer of one account, so "is one open?" and "open one" cannot race (the partial unique index
ux_incident_open is the backstop).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from fieldtech.domain.contracts import TIER, MembershipTier
from fieldtech.domain.documents import Document
from fieldtech.domain.incidents import (
    REOPEN_WITHIN,
    IncidentKind,
    IncidentState,
    response_due,
    response_targets,
    severity,
    target_of,
)
from fieldtech.domain.plans import Membership
from fieldtech.server.journal import Context, audit, log_change
from fieldtech.server.tables import (
    ControllerRow,
    CustomerRow,
    DocumentRow,
    IncidentRow,
    MaintenanceWindowRow,
    ServiceSettingsRow,
)
from fieldtech.server.views import iso


def incident_json(i: IncidentRow) -> dict[str, Any]:
    return {
        "id": i.id,
        "controller_id": i.controller_id,
        "customer_id": i.customer_id,
        "kind": i.kind,
        "zone": i.zone,
        "severity": i.severity,
        "state": i.state,
        "detail": i.detail,
        "opened_at": iso(i.opened_at),
        "last_seen_at": iso(i.last_seen_at),
        "count": i.count,
        "resolved_at": iso(i.resolved_at),
        # kept in history: how long the problem lasted
        "duration_s": int((i.resolved_at - i.opened_at).total_seconds()) if i.resolved_at else None,
        "acknowledged_at": iso(i.acknowledged_at),
        "acknowledged_by": i.acknowledged_by,
        "ack_note": i.ack_note,
        "snoozed_until": iso(i.snoozed_until),
        "assigned_to": i.assigned_to,
        "membership": i.membership,
        "response_due_at": iso(i.response_due_at),
        "breached_at": iso(i.breached_at),
        "resolved_by": i.resolved_by,
        "resolve_note": i.resolve_note,
        "revision": i.revision,
    }


def changed(s: Session, ctx: Context, i: IncidentRow) -> None:
    """Bump the revision and log the incident for the clients' cursor sync."""
    i.revision += 1
    s.flush()
    log_change(s, ctx, "incident", i.id, "upsert", incident_json(i))


def _settings(s: Session, account_id: str) -> ServiceSettingsRow | None:
    key = ("service_settings", account_id)
    if key not in s.info:
        s.info[key] = s.get(ServiceSettingsRow, account_id)
    return s.info[key]


def _catalogue_targets(s: Session, account_id: str) -> dict[str, dict[str, Any]]:
    """The response targets of the account's own membership tiers, by membership code (read
    once per transaction, like the settings)."""
    key = ("catalogue_targets", account_id)
    if key not in s.info:
        found: dict[str, dict[str, Any]] = {}
        for data in s.scalars(select(DocumentRow.data).where(
                DocumentRow.account_id == account_id, DocumentRow.kind == TIER.name)):
            try:  # validated when written; a heartbeat must never fail on one anyway
                tier = MembershipTier.from_document(Document(TIER.name, "", data))
            except (KeyError, TypeError, ValueError):
                continue
            if tier.code in {m.value for m in Membership} and (
                    target := target_of(tier)) is not None:
                found[tier.code] = target.to_dict()
        s.info[key] = found
    return s.info[key]


def _due(
    s: Session, account_id: str, membership: str | None, opened: datetime, tz: str
) -> datetime | None:
    if not membership or membership == Membership.NONE:
        return None
    settings = _settings(s, account_id)
    # The account's catalogue (its tier documents) over the defaults; the service settings'
    # explicit overrides (issue 10) over both.
    overrides = {**_catalogue_targets(s, account_id),
                 **((settings.response_targets or {}) if settings else {})}
    targets = response_targets(overrides)
    target = targets.get(Membership(membership))
    if target is None:
        return None
    zone = settings.timezone if settings else tz
    return response_due(opened, target.response, target.coverage, zone)


def in_maintenance(
    s: Session, account_id: str, customer_id: str, controller_id: str | None, now: datetime
) -> MaintenanceWindowRow | None:
    subject = MaintenanceWindowRow.customer_id == customer_id
    if controller_id:
        subject = or_(subject, MaintenanceWindowRow.controller_id == controller_id)
    return s.scalars(
        select(MaintenanceWindowRow)
        .where(
            MaintenanceWindowRow.account_id == account_id,
            subject,
            MaintenanceWindowRow.starts <= now,
            MaintenanceWindowRow.ends > now,
        )
        .limit(1)
    ).first()


def open_incident(
    s: Session, subject: str, kind: IncidentKind, zone: int | None = None
) -> IncidentRow | None:
    return s.scalars(
        select(IncidentRow).where(
            IncidentRow.subject == subject,
            IncidentRow.kind == kind.value,
            IncidentRow.zone_key == (zone or 0),
            IncidentRow.resolved_at.is_(None),
        )
    ).first()


def raise_incident(
    s: Session,
    ctx: Context,
    *,
    kind: IncidentKind,
    customer: CustomerRow,
    controller: ControllerRow | None,
    zone: int | None = None,
    detail: str = "",
    repeat: bool = True,
) -> IncidentRow | None:
    """The problem is there now: open an incident, or count a repeat of the open one (only with
    `repeat`), or reopen one resolved less than REOPEN_WITHIN ago. None when a maintenance
    window suppressed it (audited) or when it is open and `repeat` is off."""
    subject = controller.id if controller else customer.id
    now = ctx.now
    found = open_incident(s, subject, kind, zone)
    if found is not None:
        if not repeat:
            return None
        found.count += 1
        found.last_seen_at = now
        found.detail = detail or found.detail
        changed(s, ctx, found)
        return found
    controller_id = controller.id if controller else None
    window = in_maintenance(s, ctx.account_id, customer.id, controller_id, now)
    if window is not None:
        audit(
            s,
            ctx,
            "incident.suppressed",
            controller_id=controller_id,
            customer_id=customer.id,
            detail={"kind": kind.value, "zone": zone, "maintenance_id": window.id},
        )
        return None
    recent = s.scalars(
        select(IncidentRow)
        .where(
            IncidentRow.subject == subject,
            IncidentRow.kind == kind.value,
            IncidentRow.zone_key == (zone or 0),
            IncidentRow.resolved_at >= now - REOPEN_WITHIN,
        )
        .order_by(IncidentRow.resolved_at.desc())
        .limit(1)
    ).first()
    if recent is not None:  # a recurrence: the same problem back, not a new one
        recent.resolved_at = recent.resolved_by = recent.resolve_note = None
        recent.state = (
            IncidentState.ACKNOWLEDGED if recent.acknowledged_at else IncidentState.OPEN
        ).value
        recent.count += 1
        recent.last_seen_at = now
        recent.detail = detail or recent.detail
        changed(s, ctx, recent)
        return recent
    membership = customer.membership if customer.membership != Membership.NONE else None
    tz = controller.timezone if controller else "UTC"
    row = IncidentRow(
        id=str(uuid.uuid4()),
        account_id=ctx.account_id,
        controller_id=controller_id,
        customer_id=customer.id,
        subject=subject,
        kind=kind.value,
        zone=zone,
        zone_key=zone or 0,
        severity=severity(kind, membership).value,
        state=IncidentState.OPEN.value,
        detail=detail or kind.label,
        opened_at=now,
        last_seen_at=now,
        count=1,
        membership=membership,
        response_due_at=_due(s, ctx.account_id, membership, now, tz),
        revision=0,
    )
    s.add(row)
    changed(s, ctx, row)
    return row


def resolve(
    s: Session, ctx: Context, row: IncidentRow, by: str | None = None, note: str | None = None
) -> None:
    """Resolved on recovery (`by` None) or by a person."""
    row.resolved_at = ctx.now
    row.resolved_by = by
    row.resolve_note = note
    row.state = IncidentState.RESOLVED.value
    changed(s, ctx, row)


def recover(
    s: Session, ctx: Context, subject: str, kind: IncidentKind, zone: int | None = None
) -> IncidentRow | None:
    """The problem went away: its open incident (if any) resolves on its own."""
    found = open_incident(s, subject, kind, zone)
    if found is not None:
        resolve(s, ctx, found)
    return found
