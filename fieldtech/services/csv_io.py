"""Customers and controllers from and to CSV (no textual): `fieldtech import`, `export --csv`.

One row per controller, with its customer's columns; a customer with no controller is a row
with the controller columns empty. Rows naming the same customer (by e-mail, else by name)
share it. Reading is done in two passes over the file, streamed:

1. count the controller rows and check the plan's quota first (a 50 MB file over the limit
   is refused before a single record is built);
2. validate every row, as the forms do, and report each bad one with its line and field.

Nothing is written if any row is bad, unless `skip_bad` (then the good rows are written and
the bad ones reported). Everything written is ONE store transaction with its outbox rows.
BOM, CRLF and quoted commas or line breaks are the csv module's; line numbers are the file's.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from fieldtech.domain.errors import FieldtechError
from fieldtech.domain.models import Controller, ControllerConfig, Customer, new_id
from fieldtech.domain.plans import Membership
from fieldtech.domain.text import normalize_tags
from fieldtech.domain.validation import normalize_serial, validate_controller, validate_customer
from fieldtech.offline_store.store import Store

CUSTOMER_COLUMNS = ("customer", "email", "phone", "address", "membership", "customer_tags")
CONTROLLER_COLUMNS = ("controller", "model", "zones", "serial", "timezone", "location",
                      "controller_tags")
COLUMNS = CUSTOMER_COLUMNS + CONTROLLER_COLUMNS
ROWS_MAX = 200_000  # a file larger than any account: refused with what it holds
FIELD_BYTES_MAX = 10_000  # one cell (csv's own limit is 128 KB: a stray quote eats the file)


class CsvUnreadable(FieldtechError):
    """The file cannot be read as CSV at all (not found, not UTF-8, no header…)."""


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.message}"


@dataclass
class ImportPlan:
    """What an import would write; `errors` lists every bad row (line, field, why)."""

    customers: list[Customer] = field(default_factory=list)  # new ones
    controllers: list[Controller] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rows: int = 0
    quota: str | None = None  # over the plan: what it would be, said before anything else

    @property
    def ok(self) -> bool:
        return not self.errors and self.quota is None

    def report(self, most: int = 50) -> str:
        lines = []
        if self.quota:
            lines.append(self.quota)
        lines += [str(e) for e in self.errors[:most]]
        if len(self.errors) > most:
            lines.append(f"… and {len(self.errors) - most} more bad rows.")
        bad_lines = len({e.line for e in self.errors})
        lines.append(f"{self.rows} rows: {len(self.customers)} new customers, "
                     f"{len(self.controllers)} controllers"
                     + (f"; {bad_lines} bad rows" if bad_lines else "; no bad row") + ".")
        return "\n".join(lines)


def _open(path: Path) -> TextIO:
    try:
        # utf-8-sig: a BOM (Excel's "CSV UTF-8") is not part of the first column's name;
        # newline="": CRLF and line breaks inside quoted cells are the csv module's.
        return path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise CsvUnreadable(f"Cannot read {path}: {exc.strerror or exc}.") from None


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row by column name), streamed; CsvUnreadable for what is not CSV."""
    csv.field_size_limit(FIELD_BYTES_MAX)
    with _open(path) as f:
        reader = csv.reader(f)
        try:
            header = next(reader, None)
            if header is None:
                raise CsvUnreadable(f"{path} is empty: the first line names the columns ("
                                    + ", ".join(COLUMNS) + ").")
            names = [h.strip().casefold() for h in header]
            unknown = [n for n in names if n and n not in COLUMNS]
            if unknown or "customer" not in names:
                raise CsvUnreadable(
                    f"Line 1 names the columns; {', '.join(unknown) or 'customer'} "
                    f"{'is not one' if unknown else 'is missing'}. Columns: "
                    + ", ".join(COLUMNS) + ".")
            line = reader.line_num
            for cells in reader:
                row = {n: c.strip() for n, c in zip(names, cells, strict=False) if n}
                if any(cells):
                    yield line + 1, row
                line = reader.line_num
        except csv.Error as exc:
            raise CsvUnreadable(f"Line {reader.line_num}: not CSV ({exc}); nothing was "
                                "read after it.") from None
        except UnicodeDecodeError:
            raise CsvUnreadable(f"Near line {reader.line_num + 1}: not UTF-8 text. Save the "
                                "file as “CSV UTF-8”.") from None


