"""Service contracts: the membership catalogue, provider packages, agreements, time entries and
credits — what they hold, their defaults and their validation. The money arithmetic on them is
in billing.py. No I/O, no textual.

This module owns the catalogue's facts, including each tier's response target and coverage:
fieldtech.domain.incidents reads its default SLA table from DEFAULT_TIERS below.

Money is integer cents in the account's one currency; percentages are basis points (1000 =
10 %); dates are ISO `YYYY-MM-DD`. Each kind registers as a synced document
(fieldtech.domain.documents), so all of it is created offline, synced and merged like any record.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from fieldtech.domain.documents import Document, DocumentKind, register
from fieldtech.domain.errors import FieldError, FieldtechError
from fieldtech.domain.validation import check_int, check_name, check_text

MONEY_MAX_CENTS = 100_000_000  # $1,000,000 a month is past any membership: a typo, refused
RATE_MAX_CENTS = 10_000_000  # per hour
BP_MAX = 10_000  # 100 %
MINUTES_MAX = 24 * 60  # one time entry is at most a day's work
INCLUDED_MINUTES_MAX = 744 * 60  # a whole month, around the clock
# ISO 4217 codes with two minor units (cents), the ones contractors we model bill in.
CURRENCIES = frozenset({"USD", "CAD", "EUR", "GBP", "AUD", "NZD", "CHF", "SEK", "NOK", "DKK",
                        "ZAR", "SGD", "HKD", "MXN", "BRL", "INR", "PLN", "CZK"})
DEFAULT_CURRENCY = "USD"


class ContractError(FieldtechError):
    """The contract records cannot be billed as they are (a tier deleted while agreements use
    it, two currencies in one account); the message says which record and what to do."""


class Coverage(StrEnum):
    """When a membership's response clock runs (incidents.py counts it)."""

    ALWAYS = "24/7"
    BUSINESS_HOURS = "business_hours"  # 9–5 Monday to Friday in the account's time zone


class WorkKind(StrEnum):
    """What a time entry was: its tier's rate for that kind bills it."""

    BASIC = "basic"
    ADVANCED = "advanced"
    CONCIERGE = "concierge"
    VISIT = "visit"


class Billing(StrEnum):
    MONTHLY = "monthly"
    ANNUAL = "annual"


class AgreementStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # no membership fee from `suspended_from`; provider fees still due
    CANCELLED = "cancelled"  # runs to the end of the term already paid, no refund


# -- the catalogue -------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceStep:
    """From `start` on, a new term of this tier costs `monthly_cents` a month."""

    start: date
    monthly_cents: int


