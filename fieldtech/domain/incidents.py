"""Incidents: what triage works on. Kinds, the severity rule, membership response targets and
the SLA clock, in one place for the cloud and the client (no I/O, no server, no textual).

The SLA clock counts only time inside a membership's coverage (24/7, or business hours in the
account's IANA time zone); every sum is done in UTC so a DST change never adds or loses an hour.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from fieldtech.domain.contracts import DEFAULT_TIERS, Coverage, MembershipTier
from fieldtech.domain.plans import Membership

__all__ = ["Coverage"]  # re-exported: the SLA clock's callers name it from here


class IncidentKind(StrEnum):
    """One kind of problem on one controller (or, for site_offline, on one customer)."""

    OFFLINE = "offline"
    SITE_OFFLINE = "site_offline"  # every controller of a customer offline together
    OUT_OF_SYNC = "out_of_sync"  # device revision differs from the cloud's for over a minute
    REBOOTED = "rebooted"  # uptime went down without the controller going offline
    # Device faults, as the heartbeat's `faults[].kind` names them (CONTRACT-10).
    ZONE_NO_CURRENT = "zone_no_current"
    ZONE_SHORT_CIRCUIT = "zone_short_circuit"
    FLOW_HIGH = "flow_high"  # a leak, a broken pipe or head
    FLOW_LOW = "flow_low"
    RAIN_SENSOR = "rain_sensor"
    MASTER_VALVE_STUCK = "master_valve_stuck"
    LOW_VOLTAGE = "low_voltage"

    @property
    def is_fault(self) -> bool:
        return self in FAULT_KINDS

    @property
    def label(self) -> str:
        return _LABELS[self]


FAULT_KINDS = frozenset(
    {
        IncidentKind.ZONE_NO_CURRENT,
        IncidentKind.ZONE_SHORT_CIRCUIT,
        IncidentKind.FLOW_HIGH,
        IncidentKind.FLOW_LOW,
        IncidentKind.RAIN_SENSOR,
        IncidentKind.MASTER_VALVE_STUCK,
        IncidentKind.LOW_VOLTAGE,
    }
)

_LABELS = {
    IncidentKind.OFFLINE: "Offline",
    IncidentKind.SITE_OFFLINE: "Whole site offline",
    IncidentKind.OUT_OF_SYNC: "Out of sync",
    IncidentKind.REBOOTED: "Rebooted",
    IncidentKind.ZONE_NO_CURRENT: "Zone draws no current",
    IncidentKind.ZONE_SHORT_CIRCUIT: "Zone short circuit",
    IncidentKind.FLOW_HIGH: "Flow high (leak?)",
    IncidentKind.FLOW_LOW: "Flow low",
    IncidentKind.RAIN_SENSOR: "Rain sensor fault",
    IncidentKind.MASTER_VALVE_STUCK: "Master valve stuck",
    IncidentKind.LOW_VOLTAGE: "Low voltage",
}


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Lower sorts first in triage."""
        return {"critical": 0, "warning": 1, "info": 2}[self.value]


class IncidentState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"  # a person responded: the SLA clock stopped
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


# Timing rules of the incident lifecycle (issue 10).
# Remote commands a person can send through the cloud (the native protocol's method names);
# the cloud, the TUI and the device simulator all read them here.
COMMAND_KINDS = ("zone.run", "zone.stop", "rain_delay.set", "device.enable", "device.reboot",
                 "config.fetch")

HEARTBEAT_S = 30  # the period the cloud tells devices by default
MISSED_BEATS = 3  # offline after this many heartbeats did not come
OUT_OF_SYNC_AFTER = timedelta(seconds=60)
REOPEN_WITHIN = timedelta(minutes=30)  # a recurrence this soon reopens the resolved incident
WARN_AT = (0.5, 0.75)  # fractions of the response target that warn
BREACH_AT = 1.0


def offline_after(heartbeat_s: int = HEARTBEAT_S) -> timedelta:
    """No heartbeat for this long and a paired controller is declared offline."""
    return timedelta(seconds=MISSED_BEATS * heartbeat_s)


BUSINESS_OPENS = time(9, 0)
BUSINESS_CLOSES = time(17, 0)
BUSINESS_DAYS = frozenset(range(5))  # Monday = 0