def plan_import(store: Store, path: Path) -> ImportPlan:
    """Read and check the whole file; nothing is written (see `write_import`)."""
    plan = ImportPlan()
    # 1. The quota, from a count of controller rows, before any record is built.
    count = rows = 0
    for _line, row in _rows(path):
        rows += 1
        if rows > ROWS_MAX:
            raise CsvUnreadable(f"{path} has more than {ROWS_MAX:,} rows: split it.")
        count += bool(row.get("controller"))
    plan.rows = rows
    usage = store.usage()
    if usage is not None and usage.controllers_used + count > usage.controllers_limit:
        plan.quota = (f"Quota: {count:,} controllers would make {usage.controllers_used + count:,}"
                      f" of {usage.controllers_limit:,} on {usage.tier.label}; nothing was "
                      "checked further or written. Upgrade the plan or import fewer.")
        return plan
    # 2. Every row, as the forms check it.
    known = {(c.email.casefold() or c.name.casefold()): c for c in store.customers()}
    serials = {r.serial for r in store.fleet_rows() if r.serial}
    made: dict[str, tuple[Customer, int]] = {}
    zones_defaults: dict[int, ControllerConfig] = {}
    used: set[str] = set()  # customers of good rows: a bad row's customer alone is skipped
    for line, row in _rows(path):
        customer = _customer(row, line, plan, known, made)
        if customer is None:
            continue
        if not row.get("controller"):
            used.add(customer.id)
            continue
        controller = _controller(row, line, customer, plan, zones_defaults)
        if controller is None:
            continue
        if controller.serial and controller.serial in serials:
            plan.errors.append(RowError(line, "serial", f"{controller.serial} is already "
                                                        "a controller's serial."))
            continue
        if controller.serial:
            serials.add(controller.serial)
        plan.controllers.append(controller)
        used.add(customer.id)
    plan.customers = [c for c, _line in made.values() if c.id in used]
    return plan


def _customer(row: dict[str, str], line: int, plan: ImportPlan,
              known: dict[str, Customer], made: dict[str, tuple[Customer, int]]
              ) -> Customer | None:
    name, email = row.get("customer", ""), row.get("email", "")
    key = email.casefold() or name.casefold()
    if not key:
        plan.errors.append(RowError(line, "customer", "Name the customer (or give an "
                                                      "e-mail)."))
        return None
    if key in known:
        return known[key]
    if key in made:
        return made[key][0]
    try:
        membership = Membership((row.get("membership") or "none").casefold())
    except ValueError:
        plan.errors.append(RowError(line, "membership", "One of "
                                    + ", ".join(m.value for m in Membership) + "."))
        return None
    customer = Customer(id=new_id(), name=name, email=email, phone=row.get("phone", ""),
                        address=row.get("address", ""), membership=membership,
                        tags=normalize_tags(row.get("customer_tags", "")))
    errors = validate_customer(customer)
    if errors:
        plan.errors += [RowError(line, _column(e.field, "customer"), e.message)
                        for e in errors]
        return None
    made[key] = (customer, line)
    return customer


def _controller(row: dict[str, str], line: int, customer: Customer, plan: ImportPlan,
                defaults: dict[int, ControllerConfig]) -> Controller | None:
    zones_text = row.get("zones") or "8"
    if not zones_text.isdigit():
        plan.errors.append(RowError(line, "zones", "A whole number of zones, e.g. 8."))
        return None
    zones = int(zones_text)
    controller = Controller(
        id=new_id(), customer_id=customer.id, name=row.get("controller", ""),
        model=row.get("model") or "FT-8", zone_count=zones,
        serial=normalize_serial(row.get("serial", "")) or None,
        timezone=row.get("timezone") or "UTC", location=row.get("location", ""),
        tags=normalize_tags(row.get("controller_tags", "")))
    errors = validate_controller(controller)
    if errors:
        plan.errors += [RowError(line, _column(e.field, "controller"), e.message)
                        for e in errors[:3]]
        return None
    if zones not in defaults:
        defaults[zones] = ControllerConfig.default_for(zones)
    return replace(controller, config=ControllerConfig.from_dict(defaults[zones].to_dict()))


def _column(path: str, what: str) -> str:
    """The CSV column of a domain error path ("name" of a controller → "controller")."""
    head = path.split(".")[0]
    return {"name": what, "zone_count": "zones", "tags": f"{what}_tags"}.get(head, head)


def write_import(store: Store, plan: ImportPlan, skip_bad: bool = False) -> tuple[int, int]:
    """Write what the plan built, in one transaction; refused (nothing written) when a row
    is bad and not `skip_bad`, or over the quota. → (customers, controllers) written."""
    if plan.quota:
        raise FieldtechError(plan.quota)
    if plan.errors and not skip_bad:
        raise FieldtechError(f"{len({e.line for e in plan.errors})} bad rows: nothing was "
                             "written (fix them, or import with --skip-bad).")
    store.create_many(plan.customers, plan.controllers)
    return len(plan.customers), len(plan.controllers)


def export_csv(store: Store, path: Path) -> int:
    """The fleet as CSV (the columns `fieldtech import` reads); → rows written."""
    customers = {c.id: c for c in store.customers()}
    rows = store.fleet_rows()
    controllers = {c.id: c for c in store.controllers(
        [r.controller_id for r in rows if r.controller_id])}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        for r in rows:
            k = customers[r.customer_id]
            head: list[Any] = [k.name, k.email, k.phone, k.address, k.membership.value, k.tags]
            c = controllers.get(r.controller_id)
            tail: list[Any] = ([c.name, c.model, c.zone_count, c.serial or "", c.timezone,
                                c.location, c.tags] if c else [""] * len(CONTROLLER_COLUMNS))
            out.writerow(head + tail)
    return len(rows)
