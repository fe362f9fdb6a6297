"""Filling a cloud account with a generated fleet (the demo and the sync benchmark).

The rows are written in bulk, but they are the rows the API's own operations would write:
the records, the device status rows, one change-log entry per record (so a client's first sync
pulls all of it, exactly as if a contractor had built the account), one audit entry, and the
account's usage counters. The plan's controller limit is checked first. Generated data is valid
by construction (tests/store checks the generator against the domain validation).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert, update

from fieldtech.domain.errors import QuotaExceeded
from fieldtech.domain.incidents import IncidentKind
from fieldtech.domain.models import ControllerState
from fieldtech.domain.plans import CustomerPlan
from fieldtech.offline_store.seed import GeneratedAccount
from fieldtech.server import incidents, quota
from fieldtech.server.db import Database
from fieldtech.server.journal import Context, audit
from fieldtech.server.state import utcnow
from fieldtech.server.tables import (
    AccountRow,
    ChangeRow,
    ControllerRow,
    CustomerRow,
    DeviceStatusRow,
)
from fieldtech.server.views import config_json, controller_json, customer_json


def seed_account(db: Database, account_id: str, made: GeneratedAccount) -> None:
    """Write `made`'s customers and controllers into the cloud account `account_id`."""
    now = utcnow()
    customers = [CustomerRow(
        id=c.id, account_id=account_id, name=c.name, email=c.email, phone=c.phone,
        address=c.address, plan=c.plan.value,
        plan_source="purchase" if c.plan is CustomerPlan.ENTHUSIAST else None,
        self_management=c.self_management.value, membership=c.membership.value, tags=c.tags,
        revision=1,
        created_at=now, updated_at=now) for c in made.customers]
    controllers = [ControllerRow(
        id=c.id, account_id=account_id, customer_id=c.customer_id, name=c.name, model=c.model,
        zone_count=c.zone_count, serial=c.serial, timezone=c.timezone, location=c.location,
        notes=c.notes, tags=c.tags, revision=1, config=c.config.to_dict(), config_revision=1,
        created_at=now, updated_at=now) for c, _rev, _state, _fault in made.controllers]
    # Linked hardware reported a minute ago, except the controllers the generator left offline.
    reporting = {c.id for c, _rev, state, _fault in made.controllers
                 if state not in (ControllerState.NOT_LINKED, ControllerState.OFFLINE)}

    with db.write(account_id) as s:
        account = s.get_one(AccountRow, account_id)
        limits = quota.limits_of(account)
        used = account.controllers_used + len(controllers)
        if used > limits.controllers:
            raise QuotaExceeded("controllers", used, limits.controllers, account.tier,
                                "Seed fewer controllers or use a larger tier.")
        seq = account.change_seq
        changes: list[dict[str, Any]] = []
        for row in customers:
            seq += 1
            changes.append(_change(account_id, seq, "customer", row.id, customer_json(row), now))
        for row in controllers:
            seq += 2
            changes.append(_change(account_id, seq - 1, "controller", row.id,
                                   controller_json(row), now))
            changes.append(_change(account_id, seq, "config", row.id, config_json(row), now))
        s.execute(insert(CustomerRow), [_columns(r) for r in customers])
        s.execute(insert(ControllerRow), [_columns(r) for r in controllers])
        s.execute(insert(DeviceStatusRow), [
            {"controller_id": r.id, "locally_modified": False,
             "last_contact": now if r.id in reporting else None,
             "applied_revision": 1 if r.id in reporting else None} for r in controllers])
        s.execute(insert(ChangeRow), changes)
        s.execute(update(AccountRow).where(AccountRow.id == account_id).values(
            change_seq=seq, controllers_used=used,
            enthusiast_used=account.enthusiast_used))
        audit(s, Context(account_id=account_id, actor="seed", now=now), "account.seed",
              detail={"customers": len(customers), "controllers": len(controllers)})


def _change(account_id: str, seq: int, entity: str, entity_id: str, data: dict[str, Any],
            at: Any) -> dict[str, Any]:
    return {"account_id": account_id, "seq": seq, "entity": entity, "entity_id": entity_id,
            "op": "upsert", "data": data, "at": at}


def _columns(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


# The generator's fault texts (offline_store.seed.FAULTS) as the incident kinds a device reports.
_FAULT_KINDS = (("no current", IncidentKind.ZONE_NO_CURRENT), ("high flow", IncidentKind.FLOW_HIGH),
                ("rain sensor", IncidentKind.RAIN_SENSOR),
                ("master valve", IncidentKind.MASTER_VALVE_STUCK),
                ("low voltage", IncidentKind.LOW_VOLTAGE))


def seed_incidents(db: Database, account_id: str, made: GeneratedAccount,
                   opened_within: timedelta = timedelta(minutes=90)) -> int:
    """Open the incidents `made`'s offline and faulty controllers would have raised, opened at
    spread moments of the last `opened_within` (so SLA clocks differ: some already breached).
    Through incidents.raise_incident, as a heartbeat or the sweeper would; returns how many."""
    now = utcnow()
    troubled = [(c, state, fault) for c, _rev, state, fault in made.controllers
                if c.serial and (state is ControllerState.OFFLINE or fault)]
    # A customer whose every linked controller is offline: one site incident, as the sweeper
    # raises it (domain rule), not one per controller.
    linked: dict[str, int] = {}
    down: dict[str, int] = {}
    for c, _rev, state, _fault in made.controllers:
        if c.serial:
            linked[c.customer_id] = linked.get(c.customer_id, 0) + 1
            down[c.customer_id] = down.get(c.customer_id, 0) + (state is ControllerState.OFFLINE)
    whole_site = {k for k, n in linked.items() if n > 1 and down[k] == n}
    opened = 0
    with db.write(account_id) as s:
        for n, (c, state, fault) in enumerate(troubled):
            at = now - opened_within * ((n * 7919) % 97 / 97)  # spread, the same every time
            ctx = Context(account_id=account_id, actor="seed", now=at)
            controller = s.get_one(ControllerRow, c.id)
            customer = s.get_one(CustomerRow, c.customer_id)
            raised = []
            if state is ControllerState.OFFLINE and c.customer_id in whole_site:
                if incidents.raise_incident(
                        s, ctx, kind=IncidentKind.SITE_OFFLINE, customer=customer,
                        controller=None, repeat=False,
                        detail=f"All {linked[c.customer_id]} controllers of {customer.name} "
                               "are offline.") is not None:
                    opened += 1
            elif state is ControllerState.OFFLINE:
                raised.append((IncidentKind.OFFLINE, None,
                               f"No heartbeat since {at.isoformat(timespec='minutes')}Z."))
            text = (fault or "").casefold()
            kind = next((k for words, k in _FAULT_KINDS if words in text), None)
            if kind is not None:  # reported before it went offline, if it did
                zone = int(text.split()[1].rstrip(":")) if text.startswith("zone ") else None
                raised.append((kind, zone, fault or ""))
            for kind, zone, detail in raised:
                if incidents.raise_incident(s, ctx, kind=kind, customer=customer,
                                            controller=controller, zone=zone, detail=detail,
                                            repeat=False) is not None:
                    opened += 1
    return opened
