"""Forms for contracts (no textual): logging a time entry on site or offline; a membership tier
of the catalogue; signing, changing and ending an agreement."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from fieldtech.domain.billing import money
from fieldtech.domain.contracts import (
    MONEY_MAX_CENTS,
    Agreement,
    AgreementStatus,
    Billing,
    Coverage,
    MembershipTier,
    Package,
    WorkKind,
    agreement_errors,
    package_errors,
    tier_errors,
    time_entry_errors,
)
from fieldtech.domain.errors import FieldError
from fieldtech.forms.fields import Builder, Field

KIND_WORDS = {WorkKind.BASIC: "Basic support", WorkKind.ADVANCED: "Advanced support",
              WorkKind.CONCIERGE: "Concierge", WorkKind.VISIT: "Technician visit"}


def time_entry_form(customer_id: str, controller_id: str | None, today: date
                    ) -> tuple[list[Field], Builder]:
    """Minutes, kind, date and a note; builds the time entry's fields, checked by the domain
    (minutes > 0, a real date) before the dialog closes."""
    fields = [
        Field("minutes", "Minutes", 30, "int", hint="time worked, 1 to 1440"),
        Field("kind", "Kind", WorkKind.ADVANCED.value, "select",
              options=[(words, kind.value) for kind, words in KIND_WORDS.items()]),
        Field("date", "Date", today.isoformat(), hint="YYYY-MM-DD"),
        Field("note", "Note", ""),
    ]

    def build(v: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
        data = {"customer_id": customer_id, "controller_id": controller_id,
                "minutes": v["minutes"], "kind": v["kind"], "date": v["date"],
                "note": v["note"]}
        return data, time_entry_errors({k: x for k, x in data.items() if x is not None})

    return fields, build


# -- the catalogue and agreements (the TUI's catalogue and agreement screens) -------------------

COVERAGE_WORDS = {Coverage.ALWAYS: "24/7", Coverage.BUSINESS_HOURS: "Business hours (9–5)"}
RATE_KINDS = (WorkKind.ADVANCED.value, WorkKind.CONCIERGE.value, WorkKind.VISIT.value)
_PRICE = re.compile(r"^\d{1,12}(\.\d{1,2})?$")


def parse_price(text: Any, path: str, what: str = "price") -> tuple[int | None, list[FieldError]]:
    """'1,250.50' or '$125' → cents; a clear error for anything else (1e12, -5, 12.345)."""
    raw = str(text).strip().replace(",", "").removeprefix("$").strip()
    if not _PRICE.match(raw):
        return None, [FieldError(path, f"Enter a {what} in dollars, like 125 or 125.50.")]
    cents = int(Decimal(raw) * 100)
    if cents > MONEY_MAX_CENTS:
        return None, [FieldError(path, f"A {what} is at most {money(MONEY_MAX_CENTS)}: "
                                       f"{money(cents)} looks like a typo.")]
    return cents, []


def tier_form(tier: MembershipTier | None, today: date) -> tuple[list[Field], Builder]:
    """A new tier (`tier` None) or a change to one: name, monthly price and the day it applies
    from (running terms keep their price; a new step is added to the tier's prices), annual
    discount, response target and coverage. Builds the tier's document data. `today`: the
    contractor's (the store's), as every default day here."""
    base = tier.to_data() if tier else {
        "code": "", "name": "", "prices": [], "annual_discount_bp": 1000,
        "response_minutes": 60, "coverage": Coverage.ALWAYS.value,
        "rates_cents": {"basic": 0, "advanced": 17_500, "concierge": 7_500, "visit": 17_500}}
    price = tier.price_on(today) if tier else 0
    rates = dict(base.get("rates_cents") or {})
    fields = [] if tier else [Field("code", "Code", "", hint="lowercase, e.g. gold (once set, "
                                                             "it stays)")]
    fields += [
        Field("name", "Name", base["name"]),
        Field("monthly_cents", "Monthly price", f"{price / 100:.2f}", hint="dollars"),
        Field("from", "New price from" if tier else "Price from", today.isoformat(),
              hint="YYYY-MM-DD; running terms keep their price"),
        Field("annual_discount_bp", "Annual discount", f"{base['annual_discount_bp'] / 100:g}",
              hint="percent off 12 months, e.g. 10"),
        Field("response_minutes", "Response target", base.get("response_minutes"),
              "optional_int", hint="minutes; empty: best effort"),
        Field("coverage", "Coverage", base.get("coverage", Coverage.ALWAYS.value), "select",
              options=[(words, c.value) for c, words in COVERAGE_WORDS.items()]),
        Field("included_minutes", "Included support", base.get("included_minutes", 0), "int",
              hint="minutes a month, used before any hour is billed"),
        *(Field(kind, f"{KIND_WORDS[WorkKind(kind)]} rate",
                f"{rates.get(kind, 0) / 100:.2f}", hint="dollars an hour; 0: included")
          for kind in RATE_KINDS),
        Field("visits_per_year", "Visits a year", base.get("visits_per_year", 0), "int",
              hint="technician visits included"),
        Field("monitoring", "Device monitoring", bool(base.get("monitoring", False)), "bool"),
        Field("included", "Included", base.get("included", ""),
              hint="what the customer gets, in their words"),
        Field("not_included", "Not included", base.get("not_included", ""),
              hint="what is billed or not offered"),
    ]

    def build(v: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
        errors: list[FieldError] = []
        cents, bad = parse_price(v["monthly_cents"], "monthly_cents")
        errors += bad
        rates_cents = dict(rates)
        for kind in RATE_KINDS:
            rate, bad = parse_price(v[kind], kind, "rate")
            errors += bad
            rates_cents[kind] = rates.get(kind, 0) if rate is None else rate
        discount, bad = parse_percent(v["annual_discount_bp"], "annual_discount_bp")
        errors += bad
        if discount is None:
            discount = base["annual_discount_bp"]
        data = {**base, "name": v["name"], "annual_discount_bp": discount,
                "response_minutes": v["response_minutes"], "coverage": v["coverage"],
                "included_minutes": v["included_minutes"], "rates_cents": rates_cents,
                "visits_per_year": v["visits_per_year"], "monitoring": v["monitoring"],
                "included": v["included"], "not_included": v["not_included"]}
        if not tier:
            data["code"] = v["code"]
        steps = [p for p in base["prices"] if p["from"] != v["from"]]
        if cents is not None and (tier is None or cents != price):
            steps.append({"from": v["from"], "monthly_cents": cents})
        data["prices"] = sorted(steps, key=lambda p: str(p["from"]))
        if data["response_minutes"] is None:
            data.pop("response_minutes")
        return data, errors + tier_errors(data)

    return fields, build


def agreement_form(customer_id: str, tiers: list[MembershipTier],
                   current: Agreement | None = None, *, today: date,
                   packages: Sequence[Package] = ()) -> tuple[list[Field], Builder]:
    """Sign (`current` None) or change an agreement: tier, billing, start, auto-renew, a price
    of its own and a discount, the provider's packages given to the account, and (a change)
    a suspension. Builds the agreement's fields as `sign_agreement` / `change_agreement` take
    them (`packages`: the holdings list)."""
    start = current.start if current else today
    options = [(f"{t.name} — {money(t.price_on(start), t.currency)}/month", t.id)
               for t in tiers]
    override = current.price_override_cents if current else None
    held = {h.package_id for h in current.holdings if h.end is None} if current else set()
    fields = [
        Field("tier_id", "Tier", current.tier_id if current else tiers[0].id, "select",
              options=options),
        Field("billing", "Billing", (current.billing if current else Billing.MONTHLY).value,
              "select", options=[("Monthly", Billing.MONTHLY.value),
                                 ("Annual (discounted)", Billing.ANNUAL.value)]),
        Field("start", "Start", start.isoformat(), hint="YYYY-MM-DD"),
        Field("auto_renew", "Auto-renew", current.auto_renew if current else True, "bool"),
        Field("price_override", "Own price", "" if override is None else f"{override / 100:.2f}",
              hint="dollars a month; empty: the tier's price"),
        Field("discount", "Discount", f"{(current.discount_bp if current else 0) / 100:g}",
              hint="percent off the monthly price"),
        *(Field(f"package_{i}", f"{p.name}", p.id in held, "bool")
          for i, p in enumerate(packages)),
    ]
    if current is not None and current.status is not AgreementStatus.CANCELLED:
        fields.append(Field("suspended_from", "Suspended from",
                            current.suspended_from.isoformat() if current.suspended_from else "",
                            hint="YYYY-MM-DD; empty: not suspended (provider fees still due)"))

    def build(v: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
        errors: list[FieldError] = []
        data: dict[str, Any] = {"tier_id": v["tier_id"], "billing": v["billing"],
                                "start": v["start"], "auto_renew": v["auto_renew"]}
        if str(v["price_override"]).strip():
            cents, bad = parse_price(v["price_override"], "price_override")
            errors += bad
            data["price_override_cents"] = cents
        else:
            data["price_override_cents"] = None
        discount, bad = parse_percent(v["discount"], "discount")
        errors += bad
        data["discount_bp"] = discount if discount is not None else 0
        chosen = {p.id for i, p in enumerate(packages) if v[f"package_{i}"]}
        data["packages"] = _holdings(current, chosen, start if current is None else today)
        if "suspended_from" in v:
            suspended = str(v["suspended_from"]).strip()
            data["status"] = (AgreementStatus.SUSPENDED if suspended
                              else AgreementStatus.ACTIVE).value
            data["suspended_from"] = suspended or None
        kept = _agreement_data(current) if current else {"customer_id": customer_id}
        return data, errors + agreement_errors(
            {**kept, **{k: x for k, x in data.items() if x is not None}})

    return fields, build


def _holdings(current: Agreement | None, chosen: set[str], today: date) -> list[dict[str, Any]]:
    """The agreement's packages after the form: a package ticked on holds from `today`, one
    ticked off ends today; its past stays (the provider's statement reads it)."""
    out: list[dict[str, Any]] = []
    open_now: set[str] = set()
    for h in current.holdings if current else ():
        item: dict[str, Any] = {"package_id": h.package_id, "from": h.start.isoformat()}
        if h.retail_cents is not None:
            item["retail_cents"] = h.retail_cents
        end = h.end
        if end is None and h.package_id not in chosen:
            end = max(today, h.start)
        if end is None:
            open_now.add(h.package_id)
        else:
            item["to"] = end.isoformat()
        out.append(item)
    out += [{"package_id": p, "from": today.isoformat()} for p in sorted(chosen - open_now)]
    return out


def parse_percent(text: Any, path: str) -> tuple[int | None, list[FieldError]]:
    """'10' or '12.5%' → basis points; a clear error for anything else."""
    try:
        percent = Decimal(str(text).strip().rstrip("%").strip() or "0")
        points = int(percent * 100)
        if not 0 <= percent <= 100 or points != percent * 100:
            raise ValueError
    except (ArithmeticError, ValueError):
        return None, [FieldError(path, "A percentage from 0 to 100, like 10 or 12.5.")]
    return points, []


def package_form(package: Package) -> tuple[list[Field], Builder]:
    """The provider's package: its name, what it costs the contractor a month per customer
    account, and the retail price the provider recommends."""
    fields = [
        Field("name", "Name", package.name),
        Field("wholesale", "Wholesale fee", f"{package.wholesale_cents / 100:.2f}",
              hint="dollars a month per customer account given it"),
        Field("retail", "Retail price", f"{package.retail_cents / 100:.2f}",
              hint="dollars a month the customer pays, by default"),
    ]

    def build(v: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
        wholesale, bad = parse_price(v["wholesale"], "wholesale", "fee")
        retail, worse = parse_price(v["retail"], "retail")
        data = {**package.to_data(), "name": v["name"],
                "wholesale_cents": wholesale if wholesale is not None else 0,
                "retail_cents": retail if retail is not None else 0}
        return data, bad + worse + ([] if bad or worse else package_errors(data))

    return fields, build


def end_form(current: Agreement, today: date) -> tuple[list[Field], Builder]:
    """The day an agreement is cancelled (service runs to the end of the paid term)."""
    fields = [Field("cancelled_on", "Cancelled on", today.isoformat(),
                    hint="YYYY-MM-DD; service runs to the end of the term already paid")]

    def build(v: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
        data = {"status": AgreementStatus.CANCELLED.value, "cancelled_on": v["cancelled_on"]}
        return data, agreement_errors({**_agreement_data(current), **data})

    return fields, build


def _agreement_data(a: Agreement) -> dict[str, Any]:
    """The fields validation needs of an agreement as held."""
    data: dict[str, Any] = {"customer_id": a.customer_id, "tier_id": a.tier_id,
                            "billing": a.billing.value, "start": a.start.isoformat(),
                            "status": a.status.value}
    if a.suspended_from:
        data["suspended_from"] = a.suspended_from.isoformat()
    return data
