"""Contracts and billing over the offline store: the catalogue's defaults, logging time, a
customer's agreement at a glance, statements, reports and their CSV. No textual: the TUI runs
these in workers, `fieldtech report` from a shell.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fieldtech.domain.billing import (
    CONTRACT_KINDS,
    Book,
    Report,
    book_from,
    build_report,
    month_days,
    month_of,
    provider_statement,
    report_window,
    statement,
    time_use,
    visiting_customers,
)
from fieldtech.domain.contracts import (
    AGREEMENT,
    DEFAULT_TIERS,
    PACKAGE,
    TIER,
    TIME_ENTRY,
    AgreementStatus,
    Billing,
    WorkKind,
    default_catalogue,
)
from fieldtech.domain.contracts import default_id as default_id  # callers' name for it
from fieldtech.domain.documents import Document
from fieldtech.offline_store.catalogue import catalogue_namespace
from fieldtech.offline_store.live import incident_records
from fieldtech.offline_store.store import Store
from fieldtech.services.edits import Edit, EditService

Progress = Callable[[str, float], None]  # what is being done, fraction done


def _quiet(_what: str, _done: float) -> None:
    return None


def ensure_catalogue(edits: EditService, account_id: str | None = None) -> list[Edit]:
    """The default tiers and package, for a kind the store holds none of (queued to sync;
    deterministic ids, so two devices of one account make the same records)."""
    store = edits.store
    account_id = account_id or catalogue_namespace(store)
    made: list[Edit] = []
    for kind in (TIER.name, PACKAGE.name):
        if not store.documents(kind):
            made += [edits.create_document(kind, d.data, d.id)
                     for d in default_catalogue(account_id) if d.kind == kind]
    return made


def load_book(store: Store, month: str | None = None, progress: Progress = _quiet) -> Book:
    """The contract records held here, parsed once (ContractError if they cannot be billed).
    With `month`, only the time a report of that month reads: that month's and the one
    before, and this year's visits of customers whose tier includes visits."""
    documents = []
    for n, kind in enumerate(CONTRACT_KINDS):  # tiers and agreements before time
        progress(f"Reading {kind.replace('_', ' ')}s", 0.3 * n / len(CONTRACT_KINDS))
        if kind == TIME_ENTRY.name and month is not None:
            documents += time_for_report(store, month, documents)
        else:
            documents += store.documents(kind)
    return book_from(documents, store.customer_names())


def time_for_report(store: Store, month: str, contracts: list[Document]) -> list[Document]:
    first, last, year_start = report_window(month)
    recent = store.documents(TIME_ENTRY.name, between=("date", first.isoformat(),
                                                       last.isoformat()))
    visiting = visiting_customers(contracts)
    if not visiting:
        return recent
    seen = {d.id for d in recent}
    visits = store.documents(TIME_ENTRY.name, visiting, between=(
        "date", year_start.isoformat(), first.isoformat()), equal=("kind", WorkKind.VISIT.value))
    return recent + [d for d in visits if d.id not in seen]


def report(store: Store, month: str | None = None, today: date | None = None,
           progress: Progress = _quiet) -> Report:
    """The business report for `month` (default: this month, the contractor's) from the local
    store."""
    today = today or store.today()
    month = month or month_of(today)
    book = load_book(store, month, progress)
    progress("Working out statements", 0.4)
    result = build_report(book, month, today, incident_records(store),
                          datetime.now(UTC).replace(tzinfo=None))
    progress("Done", 1.0)
    return result


def log_time(edits: EditService, customer_id: str, minutes: int, kind: WorkKind | str,
             day: date | None = None, who: str = "", note: str = "",
             controller_id: str | None = None, incident_id: str | None = None,
             entry_id: str | None = None) -> Edit:
    """A time entry, on site or offline: validated whole (minutes > 0, a known kind) or
    nothing is written. `entry_id`: one that another record decides (a work order's time has
    the same id on every client), else a new one. `day` None: the contractor's today."""
    data = {"customer_id": customer_id, "date": (day or edits.store.today()).isoformat(),
            "minutes": minutes, "kind": str(kind), "who": who, "note": note,
            "controller_id": controller_id, "incident_id": incident_id}
    return edits.create_document(TIME_ENTRY.name, data, entry_id)