@dataclass(frozen=True)
class MembershipTier:
    """One tier of the catalogue, as the customer reads it and as billing and SLA clocks use it.

    `prices`: a price change applies from the next term (running terms keep theirs), so a tier
    keeps each price with the day it starts; `rates_cents`: per hour for each kind of work, 0 =
    complimentary; `included_minutes`: support time included per month, used first."""

    code: str  # the customer's membership: standard | essentials | priority | proactive | …
    name: str
    prices: tuple[PriceStep, ...]
    annual_discount_bp: int = 1000
    response_minutes: int | None = None  # None: no promise
    coverage: Coverage = Coverage.ALWAYS
    urgent_advanced_minutes: int | None = None
    same_day_onsite_before: str | None = None  # "15:00": escalated before then, on site today
    included_minutes: int = 0
    rates_cents: Mapping[str, int] = field(default_factory=dict)
    hour_cost_cents: int = 6000  # what an hour of a technician costs (margin reports)
    visits_per_year: int = 0
    reviews_per_year: int = 0
    monitoring: bool = False
    included: str = ""
    not_included: str = ""
    currency: str = DEFAULT_CURRENCY
    id: str = ""  # the document's id ("" for the built-in defaults)

    def price_on(self, day: date) -> int:
        """The monthly price of a term starting on `day`."""
        chosen = self.prices[0].monthly_cents
        for step in self.prices:
            if step.start <= day:
                chosen = step.monthly_cents
        return chosen

    def rate(self, kind: WorkKind | str) -> int:
        return int(self.rates_cents.get(str(kind), 0))

    def promise(self) -> str:
        """The SLA promise in a customer's words."""
        if self.response_minutes is None:
            return "Best effort"
        when = "24/7" if self.coverage is Coverage.ALWAYS else "business hours"
        text = f"{_duration(self.response_minutes)} response, {when}"
        if self.urgent_advanced_minutes:
            text += f"; urgent advanced {_duration(self.urgent_advanced_minutes)}"
        if self.same_day_onsite_before:
            text += f"; same-day on site before {self.same_day_onsite_before}"
        return text

    def to_data(self) -> dict[str, Any]:
        return {
            "code": self.code, "name": self.name, "currency": self.currency,
            "prices": [{"from": p.start.isoformat(), "monthly_cents": p.monthly_cents}
                       for p in self.prices],
            "annual_discount_bp": self.annual_discount_bp,
            "response_minutes": self.response_minutes, "coverage": self.coverage.value,
            "urgent_advanced_minutes": self.urgent_advanced_minutes,
            "same_day_onsite_before": self.same_day_onsite_before,
            "included_minutes": self.included_minutes, "rates_cents": dict(self.rates_cents),
            "hour_cost_cents": self.hour_cost_cents, "visits_per_year": self.visits_per_year,
            "reviews_per_year": self.reviews_per_year, "monitoring": self.monitoring,
            "included": self.included, "not_included": self.not_included,
        }

    @classmethod
    def from_document(cls, doc: Document) -> MembershipTier:
        d = doc.data
        return cls(
            code=d["code"], name=d["name"], currency=d.get("currency", DEFAULT_CURRENCY),
            prices=tuple(sorted((PriceStep(date.fromisoformat(p["from"]), p["monthly_cents"])
                                 for p in d["prices"]), key=lambda p: p.start)),
            annual_discount_bp=d.get("annual_discount_bp", 0),
            response_minutes=d.get("response_minutes"),
            coverage=Coverage(d.get("coverage", Coverage.ALWAYS.value)),
            urgent_advanced_minutes=d.get("urgent_advanced_minutes"),
            same_day_onsite_before=d.get("same_day_onsite_before"),
            included_minutes=d.get("included_minutes", 0),
            rates_cents=dict(d.get("rates_cents") or {}),
            hour_cost_cents=d.get("hour_cost_cents", 6000),
            visits_per_year=d.get("visits_per_year", 0),
            reviews_per_year=d.get("reviews_per_year", 0),
            monitoring=bool(d.get("monitoring", False)),
            included=d.get("included", ""), not_included=d.get("not_included", ""),
            id=doc.id,
        )


def _duration(minutes: int) -> str:
    if minutes % 60 == 0:
        return f"{minutes // 60}-hour"
    return f"{minutes}-minute"


_SINCE_EVER = date(2000, 1, 1)
_ADVANCED, _CONCIERGE = 17_500, 7_500  # $175/h advanced support, $75/h concierge

