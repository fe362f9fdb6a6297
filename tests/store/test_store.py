"""The offline store on a real SQLite file: edits, outbox, validation, migrations."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldtech.domain import ControllerState, Customer, ValidationError, new_id
from fieldtech.domain.errors import StillNeeded
from fieldtech.domain.models import Account
from fieldtech.offline_store import APPLIED, QUEUED, Store
from fieldtech.offline_store.schema import MIGRATIONS
from fieldtech.offline_store.seed import generate_account, seed_store
from tests.conftest import make_controller


def test_edit_changes_record_and_appends_outbox_row(store: Store, customer: Customer) -> None:
    c = make_controller(customer)
    created = store.create_controller(c)
    assert created.op == "create" and created.entity_id == c.id
    assert store.controller_row(c.id).state is ControllerState.NOT_LINKED

    config = store.controller(c.id).config
    config.zones[2].run_minutes = 25
    entry = store.update_controller(c.id, config=config, notes="Gate code 4412")
    assert entry is not None
    again = store.controller(c.id)
    assert again.notes == "Gate code 4412"
    assert again.config.zone(3).run_minutes == 25

    pending = store.outbox()
    # customer, controller, then the edit: one row for the record, one for its configuration
    # (its own document in the cloud, with its own revision)
    assert [(e.op, e.entity) for e in pending] == [
        ("create", "customer"), ("create", "controller"), ("update", "controller"),
        ("update", "config")]
    assert set(pending[2].patch) == {"notes"} and set(pending[3].patch) == {"config"}
    assert all(e.state == QUEUED for e in pending)
    assert len({e.id for e in pending}) == 4  # distinct idempotency keys
    assert store.fleet_rows()[0].pending == 3


def test_no_change_writes_no_outbox_row(store: Store, customer: Customer) -> None:
    c = make_controller(customer)
    store.create_controller(c)
    before = store.pending_count()
    assert store.update_controller(c.id, name=c.name) is None
    assert store.pending_count() == before


def test_invalid_edit_saves_nothing(store: Store, customer: Customer) -> None:
    c = make_controller(customer)
    store.create_controller(c)
    before = store.pending_count()
    config = store.controller(c.id).config
    config.zones[0].run_minutes = 9999
    with pytest.raises(ValidationError) as err:
        store.update_controller(c.id, config=config, name="")
    fields = {e.field for e in err.value.errors}
    assert fields == {"name", "zones.1.run_minutes"}
    assert store.controller(c.id).name == "Front yard"
    assert store.controller(c.id).config.zone(1).run_minutes == 10
    assert store.pending_count() == before


def test_binding_a_serial_changes_state(store: Store, customer: Customer) -> None:
    c = make_controller(customer)
    store.create_controller(c)
    store.update_controller(c.id, serial="FT1-0A1B2C3D")
    assert store.controller_row(c.id).state is ControllerState.OFFLINE
    with pytest.raises(ValidationError):
        store.update_controller(c.id, serial="not a serial")


def test_usage_counts_local_creates_on_top_of_last_known(store: Store) -> None:
    seed_store(store, customers=5, controllers=24)
    u = store.usage()
    assert (u.controllers_used, u.controllers_limit, u.tier.value) == (24, 25, "starter")
    k = store.customers()[0]
    store.create_controller(make_controller(k))
    u = store.usage()
    assert u.controllers_used == 25
    assert u.controller_warning() is not None and "26 of 25" in u.controller_warning()


def test_seed_is_realistic(store: Store) -> None:
    customers, controllers = seed_store(store, customers=40, controllers=200)
    rows = store.fleet_rows()
    assert (customers, controllers) == (40, 200) == (len(store.customers()), len(rows))
    states = {r.state for r in rows}
    assert ControllerState.NOT_LINKED in states and ControllerState.ONLINE in states
    assert all(4 <= r.zone_count <= 24 for r in rows)
    assert [r.customer_name.casefold() for r in rows] == sorted(
        r.customer_name.casefold() for r in rows)
    some = store.controller(rows[0].controller_id)
    assert some.config.programs and len(some.config.zones) == some.zone_count
    assert store.pending_count() == 0  # seeded records are "as synced"
    assert store.base("controller", some.id)[0] == 1
    # Made today, an account has rain delays and suspensions still to come (the demo shows them).
    configs = [store.controller(r.controller_id).config for r in rows]
    now = datetime.now(UTC)
    assert any(c.rain_delay_until and c.rain_delay_until > now for c in configs)
    assert any(z.suspended_until and z.suspended_until > now.date()
               for c in configs for z in c.zones)


def test_reopen_keeps_data_and_schema_version(tmp_path) -> None:
    path = tmp_path / "s.db"
    with Store(path) as s:
        k = Customer(id=new_id(), name="Ben Ito")
        s.create_customer(k)
    with Store(path) as s:
        assert s.customer(k.id).name == "Ben Ito"
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_newer_schema_is_refused_with_a_clear_message(tmp_path) -> None:
    path = tmp_path / "s.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    conn.commit()
    with pytest.raises(RuntimeError, match="newer fieldtech"):
        Store(path)


def test_recent_controllers_most_recent_first(store: Store, customer: Customer) -> None:
    ids = []
    for n in range(3):
        c = make_controller(customer, name=f"Site {n}")
        store.create_controller(c)
        ids.append(c.id)
    for i in ids:
        store.touch_recent(i)
    store.touch_recent(ids[0])
    assert store.recent() == [ids[0], ids[2], ids[1]]
    store.delete_controller(ids[2])
    assert store.recent() == [ids[0], ids[1]]


def test_outbox_state_transitions(store: Store, customer: Customer) -> None:
    entries = store.outbox()
    store.set_outbox_state(entries[0].id, APPLIED)
    assert store.outbox() == []
    assert store.pending_count() == 0
    k2 = replace(customer, id=new_id(), name="Second")
    store.create_customer(k2)
    assert store.pending_count() == 1


def test_schema_1_store_moves_to_2_with_configuration_edits_split_out(tmp_path) -> None:
    """A store written before sync: its controller base copies held the configuration and one
    outbox row could hold both record fields and the configuration."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript("BEGIN;" + MIGRATIONS[0] + ";PRAGMA user_version=1;COMMIT;")
    config = {"zones": [{"number": 1, "name": "Lawn", "run_minutes": 12}], "programs": [],
              "rain_delay_until": None}
    db.execute("INSERT INTO customer (id, name, revision) VALUES ('k1', 'Rosa', 3)")
    db.execute("INSERT INTO controller (id, customer_id, name, model, zone_count, revision) "
               "VALUES ('c1', 'k1', 'Front', 'FT-8', 1, 4)")
    db.execute("INSERT INTO controller_config VALUES ('c1', ?)", (json.dumps(config),))
    db.execute("INSERT INTO base VALUES ('controller', 'c1', 4, ?)",
               (json.dumps({"id": "c1", "name": "Front", "config": config}),))
    for n, patch in enumerate(({"notes": "gate", "config": config}, {"config": config},
                               {"name": "Front 2"})):
        db.execute("INSERT INTO outbox (id, created_at, op, entity, entity_id, patch, "
                   "base_revision) VALUES (?, '2026-11-01', 'update', 'controller', 'c1', ?, 4)",
                   (f"e{n}", json.dumps(patch)))
    db.commit()
    db.close()

    with Store(path) as store:
        pending = [(e.id, e.entity, sorted(e.patch)) for e in store.outbox()]
        assert pending == [("e0", "controller", ["notes"]), ("e1", "config", ["config"]),
                           ("e2", "controller", ["name"]), ("e0.config", "config", ["config"])]
        assert store.base("config", "c1") == (4, config)
        assert "config" not in store.base("controller", "c1")[1]
        assert store.record_data("config", "c1")[0] == 4  # config revision starts as the record's
        assert store.fleet_rows()[0].pending == 4


