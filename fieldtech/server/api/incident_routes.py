"""Incidents for people: the list triage works on, and acknowledge / snooze / assign / resolve.

Staff only; another account's incident answers 404 exactly like one that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldtech.domain.incidents import IncidentState
from fieldtech.server import incidents
from fieldtech.server.api.common import context
from fieldtech.server.auth import Staff, State
from fieldtech.server.journal import Context, audit
from fieldtech.server.problems import Problem, ProblemType, not_found, validation
from fieldtech.server.schemas import AssignIn, NoteIn, SnoozeIn
from fieldtech.server.tables import IncidentRow, UserRow
from fieldtech.server.views import naive_utc

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])


@router.get("", summary="Incidents of the account, newest first; `next` pages on")
def list_incidents(
    state: State,
    caller: Staff,
    incident_state: Annotated[Literal["open", "all"], Query(alias="state")] = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    after: Annotated[str | None, Query(max_length=36, description="`next` of a page")] = None,
) -> dict[str, Any]:
    query = select(IncidentRow).where(IncidentRow.account_id == caller.account_id)
    if incident_state == "open":
        query = query.where(IncidentRow.resolved_at.is_(None))
    with state.db.read() as s:
        if after:
            mark = s.get(IncidentRow, after)
            if mark is None or mark.account_id != caller.account_id:
                raise validation([("after", "Not an incident id of a previous page.")])
            query = query.where(
                (IncidentRow.opened_at < mark.opened_at)
                | ((IncidentRow.opened_at == mark.opened_at) & (IncidentRow.id < mark.id))
            )
        rows = s.scalars(
            query.order_by(IncidentRow.opened_at.desc(), IncidentRow.id.desc()).limit(limit + 1)
        ).all()
    page = rows[:limit]
    return {
        "incidents": [incidents.incident_json(i) for i in page],
        "next": page[-1].id if len(rows) > limit else None,
    }


def _mine(s: Session, ctx: Context, incident_id: str) -> IncidentRow:
    row = s.get(IncidentRow, incident_id, with_for_update=True)
    if row is None or row.account_id != ctx.account_id:
        raise not_found("incident")
    return row


def _unresolved(row: IncidentRow) -> None:
    if row.resolved_at is not None:
        raise Problem(
            ProblemType.VALIDATION,
            "This incident is resolved already; it reopens by itself if the problem comes back.",
            errors=[{"field": "state", "message": "resolved"}],
        )


def _audited(s: Session, ctx: Context, row: IncidentRow, action: str, **detail: Any) -> None:
    incidents.changed(s, ctx, row)
    audit(s, ctx, action, controller_id=row.controller_id, customer_id=row.customer_id,
          detail={"incident": row.id, "kind": row.kind, **detail})


@router.post("/{incident_id}/ack", summary="Acknowledge (the response: stops the SLA clock)")
def acknowledge(state: State, caller: Staff, incident_id: str, body: NoteIn) -> dict[str, Any]:
    ctx = context(state, caller)
    with state.db.write(ctx.account_id) as s:
        row = _mine(s, ctx, incident_id)
        _unresolved(row)
        if row.acknowledged_at is None:  # the first response is the one the clock measured
            row.acknowledged_at = ctx.now
            row.acknowledged_by = ctx.actor
        row.ack_note = body.note
        row.state = IncidentState.ACKNOWLEDGED.value
        row.snoozed_until = None
        _audited(s, ctx, row, "incident.ack", note=body.note)
        return incidents.incident_json(row)


@router.post("/{incident_id}/snooze", summary="Snooze until a time (it comes back by itself)")
def snooze(state: State, caller: Staff, incident_id: str, body: SnoozeIn) -> dict[str, Any]:
    ctx = context(state, caller)
    until = naive_utc(body.until)
    assert until is not None
    if until <= ctx.now:
        raise validation([("until", "A time in the future.")])
    with state.db.write(ctx.account_id) as s:
        row = _mine(s, ctx, incident_id)
        _unresolved(row)
        row.snoozed_until = until
        row.state = IncidentState.SNOOZED.value
        _audited(s, ctx, row, "incident.snooze", until=body.until.isoformat(), note=body.note)
        return incidents.incident_json(row)


@router.post("/{incident_id}/assign", summary="Assign to a staff member (null: unassign)")
def assign(state: State, caller: Staff, incident_id: str, body: AssignIn) -> dict[str, Any]:
    ctx = context(state, caller)
    with state.db.write(ctx.account_id) as s:
        row = _mine(s, ctx, incident_id)
        if body.user_id is not None:
            user = s.get(UserRow, body.user_id)
            if user is None or user.role != "staff" or user.account_id != ctx.account_id:
                raise validation([("user_id", "Not a staff member of this account.")])
        row.assigned_to = body.user_id
        _audited(s, ctx, row, "incident.assign", user_id=body.user_id)
        return incidents.incident_json(row)


@router.post("/{incident_id}/resolve", summary="Resolve with a note")
def resolve(state: State, caller: Staff, incident_id: str, body: NoteIn) -> dict[str, Any]:
    ctx = context(state, caller)
    with state.db.write(ctx.account_id) as s:
        row = _mine(s, ctx, incident_id)
        _unresolved(row)
        incidents.resolve(s, ctx, row, by=ctx.actor, note=body.note)
        audit(s, ctx, "incident.resolve", controller_id=row.controller_id,
              customer_id=row.customer_id,
              detail={"incident": row.id, "kind": row.kind, "note": body.note})
        return incidents.incident_json(row)
