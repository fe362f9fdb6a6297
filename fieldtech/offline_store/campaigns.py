"""Campaigns in the store: one bulk change, its records, and where each one has got to.

A campaign's edits are ordinary outbox rows carrying its id (so they sync like any edit, and
the pending screen can discard the campaign as one); `campaign_item` keeps each record's
state after the sync — queued → in the cloud → confirmed by the device, or failed — so the
progress survives a restart. Applying many records is ONE transaction: a crash (even
`kill -9`) keeps all of them or none. Usable from a plain script (no textual).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fieldtech.domain.bulk import collector_paused
from fieldtech.domain.errors import NotFound, StillNeeded
from fieldtech.domain.models import Controller, new_id

if TYPE_CHECKING:
    from fieldtech.offline_store.store import OutboxEntry, Store

# A record's state in a campaign, in the order it moves through them.
WAITING, QUEUED, IN_CLOUD, CONFIRMED, FAILED, DISCARDED, UNCHANGED = (
    "waiting", "queued", "in_cloud", "confirmed", "failed", "discarded", "unchanged")
ITEM_STATES = (WAITING, QUEUED, IN_CLOUD, CONFIRMED, FAILED, DISCARDED, UNCHANGED)
# A campaign's own state: its canary waits, all is applied, it was stopped or discarded.
CANARY, APPLIED, STOPPED = "canary", "applied", "stopped"

# What a canary record that its device did not confirm in time says (it is failed, though
# its edit is in the cloud: a retry waits for the device again).
LATE = "not confirmed by its device within"

# One record's change, given the record as stored inside the transaction: fields to set.
Change = Callable[[Any], dict[str, Any]]


@dataclass(frozen=True)
class CampaignRow:
    id: str
    created_at: str
    kind: str
    params: dict[str, Any]
    summary: str
    canary: int
    state: str
    canary_limit_s: int | None = None  # how long the canary's devices have to confirm it
    canary_since: datetime | None = None  # when the canary was all in the cloud

    @property
    def canary_deadline(self) -> datetime | None:
        """When an unconfirmed canary fails: None while it is not all in the cloud yet."""
        if self.canary_since is None or not self.canary_limit_s:
            return None
        return self.canary_since + timedelta(seconds=self.canary_limit_s)


@dataclass(frozen=True)
class ItemRow:
    entity: str  # config | controller | customer
    record_id: str
    position: int
    state: str
    entry_id: str | None
    revision: int | None
    message: str | None


def start(store: Store, kind: str, params: dict[str, Any], summary: str, canary: int,
          targets: Sequence[tuple[str, str]], change: Change,
          progress: Callable[[int, int], None] = lambda done, total: None,
          canary_limit_s: int | None = None) -> str:
    """A new campaign over `targets` (entity, record id), its canary (the first `canary`) or
    all of it applied, in ONE transaction with the campaign's rows; → its id."""
    campaign_id = new_id()
    created = datetime.now(UTC).isoformat(timespec="seconds")
    with store._write() as db:
        db.execute("INSERT INTO campaign (id, created_at, kind, params, summary, canary, state, "
                   "canary_limit_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (campaign_id, created, kind, json.dumps(params), summary, canary,
                    CANARY if canary else APPLIED, canary_limit_s if canary else None))
        db.executemany(
            "INSERT INTO campaign_item (campaign_id, entity, record_id, position, state) "
            "VALUES (?, ?, ?, ?, ?)",
            [(campaign_id, entity, rid, n, WAITING) for n, (entity, rid) in enumerate(targets)])
        _apply(store, db, campaign_id, change, canary or None, progress)
    return campaign_id


def apply_rest(store: Store, campaign_id: str, change: Change,
               progress: Callable[[int, int], None] = lambda done, total: None) -> int:
    """After the canary: the waiting records, in one transaction; → how many changed."""
    with store._write() as db:
        changed = _apply(store, db, campaign_id, change, None, progress)
        db.execute("UPDATE campaign SET state=? WHERE id=?", (APPLIED, campaign_id))
    return changed