def test_discarding_a_create_takes_its_later_edits_and_keeps_what_others_need(
        store: Store, customer: Customer) -> None:
    c = make_controller(customer)
    created = store.create_controller(c)
    store.update_controller(c.id, notes="Gate code 4412")
    config = store.controller(c.id).config
    config.zones[0].run_minutes = 30
    store.update_controller(c.id, config=config)
    customer_create = store.outbox()[0]
    assert (customer_create.op, customer_create.entity) == ("create", "customer")

    # The customer's controller still waits to be sent: discarding the customer would leave it
    # pointing at nothing, so it is refused and nothing changes.
    before = [e.id for e in store.outbox()]
    with pytest.raises(StillNeeded, match="1 controller made for this new customer"):
        store.discard(customer_create.id)
    assert [e.id for e in store.outbox()] == before
    assert [k.id for k in store.customers()] == [customer.id]

    store.discard(created.id)  # the controller and its two later edits go together
    assert c.id not in {r.controller_id for r in store.fleet_rows()}
    assert [(e.op, e.entity) for e in store.outbox()] == [("create", "customer")]

    store.discard(customer_create.id)  # now nothing needs the customer
    assert store.customers() == [] and store.pending_count() == 0


def _synced(store: Store, customer: Customer, **kw):
    """A controller as if pulled from the cloud (revision 1, a base copy, no outbox row)."""
    c = make_controller(customer, **kw)
    store.put_synced_many([(customer, 1)], [(c, 1, ControllerState.OFFLINE, None)])
    store.set_outbox_state(store.outbox()[0].id, APPLIED)  # the customer's create, sent
    store.set_account(Account(id=new_id(), name="Greenline"), controllers_used=1)
    return c