# The tiers we model (issue 15, DESIGN.md): the defaults every account starts from, all editable.
DEFAULT_TIERS: tuple[MembershipTier, ...] = (
    MembershipTier(
        "standard", "Standard", (PriceStep(_SINCE_EVER, 0),), annual_discount_bp=0,
        # "business hours, best effort": documented as one business day (8 covered hours)
        response_minutes=8 * 60, coverage=Coverage.BUSINESS_HOURS,
        rates_cents={"basic": 0, "advanced": _ADVANCED, "concierge": _CONCIERGE,
                     "visit": _ADVANCED},
        included="Basic support in business hours (9–5, Monday to Friday), best effort.",
        not_included="After-hours support; advanced support and concierge are billed hourly.",
    ),
    MembershipTier(
        "essentials", "Essentials+", (PriceStep(_SINCE_EVER, 12_500),),
        response_minutes=30, coverage=Coverage.ALWAYS,
        rates_cents={"basic": 0, "advanced": _ADVANCED, "concierge": _CONCIERGE,
                     "visit": _ADVANCED},
        included="24/7 basic support with a guaranteed 30-minute response.",
        not_included="Advanced support ($175/h, 9–5) and concierge ($75/h) are billed hourly.",
    ),
    MembershipTier(
        "priority", "Priority", (PriceStep(_SINCE_EVER, 30_000),),
        response_minutes=30, coverage=Coverage.ALWAYS, urgent_advanced_minutes=60,
        same_day_onsite_before="15:00",
        rates_cents={"basic": 0, "advanced": _ADVANCED, "concierge": 0, "visit": _ADVANCED},
        included="Everything in Essentials+; 1-hour advanced response for urgent issues; "
                 "same-day on site when escalated before 3 pm; concierge included.",
        not_included="Advanced support is billed at $175/h.",
    ),
    MembershipTier(
        "proactive", "Proactive", (PriceStep(_SINCE_EVER, 75_000),),
        response_minutes=30, coverage=Coverage.ALWAYS, urgent_advanced_minutes=60,
        same_day_onsite_before="15:00",
        rates_cents={"basic": 0, "advanced": _ADVANCED, "concierge": 0, "visit": _ADVANCED},
        visits_per_year=2, reviews_per_year=1, monitoring=True,
        included="Everything in Priority; device monitoring; 2 technician visits and 1 review "
                 "session a year.",
        not_included="Advanced support beyond included time is billed at $175/h.",
    ),
)
DEFAULT_TIER_BY_CODE = {t.code: t for t in DEFAULT_TIERS}


@dataclass(frozen=True)
class Package:
    """A service package the platform provider sells the contractor: a fixed fee per customer
    account given it, every month, and a recommended retail price."""

    name: str
    wholesale_cents: int
    retail_cents: int
    currency: str = DEFAULT_CURRENCY
    id: str = ""

    def to_data(self) -> dict[str, Any]:
        return {"name": self.name, "wholesale_cents": self.wholesale_cents,
                "retail_cents": self.retail_cents, "currency": self.currency}

    @classmethod
    def from_document(cls, doc: Document) -> Package:
        d = doc.data
        return cls(d["name"], d["wholesale_cents"], d["retail_cents"],
                   d.get("currency", DEFAULT_CURRENCY), doc.id)


DEFAULT_PACKAGES = (Package("Connected service", 1_000, 2_000),)


def default_id(account_id: str, what: str) -> str:
    """The same id for a default tier or package wherever it is made for one account (the
    cloud when the account is created, any client finding none), so it is one record."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"fieldtech:{account_id}:{what}"))


def default_catalogue(account_id: str) -> list[Document]:
    """The catalogue every account starts from: the tiers above and the provider's package."""
    return [*(Document("tier", default_id(account_id, f"tier:{t.code}"), t.to_data())
              for t in DEFAULT_TIERS),
            *(Document("package", default_id(account_id, f"package:{p.name}"), p.to_data())
              for p in DEFAULT_PACKAGES)]


# -- agreements, time, credits ---------------------------------------------------------------


@dataclass(frozen=True)
class Holding:
    """A package given to a customer's account from `start` to `end` (inclusive; None: on)."""

    package_id: str
    start: date
    end: date | None = None
    retail_cents: int | None = None  # what this customer pays; None: the package's retail

    def holds_during(self, first: date, last: date) -> bool:
        return self.start <= last and (self.end is None or self.end >= first)


