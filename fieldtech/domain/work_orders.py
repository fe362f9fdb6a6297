"""Work orders: a visit to a customer's site (start-up, winterization, backflow test, repair,
or a kind of your own from a TOML checklist), as a synced document (domain/documents.py).

A work order has a date, a technician, a checklist to tick, the zone-test results of the
on-site screen, findings each with an optional quote to the owner (approved / declined), the
minutes spent and a status. It is created offline, queued, pushed and merged field by field
like any record. No textual, no SQL: plain data and validation.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from fieldtech.domain.documents import DocumentKind, register
from fieldtech.domain.errors import FieldError, ValidationError

KIND = "work_order"
STATUSES = ("scheduled", "in_progress", "done", "cancelled")
OPEN_STATUSES = ("scheduled", "in_progress")  # a visit still to do: on-site results go to it
QUOTE_STATES = ("none", "pending", "approved", "declined")
TEXT_MAX = 500
ITEMS_MAX = 60
MINUTES_MAX = 24 * 60 * 7

# The visits every contractor does; a TOML file in the checklists folder adds or replaces one.
BUILT_IN_CHECKLISTS: dict[str, list[str]] = {
    "Start-up": ["Open the main valve slowly", "Check the backflow preventer",
                 "Run every zone and look for leaks", "Adjust and clean heads",
                 "Set the controller's clock and schedule", "Replace the controller battery"],
    "Winterization": ["Shut off the water supply", "Drain the backflow preventer",
                      "Blow out every zone with compressed air", "Set the controller to off",
                      "Insulate the backflow preventer"],
    "Backflow test": ["Record the device's make, model and serial", "Test check valve 1",
                      "Test check valve 2", "Test the relief valve", "File the test report"],
    "Repair": ["Find the fault", "Repair", "Test the zone after the repair"],
}


def _text(errors: list[FieldError], path: str, value: Any, required: bool = False) -> None:
    if not isinstance(value, str):
        errors.append(FieldError(path, "Enter text."))
    elif required and not value.strip():
        errors.append(FieldError(path, "Required."))
    elif len(value) > TEXT_MAX:
        errors.append(FieldError(path, f"At most {TEXT_MAX} characters."))


def validate_work_order(d: dict[str, Any]) -> list[FieldError]:
    e: list[FieldError] = []
    _text(e, "customer_id", d.get("customer_id"), required=True)
    _text(e, "visit", d.get("visit"), required=True)
    _text(e, "technician", d.get("technician", ""))
    try:
        date.fromisoformat(str(d.get("date")))
    except ValueError:
        e.append(FieldError("date", "Enter a date as YYYY-MM-DD."))
    if d.get("status", "scheduled") not in STATUSES:
        e.append(FieldError("status", "One of " + ", ".join(STATUSES) + "."))
    minutes = d.get("minutes", 0)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not (
            0 <= minutes <= MINUTES_MAX):
        e.append(FieldError("minutes", f"Whole minutes, 0–{MINUTES_MAX}."))
    controllers = d.get("controller_ids", [])
    if not isinstance(controllers, list) or not all(isinstance(c, str) for c in controllers):
        e.append(FieldError("controller_ids", "A list of controller ids."))
    for name, check in (("checklist", _check_item), ("findings", _check_finding),
                        ("zone_tests", _check_zone_test)):
        items = d.get(name, [])
        if not isinstance(items, list) or len(items) > ITEMS_MAX:
            e.append(FieldError(name, f"A list of at most {ITEMS_MAX}."))
            continue
        for n, item in enumerate(items):
            if not isinstance(item, dict):
                e.append(FieldError(f"{name}.{n}", "Expected a table."))
            else:
                e += check(item, f"{name}.{n}")
    return e


def _check_item(item: dict[str, Any], path: str) -> list[FieldError]:
    e: list[FieldError] = []
    _text(e, f"{path}.item", item.get("item"), required=True)
    if not isinstance(item.get("done", False), bool):
        e.append(FieldError(f"{path}.done", "Yes or no."))
    return e


def _check_finding(item: dict[str, Any], path: str) -> list[FieldError]:
    e: list[FieldError] = []
    _text(e, f"{path}.text", item.get("text"), required=True)
    cents = item.get("quote_cents", 0)
    if isinstance(cents, bool) or not isinstance(cents, int) or not 0 <= cents <= 10**9:
        e.append(FieldError(f"{path}.quote_cents", "A price in cents, 0 or more."))
    if item.get("quote", "none") not in QUOTE_STATES:
        e.append(FieldError(f"{path}.quote", "One of " + ", ".join(QUOTE_STATES) + "."))
    return e


def _check_zone_test(item: dict[str, Any], path: str) -> list[FieldError]:
    e: list[FieldError] = []
    zone = item.get("zone")
    if isinstance(zone, bool) or not isinstance(zone, int) or zone < 1:
        e.append(FieldError(f"{path}.zone", "A zone number."))
    if not isinstance(item.get("ok"), bool):
        e.append(FieldError(f"{path}.ok", "Yes or no."))
    _text(e, f"{path}.note", item.get("note", ""))
    return e


WORK_ORDER = register(DocumentKind(name=KIND, validate=validate_work_order,
                                   customer_field="customer_id", label="work order"))


@dataclass(frozen=True)
class Checklist:
    visit: str
    items: tuple[str, ...]


def checklists(folder: Path | None) -> dict[str, Checklist]:
    """The built-in visits, with each TOML file in `folder` added (or replacing one):

        visit = "Spring start-up (commercial)"
        items = ["Walk the site with the manager", "…"]

    A file that is not such a checklist raises ValidationError naming it."""
    found = {name: Checklist(name, tuple(items)) for name, items in BUILT_IN_CHECKLISTS.items()}
    if folder is None or not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.toml")):
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ValidationError([FieldError("file", f"{path.name}: {exc}")]) from None
        visit, items = doc.get("visit"), doc.get("items")
        if (not isinstance(visit, str) or not visit.strip() or not isinstance(items, list)
                or not items or not all(isinstance(i, str) and i.strip() for i in items)
                or len(items) > ITEMS_MAX):
            raise ValidationError([FieldError("file", f"{path.name}: a checklist has "
                                                      f"visit = \"…\" and items = [\"…\", …] "
                                                      f"(1–{ITEMS_MAX} items).")])
        found[visit.strip()] = Checklist(visit.strip(), tuple(i.strip() for i in items))
    return found


def new_work_order(customer_id: str, checklist: Checklist, day: date, technician: str,
                   controller_ids: list[str]) -> dict[str, Any]:
    return {"customer_id": customer_id, "visit": checklist.visit, "date": day.isoformat(),
            "technician": technician, "status": "scheduled", "minutes": 0,
            "controller_ids": list(controller_ids),
            "checklist": [{"item": i, "done": False} for i in checklist.items],
            "findings": [], "zone_tests": []}
