"""Validation in one place, with messages written for a technician.

`validate_*` return a list of FieldError (empty = valid); `parse_*` turn an untrusted dict
(a form, a TOML file, a request body) into a record or raise ValidationError listing every
problem at once, so a form can show each message next to its field.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fieldtech.domain import limits as L
from fieldtech.domain.errors import FieldError, ValidationError
from fieldtech.domain.models import (
    Controller,
    ControllerConfig,
    Customer,
    Program,
    ScheduleKind,
    Zone,
    zone_count_error,
)

_TIMEZONES: set[str] | None = None


def normalize_serial(text: str) -> str:
    return text.strip().upper()


def normalize_plan_code(text: str) -> str:
    return text.strip().upper()


def is_serial(text: str) -> bool:
    return bool(L.SERIAL_RE.match(text))


def is_plan_code(text: str) -> bool:
    return bool(L.PLAN_CODE_RE.match(text))


def plan_code_error(text: str) -> str | None:
    """Why a typed plan code is malformed, or None if its shape is right."""
    code = normalize_plan_code(text)
    if is_plan_code(code):
        return None
    if not code:
        return "Enter the plan code, e.g. 45F2-644E."
    if len(code.replace("-", "")) != 8 or code.count("-") != 1 or len(code) != 9:
        return "A plan code is 4 characters, a dash, and 4 more (e.g. 45F2-644E)."
    return "A plan code uses only 0–9 and A–F (e.g. 45F2-644E)."


def serial_error(text: str) -> str | None:
    if is_serial(normalize_serial(text)):
        return None
    return (
        "A serial number is a 2–4 character prefix, a dash and 6–16 letters or digits, "
        "as printed on the controller's label (e.g. FT1-0A1B2C3D)."
    )


def control_character_error(text: str, single_line: bool = True) -> str | None:
    """Why typed text cannot be kept as it is (a control character in it), or None."""
    pattern = L.SINGLE_LINE_CONTROL_RE if single_line else L.TEXT_CONTROL_RE
    found = pattern.search(text)
    if found is None:
        return None
    char, at = found.group(), found.start() + 1
    if char in "\t\n\r":  # refused only where the field is one line
        what = "tab" if char == "\t" else "line break"
        return f"Remove the {what} at character {at}; this field is one line."
    return (
        f"Remove the invisible control character (U+{ord(char):04X}) at character {at}, "
        "often left by a copy and paste."
    )


def rain_delay_error(until: datetime | None, now: datetime) -> str | None:
    """Why a rain delay ending at `until` is refused: more than RAIN_DELAY_HOURS_MAX hours
    after `now` (naive UTC). An aware `until` is compared in UTC."""
    if until is None:
        return None
    if until.tzinfo is not None:
        until = until.astimezone(UTC).replace(tzinfo=None)
    if until - now > timedelta(hours=L.RAIN_DELAY_HOURS_MAX):
        return (
            f"A rain delay lasts at most {L.RAIN_DELAY_HOURS_MAX} hours "
            f"({L.RAIN_DELAY_HOURS_MAX // 24} days) from now."
        )
    return None


def _name(errors: list[FieldError], path: str, value: Any, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        errors.append(FieldError(path, f"Give the {what} a name."))
    elif len(value) > L.NAME_MAX:
        errors.append(
            FieldError(path, f"Names are at most {L.NAME_MAX} characters ({len(value)} given).")
        )
    elif message := control_character_error(value):
        errors.append(FieldError(path, message))


def _int(
    errors: list[FieldError], path: str, value: Any, lo: int, hi: int, unit: str = ""
) -> bool:
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append(FieldError(path, "Enter a whole number."))
        return False
    if not lo <= value <= hi:
        errors.append(FieldError(path, f"Must be between {lo} and {hi}{unit} ({value} given)."))
        return False
    return True


def _text(errors: list[FieldError], path: str, value: Any, single_line: bool = False) -> None:
    if not isinstance(value, str):
        errors.append(FieldError(path, "Enter text."))
    elif len(value) > L.TEXT_MAX:
        errors.append(FieldError(path, f"At most {L.TEXT_MAX} characters."))
    elif message := control_character_error(value, single_line):
        errors.append(FieldError(path, message))


def tags_error(value: Any) -> str | None:
    """What is wrong with a tags field (already normalized: text.normalize_tags), or None."""
    if not isinstance(value, str):
        return "Enter tags as words."
    tags = value.split(" ") if value else []
    if value != " ".join(sorted(set(tags))):
        return "Tags are lower-case words, one space apart, each once, in order."
    if len(tags) > L.TAGS_MAX:
        return f"At most {L.TAGS_MAX} tags ({len(tags)} given)."
    for tag in tags:
        if len(tag) > L.TAG_MAX or not L.TAG_RE.match(tag):
            return (f"“{tag[:40]}”: a tag is a word of at most {L.TAG_MAX} letters, digits, "
                    "- or _.")
    return None


def _tags(errors: list[FieldError], value: Any) -> None:
    if message := tags_error(value):
        errors.append(FieldError("tags", message))


def validate_zone(zone: Zone, zone_count: int, path: str = "zone") -> list[FieldError]:
    e: list[FieldError] = []
    if _int(e, f"{path}.number", zone.number, 1, max(1, zone_count)):
        pass
    elif isinstance(zone.number, int) and zone.number > zone_count:
        e[-1] = FieldError(
            f"{path}.number",
            f"Zone {zone.number} does not exist: this controller has {zone_count} zones.",
        )
    _name(e, f"{path}.name", zone.name, "zone")
    _int(e, f"{path}.run_minutes", zone.run_minutes, L.RUN_MINUTES_MIN, L.RUN_MINUTES_MAX, " min")
    if zone.cycle_minutes is not None:
        _int(e, f"{path}.cycle_minutes", zone.cycle_minutes, 1, L.CYCLE_MINUTES_MAX, " min")
    if zone.soak_minutes is not None:
        _int(e, f"{path}.soak_minutes", zone.soak_minutes, 1, L.SOAK_MINUTES_MAX, " min")
    if (zone.cycle_minutes is None) != (zone.soak_minutes is None):
        e.append(
            FieldError(f"{path}.soak_minutes", "Cycle-and-soak needs both a cycle and a soak time.")
        )
    _int(
        e,
        f"{path}.seasonal_adjust_pct",
        zone.seasonal_adjust_pct,
        L.SEASONAL_ADJUST_MIN,
        L.SEASONAL_ADJUST_MAX,
        " %",
    )
    if not isinstance(zone.enabled, bool):
        e.append(FieldError(f"{path}.enabled", "Must be yes or no."))
    if not isinstance(zone.master_valve, bool):
        e.append(FieldError(f"{path}.master_valve", "Must be yes or no."))
    if zone.suspended_until is not None and not isinstance(zone.suspended_until, date):
        e.append(FieldError(f"{path}.suspended_until", "Enter a date as YYYY-MM-DD."))
    return e


def validate_program(program: Program, zone_count: int, path: str = "program") -> list[FieldError]:
    e: list[FieldError] = []
    _name(e, f"{path}.name", program.name, "program")
    if not isinstance(program.id, str) or not 1 <= len(program.id) <= L.PROGRAM_ID_MAX:
        e.append(FieldError(f"{path}.id", f"A program id is 1 to {L.PROGRAM_ID_MAX} characters."))
    if program.schedule is ScheduleKind.WEEKDAYS:
        if not program.days:
            e.append(FieldError(f"{path}.days", "Pick at least one day of the week."))
        elif any(not isinstance(d, int) or not 0 <= d <= 6 for d in program.days):
            e.append(FieldError(f"{path}.days", "Days are 0 (Monday) to 6 (Sunday)."))
        elif len(set(program.days)) != len(program.days):
            e.append(FieldError(f"{path}.days", "A day is listed twice."))
    if program.schedule is ScheduleKind.INTERVAL:
        _int(
            e,
            f"{path}.interval_days",
            program.interval_days,
            L.INTERVAL_DAYS_MIN,
            L.INTERVAL_DAYS_MAX,
            " days",
        )
    starts = program.start_times
    if not starts:
        e.append(FieldError(f"{path}.start_times", "Give at least one start time."))
    # Every problem at once: a wrong time is not left for after the count is fixed.
    if len(starts) > L.START_TIMES_MAX:
        e.append(FieldError(f"{path}.start_times",
                            f"At most {L.START_TIMES_MAX} start times a program ({len(starts)} "
                            "given)."))
    bad = [str(s) for s in starts if not isinstance(s, str) or not L.START_TIME_RE.match(s)]
    if bad:
        e.append(FieldError(f"{path}.start_times",
                            f"Start times are HH:MM, 00:00–23:59 ({', '.join(bad[:4])})."))
    elif len(set(starts)) != len(starts):
        e.append(FieldError(f"{path}.start_times", "A start time is listed twice."))
    for zone, minutes in program.zone_minutes.items():
        zpath = f"{path}.zone_minutes.{zone}"
        if not isinstance(zone, int) or not 1 <= zone <= zone_count:
            e.append(
                FieldError(zpath, f"Zone {zone} does not exist: this controller has {zone_count}.")
            )
            continue
        _int(e, zpath, minutes, L.RUN_MINUTES_MIN, L.RUN_MINUTES_MAX, " min")
    return e


def validate_config(config: ControllerConfig, zone_count: int) -> list[FieldError]:
    e: list[FieldError] = []
    seen: set[int] = set()
    for z in config.zones:
        path = f"zones.{z.number}"
        if z.number in seen:
            e.append(FieldError(f"{path}.number", f"Zone {z.number} is listed twice."))
        seen.add(z.number)
        e += validate_zone(z, zone_count, path)
    if len(config.programs) > L.PROGRAMS_MAX:
        e.append(FieldError("programs", f"At most {L.PROGRAMS_MAX} programs."))
    for i, p in enumerate(config.programs):
        e += validate_program(p, zone_count, f"programs.{i}")
    if config.rain_delay_until is not None and not isinstance(config.rain_delay_until, datetime):
        e.append(FieldError("rain_delay_until", "Enter a date and time."))
    return e


def validate_config_change(before: ControllerConfig, after: ControllerConfig,
                           zone_count: int) -> list[FieldError]:
    """`validate_config` of the parts of `after` that are not `before`'s own (the same
    objects): what an edit brings is checked, what the record already had is not checked again
    (a rain delay on 5,000 controllers checked ~70,000 unchanged zones and programs, a third
    of applying it). A whole new list of zones or programs is checked whole."""
    if after.zones is before.zones and after.programs is before.programs:
        return validate_config(ControllerConfig(rain_delay_until=after.rain_delay_until),
                               zone_count)
    return validate_config(after, zone_count)


def validate_controller(c: Controller) -> list[FieldError]:
    e: list[FieldError] = []
    _name(e, "name", c.name, "controller")
    if not isinstance(c.customer_id, str) or not c.customer_id:
        e.append(FieldError("customer_id", "Choose the customer this controller belongs to."))
    if not isinstance(c.model, str) or not c.model.strip() or len(c.model) > L.NAME_MAX:
        e.append(FieldError("model", f"Enter the model (1–{L.NAME_MAX} characters)."))
    elif message := control_character_error(c.model):
        e.append(FieldError("model", message))
    zone_error = zone_count_error(c.zone_count)
    e += [zone_error] if zone_error else []
    if c.serial is not None:
        if not isinstance(c.serial, str):
            e.append(FieldError("serial", "Enter the serial number as text."))
        elif msg := serial_error(c.serial):
            e.append(FieldError("serial", msg))
        elif c.serial != normalize_serial(c.serial):
            e.append(FieldError("serial", "Serial numbers are upper case with no spaces."))
    if not isinstance(c.timezone, str) or c.timezone not in _timezones():
        e.append(FieldError("timezone", "Use a time zone name such as Europe/Paris or UTC."))
    _text(e, "location", c.location)
    _text(e, "notes", c.notes)
    _tags(e, c.tags)
    if zone_error is None:
        e += validate_config(c.config, c.zone_count)
    return e


def validate_customer(c: Customer) -> list[FieldError]:
    e: list[FieldError] = []
    _name(e, "name", c.name, "customer")
    if c.email and (not L.EMAIL_RE.match(c.email) or control_character_error(c.email)):
        e.append(FieldError("email", "That does not look like an e-mail address."))
    before = len(e)
    _text(e, "phone", c.phone, single_line=True)
    if len(e) == before and c.phone.strip() and not L.PHONE_RE.match(c.phone.strip()):
        e.append(FieldError("phone", "A phone number has digits, e.g. +1 555-201-3344 or "
                            "(555) 201 3344 ext. 12."))
    _text(e, "address", c.address)
    _tags(e, c.tags)
    return e


def parse_controller(d: dict[str, Any]) -> Controller:
    """An untrusted dict as a valid Controller, or ValidationError with every problem."""
    return _parse(Controller.from_dict, validate_controller, d)


def parse_customer(d: dict[str, Any]) -> Customer:
    return _parse(Customer.from_dict, validate_customer, d)


def parse_config(d: dict[str, Any], zone_count: int) -> ControllerConfig:
    return _parse(ControllerConfig.from_dict, lambda c: validate_config(c, zone_count), d)


def check(errors: list[FieldError]) -> None:
    """Raise ValidationError if there is anything in `errors`."""
    if errors:
        raise ValidationError(errors)


def _parse(make, validate, d):
    if not isinstance(d, dict):
        raise ValidationError([FieldError("", "Expected a table of fields.")])
    try:
        record = make(d)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise ValidationError([FieldError(_field_of(exc), _readable(exc))]) from exc
    check(validate(record))
    return record


def _field_of(exc: Exception) -> str:
    return str(exc.args[0]).strip("'") if isinstance(exc, KeyError) else ""


def _readable(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return "This field is required."
    return f"Could not read this: {exc}"


def timezone_names() -> set[str]:
    """The time zone names a controller may have."""
    return _timezones()


def _timezones() -> set[str]:
    global _TIMEZONES
    if _TIMEZONES is None:  # read once, on first use (it scans the tz database)
        from zoneinfo import available_timezones

        _TIMEZONES = available_timezones() | {"UTC"}
    return _TIMEZONES


# The field checks above, for the validators of other record kinds (documents.py's kinds):
# the same messages for a name, a whole number or a text wherever it is typed.
check_name = _name
check_int = _int
check_text = _text
