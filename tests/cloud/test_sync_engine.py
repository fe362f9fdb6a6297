"""The sync engine against the real reference server on 127.0.0.1 (and a real SQLite store)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from fieldtech.cloud import sync as sync_module
from fieldtech.cloud.sync import SyncEngine, SyncReport, resolve_conflict
from fieldtech.domain.models import Controller, ControllerConfig, Customer, new_id
from fieldtech.domain.plans import CustomerPlan, Tier
from fieldtech.offline_store.store import APPLIED, CONFLICT, QUEUED, REJECTED, Store


def test_first_sync_pulls_the_account_and_an_idle_sync_is_one_small_request(
        seeded, store: Store) -> None:
    account = seeded(8, 20, Tier.CONTRACTOR)
    engine = SyncEngine(store, account.api())
    first = engine.sync()
    assert first.error is None
    assert store.counts() == (8, 20)
    usage = store.usage()
    assert (usage.controllers_used, usage.controllers_limit) == (20, 75)
    some = store.fleet_rows()[0]
    remote = account.get(f"/v1/controllers/{some.controller_id}/config")
    assert store.controller(some.controller_id).config.to_dict()["zones"] == \
        remote["config"]["zones"]

    idle = engine.sync()
    assert idle.error is None and idle.pulled == 0 and idle.applied == 0
    assert idle.requests == 1
    assert idle.bytes_sent + idle.bytes_received < 2048


def test_offline_edits_reach_the_cloud_and_a_second_client(seeded, tmp_path: Path) -> None:
    account = seeded(8, 20, Tier.CONTRACTOR)
    mine = Store(tmp_path / "mine.db")
    SyncEngine(mine, account.api()).sync()
    # offline: a new customer (on an included Enthusiast plan) with a controller, edits
    k = Customer(id=new_id(), name="Noor Haddad", plan=CustomerPlan.ENTHUSIAST)
    mine.create_customer(k)
    c = Controller(id=new_id(), customer_id=k.id, name="Orchard", zone_count=6,
                   config=ControllerConfig.default_for(6))
    mine.create_controller(c)
    mine.update_controller(c.id, name="Orchard east")
    config = mine.controller(c.id).config
    config.zones[3].run_minutes = 17
    mine.update_controller(c.id, config=config)
    existing = mine.fleet_rows()[0].controller_id
    mine.update_controller(existing, notes="Gate code 9911")
    assert mine.pending_count() == 5

    report = SyncEngine(mine, account.api()).sync()
    assert report.error is None, report.error
    assert report.applied == 5 and not report.needs_attention
    assert mine.pending_count() == 0
    assert account.get(f"/v1/controllers/{c.id}")["name"] == "Orchard east"
    assert account.get(f"/v1/controllers/{c.id}/config")["config"]["zones"][3][
        "run_minutes"] == 17
    assert account.get(f"/v1/customers/{k.id}")["plan"] == "enthusiast"

    theirs = Store(tmp_path / "theirs.db")
    SyncEngine(theirs, account.api()).sync()
    assert theirs.controller(c.id).config.zone(4).run_minutes == 17
    assert theirs.controller(existing).notes == "Gate code 9911"
    assert theirs.customer(k.id).plan is CustomerPlan.ENTHUSIAST


def _two_clients(seeded, tmp_path):
    account = seeded(8, 20, Tier.CONTRACTOR)
    a, b = Store(tmp_path / "a.db"), Store(tmp_path / "b.db")
    ea, eb = SyncEngine(a, account.api()), SyncEngine(b, account.api())
    ea.sync()
    eb.sync()
    return account, a, b, ea, eb, a.fleet_rows()[0].controller_id


def _set_zone(store: Store, cid: str, zone: int, minutes: int) -> None:
    config = store.controller(cid).config
    config.zones[zone - 1].run_minutes = minutes
    store.update_controller(cid, config=config)


def test_edits_of_different_fields_merge_by_themselves(seeded, tmp_path) -> None:
    account, a, b, ea, eb, cid = _two_clients(seeded, tmp_path)
    _set_zone(a, cid, 1, 31)
    a.update_controller(cid, notes="from A")
    _set_zone(b, cid, 2, 42)
    b.update_controller(cid, location="Behind the shed")
    assert not ea.sync().needs_attention
    report = eb.sync()
    assert not report.needs_attention and report.conflicts == 0
    ea.sync()
    for store in (a, b):
        c = store.controller(cid)
        assert (c.config.zone(1).run_minutes, c.config.zone(2).run_minutes) == (31, 42)
        assert (c.notes, c.location) == ("from A", "Behind the shed")
    remote = account.get(f"/v1/controllers/{cid}/config")["config"]["zones"]
    assert (remote[0]["run_minutes"], remote[1]["run_minutes"]) == (31, 42)


def test_a_412_on_push_merges_different_fields_and_sends_again(seeded, tmp_path) -> None:
    """A's edit lands between B's pull and B's push: B's push is refused as stale (412), the
    engine merges against its base and the merged copy goes in the same sync."""
    account, a, b, ea, eb, cid = _two_clients(seeded, tmp_path)
    _set_zone(a, cid, 1, 31)
    a.update_controller(cid, notes="from A")
    _set_zone(b, cid, 2, 42)
    b.update_controller(cid, location="Behind the shed")
    report = SyncReport()
    eb.pull(report)  # B has the cloud as it was: nothing new
    assert report.pulled == 0
    assert ea.sync().applied == 2  # ...and now A's edits are in: B's revisions are stale
    eb.push(report)
    assert report.merged == 2  # the config and the record fields, each a clean 412 merge
    assert report.applied == 2 and report.conflicts == 0 and report.rejected == 0
    assert b.pending_count() == 0
    remote = account.get(f"/v1/controllers/{cid}")
    assert (remote["notes"], remote["location"]) == ("from A", "Behind the shed")
    zones = account.get(f"/v1/controllers/{cid}/config")["config"]["zones"]
    assert (zones[0]["run_minutes"], zones[1]["run_minutes"]) == (31, 42)
    # B holds the merged copy on the cloud's new revisions; A gets B's half with its pull
    c = b.controller(cid)
    assert (c.config.zone(1).run_minutes, c.config.zone(2).run_minutes) == (31, 42)
    assert (c.notes, c.location) == ("from A", "Behind the shed")
    assert b.revision("controller", cid) == remote["revision"]
    assert eb.sync().pulled == 0 and ea.sync().error is None
    assert a.controller(cid).location == "Behind the shed"
    assert a.controller(cid).config.zone(2).run_minutes == 42


def test_a_push_of_many_claims_goes_whole_in_one_sync_in_order(
        seeded, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """More edits than MAX_ROUNDS claims: a claim cut at its size is not a round, so one sync
    sends everything (a 10,000-controller campaign stopped at 8 rounds of 1,000 before); the
    batches, sent while the previous answer is written, keep their order per record."""
    monkeypatch.setattr(sync_module, "CLAIM_ITEMS", 3)
    account = seeded(8, 40, Tier.BRONZE)
    engine = SyncEngine(store, account.api(), batch_size=2)
    engine.sync()
    ids = [r.controller_id for r in store.fleet_rows()]
    for n, cid in enumerate(ids):
        _set_zone(store, cid, 1, 10 + n % 40)
    store.update_controller(ids[0], notes="after its zone")  # a second edit of one record
    _set_zone(store, ids[0], 1, 55)  # and a third, after it
    progress: list[int] = []
    engine.progress = lambda p: progress.append(p.records) if p.phase == "push" else None
    report = engine.sync()
    assert report.error is None and report.waiting == 0
    assert report.applied == len(ids) + 2 and store.pending_count() == 0
    assert report.applied > sync_module.MAX_ROUNDS * 3
    assert progress == sorted(progress) and progress[-1] == report.applied
    for n, cid in enumerate(ids):
        zones = account.get(f"/v1/controllers/{cid}/config")["config"]["zones"]
        assert zones[0]["run_minutes"] == (55 if n == 0 else 10 + n % 40)
    assert account.get(f"/v1/controllers/{ids[0]}")["notes"] == "after its zone"


@pytest.mark.parametrize("choice", ["mine", "theirs"])
def test_same_field_edited_twice_is_a_conflict_the_user_settles(
        seeded, tmp_path, choice) -> None:
    account, a, b, ea, eb, cid = _two_clients(seeded, tmp_path)
    a.update_controller(cid, notes="A says", name="A name")
    _set_zone(a, cid, 3, 13)
    b.update_controller(cid, notes="B says")
    _set_zone(b, cid, 3, 23)
    ea.sync()
    report = eb.sync()
    assert report.conflicts == 2 and report.needs_attention
    assert "2 conflicts" in report.summary()
    states = {(e.entity, e.state) for e in b.outbox()}
    assert states == {("controller", CONFLICT), ("config", CONFLICT)}
    record = b.conflict("controller", cid)
    assert record.fields == ("notes",) and record.theirs["notes"] == "A says"
    assert b.controller(cid).name == "A name"  # the field only A changed came in anyway
    assert b.conflict("config", cid).fields == ("zones.3.run_minutes",)
    # nothing of B's is lost while it waits
    assert b.controller(cid).notes == "B says"
    assert b.controller(cid).config.zone(3).run_minutes == 23

    take = {"notes"} if choice == "theirs" else set()
    resolve_conflict(b, "controller", cid, take)
    resolve_conflict(b, "config", cid, {"zones.3.run_minutes"} if choice == "theirs" else set())
    assert not b.conflicts()
    assert not eb.sync().needs_attention
    ea.sync()
    want_notes, want_minutes = ("A says", 13) if choice == "theirs" else ("B says", 23)
    remote = account.get(f"/v1/controllers/{cid}")
    assert remote["notes"] == want_notes and remote["name"] == "A name"
    assert account.get(f"/v1/controllers/{cid}/config")["config"]["zones"][2][
        "run_minutes"] == want_minutes
    for store in (a, b):
        assert store.controller(cid).notes == want_notes
        assert store.controller(cid).config.zone(3).run_minutes == want_minutes
    assert b.pending_count() == 0


def test_quota_rejection_keeps_the_controller_as_a_draft_until_the_plan_grows(
        seeded, store: Store) -> None:
    account = seeded(10, 25, Tier.STARTER)  # 25 controllers: full
    engine = SyncEngine(store, account.api())
    engine.sync()
    assert store.usage().controller_warning(1) is not None  # warned before it is made
    owner = store.fleet_rows()[0].customer_id
    extra = Controller(id=new_id(), customer_id=owner, name="Twenty-sixth", zone_count=4,
                       config=ControllerConfig.default_for(4))
    store.create_controller(extra)
    store.update_controller(extra.id, notes="waits behind the create")

    report = engine.sync()
    assert report.needs_upgrade == 1 and report.rejected == 1
    assert "1 needs a plan upgrade" in report.summary()
    # the edit went with the create (one item: the record as it is now), so both wait
    create, edit = store.outbox_for("controller", extra.id)
    assert (create.state, edit.state) == (REJECTED, REJECTED)
    assert "25" in create.message and "Starter" in create.message
    assert store.controller(extra.id).notes == "waits behind the create"  # kept locally
    r = httpx.get(f"{account.url}/v1/controllers/{extra.id}",
                  headers={"Authorization": f"Bearer {account.token}"})
    assert r.status_code == 404

    # a later edit of the refused controller waits behind it
    later = store.update_controller(extra.id, location="Behind the gate")
    report = engine.sync()
    assert report.waiting == 1 and report.applied == 0
    assert store.outbox_for("controller", extra.id)[-1].state == QUEUED
    assert later.id == store.outbox_for("controller", extra.id)[-1].id

    # the contractor upgrades; the technician retries the draft
    r = httpx.put(f"{account.url}/v1/account/tier", json={"tier": "contractor"},
                  headers={"Authorization": f"Bearer {account.token}"})
    assert r.status_code == 200
    assert store.retry(create.id) == 2  # the create, and its edit refused with it
    report = engine.sync()
    assert report.applied == 3 and not report.needs_attention
    assert account.get(f"/v1/controllers/{extra.id}")["notes"] == \
        "waits behind the create"
    assert store.usage().controllers_used == 26


def test_a_signed_out_token_keeps_everything_queued(seeded, store: Store) -> None:
    account = seeded(8, 20, Tier.CONTRACTOR)
    engine = SyncEngine(store, account.api())
    engine.sync()
    cid = store.fleet_rows()[0].controller_id
    store.update_controller(cid, notes="typed before the token was revoked")
    httpx.delete(f"{account.url}/v1/auth/tokens/"
                 + account.get("/v1/auth/tokens")["tokens"][0]["id"],
                 headers={"Authorization": f"Bearer {account.token}"})
    report = engine.sync()
    assert report.signed_out and "Log in again" in report.error
    assert [e.state for e in store.outbox_for("controller", cid)] == [QUEUED]
    assert store.controller(cid).notes == "typed before the token was revoked"


def test_discard_undoes_an_edit_and_a_create(seeded, store: Store) -> None:
    account = seeded(8, 20, Tier.CONTRACTOR)
    SyncEngine(store, account.api()).sync()
    row = store.fleet_rows()[0]
    before = store.controller(row.controller_id)
    edit = store.update_controller(row.controller_id, notes="oops")
    store.discard(edit.id)
    assert store.controller(row.controller_id).notes == before.notes
    extra = Controller(id=new_id(), customer_id=row.customer_id, name="Mistake", zone_count=4,
                       config=ControllerConfig.default_for(4))
    created = store.create_controller(extra)
    store.discard(created.id)
    assert extra.id not in {r.controller_id for r in store.fleet_rows()}
    assert store.pending_count() == 0
    assert all(e.state == APPLIED for e in store.outbox([APPLIED]))


def test_deletes_reach_the_cloud_and_a_second_client(seeded, tmp_path: Path) -> None:
    # Own seeds, off the shared counter: the later tests keep the fleets they were written for.
    account = seeded(8, 20, Tier.CONTRACTOR, seed=9101)
    mine, theirs = Store(tmp_path / "mine.db"), Store(tmp_path / "theirs.db")
    engine = SyncEngine(mine, account.api())
    engine.sync()
    SyncEngine(theirs, account.api()).sync()
    used = account.get("/v1/account")["usage"]["controllers_used"]
    # a customer with exactly one controller: the controller, then the customer
    rows = mine.fleet_rows()
    owner = next(r.customer_id for r in rows
                 if sum(x.customer_id == r.customer_id for x in rows) == 1)
    only = next(r.controller_id for r in rows if r.customer_id == owner)
    mine.delete_controller(only)
    mine.delete_customer(owner)

    report = engine.sync()
    assert report.error is None and report.applied == 2 and not report.needs_attention
    assert mine.pending_count() == 0
    assert account.get("/v1/account")["usage"]["controllers_used"] == used - 1
    assert mine.usage().controllers_used == used - 1
    for path in (f"/v1/controllers/{only}", f"/v1/customers/{owner}"):
        r = httpx.get(account.url + path, headers={"Authorization": f"Bearer {account.token}"})
        assert r.status_code == 404

    pulled = SyncEngine(theirs, account.api()).sync()
    assert pulled.error is None
    assert only not in {r.controller_id for r in theirs.fleet_rows()}
    assert owner not in {k.id for k in theirs.customers()}
    assert theirs.counts() == mine.counts() == (7, 19)


def test_a_delete_frees_the_slot_a_refused_create_waits_for(seeded, store: Store) -> None:
    """"Upgrade or remove a controller": removing one and retrying is enough, in one sync."""
    account = seeded(10, 25, Tier.STARTER, seed=9102)  # 25 controllers: full
    engine = SyncEngine(store, account.api())
    engine.sync()
    row = store.fleet_rows()[0]
    extra = Controller(id=new_id(), customer_id=row.customer_id, name="Twenty-sixth",
                       zone_count=4, config=ControllerConfig.default_for(4))
    create = store.create_controller(extra)
    assert engine.sync().needs_upgrade == 1

    store.delete_controller(row.controller_id)
    assert store.retry(create.id) == 1
    report = engine.sync()
    assert report.error is None and report.applied == 2 and not report.needs_attention
    assert account.get(f"/v1/controllers/{extra.id}")["name"] == "Twenty-sixth"
    assert account.get("/v1/account")["usage"]["controllers_used"] == 25


def test_a_refused_plan_change_stays_refused_and_the_record_goes_in(seeded, store: Store) -> None:
    account = seeded(5, 10, Tier.STARTER)  # Starter includes no Enthusiast plans
    engine = SyncEngine(store, account.api())
    engine.sync()
    k = Customer(id=new_id(), name="Noor Haddad", plan=CustomerPlan.ENTHUSIAST)
    store.create_customer(k)

    report = engine.sync()
    assert account.get(f"/v1/customers/{k.id}")["name"] == "Noor Haddad"  # the record went in
    assert account.get(f"/v1/customers/{k.id}")["plan"] == "home"
    refused = [e for e in store.outbox_for("customer", k.id) if e.state == REJECTED]
    assert refused and refused[0].message.startswith("Plan not changed"), store.outbox_for(
        "customer", k.id)
    assert report.needs_attention and report.outstanding.rejected == 1
    assert store.customer(k.id).plan is CustomerPlan.ENTHUSIAST  # what the user chose stays

    # After an upgrade (Contractor includes two Enthusiast plans) a retry sends the plan alone.
    with account.api() as api:
        api._call("PUT", "/v1/account/tier", json={"tier": "contractor"})
    assert store.retry(refused[0].id) == 1
    report = engine.sync()
    assert report.error is None and not report.needs_attention, report.summary()
    assert account.get(f"/v1/customers/{k.id}")["plan"] == "enthusiast"
    assert store.pending_count() == 0


@pytest.mark.parametrize("kind", ["controller", "customer"])
def test_take_theirs_on_a_deleted_record_reads_that_record_again_not_the_account(
        seeded, tmp_path, kind) -> None:
    """Deleted here, changed in the cloud: "take theirs" brings back the cloud's record with
    one or two small reads, and the change log's cursor stays where it was."""
    _account, a, b, ea, eb, cid = _two_clients(seeded, tmp_path)
    rows = b.fleet_rows()
    if kind == "controller":
        rid = cid
        b.delete_controller(cid)
        a.update_controller(cid, notes="Changed in the office")
        _set_zone(a, cid, 2, 41)
    else:  # a customer with no controller yet, so it may be deleted here
        lonely = Customer(id=new_id(), name="Nadia Oyelaran")
        a.create_customer(lonely)
        ea.sync()
        eb.sync()
        rid = lonely.id
        b.delete_customer(rid)
        a.update_customer(rid, phone="555-0199")
    ea.sync()
    report = eb.sync()
    assert report.conflicts == 1
    assert b.conflict(kind, rid).fields == ("deleted",)
    cursor = int(b.sync_value("cursor"))
    assert cursor > 0

    resolve_conflict(b, kind, rid, {"deleted"})
    assert not b.conflicts()
    back = eb.sync()
    assert back.error is None and not back.needs_attention, back.summary()
    assert int(b.sync_value("cursor")) == cursor  # not pulled again from the start
    # the idle pull, then the record (and a controller's configuration); usage if it counts
    assert back.requests <= (4 if kind == "controller" else 2), back.requests
    assert back.bytes_received < 8_000
    assert b.pending_count() == 0
    if kind == "controller":
        assert b.controller(cid).notes == "Changed in the office"
        assert b.controller(cid).config.zone(2).run_minutes == 41
        assert len(b.fleet_rows()) == len(rows)
    else:
        assert b.customer(rid).phone == "555-0199"
    assert b.refetch_wanted() == []