@dataclass(frozen=True)
class ResponseTarget:
    """A membership's promise: the basic response within `response` counted in `coverage`;
    `urgent_advanced` is the advanced-support response for urgent issues (None: not promised)."""

    response: timedelta
    coverage: Coverage
    urgent_advanced: timedelta | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "response_minutes": int(self.response.total_seconds() // 60),
            "coverage": self.coverage.value,
            "urgent_advanced_minutes": None
            if self.urgent_advanced is None
            else int(self.urgent_advanced.total_seconds() // 60),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ResponseTarget:
        urgent = d.get("urgent_advanced_minutes")
        return cls(
            response=timedelta(minutes=int(d["response_minutes"])),
            coverage=Coverage(d["coverage"]),
            urgent_advanced=None if urgent is None else timedelta(minutes=int(urgent)),
        )


def target_of(tier: MembershipTier) -> ResponseTarget | None:
    """A catalogue tier's promise as the SLA clock counts it (None: no promise, no clock)."""
    if tier.response_minutes is None:
        return None
    urgent = tier.urgent_advanced_minutes
    return ResponseTarget(timedelta(minutes=tier.response_minutes), tier.coverage,
                          None if urgent is None else timedelta(minutes=urgent))


# The membership catalogue (fieldtech.domain.contracts) owns the targets and their coverage;
# this is its default tiers' table, keyed by the customer's membership. No membership: no
# promise, no clock.
DEFAULT_RESPONSE_TARGETS: Mapping[Membership, ResponseTarget] = {
    Membership(tier.code): target
    for tier in DEFAULT_TIERS
    if (target := target_of(tier)) is not None
}


def response_targets(
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[Membership, ResponseTarget]:
    """The default table with an account's overrides ({membership: ResponseTarget.to_dict()})."""
    table = dict(DEFAULT_RESPONSE_TARGETS)
    for name, target in (overrides or {}).items():
        table[Membership(name)] = ResponseTarget.from_dict(target)
    return table


def promises_fast_response(membership: Membership | str | None) -> bool:
    """A membership whose default promise is a round-the-clock response (Essentials+ and up)."""
    if not membership:
        return False
    target = DEFAULT_RESPONSE_TARGETS.get(Membership(membership))
    return target is not None and target.coverage is Coverage.ALWAYS


def severity(kind: IncidentKind | str, membership: Membership | str | None) -> Severity:
    """THE severity rule (issue 10): critical for a stuck master valve or high flow (a leak),
    and for a controller or site offline at a customer promised a fast response; info for a
    reboot; everything else a warning."""
    kind = IncidentKind(kind)
    if kind in (IncidentKind.MASTER_VALVE_STUCK, IncidentKind.FLOW_HIGH):
        return Severity.CRITICAL
    if kind in (IncidentKind.OFFLINE, IncidentKind.SITE_OFFLINE):
        return Severity.CRITICAL if promises_fast_response(membership) else Severity.WARNING
    if kind is IncidentKind.REBOOTED:
        return Severity.INFO
    return Severity.WARNING


# --- the SLA clock -----------------------------------------------------------------------


def _as_utc(moment: datetime) -> datetime:
    """Naive datetimes are UTC (the server stores them so)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _like(result: datetime, template: datetime) -> datetime:
    """`result` (aware UTC) in the form `template` came in: naive UTC stays naive."""
    return result.replace(tzinfo=None) if template.tzinfo is None else result


def _windows(start: datetime, tz: ZoneInfo) -> Any:
    """Business-hours windows (aware UTC start, end) from the one `start` is in or before."""
    day = start.astimezone(tz).date()
    while True:
        if day.weekday() in BUSINESS_DAYS:
            # Built from the local wall clock, then taken to UTC: the window is 9–5 local time
            # on both sides of a DST change.
            opens = datetime.combine(day, BUSINESS_OPENS, tzinfo=tz).astimezone(UTC)
            closes = datetime.combine(day, BUSINESS_CLOSES, tzinfo=tz).astimezone(UTC)
            if closes > start:
                yield max(opens, start), closes
        day += timedelta(days=1)


def response_due(
    opened_at: datetime, target: timedelta, coverage: Coverage | str, tz: str | ZoneInfo
) -> datetime:
    """When `target` of covered time has passed since `opened_at`."""
    start = _as_utc(opened_at)
    if Coverage(coverage) is Coverage.ALWAYS:
        return _like(start + target, opened_at)
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    remaining = target
    for opens, closes in _windows(start, zone):
        if remaining <= closes - opens:
            return _like(opens + remaining, opened_at)
        remaining -= closes - opens
    raise AssertionError("unreachable: business days never run out")


def covered_time(
    start: datetime, end: datetime, coverage: Coverage | str, tz: str | ZoneInfo
) -> timedelta:
    """How much of [start, end) lies inside the coverage."""
    a, b = _as_utc(start), _as_utc(end)
    if b <= a:
        return timedelta()
    if Coverage(coverage) is Coverage.ALWAYS:
        return b - a
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    total = timedelta()
    for opens, closes in _windows(a, zone):
        if opens >= b:
            return total
        total += min(closes, b) - opens
    raise AssertionError("unreachable")


class SlaStage(StrEnum):
    OK = "ok"
    WARN_50 = "warn_50"
    WARN_75 = "warn_75"
    BREACHED = "breached"


def sla_stage(
    opened_at: datetime,
    now: datetime,
    target: timedelta,
    coverage: Coverage | str,
    tz: str | ZoneInfo,
) -> SlaStage:
    """Where the response clock stands at `now` (warn at 50 % and 75 %, breach at 100 %)."""
    used = covered_time(opened_at, now, coverage, tz) / target
    if used >= BREACH_AT:
        return SlaStage.BREACHED
    if used >= WARN_AT[1]:
        return SlaStage.WARN_75
    if used >= WARN_AT[0]:
        return SlaStage.WARN_50
    return SlaStage.OK
