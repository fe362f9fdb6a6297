"""What a change of configuration does, in a technician's words: "zone 3 name: “A” → “B”".

Read from the JSON-ready dicts (`ControllerConfig.to_dict`), so the outbox's stored edits and
records in memory are described alike: before an overwrite is confirmed (a template, a copy,
fewer zones) and in the pending list.
"""

from __future__ import annotations

from typing import Any

from fieldtech.domain.models import WEEKDAY_NAMES

_ZONE_WORDS = {"name": "name", "enabled": "on", "run_minutes": "minutes",
               "cycle_minutes": "cycle", "soak_minutes": "soak", "master_valve": "master valve",
               "seasonal_adjust_pct": "adjust %", "suspended_until": "suspended until"}
_PROGRAM_WORDS = {"name": "name", "enabled": "on", "schedule": "schedule", "days": "days",
                  "interval_days": "every N days", "start_times": "starts",
                  "zone_minutes": "zone minutes"}


def config_changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[str]:
    """One line per change from `before` to `after` (configuration dicts), in order: zones,
    programs, rain delay. `before` None: nothing to compare with (a new controller)."""
    if before is None:
        zones = len(after.get("zones") or [])
        programs = len(after.get("programs") or [])
        return [f"{zones} zones, {programs} programs"]
    lines = _zone_changes(before.get("zones") or [], after.get("zones") or [])
    lines += _program_changes(before.get("programs") or [], after.get("programs") or [])
    if before.get("rain_delay_until") != after.get("rain_delay_until"):
        lines.append(f"rain delay: {_shown(before.get('rain_delay_until'), 'none')} → "
                     f"{_shown(after.get('rain_delay_until'), 'none')}")
    return lines


def summary(lines: list[str], most: int = 6) -> str:
    """The lines as a list a dialog shows; the rest counted, not dropped."""
    shown = [f"• {line}" for line in lines[:most]]
    if len(lines) > most:
        shown.append(f"• … and {len(lines) - most} more")
    return "\n".join(shown)


def _zone_changes(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[str]:
    old = {z.get("number"): z for z in before}
    new = {z.get("number"): z for z in after}
    lines: list[str] = []
    for number in sorted(n for n in new if n in old):
        for key, word in _ZONE_WORDS.items():
            if old[number].get(key) != new[number].get(key):
                lines.append(f"zone {number} {word}: {_shown(old[number].get(key))} → "
                             f"{_shown(new[number].get(key))}")
    if gone := sorted(n for n in old if n not in new):
        lines.append(f"{_numbers('zone', gone)} removed")
    if added := sorted(n for n in new if n not in old):
        lines.append(f"{_numbers('zone', added)} added")
    return lines


def _program_changes(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[str]:
    old = {p.get("id") or p.get("name"): p for p in before}
    new = {p.get("id") or p.get("name"): p for p in after}
    lines: list[str] = []
    for key, program in new.items():
        if key not in old:
            lines.append(f"program “{program.get('name')}” added")
            continue
        name = old[key].get("name")
        for field, word in _PROGRAM_WORDS.items():
            was, now = old[key].get(field), program.get(field)
            if was != now:
                if field == "days":
                    was, now = _days(was), _days(now)
                lines.append(f"program “{name}” {word}: {_shown(was)} → {_shown(now)}")
    lines += [f"program “{p.get('name')}” removed" for k, p in old.items() if k not in new]
    return lines


def _numbers(what: str, numbers: list[int]) -> str:
    """"zone 4", or "zones 5–12" for a run, or "zones 2, 5, 7"."""
    if len(numbers) == 1:
        return f"{what} {numbers[0]}"
    if numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"{what}s {numbers[0]}–{numbers[-1]}"
    return f"{what}s " + ", ".join(str(n) for n in numbers)


def _days(days: Any) -> Any:
    if isinstance(days, list) and all(isinstance(d, int) and 0 <= d <= 6 for d in days):
        return " ".join(WEEKDAY_NAMES[d] for d in sorted(days)) or "none"
    return days


def _shown(value: Any, empty: str = "—") -> str:
    if value is None or value == "" or value == [] or value == {}:
        return empty
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return f"“{value}”" if not value[:1].isdigit() else value
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items())
    return str(value)
