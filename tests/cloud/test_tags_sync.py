"""Tags on customers and controllers: a field like any other, edited offline, synced, merged."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldtech.cloud.sync import SyncEngine
from fieldtech.domain.errors import ValidationError
from fieldtech.domain.plans import Tier
from fieldtech.offline_store.store import Store
from fieldtech.services.fleet_index import FleetIndex


def test_tags_reach_the_cloud_and_a_second_client_and_filter_the_fleet(
        seeded, tmp_path: Path) -> None:
    account = seeded(4, 10, Tier.CONTRACTOR)
    mine = Store(tmp_path / "mine.db")
    SyncEngine(mine, account.api()).sync()
    row = mine.fleet_rows()[0]
    mine.update_customer(row.customer_id, tags="hoa")
    mine.update_controller(row.controller_id, tags="spring-startup")
    report = SyncEngine(mine, account.api()).sync()
    assert report.error is None and mine.pending_count() == 0
    assert account.get(f"/v1/customers/{row.customer_id}")["tags"] == "hoa"
    assert account.get(f"/v1/controllers/{row.controller_id}")["tags"] == "spring-startup"

    theirs = Store(tmp_path / "theirs.db")
    SyncEngine(theirs, account.api()).sync()
    assert theirs.controller(row.controller_id).tags == "spring-startup"
    index = FleetIndex(theirs.fleet_rows())
    hits = {index.rows[i].customer_id for i in index.filter("tag:hoa")}
    assert hits == {row.customer_id}
    assert [index.rows[i].controller_id for i in index.filter("tag:spring")] == [
        row.controller_id]


def test_a_bad_tag_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    from fieldtech.offline_store.seed import seed_store
    store = Store(tmp_path / "s.db")
    seed_store(store, 2, 3)
    cid = store.fleet_rows()[0].controller_id
    for bad in ("Upper", "two  spaces", "b a", "a a", "x" * 30, "semi;colon"):
        with pytest.raises(ValidationError):
            store.update_controller(cid, tags=bad)
    assert store.controller(cid).tags == "" and store.pending_count() == 0
