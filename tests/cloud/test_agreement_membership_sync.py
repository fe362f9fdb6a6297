"""A customer's membership follows their agreement end to end: a real SQLite store, the sync
engine and the reference server on 127.0.0.1. Signed offline, the agreement and the customer's
membership reach the cloud with no conflict left over and a second client sees both; an
agreement made over the API reaches the store's customer (the fleet column) the same way."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from fieldtech.cloud.sync import SyncEngine
from fieldtech.domain.models import Account, Customer, new_id
from fieldtech.domain.plans import Membership, Tier
from fieldtech.offline_store.store import Store
from fieldtech.services import contracts
from fieldtech.services.edits import EditService


def _two_clients(seeded, tmp_path: Path):
    account = seeded(3, 3, Tier.CONTRACTOR)
    a, b = Store(tmp_path / "a.db"), Store(tmp_path / "b.db")
    ea, eb = SyncEngine(a, account.api()), SyncEngine(b, account.api())
    ea.sync()
    eb.sync()
    return account, a, b, ea, eb


def test_signed_offline_the_membership_syncs_with_its_agreement(seeded, tmp_path) -> None:
    account, a, b, ea, eb = _two_clients(seeded, tmp_path)
    edits = EditService(a)
    contracts.ensure_catalogue(edits, account.account_id)
    tiers = {d.data["code"]: d.id for d in a.documents("tier")}
    customer = next(c for c in a.customers() if c.membership is not Membership.PROACTIVE)
    start = date.today() - timedelta(days=5)
    agreement = contracts.sign_agreement(edits, customer.id, tiers["proactive"], "monthly",
                                         start).record_id
    assert a.customer(customer.id).membership is Membership.PROACTIVE  # offline, at once

    report = ea.sync()
    assert report.error is None and report.conflicts == 0, report
    assert a.pending_count() == 0 and a.outbox(("rejected", "conflict")) == []
    held = account.get(f"/v1/customers/{customer.id}")
    assert held["membership"] == "proactive"
    assert account.get(f"/v1/documents/{agreement}")["data"]["tier_id"] == tiers["proactive"]
    assert a.customer(customer.id).membership is Membership.PROACTIVE

    eb.sync()
    assert b.customer(customer.id).membership is Membership.PROACTIVE
    assert b.document(agreement).data["start"] == start.isoformat()

    # ended in an earlier month on the second client: both sides say "none" after a sync each
    contracts.end_agreement(EditService(b), agreement, start)
    contracts.change_agreement(EditService(b), agreement,
                               {"start": (start - timedelta(days=62)).isoformat(),
                                "cancelled_on": (start - timedelta(days=40)).isoformat()})
    assert b.customer(customer.id).membership is Membership.NONE
    assert eb.sync().error is None and b.pending_count() == 0
    assert account.get(f"/v1/customers/{customer.id}")["membership"] == "none"
    ea.sync()
    assert a.customer(customer.id).membership is Membership.NONE


def test_an_agreement_made_over_the_api_reaches_the_stores_customer(seeded, tmp_path) -> None:
    account, a, _b, ea, _eb = _two_clients(seeded, tmp_path)
    contracts.ensure_catalogue(EditService(a), account.account_id)
    ea.sync()
    tiers = {d.data["code"]: d.id for d in a.documents("tier")}
    customer = next(c for c in a.customers() if c.membership is not Membership.ESSENTIALS)
    r = httpx.post(account.url + "/v1/documents", headers={
        "Authorization": f"Bearer {account.token}"}, json={
        "id": str(uuid.uuid4()), "kind": "agreement", "data": {
            "customer_id": customer.id, "tier_id": tiers["essentials"], "billing": "annual",
            "start": date.today().isoformat()}})
    assert r.status_code == 201, r.text
    assert ea.sync().error is None
    assert a.customer(customer.id).membership is Membership.ESSENTIALS
    [row] = [r for r in a.fleet_rows() if r.customer_id == customer.id][:1]
    assert row.membership == "essentials"


def test_the_default_catalogue_is_one_record_across_two_devices(seeded, tmp_path) -> None:
    account, a, b, ea, eb = _two_clients(seeded, tmp_path)
    assert a.documents("tier") == [] and b.documents("tier") == []
    # a new contractor's two devices each make the defaults, offline: the same ids
    assert len(contracts.ensure_catalogue(EditService(a))) == 5
    assert len(contracts.ensure_catalogue(EditService(b))) == 5
    assert {d.id for d in a.documents("tier")} == {d.id for d in b.documents("tier")}
    assert contracts.ensure_catalogue(EditService(a)) == []  # made once
    assert ea.sync().error is None
    report = eb.sync()
    assert report.error is None and report.rejected == 0 and report.conflicts == 0, report
    assert a.pending_count() == 0 and b.pending_count() == 0
    tiers = account.get("/v1/documents?kind=tier")["documents"]
    assert sorted(t["data"]["code"] for t in tiers) == [
        "essentials", "priority", "proactive", "standard"]  # one of each
    assert len(account.get("/v1/documents?kind=package")["documents"]) == 1
    # a third device pulls them and makes none
    c = Store(tmp_path / "c.db")
    SyncEngine(c, account.api()).sync()
    assert len(c.documents("tier")) == 4 and contracts.ensure_catalogue(EditService(c)) == []


def test_an_agreements_edit_discarded_takes_its_membership_edit_along(seeded, tmp_path) -> None:
    account, a, _b, ea, _eb = _two_clients(seeded, tmp_path)
    edits = EditService(a)
    contracts.ensure_catalogue(edits, account.account_id)
    tiers = {d.data["code"]: d.id for d in a.documents("tier")}
    customer = next(c for c in a.customers() if not a.documents("agreement", c.id)
                    and c.membership not in (Membership.PRIORITY, Membership.ESSENTIALS))
    assert ea.sync().error is None and a.pending_count() == 0
    # signed, then discarded before any sync (e.g. refused): the membership as synced is back
    # and nothing is left to send
    signed = contracts.sign_agreement(edits, customer.id, tiers["priority"], "monthly",
                                      date.today())
    a.discard(signed.queued.id)
    assert a.customer(customer.id).membership is customer.membership
    assert a.pending_count() == 0

    # synced, then a change of tier discarded: the membership follows the synced tier again
    signed = contracts.sign_agreement(edits, customer.id, tiers["priority"], "monthly",
                                      date.today())
    assert ea.sync().error is None and a.pending_count() == 0
    changed = contracts.change_agreement(edits, signed.record_id,
                                         {"tier_id": tiers["essentials"]})
    assert a.customer(customer.id).membership is Membership.ESSENTIALS
    a.discard(changed.queued.id)
    assert a.document(signed.record_id).data["tier_id"] == tiers["priority"]
    assert a.customer(customer.id).membership is Membership.PRIORITY
    assert a.pending_count() == 0
    assert ea.sync().error is None
    assert account.get(f"/v1/customers/{customer.id}")["membership"] == "priority"


def test_two_agreements_signed_between_syncs_sync_without_a_conflict(seeded, tmp_path) -> None:
    account, a, _b, ea, _eb = _two_clients(seeded, tmp_path)
    edits = EditService(a)
    contracts.ensure_catalogue(edits, account.account_id)
    tiers = {d.data["code"]: d.id for d in a.documents("tier")}
    ana = next(c for c in a.customers() if not a.documents("agreement", c.id))
    contracts.sign_agreement(edits, ana.id, tiers["essentials"], "monthly",
                             date.today() - timedelta(days=30))
    contracts.sign_agreement(edits, ana.id, tiers["priority"], "monthly", date.today())
    # the cloud moves Ana's membership twice in one batch, from its own copy of the rule:
    # our two membership edits are not a conflict for the person to decide
    report = ea.sync()
    assert report.error is None and report.conflicts == 0, report
    assert a.outbox(("rejected", "conflict")) == [] and a.pending_count() == 0
    assert account.get(f"/v1/customers/{ana.id}")["membership"] == "priority"
    assert a.customer(ana.id).membership is Membership.PRIORITY
    assert ea.sync().error is None
    assert a.customer(ana.id).membership is Membership.PRIORITY


def test_an_agreement_moved_to_another_customer_and_discarded_puts_both_back(
        seeded, tmp_path) -> None:
    account, a, _b, ea, _eb = _two_clients(seeded, tmp_path)
    edits = EditService(a)
    contracts.ensure_catalogue(edits, account.account_id)
    tiers = {d.data["code"]: d.id for d in a.documents("tier")}
    free = [c for c in a.customers() if not a.documents("agreement", c.id)
            and c.membership not in (Membership.PRIORITY, Membership.ESSENTIALS)]
    ana, bo = free[0], free[1]
    contracts.sign_agreement(edits, ana.id, tiers["essentials"], "monthly",
                             date.today() - timedelta(days=30))
    later = contracts.sign_agreement(edits, ana.id, tiers["priority"], "monthly", date.today())
    assert ea.sync().error is None and ea.sync().error is None and a.pending_count() == 0
    assert a.customer(ana.id).membership is Membership.PRIORITY  # the latest started

    # moved to Bo: Ana's membership edit, then Bo's, queued with it
    moved = contracts.change_agreement(edits, later.record_id, {"customer_id": bo.id})
    assert a.customer(ana.id).membership is Membership.ESSENTIALS
    assert a.customer(bo.id).membership is Membership.PRIORITY
    a.discard(moved.queued.id)
    assert a.document(later.record_id).data["customer_id"] == ana.id
    assert a.customer(ana.id).membership is Membership.PRIORITY
    assert a.customer(bo.id).membership is bo.membership
    assert a.pending_count() == 0


def _a_laptop_without_a_cloud(seeded, tmp_path: Path):
    """An account whose other device made the default catalogue, and a new laptop used
    without a cloud, as `fieldtech` starts one, with its own defaults (not linked yet)."""
    account = seeded(3, 3, Tier.CONTRACTOR)
    other = Store(tmp_path / "other.db")
    SyncEngine(other, account.api()).sync()
    contracts.ensure_catalogue(EditService(other))
    assert SyncEngine(other, account.api()).sync().error is None
    here = Store(tmp_path / "here.db")
    here.set_account(Account(id=new_id(), name="My company"))
    edits = EditService(here)
    contracts.ensure_catalogue(edits)
    return account, here, edits, {d.data["code"]: d.id for d in here.documents("tier")}


def test_a_catalogue_made_without_a_cloud_joins_the_accounts_when_linked(
        seeded, tmp_path) -> None:
    # the laptop's defaults, one of them changed, and an agreement on its Priority tier with
    # its package
    account, here, edits, mine = _a_laptop_without_a_cloud(seeded, tmp_path)
    [package] = here.documents("package")
    here.update_document(mine["essentials"], name="Essentials (ours)")
    customer = Customer(id=new_id(), name="Ana Lima", email="ana@mail.example", address="")
    here.create_customer(customer)
    agreement = contracts.sign_agreement(edits, customer.id, mine["priority"], "monthly",
                                         date.today(), packages=[package.id]).record_id

    report = SyncEngine(here, account.api()).sync()  # linked
    assert report.error is None and report.rejected == 0, report
    theirs = {t["data"]["code"]: t["id"]
              for t in account.get("/v1/documents?kind=tier")["documents"]}
    assert len(account.get("/v1/documents?kind=tier")["documents"]) == 4  # one of each
    assert len(account.get("/v1/documents?kind=package")["documents"]) == 1
    assert {d.data["code"]: d.id for d in here.documents("tier")} == theirs
    held = account.get(f"/v1/documents/{agreement}")["data"]
    assert held["tier_id"] == theirs["priority"] == here.document(agreement).data["tier_id"]
    assert held["packages"][0]["package_id"] == here.documents("package")[0].id
    assert account.get(f"/v1/customers/{customer.id}")["membership"] == "priority"
    # the tier changed here and made alike elsewhere: the person chooses, nothing is lost
    assert report.conflicts == 1
    assert {e.entity_id for e in here.outbox(("conflict",))} == {theirs["essentials"]}
    assert here.document(theirs["essentials"]).data["name"] == "Essentials (ours)"


def test_a_membership_follows_the_contractors_calendar_here_and_in_the_cloud(
        seeded, tmp_path) -> None:
    account = seeded(3, 3, Tier.CONTRACTOR)
    now = datetime.now(UTC)
    # a contractor whose day is not UTC's now: 14 hours ahead of it, or 12 behind
    zone = "Pacific/Kiritimati" if now.hour >= 10 else "Etc/GMT+12"
    their_today = now.astimezone(ZoneInfo(zone)).date()
    assert their_today != now.date()
    r = httpx.put(account.url + "/v1/account/service-settings", json={"timezone": zone},
                  headers={"Authorization": f"Bearer {account.token}"})
    assert r.status_code == 200, r.text
    store = Store(tmp_path / "a.db")
    engine = SyncEngine(store, account.api())
    assert engine.sync().error is None  # the store learns the contractor's time zone
    edits = EditService(store)
    contracts.ensure_catalogue(edits)
    tiers = {d.data["code"]: d.id for d in store.documents("tier")}
    customer = next(c for c in store.customers() if not store.documents("agreement", c.id)
                    and c.membership is not Membership.PRIORITY)
    # starting on the contractor's today (ahead of UTC) or tomorrow (behind it)
    start = max(their_today, now.date())
    contracts.sign_agreement(edits, customer.id, tiers["priority"], "monthly", start)
    expected = "priority" if start == their_today else "none"

    report = engine.sync()
    assert report.error is None and report.rejected == 0 and report.conflicts == 0, report
    assert store.customer(customer.id).membership.value == expected
    assert account.get(f"/v1/customers/{customer.id}")["membership"] == expected


def test_a_first_sync_killed_while_adopting_the_catalogue_adopts_it_when_retried(
        seeded, tmp_path, monkeypatch) -> None:
    import fieldtech.cloud.sync as sync_module

    account, here, edits, mine = _a_laptop_without_a_cloud(seeded, tmp_path)
    customer = Customer(id=new_id(), name="Ana Lima", email="ana@mail.example", address="")
    here.create_customer(customer)
    agreement = contracts.sign_agreement(edits, customer.id, mine["priority"], "monthly",
                                         date.today()).record_id

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the process ends while the defaults take the account's ids

    with monkeypatch.context() as m:
        m.setattr(sync_module, "adopt_default_catalogue", killed)
        with pytest.raises(KeyboardInterrupt):
            SyncEngine(here, account.api()).sync()
    assert here.sync_value("account_id") is None  # still unlinked: the next sync links it

    report = SyncEngine(here, account.api()).sync()
    assert report.error is None and report.rejected == 0, report
    theirs = {t["data"]["code"]: t["id"]
              for t in account.get("/v1/documents?kind=tier")["documents"]}
    assert len(theirs) == len(account.get("/v1/documents?kind=tier")["documents"]) == 4
    assert here.document(agreement).data["tier_id"] == theirs["priority"]
    assert account.get(f"/v1/documents/{agreement}")["data"]["tier_id"] == theirs["priority"]


def test_a_store_synced_before_time_zones_learns_the_accounts_while_idle(
        seeded, tmp_path) -> None:
    account = seeded(3, 3, Tier.CONTRACTOR)
    r = httpx.put(account.url + "/v1/account/service-settings",
                  json={"timezone": "Pacific/Kiritimati"},
                  headers={"Authorization": f"Bearer {account.token}"})
    assert r.status_code == 200, r.text
    store = Store(tmp_path / "a.db")
    engine = SyncEngine(store, account.api())
    assert engine.sync().error is None
    store.set_sync_values(timezone=None)  # as the version before kept it: no time zone
    assert engine.sync().error is None  # nothing changed in the account meanwhile
    assert store.sync_value("timezone") == "Pacific/Kiritimati"
