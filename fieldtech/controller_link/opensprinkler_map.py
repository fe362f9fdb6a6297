"""OpenSprinkler stations and programs ↔ our Zone and Program, losing nothing on the way back.

Reading keeps every original program array; writing starts from that array and changes only
what our model holds, so a program's weather flag, date range, odd seconds in a duration and
stations beyond the record's zone count survive a push. Programs our model cannot express
(monthly, single-run, sunrise-relative or repeating start times) are left on the device
untouched and reported in the notes, and so are programs with values the record cannot
hold (an interval of 1 or 45 days, no start time). A duration the record cannot hold
(sunrise to sunset, over 12 h) stays on the device while the record leaves that zone at 0.

The firmware stores no program identity: a program read here gets an id from its content, so
the same array keeps its id however other programs move; pushes pair the record's programs
with these by id, then by name (domain.pairing), never by position.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fieldtech.controller_link import parse
from fieldtech.controller_link.errors import ProtocolError
from fieldtech.domain import limits
from fieldtech.domain.models import ControllerConfig, Program, ScheduleKind, Zone
from fieldtech.domain.validation import validate_program

# Flag bits of a program array (OPENSPRINKLER.md, "Reading").
ENABLED, WEATHER, FIXED_STARTS, DATE_RANGE = 1 << 0, 1 << 1, 1 << 6, 1 << 7
TYPE_WEEKLY, TYPE_SINGLE, TYPE_MONTHLY, TYPE_INTERVAL = 0, 1, 2, 3
RESTRICT_NONE, RESTRICT_ODD, RESTRICT_EVEN = 0, 1, 2
ALL_DAYS = 0x7F
START_UNUSED = -1
SUN_RELATIVE = (1 << 14) | (1 << 13)  # sunrise/sunset-relative start times
SUN_DURATIONS = (65534, 65535)  # "sunrise to sunset" and "sunset to sunrise"
NAME_BYTES = 32  # names are cut at 32 bytes, even inside a character
DEFAULT_RANGE = (33, 415)  # from/to as month*32+day: Jan 1 – Dec 31, the firmware's default

UNSUPPORTED = frozenset(
    {
        "zone.run_minutes",
        "zone.cycle_minutes",
        "zone.soak_minutes",
        "zone.seasonal_adjust_pct",
        "zone.suspended_until",
    }
)


@dataclass(frozen=True)
class ProgramEntry:
    """One `pd` array as read, with its position and what it maps to (None: can't map)."""

    pid: int
    raw: list[Any]
    program: Program | None
    reason: str = ""


def bit(fields: list[int], index: int) -> bool:
    board, offset = divmod(index, 8)
    return board < len(fields) and bool(fields[board] >> offset & 1)


def set_bit(fields: list[int], index: int, on: bool) -> None:
    board, offset = divmod(index, 8)
    while len(fields) <= board:
        fields.append(0)
    fields[board] = fields[board] | (1 << offset) if on else fields[board] & ~(1 << offset)


def zones_from_stations(stations: dict[str, Any], address: str | None) -> list[Zone]:
    names = stations.get("snames")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ProtocolError("The OpenSprinkler sent its station names in an unexpected form.",
                            address=address)
    disabled = parse.int_list(stations.get("stn_dis", []), "disabled stations", address)
    master = parse.int_list(stations.get("masop", []), "master valve stations", address)
    return [
        Zone(number=sid + 1, name=name or f"S{sid + 1:02d}", enabled=not bit(disabled, sid),
             master_valve=bit(master, sid))
        for sid, name in enumerate(names)
    ]


def program_entries(pd: Any, address: str | None) -> list[ProgramEntry]:
    if not isinstance(pd, list):
        raise ProtocolError("The OpenSprinkler sent its programs in an unexpected form.",
                            address=address)
    entries = []
    seen: dict[str, int] = {}
    for pid, raw in enumerate(pd):
        _check_entry(raw, pid, address)
        program, reason = program_from_entry(raw)
        if program is not None:
            program.id = _content_id(raw, seen)
        entries.append(ProgramEntry(pid, raw, program, reason))
    return entries


def _content_id(raw: list[Any], seen: dict[str, int]) -> str:
    """An id from the program's whole array: unchanged when other programs move or go."""
    digest = hashlib.sha1(json.dumps(raw).encode()).hexdigest()[:12]
    seen[digest] = seen.get(digest, 0) + 1
    return f"os-{digest}" + (f"-{seen[digest]}" if seen[digest] > 1 else "")


def _check_entry(raw: Any, pid: int, address: str | None) -> None:
    ok = (
        isinstance(raw, list) and len(raw) >= 6
        and all(isinstance(x, int) and not isinstance(x, bool) for x in raw[:3])
        and isinstance(raw[3], list) and isinstance(raw[4], list)
        and all(isinstance(x, int) and not isinstance(x, bool) for x in raw[3] + raw[4])
        and isinstance(raw[5], str)
        and (len(raw) < 7 or _date_range(raw) is not None)
    )
    if not ok:
        raise ProtocolError(f"The OpenSprinkler's program {pid + 1} is in an unexpected form.",
                            address=address)


def _date_range(raw: list[Any]) -> tuple[int, int] | None:
    """(from, to) of a program array: 2.2.1 sends `[enabled, from, to]`, older ones `[from, to]`."""
    item = raw[6]
    if not isinstance(item, list) or len(item) not in (2, 3):
        return None
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in item):
        return None
    return item[-2], item[-1]


