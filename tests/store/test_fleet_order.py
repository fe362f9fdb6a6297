"""The fleet's order: customers, then each customer's controllers, in natural order."""

from __future__ import annotations

from fieldtech.domain import Customer, new_id
from fieldtech.domain.text import natural_key
from fieldtech.offline_store import Store
from tests.conftest import make_controller


def test_the_fleet_reads_in_natural_order_by_customer_then_controller(store: Store) -> None:
    """Put in order a customer at a time (one sort of the whole fleet kept the app's keys
    waiting at 100,000): the order of one stable sort of the rows as stored by (customer
    name, customer id, controller name), natural and case-blind; customers of one name
    apart; a customer with no controller yet in its place, as a row with no controller."""
    names = ["Bulk 10", "bulk 2", "Acme", "Bulk 2", "Zed", "Bulk 2", "Empty 1"]
    customers = [Customer(id=new_id(), name=n) for n in names]
    for k in customers:
        store.create_customer(k)
    made = []  # (customer, controller name), as stored
    for k in customers[::-1]:
        for name in ("Yard 10", "yard 9", "Back", "Yard 9")[:0 if k.name == "Empty 1" else 4]:
            made.append((k, store.create_controller(make_controller(k, name=name)).entity_id))
    rows = store.fleet_rows()
    by_id = {r.controller_id: r for r in rows}
    expected = sorted(made, key=lambda m: (natural_key(m[0].name), m[0].id,
                                           natural_key(by_id[m[1]].name)))
    empty = customers[-1]
    assert [(r.customer_name, r.controller_id) for r in rows if r.customer_id != empty.id] == [
        (k.name, controller_id) for k, controller_id in expected]
    assert [r.customer_name.casefold() for r in rows][:5] == ["acme"] * 4 + ["bulk 2"]
    (no_controller,) = [r for r in rows if r.customer_id == empty.id]
    assert no_controller.controller_id == "" and rows[-5] == no_controller  # before "Zed"


def test_a_read_given_between_leaves_the_store_free_and_reads_one_moment(store: Store) -> None:
    """`fleet_rows(between=…)` (the app's whole read, seconds at 100,000) reads on a
    connection of its own: between two chunks of rows another thread reads and writes the
    store at once (a controller opened by a switch waited for the whole read), and the rows
    read are the store as it was when the read began."""
    import threading

    from fieldtech.offline_store.seed import seed_store

    seed_store(store, customers=30, controllers=4500)
    before = store.fleet_rows()
    other = before[-1]
    seen: list[object] = []

    def meanwhile() -> None:
        seen.append(store.controller(other.controller_id).name)
        store.create_customer(Customer(id=new_id(), name="Aardvark Landscaping"))
        seen.append(len(store.fleet_rows()))

    def between() -> None:
        if not seen:
            thread = threading.Thread(target=meanwhile)
            thread.start()
            thread.join(10)
            assert not thread.is_alive(), "the store was held by the read"

    rows = store.fleet_rows(between=between)
    assert seen == [other.name, len(before) + 1]
    assert rows == before  # not the customer added meanwhile
    assert store.fleet_rows(between=lambda: None)[0].customer_name == "Aardvark Landscaping"