def sign_agreement(edits: EditService, customer_id: str, tier_id: str, billing: Billing | str,
                   start: date, auto_renew: bool = True,
                   price_override_cents: int | None = None, discount_bp: int = 0,
                   packages: Iterable[str] = ()) -> Edit:
    """A new agreement (with these packages from its start). The customer's membership follows
    it in the same transaction, queued to sync (Store.membership_given has the rule)."""
    data: dict[str, Any] = {
        "customer_id": customer_id, "tier_id": tier_id, "billing": str(billing),
        "start": start.isoformat(), "status": AgreementStatus.ACTIVE.value,
        "auto_renew": auto_renew, "price_override_cents": price_override_cents,
        "discount_bp": discount_bp,
        "packages": [{"package_id": p, "from": start.isoformat()} for p in packages]}
    return edits.create_document(AGREEMENT.name, data)


def change_agreement(edits: EditService, agreement_id: str, changes: dict[str, Any]) -> Edit:
    """Set fields of an agreement (tier, billing, start, auto-renew, status…; None removes
    one); the membership follows."""
    return edits.update_document(agreement_id, changes)


def end_agreement(edits: EditService, agreement_id: str, on: date) -> Edit:
    """Cancel on `on`: service and the membership run to the end of the term already paid."""
    return edits.update_document(agreement_id, {"status": AgreementStatus.CANCELLED.value,
                                                "cancelled_on": on.isoformat()})


@dataclass(frozen=True)
class CustomerContract:
    """What the customer screen shows: the agreement, hours left this month, the promise."""

    agreement: str  # "Priority, monthly, since 2026-03-01" or "No agreement"
    hours_left: str  # "1.5 h of 2 h left this month" or ""
    promise: str

    def line(self) -> str:
        return " · ".join(p for p in (self.agreement, self.hours_left, self.promise) if p)


def customer_contract(store: Store, customer_id: str, today: date | None = None
                      ) -> CustomerContract:
    """The customer's agreement, hours left and promise, reading only their own records."""
    today = today or store.today()
    month = month_of(today)
    first, last = month_days(month)
    documents = [*store.documents(TIER.name), *store.documents(PACKAGE.name),
                 *store.documents(AGREEMENT.name, customer_id),
                 *(d for d in store.documents(TIME_ENTRY.name, customer_id)
                   if d.data.get("date", "")[:4] == month[:4])]  # visits count by year
    book = book_from(documents, {})
    agreement = book.agreement_for(customer_id, first, last)
    tier = book.tier_of(agreement)
    if agreement is None:
        return CustomerContract("No agreement", "", tier.promise())
    status = "" if agreement.status.value == "active" else f" ({agreement.status.value})"
    said = f"{tier.name}, {agreement.billing.value}{status}, since {agreement.start.isoformat()}"
    hours = ""
    if tier.included_minutes:
        use, _ = time_use(book, customer_id, month, tier)
        hours = (f"{use.included_left / 60:g} h of {tier.included_minutes / 60:g} h left "
                 "this month")
    return CustomerContract(said, hours, tier.promise())


# -- CSV (cents as integers: a spreadsheet never rounds them again) -------------------------------


def statements_csv(book: Book, month: str, customers: Iterable[str] | None = None) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["month", "customer_id", "customer", "line", "description", "quantity",
                "cents", "currency"])
    for customer_id in customers if customers is not None else book.customers():
        s = statement(book, customer_id, month)
        name = book.names.get(customer_id, "")
        for line in s.lines:
            w.writerow([month, customer_id, name, line.what, line.description, line.quantity,
                        line.cents, s.currency])
        w.writerow([month, customer_id, name, "total", "", "", s.total, s.currency])
    return out.getvalue()


def provider_csv(book: Book, month: str) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["month", "customer_id", "customer", "package", "cents", "currency"])
    p = provider_statement(book, month)
    for line in p.lines:
        w.writerow([month, line.customer_id, line.quantity, line.description, line.cents,
                    p.currency])
    w.writerow([month, "", "", "total", p.total, p.currency])
    return out.getvalue()


