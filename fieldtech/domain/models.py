"""Plain records of the domain: accounts, customers, controllers and their configuration.

No I/O here. Every record converts to and from a JSON-ready dict (`to_dict` / `from_dict`);
the offline store, the cloud API, TOML export and the device drivers all speak that form.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Self

from fieldtech.domain import limits as L
from fieldtech.domain.errors import FieldError, ValidationError
from fieldtech.domain.plans import CustomerPlan, Membership, SelfManagement, Tier, TierLimits


def new_id() -> str:
    return str(uuid.uuid4())


class ControllerState(StrEnum):
    """What the fleet list shows for a controller (cloud-side states of DESIGN.md)."""

    ONLINE = "online"
    OFFLINE = "offline"  # no contact for about 7 minutes
    NOT_LINKED = "not_linked"  # a record with no hardware bound yet
    OUT_OF_SYNC = "out_of_sync"  # the device's config differs from the cloud's
    WAITING = "waiting"  # a change was sent, the device has not confirmed it

    @property
    def label(self) -> str:
        return {
            "online": "online",
            "offline": "offline",
            "not_linked": "not linked",
            "out_of_sync": "out of sync",
            "waiting": "waiting",
        }[self.value]


class ScheduleKind(StrEnum):
    WEEKDAYS = "weekdays"
    ODD = "odd"
    EVEN = "even"
    INTERVAL = "interval"


WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEEKDAY_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass
class Zone:
    number: int
    name: str
    enabled: bool = True
    run_minutes: int = 10
    cycle_minutes: int | None = None  # cycle-and-soak: water this long, then soak
    soak_minutes: int | None = None
    master_valve: bool = False  # zone opens the master valve / pump
    seasonal_adjust_pct: int = 100
    suspended_until: date | None = None  # zone suspension until a date

    def to_dict(self) -> dict[str, Any]:
        d = _plain(self)
        d["suspended_until"] = _iso(self.suspended_until)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        zone = cls(**_known(cls, d, copy=False))  # (the most numerous record: no copy)
        if zone.suspended_until and not isinstance(zone.suspended_until, date):
            zone.suspended_until = date.fromisoformat(str(zone.suspended_until))
        return zone


@dataclass
class Program:
    name: str
    enabled: bool = True
    schedule: ScheduleKind = ScheduleKind.WEEKDAYS
    days: list[int] = field(default_factory=lambda: [0, 2, 4])  # 0 = Monday, for WEEKDAYS
    interval_days: int = 2  # for INTERVAL
    start_times: list[str] = field(default_factory=lambda: ["06:00"])  # "HH:MM", up to 4
    zone_minutes: dict[int, int] = field(default_factory=dict)  # zone number -> minutes
    # identity, not content: survives reordering and deletion of other programs, so a
    # device's hidden per-program settings stay with the right program (docs/protocol.md)
    id: str = field(default_factory=new_id, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = _plain(self)
        d["schedule"] = self.schedule.value
        d["zone_minutes"] = {str(k): v for k, v in sorted(self.zone_minutes.items())}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        d = _known(cls, d)
        if "schedule" in d:
            d["schedule"] = ScheduleKind(d["schedule"])
        if "zone_minutes" in d:
            d["zone_minutes"] = {int(k): int(v) for k, v in dict(d["zone_minutes"]).items()}
        if "days" in d:
            d["days"] = [int(x) for x in d["days"]]
        if "start_times" in d:
            d["start_times"] = [str(x) for x in d["start_times"]]
        if d.get("id") is None:
            d.pop("id", None)
        else:
            d["id"] = str(d["id"])
        return cls(**d)

    def describe_schedule(self) -> str:
        if self.schedule is ScheduleKind.WEEKDAYS:
            return " ".join(WEEKDAY_NAMES[i] for i in sorted(self.days)) or "no days"
        if self.schedule is ScheduleKind.INTERVAL:
            return f"every {self.interval_days} days"
        return f"{self.schedule.value} days"


@dataclass
class ControllerConfig:
    """What is pushed to a device: one document with a revision in the cloud."""

    zones: list[Zone] = field(default_factory=list)
    programs: list[Program] = field(default_factory=list)
    rain_delay_until: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "zones": [z.to_dict() for z in self.zones],
            "programs": [p.to_dict() for p in self.programs],
            "rain_delay_until": _iso(self.rain_delay_until),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        rd = d.get("rain_delay_until")
        return cls(
            zones=[Zone.from_dict(z) for z in d.get("zones") or []],
            programs=[Program.from_dict(_with_id(p, i)) for i, p in
                      enumerate(d.get("programs") or [])],
            rain_delay_until=datetime.fromisoformat(rd) if rd else None,
        )

    def zone(self, number: int) -> Zone | None:
        return next((z for z in self.zones if z.number == number), None)

    def configuration_only(self) -> ControllerConfig:
        """Without the site's state of the moment (a rain delay, zone suspensions): what a
        template or a copy carries to another controller."""
        return replace(self, rain_delay_until=None,
                       zones=[replace(z, suspended_until=None) for z in self.zones])

    def keeping_state_of(self, current: ControllerConfig) -> ControllerConfig:
        """This configuration with `current`'s rain delay and zone suspensions (by number):
        applying a template or a copy never starts or ends one."""
        suspended = {z.number: z.suspended_until for z in current.zones}
        return replace(self, rain_delay_until=current.rain_delay_until,
                       zones=[replace(z, suspended_until=suspended.get(z.number))
                              for z in self.zones])

    @classmethod
    def default_for(cls, zone_count: int) -> Self:
        check_zone_count(zone_count)
        return cls(zones=[Zone(number=n, name=f"Zone {n}") for n in range(1, zone_count + 1)])


@dataclass
class Account:
    """A contractor's account."""

    id: str
    name: str
    tier: Tier = Tier.STARTER
    custom_limits: TierLimits | None = None  # Platinum only

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "tier": self.tier.value,
            "custom_limits": _plain(self.custom_limits) if self.custom_limits else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        cl = d.get("custom_limits")
        return cls(
            id=d["id"],
            name=d["name"],
            tier=Tier(d.get("tier", "starter")),
            custom_limits=TierLimits(**cl) if cl else None,
        )


