"""The local copy: SQLite (WAL) with the records, the outbox of pending edits and sync cursors."""

from fieldtech.offline_store.store import (
    APPLIED,
    CONFLICT,
    DRAFT,
    PENDING_STATES,
    QUEUED,
    REJECTED,
    SENDING,
    FleetRow,
    OutboxEntry,
    Store,
)

__all__ = [
    "APPLIED",
    "CONFLICT",
    "DRAFT",
    "PENDING_STATES",
    "QUEUED",
    "REJECTED",
    "SENDING",
    "FleetRow",
    "OutboxEntry",
    "Store",
]
