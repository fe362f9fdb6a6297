"""The on-site workflow as services the TUI calls: match, bind, compare, pull, test zones.

Nothing here writes to the store or imports textual: the screens call these, show the
results, and write record changes through the offline store's outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from fieldtech.controller_link.errors import (
    BindError,
    LinkError,
    NotSupported,
    RecordAlreadyBound,
    SerialAlreadyBound,
)
from fieldtech.controller_link.link import ControllerLink, DeviceConfig, DeviceInfo
from fieldtech.controller_link.native import NativeLink
from fieldtech.controller_link.opensprinkler import DEFAULT_PASSWORD, OpenSprinklerLink
from fieldtech.domain.models import Controller, ControllerConfig, Program, ScheduleKind, Zone
from fieldtech.domain.pairing import pair_programs
from fieldtech.domain.validation import normalize_serial, serial_error

ZONE_FIELDS = ("name", "enabled", "run_minutes", "cycle_minutes", "soak_minutes",
               "master_valve", "seasonal_adjust_pct", "suspended_until")
FIELD_LABELS = {
    "name": "name", "enabled": "enabled", "run_minutes": "run time (min)",
    "cycle_minutes": "cycle (min)", "soak_minutes": "soak (min)", "master_valve": "master valve",
    "seasonal_adjust_pct": "seasonal adjust (%)", "suspended_until": "suspended until",
    "schedule": "schedule", "days": "days", "interval_days": "every (days)",
    "start_times": "start times",
}
RAIN_DELAY_TOLERANCE = timedelta(hours=1)  # OpenSprinkler keeps rain delays in whole hours


# --- opening a link ----------------------------------------------------------------------


def open_link(device: DeviceInfo, password: str = DEFAULT_PASSWORD,
              timeout: float = 5.0) -> ControllerLink:
    """The right driver for a found device (use it as `async with`)."""
    if device.driver == "native":
        if device.transport == "serial":
            return NativeLink.serial(device.address, timeout=min(timeout, 3.0))
        return NativeLink.http(device.address, timeout=timeout)
    if device.driver == "opensprinkler":
        return OpenSprinklerLink(device.address, password, timeout=timeout)
    raise NotSupported(
        "This device only takes Wi-Fi credentials over the cable (Improv). Set its Wi-Fi "
        "first, then find it on the network.",
        address=device.address,
    )


# --- matching and binding ------------------------------------------------------------------


def match_controller(device: DeviceInfo, controllers: Iterable[Controller]) -> Controller | None:
    """The controller record bound to this device's serial number, if any."""
    if not device.serial:
        return None
    serial = normalize_serial(device.serial)
    return next((c for c in controllers if c.serial and normalize_serial(c.serial) == serial),
                None)


@dataclass(frozen=True)
class FoundDevice:
    """A discovered device and the controller record it belongs to (None: not bound yet)."""

    device: DeviceInfo
    record: Controller | None

    def describe(self) -> str:
        where = f"controller '{self.record.name}'" if self.record else "no controller record"
        return f"{self.device.describe()} — {where}"


def match_devices(devices: Iterable[DeviceInfo],
                  controllers: Iterable[Controller]) -> list[FoundDevice]:
    """Each device with its record, matched by serial number (for the discovery list)."""
    records = list(controllers)
    return [FoundDevice(d, match_controller(d, records)) for d in devices]


@dataclass(frozen=True)
class Binding:
    controller: Controller  # the record with the device's serial (not yet saved)
    warnings: tuple[str, ...] = ()


def bind_serial(controller: Controller, device: DeviceInfo,
                others: Iterable[Controller] = (), replace_existing: bool = False) -> Binding:
    """`controller` bound to `device` (its serial assigned), or a BindError saying why not."""
    if not device.serial:
        raise BindError(
            "This device did not report a serial number. Identify it first (an OpenSprinkler "
            "needs its password for that).",
            address=device.address,
        )
    serial = normalize_serial(device.serial)
    if message := serial_error(serial):
        raise BindError(f"The device reports serial {serial!r}, which fieldtech cannot use. "
                        + message, address=device.address)
    holder = next((c for c in others if c.id != controller.id and c.serial
                   and normalize_serial(c.serial) == serial), None)
    if holder is not None:
        raise SerialAlreadyBound(
            f"Serial {serial} already belongs to controller '{holder.name}'. Unbind it there "
            "first, or pick that record.",
            address=device.address,
        )
    if controller.serial and normalize_serial(controller.serial) != serial and not replace_existing:
        raise RecordAlreadyBound(
            f"'{controller.name}' is bound to {controller.serial}. Binding {serial} replaces "
            "it: confirm to continue (e.g. the controller was swapped).",
            address=device.address,
        )
    warnings = []
    if device.zone_count and device.zone_count != controller.zone_count:
        warnings.append(f"The device has {device.zone_count} zones; the record has "
                        f"{controller.zone_count}.")
    return Binding(replace(controller, serial=serial), tuple(warnings))