def hidden_duration(seconds: int) -> bool:
    """A station duration the record cannot hold: kept on the device, 0 in the record."""
    return seconds in SUN_DURATIONS or seconds > limits.RUN_MINUTES_MAX * 60


def program_from_entry(raw: list[Any]) -> tuple[Program | None, str]:
    flag, days0, days1, starts, durations, name = raw[:6]
    kind, restrict = (flag >> 4) & 3, (flag >> 2) & 3
    if kind == TYPE_WEEKLY:
        if restrict == RESTRICT_NONE:
            schedule, days = ScheduleKind.WEEKDAYS, [d for d in range(7) if days0 >> d & 1]
        elif days0 & ALL_DAYS == ALL_DAYS and restrict in (RESTRICT_ODD, RESTRICT_EVEN):
            schedule = ScheduleKind.ODD if restrict == RESTRICT_ODD else ScheduleKind.EVEN
            days = []
        else:
            return None, "combines week days with an odd/even rule"
    elif kind == TYPE_INTERVAL and restrict == RESTRICT_NONE:
        schedule, days = ScheduleKind.INTERVAL, []
    else:
        return None, {TYPE_SINGLE: "runs once on a date", TYPE_MONTHLY: "runs monthly"}.get(
            kind, "uses an odd/even rule with an interval")
    if flag & FIXED_STARTS:
        values = [s for s in starts if s >= 0]
    elif len(starts) >= 2 and starts[1] == 0 and starts[0] >= 0:
        values = [starts[0]]  # a "repeating" start that repeats 0 times is one start time
    else:
        return None, "repeats its start time through the day"
    if any(v & SUN_RELATIVE or v >= 24 * 60 for v in values):
        return None, "starts relative to sunrise or sunset"
    if not values:
        return None, "has no start time"
    if schedule is ScheduleKind.INTERVAL and not (
            limits.INTERVAL_DAYS_MIN <= days1 <= limits.INTERVAL_DAYS_MAX):
        return None, f"runs every {days1} days (fieldtech allows " \
            f"{limits.INTERVAL_DAYS_MIN}–{limits.INTERVAL_DAYS_MAX})"
    program = Program(
        name=name,
        enabled=bool(flag & ENABLED),
        schedule=schedule,
        days=days if schedule is ScheduleKind.WEEKDAYS else [],
        interval_days=days1 if schedule is ScheduleKind.INTERVAL else 2,
        start_times=[f"{v // 60:02d}:{v % 60:02d}" for v in values],
        zone_minutes={sid + 1: round(d / 60) for sid, d in enumerate(durations)
                      if d > 0 and not hidden_duration(d)},
    )
    # anything else the record refuses stays on the device rather than failing every push
    problems = validate_program(program, max(1, len(durations)))
    if problems:
        return None, f"holds a value fieldtech cannot keep ({problems[0].message})"
    return program, ""