def _apply(store: Store, db: sqlite3.Connection, campaign_id: str, change: Change,
           up_to: int | None, progress: Callable[[int, int], None]) -> int:
    """Apply the change to the waiting records (those before position `up_to`, the canary),
    as outbox edits carrying the campaign's id; → how many changed.

    A record deleted since the dry run, or that a change leaves as it is, is `unchanged`; an
    edit the domain refuses fails the whole transaction (the dry run showed it first)."""
    items = db.execute(
        "SELECT entity, record_id FROM campaign_item WHERE campaign_id=? AND state=? "
        + ("AND position < ? " if up_to is not None else "") + "ORDER BY position",
        (campaign_id, WAITING, *([up_to] if up_to is not None else []))).fetchall()
    controllers = {c.id: c for c in store.controllers(
        [r[1] for r in items if r[0] != "customer"])}
    states: list[tuple[str, str | None, str, str, str]] = []
    with collector_paused():  # each record's new configuration, as a dict and as text
        for start in range(0, len(items), _BATCH):
            batch = items[start:start + _BATCH]
            for (entity, record_id), entry_id in zip(
                    batch, _apply_batch(store, db, batch, change, campaign_id, controllers),
                    strict=True):
                states.append((QUEUED if entry_id else UNCHANGED, entry_id, campaign_id,
                               entity, record_id))
            progress(start + len(batch), len(items))
    db.executemany("UPDATE campaign_item SET state=?, entry_id=? WHERE campaign_id=? "
                   "AND entity=? AND record_id=?", states)
    return sum(1 for s in states if s[1])


# Records applied between two progress steps: 50 steps over 5,000, each one statement per table.
_BATCH = 100


def _apply_batch(store: Store, db: sqlite3.Connection, batch: Sequence[tuple[str, str]],
                 change: Change, campaign_id: str,
                 controllers: dict[str, Controller]) -> list[str | None]:
    """Each record's outbox entry id (None: deleted since the dry run, or nothing changes)."""
    configs = [(controllers[rid], change(controllers[rid])["config"])
               for entity, rid in batch if entity == "config" and rid in controllers]
    written = dict(zip((c.id for c, _ in configs),
                       store.edit_configs_in(db, configs, campaign_id), strict=True))
    out: list[str | None] = []
    for entity, record_id in batch:
        if entity == "config":
            out.append(written.get(record_id))
            continue
        entry = _apply_record(store, db, entity, record_id, change, campaign_id, controllers)
        out.append(entry.id if entry else None)
    return out


def _apply_record(store: Store, db: sqlite3.Connection, entity: str, record_id: str,
                  change: Change, campaign_id: str,
                  controllers: dict[str, Controller]) -> OutboxEntry | None:
    if entity == "customer":
        try:
            customer = store.customer(record_id)
        except NotFound:
            return None
        return store.update_customer_in(db, record_id, change(customer), campaign_id)
    current = controllers.get(record_id)
    if current is None:  # deleted since the dry run
        return None
    return store.edit_controller_in(db, current, change, campaign_id)


def campaign(store: Store, campaign_id: str) -> CampaignRow:
    rows = store._query("SELECT * FROM campaign WHERE id=?", (campaign_id,))
    if not rows:
        raise NotFound(f"No campaign {campaign_id} in this store.")
    return _campaign(rows[0])


def campaigns(store: Store, state: str | None = None) -> list[CampaignRow]:
    """Every campaign (or those in `state`), the newest first."""
    where, params = ("WHERE state=? ", (state,)) if state else ("", ())
    return [_campaign(r) for r in store._query(
        f"SELECT * FROM campaign {where}ORDER BY created_at DESC, rowid DESC", params)]


def items(store: Store, campaign_id: str) -> list[ItemRow]:
    return [ItemRow(*r) for r in store._query(
        "SELECT entity, record_id, position, state, entry_id, revision, message "
        "FROM campaign_item WHERE campaign_id=? ORDER BY position", (campaign_id,))]


