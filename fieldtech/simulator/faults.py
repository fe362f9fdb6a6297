"""The faults a controller reports to the cloud: their kinds (the wire contract's exact strings)
and the text a person reads. The simulator raises them on purpose (scenarios, tests, demos).
"""

from __future__ import annotations

from typing import Any

# kind -> (needs a zone, what a person reads; {zone} is filled in)
FAULT_KINDS: dict[str, tuple[bool, str]] = {
    "zone_no_current": (True, "Zone {zone}: no current (open circuit? check the valve wiring)"),
    "zone_short_circuit": (True, "Zone {zone}: short circuit (the zone was switched off)"),
    "flow_high": (True, "Zone {zone}: flow well above its usual (a leak or a broken head?)"),
    "flow_low": (True, "Zone {zone}: flow well below its usual (a clogged filter or valve?)"),
    "rain_sensor": (False, "Rain sensor: no reading (disconnected or broken)"),
    "master_valve_stuck": (False, "Master valve stuck open: water flows with every zone off"),
    "low_voltage": (False, "Low supply voltage: valves may not open (check the transformer)"),
}


class FaultError(ValueError):
    """A fault that cannot be raised as asked (unknown kind, a zone missing or out of range)."""


def make_fault(kind: str, zone: int | None = None, detail: str | None = None,
               zone_count: int = 200) -> dict[str, Any]:
    """The fault as the heartbeat carries it: {"kind", "zone", "detail"}. Raises FaultError."""
    if kind not in FAULT_KINDS:
        raise FaultError(f"Unknown fault {kind!r}: use one of {', '.join(FAULT_KINDS)}.")
    needs_zone, text = FAULT_KINDS[kind]
    if needs_zone:
        if isinstance(zone, bool) or not isinstance(zone, int) or not 1 <= zone <= zone_count:
            raise FaultError(f"Fault {kind} needs a zone from 1 to {zone_count}.")
    elif zone is not None:
        raise FaultError(f"Fault {kind} is for the whole controller: give no zone.")
    if detail is not None and not isinstance(detail, str):
        raise FaultError("A fault's detail is text.")
    return {"kind": kind, "zone": zone, "detail": detail or text.format(zone=zone)}


def same_fault(a: dict[str, Any], kind: str, zone: int | None) -> bool:
    return a.get("kind") == kind and a.get("zone") == zone