def test_deleting_a_synced_controller_queues_a_delete_that_discard_undoes(
        store: Store, customer: Customer) -> None:
    c = _synced(store, customer, serial="FT1-0A1B2C3D", notes="Gate code 4412")
    store.touch_recent(c.id)
    entry = store.delete_controller(c.id)
    assert entry is not None
    assert (entry.op, entry.entity, entry.entity_id, entry.base_revision) == (
        "delete", "controller", c.id, 1)
    assert [(e.op, e.entity) for e in store.outbox()] == [("delete", "controller")]
    assert c.id not in {r.controller_id for r in store.fleet_rows()}
    assert store.recent() == []
    assert store.usage().controllers_used == 0  # its slot is free once the cloud has it

    store.discard(entry.id)
    back = store.controller(c.id)
    assert (back.name, back.serial, back.notes) == (c.name, c.serial, c.notes)
    assert back.config == c.config
    assert store.controller_row(c.id).state is ControllerState.OFFLINE
    assert store.pending_count() == 0 and store.usage().controllers_used == 1

    # its serial bound to another controller meanwhile: it cannot come back with it
    entry = store.delete_controller(c.id)
    other = make_controller(customer, name="Replacement", serial="FT1-0A1B2C3D")
    store.create_controller(other)
    with pytest.raises(StillNeeded, match="FT1-0A1B2C3D is now the serial of Replacement"):
        store.discard(entry.id)
    assert [e.op for e in store.outbox()] == ["delete", "create"]


def test_deleting_a_controller_never_sent_takes_its_edits_and_leaves_nothing_to_send(
        store: Store, customer: Customer) -> None:
    c = make_controller(customer)
    store.create_controller(c)
    store.update_controller(c.id, notes="typo")
    assert store.never_synced("controller", c.id)
    assert store.delete_controller(c.id) is None
    assert [(e.op, e.entity) for e in store.outbox()] == [("create", "customer")]
    assert store.counts() == (1, 0)


def test_a_customer_with_controllers_is_not_deleted(store: Store, customer: Customer) -> None:
    c = _synced(store, customer)
    with pytest.raises(StillNeeded, match="Rosa Patel still has 1 controller: delete or move "
                                          "it first"):
        store.delete_customer(customer.id)
    assert store.customer(customer.id) and store.pending_count() == 0

    # its controller deleted first, the customer can go; discards bring both back, in order
    deleted_controller = store.delete_controller(c.id)
    deleted_customer = store.delete_customer(customer.id)
    assert [(e.op, e.entity) for e in store.outbox()] == [
        ("delete", "controller"), ("delete", "customer")]
    assert store.customers() == []
    with pytest.raises(StillNeeded, match="customer is deleted here too"):
        store.discard(deleted_controller.id)
    store.discard(deleted_customer.id)
    store.discard(deleted_controller.id)
    assert store.customer(customer.id).name == "Rosa Patel"
    assert store.controller(c.id).name == c.name and store.pending_count() == 0


