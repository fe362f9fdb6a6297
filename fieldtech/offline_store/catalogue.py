"""The default catalogue a store made before it was linked to a cloud account, adopted by it.

Without a cloud a store makes its default tiers and package under its local account's ids
(fieldtech.domain.contracts.default_id); every device of a cloud account makes them under that
account's. At the first sync with an account, before anything is sent, the local defaults take
the account's ids, and the agreements (and queued edits) that use them follow. A device of the
account that made them already holds the same records: the sync merges the two as it merges
any record made alike on two devices (a tier changed here differently is a per-field choice
for the person, never a second tier).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fieldtech.domain.contracts import default_catalogue

if TYPE_CHECKING:
    import sqlite3

    from fieldtech.offline_store.store import Store


def catalogue_namespace(store: Store) -> str:
    """Whose default ids this store makes: its cloud account's once linked (the ones every
    device of that account makes), else its local account's."""
    account = store.account()
    return store.sync_value("account_id") or (account.id if account else "local")


def adopt_default_catalogue(store: Store, local_account_id: str, account_id: str) -> int:
    """The defaults made under `local_account_id` and never sent take `account_id`'s ids, in
    one transaction, with every use of them in documents and queued edits. → how many."""
    from fieldtech.offline_store.store import QUEUED

    renames = {mine.id: theirs.id for mine, theirs in zip(
        default_catalogue(local_account_id), default_catalogue(account_id), strict=True)}
    with store._write() as db:
        ids = [*renames, *renames.values()]
        held = {r[0] for r in db.execute(
            f"SELECT id FROM document WHERE id IN ({','.join('?' * len(ids))})", ids)}
        sent = {r[0] for r in db.execute(
            "SELECT entity_id FROM outbox WHERE entity='document' AND state != ? UNION "
            "SELECT id FROM base WHERE entity='document'", (QUEUED,))}
        # Only what the cloud never saw, to a free id (one already held is another record).
        renames = {old: new for old, new in renames.items()
                   if old in held and new not in held and old not in sent}
        if not renames:
            return 0
        for old, new in renames.items():
            db.execute("UPDATE document SET id=? WHERE id=?", (new, old))
            db.execute("UPDATE outbox SET entity_id=? WHERE entity='document' AND entity_id=?",
                       (new, old))
        _rename_uses(db, renames)
    return len(renames)


def _rename_uses(db: sqlite3.Connection, renames: dict[str, str]) -> None:
    """Every document and queued document edit naming an old id names the new one. Ids are
    random UUIDs: a string equal to one is a use of that record (a tier_id, a package_id)."""
    patterns = [f'%"{old}"%' for old in renames]
    for table, key, col, only in (("document", "id", "data", "1"),
                                  ("outbox", "seq", "patch", "entity='document'")):
        like = " OR ".join([f"{col} LIKE ?"] * len(renames))
        rows = db.execute(f"SELECT {key}, {col} FROM {table} WHERE {only} AND ({like})",
                          patterns).fetchall()
        for key_value, text in rows:
            db.execute(f"UPDATE {table} SET {col}=? WHERE {key}=?",
                       (json.dumps(_renamed(json.loads(text), renames)), key_value))


def _renamed(value: Any, renames: dict[str, str]) -> Any:
    if isinstance(value, str):
        return renames.get(value, value)
    if isinstance(value, list):
        return [_renamed(v, renames) for v in value]
    if isinstance(value, dict):
        return {k: _renamed(v, renames) for k, v in value.items()}
    return value
