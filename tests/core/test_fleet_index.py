"""The fleet search: filter and fuzzy finder on a generated account."""

from __future__ import annotations

import pytest

from fieldtech.offline_store import Store
from fieldtech.offline_store.seed import seed_store
from fieldtech.offline_store.store import FleetRow
from fieldtech.services import fleet_index
from fieldtech.services.fleet_index import FINDER_LIMIT, FleetIndex


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


def test_a_name_typed_whole_outranks_a_shorter_name_matched_by_address() -> None:
    """"entrance 7" opens Entrance 7, not Entrance whose address happens to hold a 7."""
    from fieldtech.domain import ControllerState

    def row(i: int, name: str, customer: str, address: str) -> FleetRow:
        return FleetRow(f"c{i}", f"k{i}", customer, name, None, ControllerState.NOT_LINKED,
                        None, 6, "FT-6", address, "", 0)

    index = FleetIndex([row(1, "Entrance", "Ben Ito", "17 Oak St"),
                        row(2, "Entrance east", "Ann Lee", "7 Elm Rd"),
                        row(3, "Entrance 7", "Farid Evans", "2 Pine Ave"),
                        row(4, "Front", "Zoe 7th", "1 Bay St")])
    assert [r.name for r in index.search("entrance 7")][:1] == ["Entrance 7"]
    assert [r.name for r in index.search("entrance")] == [
        "Entrance", "Entrance east", "Entrance 7"]  # one word: list order as before


def test_sorting_by_name_is_natural_and_city_filters() -> None:
    from fieldtech.domain.models import ControllerState

    def row(i: int, name: str, address: str) -> FleetRow:
        return FleetRow(f"c{i}", "k", "Ana", name, None, ControllerState.NOT_LINKED, None, 4,
                        "FT-8", address, "none", 0, "2.1.0" if i % 2 else None)

    index = FleetIndex([row(1, "Bulk 10", "1 Elm St, Tucson, AZ"),
                        row(2, "Bulk 3", "2 Elm St, Reno, NV"),
                        row(3, "bulk 1", "3 Elm St, Tucson, AZ")])
    by_name = index.sort(list(range(3)), "name")
    assert [index.rows[i].name for i in by_name] == ["bulk 1", "Bulk 3", "Bulk 10"]
    assert [index.rows[i].name for i in index.sort(by_name, "-name")] == [
        "Bulk 10", "Bulk 3", "bulk 1"]
    assert [index.rows[i].name for i in index.filter("city:tucson")] == ["Bulk 10", "bulk 1"]
    assert [index.rows[i].name for i in index.filter("firmware:2.1")] == ["Bulk 10", "bulk 1"]
    with pytest.raises(ValueError):
        index.sort([0], "colour")


@pytest.mark.parametrize("ahead", ["", "ahead", "in pieces"],
                         ids=["on first sort", "built ahead", "built ahead in pieces"])
def test_every_sort_is_the_plain_stable_sort_of_its_keys(index: FleetIndex, ahead: str,
                                                         monkeypatch) -> None:
    """FleetIndex.sort reads a column's order built once (ranks of distinct values, then a
    mask for a filtered list), on the first sort by it or ahead (`prepare`, what the fleet
    screen does after a read, the serials sorted in runs and merged, pausing between pieces);
    it must give exactly the plain stable sort of the keys, each way, for the whole list and
    for a filtered one, ties in list order."""
    if ahead:
        index = FleetIndex(index.rows)
        if ahead == "in pieces":  # 600 rows in runs of 70, merged 50 at a time
            monkeypatch.setattr(fleet_index, "ORDER_RUN", 70)
            monkeypatch.setattr(fleet_index, "ORDER_SLICE", 50)
        index.prepare(lambda: False)
        assert index.prepared
    from fieldtech.domain.text import natural_key
    from fieldtech.services.queries import FLEET_SORTS

    keys = {
        "name": lambda r, i: natural_key(r.name),
        "status": lambda r, i: list(type(r.state)).index(r.state),
        "city": lambda r, i: natural_key(index.city(i)),
        "firmware": lambda r, i: natural_key(r.firmware) if r.firmware else ((2, ""),),
        "model": lambda r, i: natural_key(r.model),
        "serial": lambda r, i: r.serial.casefold() if r.serial else "\uffff",
    }
    every = list(range(len(index)))
    some = every[::3]
    for column in FLEET_SORTS:
        if column == "customer":
            continue
        for shown in (every, some):
            for descending in (False, True):
                expected = sorted(shown, key=lambda i, c=column: keys[c](index.rows[i], i),
                                  reverse=descending)
                got = index.sort(shown, ("-" if descending else "") + column)
                assert list(got) == expected, (column, descending, len(shown))