def refresh(store: Store, campaign_id: str) -> dict[str, int]:
    """Each record's state from its outbox row and what its device last reported, written
    back (so it shows after a restart); → how many records are in each state."""
    with store._write() as db:
        rows = db.execute(
            """
            SELECT i.entity, i.record_id, i.state, i.revision, o.state, o.message, i.message,
                   CASE i.entity WHEN 'config' THEN c.config_revision ELSE c.revision END,
                   json_extract(d.data, '$.applied_revision'), c.serial
            FROM campaign_item i
            LEFT JOIN outbox o ON o.id = i.entry_id
            LEFT JOIN controller c ON c.id = i.record_id
            LEFT JOIN device_state d ON d.controller_id = i.record_id
            WHERE i.campaign_id=? AND i.state IN (?, ?, ?)
            """, (campaign_id, QUEUED, IN_CLOUD, FAILED)).fetchall()
        updates = []
        for entity, rid, state, revision, sent, message, said, now_rev, applied, serial in rows:
            if state == FAILED and (said or "").startswith(LATE):
                continue  # a late canary record stays failed until a retry
            new_state, new_rev, new_message = _next_state(entity, state, revision, sent,
                                                          message, now_rev, applied, serial)
            if (new_state, new_rev, new_message) != (state, revision, said):
                updates.append((new_state, new_rev, new_message, campaign_id, entity, rid))
        db.executemany("UPDATE campaign_item SET state=?, revision=?, message=? "
                       "WHERE campaign_id=? AND entity=? AND record_id=?", updates)
        return dict(db.execute("SELECT state, count(*) FROM campaign_item WHERE campaign_id=? "
                               "GROUP BY state", (campaign_id,)).fetchall())


def _next_state(entity: str, state: str, revision: int | None, sent: str | None,
                message: str | None, now_rev: int | None, applied: int | None,
                serial: str | None) -> tuple[str, int | None, str | None]:
    if sent is None and state == QUEUED:  # its edit was discarded on its own
        return DISCARDED, revision, None
    if sent in ("rejected", "conflict", "draft"):
        return FAILED, revision, message or f"the edit is {sent}"
    if sent in ("queued", "sending"):
        return QUEUED, revision, None
    if state == FAILED and sent is None:
        return FAILED, revision, message
    # In the cloud: the revision it has there is what the device must report as applied.
    revision = revision if revision is not None else now_rev
    if entity != "config":  # a record's fields: nothing for a device to apply
        return CONFIRMED, revision, None
    if applied is not None and revision is not None and int(applied) >= revision:
        return CONFIRMED, revision, None
    return IN_CLOUD, revision, None if serial else "no hardware bound yet: nothing to confirm"


def discard(store: Store, campaign_id: str) -> tuple[int, int]:
    """Discard every edit of the campaign not yet sent, in one transaction: the records go
    back to their last synced values. → (discarded, already sent and kept)."""
    with store._write() as db:
        # A later edit of the same record carries the campaign's change in its own copy (a
        # configuration is sent whole): discarding under it would come back with it.
        later = db.execute(
            "SELECT count(DISTINCT o.entity_id) FROM outbox c JOIN outbox o ON o.entity = "
            "c.entity AND o.entity_id = c.entity_id AND o.seq > c.seq WHERE c.campaign_id=? "
            "AND c.state NOT IN ('sending', 'applied') AND o.campaign_id IS NOT ? "
            "AND o.state NOT IN ('sending', 'applied')", (campaign_id, campaign_id)
        ).fetchone()[0]
        if later:
            raise StillNeeded(
                f"{later} of its records were edited again since, and those edits carry the "
                "campaign's change: discard them first (u, then x), then the campaign.")
        entries = [r[0] for r in db.execute(
            "SELECT id FROM outbox WHERE campaign_id=? AND state NOT IN ('sending', 'applied') "
            "ORDER BY seq DESC", (campaign_id,))]
        kept = db.execute("SELECT count(*) FROM outbox WHERE campaign_id=? AND state IN "
                          "('sending', 'applied')", (campaign_id,)).fetchone()[0]
        for entry_id in entries:
            store.discard_in(db, entry_id)
        db.execute("UPDATE campaign_item SET state=? WHERE campaign_id=? AND state IN (?, ?, ?)",
                   (DISCARDED, campaign_id, WAITING, QUEUED, FAILED))
        db.execute("UPDATE campaign SET state=? WHERE id=?", (
            "discarded" if not kept else STOPPED, campaign_id))
    return len(entries), kept


