"""What the controllers report, as the cloud last said: incidents, device states, commands.

These records are the cloud's alone (nobody edits them here: acknowledging an incident or
sending a command is a request to the cloud, whose answer comes back through the change log).
The sync engine's pull writes them with the rest of a page (`put_live`, inside the page's
transaction); the header reads them here, the triage screen and `fieldtech triage` through
`triage_rows`.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fieldtech.domain.models import ControllerState

if TYPE_CHECKING:
    from fieldtech.offline_store.store import Store

LIVE_ENTITIES = ("incident", "device_state", "command")
OPEN_STATES = ("open", "acknowledged", "snoozed")


@dataclass(frozen=True)
class FleetHealth:
    """The header's counts."""

    offline: int
    incidents: int
    breaching: int
    conflicts: int


def put_live(db: sqlite3.Connection, entity: str, record_id: str, op: str,
             data: dict[str, Any] | None) -> bool:
    """One live record from the change log, in the caller's transaction. True if the fleet
    list's state or fault of a controller changed (it is repainted)."""
    table = {"incident": "incident", "device_state": "device_state", "command": "command"}[
        entity]
    key = "controller_id" if table == "device_state" else "id"
    if op == "delete" or not isinstance(data, dict):
        db.execute(f"DELETE FROM {table} WHERE {key}=?", (record_id,))
        return False
    text = json.dumps(data)
    if table == "incident":
        db.execute("INSERT INTO incident VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                   "controller_id=excluded.controller_id, customer_id=excluded.customer_id, "
                   "state=excluded.state, data=excluded.data",
                   (record_id, data.get("controller_id"), data.get("customer_id"),
                    str(data.get("state") or "open"), text))
        return False
    if table == "command":
        db.execute("INSERT INTO command VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                   "state=excluded.state, data=excluded.data",
                   (record_id, data.get("controller_id"), str(data.get("state") or "queued"),
                    text))
        return False
    db.execute("INSERT INTO device_state VALUES (?, ?) ON CONFLICT(controller_id) DO UPDATE "
               "SET data=excluded.data", (record_id, text))
    # The fleet list shows online/offline and the first fault from its own columns.
    online = data.get("online")
    faults = [f for f in data.get("faults") or [] if isinstance(f, dict)]
    fault = str(faults[0].get("detail") or faults[0].get("kind")) if faults else None
    state = None if online is None else (ControllerState.ONLINE if online
                                          else ControllerState.OFFLINE).value
    before = db.total_changes
    db.execute("UPDATE controller SET state=coalesce(?, state), fault=?, "
               "last_contact=coalesce(?, last_contact) WHERE id=? AND serial IS NOT NULL "
               "AND (state IS NOT coalesce(?, state) OR fault IS NOT ? "
               "OR last_contact IS NOT coalesce(?, last_contact))",
               (state, fault, data.get("last_contact"), record_id, state, fault,
                data.get("last_contact")))
    return db.total_changes > before


def remember(store: Store, entity: str, data: dict[str, Any]) -> None:
    """A live record the cloud just answered with (e.g. an acknowledged incident): shown now,
    not at the next pull, which brings the same record again."""
    record_id = data.get("controller_id") if entity == "device_state" else data.get("id")
    if record_id:
        with store._write() as db:
            put_live(db, entity, str(record_id), "upsert", data)


def fleet_health(store: Store, now: datetime) -> FleetHealth:
    """The header's counts, in SQL (it is read at start-up, before the first paint)."""
    marks = ",".join("?" * len(OPEN_STATES))
    r = store._query(
        "SELECT (SELECT count(*) FROM controller WHERE state=?), "
        "(SELECT count(*) FROM conflict), "
        f"(SELECT count(*) FROM incident WHERE state IN ({marks})), "
        "(SELECT count(*) FROM incident WHERE state='open' AND "
        " (json_extract(data, '$.breached_at') IS NOT NULL OR "
        "  julianday(json_extract(data, '$.response_due_at')) <= julianday(?)))",
        (ControllerState.OFFLINE.value, *OPEN_STATES, now.astimezone(UTC).isoformat()))[0]
    return FleetHealth(offline=r[0], incidents=r[2], breaching=r[3], conflicts=r[1])


def device_state(store: Store, controller_id: str) -> dict[str, Any] | None:
    rows = store._query("SELECT data FROM device_state WHERE controller_id=?", (controller_id,))
    return json.loads(rows[0][0]) if rows else None


def commands_for(store: Store, controller_id: str, limit: int = 10) -> list[dict[str, Any]]:
    """The controller's latest commands, newest first."""
    rows = store._query("SELECT data FROM command WHERE controller_id=? "
                        "ORDER BY json_extract(data, '$.created_at') DESC LIMIT ?",
                        (controller_id, limit))
    return [json.loads(r[0]) for r in rows]


def parse_moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def incident_records(store: Store) -> list[dict[str, Any]]:
    """Every incident held, as the cloud sent it (SLA compliance in the billing report)."""
    return [json.loads(r[0]) for r in store._query("SELECT data FROM incident")]