def test_building_orders_ahead_waits_for_keys_between_its_pieces(index: FleetIndex,
                                                                  monkeypatch) -> None:
    """The fleet screen builds the orders in a thread, with the app's key wait as `between`:
    it is asked before every order and between the pieces of the serials' (one C sort of
    100,000 strings kept a key waiting ~40 ms)."""
    monkeypatch.setattr(fleet_index, "ORDER_RUN", 70)
    monkeypatch.setattr(fleet_index, "ORDER_SLICE", 50)
    fresh = FleetIndex(index.rows)
    built: list[int] = []
    fresh.prepare(lambda: False, lambda: built.append(len(fresh._orders)))
    assert fresh.prepared
    serials = len(index.rows) - sum(1 for r in index.rows if not r.serial)  # rows with one
    runs, slices = -(-serials // 70), -(-serials // 50)
    orders = 2 * len(fleet_index.FLEET_SORTS)
    assert len(built) == orders + 2 * (runs + slices), (len(built), runs, slices)
    # the pieces came while the serials' orders were being built (each asked more than once)
    assert sorted(built.count(k) for k in set(built))[-2:] == [1 + runs + slices] * 2


def test_building_orders_ahead_stops_when_cancelled(index: FleetIndex) -> None:
    fresh = FleetIndex(index.rows)
    asked = []
    fresh.prepare(lambda: len(asked) > 2 or bool(asked.append(1)))
    assert not fresh.prepared and 0 < len(fresh._orders) < 12


def test_every_field_filter_is_the_row_at_a_time_reading_of_its_rule(index: FleetIndex) -> None:
    """The structured filter decides each condition once a distinct value and applies it in
    C; it must keep exactly the rows the rules keep read a row at a time (queries.py: a field
    starts with one of its values, a tag of the row starts with one, a flag is set)."""
    def starts(value: str | None, wanted: str) -> bool:
        return any((value or "").casefold().startswith(w) for w in wanted.split(","))

    def kept(row: FleetRow, i: int, query: dict[str, str], flags: set[str]) -> bool:
        have = {"status": row.state.value, "membership": row.membership, "model": row.model,
                "customer": row.customer_name, "city": index.city(i),
                "firmware": row.firmware}
        return (("alert" not in flags or bool(row.fault))
                and ("pending" not in flags or bool(row.pending))
                and all(any(t.startswith(w) for t in row.tags.split()
                            for w in wanted.split(",")) if name == "tag"
                        else starts(have[name], wanted) for name, wanted in query.items()))

    sample = index.rows[11]
    city = index.city(11)
    cases = [({"status": "online"}, set()), ({"status": "off,not"}, set()),
             ({"membership": sample.membership[:3]}, set()),
             ({"city": city[:2].lower(), "model": sample.model[:2].lower()}, set()),
             ({"customer": sample.customer_name.split()[0].lower()}, set()),
             ({"firmware": ""}, set()), ({}, {"alert"}), ({"status": "online"}, {"pending"}),
             ({"tag": "h"}, set())]
    for query, flags in cases:
        text = " ".join([f"{k}:{v}" for k, v in query.items()] + sorted(flags))
        expected = [i for i, r in enumerate(index.rows) if kept(r, i, query, flags)]
        assert index.filter(text) == expected, text
    assert any(index.filter("status:online")) and any(index.filter(f"city:{city.lower()}"))
    # words and fields together: the words' matches, narrowed
    word = sample.name.split()[0].lower()
    assert index.filter(f"{word} status:online") == [
        i for i in index.filter(word) if index.rows[i].state.value == "online"]


def _ranked_as_documented(index: FleetIndex, query: str) -> list[FleetRow]:
    """FleetIndex.search's ranking, written the slow and obvious way (a row at a time)."""
    import re

    q = query.casefold().strip()
    terms = q.split()

    def folded(r: FleetRow) -> tuple[str, str, str, str]:
        return ((r.serial or "").casefold(), r.name.casefold(), r.customer_name.casefold(),
                r.address.casefold())

    rows = [(r, *folded(r)) for r in index.rows]
    hits = [x for x in rows if all(any(t in f for f in x[1:]) for t in terms)]

    def starts(x: tuple, prefix: str) -> bool:
        return x[1].startswith(prefix) or x[2].startswith(prefix)

    tiers = [lambda x: starts(x, terms[0]),
             lambda x: f" {terms[0]}" in f" {x[2]}" or f" {terms[0]}" in f" {x[3]}",
             lambda x: True]
    if len(terms) > 1:
        tiers[:0] = [lambda x: starts(x, q),
                     lambda x: starts(x, terms[0]) and all(t in f"{x[2]}\t{x[3]}"
                                                          for t in terms[1:])]
    out: list[FleetRow] = []
    for tier in tiers:
        out += [x[0] for x in hits if tier(x) and x[0] not in out]
    out = out[:FINDER_LIMIT]
    if len(hits) < 5:
        patterns = [re.compile(".*?".join(map(re.escape, t))) for t in terms]
        near = [x[0] for x in rows if x not in hits
                and all(p.search(f"{x[2]}\t{x[3]}") for p in patterns)]
        out += near[:FINDER_LIMIT - len(out)]
    return out


def test_search_ranks_as_documented(index: FleetIndex) -> None:
    """The ranking runs in C over every row at 100,000 controllers; it must still rank as its
    docstring says (checked against a row-at-a-time reading of it)."""
    import random

    rnd = random.Random(5)
    queries = ["frnt yrd", "entrance 7", "front yard 3", "a", "x", "os-", "tucson", "hoa dental",
               "grdn", "ft1-0", "sth bds", "qqq", "maple hoa"]
    for r in rnd.sample(index.rows, 25):
        queries += [r.name[:rnd.randrange(2, 9)] + " " + r.customer_name[:3],
                    (r.serial or "ft1")[:rnd.randrange(2, 8)],
                    "".join(c for c in r.customer_name.lower() if c not in "aeiou")[:6]]
    for query in queries:
        # As typed, then backspaced: the index narrows as it goes and keeps what it found.
        for typed in [*range(1, len(query) + 1), *range(len(query) - 1, 0, -1)]:
            assert index.search(query[:typed]) == _ranked_as_documented(index, query[:typed]), (
                query[:typed])
            assert index.filter(query[:typed]) == [
                i for i, r in enumerate(index.rows)
                if all(any(t in f.casefold() for f in (r.serial or "", r.name, r.customer_name,
                                                       r.address))
                       for t in query[:typed].casefold().split())]


def test_search_without_earlier_queries_ranks_as_documented(index: FleetIndex,
                                                            monkeypatch) -> None:
    """A query no earlier one narrows is looked for in the text, tier by tier, stopping at the
    list's end (a pass over every row cost 9-14 ms at 100,000): the same answers, whether
    its words are rare (all hits read), common (the first tiers read), or common apart and
    rare together (read up to READ_AT_MOST rows, then every row)."""
    import random

    from fieldtech.services import fleet_index

    fresh = FleetIndex(index.rows)
    rnd = random.Random(7)
    queries = ["a", "e", "o", "os", "ft", "ra", "an", "front", "yard", "a e", "os- ft1",
               "ft1 a", "ana a", "qz", "frnt", "hoa dental", "entrance 7"]
    for r in rnd.sample(index.rows, 20):
        queries += [r.customer_name.split()[0][:3] + " " + r.name[:2], r.name[:2],
                    r.address.split()[-1][:3], (r.serial or "x")[:5]]
    for read_at_most in (fleet_index.READ_AT_MOST, 30):
        monkeypatch.setattr(fleet_index, "READ_AT_MOST", read_at_most)
        for query in queries:
            fresh._kept.clear()  # nothing to narrow: every query looked for in the text
            assert fresh.search(query) == _ranked_as_documented(fresh, query), query
            # What it kept (read to the end) is every hit: the next query narrows it.
            for key, kept in fresh._kept.items():
                assert list(kept) == [
                    i for i, r in enumerate(fresh.rows)
                    if all(any(t in f.casefold() for f in (r.serial or "", r.name,
                                                           r.customer_name, r.address))
                           for t in key.split())], key


def test_a_coded_column_gives_back_every_value() -> None:
    """Few-valued columns are kept as a code a row (a byte up to 256 values, else 4 bytes):
    each row's code must stand for its own value, in both forms."""
    from fieldtech.services.fleet_index import _coded

    for values in (["b", "a", "b", None, "c"] * 7, [f"v{i % 300}" for i in range(900)]):
        coded = _coded(iter(values))
        assert [coded.values[c] for c in coded.codes] == values
        assert isinstance(coded.codes, bytes) is (len(set(values)) <= 256)


def test_an_empty_fleet_builds_its_orders_and_sorts() -> None:
    """A new store has no controllers: the fleet screen still builds the orders ahead."""
    empty = FleetIndex([])
    empty.prepare(lambda: False)
    assert empty.prepared and list(empty.sort([], "status")) == []
    assert empty.filter("status:online alert tag:x") == []
