"""Contracts in the offline store (a real SQLite file): the default catalogue, time logged
offline, the report and CSV from the store, and bad input refused with nothing written."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from fieldtech.domain.contracts import TIER, WorkKind
from fieldtech.domain.errors import StillNeeded, ValidationError
from fieldtech.domain.models import Customer, new_id
from fieldtech.offline_store.store import Store
from fieldtech.services import contracts
from fieldtech.services.edits import EditService


@pytest.fixture
def shop(store: Store):
    edits = EditService(store)
    contracts.ensure_catalogue(edits, "acct-1")
    tiers = {d.data["code"]: d.id for d in store.documents("tier")}
    package = store.documents("package")[0].id
    ana = Customer(id=new_id(), name="Ana Chen")
    edits.create_customer(ana)
    agreement = edits.create_document("agreement", {
        "customer_id": ana.id, "tier_id": tiers["priority"], "billing": "monthly",
        "start": "2026-03-01", "packages": [{"package_id": package, "from": "2026-03-01"}],
    }).record_id
    return edits, tiers, ana, agreement


def test_the_default_catalogue_is_made_once_with_the_same_ids_everywhere(store: Store) -> None:
    edits = EditService(store)
    made = contracts.ensure_catalogue(edits, "acct-1")
    assert len(made) == 5 and contracts.ensure_catalogue(edits, "acct-1") == []
    codes = {d.data["code"]: d.data["prices"][0]["monthly_cents"]
             for d in store.documents("tier")}
    assert codes == {"standard": 0, "essentials": 12_500, "priority": 30_000,
                     "proactive": 75_000}
    package = store.documents("package")[0].data
    assert (package["wholesale_cents"], package["retail_cents"]) == (1_000, 2_000)
    assert contracts.default_id("acct-1", "tier:priority") in {
        d.id for d in store.documents("tier")}


def test_time_logged_offline_bills_and_reports_from_the_store(store: Store, shop) -> None:
    edits, _tiers, ana, _agreement = shop
    contracts.log_time(edits, ana.id, 90, WorkKind.ADVANCED, date(2026, 4, 3), who="sam")
    contracts.log_time(edits, ana.id, 30, "concierge", date(2026, 4, 4))  # Priority: included
    book = contracts.load_book(store)
    rows = list(csv.DictReader(io.StringIO(contracts.statements_csv(book, "2026-04"))))
    lines = [(r["line"], int(r["cents"])) for r in rows]
    assert lines == [("membership", 30_000), ("package", 2_000), ("advanced", 26_250),
                     ("total", 58_250)]
    provider = list(csv.DictReader(io.StringIO(contracts.provider_csv(book, "2026-04"))))
    assert [(r["package"], r["cents"]) for r in provider] == [("Connected service", "1000"),
                                                              ("total", "1000")]
    report = contracts.report(store, "2026-04", today=date(2026, 4, 30))
    assert report.mrr == 32_000 and report.arr == 384_000
    assert [m for m, v in report.trend if v][:1] == ["2026-03"]  # signed in March
    # revenue 582.50; costs: 10.00 fee + 30 complimentary minutes at 60.00/h = 30.00 → 93 %
    margin = report.margins[ana.id]
    assert (margin.revenue, margin.fees, margin.labour) == (58_250, 1_000, 3_000)
    assert margin.band == "≥ 60 %"
    text = contracts.report_csv(report)
    assert "mrr,2026-04,32000,USD" in text
    line = contracts.customer_contract(store, ana.id, date(2026, 4, 10)).line()
    assert line.startswith("Priority, monthly, since 2026-03-01 · 30-minute response, 24/7")


def test_bad_input_is_refused_and_nothing_is_half_written(store: Store, shop) -> None:
    edits, tiers, ana, agreement = shop
    pending = store.pending_count()
    tier_before = store.document(tiers["priority"]).data
    with pytest.raises(ValidationError, match="minutes"):
        contracts.log_time(edits, ana.id, -15, WorkKind.ADVANCED)
    with pytest.raises(ValidationError, match="minutes"):
        contracts.log_time(edits, ana.id, 0, WorkKind.ADVANCED)
    with pytest.raises(ValidationError, match="kind"):
        contracts.log_time(edits, ana.id, 15, "gardening")
    with pytest.raises(ValidationError, match=r"prices\.0\.monthly_cents"):
        edits.update_document(tiers["priority"], {
            "prices": [{"from": "2026-01-01", "monthly_cents": 1e12}]})
    with pytest.raises(ValidationError, match="currency"):
        edits.update_document(tiers["priority"], {"currency": "XYZ"})
    with pytest.raises(ValidationError, match="currency"):
        edits.create_document("package", {"name": "Odd", "wholesale_cents": 1,
                                          "retail_cents": 2, "currency": "BTC"})
    with pytest.raises(StillNeeded, match="1 agreement still uses it"):
        edits.delete_document(tiers["priority"])
    assert store.document(tiers["priority"]).data == tier_before
    assert store.pending_count() == pending
    # once the agreement moves to another tier, the old tier may go
    edits.update_document(agreement, {"tier_id": tiers["proactive"]})
    edits.delete_document(tiers["priority"])  # never synced: it just goes
    assert tiers["priority"] not in {d.id for d in store.documents(TIER.name)}


def _run(*args: str):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "fieldtech", *args], capture_output=True,
                          text=True, timeout=120)


def test_report_command_prints_text_and_csv_and_says_what_is_wrong(tmp_path) -> None:
    from fieldtech.domain.documents import Document

    where = ("--data-dir", str(tmp_path))
    Store(tmp_path / "fieldtech.db").close()
    empty = _run(*where, "report", "statements", "--no-sync", "--month", "2026-04")
    assert empty.returncode == 0, empty.stderr  # said, not a blank line
    assert empty.stdout.startswith("No customer statements for 2026-04: no customer has an")
    with Store(tmp_path / "fieldtech.db") as store:
        edits = EditService(store)
        contracts.ensure_catalogue(edits, "acct-1")
        tier = contracts.default_id("acct-1", "tier:essentials")
        ana = Customer(id=new_id(), name="Ana Chen")
        edits.create_customer(ana)
        edits.create_document("agreement", {"customer_id": ana.id, "tier_id": tier,
                                            "billing": "annual", "start": "2025-04-20"})
        store.apply_changes([{"entity": "incident", "id": "i1", "op": "upsert", "data": {
            "id": "i1", "customer_id": ana.id, "kind": "offline", "state": "acknowledged",
            "membership": "essentials", "opened_at": "2026-04-02T10:00:00Z",
            "response_due_at": "2026-04-02T10:30:00Z",
            "acknowledged_at": "2026-04-02T10:45:00Z"}}], 1)
    text = _run(*where, "report", "--no-sync", "--month", "2026-04")
    assert text.returncode == 0, text.stderr
    # 12 × 125.00 × 0.90 = 1,350.00 a year → 112.50 a month
    assert "MRR 112.50 USD   ARR 1,350.00 USD" in text.stdout
    assert "  essentials      0 %  0/1 met, 1 breach\n" in text.stdout
    assert "Renewals in the next 30 days" in text.stdout
    rows = _run(*where, "report", "statements", "--no-sync", "--csv", "--month", "2026-04")
    assert "Essentials+ membership (annual),2026-04-20 – 2027-04-19,135000,USD" in rows.stdout
    with Store(tmp_path / "fieldtech.db") as store:  # a tier deleted elsewhere, pulled here
        store.put_synced_documents([Document("agreement", new_id(), {
            "customer_id": ana.id, "tier_id": new_id(), "billing": "monthly",
            "start": "2026-01-01"})])
    broken = _run(*where, "report", "--no-sync")
    assert broken.returncode == 1 and broken.stdout == ""
    assert "no longer in the catalogue" in broken.stderr


def test_the_years_included_visits_come_from_the_store_for_a_months_report(
        store: Store) -> None:
    edits = EditService(store)
    contracts.ensure_catalogue(edits, "acct-1")
    vera = Customer(id=new_id(), name="Vera Visits")
    edits.create_customer(vera)
    edits.create_document("agreement", {
        "customer_id": vera.id, "tier_id": contracts.default_id("acct-1", "tier:proactive"),
        "billing": "monthly", "start": "2026-01-01"})
    for day in (date(2026, 1, 10), date(2026, 2, 10), date(2026, 4, 10)):  # 2 a year included
        contracts.log_time(edits, vera.id, 60, WorkKind.VISIT, day)
    april = contracts.report(store, "2026-04", today=date(2026, 4, 30))
    # January's visit is outside the two months read, yet counts: the third is billed
    assert april.margins[vera.id].revenue == 75_000 + 17_500


def test_linking_renames_only_the_defaults_the_cloud_never_saw(store: Store) -> None:
    from fieldtech.domain.contracts import default_id
    from fieldtech.offline_store import APPLIED
    from fieldtech.offline_store.catalogue import adopt_default_catalogue

    edits = EditService(store)
    made = contracts.ensure_catalogue(edits, "local-1")
    ids = {d.data["code"]: d.id for d in store.documents("tier")}
    sent = next(e for e in made if e.record_id == ids["standard"])
    store.set_outbox_state(sent.queued.id, APPLIED)  # already in a cloud: keeps its id
    customer = Customer(id=new_id(), name="Ana")
    store.create_customer(customer)
    agreement = contracts.sign_agreement(edits, customer.id, ids["priority"], "monthly",
                                         date(2026, 1, 1)).record_id

    assert adopt_default_catalogue(store, "local-1", "cloud-1") == 4  # 3 tiers, 1 package
    theirs = {d.data["code"]: d.id for d in store.documents("tier")}
    assert theirs["standard"] == ids["standard"]
    assert theirs["priority"] == default_id("cloud-1", "tier:priority")
    assert store.document(agreement).data["tier_id"] == theirs["priority"]
    [queued] = [e for e in store.outbox() if e.entity_id == agreement]
    assert queued.patch["tier_id"] == theirs["priority"]  # what the push sends
    assert {e.entity_id for e in store.outbox() if e.entity == "document"} >= {
        theirs[code] for code in ("essentials", "priority", "proactive")}  # their creates
    assert adopt_default_catalogue(store, "local-1", "cloud-1") == 0  # once