def test_a_store_that_synced_with_one_account_never_syncs_with_another(
        new_account, tmp_path: Path) -> None:
    # The same folder signed in to another account (a second company, a test account): sending
    # its queued edits there would put one contractor's customers in another's account.
    from fieldtech.cloud.link import CloudLink

    first, second = new_account(Tier.CONTRACTOR), new_account(Tier.CONTRACTOR)
    store = Store(tmp_path / "store.db")
    link = CloudLink(store, first.api)
    assert link.sync().error is None  # the store is now the first account's
    store.create_customer(Customer(id=new_id(), name="Noor Haddad"))

    link.connect(second.api)
    refused = link.sync()
    assert refused.error and "belong to the account" in refused.error
    assert f"Contractor {first.email}" in refused.error
    assert second.get("/v1/customers")["customers"] == []  # nothing sent
    assert [e.state for e in store.outbox()] == [QUEUED]  # nothing lost
    assert store.sync_value("account_id") == first.account_id
    assert link.sync().error == refused.error  # asked again on the next sync, still refused

    link.connect(first.api)  # back to the right account: the edit goes out
    sent = link.sync()
    assert sent.error is None and sent.applied == 1
    assert [c["name"] for c in first.get("/v1/customers")["customers"]] == ["Noor Haddad"]
    # the account is asked once per sign-in, not on every sync
    assert link.sync().requests == 1
