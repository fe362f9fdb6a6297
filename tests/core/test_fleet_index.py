"""The fleet search: filter and fuzzy finder on a generated account."""

from __future__ import annotations

import pytest

from fieldtech.fleet_index import FINDER_LIMIT, FleetIndex
from fieldtech.offline_store import Store
from fieldtech.offline_store.seed import seed_store


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> FleetIndex:
    store = Store(tmp_path_factory.mktemp("ix") / "s.db")
    seed_store(store, 150, 600)
    rows = store.fleet_rows()
    store.close()
    return FleetIndex(rows)


def test_exact_serial_finds_that_controller_first(index: FleetIndex) -> None:
    target = next(r for r in index.rows if r.serial)
    hits = index.search(target.serial[:-1].lower())
    assert hits[0].controller_id == target.controller_id


def test_every_word_must_match(index: FleetIndex) -> None:
    target = index.rows[77]
    first, last = target.customer_name.split()[:2] if " " in target.customer_name else (
        target.customer_name, "")
    hits = index.search(f"{first} {last} {target.name}")
    assert target in hits
    assert all(first.lower() in f"{h.customer_name} {h.name} {h.address}".lower() for h in hits)


def test_fuzzy_matches_letters_in_order(index: FleetIndex) -> None:
    hits = index.search("frnt yrd")
    assert hits and all(h.name.startswith("Front yard") for h in hits[:3])
    assert index.search("qqqzzzx") == []


def test_results_are_capped(index: FleetIndex) -> None:
    assert len(index.search("a")) == FINDER_LIMIT
    assert len(index.filter("a")) > FINDER_LIMIT  # the filter is not capped


def test_narrowing_gives_same_answer_as_fresh_search(index: FleetIndex) -> None:
    for word in ("oakridge", "ana", "ft1-a"):
        for i in range(1, len(word) + 1):
            index.search(word[:i])
        incremental = index.search(word)
        fresh = FleetIndex(index.rows).search(word)
        assert incremental == fresh


def test_filter_keeps_list_order(index: FleetIndex) -> None:
    hits = index.filter("fresno")
    assert hits == sorted(hits) and hits
    assert all("fresno" in index.rows[i].address.lower() for i in hits)
