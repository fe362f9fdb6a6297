"""Forms for contracts (no textual): logging a time entry on site or offline; a membership tier
of the catalogue; signing, changing and ending an agreement."""

from __future__ import annotations

import re
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
    WorkKind,
    agreement_errors,
    tier_errors,
    time_entry_errors,
)
from fieldtech.domain.errors import FieldError
from fieldtech.forms.fields import Builder, Field

KIND_WORDS = {WorkKind.BASIC: "Basic support", WorkKind.ADVANCED: "Advanced support",
              WorkKind.CONCIERGE: "Concierge", WorkKind.VISIT: "Technician visit"}


def time_entry_form(customer_id: str, controller_id: str | None = None,
                    today: date | None = None) -> tuple[list[Field], Builder]:
    """Minutes, kind, date and a note; builds the time entry's fields, checked by the domain
    (minutes > 0, a real date) before the dialog closes."""
    fields = [
        Field("minutes", "Minutes", 30, "int", hint="time worked, 1 to 1440"),
        Field("kind", "Kind", WorkKind.ADVANCED.value, "select",
              options=[(words, kind.value) for kind, words in KIND_WORDS.items()]),
        Field("date", "Date", (today or date.today()).isoformat(), hint="YYYY-MM-DD"),
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


def tier_form(tier: MembershipTier | None, today: date | None = None
              ) -> tuple[list[Field], Builder]:
    """A new tier (`tier` None) or a change to one: name, monthly price and the day it applies
    from (running terms keep their price; a new step is added to the tier's prices), annual
    discount, response target and coverage. Builds the tier's document data."""
    today = today or date.today()
    base = tier.to_data() if tier else {
        "code": "", "name": "", "prices": [], "annual_discount_bp": 1000,
        "response_minutes": 60, "coverage": Coverage.ALWAYS.value,
        "rates_cents": {"basic": 0, "advanced": 17_500, "concierge": 7_500, "visit": 17_500}}
    price = tier.price_on(today) if tier else 0
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
    ]

    def build(v: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
        errors: list[FieldError] = []
        cents, bad = parse_price(v["monthly_cents"], "monthly_cents")
        errors += bad
        try:
            percent = Decimal(str(v["annual_discount_bp"]).strip().rstrip("%") or "0")
            discount = int(percent * 100)
            if not 0 <= percent <= 100 or discount != percent * 100:
                raise ValueError
        except (ArithmeticError, ValueError):
            errors.append(FieldError("annual_discount_bp", "A percentage from 0 to 100, "
                                                           "like 10 or 12.5."))
            discount = base["annual_discount_bp"]
        data = {**base, "name": v["name"], "annual_discount_bp": discount,
                "response_minutes": v["response_minutes"], "coverage": v["coverage"]}
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
                   current: Agreement | None = None, today: date | None = None
                   ) -> tuple[list[Field], Builder]:
    """Sign (`current` None) or change an agreement: tier, billing, start, auto-renew."""
    start = current.start if current else (today or date.today())
    options = [(f"{t.name} — {money(t.price_on(start), t.currency)}/month", t.id)
               for t in tiers]
    fields = [
        Field("tier_id", "Tier", current.tier_id if current else tiers[0].id, "select",
              options=options),
        Field("billing", "Billing", (current.billing if current else Billing.MONTHLY).value,
              "select", options=[("Monthly", Billing.MONTHLY.value),
                                 ("Annual (discounted)", Billing.ANNUAL.value)]),
        Field("start", "Start", start.isoformat(), hint="YYYY-MM-DD"),
        Field("auto_renew", "Auto-renew", current.auto_renew if current else True, "bool"),
    ]

    def build(v: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
        data = {"tier_id": v["tier_id"], "billing": v["billing"], "start": v["start"],
                "auto_renew": v["auto_renew"]}
        held = _agreement_data(current) if current else {"customer_id": customer_id}
        return data, agreement_errors({**held, **data})

    return fields, build


def end_form(current: Agreement, today: date | None = None) -> tuple[list[Field], Builder]:
    """The day an agreement is cancelled (service runs to the end of the paid term)."""
    fields = [Field("cancelled_on", "Cancelled on", (today or date.today()).isoformat(),
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