@dataclass
class Customer:
    id: str
    name: str
    email: str = ""
    phone: str = ""
    address: str = ""
    plan: CustomerPlan = CustomerPlan.HOME
    self_management: SelfManagement = SelfManagement.NONE
    membership: Membership = Membership.NONE
    tags: str = ""  # "hoa spring": lower-case words, one space apart (text.normalize_tags)

    def to_dict(self) -> dict[str, Any]:
        d = _plain(self)
        d.update(
            plan=self.plan.value,
            self_management=self.self_management.value,
            membership=self.membership.value,
        )
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        d = _known(cls, d)
        for key, enum in (
            ("plan", CustomerPlan),
            ("self_management", SelfManagement),
            ("membership", Membership),
        ):
            if key in d:
                d[key] = enum(d[key])
        return cls(**d)


@dataclass
class Controller:
    id: str
    customer_id: str
    name: str
    model: str = "FT-8"
    zone_count: int = 8
    serial: str | None = None  # None: "not linked" — a record prepared before any hardware
    timezone: str = "UTC"
    location: str = ""
    notes: str = ""
    tags: str = ""  # as Customer.tags
    config: ControllerConfig = field(default_factory=ControllerConfig)

    @property
    def linked(self) -> bool:
        return self.serial is not None

    def to_dict(self) -> dict[str, Any]:
        d = _plain(self)
        del d["config"]  # and last, as before
        d["config"] = self.config.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        d = _known(cls, d)
        d["config"] = ControllerConfig.from_dict(d.get("config") or {})
        return cls(**d)

    def copy_config_from(self, other: Controller) -> Controller:
        """This controller with `other`'s zones and programs, cut or padded to our zone count;
        our own rain delay and zone suspensions stay (they are not configuration)."""
        check_zone_count(self.zone_count)
        cfg = ControllerConfig.from_dict(other.config.to_dict())
        zones = [z for z in cfg.zones if z.number <= self.zone_count]
        have = {z.number for z in zones}
        zones += [
            Zone(number=n, name=f"Zone {n}")
            for n in range(1, self.zone_count + 1)
            if n not in have
        ]
        zones.sort(key=lambda z: z.number)
        for p in cfg.programs:
            p.zone_minutes = {k: v for k, v in p.zone_minutes.items() if k <= self.zone_count}
        return replace(self, config=replace(cfg, zones=zones).keeping_state_of(self.config))


def zone_count_error(zone_count: object) -> FieldError | None:
    """Why `zone_count` cannot size a controller, or None. Checked before any zone is built:
    99999999999 zones would otherwise fill the memory before any check ran."""
    if isinstance(zone_count, bool) or not isinstance(zone_count, int):
        return FieldError("zone_count", "Enter a whole number.")
    if not L.ZONES_MIN <= zone_count <= L.ZONES_MAX:
        return FieldError("zone_count", f"Must be between {L.ZONES_MIN} and {L.ZONES_MAX} "
                          f"zones ({zone_count} given).")
    return None


def check_zone_count(zone_count: object) -> None:
    """Raise ValidationError unless `zone_count` is a controller's possible zone count."""
    if error := zone_count_error(zone_count):
        raise ValidationError([error])


def _with_id(program: Any, index: int) -> Any:
    """A stored program from before ids: the same id on every load (a base and a copy agree)."""
    if isinstance(program, dict) and not program.get("id"):
        return {**program, "id": f"program-{index + 1}"}
    return program


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value else None


_NAMES: dict[type, tuple[str, ...]] = {}


def _names(cls: type) -> tuple[str, ...]:
    """The field names of a record class, read once (`fields()` is slow: a campaign converts
    5,000 controllers, each with its zones, several times)."""
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def _plain(obj: Any) -> dict[str, Any]:
    # From the instance's __dict__ by field names read once per class: dataclasses.fields()
    # on every call was most of seeding's to_dict time (8× slower, 1.2 M zones at 100,000).
    values = obj.__dict__
    return {name: values[name] for name in _names(type(obj))}


_NAME_SETS: dict[type, frozenset[str]] = {}


def _known(cls: type, d: dict[str, Any], copy: bool = True) -> dict[str, Any]:
    """Only the keys `cls` has (a copy, or `d` itself when it has no others and `copy` is
    False): records from newer peers may carry fields we do not know. (A set, checked whole
    first: a tuple's `in` per key was 40 % of reading 5,000 controllers for a campaign.)"""
    names = _NAME_SETS.get(cls)
    if names is None:
        names = _NAME_SETS[cls] = frozenset(_names(cls))
    if names.issuperset(d):
        return dict(d) if copy else d
    return {k: v for k, v in d.items() if k in names}