# --- comparing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigDifference:
    """One thing that differs between the record and the device."""

    path: str  # "zones.3.name", "programs.0.zone_minutes.2", "rain_delay_until"
    label: str  # "Zone 3 name"
    record: Any  # None when only the device has it
    device: Any  # None when only the record has it
    whole: bool = False  # a zone or program that exists on one side only

    def sides(self) -> tuple[str, str]:
        """(record, controller) as the technician reads them, e.g. ("'Roses'", "none")."""
        if self.whole:
            return ("has it", "—") if self.device is None else ("—", "has it")
        return _show(self.record), _show(self.device)

    def describe(self) -> str:
        if self.whole:
            side = "in the record" if self.device is None else "on the controller"
            return f"{self.label}: only {side}"
        return f"{self.label}: {_show(self.record)} in the record, {_show(self.device)} on the " \
               "controller"


def diff_config(record: ControllerConfig,
                device: ControllerConfig | DeviceConfig) -> list[ConfigDifference]:
    """Every difference, per zone, program and field; fields the device cannot hold are skipped."""
    unsupported: frozenset[str] = frozenset()
    stored: Callable[[str], str] = str
    if isinstance(device, DeviceConfig):
        stored = device.stored_name or str
        unsupported, device = device.unsupported, device.config
    out: list[ConfigDifference] = []
    theirs = {z.number: z for z in device.zones}
    ours = {z.number: z for z in record.zones}
    for number in sorted(ours.keys() | theirs.keys()):
        mine, other = ours.get(number), theirs.get(number)
        label = f"Zone {number}"
        if mine is None or other is None:
            out.append(ConfigDifference(f"zones.{number}", label, _zone_text(mine),
                                        _zone_text(other), whole=True))
            continue
        for name in ZONE_FIELDS:
            if f"zone.{name}" in unsupported:
                continue
            a, b = getattr(mine, name), getattr(other, name)
            if a != b and not (name == "name" and stored(a) == b):
                out.append(ConfigDifference(f"zones.{number}.{name}",
                                            f"{label} {FIELD_LABELS[name]}", a, b))
    for i, j in pair_programs(record.programs, device.programs, stored):
        mine_p = record.programs[i] if i is not None else None
        other_p = device.programs[j] if j is not None else None
        out += _diff_program(j if i is None else i, mine_p, other_p, stored)
    a_rd, b_rd = record.rain_delay_until, device.rain_delay_until
    if (a_rd is None) != (b_rd is None) or (
        a_rd and b_rd and abs(a_rd - b_rd) > RAIN_DELAY_TOLERANCE
    ):
        out.append(ConfigDifference("rain_delay_until", "Rain delay until", a_rd, b_rd))
    return out


def _diff_program(i: int, mine: Program | None, other: Program | None,
                  stored: Callable[[str], str] = str) -> list[ConfigDifference]:
    path = f"programs.{i}"
    if mine is None or other is None:
        label = f"Program {i + 1} '{(mine or other).name}'"  # type: ignore[union-attr]
        return [ConfigDifference(path, label, mine and mine.name, other and other.name,
                                 whole=True)]
    label = f"Program {i + 1} '{mine.name}'"
    out = []
    fields = ["name", "enabled", "schedule", "start_times"]
    if mine.schedule is ScheduleKind.WEEKDAYS:
        fields.append("days")
    if mine.schedule is ScheduleKind.INTERVAL:
        fields.append("interval_days")
    for name in fields:
        a, b = getattr(mine, name), getattr(other, name)
        if name in ("days", "start_times"):
            a, b = sorted(a), sorted(b)
        if a != b and not (name == "name" and stored(a) == b):
            out.append(ConfigDifference(f"{path}.{name}", f"{label} {FIELD_LABELS[name]}", a, b))
    for zone in sorted(mine.zone_minutes.keys() | other.zone_minutes.keys()):
        a, b = mine.zone_minutes.get(zone, 0), other.zone_minutes.get(zone, 0)
        if a != b:
            out.append(ConfigDifference(f"{path}.zone_minutes.{zone}",
                                        f"{label} zone {zone} minutes", a, b))
    return out


