"""A customer's membership follows their agreement (one source of truth), in a real SQLite store:
signed, changed, suspended and ended offline, each with the customer's edit queued in the same
transaction; a membership set by hand against the agreement is refused; the rule itself at the
edges of a term."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta

import pytest

from fieldtech.domain.billing import membership_given, month_days, month_of
from fieldtech.domain.contracts import DEFAULT_TIERS, Agreement, AgreementStatus, Billing
from fieldtech.domain.errors import ValidationError
from fieldtech.domain.models import Customer, new_id
from fieldtech.domain.plans import Membership
from fieldtech.offline_store.store import Store
from fieldtech.services import contracts
from fieldtech.services.edits import EditService

TODAY = date.today()


@pytest.fixture
def shop(store: Store):
    edits = EditService(store)
    contracts.ensure_catalogue(edits, "acct-1")
    tiers = {d.data["code"]: d.id for d in store.documents("tier")}
    ana = Customer(id=new_id(), name="Ana Chen")
    edits.create_customer(ana)
    return edits, tiers, ana


def _pending(store: Store) -> list[tuple[str, str, dict]]:
    return [(e.op, e.entity, e.patch) for e in store.outbox()]


def test_signing_sets_the_membership_and_queues_it_with_the_agreement(store: Store, shop) -> None:
    edits, tiers, ana = shop
    before = len(store.outbox())
    edit = contracts.sign_agreement(edits, ana.id, tiers["priority"], Billing.MONTHLY,
                                    TODAY - timedelta(days=3))
    assert store.customer(ana.id).membership is Membership.PRIORITY
    row = next(r for r in store.fleet_rows() if r.customer_id == ana.id)
    assert row.membership == "priority"  # the fleet column reads the same fact
    queued = _pending(store)[before:]
    assert [(op, entity) for op, entity, _ in queued] == [("create", "document"),
                                                          ("update", "customer")]
    assert queued[0][2]["tier_id"] == tiers["priority"]
    assert queued[1][2] == {"membership": "priority"}

    contracts.change_agreement(edits, edit.record_id, {"tier_id": tiers["proactive"]})
    assert store.customer(ana.id).membership is Membership.PROACTIVE
    contracts.change_agreement(edits, edit.record_id, {"status": "suspended",
                                                       "suspended_from": TODAY.isoformat()})
    assert store.customer(ana.id).membership is Membership.NONE  # no service, no promise
    contracts.change_agreement(edits, edit.record_id, {"status": "active",
                                                       "suspended_from": None})
    assert store.customer(ana.id).membership is Membership.PROACTIVE


def test_an_ended_agreement_runs_to_the_end_of_the_paid_term(store: Store, shop) -> None:
    edits, tiers, ana = shop
    started = TODAY - timedelta(days=90)
    edit = contracts.sign_agreement(edits, ana.id, tiers["essentials"], "monthly", started)
    contracts.end_agreement(edits, edit.record_id, TODAY)
    assert store.document(edit.record_id).data["status"] == "cancelled"
    assert store.customer(ana.id).membership is Membership.ESSENTIALS  # paid to month's end

    last_month = month_days(month_of(TODAY))[0] - timedelta(days=1)
    contracts.end_agreement(edits, edit.record_id, last_month)
    assert store.customer(ana.id).membership is Membership.NONE


def test_a_membership_set_by_hand_against_the_agreement_is_refused(store: Store, shop) -> None:
    edits, tiers, ana = shop
    bo = Customer(id=new_id(), name="Bo Li")
    edits.create_customer(bo)
    contracts.sign_agreement(edits, ana.id, tiers["priority"], "annual", TODAY)
    queued = len(store.outbox())
    with pytest.raises(ValidationError) as caught:
        edits.update_customer(ana.id, Customer(id=ana.id, name="Ana Chen",
                                               membership=Membership.STANDARD))
    [error] = caught.value.errors
    assert error.field == "membership" and "set by their agreement (Priority today)" in \
        error.message
    assert store.customer(ana.id).membership is Membership.PRIORITY
    assert len(store.outbox()) == queued  # nothing half written
    # the same value, or another field, is fine; a customer without agreements is set by hand
    edits.update_customer(ana.id, Customer(id=ana.id, name="Ana Chen-Li",
                                           membership=Membership.PRIORITY))
    edits.update_customer(bo.id, Customer(id=bo.id, name="Bo Li", membership=Membership.STANDARD))
    assert store.customer(bo.id).membership is Membership.STANDARD


def test_end_before_start_is_refused_with_nothing_written(store: Store, shop) -> None:
    edits, tiers, ana = shop
    edit = contracts.sign_agreement(edits, ana.id, tiers["priority"], "monthly", TODAY)
    queued = len(store.outbox())
    with pytest.raises(ValidationError) as caught:
        contracts.end_agreement(edits, edit.record_id, TODAY - timedelta(days=1))
    assert caught.value.errors[0].field == "cancelled_on"
    assert "before it starts" in caught.value.errors[0].message
    assert store.document(edit.record_id).data["status"] == "active"
    assert len(store.outbox()) == queued
    assert store.customer(ana.id).membership is Membership.PRIORITY


def test_a_tier_whose_code_changes_takes_its_customers_along(store: Store, shop) -> None:
    edits, tiers, ana = shop
    contracts.sign_agreement(edits, ana.id, tiers["priority"], "monthly", TODAY)
    edits.update_document(tiers["priority"], {"code": "gold"})  # not a membership: no promise
    assert store.customer(ana.id).membership is Membership.NONE
    edits.update_document(tiers["priority"], {"code": "priority"})
    assert store.customer(ana.id).membership is Membership.PRIORITY


def _agreement(tier_code: str, start: date, **fields) -> Agreement:
    return Agreement("c", tier_code, fields.pop("billing", Billing.MONTHLY), start, **fields)


TIERS = {t.code: t for t in DEFAULT_TIERS}


def test_the_rule_at_the_edges() -> None:
    day = date(2026, 3, 31)
    assert membership_given([], TIERS, day) is None  # no agreement: set by hand
    assert membership_given([_agreement("priority", date(2026, 4, 1))], TIERS, day) == "none"
    assert membership_given([_agreement("priority", day)], TIERS, day) == "priority"
    # the latest started wins; cancelled on 3 March, monthly: runs to 31 March, not 1 April
    older = _agreement("essentials", date(2025, 1, 1), id="a")
    newer = _agreement("proactive", date(2026, 1, 1), id="b",
                       status=AgreementStatus.CANCELLED, cancelled_on=date(2026, 3, 3))
    assert membership_given([newer, older], TIERS, day) == "proactive"
    assert membership_given([newer, older], TIERS, date(2026, 4, 1)) == "essentials"
    # annual, cancelled in its first term: runs to the day before the anniversary
    annual = _agreement("priority", date(2025, 6, 15), billing=Billing.ANNUAL,
                        status=AgreementStatus.CANCELLED, cancelled_on=date(2025, 7, 1))
    assert membership_given([annual], TIERS, date(2026, 6, 14)) == "priority"
    assert membership_given([annual], TIERS, date(2026, 6, 15)) == "none"
    suspended = _agreement("priority", date(2026, 1, 1), status=AgreementStatus.SUSPENDED,
                           suspended_from=date(2026, 4, 1))
    assert membership_given([suspended], TIERS, day) == "priority"
    assert membership_given([suspended], TIERS, date(2026, 4, 1)) == "none"
    assert membership_given([_agreement("missing", day)], TIERS, day) == "none"


def test_the_demos_agreements_give_its_generated_memberships() -> None:
    from fieldtech.domain.billing import membership_from_documents

    kinds = ["none", "standard", "essentials", "priority", "proactive"]
    memberships = {str(n): kinds[n % 5] for n in range(50)}
    docs = contracts.sample_contracts("acct", list(memberships), entries=0, today=TODAY,
                                      memberships=memberships)
    catalogue = [d for d in docs if d.kind == "tier"]
    for customer_id, membership in memberships.items():
        theirs = [d for d in docs if d.kind == "agreement"
                  and d.data["customer_id"] == customer_id]
        given = membership_from_documents([*catalogue, *theirs], TODAY)
        assert given == (None if membership == "none" else membership), customer_id


def test_what_only_the_calendar_changes_is_settled_and_queued(store: Store, shop) -> None:
    edits, tiers, ana = shop
    started = TODAY - timedelta(days=90)
    ended = contracts.sign_agreement(edits, ana.id, tiers["essentials"], "monthly", started)
    contracts.end_agreement(edits, ended.record_id, TODAY)  # paid to the end of its term
    bo = Customer(id=new_id(), name="Bo Lind")
    edits.create_customer(bo)
    later = TODAY + timedelta(days=20)
    contracts.sign_agreement(edits, bo.id, tiers["priority"], "monthly", later)  # not yet
    assert store.customer(ana.id).membership is Membership.ESSENTIALS
    assert store.customer(bo.id).membership is Membership.NONE
    assert store.settle_memberships(TODAY) == 0  # nothing the calendar changed today

    before = len(store.outbox())
    assert store.settle_memberships(TODAY + timedelta(days=40)) == 2
    assert store.customer(ana.id).membership is Membership.NONE  # the paid term ran out
    assert store.customer(bo.id).membership is Membership.PRIORITY  # it started
    assert sorted(e.patch["membership"] for e in store.outbox()[before:]) == ["none", "priority"]
    assert store.settle_memberships(TODAY + timedelta(days=40)) == 0  # settled once


def test_discarding_an_agreement_takes_the_membership_edit_queued_with_it(
        store: Store, shop) -> None:
    edits, tiers, ana = shop
    edits.update_customer(ana.id, Customer(id=ana.id, name="Ana Chen",
                                           membership=Membership.STANDARD))  # by hand
    queued = [e.id for e in store.outbox()]
    signed = contracts.sign_agreement(edits, ana.id, tiers["priority"], "monthly", TODAY)
    assert store.customer(ana.id).membership is Membership.PRIORITY
    store.discard(signed.queued.id)
    # never synced: no base to go back to; the value set by hand before is back, and nothing
    # is left to send but what was queued before the agreement
    assert store.customer(ana.id).membership is Membership.STANDARD
    assert [e.id for e in store.outbox()] == queued



def test_the_contractors_day_without_a_time_zone_database(tmp_path) -> None:
    # Windows without tzdata: no zone is known, not even "UTC"; the day is still given.
    script = ("import sys\n"
              "sys.modules['tzdata'] = None  # zoneinfo's fallback when installed\n"
              "from datetime import datetime\n"
              "from fieldtech.domain.calendar import contractor_today\n"
              "noon = datetime(2026, 3, 1, 12)\n"
              "print(contractor_today('UTC', noon), contractor_today('Europe/Lisbon', noon))\n")
    env = {**os.environ, "PYTHONTZPATH": str(tmp_path), "PYTHONPATH": os.pathsep.join(sys.path)}
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["2026-03-01", "2026-03-01"]
