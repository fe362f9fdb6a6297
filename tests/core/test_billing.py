"""The money (fieldtech.domain.billing): a golden statement checked by hand, properties of the
arithmetic (hypothesis), and bad input refused whole."""

from __future__ import annotations

import calendar
import math
from datetime import date, timedelta
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fieldtech.domain.billing import (
    Book,
    annual_price,
    build_report,
    month_days,
    month_of,
    provider_statement,
    statement,
)
from fieldtech.domain.contracts import (
    DEFAULT_TIER_BY_CODE,
    DEFAULT_TIERS,
    Agreement,
    AgreementStatus,
    Billing,
    ContractError,
    Credit,
    Holding,
    MembershipTier,
    Package,
    PriceStep,
    TimeEntry,
    WorkKind,
)
from fieldtech.domain.incidents import DEFAULT_RESPONSE_TARGETS
from fieldtech.domain.plans import Membership

TIERS = {t.code: t for t in DEFAULT_TIERS}  # the defaults, keyed by code as their ids
PACKAGE = Package("Connected service", 1_000, 2_000, id="pkg")


def _book(agreements=(), entries=(), credits=(), tiers=TIERS) -> Book:
    return Book(dict(tiers), {"pkg": PACKAGE}, list(agreements), list(entries), list(credits),
                {"A": "Avery", "B": "Blake", "C": "Casey", "D": "Devon"})


def _half_up(value: Fraction) -> int:
    """Half up to a whole cent, worked out independently of the code under test."""
    return math.floor(value + Fraction(1, 2))


def test_golden_statement_for_a_small_account() -> None:
    """February 2028 (a leap year: 29 days), checked by hand:

    A  Essentials+ monthly from 10 Feb: 20 of 29 days × 125.00 = 86.2068… → 86.21
       Connected service (retail)                                           20.00
       advanced 90 min × 175.00/h = 262.50; concierge 30 min × 75.00/h =   37.50
       goodwill credit                                                      -5.00   → 401.21
    B  Proactive annual from 29 Feb: 12 × 750.00 × 0.90 = 8,100.00
       visit 120 min (1st of 2 included this year): 0; advanced 45 min = 131.25 → 8,231.25
    C  Priority monthly since Nov 2027 at 250.00 override, 10 % off = 225.00/month,
       suspended from 15 Feb: 14 of 29 days = 108.6206… → 108.62; package at its own
       retail 25.00 (not suspended all month)                                    → 133.62
    D  Essentials+ suspended since 20 Jan: nothing                               →   0.00
    Provider: A, C and D hold the package (D suspended: still due): 3 × 10.00 = 30.00
    """
    agreements = [
        Agreement("A", "essentials", Billing.MONTHLY, date(2028, 2, 10),
                  holdings=(Holding("pkg", date(2028, 2, 10)),), id="a"),
        Agreement("B", "proactive", Billing.ANNUAL, date(2028, 2, 29), id="b"),
        Agreement("C", "priority", Billing.MONTHLY, date(2027, 11, 1),
                  status=AgreementStatus.SUSPENDED, suspended_from=date(2028, 2, 15),
                  price_override_cents=25_000, discount_bp=1_000,
                  holdings=(Holding("pkg", date(2027, 11, 1), retail_cents=2_500),), id="c"),
        Agreement("D", "essentials", Billing.MONTHLY, date(2027, 6, 1),
                  status=AgreementStatus.SUSPENDED, suspended_from=date(2028, 1, 20),
                  holdings=(Holding("pkg", date(2027, 6, 1)),), id="d"),
    ]
    entries = [
        TimeEntry("A", date(2028, 2, 12), 90, WorkKind.ADVANCED, id="t1"),
        TimeEntry("A", date(2028, 2, 13), 30, WorkKind.CONCIERGE, id="t2"),
        TimeEntry("A", date(2028, 2, 13), 20, WorkKind.BASIC, id="t3"),  # included: 0
        TimeEntry("B", date(2028, 2, 29), 120, WorkKind.VISIT, id="t4"),
        TimeEntry("B", date(2028, 2, 29), 45, WorkKind.ADVANCED, id="t5"),
    ]
    book = _book(agreements, entries, [Credit("A", "2028-02", 500, "Goodwill", id="c1")])
    got = {k: statement(book, k, "2028-02") for k in "ABCD"}
    assert [(line.what, line.cents) for line in got["A"].lines] == [
        ("membership", 8_621), ("package", 2_000), ("advanced", 26_250),
        ("concierge", 3_750), ("credit", -500)]
    assert got["A"].total == 40_121
    assert [(line.what, line.cents) for line in got["B"].lines] == [
        ("membership", 810_000), ("advanced", 13_125)]
    assert got["B"].total == 823_125
    assert [(line.what, line.cents) for line in got["C"].lines] == [
        ("membership", 10_862), ("package", 2_500)]
    assert got["D"].lines == () and got["D"].total == 0
    provider = provider_statement(book, "2028-02")
    assert [(line.customer_id, line.cents) for line in provider.lines] == [
        ("A", 1_000), ("C", 1_000), ("D", 1_000)]
    assert provider.total == 3_000

    report = build_report(book, "2028-02", today=date(2028, 2, 29))
    # MRR on 29 Feb: A 125 + 20; B 8,100 / 12 = 675; C and D suspended: 0 → 820.00
    assert report.mrr == 82_000 and report.arr == 984_000
    assert [c for c, _ in report.suspended_fees] == ["C", "D"]


