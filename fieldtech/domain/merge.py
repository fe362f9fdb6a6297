"""Three-way merges of records, field by field: what sync does when the cloud changed too.

`base` is the record as last synced, `theirs` the cloud's copy now, `mine` the local one. A field
changed on one side only takes that side; changed on both sides to the same value is no conflict;
changed on both sides differently is a conflict the user settles (keep mine / take theirs).

A controller's configuration is merged below the document level: each zone field on its own
("zones.3.run_minutes"), each program as a whole ("programs.0"), and the rain delay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MISSING: Any = object()  # a field one side doesn't have (a zone added or removed)


@dataclass(frozen=True)
class Merge:
    merged: dict[str, Any]
    conflicts: tuple[str, ...]  # field paths changed on both sides differently

    @property
    def clean(self) -> bool:
        return not self.conflicts


def three_way(base: dict[str, Any] | None, theirs: dict[str, Any], mine: dict[str, Any]) -> Merge:
    """Merge flat records (field → value). No base (never synced): every difference conflicts."""
    base = base or {}
    merged: dict[str, Any] = {}
    conflicts = []
    for key in sorted(set(theirs) | set(mine) | set(base)):
        b, t, m = base.get(key, MISSING), theirs.get(key, MISSING), mine.get(key, MISSING)
        if _same(t, m) or _same(m, b):
            value = t
        elif _same(t, b):
            value = m
        else:
            conflicts.append(key)
            value = m  # mine stays until the user decides
        if value is not MISSING:
            merged[key] = value
    return Merge(merged, tuple(conflicts))


def _same(a: Any, b: Any) -> bool:
    return a is b if MISSING in (a, b) else a == b


# -- configuration documents -----------------------------------------------------------------


def canonical_config(config: dict[str, Any]) -> dict[str, Any]:
    """The config as JSON has it (string keys, ISO dates), so two copies compare equal."""
    from fieldtech.domain.models import ControllerConfig

    return json.loads(json.dumps(ControllerConfig.from_dict(config).to_dict()))


def flatten_config(config: dict[str, Any]) -> dict[str, Any]:
    """Field path → value. A program is one field keyed by its id ("programs.<id>"), so a
    program deleted or moved on one side never lands on another program's edit."""
    flat: dict[str, Any] = {"rain_delay_until": config.get("rain_delay_until")}
    for zone in config.get("zones") or []:
        for key, value in zone.items():
            if key != "number":
                flat[f"zones.{zone['number']}.{key}"] = value
    for i, program in enumerate(config.get("programs") or []):
        flat[f"programs.{program.get('id') or f'program-{i + 1}'}"] = program
    return flat


def program_order(*configs: dict[str, Any] | None) -> list[str]:
    """Program ids in the order the first config has them, then any others' new ones."""
    order: list[str] = []
    for config in configs:
        for i, program in enumerate((config or {}).get("programs") or []):
            key = program.get("id") or f"program-{i + 1}"
            if key not in order:
                order.append(key)
    return order


def unflatten_config(flat: dict[str, Any], order: list[str] | None = None) -> dict[str, Any]:
    """A whole document again; programs in `order` (ids), any others after them."""
    zones: dict[int, dict[str, Any]] = {}
    programs: dict[str, Any] = {}
    for path, value in flat.items():
        part = path.split(".")
        if part[0] == "zones":
            zones.setdefault(int(part[1]), {"number": int(part[1])})[part[2]] = value
        elif part[0] == "programs":
            programs[path.split(".", 1)[1]] = value
    ranked = [k for k in order or () if k in programs] + [
        k for k in programs if k not in (order or ())]
    return {
        "zones": [zones[n] for n in sorted(zones)],
        "programs": [programs[k] for k in ranked],
        "rain_delay_until": flat.get("rain_delay_until"),
    }


def merge_config(
    base: dict[str, Any] | None, theirs: dict[str, Any], mine: dict[str, Any]
) -> Merge:
    """Three-way merge of configuration documents; `merged` is a whole document again, its
    programs in my order (theirs' new ones after)."""
    sides = [canonical_config(x) if x is not None else None for x in (base, theirs, mine)]
    result = three_way(*(flatten_config(x) if x is not None else None for x in sides))
    return Merge(unflatten_config(result.merged, program_order(sides[2], sides[1])),
                 result.conflicts)


def describe_path(path: str) -> str:
    """A field path in the technician's words: "zones.3.run_minutes" → "zone 3 run minutes"."""
    part = path.split(".")
    if part[0] == "zones" and len(part) == 3:
        return f"zone {part[1]} {part[2].replace('_', ' ')}"
    if part[0] == "programs":
        key = path.split(".", 1)[1]
        number = key.removeprefix("program-")
        return f"program {number}" if number.isdigit() else f"program {key[:8]}"
    return path.replace("_", " ")


def value_at(record: dict[str, Any], path: str, config: bool) -> Any:
    """The value a conflict shows for one side (None when the side has no such field)."""
    flat = flatten_config(canonical_config(record)) if config else record
    return flat.get(path)