@dataclass(frozen=True)
class Agreement:
    customer_id: str
    tier_id: str  # the tier document's id
    billing: Billing
    start: date
    status: AgreementStatus = AgreementStatus.ACTIVE
    auto_renew: bool = True
    cancelled_on: date | None = None
    suspended_from: date | None = None
    price_override_cents: int | None = None  # a monthly price instead of the tier's
    discount_bp: int = 0  # off the monthly price (after an override)
    holdings: tuple[Holding, ...] = ()
    id: str = ""

    @classmethod
    def from_document(cls, doc: Document) -> Agreement:
        d = doc.data
        return cls(
            customer_id=d["customer_id"], tier_id=d["tier_id"], billing=Billing(d["billing"]),
            start=date.fromisoformat(d["start"]),
            status=AgreementStatus(d.get("status", "active")),
            auto_renew=bool(d.get("auto_renew", True)),
            cancelled_on=_day(d.get("cancelled_on")),
            suspended_from=_day(d.get("suspended_from")),
            price_override_cents=d.get("price_override_cents"),
            discount_bp=d.get("discount_bp", 0),
            holdings=tuple(Holding(h["package_id"], date.fromisoformat(h["from"]),
                                   _day(h.get("to")), h.get("retail_cents"))
                           for h in d.get("packages") or ()),
            id=doc.id,
        )


@dataclass(frozen=True)
class TimeEntry:
    customer_id: str
    day: date
    minutes: int
    kind: WorkKind
    who: str = ""
    controller_id: str | None = None
    incident_id: str | None = None
    note: str = ""
    id: str = ""

    @classmethod
    def from_document(cls, doc: Document) -> TimeEntry:
        d = doc.data
        return cls(d["customer_id"], date.fromisoformat(d["date"]), d["minutes"],
                   WorkKind(d["kind"]), d.get("who", ""), d.get("controller_id"),
                   d.get("incident_id"), d.get("note", ""), doc.id)


@dataclass(frozen=True)
class Credit:
    """An amount taken off a customer's statement for a month (a goodwill credit, a refund of
    an SLA breach)."""

    customer_id: str
    month: str  # YYYY-MM
    cents: int
    note: str = ""
    id: str = ""

    @classmethod
    def from_document(cls, doc: Document) -> Credit:
        d = doc.data
        return cls(d["customer_id"], d["month"], d["cents"], d.get("note", ""), doc.id)


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


# -- validation (the document kinds) --------------------------------------------------------


def _currency(errors: list[FieldError], data: Mapping[str, Any]) -> None:
    value = data.get("currency", DEFAULT_CURRENCY)
    if value not in CURRENCIES:
        errors.append(FieldError("currency", f"{value!r} is not a currency we bill in; use one "
                                             f"of {', '.join(sorted(CURRENCIES))}."))


def _money(errors: list[FieldError], path: str, value: Any, hi: int = MONEY_MAX_CENTS) -> None:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        value = int(value)  # 12500.0 from a form is 12500 cents; 1e12 still fails the range
    check_int(errors, path, value, 0, hi, " cents")


def _date(errors: list[FieldError], path: str, value: Any, required: bool = True) -> None:
    if value is None and not required:
        return
    try:
        date.fromisoformat(value)
        if len(value) != 10:
            raise ValueError
    except (TypeError, ValueError):
        errors.append(FieldError(path, "Enter a date as YYYY-MM-DD."))


def _optional_int(errors: list[FieldError], path: str, value: Any, lo: int, hi: int) -> None:
    if value is not None:
        check_int(errors, path, value, lo, hi)


def _choice(errors: list[FieldError], path: str, value: Any, choices: Iterable[str]) -> None:
    options = list(choices)
    if value not in options:
        errors.append(FieldError(path, f"Choose one of: {', '.join(options)}."))


def _bool(errors: list[FieldError], path: str, value: Any) -> None:
    if value is not None and not isinstance(value, bool):
        errors.append(FieldError(path, "Yes or no (true / false)."))