def test_a_serial_another_controller_holds_is_refused_naming_it(
        store: Store, customer: Customer) -> None:
    holder = _synced(store, customer, name="Side strip", serial="FT1-02B8C92A")
    other = make_controller(customer, name="Back lawn")
    store.create_controller(other)
    before = store.pending_count()
    with pytest.raises(ValidationError) as err:
        store.update_controller(other.id, serial="FT1-02B8C92A")
    assert [(e.field, e.message) for e in err.value.errors] == [
        ("serial", "FT1-02B8C92A is already the serial of Side strip (Rosa Patel). "
                   "Unbind it there first.")]
    with pytest.raises(ValidationError, match="already the serial of Side strip"):
        store.create_controller(make_controller(customer, serial="FT1-02B8C92A"))
    assert store.pending_count() == before and store.controller(other.id).serial is None

    # unbound never clashes; the holder keeps its own serial through other edits
    store.create_controller(make_controller(customer, name="Spare"))
    assert store.update_controller(holder.id, notes="still FT1-02B8C92A") is not None
    # once the holder lets it go, it can be bound elsewhere
    store.update_controller(holder.id, serial=None)
    store.update_controller(other.id, serial="FT1-02B8C92A")
    assert store.controller(other.id).serial == "FT1-02B8C92A"


class _StaleVersion:
    """A real connection whose first read of the schema version is what it was before another
    process migrated the file (the moment the app and a cron sync start together)."""

    def __init__(self, conn: sqlite3.Connection, stale: int):
        self.conn, self.stale = conn, stale

    def execute(self, sql: str, *args):
        if sql == "PRAGMA user_version" and self.stale is not None:
            stale, self.stale = self.stale, None
            return self.conn.execute(f"SELECT {stale}")
        return self.conn.execute(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self.conn, name)

    def __enter__(self):
        return self.conn.__enter__()

    def __exit__(self, *exc):
        return self.conn.__exit__(*exc)


def test_a_migration_another_process_just_ran_is_not_run_twice(tmp_path) -> None:
    from fieldtech.offline_store.schema import migrate

    path = tmp_path / "s.db"
    Store(path).close()  # the other process: migrated to the latest schema
    conn = sqlite3.connect(path)
    assert migrate(_StaleVersion(conn, len(MIGRATIONS) - 1)) == len(MIGRATIONS)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    conn.close()
    with Store(path) as s:  # and the store is whole
        assert s.pending_count() == 0


def test_names_sort_in_natural_order(store: Store) -> None:
    """ "Bulk 2" before "Bulk 10", for customers, controllers and templates (issue 12)."""
    from fieldtech.domain.text import natural_key
    from tests.conftest import make_controller

    for name in ("Bulk 10", "bulk 2", "Bulk 1"):
        customer = Customer(id=new_id(), name=name)
        store.create_customer(customer)
        for site in ("Yard 10", "Yard 9"):
            store.create_controller(make_controller(customer, name=site))
    assert [k.name for k in store.customers()] == ["Bulk 1", "bulk 2", "Bulk 10"]
    rows = store.fleet_rows()
    assert [(r.customer_name, r.name) for r in rows[:2]] == [("Bulk 1", "Yard 9"),
                                                             ("Bulk 1", "Yard 10")]
    assert sorted(["x²", "a 3", "a 03b"], key=natural_key) == ["a 3", "a 03b", "x²"]


def test_seeding_writes_exactly_the_generated_account(store: Store) -> None:
    """The seeder writes controllers as they are drawn (issue 17: 100,000 without holding them
    all) and draws choices without random.choice: the store must still hold, field for field,
    the account generate_account() makes from the same seed (the cloud's demo copy)."""
    day = date(2026, 6, 1)
    seed_store(store, customers=30, controllers=7000, seed=21, today=day)  # two bulk chunks
    made = generate_account(30, 7000, seed=21, today=day)
    assert store.counts() == (30, 7000)
    for want, _rev, state, fault in made.controllers[::97] + made.controllers[-3:]:
        got = store.controller(want.id)
        mine, theirs = got.to_dict(), want.to_dict()
        for doc in (mine, theirs):  # program ids are new uuids on every run
            for program in doc["config"]["programs"]:
                program.pop("id")
        assert mine == theirs
        row = store.controller_row(want.id)
        assert (row.state, row.fault) == (state, fault)
    assert {c.id: c for c in store.customers()} == {c.id: c for c in made.customers}


def test_fleet_rows_share_one_string_per_distinct_value(store: Store) -> None:
    """At 100,000 controllers a new str per cell was 20 MB (issue 17): a customer's rows hold
    its own id and name objects, and equal controller names and models are one object."""
    seed_store(store, customers=20, controllers=300, seed=4)
    rows = [r for r in store.fleet_rows() if r.controller_id]
    by_customer: dict[str, list] = {}
    for r in rows:
        by_customer.setdefault(r.customer_id, []).append(r)
    many = next(group for group in by_customer.values() if len(group) > 2)
    assert all(r.customer_id is many[0].customer_id for r in many)
    assert all(r.customer_name is many[0].customer_name for r in many)
    for field in ("name", "model"):
        values = [getattr(r, field) for r in rows]
        assert len({id(v) for v in values}) == len(set(values))


