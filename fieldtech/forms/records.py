"""The form for each record: its fields and how typed values become a validated record.

Only domain calls here (no I/O): a builder returns (record, errors) and the dialog shows them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from fieldtech.domain import limits as L
from fieldtech.domain.errors import FieldError, ValidationError
from fieldtech.domain.models import (
    WEEKDAY_FULL,
    WEEKDAY_NAMES,
    Controller,
    ControllerConfig,
    Customer,
    Program,
    ScheduleKind,
    Zone,
    new_id,
    zone_count_error,
)
from fieldtech.domain.plans import CustomerPlan, Membership, SelfManagement
from fieldtech.domain.text import normalize_tags
from fieldtech.domain.validation import (
    normalize_serial,
    validate_controller,
    validate_customer,
    validate_program,
    validate_zone,
)
from fieldtech.forms.fields import Builder, Field, field_for
from fieldtech.services import config_files

TAGS_HINT = "words, e.g. hoa spring (the fleet filters tag:hoa)"


def zone_form(zone: Zone, zone_count: int, today: date) -> tuple[list[Field], Builder]:
    fields = [
        Field("name", "Name", zone.name),
        Field("enabled", "Enabled", zone.enabled, "bool"),
        Field("run_minutes", "Run time", zone.run_minutes, "int",
              hint=f"minutes, {L.RUN_MINUTES_MIN}–{L.RUN_MINUTES_MAX}"),
        Field("cycle_minutes", "Cycle", zone.cycle_minutes, "optional_int",
              hint="minutes; blank = no cycle-and-soak"),
        Field("soak_minutes", "Soak", zone.soak_minutes, "optional_int", hint="minutes"),
        Field("master_valve", "Opens the master valve", zone.master_valve, "bool"),
        Field("seasonal_adjust_pct", "Seasonal adjust", zone.seasonal_adjust_pct, "int",
              hint=f"%, {L.SEASONAL_ADJUST_MIN}–{L.SEASONAL_ADJUST_MAX}"),
        Field("suspended_until", "Suspended until", _iso(zone.suspended_until),
              hint="YYYY-MM-DD; blank = not suspended"),
    ]

    def build(v: dict[str, Any]) -> tuple[Zone, list[FieldError]]:
        errors: list[FieldError] = []
        until = _date(v.pop("suspended_until"), "suspended_until", errors)
        if until is not None and until != zone.suspended_until and until < today:
            # A suspension that ended already would do nothing (and the table hides it).
            errors.append(FieldError("suspended_until", f"{until} has passed: give a later "
                                     "date, or leave it blank for not suspended."))
        z = replace(zone, suspended_until=until, **v)
        return z, errors + validate_zone(z, zone_count)

    return fields, build


def program_form(program: Program, zone_count: int) -> tuple[list[Field], Builder]:
    fields = [
        Field("name", "Name", program.name),
        Field("enabled", "Enabled", program.enabled, "bool"),
        Field("schedule", "Schedule", program.schedule, "select",
              options=[("Days of the week", ScheduleKind.WEEKDAYS), ("Odd days", ScheduleKind.ODD),
                       ("Even days", ScheduleKind.EVEN),
                       ("Every N days", ScheduleKind.INTERVAL)]),
        Field("days", "Days of the week", " ".join(WEEKDAY_NAMES[d] for d in program.days),
              hint="e.g. Mon Wed Fri"),
        Field("interval_days", "Every N days", program.interval_days, "int",
              hint=f"{L.INTERVAL_DAYS_MIN}–{L.INTERVAL_DAYS_MAX}"),
        Field("start_times", "Start times", " ".join(program.start_times),
              hint=f"HH:MM, up to {L.START_TIMES_MAX}, e.g. 05:30 19:00"),
        Field("zone_minutes", "Zone minutes",
              " ".join(f"{z}={m}" for z, m in sorted(program.zone_minutes.items())),
              hint="zone=minutes, e.g. 1=10 2=15"),
    ]

    def build(v: dict[str, Any]) -> tuple[Program, list[FieldError]]:
        errors: list[FieldError] = []
        days = _weekdays(v.pop("days"), errors)
        minutes = _zone_minutes(v.pop("zone_minutes"), errors)
        starts = v.pop("start_times").replace(",", " ").split()
        p = replace(program, days=days if days is not None else program.days,
                    zone_minutes=minutes, start_times=starts, **v)
        # A field that did not parse has its message already: not a second one about it.
        parsed = {e.field for e in errors}
        checked = [e for e in validate_program(p, zone_count)
                   if field_for(e.field, ["days", "zone_minutes"]) not in parsed]
        return p, errors + checked

    return fields, build


def controller_form(controller: Controller) -> tuple[list[Field], Builder]:
    fields = [
        Field("name", "Name", controller.name),
        Field("model", "Model", controller.model),
        Field("zone_count", "Zones", controller.zone_count, "int",
              hint=f"{L.ZONES_MIN}–{L.ZONES_MAX}"),
        Field("serial", "Serial number", controller.serial or "",
              hint="blank until the hardware is bound"),
        Field("timezone", "Time zone", controller.timezone, hint="e.g. America/Denver"),
        Field("location", "Location", controller.location),
        Field("notes", "Notes", controller.notes),
        Field("tags", "Tags", controller.tags, hint=TAGS_HINT),
    ]

    def build(v: dict[str, Any]) -> tuple[Controller, list[FieldError]]:
        v["serial"] = normalize_serial(v["serial"]) or None
        if "tags" in v:
            v["tags"] = normalize_tags(v["tags"])
        c = replace(controller, **v)
        if zone_count_error(c.zone_count) is None and c.zone_count != controller.zone_count:
            c = c.copy_config_from(controller)  # zones cut or added to the new count
        return c, validate_controller(c)

    return fields, build


def new_controller_form(customer: Customer, **prefill: Any) -> tuple[list[Field], Builder]:
    """`prefill`: what a found device already says (serial, model, zone_count, name)."""
    blank = Controller(id=new_id(), customer_id=customer.id,
                       **{"name": "", "location": customer.address, **prefill})
    fields, build = controller_form(blank)

    def build_new(v: dict[str, Any]) -> tuple[Controller, list[FieldError]]:
        c, errors = build(v)
        c = replace(c, config=ControllerConfig.default_for(c.zone_count)) if not errors else c
        return c, errors

    return fields, build_new


def customer_form(customer: Customer | None) -> tuple[list[Field], Builder]:
    c = customer or Customer(id=new_id(), name="")
    fields = [
        Field("name", "Name", c.name),
        Field("email", "E-mail", c.email),
        Field("phone", "Phone", c.phone),
        Field("address", "Address", c.address),
        Field("plan", "Customer plan", c.plan, "select",
              options=[(p.label, p) for p in CustomerPlan]),
        Field("self_management", "Customer may", c.self_management, "select",
              options=[(p.label, p) for p in SelfManagement]),
        Field("membership", "Service membership", c.membership, "select",
              options=[(f"{m.label} — {m.promise}", m) for m in Membership]),
        Field("tags", "Tags", c.tags, hint=TAGS_HINT),
    ]

    def build(v: dict[str, Any]) -> tuple[Customer, list[FieldError]]:
        if "tags" in v:
            v["tags"] = normalize_tags(v["tags"])
        k = replace(c, **v)
        return k, validate_customer(k)

    return fields, build


def rain_delay_form(until: datetime | None) -> tuple[list[Field], Builder]:
    hours = 0
    if until is not None:
        hours = max(0, round((until - datetime.now(UTC)).total_seconds() / 3600))
    fields = [Field("hours", "Rain delay", hours, "int",
                    hint=f"hours from now, 0 clears, up to {L.RAIN_DELAY_HOURS_MAX}")]

    def build(v: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
        # A dict, not the datetime: None (cleared) must not read as "cancelled".
        h = v["hours"]
        if not 0 <= h <= L.RAIN_DELAY_HOURS_MAX:
            return {}, [FieldError("hours", f"Between 0 and {L.RAIN_DELAY_HOURS_MAX} hours.")]
        when = None if h == 0 else (datetime.now(UTC) + timedelta(hours=h)).replace(
            second=0, microsecond=0)
        return {"until": when}, []

    return fields, build


def path_form(label: str, default: str) -> tuple[list[Field], Builder]:
    fields = [Field("path", label, default)]

    def build(v: dict[str, Any]) -> tuple[str, list[FieldError]]:
        if not v["path"]:
            return "", [FieldError("path", "Enter a file path.")]
        return v["path"], []

    return fields, build


def file_form(label: str, default: str, folder: Path,
              hint: str = "a name, or a path") -> tuple[list[Field], Builder]:
    """A file to write: a bare name goes into `folder` with `.toml`; a path is a path."""
    fields = [Field("path", label, default, hint=hint)]

    def build(v: dict[str, Any]) -> tuple[Path | None, list[FieldError]]:
        if not v["path"].strip():
            return None, [FieldError("path", "Enter a name or a file path.")]
        return config_files.resolve_file(v["path"], folder), []

    return fields, build


def config_file_form(form: tuple[list[Field], Builder], folder: Path,
                     read: Callable[[Path], ControllerConfig]) -> tuple[list[Field], Builder]:
    """`form` (one "path" field), whose file must also read as a valid configuration: what
    is wrong with it shows under the field, so a path is fixed, not typed again. Builds
    (path, configuration)."""
    fields, build = form

    def checked(v: dict[str, Any]) -> tuple[tuple[Path, ControllerConfig] | None,
                                            list[FieldError]]:
        typed, errors = build(v)
        if errors:
            return None, errors
        path = config_files.resolve_file(str(typed), folder)
        try:
            return (path, read(path)), []
        except ValidationError as exc:
            return None, [FieldError("path", "Nothing changed:\n" + error_lines(exc.errors))]
        except OSError as exc:
            return None, [FieldError("path", f"Could not read {path}: {exc.strerror or exc}.")]

    return fields, checked


def error_lines(errors: list[FieldError], most: int = 6) -> str:
    """One line per problem, the field first; the rest counted, not silently dropped."""
    lines = [f"• {e.field or 'file'}: {e.message}" for e in errors[:most]]
    if len(errors) > most:
        lines.append(f"… and {len(errors) - most} more.")
    return "\n".join(lines)


def _iso(d: date | None) -> str:
    return d.isoformat() if d else ""


def _date(text: str, name: str, errors: list[FieldError]) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.append(FieldError(name, "Enter a date as YYYY-MM-DD, e.g. 2026-12-24."))
        return None


def _weekdays(text: str, errors: list[FieldError]) -> list[int] | None:
    """The days typed ("Mon", "thursday", "tu"), or None when a word is not a day (every
    such word named, in one message)."""
    days, bad = [], []
    for word in text.replace(",", " ").split():
        found = [i for i, day in enumerate(WEEKDAY_FULL)
                 if len(word) >= 2 and day.startswith(word.lower())]
        if len(found) == 1:
            days.append(found[0])
        else:
            bad.append(f"“{word}”")
    if bad:
        errors.append(FieldError("days", f"{', '.join(bad)} {'is' if len(bad) == 1 else 'are'}"
                                 " not a day: use Mon Tue Wed …"))
        return None
    return days


def _zone_minutes(text: str, errors: list[FieldError]) -> dict[int, int]:
    out: dict[int, int] = {}
    for item in text.replace(",", " ").split():
        zone, sep, minutes = item.partition("=")
        if not sep or not zone.isdigit() or not minutes.isdigit():
            errors.append(FieldError("zone_minutes", f"Write zone=minutes, e.g. 3=15 (“{item}”)."))
            break
        out[int(zone)] = int(minutes)
    return out
