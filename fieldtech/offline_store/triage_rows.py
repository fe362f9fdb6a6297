"""The triage list's rows: each open incident the cloud reported, with the names it needs.

Apart from `live` (which every start imports with the store): the row's class is defined only
once triage is shown or asked for, not before the app's first paint.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fieldtech.offline_store.live import OPEN_STATES, parse_moment

if TYPE_CHECKING:
    from fieldtech.offline_store.store import Store

SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}

# Words a technician reads for each kind the cloud reports (unknown kinds show as sent).
KIND_WORDS = {
    "offline": "Offline",
    "site_offline": "Whole site offline",
    "out_of_sync": "Out of sync",
    "rebooted": "Rebooted",
    "zone_no_current": "Zone: no current",
    "zone_short_circuit": "Zone: short circuit",
    "flow_high": "Flow high (leak?)",
    "flow_low": "Flow low",
    "rain_sensor": "Rain sensor fault",
    "master_valve_stuck": "Master valve stuck",
    "low_voltage": "Low voltage",
}


@dataclass(frozen=True)
class TriageRow:
    """One open incident as the triage list shows it, with the names it needs."""

    id: str
    controller_id: str | None
    customer_id: str | None
    kind: str
    zone: int | None
    severity: str
    state: str
    detail: str
    opened_at: datetime | None
    due_at: datetime | None
    breached_at: datetime | None
    acknowledged_by: str | None
    assigned_to: str | None
    snoozed_until: datetime | None
    count: int
    membership: str
    customer_name: str
    controller_name: str

    @property
    def what(self) -> str:
        words = KIND_WORDS.get(self.kind, self.kind.replace("_", " ").capitalize())
        return f"{words} (zone {self.zone})" if self.zone else words

    def breaching(self, now: datetime) -> bool:
        """Past its response time and nobody has responded yet."""
        if self.state != "open":
            return False
        return self.breached_at is not None or (self.due_at is not None and now >= self.due_at)

    def sort_key(self, now: datetime) -> tuple[Any, ...]:
        # Who needs a response first: by response due time (none last), then severity, age.
        far = datetime.max.replace(tzinfo=UTC)
        responded = self.state != "open"
        return (responded, self.due_at or far, SEVERITY_RANK.get(self.severity, 3),
                self.opened_at or far, self.id)



def triage_rows(store: Store, include_resolved: bool = False) -> list[TriageRow]:
    """Open incidents (acknowledged and snoozed ones too), with customer and controller."""
    states = OPEN_STATES + (("resolved",) if include_resolved else ())
    marks = ",".join("?" * len(states))
    rows = store._query(
        "SELECT i.id, i.data, k.name AS customer, k.membership, c.name AS controller "
        "FROM incident i LEFT JOIN controller c ON c.id = i.controller_id "
        "LEFT JOIN customer k ON k.id = coalesce(i.customer_id, c.customer_id) "
        f"WHERE i.state IN ({marks})", states)
    return [_row(r) for r in rows]


def _row(r: sqlite3.Row) -> TriageRow:
    d = json.loads(r["data"])
    zone = d.get("zone")
    return TriageRow(
        id=r["id"], controller_id=d.get("controller_id"), customer_id=d.get("customer_id"),
        kind=str(d.get("kind") or "?"), zone=zone if isinstance(zone, int) else None,
        severity=str(d.get("severity") or "warning"), state=str(d.get("state") or "open"),
        detail=str(d.get("detail") or ""), opened_at=parse_moment(d.get("opened_at")),
        due_at=parse_moment(d.get("response_due_at")),
        breached_at=parse_moment(d.get("breached_at")),
        acknowledged_by=d.get("acknowledged_by"), assigned_to=d.get("assigned_to"),
        snoozed_until=parse_moment(d.get("snoozed_until")), count=int(d.get("count") or 1),
        membership=str(d.get("membership") or r["membership"] or "none"),
        customer_name=r["customer"] or "(unknown customer)",
        controller_name=r["controller"] or ("(whole site)" if d.get("controller_id") is None
                                            else "(unknown controller)"))