def tier_errors(d: dict[str, Any]) -> list[FieldError]:
    e: list[FieldError] = []
    code = d.get("code")
    if not isinstance(code, str) or not code.isascii() or not code.replace("_", "").isalnum() \
            or not 1 <= len(code) <= 32 or code != code.lower():
        e.append(FieldError("code", "A short code in lowercase letters, digits and _."))
    check_name(e, "name", d.get("name"), "tier")
    _currency(e, d)
    prices = d.get("prices")
    if not isinstance(prices, list) or not 1 <= len(prices) <= 100:
        e.append(FieldError("prices", "Give at least one price (and at most 100)."))
    else:
        for i, p in enumerate(prices):
            if not isinstance(p, dict):
                e.append(FieldError(f"prices.{i}", "Expected {from, monthly_cents}."))
                continue
            _date(e, f"prices.{i}.from", p.get("from"))
            _money(e, f"prices.{i}.monthly_cents", p.get("monthly_cents"))
    check_int(e, "annual_discount_bp", d.get("annual_discount_bp", 0), 0, BP_MAX)
    _optional_int(e, "response_minutes", d.get("response_minutes"), 1, 7 * 24 * 60)
    _optional_int(e, "urgent_advanced_minutes", d.get("urgent_advanced_minutes"), 1, 7 * 24 * 60)
    _choice(e, "coverage", d.get("coverage", Coverage.ALWAYS.value), [c.value for c in Coverage])
    check_int(e, "included_minutes", d.get("included_minutes", 0), 0, INCLUDED_MINUTES_MAX)
    rates = d.get("rates_cents", {})
    if not isinstance(rates, dict):
        e.append(FieldError("rates_cents", "Expected a rate per kind of work."))
    else:
        for kind, cents in rates.items():
            _choice(e, f"rates_cents.{kind}", kind, [k.value for k in WorkKind])
            _money(e, f"rates_cents.{kind}", cents, RATE_MAX_CENTS)
    _money(e, "hour_cost_cents", d.get("hour_cost_cents", 0), RATE_MAX_CENTS)
    check_int(e, "visits_per_year", d.get("visits_per_year", 0), 0, 365)
    check_int(e, "reviews_per_year", d.get("reviews_per_year", 0), 0, 365)
    _bool(e, "monitoring", d.get("monitoring"))
    for text in ("included", "not_included"):
        check_text(e, text, d.get(text, ""))
    return e


def package_errors(d: dict[str, Any]) -> list[FieldError]:
    e: list[FieldError] = []
    check_name(e, "name", d.get("name"), "package")
    _currency(e, d)
    _money(e, "wholesale_cents", d.get("wholesale_cents"))
    _money(e, "retail_cents", d.get("retail_cents"))
    return e


def agreement_errors(d: dict[str, Any]) -> list[FieldError]:
    e: list[FieldError] = []
    for ref in ("customer_id", "tier_id"):
        if not isinstance(d.get(ref), str) or not d[ref]:
            e.append(FieldError(ref, "Required."))
    _choice(e, "billing", d.get("billing"), [b.value for b in Billing])
    _date(e, "start", d.get("start"))
    _choice(e, "status", d.get("status", "active"), [s.value for s in AgreementStatus])
    _bool(e, "auto_renew", d.get("auto_renew"))
    _date(e, "cancelled_on", d.get("cancelled_on"), required=False)
    _date(e, "suspended_from", d.get("suspended_from"), required=False)
    if d.get("status") == AgreementStatus.CANCELLED and not d.get("cancelled_on"):
        e.append(FieldError("cancelled_on", "Say when it was cancelled."))
    if d.get("status") == AgreementStatus.SUSPENDED and not d.get("suspended_from"):
        e.append(FieldError("suspended_from", "Say from when it is suspended."))
    for later, words in (("cancelled_on", "It ends"), ("suspended_from", "It is suspended")):
        if not e and d.get(later) and d[later] < d["start"]:  # ISO dates compare as text
            e.append(FieldError(later, f"{words} on {d[later]}, before it starts on "
                                       f"{d['start']}: give a day on or after the start."))
    if d.get("price_override_cents") is not None:
        _money(e, "price_override_cents", d["price_override_cents"])
    check_int(e, "discount_bp", d.get("discount_bp", 0), 0, BP_MAX)
    packages = d.get("packages", [])
    if not isinstance(packages, list) or len(packages) > 20:
        e.append(FieldError("packages", "A list of at most 20 packages."))
    else:
        for i, h in enumerate(packages):
            if not isinstance(h, dict) or not isinstance(h.get("package_id"), str):
                e.append(FieldError(f"packages.{i}", "Expected {package_id, from, to?}."))
                continue
            _date(e, f"packages.{i}.from", h.get("from"))
            _date(e, f"packages.{i}.to", h.get("to"), required=False)
            if h.get("retail_cents") is not None:
                _money(e, f"packages.{i}.retail_cents", h["retail_cents"])
    return e