def test_a_repeated_generated_serial_takes_the_next_free_number() -> None:
    """At 100,000 controllers 32-bit serials repeat about once; the cloud refuses a repeat."""
    from fieldtech.offline_store.seed import _unique_serials

    made = generate_account(3, 4, seed=8).controllers
    made[1][0].serial = made[0][0].serial = "FT1-FFFFFFFF"
    made[2][0].serial = "FT1-00000000"  # then taken by the repeat (the number wraps)
    made[3][0].serial = None
    serials = [row[0].serial for row in _unique_serials(made)]
    assert serials == ["FT1-FFFFFFFF", "FT1-00000000", "FT1-00000001", None]


def test_the_headers_offline_count_reads_an_index_not_the_fleet(store: Store) -> None:
    """The top bar counts offline controllers before the first paint: at 100,000 controllers
    a scan of the whole table was 11 ms of it."""
    from fieldtech.offline_store.live import fleet_health

    seed_store(store, 10, 40)
    offline = sum(1 for r in store.fleet_rows() if r.state is ControllerState.OFFLINE)
    assert fleet_health(store, datetime.now(UTC)).offline == offline
    plan = store._query("EXPLAIN QUERY PLAN SELECT count(*) FROM controller WHERE state=?",
                        (ControllerState.OFFLINE.value,))
    assert any("controller_state" in row[-1] for row in plan), plan


def test_the_first_screenful_is_the_top_of_the_fleet_with_its_firmware_and_edits(
        store: Store) -> None:
    """The first screenful reads only its own controllers' device states and pending edits
    (a synced fleet of 100,000 has a device state each: 200 ms before the first paint)."""
    seed_store(store, 30, 80)
    rows = [r for r in store.fleet_rows() if r.controller_id]
    top, below = rows[2], rows[-1]
    store.apply_changes([{"entity": "device_state", "id": r.controller_id, "op": "upsert",
                          "data": {"firmware": f"2.{n}.0"}} for n, r in enumerate((top, below))],
                        1)
    for r in (top, below):
        store.update_controller(r.controller_id, notes="Gate code 1234")
    head = store.fleet_rows(first=20)
    assert head == store.fleet_rows()[:20]
    shown = next(r for r in head if r.controller_id == top.controller_id)
    assert (shown.firmware, shown.pending) == ("2.0.0", 1)
    assert below.controller_id not in {r.controller_id for r in head}


def test_the_first_screenful_reads_only_the_controllers_of_the_customers_it_shows(
        store: Store) -> None:
    """Its customers are counted from an index until they fill the screenful; only theirs are
    read: reading the first `first` customers' controllers whole read ~5 times as many rows,
    from all over the file (3-6 ms of the start at 100,000, the disk cache cold)."""
    seed_store(store, 30, 150)
    whole = store.fleet_rows()
    read: list[str] = []
    store._conn.set_trace_callback(read.append)
    try:
        for first in (1, 4, 7, 12, 40):
            read.clear()
            head = store.fleet_rows(first=first)
            assert head == whole[:first]
            shown = {r.customer_id for r in head}
            controllers = [sql for sql in read if "zone_count" in sql]
            assert len(controllers) == 1
            named = {k for k in (r.customer_id for r in whole) if f"'{k}'" in controllers[0]}
            assert named == shown, first
    finally:
        store._conn.set_trace_callback(None)


def test_a_recent_held_for_after_the_frame_is_written_when_the_store_closes(
        store: Store, customer: Customer) -> None:
    shown = [make_controller(customer, name=f"Site {n}") for n in range(2)]
    for c in shown:
        store.create_controller(c)
    store.touch_recent(shown[0].id)
    store.shown_recent(shown[1].id)  # the app quit before the switch's frame
    store.close()
    with Store(store.path) as again:
        assert again.recent() == [shown[1].id, shown[0].id]


