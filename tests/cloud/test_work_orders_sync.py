"""Work orders as synced documents: made offline, ticked, quoted, timed; pushed to the
reference cloud on 127.0.0.1, pulled by a second client, merged field by field; a
technician's day in route order."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from fieldtech.cloud.sync import SyncEngine, resolve_conflict
from fieldtech.domain.errors import ValidationError
from fieldtech.domain.plans import Tier
from fieldtech.domain.work_orders import checklists
from fieldtech.offline_store.store import CONFLICT, Store
from fieldtech.services.edits import EditService
from fieldtech.services.work_orders import WorkOrderService, time_entry_id

DAY = date(2027, 3, 15)


def test_a_work_order_made_offline_syncs_and_merges_like_any_record(
        seeded, tmp_path: Path) -> None:
    account = seeded(4, 8, Tier.CONTRACTOR)
    a, b = Store(tmp_path / "a.db"), Store(tmp_path / "b.db")
    ea, eb = SyncEngine(a, account.api()), SyncEngine(b, account.api())
    ea.sync()
    eb.sync()
    mine, theirs = WorkOrderService(EditService(a)), WorkOrderService(EditService(b))
    customer = a.customers()[0]
    startup = checklists(None)["Start-up"]
    made = mine.create(customer.id, startup, DAY, "ana@greenline.example")
    order_id = made.record_id
    mine.tick(order_id, 0)
    mine.add_finding(order_id, "Cracked head in zone 3", quote_cents=4500)
    assert a.pending_count() == 3
    assert ea.sync().error is None and a.pending_count() == 0
    remote = account.get(f"/v1/documents/{order_id}")
    assert remote["kind"] == "work_order" and remote["data"]["checklist"][0]["done"] is True
    assert remote["data"]["findings"][0]["quote"] == "pending"

    assert eb.sync().error is None
    # both sides change different fields offline: merged by the sync, nobody asked
    theirs.add_minutes(order_id, 50)
    assert eb.sync().error is None
    mine.set_quote(order_id, 0, "approved")
    report = ea.sync()
    assert report.error is None and not report.needs_attention
    eb.sync()
    for store in (a, b):
        data = store.document(order_id).data
        assert data["minutes"] == 50 and data["findings"][0]["quote"] == "approved"
        assert data["checklist"][0]["done"] is True


def test_a_technicians_day_is_in_route_order_and_bad_input_is_refused(
        tmp_path: Path) -> None:
    from fieldtech.offline_store.seed import seed_store

    store = Store(tmp_path / "s.db")
    seed_store(store, 12, 20)
    service = WorkOrderService(EditService(store))
    winter = checklists(None)["Winterization"]
    for customer in store.customers()[:8]:
        service.create(customer.id, winter, DAY, "ben" if len(customer.name) % 2 else "ana")
    service.create(store.customers()[9].id, winter, date(2027, 3, 16), "ana")
    day = service.day(DAY, "ana")
    assert day and all(v.data["technician"] == "ana" and v.data["date"] == DAY.isoformat()
                       for v in day)
    keys = [(v.city.casefold(), v.address.casefold()) for v in day]
    assert keys == sorted(keys)
    assert len(service.day(DAY)) == 8
    order_id = day[0].order.id
    with pytest.raises(ValidationError):
        service.set_status(order_id, "finished-ish")
    with pytest.raises(ValidationError):
        service.tick(order_id, 99)
    with pytest.raises(ValidationError):
        service.add_finding(order_id, "")


def test_checklists_from_toml_files(tmp_path: Path) -> None:
    (tmp_path / "hoa.toml").write_text('visit = "HOA spring walk"\n'
                                       'items = ["Walk with the manager", "Photos"]\n')
    found = checklists(tmp_path)
    assert found["HOA spring walk"].items == ("Walk with the manager", "Photos")
    assert "Start-up" in found
    (tmp_path / "bad.toml").write_text('visit = ""\n')
    with pytest.raises(ValidationError, match=r"bad\.toml"):
        checklists(tmp_path)


def _time_entries(store: Store, order_id: str) -> list:
    from fieldtech.services.work_orders import time_entry_id

    return [d for d in store.documents("time_entry") if d.id == time_entry_id(order_id)]


def test_closing_a_work_order_books_its_time_once(seeded, tmp_path: Path) -> None:
    """Closing with time spent makes the customer's time entry (issue 15's, billed as a
    visit); closing again, here or on another client after a sync, never makes a second."""
    account = seeded(4, 8, Tier.CONTRACTOR)
    a, b = Store(tmp_path / "a.db"), Store(tmp_path / "b.db")
    ea, eb = SyncEngine(a, account.api()), SyncEngine(b, account.api())
    ea.sync()
    mine, theirs = WorkOrderService(EditService(a)), WorkOrderService(EditService(b))
    customer = a.customers()[0]
    order_id = mine.create(customer.id, checklists(None)["Repair"], DAY, "Ana").record_id
    mine.set_status(order_id, "done")  # no time spent: nothing to book
    assert a.documents("time_entry") == []
    mine.set_status(order_id, "in_progress")
    mine.add_minutes(order_id, 90)
    mine.set_status(order_id, "done")
    [entry] = a.documents("time_entry")
    assert {k: entry.data[k] for k in (
        "customer_id", "date", "minutes", "kind", "who")} == {
        "customer_id": customer.id, "date": DAY.isoformat(), "minutes": 90, "kind": "visit",
        "who": "Ana"}
    assert entry.data["note"] == "Work order: Repair"
    mine.set_status(order_id, "in_progress")
    mine.set_status(order_id, "done")  # closed again, nothing new
    assert len(a.documents("time_entry")) == 1
    mine.add_minutes(order_id, 30)
    mine.set_status(order_id, "done")  # more time: the same entry, brought up to date
    assert [e.data["minutes"] for e in a.documents("time_entry")] == [120]

    assert ea.sync().error is None and a.pending_count() == 0
    assert eb.sync().error is None
    assert [e.data["minutes"] for e in _time_entries(b, order_id)] == [120]
    theirs.set_status(order_id, "in_progress")
    theirs.set_status(order_id, "done")  # on the other client: the entry is already there
    assert len(b.documents("time_entry")) == 1
    assert eb.sync().error is None and b.pending_count() == 0
    ea.sync()
    entries = account.get("/v1/documents?kind=time_entry")["documents"]
    assert [e["data"]["minutes"] for e in entries] == [120]
    assert [e.data["minutes"] for e in _time_entries(a, order_id)] == [120]


def test_a_work_order_closed_on_two_clients_offline_books_its_time_once(
        seeded, tmp_path: Path) -> None:
    account, (_, ea, mine), (b, eb, theirs), order_id = _an_order_of_60_min_on_two_clients(
        seeded, tmp_path)
    mine.set_status(order_id, "done")  # both offline: each makes the entry (the same id)
    theirs.set_status(order_id, "done")
    assert ea.sync().applied == 2
    report = eb.sync()  # pulls A's entry, then its own create finds it there, alike
    assert report.error is None and report.rejected == 0 and not report.needs_attention
    assert b.pending_count() == 0
    entries = account.get("/v1/documents?kind=time_entry")["documents"]
    assert [e["data"]["minutes"] for e in entries] == [60]
    assert [e.data["minutes"] for e in _time_entries(b, order_id)] == [60]


@pytest.mark.parametrize("later", ["theirs", "mine"])
def test_a_work_order_closed_on_two_clients_offline_with_different_minutes(
        seeded, tmp_path: Path, later: str) -> None:
    """A closes after 60 min, B after 75 (A never changed the minutes): the second entry to
    reach the cloud is not refused — it becomes an edit of the first, a conflict on its
    minutes, which then follows the order's minutes as the sync merged them (75), whichever
    client came second."""
    account, (a, ea, mine), (b, eb, theirs), order_id = _an_order_of_60_min_on_two_clients(
        seeded, tmp_path)
    mine.set_status(order_id, "done")
    theirs.add_minutes(order_id, 15)
    theirs.set_status(order_id, "done")
    first, second = (ea, eb) if later == "theirs" else (eb, ea)
    store = b if later == "theirs" else a
    assert first.sync().error is None
    report = second.sync()
    assert report.error is None and report.rejected == 0 and report.conflicts == 1
    entry_id = time_entry_id(order_id)
    [conflict] = store.conflicts()
    assert (conflict.entity, conflict.id, conflict.fields) == ("document", entry_id,
                                                                ("minutes",))
    [held] = [e for e in store.outbox([CONFLICT]) if e.entity_id == entry_id]
    assert held.op == "update" and "different minutes" in (held.message or "")
    assert store.document(order_id).data["minutes"] == 75  # the order merged: only B set it
    assert WorkOrderService(EditService(store)).follow_orders() == 1
    assert store.conflicts() == []
    assert second.sync().error is None and store.pending_count() == 0
    assert first.sync().error is None
    entries = account.get("/v1/documents?kind=time_entry")["documents"]
    assert [e["data"]["minutes"] for e in entries] == [75]
    for s in (a, b):
        assert [e.data["minutes"] for e in _time_entries(s, order_id)] == [75]


def test_an_entry_whose_order_is_in_conflict_too_is_the_persons_to_settle(
        seeded, tmp_path: Path) -> None:
    """Both clients added time (70 and 75): the order's minutes are in conflict, and so is
    its entry; nothing decides for the person, who keeps one on the pending screen."""
    account, (_, ea, mine), (b, eb, theirs), order_id = _an_order_of_60_min_on_two_clients(
        seeded, tmp_path)
    mine.add_minutes(order_id, 10)
    mine.set_status(order_id, "done")
    theirs.add_minutes(order_id, 15)
    theirs.set_status(order_id, "done")
    assert ea.sync().error is None
    assert eb.sync().conflicts == 2
    assert theirs.follow_orders() == 0
    assert {(c.id, c.fields) for c in b.conflicts()} == {
        (order_id, ("minutes",)), (time_entry_id(order_id), ("minutes",))}
    for entity_id in (order_id, time_entry_id(order_id)):
        resolve_conflict(b, "document", entity_id, set())  # 75: mine, on both
    assert eb.sync().error is None and b.pending_count() == 0
    entries = account.get("/v1/documents?kind=time_entry")["documents"]
    assert [e["data"]["minutes"] for e in entries] == [75]


def test_closing_a_work_order_and_booking_its_time_are_one_transaction(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If booking the time fails (a crash between the two writes), the order is not closed
    either: closing it again books it."""
    import fieldtech.services.work_orders as work_orders
    from fieldtech.offline_store.seed import seed_store

    store = Store(tmp_path / "a.db")
    seed_store(store, 2, 2)
    orders = WorkOrderService(EditService(store))
    order_id = orders.create(store.customers()[0].id, checklists(None)["Repair"], DAY,
                             "Ana").record_id
    orders.add_minutes(order_id, 45)
    before = store.pending_count()

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # what a kill between the two writes leaves undone
    monkeypatch.setattr(work_orders, "log_time", crash)
    with pytest.raises(KeyboardInterrupt):
        orders.set_status(order_id, "done")
    assert store.document(order_id).data["status"] != "done"
    assert store.documents("time_entry") == [] and store.pending_count() == before
    monkeypatch.undo()
    orders.set_status(order_id, "done")
    assert store.document(order_id).data["status"] == "done"
    assert [e.data["minutes"] for e in store.documents("time_entry")] == [45]