def report_csv(r: Report) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["section", "key", "value", "detail"])
    w.writerow(["mrr", r.month, r.mrr, r.currency])
    w.writerow(["arr", r.month, r.arr, r.currency])
    for month, value in r.trend:
        w.writerow(["mrr_trend", month, value, r.currency])
    for label, n in r.bands.items():
        w.writerow(["margin_band", label, n, "customers"])
    for customer_id, m in sorted(r.margins.items(), key=lambda x: r.name(x[0])):
        w.writerow(["margin", r.name(customer_id), m.margin,
                    "" if m.percent is None else f"{m.percent:.1f}%"])
    for customer_id in r.flagged:
        w.writerow(["flagged", r.name(customer_id), "", "below 20 % two months running"])
    for n in r.renewals:
        w.writerow(["renewal", r.name(n.customer_id), n.term_end.isoformat(),
                    "auto-renews" if n.auto_renew else "expires"])
    for customer_id, cents in r.suspended_fees:
        w.writerow(["suspended_fee", r.name(customer_id), cents, r.currency])
    for tier, f in r.sla.items():
        w.writerow(["sla", tier, f"{f.met}/{f.incidents}", f"{f.breaches} breaches"])
    for customer_id, used, left in r.hours:
        w.writerow(["included_minutes", r.name(customer_id), used, f"{left} left"])
    w.writerow(["provider_fees", r.month, r.provider_total, r.currency])
    return out.getvalue()


def sample_contracts(account_id: str, customers: list[str], seed: int = 7,
                     entries: int = 2_000, today: date | None = None,
                     memberships: dict[str, str] | None = None) -> list[Document]:
    """A realistic book for demos and benchmarks: the default catalogue, agreements for about
    60 % of `customers` (tiers, billing and statuses mixed, a package on most), and `entries`
    time entries over the last 12 months. Same seed, same documents.

    With `memberships` (customer id → membership, as generated), the agreements agree with
    them instead: an active agreement on that tier for each customer with one, none for the
    others (so seeding both gives the state the membership rule would have made)."""
    import random

    rnd = random.Random(seed)
    today = today or date.today()
    docs = default_catalogue(account_id)
    tier_ids = [d.id for d in docs if d.kind == TIER.name]
    package_id = next(d.id for d in docs if d.kind == PACKAGE.name)
    year_ago = date(today.year - 1, today.month, 1)
    signed = []
    tier_by_code = {t.code: tier_id for t, tier_id in zip(DEFAULT_TIERS, tier_ids, strict=True)}
    for customer_id in customers:
        if memberships is not None:
            tier_id = tier_by_code.get(memberships.get(customer_id, "none"))
            if tier_id is None:
                continue
            start = year_ago + timedelta(days=rnd.randrange(0, 365))
        elif rnd.random() > 0.6:
            continue
        else:
            tier_id = rnd.choices(tier_ids, (1, 5, 3, 1))[0]
            start = year_ago + timedelta(days=rnd.randrange(0, 400))
        data: dict[str, Any] = {
            "customer_id": customer_id, "tier_id": tier_id,
            "billing": "annual" if rnd.random() < 0.25 else "monthly",
            "start": start.isoformat(), "auto_renew": rnd.random() < 0.8}
        roll = 1.0 if memberships is not None else rnd.random()
        if roll < 0.05:
            data |= {"status": "suspended",
                     "suspended_from": (start + timedelta(days=40)).isoformat()}
        elif roll < 0.12:
            data |= {"status": "cancelled",
                     "cancelled_on": (start + timedelta(days=60)).isoformat()}
        if rnd.random() < 0.8:
            data["packages"] = [{"package_id": package_id, "from": start.isoformat()}]
        if rnd.random() < 0.1:
            data["discount_bp"] = rnd.choice((500, 1000, 1500))
        docs.append(Document(AGREEMENT.name, str(uuid.UUID(int=rnd.getrandbits(128))), data))
        signed.append(customer_id)
    kinds = [k.value for k in WorkKind]
    pool = signed or customers
    for _ in range(entries if pool else 0):
        day = today - timedelta(days=rnd.randrange(0, 365))
        docs.append(Document(TIME_ENTRY.name, str(uuid.UUID(int=rnd.getrandbits(128))), {
            "customer_id": rnd.choice(pool), "date": day.isoformat(),
            "minutes": rnd.choice((15, 30, 45, 60, 90, 120)),
            "kind": rnd.choices(kinds, (5, 3, 2, 1))[0], "who": "demo"}))
    return docs