def time_entry_errors(d: dict[str, Any]) -> list[FieldError]:
    e: list[FieldError] = []
    if not isinstance(d.get("customer_id"), str) or not d["customer_id"]:
        e.append(FieldError("customer_id", "Choose the customer."))
    _date(e, "date", d.get("date"))
    minutes = d.get("minutes")
    if isinstance(minutes, int) and not isinstance(minutes, bool) and minutes <= 0:
        e.append(FieldError("minutes", "Time worked is more than 0 minutes."))
    else:
        check_int(e, "minutes", minutes, 1, MINUTES_MAX, " min")
    _choice(e, "kind", d.get("kind"), [k.value for k in WorkKind])
    for optional in ("who", "controller_id", "incident_id"):
        if d.get(optional) is not None:
            check_text(e, optional, d[optional], single_line=True)
    check_text(e, "note", d.get("note", ""))
    return e


def credit_errors(d: dict[str, Any]) -> list[FieldError]:
    e: list[FieldError] = []
    if not isinstance(d.get("customer_id"), str) or not d["customer_id"]:
        e.append(FieldError("customer_id", "Choose the customer."))
    month = d.get("month")
    try:
        parse_month(month)
    except (TypeError, ValueError):
        e.append(FieldError("month", "Enter a month as YYYY-MM."))
    _money(e, "cents", d.get("cents"))
    check_text(e, "note", d.get("note", ""))
    return e


# Months a statement or report can be for: a year back from the first still has a calendar.
MONTH_PATTERN = r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$"
YEAR_MIN, YEAR_MAX = 1901, 2999


def parse_month(text: Any) -> tuple[int, int]:
    """'2026-02' → (2026, 2); ValueError otherwise (years YEAR_MIN to YEAR_MAX)."""
    if not isinstance(text, str) or len(text) != 7 or text[4] != "-" \
            or not (text[:4].isdigit() and text[5:].isdigit()):
        raise ValueError(f"not a month: {text!r}")
    year, month = int(text[:4]), int(text[5:])
    if not (1 <= month <= 12 and YEAR_MIN <= year <= YEAR_MAX):
        raise ValueError(f"not a month: {text!r}")
    return year, month


TIER = register(DocumentKind("tier", tier_errors, permission="billing", label="membership tier"))
PACKAGE = register(DocumentKind("package", package_errors, permission="billing",
                                label="service package"))
def agreement_uses(d: dict[str, Any]) -> list[str]:
    """The tier and the packages an agreement uses (kept from deletion while it does)."""
    used = [d["tier_id"]] if isinstance(d.get("tier_id"), str) else []
    return used + [h["package_id"] for h in d.get("packages") or ()
                   if isinstance(h, dict) and isinstance(h.get("package_id"), str)]


AGREEMENT = register(DocumentKind("agreement", agreement_errors, customer_field="customer_id",
                                  permission="billing", refers_to=agreement_uses))
TIME_ENTRY = register(DocumentKind("time_entry", time_entry_errors,
                                   customer_field="customer_id", label="time entry"))
CREDIT = register(DocumentKind("credit", credit_errors, customer_field="customer_id",
                               permission="billing"))
