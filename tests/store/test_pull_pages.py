"""A page of the cloud's change log written to the store (issue 17: a first sync of 100,000
controllers): records simply new here go in with one executemany per table, everything else
one by one, and the store ends exactly as if every change had been applied one at a time."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from fieldtech.domain import Customer
from fieldtech.offline_store import Store
from fieldtech.offline_store import store as store_module
from fieldtech.offline_store.seed import generate_account


def _page() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Two pages as the cloud sends them: new customers and controllers (each controller's
    configuration after it), with the cases the one-by-one path decides in between."""
    made = generate_account(6, 30, seed=12)
    changes: list[dict[str, Any]] = []
    for customer in made.customers[:5]:  # the sixth never comes: its controllers wait
        changes.append({"entity": "customer", "id": customer.id, "op": "upsert",
                        "data": {**customer.to_dict(), "revision": 1}})
    for n, (controller, *_rest) in enumerate(made.controllers):
        data = controller.to_dict()
        config = data.pop("config")
        changes.append({"entity": "controller", "id": controller.id, "op": "upsert",
                        "data": {**data, "revision": 1}})
        if n % 7 != 3:  # some configurations come in a later page
            changes.append({"entity": "config", "id": controller.id, "op": "upsert",
                            "data": {"revision": 2, "config": config}})
        if n == 10:  # the same record twice in one page
            changes.append({"entity": "controller", "id": controller.id, "op": "upsert",
                            "data": {**data, "name": "Renamed", "revision": 2}})
        if n == 12:  # gone again in the same page
            changes.append({"entity": "controller", "id": controller.id, "op": "delete"})
    later = [{"entity": "config", "id": c.id, "op": "upsert",
              "data": {"revision": 3, "config": c.config.to_dict()}}
             for n, (c, *_rest) in enumerate(made.controllers) if n % 7 == 3]
    later.append({"entity": "customer", "id": made.customers[0].id, "op": "upsert",
                  "data": {**made.customers[0].to_dict(), "name": "Changed", "revision": 2}})
    return changes, later


PAGES = _page()  # once: program ids are new on every generation


def _contents(path: Path) -> dict[str, list[Any]]:
    with closing(sqlite3.connect(path)) as db:
        return {t: sorted(map(list, db.execute(f"SELECT {columns} FROM {t}")), key=json.dumps)
                for t, columns in (("customer", "*"), ("controller", "*"),
                                   ("controller_config", "*"), ("base", "*"),
                                   ("sync_state", "*"), ("outbox", "op, entity, entity_id, "
                                                         "patch, base_revision, state"))}


def _fill(path: Path, one_by_one: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[set, set]:
    with monkeypatch.context() as patch:
        if one_by_one:
            patch.setattr(store_module._NewRecords, "take", lambda self, change: False)
        with Store(path) as store:
            local = Customer(id="here-1", name="Made here")  # a local edit, not yet sent
            store.create_customer(local)
            first, later = [list(page) for page in PAGES]
            first.insert(3, {"entity": "customer", "id": "here-1", "op": "upsert",
                             "data": {**local.to_dict(), "name": "Cloud's", "revision": 1}})
            one = store.apply_changes(first, 100)
            two = store.apply_changes(later, 200)
            return one.changed, two.changed


def test_a_page_written_in_bulk_is_the_page_written_one_by_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bulk = _fill(tmp_path / "bulk.db", False, monkeypatch)
    single = _fill(tmp_path / "single.db", True, monkeypatch)
    assert bulk == single
    assert _contents(tmp_path / "bulk.db") == _contents(tmp_path / "single.db")
    with Store(tmp_path / "bulk.db") as store:
        held = store.counts()
        assert held[1] > 20 and held[0] == 6  # five from the cloud and the local one
        assert store.pending_count() == 1


def test_a_first_page_goes_in_with_one_statement_a_table(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Not ten statements a controller: the executemany path is the one taken."""
    taken: list[str] = []
    take = store_module._NewRecords.take

    def counting(self: Any, change: dict[str, Any]) -> bool:
        if ok := take(self, change):
            taken.append(change["entity"])
        return ok

    monkeypatch.setattr(store_module._NewRecords, "take", counting)
    first = PAGES[0]
    with Store(tmp_path / "s.db") as store:
        store.apply_changes(first, 1)
    assert taken.count("customer") == 5
    assert taken.count("controller") >= 15 and taken.count("config") >= 12
