"""The money: statements, the provider's statement and the reports a contractor runs the business
on, from the records in contracts.py. Pure functions over plain data; no I/O, no textual.

Rules (each written once, here):
- Money is integer cents in the account's one currency. Amounts are worked out exactly
  (Decimal) and rounded ONCE per statement line, half up to the cent; a total is the sum of its
  rounded lines, so lines always add up to the total.
- Monthly memberships bill calendar months. A month is billed by day: fee × billed days ÷ days
  in the month. Billed days run from the start date (the first month is pro-rated; starting on
  the 31st of a 31-day month is 1/31), stop at a suspension (`suspended_from` on), and a
  cancellation runs to the end of the month it was made in (the term already paid; no refund).
- Annual memberships bill 12 × monthly × (1 − annual discount), rounded once, in the month each
  term starts (the start date, then each anniversary while auto-renew is on; 29 February
  anniversaries fall on 28 February). A cancelled or suspended annual agreement is not renewed.
- The monthly price is the tier's price on the day the term starts (a price change applies from
  the next term), or the agreement's override, less the agreement's discount.
- Time: per customer and month, included minutes are used first, in date order, by work with a
  rate; included visits (per calendar year) are free; the rest is billed per kind of work at
  the tier's hourly rate, one line per kind (minutes × rate ÷ 60, rounded once).
- Packages: the customer pays the retail price (theirs, else the package's) for each package
  held on any day of the month, unless suspended all month; the provider charges the contractor
  the wholesale fee for each package held by an account on any day of the month, suspended or
  not, in full (not pro-rated).
"""

from __future__ import annotations

import calendar
import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from fieldtech.domain.contracts import (
    AGREEMENT,
    CREDIT,
    DEFAULT_TIER_BY_CODE,
    PACKAGE,
    TIER,
    TIME_ENTRY,
    Agreement,
    AgreementStatus,
    Billing,
    ContractError,
    Credit,
    MembershipTier,
    Package,
    TimeEntry,
    WorkKind,
    parse_month,
)
from fieldtech.domain.documents import Document
from fieldtech.domain.plans import Membership

BASIS = Decimal(10_000)
MARGIN_BANDS = ((60, "≥ 60 %"), (40, "40–59 %"), (20, "20–39 %"), (None, "< 20 %"))
LOW_MARGIN = 20  # percent: below it two months running, a customer is flagged
RENEWAL_WINDOW_DAYS = 30
MEMBERSHIP_CODES = frozenset(m.value for m in Membership)  # tier codes a customer can carry