def start_canary_clock(store: Store, campaign_id: str, now: datetime) -> None:
    """The canary is all in the cloud: its devices' time to confirm it runs from `now`."""
    with store._write() as db:
        db.execute("UPDATE campaign SET canary_since=? WHERE id=? AND canary_since IS NULL",
                   (now.isoformat(timespec="seconds"), campaign_id))


def canary_late(store: Store, campaign_id: str, message: str) -> int:
    """The canary's time is up: its records still waiting for their devices fail with
    `message`, and the campaign stops (the rest is not applied). → how many failed."""
    with store._write() as db:
        late = db.execute(
            "UPDATE campaign_item SET state=?, message=? WHERE campaign_id=? AND state=? AND "
            "position < (SELECT canary FROM campaign WHERE id=?)",
            (FAILED, message, campaign_id, IN_CLOUD, campaign_id)).rowcount
        db.execute("UPDATE campaign SET state=? WHERE id=?", (STOPPED, campaign_id))
    return late


def set_state(store: Store, campaign_id: str, state: str) -> None:
    with store._write() as db:
        db.execute("UPDATE campaign SET state=? WHERE id=?", (state, campaign_id))


def retry_failed(store: Store, campaign_id: str) -> int:
    """Send the failed records' edits again (those the cloud refused); → how many."""
    failed = store._query("SELECT entry_id FROM campaign_item WHERE campaign_id=? AND state=? "
                          "AND entry_id IS NOT NULL", (campaign_id, FAILED))
    count = sum(store.retry(r[0]) for r in failed)
    with store._write() as db:
        db.execute("UPDATE campaign_item SET state=?, message=NULL WHERE campaign_id=? AND "
                   "state=? AND entry_id IN (SELECT id FROM outbox WHERE state='queued')",
                   (QUEUED, campaign_id, FAILED))
        # Late canary records: their edits are in the cloud; wait for the devices again, for
        # a whole time limit from now.
        late = db.execute("UPDATE campaign_item SET state=?, message=NULL WHERE campaign_id=? "
                          "AND state=? AND message LIKE ?",
                          (IN_CLOUD, campaign_id, FAILED, LATE + "%")).rowcount
        if late:
            db.execute("UPDATE campaign SET canary_since=NULL WHERE id=?", (campaign_id,))
    return count + late


def pending_campaigns(store: Store) -> dict[str, int]:
    """Campaign id → how many of its edits still wait in the outbox (the pending screen)."""
    return dict(store._query(
        "SELECT campaign_id, count(*) FROM outbox WHERE campaign_id IS NOT NULL AND state NOT "
        "IN ('applied') GROUP BY campaign_id"))


def entry_campaigns(store: Store, entry_ids: Iterable[str]) -> dict[str, str]:
    ids = list(entry_ids)
    if not ids:
        return {}
    return dict(store._query(
        f"SELECT id, campaign_id FROM outbox WHERE campaign_id IS NOT NULL AND id IN "
        f"({','.join('?' * len(ids))})", ids))


def _campaign(r: sqlite3.Row) -> CampaignRow:
    since = r["canary_since"]
    return CampaignRow(r["id"], r["created_at"], r["kind"], json.loads(r["params"]),
                       r["summary"], r["canary"], r["state"], r["canary_limit_s"],
                       datetime.fromisoformat(since) if since else None)


def campaign_words(store: Store) -> dict[str, str]:
    """Campaign id → "campaign: rain delay of 48 h" (the pending screen's change column)."""
    out = {}
    for row in campaigns(store):
        kind = str(row.params.get("kind", row.kind)).replace("_", " ")
        out[row.id] = "campaign: " + (row.summary.split(":")[0] or kind)
    return out