def test_the_catalogue_owns_the_sla_targets() -> None:
    for tier in DEFAULT_TIERS:
        target = DEFAULT_RESPONSE_TARGETS[Membership(tier.code)]
        assert target.response == timedelta(minutes=tier.response_minutes)
        assert target.coverage is tier.coverage
    assert DEFAULT_TIER_BY_CODE["priority"].promise() == (
        "30-minute response, 24/7; urgent advanced 1-hour; same-day on site before 15:00")


# -- properties -------------------------------------------------------------------------------

prices = st.integers(0, 10_000_000)
discounts = st.integers(0, 10_000)
days = st.dates(date(1999, 1, 1), date(2101, 12, 31))


@given(prices, discounts, discounts)
def test_annual_is_twelve_months_less_the_discount_rounded_once(price, own, annual) -> None:
    tier = MembershipTier("t", "T", (PriceStep(date(2000, 1, 1), price),),
                          annual_discount_bp=annual)
    a = Agreement("A", "t", Billing.ANNUAL, date(2026, 1, 1), discount_bp=own)
    exact = Fraction(12 * price) * Fraction(10_000 - own, 10_000) * Fraction(10_000 - annual,
                                                                               10_000)
    assert annual_price(a, tier, a.start) == _half_up(exact)


@given(prices, days)
@example(1, date(2026, 4, 16))  # 15 of 30 days of 1 cent: exactly half a cent, rounded up
@example(12_500, date(2028, 2, 29))  # the last day of a leap February
@example(12_500, date(2027, 3, 31))  # starting on the 31st
def test_a_monthly_agreement_bills_by_day_at_the_edges(price, start) -> None:
    tier = MembershipTier("t", "T", (PriceStep(date(1990, 1, 1), price),))
    a = Agreement("A", "t", Billing.MONTHLY, start, id="a")
    book = _book([a], tiers={"t": tier})
    in_month = calendar.monthrange(start.year, start.month)[1]
    first = statement(book, "A", month_of(start))
    billed = in_month - start.day + 1
    assert first.total == _half_up(Fraction(price * billed, in_month))
    if start.day == 31:
        assert first.total == _half_up(Fraction(price, 31))
    # every whole month after is exactly the price, whatever its length (28/29/30/31 days)
    nxt = month_days(month_of(start))[1] + timedelta(days=1)
    assert statement(book, "A", month_of(nxt)).total == price


@given(prices, days, st.integers(0, 400))
def test_a_cancellation_runs_to_the_end_of_the_paid_month_and_no_further(price, start,
                                                                         after) -> None:
    cancelled = start + timedelta(days=after)
    tier = MembershipTier("t", "T", (PriceStep(date(1990, 1, 1), price),))
    a = Agreement("A", "t", Billing.MONTHLY, start, status=AgreementStatus.CANCELLED,
                  cancelled_on=cancelled, id="a")
    book = _book([a], tiers={"t": tier})
    month = month_of(cancelled)
    if month != month_of(start):
        assert statement(book, "A", month).total == price  # paid in full, no refund
    nxt = month_days(month)[1] + timedelta(days=1)
    assert statement(book, "A", month_of(nxt)).total == 0


@given(st.lists(st.tuples(st.integers(1, 28), st.integers(1, 1440),
                          st.sampled_from(list(WorkKind))), max_size=30),
       st.integers(0, 3000), st.lists(st.integers(0, 100_000), max_size=3), days)