def _zone_text(zone: Zone | None) -> str | None:
    return None if zone is None else zone.name


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if hasattr(value, "value"):  # an enum
        return str(value.value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


def merge_pulled(record: ControllerConfig, device: DeviceConfig,
                 zone_count: int) -> ControllerConfig:
    """"Take theirs": the device's values, but the record's for fields the device cannot hold.

    Zones and program entries above `zone_count` are dropped so the result stays valid for
    the record.
    """
    ours = {z.number: z for z in record.zones}
    zones = []
    for theirs in device.config.zones:
        if theirs.number > zone_count:
            continue
        base = ours.get(theirs.number)
        if base is None:
            zones.append(Zone.from_dict(theirs.to_dict()))
            continue
        taken = {name: getattr(theirs, name) for name in ZONE_FIELDS
                 if f"zone.{name}" not in device.unsupported}
        zones.append(replace(base, **taken))
    have = {z.number for z in zones}
    zones += [Zone.from_dict(z.to_dict()) for n, z in sorted(ours.items())
              if n not in have and n <= zone_count]
    zones.sort(key=lambda z: z.number)
    programs = []
    ours_of = {j: i for i, j in pair_programs(record.programs, device.config.programs)
               if i is not None and j is not None}
    for j, theirs_p in enumerate(device.config.programs):  # in the device's order
        copy = Program.from_dict(theirs_p.to_dict())
        if j in ours_of:
            copy.id = record.programs[ours_of[j]].id  # the same program keeps its identity
        copy.zone_minutes = {z: m for z, m in copy.zone_minutes.items() if z <= zone_count}
        programs.append(copy)
    return ControllerConfig(zones=zones, programs=programs,
                            rain_delay_until=device.config.rain_delay_until)


# --- testing zones -------------------------------------------------------------------------


@dataclass(frozen=True)
class ZoneTestEvent:
    """Progress of a zone test, for the screen to show."""

    kind: Literal["running", "done", "finished", "error"]
    zone: int | None
    index: int  # 0-based position of `zone` in the run
    total: int
    seconds_left: int = 0
    error: LinkError | None = field(default=None, compare=False)

    def describe(self) -> str:
        where = f"zone {self.zone} ({self.index + 1} of {self.total})"
        if self.kind == "running":
            return f"Running {where}: {self.seconds_left} s left"
        if self.kind == "done":
            return f"Done: {where}"
        if self.kind == "error":
            return f"Stopped at {where}: {self.error}"
        return f"All {self.total} zones tested"


async def test_zones(link: ControllerLink, zones: Sequence[int], seconds: int,
                     poll: float = 1.0) -> AsyncIterator[ZoneTestEvent]:
    """Run each zone for `seconds`, one after another, yielding progress as it goes.

    Whatever ends it — the last zone, an error, the consumer breaking out, or the task being
    cancelled (the "stop everything" key) — every zone is stopped before this returns.
    Iterate it inside `contextlib.aclosing(...)` so breaking out stops at once.
    """
    total = len(zones)
    loop = asyncio.get_running_loop()
    try:
        for index, zone in enumerate(zones):
            await link.stop_all()  # one valve at a time; an OpenSprinkler would queue it
            try:
                await link.run_zone(zone, seconds)
            except LinkError as exc:
                yield ZoneTestEvent("error", zone, index, total, error=exc)
                return
            deadline = loop.time() + seconds + 5  # a device that never reports done
            while loop.time() < deadline:
                try:
                    left = (await link.read_status()).seconds_left(zone)
                except LinkError as exc:
                    yield ZoneTestEvent("error", zone, index, total, error=exc)
                    return
                if not left:
                    break
                yield ZoneTestEvent("running", zone, index, total, left)
                await asyncio.sleep(min(poll, left))
            yield ZoneTestEvent("done", zone, index, total)
        yield ZoneTestEvent("finished", None, max(0, total - 1), total)
    finally:
        with contextlib.suppress(LinkError, asyncio.CancelledError):
            await asyncio.shield(link.stop_all())


test_zones.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