def test_a_switch_does_not_wait_for_a_write_holding_the_store(
        store: Store, customer: Customer) -> None:
    """A sync's page write holds the store for its transaction; the switch's recents (on the
    app's event loop) are held without it and written after."""
    import threading

    controller = make_controller(customer)
    store.create_controller(controller)
    inside, done = threading.Event(), threading.Event()

    def long_write() -> None:
        with store.transaction():
            inside.set()
            done.wait(10)

    writer = threading.Thread(target=long_write)
    writer.start()
    try:
        assert inside.wait(10)
        shown = threading.Thread(target=store.shown_recent, args=(controller.id,))
        shown.start()
        shown.join(2)
        assert not shown.is_alive(), "shown_recent waited for the store's writer"
    finally:
        done.set()
        writer.join()
    assert store.recent() == [controller.id]


def test_recents_that_failed_to_be_written_are_kept_for_the_next_try(
        store: Store, customer: Customer, monkeypatch: pytest.MonkeyPatch) -> None:
    controller = make_controller(customer)
    store.create_controller(controller)
    store.shown_recent(controller.id)

    def locked(*_a, **_k):
        raise sqlite3.OperationalError("database is locked")

    with monkeypatch.context() as m:
        m.setattr(store, "_write", locked)  # another process holds the file (cannot be made
        with pytest.raises(sqlite3.OperationalError):  # here without waiting its timeout)
            store.save_recents()
    assert store.recent() == [controller.id]


def test_the_first_screenful_is_the_top_of_the_whole_fleet_in_natural_order(
        tmp_path: Path) -> None:
    # SQLite's NOCASE order read "Bulk 1", "Bulk 10", "Bulk 100", "Bulk 11"… as the first
    # customers: the top of the list reordered once the whole fleet was read.
    path = tmp_path / "s.db"
    with Store(path) as store:
        store.set_account(Account(id=new_id(), name="Co"))
        for n in (*range(1, 121), "02", "Ärger 3", "ärger 20", "10 Main St", "#1"):
            customer = Customer(id=new_id(), name=f"Bulk {n}" if isinstance(n, int) else n)
            store.create_customer(customer)
            store.create_controller(make_controller(customer, name="Yard 1"))
    with Store(path) as store:  # and as it is read at the next start
        whole = store.fleet_rows()
        assert [r.customer_name for r in whole[:3]] == ["02", "10 Main St", "#1"]
        for first in (1, 20, 60):
            assert store.fleet_rows(first=first) == whole[:first]
        plan = " ".join(r[3] for r in store._query(
            "EXPLAIN QUERY PLAN SELECT id FROM customer ORDER BY sort_name, id LIMIT 60"))
        assert "customer_sort_name" in plan and "TEMP B-TREE" not in plan  # an index's part
        renamed = next(r for r in whole if r.customer_name == "Bulk 7")
        store.update_customer(renamed.customer_id, name="1 Bulk")
        assert store.fleet_rows(first=1)[0].customer_id == renamed.customer_id
    with closing(sqlite3.connect(path)) as db:  # another program reads and checks the file
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@given(st.lists(st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=12),
                min_size=2, max_size=8))
def test_the_stores_natural_sort_text_orders_as_natural_key(names: list[str]) -> None:
    from fieldtech.domain.text import natural_key, natural_sort_text

    by_key = sorted(names, key=lambda n: (natural_key(n), n))
    assert sorted(names, key=lambda n: (natural_sort_text(n), n)) == by_key


def test_a_process_that_knows_no_sort_name_still_writes_customers(tmp_path: Path) -> None:
    # An older fieldtech still running on the file (or another program) registers none of
    # the store's functions and writes no sort_name; the next open puts its customers in
    # the first screenful's order.
    path = tmp_path / "s.db"
    with Store(path) as store:
        store.set_account(Account(id=new_id(), name="Co"))
        for name in ("Bulk 10", "Bulk 20"):
            store.create_customer(Customer(id=new_id(), name=name))
    with closing(sqlite3.connect(path)) as db:
        db.execute("INSERT INTO customer (id, name) VALUES ('k1', 'Bulk 30')")
        db.execute("UPDATE customer SET email='rosa@mail.example' WHERE id='k1'")
        db.commit()
    with Store(path) as store:
        assert [r.customer_name for r in store.fleet_rows(first=2)] == ["Bulk 10", "Bulk 20"]
        store.update_customer("k1", name="Bulk 2")
        assert store.fleet_rows(first=1)[0].customer_name == "Bulk 2"
