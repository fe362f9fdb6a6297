"""A controller's configuration as a TOML file (export, import, templates), with validation."""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import fields
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import tomli_w

from fieldtech.domain.errors import FieldError, ValidationError
from fieldtech.domain.models import Controller, ControllerConfig, Program, ScheduleKind, Zone
from fieldtech.domain.text import natural_key
from fieldtech.domain.validation import check, parse_config

FORMAT = "fieldtech-controller-config"
VERSION = 1


def to_toml(controller: Controller, template: bool = False) -> str:
    """The controller's configuration as a file; a `template` carries configuration only
    (no rain delay or zone suspension in force)."""
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "controller": {
            "name": controller.name,
            "model": controller.model,
            "zone_count": controller.zone_count,
            "timezone": controller.timezone,
        },
    }
    config = (controller.config.configuration_only() if template else controller.config).to_dict()
    doc["config"] = _drop_none(config)
    return tomli_w.dumps(doc)


def export_controller(controller: Controller, path: Path, template: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_toml(controller, template), encoding="utf-8")
    return path


def resolve_file(typed: str, folder: Path) -> Path:
    """Where a typed file goes: a bare name ("Residential 4 zone") in `folder`, with `.toml`
    added; a path (with a folder in it, or ~) exactly as typed."""
    text = typed.strip()
    if "/" in text or text.startswith("~") or (os.sep != "/" and os.sep in text):
        return Path(text).expanduser()
    return folder / (text if text.lower().endswith(".toml") else f"{text}.toml")


def read_config(path: Path, zone_count: int) -> ControllerConfig:
    """The configuration in a TOML file, validated for a controller with `zone_count` zones.

    Raises ValidationError (with every problem, each at its field) or OSError; never returns
    half a config, and no malformed value gets past as another exception.
    """
    if path.is_dir():
        raise ValidationError([FieldError("file", f"{path} is a folder. {_pick_a_file(path)}")])
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        hint = _pick_a_file(path.parent if path.parent.is_dir() else None)
        raise ValidationError([FieldError("file", f"There is no file {path}. {hint}")]) from None
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path.name} is not valid TOML: {exc}"
        raise ValidationError([FieldError("file", msg)]) from exc
    except UnicodeDecodeError:
        raise ValidationError([FieldError("file", f"{path.name} is not a text file.")]) from None
    if doc.get("format") != FORMAT:
        raise ValidationError(
            [FieldError("file", f"{path.name} is not a fieldtech controller configuration.")]
        )
    version = doc.get("version", 0)
    if not _is_int(version):
        raise ValidationError([FieldError(
            "version", f"The file's version should be a whole number such as {VERSION} "
            f"({_shown(version)} given).")])
    if version > VERSION:
        raise ValidationError(
            [FieldError("file", f"{path.name} was written by a newer fieldtech; upgrade.")]
        )
    config = doc.get("config")
    if not isinstance(config, dict):
        raise ValidationError([FieldError("config", "The file has no [config] table.")])
    check(_shape_errors(config))
    try:
        return parse_config(_plain_dates(config), zone_count)
    except ValidationError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
        # _shape_errors should have said it at its field; never let it escape as a crash.
        raise ValidationError([FieldError("config", f"Could not read this file: {exc}")]) from exc


def newest(directory: Path) -> Path | None:
    """The most recently written .toml file in `directory`, if any."""
    try:
        found = [(p.stat().st_mtime, p) for p in directory.glob("*.toml") if p.is_file()]
    except OSError:
        return None
    return max(found)[1] if found else None


def _pick_a_file(directory: Path | None) -> str:
    latest = newest(directory) if directory else None
    hint = f", e.g. {latest}" if latest else ""
    return f"Type the path of a .toml file{hint}."


# -- what a hand-written file can get wrong before validation can even look at it ------------

_ZONE_FIELDS = frozenset(f.name for f in fields(Zone))
_PROGRAM_FIELDS = frozenset(f.name for f in fields(Program))
_CONFIG_FIELDS = frozenset(f.name for f in fields(ControllerConfig))
_SCHEDULES = ", ".join(kind.value for kind in ScheduleKind)
_DAYS = "Days are numbers from 0 (Monday) to 6 (Sunday)"


