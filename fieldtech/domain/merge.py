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
    flat: dict[str, Any] = {"rain_delay_until": config.get("rain_delay_until")}
    for zone in config.get("zones") or []:
        for key, value in zone.items():
            if key != "number":
                flat[f"zones.{zone['number']}.{key}"] = value
    for i, program in enumerate(config.get("programs") or []):
        flat[f"programs.{i}"] = program
    return flat


def unflatten_config(flat: dict[str, Any]) -> dict[str, Any]:
    zones: dict[int, dict[str, Any]] = {}
    programs: dict[int, Any] = {}
    for path, value in flat.items():
        part = path.split(".")
        if part[0] == "zones":
            zones.setdefault(int(part[1]), {"number": int(part[1])})[part[2]] = value
        elif part[0] == "programs":
            programs[int(part[1])] = value
    return {
        "zones": [zones[n] for n in sorted(zones)],
        "programs": [programs[i] for i in sorted(programs)],
        "rain_delay_until": flat.get("rain_delay_until"),
    }


def merge_config(
    base: dict[str, Any] | None, theirs: dict[str, Any], mine: dict[str, Any]
) -> Merge:
    """Three-way merge of configuration documents; `merged` is a whole document again."""
    result = three_way(
        flatten_config(canonical_config(base)) if base is not None else None,
        flatten_config(canonical_config(theirs)),
        flatten_config(canonical_config(mine)),
    )
    return Merge(unflatten_config(result.merged), result.conflicts)


def describe_path(path: str) -> str:
    """A field path in the technician's words: "zones.3.run_minutes" → "zone 3 run minutes"."""
    part = path.split(".")
    if part[0] == "zones" and len(part) == 3:
        return f"zone {part[1]} {part[2].replace('_', ' ')}"
    if part[0] == "programs" and len(part) == 2:
        return f"program {int(part[1]) + 1}"
    return path.replace("_", " ")


def value_at(record: dict[str, Any], path: str, config: bool) -> Any:
    """The value a conflict shows for one side (None when the side has no such field)."""
    flat = flatten_config(canonical_config(record)) if config else record
    return flat.get(path)