@settings(max_examples=150)
def test_lines_sum_to_the_total_and_included_time_goes_first(work, included, credits,
                                                             start) -> None:
    tier = MembershipTier("t", "T", (PriceStep(date(1990, 1, 1), 12_345),),
                          included_minutes=included,
                          rates_cents={"basic": 0, "advanced": 17_500, "concierge": 7_333,
                                       "visit": 9_999}, visits_per_year=1)
    year, month = start.year, start.month
    entries = [TimeEntry("A", date(year, month, d), m, k, id=f"t{i:03d}")
               for i, (d, m, k) in enumerate(work)]
    a = Agreement("A", "t", Billing.MONTHLY, date(year, month, 1),
                  holdings=(Holding("pkg", date(year, month, 1)),), id="a")
    mon = f"{year:04d}-{month:02d}"
    book = _book([a], entries, [Credit("A", mon, c, id=f"c{i}") for i, c in enumerate(credits)],
                 tiers={"t": tier})
    s = statement(book, "A", mon)
    assert sum(line.cents for line in s.lines) == s.total
    assert all(isinstance(line.cents, int) for line in s.lines)
    # included minutes cover paid work first; no kind is billed more than was worked
    paid = [e for e in sorted(entries, key=lambda e: (e.day, e.id))
            if tier.rate(e.kind) > 0]
    earlier_visits = 0
    billable = 0
    for e in paid:
        if e.kind is WorkKind.VISIT and earlier_visits < 1:
            earlier_visits += 1
            continue
        billable += e.minutes
    billed = sum(int(line.quantity.split()[0]) for line in s.lines
                 if line.what in ("advanced", "concierge", "visit"))
    assert billed == max(0, billable - included)


@given(st.integers(1, 12), st.integers(2000, 2100))
def test_suspended_all_month_pays_nothing_but_the_provider_is_still_due(month, year) -> None:
    a = Agreement("A", "essentials", Billing.MONTHLY, date(year - 1, 1, 1),
                  status=AgreementStatus.SUSPENDED, suspended_from=date(year - 1, 6, 1),
                  holdings=(Holding("pkg", date(year - 1, 1, 1)),), id="a")
    book = _book([a])
    mon = f"{year:04d}-{month:02d}"
    assert statement(book, "A", mon).total == 0
    assert provider_statement(book, mon).total == PACKAGE.wholesale_cents


def test_a_tier_gone_while_agreements_use_it_is_a_clear_error() -> None:
    a = Agreement("A", "deleted-tier", Billing.MONTHLY, date(2026, 1, 1), id="a")
    with pytest.raises(ContractError, match=r"Avery.*no longer in the catalogue"):
        _book([a])
    odd = {**TIERS, "eur": MembershipTier("eur", "Euro", (PriceStep(date(2000, 1, 1), 1),),
                                          currency="EUR")}
    with pytest.raises(ContractError, match="mixes currencies"):
        _book(tiers=odd)


@given(st.lists(st.tuples(prices, discounts, st.booleans(), days), min_size=1, max_size=8),
       days)
@settings(max_examples=100)
def test_mrr_is_the_exact_sum_rounded_once(agreements, day) -> None:
    tier = MembershipTier("t", "T", (PriceStep(date(1990, 1, 1), 12_345),),
                          annual_discount_bp=1_000)
    made = [Agreement("A", "t", Billing.ANNUAL if annual else Billing.MONTHLY, start,
                      price_override_cents=price, discount_bp=off, id=f"a{i}")
            for i, (price, off, annual, start) in enumerate(agreements)]
    book = _book(made, tiers={"t": tier})
    exact = Fraction(0)
    for a in made:
        if a.start > day:
            continue
        monthly = Fraction(a.price_override_cents) * Fraction(10_000 - a.discount_bp, 10_000)
        if a.billing is Billing.MONTHLY:
            exact += monthly
        else:  # a twelfth of the annual price, itself rounded once
            exact += Fraction(_half_up(12 * monthly * Fraction(9, 10)), 12)
    from fieldtech.domain.billing import mrr

    assert mrr(book, day) == _half_up(exact)


def test_the_trend_in_one_pass_is_each_days_mrr() -> None:
    """mrr_on reads the agreements once for the 12 months of the trend: each figure must be
    what that day alone gives (a price change, suspensions, cancellations, annual terms)."""
    import uuid

    from fieldtech.domain.billing import book_from, mrr_on
    from fieldtech.services.contracts import sample_contracts

    customers = [str(uuid.UUID(int=i)) for i in range(1, 400)]
    docs = sample_contracts("acct", customers, seed=11, entries=0, today=date(2026, 6, 15))
    tier = next(d for d in docs if d.data.get("code") == "priority")
    tier.data["prices"].append({"from": "2026-03-01", "monthly_cents": 32_000})
    book = book_from(docs, {})
    days = [date(2025, m, 28) for m in range(7, 13)] + [date(2026, m, 1) for m in range(1, 7)]
    together = mrr_on(book, days)
    assert together == [mrr_on(book, [day])[0] for day in days]
    assert len(set(together)) > 3  # the figures do move over the year