def _shape_errors(config: dict[str, Any]) -> list[FieldError]:
    """Every value the records could not even be built from, at its field, in plain words.

    Ranges and rules are the domain validation's job; this catches the wrong kinds of value
    (text for a number, a number for a list, an unknown key) that would otherwise surface as
    a Python error without a field."""
    e: list[FieldError] = []
    _unknown(e, "", config, _CONFIG_FIELDS)
    zones = _list(e, "zones", config.get("zones"), "[[config.zones]] tables")
    if not zones and isinstance(config.get("zones", []), list):
        e.append(FieldError("zones", "The file lists no zones: importing it would remove every "
                            "zone of this controller."))
    for i, zone in enumerate(zones):
        number = zone.get("number") if isinstance(zone, dict) else None
        path = f"zones.{number}" if _is_int(number) else f"zones.#{i + 1}"
        if not isinstance(zone, dict):
            e.append(FieldError(path, "Each zone is a [[config.zones]] table."))
            continue
        _unknown(e, path, zone, _ZONE_FIELDS)
        _required(e, path, zone, ("number", "name"))
        if "number" in zone and not _is_int(number):
            e.append(FieldError(f"{path}.number",
                                f"Enter a whole number ({_shown(number)} given)."))
        until = zone.get("suspended_until")
        if until and not _is_date(until):
            e.append(FieldError(f"{path}.suspended_until",
                                f"Enter a date as YYYY-MM-DD ({_shown(until)} given)."))
    for i, program in enumerate(
            _list(e, "programs", config.get("programs"), "[[config.programs]] tables")):
        path = f"programs.{i}"
        if not isinstance(program, dict):
            e.append(FieldError(path, "Each program is a [[config.programs]] table."))
            continue
        _unknown(e, path, program, _PROGRAM_FIELDS)
        _required(e, path, program, ("name",))
        _program_shape(e, path, program)
    rain = config.get("rain_delay_until")
    if rain and not _is_aware_datetime(rain):
        e.append(FieldError("rain_delay_until", "Enter a date and time with its offset from "
                            f"UTC, e.g. 2025-06-01T08:00:00+02:00 ({_shown(rain)} given)."))
    return e


def _program_shape(e: list[FieldError], path: str, program: dict[str, Any]) -> None:
    schedule = program.get("schedule", ScheduleKind.WEEKDAYS.value)
    if schedule not in [kind.value for kind in ScheduleKind]:  # a list: the value may be a table
        e.append(FieldError(f"{path}.schedule",
                            f"The schedule is one of {_SCHEDULES} ({_shown(schedule)} given)."))
    if "enabled" in program and not isinstance(program["enabled"], bool):
        e.append(FieldError(f"{path}.enabled", "Must be true or false."))
    if "interval_days" in program and not _is_int(program["interval_days"]):
        e.append(FieldError(f"{path}.interval_days", "Enter a whole number of days."))
    days = _list(e, f"{path}.days", program.get("days"), "day numbers, e.g. [0, 2, 4]")
    if bad := [d for d in days if not _is_int(d)]:
        e.append(FieldError(f"{path}.days", f"{_DAYS}; {_shown(bad[0])} is not one."))
    starts = _list(e, f"{path}.start_times", program.get("start_times"),
                   'times, e.g. ["06:00"]')
    if bad := [s for s in starts if not isinstance(s, str)]:
        e.append(FieldError(f"{path}.start_times",
                            f'Start times are text such as "06:00" ({_shown(bad[0])} given).'))
    minutes = program.get("zone_minutes", {})
    if not isinstance(minutes, dict):
        e.append(FieldError(f"{path}.zone_minutes",
                            'Give minutes per zone as a table, e.g. { "1" = 10, "2" = 15 }.'))
        return
    for zone, value in minutes.items():
        zpath = f"{path}.zone_minutes.{zone}"
        if not str(zone).strip().isdecimal():
            e.append(FieldError(zpath, f"Zones are numbered 1, 2, 3… ({_shown(zone)} given)."))
        elif not _is_int(value):
            e.append(FieldError(zpath, f"Enter a whole number of minutes ({_shown(value)} given)."))


def _list(e: list[FieldError], path: str, value: Any, of_what: str) -> list[Any]:
    """`value` if it is a list (absent is an empty one); otherwise an error and nothing."""
    if value is None:
        return []
    if not isinstance(value, list):
        e.append(FieldError(path, f"Expected a list of {of_what} ({_shown(value)} given)."))
        return []
    return value


def _unknown(e: list[FieldError], path: str, table: dict[str, Any], known: frozenset[str]) -> None:
    # A file from a newer fieldtech is refused by its version, so an unknown key here is a typo
    # whose value would otherwise be dropped without a word.
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            name = str(key) or '""'  # an empty key (`"" = 1`) still needs a place to point at
            where = f"{path}.{name}" if path else name
            e.append(FieldError(where, f"fieldtech does not know this field.{hint}"))


def _required(e: list[FieldError], path: str, table: dict[str, Any], keys: tuple[str, ...]) -> None:
    e.extend(FieldError(f"{path}.{key}", "This field is required.")
             for key in keys if key not in table)


def _shown(value: Any) -> str:
    text = value.isoformat() if isinstance(value, date | time) else repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_date(value: Any) -> bool:
    if isinstance(value, date) and not isinstance(value, datetime):
        return True
    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


def _is_aware_datetime(value: Any) -> bool:
    # Without an offset the rain delay could not be compared with the clock (and would crash
    # where it is); a bare TOML date or local date-time has none.
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return False
    return isinstance(value, datetime) and value.utcoffset() is not None


def _plain_dates(config: dict[str, Any]) -> dict[str, Any]:
    """TOML's own dates and times as the ISO text the records read (exports write text)."""
    rain = config.get("rain_delay_until")
    if isinstance(rain, datetime):
        return {**config, "rain_delay_until": rain.isoformat()}
    return config


def templates(directory: Path) -> list[Path]:
    """The templates in `directory`, in natural order of their names (2 before 10)."""
    found = directory.glob("*.toml") if directory.is_dir() else []
    return sorted(found, key=lambda p: natural_key(p.stem))


def _drop_none(value: Any) -> Any:
    # TOML has no null: an absent key reads back as None through the domain's defaults.
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value