def entry_from_program(program: Program, original: list[Any] | None,
                       nstations: int, zone_numbers: set[int]) -> dict[str, Any]:
    """The `/cp` parameters (`v`, `name`, maybe `from`/`to`) for `program`.

    `original` is the array it replaces (None for a new one): its weather flag, date range,
    interval remainder, and the durations of stations our record does not have are kept.
    """
    old_flag = original[0] if original else 0
    kind, restrict, days0, days1 = TYPE_WEEKLY, RESTRICT_NONE, 0, 0
    if program.schedule is ScheduleKind.WEEKDAYS:
        days0 = sum(1 << d for d in set(program.days))
    elif program.schedule in (ScheduleKind.ODD, ScheduleKind.EVEN):
        days0 = ALL_DAYS
        restrict = RESTRICT_ODD if program.schedule is ScheduleKind.ODD else RESTRICT_EVEN
    else:
        kind, days1 = TYPE_INTERVAL, program.interval_days
        same = original and (original[0] >> 4) & 3 == TYPE_INTERVAL and original[2] == days1
        days0 = original[1] % days1 if same and original and days1 > 0 else 0
    flag = (old_flag & (WEATHER | DATE_RANGE)) | FIXED_STARTS | restrict << 2 | kind << 4
    flag |= ENABLED if program.enabled else 0
    starts = [int(t[:2]) * 60 + int(t[3:]) for t in program.start_times]
    starts = (starts + [START_UNUSED] * 4)[:4]
    old_durations = list(original[4]) if original else []
    durations = []
    for sid in range(nstations):
        old = old_durations[sid] if sid < len(old_durations) else 0
        if sid + 1 not in zone_numbers:
            durations.append(old)  # a station the record does not know: leave it be
            continue
        minutes = program.zone_minutes.get(sid + 1, 0)
        if minutes == 0 and hidden_duration(old):
            durations.append(old)  # sunrise to sunset, or over 12 h: the record shows 0
            continue
        durations.append(old if old and round(old / 60) == minutes else minutes * 60)
    params: dict[str, Any] = {"v": [flag, days0, days1, starts, durations],
                              "name": fit_name(program.name)}
    # without from/to the firmware resets the range to Jan 1 – Dec 31, still switched on
    date_range = _date_range(original) if original and len(original) > 6 else None
    params["from"], params["to"] = date_range or DEFAULT_RANGE
    return params


def fit_name(name: str) -> str:
    """The name as the firmware will store it: `"` → `'`, `\\` → `/`, at most 32 bytes.

    The firmware cuts at 32 bytes even inside a character, which leaves its JSON invalid
    UTF-8; cutting here at a character boundary is what it can hold intact.
    """
    name = name.replace('"', "'").replace("\\", "/")
    raw = name.encode()[:NAME_BYTES]
    return raw.decode("utf-8", errors="ignore")


def rain_delay_until(settings: dict[str, Any], address: str | None) -> datetime | None:
    """`rdst` is device-local epoch seconds: convert through `devt`, the device's own clock."""
    if not parse.integer(settings, "rd", address, 0):
        return None
    end = parse.integer(settings, "rdst", address, 0)
    now_local = parse.integer(settings, "devt", address)
    moment = datetime.now(UTC) + timedelta(seconds=end - now_local)
    return moment.replace(microsecond=0)


def rain_delay_hours(until: datetime | None) -> int:
    if until is None:
        return 0
    left = (until - datetime.now(UTC)).total_seconds()
    return max(0, math.ceil(left / 3600))


def config_from_ja(ja: dict[str, Any], address: str | None
                   ) -> tuple[ControllerConfig, list[ProgramEntry], list[str]]:
    stations = parse.obj(ja.get("stations"), "its stations", address)
    programs = parse.obj(ja.get("programs"), "its programs", address)
    settings = parse.obj(ja.get("settings"), "its settings", address)
    entries = program_entries(programs.get("pd"), address)
    notes = [
        f"Program {e.pid + 1} '{e.raw[5]}' {e.reason}: fieldtech cannot show it, so it is "
        "kept on the controller as it is."
        for e in entries if e.program is None
    ]
    config = ControllerConfig(
        zones=zones_from_stations(stations, address),
        # copies: a caller editing the config must not edit what apply compares against
        programs=[Program.from_dict(e.program.to_dict()) for e in entries if e.program],
        rain_delay_until=rain_delay_until(settings, address),
    )
    return config, entries, notes