def test_fieldtech_sync_settles_the_entry_by_its_order_as_the_app_does(
        seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """The second client is `fieldtech sync` (cron, a technician's laptop): the entry follows
    the merged order and is sent in the same run; nothing is left for the person (exit 0)."""
    from fieldtech.cli import main
    from fieldtech.offline_store.paths import store_path

    account, (_, ea, mine), (b, _, theirs), order_id = _an_order_of_60_min_on_two_clients(
        seeded, tmp_path)
    mine.set_status(order_id, "done")  # A: 60 min
    theirs.add_minutes(order_id, 15)
    theirs.set_status(order_id, "done")  # B: 75 min, both offline
    b.close()
    assert ea.sync().error is None
    folder = tmp_path / "b-laptop"
    folder.mkdir()
    (tmp_path / "b.db").rename(store_path(folder))
    monkeypatch.setenv("FIELDTECH_TOKEN", account.token)
    monkeypatch.setenv("FIELDTECH_CLOUD_URL", account.url)
    assert main(["--data-dir", str(folder), "sync", "--quiet"]) == 0, capsys.readouterr().err
    with Store(store_path(folder)) as laptop:
        assert laptop.conflicts() == [] and laptop.pending_count() == 0
    entries = account.get("/v1/documents?kind=time_entry")["documents"]
    assert [e["data"]["minutes"] for e in entries] == [75]


def _an_order_of_60_min_on_two_clients(seeded, tmp_path: Path):  # type: ignore[no-untyped-def]
    """An account, two clients (store, sync engine, work orders) that both hold a work order
    with 60 minutes spent, synced; → (account, (a, ea, mine), (b, eb, theirs), order id)."""
    account = seeded(4, 8, Tier.CONTRACTOR)
    a, b = Store(tmp_path / "a.db"), Store(tmp_path / "b.db")
    ea, eb = SyncEngine(a, account.api()), SyncEngine(b, account.api())
    ea.sync()
    mine, theirs = WorkOrderService(EditService(a)), WorkOrderService(EditService(b))
    order_id = mine.create(a.customers()[0].id, checklists(None)["Repair"], DAY,
                           "Ana").record_id
    mine.add_minutes(order_id, 60)
    assert ea.sync().error is None and eb.sync().error is None
    return account, (a, ea, mine), (b, eb, theirs), order_id


async def test_the_app_lets_the_entry_follow_its_order_after_a_sync(
        seeded, tmp_path: Path) -> None:
    """The same two closes, the second client being the app: its sync settles the entry by
    the order and sends it at once; nothing is left for the person."""
    from tests.cloud.test_tui_sync import sync_with_key, tui
    from tests.tui.conftest import SIZE, wait_for

    account, (_, ea, mine), (b, _, theirs), order_id = _an_order_of_60_min_on_two_clients(
        seeded, tmp_path)
    mine.set_status(order_id, "done")
    theirs.add_minutes(order_id, 15)
    theirs.set_status(order_id, "done")
    assert ea.sync().error is None
    app = tui(tmp_path, b, account.api)
    async with app.run_test(size=SIZE) as pilot:
        await sync_with_key(pilot)
        await wait_for(pilot, lambda: b.pending_count() == 0 and not app.link.busy)
    assert b.conflicts() == []
    entries = account.get("/v1/documents?kind=time_entry")["documents"]
    assert [e["data"]["minutes"] for e in entries] == [75]