def round_cents(amount: Decimal) -> int:
    """THE rounding: half up to a whole cent, done once per line."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@functools.lru_cache(maxsize=512)
def month_days(month: str) -> tuple[date, date]:
    """First and last day of 'YYYY-MM'."""
    year, number = parse_month(month)
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def previous_month(month: str) -> str:
    first, _ = month_days(month)
    return month_of(first - timedelta(days=1))


def months_back(month: str, count: int) -> list[str]:
    """`count` months ending with `month`, oldest first."""
    months = [month]
    while len(months) < count:
        months.append(previous_month(months[-1]))
    return months[::-1]


def years_completed(start: date, day: date) -> int:
    """Whole years from `start` to `day` (0 before the first anniversary)."""
    years = day.year - start.year
    if years > 0 and anniversary(start, years) > day:
        years -= 1
    return max(0, years)


def anniversary(start: date, years: int) -> date:
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February in a common year
        return start.replace(year=start.year + years, day=28)


@dataclass(frozen=True)
class Line:
    customer_id: str
    what: str  # membership | package | basic | advanced | concierge | visit | credit | fee
    description: str
    quantity: str
    cents: int


@dataclass(frozen=True)
class Statement:
    customer_id: str
    month: str
    currency: str
    lines: tuple[Line, ...]

    @property
    def total(self) -> int:
        return sum(line.cents for line in self.lines)


@dataclass(frozen=True)
class ProviderStatement:
    month: str
    currency: str
    lines: tuple[Line, ...]  # one per package per customer account holding it

    @property
    def total(self) -> int:
        return sum(line.cents for line in self.lines)


@dataclass
class Book:
    """Everything billing reads, parsed once: the catalogue and the account's records."""

    tiers: dict[str, MembershipTier]  # by document id
    packages: dict[str, Package]
    agreements: list[Agreement]
    entries: list[TimeEntry]
    credits: list[Credit] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # customer id → name
    _by_customer: dict[str, list[Agreement]] = field(default_factory=dict, repr=False)
    _entries_by_month: dict[tuple[str, str], list[TimeEntry]] = field(default_factory=dict,
                                                                       repr=False)
    _visits_by_year: dict[tuple[str, int], list[TimeEntry]] = field(default_factory=dict,
                                                                     repr=False)
    _credits: dict[tuple[str, str], list[Credit]] = field(default_factory=dict, repr=False)
    _customers: list[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        currencies = {t.currency for t in self.tiers.values()} | {
            p.currency for p in self.packages.values()}
        if len(currencies) > 1:
            raise ContractError(f"The catalogue mixes currencies ({', '.join(sorted(currencies))})"
                                ": an account bills in one. Change the odd tiers or packages.")
        self.currency = currencies.pop() if currencies else "USD"
        for a in self.agreements:
            if a.tier_id not in self.tiers:
                raise ContractError(
                    f"The agreement of {self.names.get(a.customer_id, a.customer_id)} uses a "
                    "membership tier that is no longer in the catalogue. Restore the tier or "
                    "move the agreement to another one.")
            for h in a.holdings:
                if h.package_id not in self.packages:
                    raise ContractError(
                        f"{self.names.get(a.customer_id, a.customer_id)} holds a package that "
                        "is no longer in the catalogue. Restore it or end the holding.")
            self._by_customer.setdefault(a.customer_id, []).append(a)
        for agreements in self._by_customer.values():
            agreements.sort(key=lambda a: (a.start, a.id))
        for c in self.credits:
            self._credits.setdefault((c.customer_id, c.month), []).append(c)
        for e in sorted(self.entries, key=lambda e: (e.day, e.id)):
            self._entries_by_month.setdefault((e.customer_id, month_of(e.day)), []).append(e)
            if e.kind is WorkKind.VISIT:
                self._visits_by_year.setdefault((e.customer_id, e.day.year), []).append(e)

    def customers(self) -> list[str]:
        """Customers with an agreement, time or a credit, in a stable order."""
        if self._customers is None:
            ids = set(self._by_customer) | {c for c, _ in self._entries_by_month} | {
                c.customer_id for c in self.credits}
            self._customers = sorted(ids, key=lambda c: (self.names.get(c, ""), c))
        return self._customers

    def agreement_for(self, customer_id: str, first: date, last: date) -> Agreement | None:
        """The customer's agreement in force during [first, last]: the latest started by then."""
        found = None
        for a in self._by_customer.get(customer_id, ()):
            end = service_end(a)
            if a.start <= last and (end is None or end >= first):
                found = a
        return found

    def tier_of(self, agreement: Agreement | None) -> MembershipTier:
        if agreement is None:
            standard = next((t for t in self.tiers.values() if t.code == "standard"), None)
            return standard or DEFAULT_TIER_BY_CODE["standard"]
        return self.tiers[agreement.tier_id]


def book_from(documents: Iterable[Document], names: Mapping[str, str]) -> Book:
    """A Book from the contract documents of one account (any others are passed over), the
    same in the offline store and in the cloud; ContractError if they cannot be billed."""
    tiers: dict[str, MembershipTier] = {}
    packages: dict[str, Package] = {}
    agreements, entries, credits = [], [], []
    for d in documents:
        if d.kind == TIME_ENTRY.name:
            entries.append(TimeEntry.from_document(d))
        elif d.kind == AGREEMENT.name:
            agreements.append(Agreement.from_document(d))
        elif d.kind == TIER.name:
            tiers[d.id] = MembershipTier.from_document(d)
        elif d.kind == PACKAGE.name:
            packages[d.id] = Package.from_document(d)
        elif d.kind == CREDIT.name:
            credits.append(Credit.from_document(d))
    return Book(tiers, packages, agreements, entries, credits, dict(names))


def report_window(month: str) -> tuple[date, date, date]:
    """The time a report of `month` reads: entries from the first returned day to the second
    (that month and the one before, for the two-month margin flag), and visits from the third
    (included visits count by calendar year)."""
    first = month_days(previous_month(month))[0]
    return first, month_days(month)[1], date(first.year, 1, 1)


def visiting_customers(documents: Iterable[Document]) -> set[str]:
    """Customers whose agreement's tier includes visits: the only ones whose earlier visits of
    the year a report needs (tier and agreement documents; others are passed over)."""
    documents = list(documents)
    with_visits = {d.id for d in documents
                   if d.kind == TIER.name and d.data.get("visits_per_year")}
    return {d.data["customer_id"] for d in documents
            if d.kind == AGREEMENT.name and d.data.get("tier_id") in with_visits}


CONTRACT_KINDS = (TIER.name, PACKAGE.name, AGREEMENT.name, TIME_ENTRY.name, CREDIT.name)


def service_end(a: Agreement) -> date | None:
    """The last day service runs (a cancellation runs to the end of the paid term); None: on."""
    if a.status is not AgreementStatus.CANCELLED or a.cancelled_on is None:
        return None
    if a.billing is Billing.MONTHLY:
        return month_days(month_of(a.cancelled_on))[1]
    term = 0
    while anniversary(a.start, term + 1) <= a.cancelled_on:
        term += 1
    return anniversary(a.start, term + 1) - timedelta(days=1)


def monthly_price(a: Agreement, tier: MembershipTier, term_start: date) -> Decimal:
    """The monthly price of the term starting on `term_start`, less the agreement's discount."""
    base = a.price_override_cents if a.price_override_cents is not None else tier.price_on(
        term_start)
    return Decimal(base) * (BASIS - a.discount_bp) / BASIS


def annual_price(a: Agreement, tier: MembershipTier, term_start: date) -> int:
    """12 × monthly × (1 − annual discount), rounded once."""
    return round_cents(12 * monthly_price(a, tier, term_start)
                       * (BASIS - tier.annual_discount_bp) / BASIS)


def _billed_days(a: Agreement, first: date, last: date) -> int:
    begin = max(first, a.start)
    end = last
    if (stop := service_end(a)) is not None:
        end = min(end, stop)
    if a.suspended_from is not None and a.status is AgreementStatus.SUSPENDED:
        end = min(end, a.suspended_from - timedelta(days=1))
    return max(0, (end - begin).days + 1)


def membership_line(a: Agreement, tier: MembershipTier, month: str) -> Line | None:
    first, last = month_days(month)
    if a.billing is Billing.MONTHLY:
        days = _billed_days(a, first, last)
        if days == 0:
            return None
        in_month = (last - first).days + 1
        price = monthly_price(a, tier, max(first, a.start))
        cents = round_cents(price * days / in_month)
        quantity = "month" if days == in_month else f"{days}/{in_month} days"
        return Line(a.customer_id, "membership", f"{tier.name} membership (monthly)", quantity,
                    cents)
    term = (first.year - a.start.year) - (1 if (first.month < a.start.month) else 0)
    for years in (term, term + 1):
        starts = anniversary(a.start, years) if years >= 0 else None
        if starts is None or not first <= starts <= last:
            continue
        if years > 0 and (not a.auto_renew or a.status is not AgreementStatus.ACTIVE):
            return None  # not renewed: cancelled, suspended or not set to renew
        if years == 0 and a.status is AgreementStatus.CANCELLED and a.cancelled_on \
                and a.cancelled_on < starts:
            return None
        return Line(a.customer_id, "membership", f"{tier.name} membership (annual)",
                    f"{starts.isoformat()} – "
                    f"{(anniversary(a.start, years + 1) - timedelta(days=1)).isoformat()}",
                    annual_price(a, tier, starts))
    return None


@dataclass(frozen=True)
class TimeUse:
    """How a customer's time in a month was billed."""

    included_minutes: int  # the tier's allowance
    included_used: int
    free_minutes: int  # complimentary work and included visits
    billed: Mapping[str, int]  # kind → minutes billed

    @property
    def included_left(self) -> int:
        return self.included_minutes - self.included_used


def time_use(book: Book, customer_id: str, month: str,
             tier: MembershipTier) -> tuple[TimeUse, list[Line]]:
    entries = book._entries_by_month.get((customer_id, month), [])
    if not entries:
        return TimeUse(tier.included_minutes, 0, 0, {}), []
    first, _ = month_days(month)
    earlier_visits = sum(1 for v in book._visits_by_year.get((customer_id, first.year), ())
                         if v.day < first)
    free_visits = max(0, tier.visits_per_year - earlier_visits)
    allowance = tier.included_minutes
    used = free = 0
    billed: dict[str, int] = defaultdict(int)
    for e in entries:
        if e.kind is WorkKind.VISIT and free_visits > 0:
            free_visits -= 1
            free += e.minutes
            continue
        if tier.rate(e.kind) == 0:
            free += e.minutes
            continue
        covered = min(allowance - used, e.minutes)
        used += covered
        free += covered
        if e.minutes - covered:
            billed[e.kind.value] += e.minutes - covered
    lines = []
    for kind in WorkKind:
        minutes = billed.get(kind.value, 0)
        if minutes:
            rate = tier.rate(kind)
            lines.append(Line(customer_id, kind.value, f"{kind.value.capitalize()} support"
                              if kind is not WorkKind.VISIT else "Technician visits",
                              f"{minutes} min at {rate / 100:.2f}/h",
                              round_cents(Decimal(minutes * rate) / 60)))
    return TimeUse(allowance, used, free, dict(billed)), lines


def statement(book: Book, customer_id: str, month: str) -> Statement:
    """The customer's statement for a month (see the rules at the top)."""
    return _customer_month(book, customer_id, month)[0]


def _customer_month(book: Book, customer_id: str,
                    month: str) -> tuple[Statement, TimeUse, MembershipTier]:
    """The statement, the time use and the tier of one customer's month, in one pass."""
    first, last = month_days(month)
    agreement = book.agreement_for(customer_id, first, last)
    tier = book.tier_of(agreement)
    lines: list[Line] = []
    if agreement is not None:
        if (fee := membership_line(agreement, tier, month)) is not None:
            lines.append(fee)
        suspended_all_month = (agreement.status is AgreementStatus.SUSPENDED
                               and agreement.suspended_from is not None
                               and agreement.suspended_from <= first)
        if not suspended_all_month:
            for h in _holdings(agreement, first, last):
                package = book.packages[h.package_id]
                retail = h.retail_cents if h.retail_cents is not None else package.retail_cents
                lines.append(Line(customer_id, "package", package.name, "month", retail))
    use, time_lines = time_use(book, customer_id, month, tier)
    lines += time_lines
    for c in book._credits.get((customer_id, month), ()):
        lines.append(Line(customer_id, "credit", c.note or "Credit", "", -c.cents))
    return Statement(customer_id, month, book.currency, tuple(lines)), use, tier


def _holdings(a: Agreement, first: date, last: date) -> list:
    seen, held = set(), []
    for h in a.holdings:
        if h.holds_during(first, last) and h.package_id not in seen:
            seen.add(h.package_id)
            held.append(h)
    return held


def provider_statement(book: Book, month: str) -> ProviderStatement:
    """The provider's fees to the contractor: one per package per customer account holding it
    on any day of the month, suspended included."""
    first, last = month_days(month)
    held: dict[tuple[str, str], None] = {}
    for a in book.agreements:
        for h in a.holdings:
            if h.holds_during(first, last):
                held[(a.customer_id, h.package_id)] = None
    lines = tuple(
        Line(customer_id, "fee", book.packages[pid].name,
             book.names.get(customer_id, customer_id), book.packages[pid].wholesale_cents)
        for customer_id, pid in sorted(held, key=lambda k: (book.names.get(k[0], ""), k)))
    return ProviderStatement(month, book.currency, lines)


# -- reports --------------------------------------------------------------------------------


def in_force(a: Agreement, day: date) -> bool:
    """Paying on `day`: started, not suspended by then, not cancelled by then."""
    if a.start > day:
        return False
    if a.status is AgreementStatus.SUSPENDED and a.suspended_from and a.suspended_from <= day:
        return False
    return not (a.status is AgreementStatus.CANCELLED and a.cancelled_on
                and a.cancelled_on <= day)


def membership_given(agreements: Iterable[Agreement], tiers: Mapping[str, MembershipTier],
                     day: date) -> str | None:
    """The membership a customer's agreements give on `day`: the one rule behind the fleet's
    membership column, triage's order and the SLA clocks, applied alike here and in the cloud.

    The tier's code of the latest-started agreement whose service runs that day (a cancelled
    one runs to the end of its paid term); "none" while it is suspended, before it starts,
    after it ends, or when its tier's code is not one of the memberships (Membership); None
    when there are no agreements at all: the customer's membership is then set by hand."""
    held = sorted(agreements, key=lambda a: (a.start, a.id))
    if not held:
        return None
    running = None
    for a in held:
        end = service_end(a)
        if a.start <= day and (end is None or end >= day):
            running = a
    if running is None or (running.status is AgreementStatus.SUSPENDED
                           and running.suspended_from and running.suspended_from <= day):
        return Membership.NONE.value
    tier = tiers.get(running.tier_id)
    code = tier.code if tier is not None else Membership.NONE.value
    return code if code in MEMBERSHIP_CODES else Membership.NONE.value


def membership_from_documents(documents: Iterable[Document], day: date) -> str | None:
    """`membership_given` over one customer's agreement documents and the tier documents
    (others are passed over), as the store and the cloud hold them."""
    tiers: dict[str, MembershipTier] = {}
    agreements = []
    for d in documents:
        if d.kind == TIER.name:
            tiers[d.id] = MembershipTier.from_document(d)
        elif d.kind == AGREEMENT.name:
            agreements.append(Agreement.from_document(d))
    return membership_given(agreements, tiers, day)


def mrr(book: Book, day: date) -> int:
    """Monthly recurring revenue on `day`: memberships in force (annual ones as a twelfth of
    their annual price) and their packages' retail; summed exactly, rounded once."""
    return mrr_on(book, [day])[0]


def mrr_on(book: Book, days: list[date]) -> list[int]:
    """`mrr` on each of `days`, in one pass over the agreements (the report's 12-month trend
    read them 12 times: half its time at 10,000 customers)."""
    # Exact in integers: units of 1/(12 × 10^8) cent hold a price less a discount in basis
    # points (10^4), a twelfth of an annual price, and both at once; rounded once at the end.
    unit = 12 * 10**8
    totals = [0] * len(days)
    term_starts = [month_days(month_of(day))[0] for day in days]
    prices: dict[tuple[str, date], int] = {}  # (tier id, term start) → the tier's price
    annual: dict[tuple[str, int | None, int, int], int] = {}  # same terms, same annual price
    for a in book.agreements:
        # in force from its start until a suspension or a cancellation (in_force, unrolled)
        stop = None
        if a.status is AgreementStatus.SUSPENDED and a.suspended_from:
            stop = a.suspended_from
        elif a.status is AgreementStatus.CANCELLED and a.cancelled_on:
            stop = a.cancelled_on
        tier = book.tiers[a.tier_id]
        for n, day in enumerate(days):
            if a.start > day or (stop is not None and stop <= day):
                continue
            if a.billing is Billing.MONTHLY:
                if a.price_override_cents is not None:
                    base = a.price_override_cents
                elif (base := prices.get((a.tier_id, term_starts[n]), -1)) < 0:
                    base = prices[(a.tier_id, term_starts[n])] = tier.price_on(term_starts[n])
                totals[n] += base * (10_000 - a.discount_bp) * 12 * 10**4
            else:
                starts = anniversary(a.start, years_completed(a.start, day))
                key = (a.tier_id, a.price_override_cents, a.discount_bp, tier.price_on(starts))
                if key not in annual:
                    annual[key] = annual_price(a, tier, starts)
                totals[n] += annual[key] * 10**8
            for h in a.holdings:
                if h.holds_during(day, day):
                    retail = h.retail_cents if h.retail_cents is not None else book.packages[
                        h.package_id].retail_cents
                    totals[n] += retail * unit
    return [(2 * total + unit) // (2 * unit) for total in totals]  # half up (never negative)


def band(percent: float | None) -> str:
    for floor, label in MARGIN_BANDS:
        if floor is None or (percent is not None and percent >= floor):
            return label
    return MARGIN_BANDS[-1][1]


@dataclass(frozen=True)
class Margin:
    customer_id: str
    revenue: int
    fees: int
    labour: int  # included and complimentary time at cost

    @property
    def margin(self) -> int:
        return self.revenue - self.fees - self.labour

    @property
    def percent(self) -> float | None:
        return None if self.revenue <= 0 else 100 * self.margin / self.revenue

    @property
    def band(self) -> str:
        return band(self.percent)


def margins(book: Book, month: str) -> dict[str, Margin]:
    return _month(book, month)[0]


def _month(book: Book, month: str, only: Iterable[str] | None = None
           ) -> tuple[dict[str, Margin], list[tuple[str, TimeUse]], ProviderStatement]:
    """One pass over the customers (or `only` these): margins, included time use, the
    provider's statement."""
    provider = provider_statement(book, month)
    fees: dict[str, int] = defaultdict(int)
    for line in provider.lines:
        fees[line.customer_id] += line.cents
    result, uses = {}, []
    for customer_id in book.customers() if only is None else only:
        s, use, tier = _customer_month(book, customer_id, month)
        labour = round_cents(Decimal(use.free_minutes * tier.hour_cost_cents) / 60)
        if tier.included_minutes:
            uses.append((customer_id, use))
        if s.total or fees[customer_id] or labour:
            result[customer_id] = Margin(customer_id, s.total, fees[customer_id], labour)
    return result, uses, provider


@dataclass(frozen=True)
class Renewal:
    customer_id: str
    agreement_id: str
    term_end: date
    auto_renew: bool


def renewals_due(book: Book, today: date, days: int = RENEWAL_WINDOW_DAYS) -> list[Renewal]:
    """Annual agreements whose term ends within `days` (monthly ones renew every month)."""
    due = []
    for a in book.agreements:
        if a.billing is not Billing.ANNUAL or a.status is AgreementStatus.CANCELLED \
                or a.start > today + timedelta(days=days):
            continue
        years = 1
        while anniversary(a.start, years) - timedelta(days=1) < today:
            years += 1
        end = anniversary(a.start, years) - timedelta(days=1)
        if end <= today + timedelta(days=days):
            due.append(Renewal(a.customer_id, a.id, end, a.auto_renew))
    return sorted(due, key=lambda r: (r.term_end, r.customer_id))


@dataclass(frozen=True)
class SlaFigures:
    tier: str
    incidents: int
    met: int
    breaches: int

    @property
    def compliance(self) -> float | None:
        return None if not self.incidents else self.met / self.incidents


def sla_compliance(incidents: Iterable[Mapping], month: str,
                   now: datetime) -> dict[str, SlaFigures]:
    """Per membership: incidents opened in the month with a response target, how many were
    acknowledged within it, how many breached (late, or still unacknowledged past due)."""
    first, last = month_days(month)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for i in incidents:
        opened, due = _time(i.get("opened_at")), _time(i.get("response_due_at"))
        if opened is None or due is None or not first <= opened.date() <= last:
            continue
        ack = _time(i.get("acknowledged_at"))
        c = counts[str(i.get("membership") or "none")]
        c[0] += 1
        if ack is not None and ack <= due:
            c[1] += 1
        elif i.get("breached_at") or ack is not None or now > due:
            c[2] += 1
    return {tier: SlaFigures(tier, *c) for tier, c in sorted(counts.items())}


def _time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class Report:
    """The business on one page, for a month."""

    month: str
    currency: str
    mrr: int
    arr: int
    trend: tuple[tuple[str, int], ...]  # 12 months of MRR, oldest first
    margins: dict[str, Margin]
    bands: dict[str, int]  # band → customers
    flagged: tuple[str, ...]  # below 20 % this month and the one before
    renewals: tuple[Renewal, ...]
    suspended_fees: tuple[tuple[str, int], ...]  # suspended customers still costing fees
    sla: dict[str, SlaFigures]
    hours: tuple[tuple[str, int, int], ...]  # customer, included minutes used, left
    provider_total: int
    names: dict[str, str]

    def name(self, customer_id: str) -> str:
        return self.names.get(customer_id, customer_id[:8])


def build_report(book: Book, month: str, today: date, incidents: Iterable[Mapping] = (),
                 now: datetime | None = None) -> Report:
    last = month_days(month)[1]
    as_of = min(today, last)
    current, uses, provider = _month(book, month)
    bands: dict[str, int] = {label: 0 for _, label in MARGIN_BANDS}
    for m in current.values():
        bands[m.band] += 1
    low = MARGIN_BANDS[-1][1]
    # the month before only for those low now: a flag needs both
    before = _month(book, previous_month(month),
                    [c for c, m in current.items() if m.band == low])[0]
    flagged = tuple(c for c, m in current.items()
                    if m.band == low and c in before and before[c].band == low)
    fees_by_customer: dict[str, int] = defaultdict(int)
    for line in provider.lines:
        fees_by_customer[line.customer_id] += line.cents
    suspended = tuple(sorted(
        ((a.customer_id, fees_by_customer[a.customer_id]) for a in book.agreements
         if a.status is AgreementStatus.SUSPENDED and a.suspended_from
         and a.suspended_from <= last and fees_by_customer.get(a.customer_id)),
        key=lambda x: book.names.get(x[0], x[0])))
    hours = [(customer_id, use.included_used, use.included_left) for customer_id, use in uses]
    months = months_back(month, 12)
    trend = tuple(zip(months, mrr_on(book, [min(month_days(m)[1], as_of) if m == month
                                            else month_days(m)[1] for m in months]),
                      strict=True))
    value = trend[-1][1]
    return Report(
        month=month, currency=book.currency, mrr=value, arr=value * 12, trend=trend,
        margins=current, bands=bands, flagged=flagged,
        renewals=tuple(renewals_due(book, today)), suspended_fees=suspended,
        sla=sla_compliance(incidents, month, now or datetime.combine(today, datetime.min.time())),
        hours=tuple(hours), provider_total=provider.total, names=book.names)


def money(cents: int, currency: str = "USD") -> str:
    """1234567 → '12,345.67 USD' (for people; CSV keeps cents)."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{part:02d} {currency}"
