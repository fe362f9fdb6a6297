"""The sweeper: what no request triggers. Offline after 3 missed heartbeats (and whole sites),
out of sync for over a minute, SLA breaches, snoozes that ran out, commands that expired.

Every worker runs it every `ServerState.sweep_every` seconds with the injectable clock. It is
idempotent and safe with several workers: candidates are read without locks, then each account's
are changed under that account's lock by conditional UPDATEs (… WHERE offline_since IS NULL)
that only one worker can win; the partial unique index on open incidents is the backstop.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import anyio.to_thread
from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from fieldtech.domain.calendar import ACCOUNT_DEFAULT_TIMEZONE, contractor_today
from fieldtech.domain.contracts import AGREEMENT
from fieldtech.domain.incidents import OUT_OF_SYNC_AFTER, IncidentKind, IncidentState, offline_after
from fieldtech.server import incidents, memberships, remote_commands
from fieldtech.server.heartbeats import device_state_json, paired_controllers
from fieldtech.server.journal import Context, log_change
from fieldtech.server.state import ServerState
from fieldtech.server.tables import (
    CommandRow,
    ControllerRow,
    CustomerRow,
    DeviceStatusRow,
    DeviceTokenRow,
    DocumentRow,
    IncidentRow,
    ServiceSettingsRow,
)

log = logging.getLogger("fieldtech.server")
ACTOR = "sweeper"


@dataclass
class Swept:
    offline: int = 0
    out_of_sync: int = 0
    breached: int = 0
    unsnoozed: int = 0
    expired: int = 0
    memberships: int = 0


def sweep(state: ServerState) -> Swept:
    """One pass at `state.clock()`; what it changed (another worker may have done the rest)."""
    now = state.clock()
    done = Swept()
    _offline(state, now, done)
    _out_of_sync(state, now, done)
    _incident_clocks(state, now, done)
    _expired_commands(state, now, done)
    _memberships(state, now, done)
    return done


def _by_account(rows: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for account_id, item in rows:
        grouped[account_id].append(item)
    return grouped


def _offline(state: ServerState, now: datetime, done: Swept) -> None:
    cutoff = now - offline_after(state.heartbeat_s)
    late = (
        DeviceStatusRow.offline_since.is_(None),
        DeviceStatusRow.last_contact < cutoff,
    )
    with state.db.read() as s:
        found = s.execute(
            select(ControllerRow.account_id, ControllerRow.id)
            .join(DeviceStatusRow, DeviceStatusRow.controller_id == ControllerRow.id)
            .where(
                *late,
                ControllerRow.account_id.is_not(None),
                exists().where(DeviceTokenRow.controller_id == ControllerRow.id),
            )
        ).all()
    for account_id, ids in _by_account(found).items():
        with state.db.write(account_id) as s:
            ctx = Context(account_id=account_id, actor=ACTOR, now=now)
            # Conditional: a controller another worker declared, or that beat just now, is not
            # returned, so it is declared once.
            declared = s.scalars(
                update(DeviceStatusRow)
                .where(DeviceStatusRow.controller_id.in_(ids), *late)
                .values(offline_since=DeviceStatusRow.last_contact)
                .returning(DeviceStatusRow.controller_id)
                .execution_options(synchronize_session=False)
            ).all()
            for controller_id in declared:
                _declare_offline(s, ctx, controller_id)
            done.offline += len(declared)


def _declare_offline(s: Session, ctx: Context, controller_id: str) -> None:
    controller = s.get_one(ControllerRow, controller_id)
    st = s.get_one(DeviceStatusRow, controller_id)
    s.refresh(st)
    customer = s.get_one(CustomerRow, controller.customer_id)
    log_change(s, ctx, "device_state", controller_id, "upsert", device_state_json(st))
    if incidents.open_incident(s, customer.id, IncidentKind.SITE_OFFLINE):
        return  # counted in the site's incident
    paired = paired_controllers(s, customer.id)
    down = s.scalar(
        select(func.count())
        .select_from(DeviceStatusRow)
        .join(ControllerRow, ControllerRow.id == DeviceStatusRow.controller_id)
        .join(DeviceTokenRow, DeviceTokenRow.controller_id == ControllerRow.id)
        .where(ControllerRow.customer_id == customer.id, DeviceStatusRow.offline_since.is_not(None))
    )
    since = st.offline_since.isoformat(timespec="seconds") if st.offline_since else "?"
    if paired > 1 and down >= paired:
        # Every controller of the customer down together: one site incident, not N.
        site = incidents.raise_incident(
            s, ctx, kind=IncidentKind.SITE_OFFLINE, customer=customer, controller=None,
            detail=f"All {paired} controllers of {customer.name} are offline.", repeat=False,
        )
        if site is not None:
            for other in s.scalars(
                select(IncidentRow).where(
                    IncidentRow.customer_id == customer.id,
                    IncidentRow.kind == IncidentKind.OFFLINE.value,
                    IncidentRow.resolved_at.is_(None),
                )
            ).all():
                incidents.resolve(s, ctx, other, by=ACTOR, note=f"Part of site incident {site.id}.")
            return
    incidents.raise_incident(
        s, ctx, kind=IncidentKind.OFFLINE, customer=customer, controller=controller,
        detail=f"No heartbeat since {since}Z.", repeat=False,
    )


def _out_of_sync(state: ServerState, now: datetime, done: Swept) -> None:
    open_one = exists().where(
        IncidentRow.subject == DeviceStatusRow.controller_id,
        IncidentRow.kind == IncidentKind.OUT_OF_SYNC.value,
        IncidentRow.resolved_at.is_(None),
    )
    with state.db.read() as s:
        found = s.execute(
            select(ControllerRow.account_id, ControllerRow.id)
            .join(DeviceStatusRow, DeviceStatusRow.controller_id == ControllerRow.id)
            .where(
                DeviceStatusRow.out_of_sync_since < now - OUT_OF_SYNC_AFTER,
                DeviceStatusRow.offline_since.is_(None),
                ControllerRow.account_id.is_not(None),
                ~open_one,
            )
        ).all()
    for account_id, ids in _by_account(found).items():
        with state.db.write(account_id) as s:
            ctx = Context(account_id=account_id, actor=ACTOR, now=now)
            for controller_id in ids:
                controller = s.get_one(ControllerRow, controller_id)
                st = s.get_one(DeviceStatusRow, controller_id)
                if st.out_of_sync_since is None or st.out_of_sync_since >= now - OUT_OF_SYNC_AFTER:
                    continue  # caught up since the read
                made = incidents.raise_incident(
                    s, ctx, kind=IncidentKind.OUT_OF_SYNC,
                    customer=s.get_one(CustomerRow, controller.customer_id),
                    controller=controller, repeat=False,
                    detail=f"The device runs revision {st.applied_revision}; the cloud has "
                    f"{controller.config_revision}.",
                )
                done.out_of_sync += made is not None


def _incident_clocks(state: ServerState, now: datetime, done: Swept) -> None:
    """Breaches (response due passed with no acknowledgement) and snoozes that ran out."""
    unresolved = IncidentRow.resolved_at.is_(None)
    due = (
        unresolved,
        IncidentRow.acknowledged_at.is_(None),
        IncidentRow.breached_at.is_(None),
        IncidentRow.response_due_at <= now,
    )
    woke = (unresolved, IncidentRow.state == IncidentState.SNOOZED.value,
            IncidentRow.snoozed_until <= now)
    with state.db.read() as s:
        breaching = s.execute(select(IncidentRow.account_id, IncidentRow.id).where(*due)).all()
        waking = s.execute(select(IncidentRow.account_id, IncidentRow.id).where(*woke)).all()
    for account_id, ids in _by_account(breaching).items():
        with state.db.write(account_id) as s:
            ctx = Context(account_id=account_id, actor=ACTOR, now=now)
            for row in s.scalars(select(IncidentRow).where(IncidentRow.id.in_(ids), *due)):
                row.breached_at = now
                incidents.changed(s, ctx, row)
                done.breached += 1
    for account_id, ids in _by_account(waking).items():
        with state.db.write(account_id) as s:
            ctx = Context(account_id=account_id, actor=ACTOR, now=now)
            for row in s.scalars(select(IncidentRow).where(IncidentRow.id.in_(ids), *woke)):
                row.state = (
                    IncidentState.ACKNOWLEDGED if row.acknowledged_at else IncidentState.OPEN
                ).value
                row.snoozed_until = None
                incidents.changed(s, ctx, row)
                done.unsnoozed += 1


def _expired_commands(state: ServerState, now: datetime, done: Swept) -> None:
    late = (CommandRow.state.in_(remote_commands.OPEN_STATES), CommandRow.expires_at <= now)
    with state.db.read() as s:
        found = s.execute(select(CommandRow.account_id, CommandRow.id).where(*late)).all()
    for account_id, ids in _by_account(found).items():
        with state.db.write(account_id) as s:
            ctx = Context(account_id=account_id, actor=ACTOR, now=now)
            for row in s.scalars(select(CommandRow).where(CommandRow.id.in_(ids), *late)):
                remote_commands.finish(s, ctx, row, "expired", "No result within 10 minutes.")
                done.expired += 1


def _memberships(state: ServerState, now: datetime, done: Swept) -> None:
    """The memberships only the calendar changes — a cancelled term running out, an agreement
    or a suspension starting that day — settled in each worker (and at its first sweep) once
    an account's day has turned, in the contractor's time zone (fieldtech.domain.calendar), by
    the same rule as when an agreement is written (memberships.follow_agreements). Each sweep
    reads only the accounts' time zones until some contractor's day turns."""
    with state.db.read() as s:
        zones = s.execute(select(ServiceSettingsRow.account_id, ServiceSettingsRow.timezone))
        days: dict[str | None, date] = {account_id: contractor_today(zone, now)
                                        for account_id, zone in zones}
    days[None] = contractor_today(ACCOUNT_DEFAULT_TIMEZONE, now)  # accounts that set none
    if state.memberships_days == days:
        return
    with state.db.read() as s:
        found = s.execute(
            select(DocumentRow.account_id, DocumentRow.customer_id)
            .where(DocumentRow.kind == AGREEMENT.name, DocumentRow.customer_id.is_not(None))
            .distinct()
        ).all()
    for account_id, customer_ids in _by_account(found).items():
        day = days.get(account_id, days[None])
        if state.memberships_settled.get(account_id) == day:
            continue
        with state.db.write(account_id) as s:
            ctx = Context(account_id=account_id, actor=ACTOR, now=now)
            done.memberships += memberships.follow_agreements(s, ctx, customer_ids)
        state.memberships_settled[account_id] = day
    state.memberships_days = days


async def run_sweeper(state: ServerState) -> None:
    """Sweep forever (a task per worker, started by the app's lifespan)."""
    while True:
        await asyncio.sleep(state.sweep_every)
        try:
            await anyio.to_thread.run_sync(sweep, state)
        except Exception:  # a database hiccup: log it and try again next period
            log.exception("sweep failed")
