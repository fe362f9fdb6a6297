"""Request bodies as the API documents them (OpenAPI). They fix only the JSON types; every range
and rule is checked by fieldtech.domain.validation, the one owner of those limits."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from fieldtech.domain import limits as L
from fieldtech.domain.models import ScheduleKind
from fieldtech.domain.plans import Membership, SelfManagement, Tier
from fieldtech.domain.validation import control_character_error

Text = Field(default="", max_length=4000)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        # Every string field, so no endpoint hands the database text it cannot hold (NUL on
        # PostgreSQL); the stricter one-line rule for names is the domain's.
        if isinstance(value, str) and (message := control_character_error(value, False)):
            raise PydanticCustomError("control_character", message)
        return value


class LoginIn(Body):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1000)
    token_name: str = Field(default="api", max_length=100, description="Shown in the token list.")


class StaffIn(Body):
    email: str = Field(max_length=320)
    password: str = Field(min_length=8, max_length=1000)


class ZoneIn(Body):
    number: int
    name: str = Field(max_length=200)
    enabled: bool = True
    run_minutes: int = 10
    cycle_minutes: int | None = None
    soak_minutes: int | None = None
    master_valve: bool = False
    seasonal_adjust_pct: int = 100
    suspended_until: date | None = None


class ProgramIn(Body):
    # The program's identity (kept by devices across reorders and deletes); records written
    # before programs had one send none, and get a stable one when read.
    id: str | None = Field(default=None, min_length=1, max_length=L.PROGRAM_ID_MAX)
    name: str = Field(max_length=200)
    enabled: bool = True
    schedule: ScheduleKind = ScheduleKind.WEEKDAYS
    days: list[int] = Field(default_factory=lambda: [0, 2, 4], max_length=7)
    interval_days: int = 2
    start_times: list[str] = Field(default_factory=lambda: ["06:00"], max_length=10)
    zone_minutes: dict[int, int] = Field(default_factory=dict)


class ConfigIn(Body):
    """A controller's configuration: zones, programs, rain delay and zone suspensions."""

    zones: list[ZoneIn] = Field(default_factory=list, max_length=400)
    programs: list[ProgramIn] = Field(default_factory=list, max_length=100)
    rain_delay_until: datetime | None = None


class CustomerIn(Body):
    id: UUID = Field(description="Chosen by the client, so a record made offline keeps its id.")
    name: str = Field(max_length=200)
    email: str = Field(default="", max_length=320)
    phone: str = Text
    address: str = Text
    self_management: SelfManagement = SelfManagement.NONE
    membership: Membership = Membership.NONE


class CustomerPatch(Body):
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=4000)
    address: str | None = Field(default=None, max_length=4000)
    self_management: SelfManagement | None = None
    membership: Membership | None = None


class ControllerIn(Body):
    id: UUID = Field(description="Chosen by the client, so a record made offline keeps its id.")
    customer_id: UUID
    name: str = Field(max_length=200)
    model: str = Field(default="FT-8", max_length=64)
    zone_count: int = 8
    serial: str | None = Field(default=None, max_length=64, description="None: not linked yet.")
    timezone: str = Field(default="UTC", max_length=64)
    location: str = Text
    notes: str = Text
    config: ConfigIn | None = Field(default=None, description="Default: every zone, no programs.")


class ControllerPatch(Body):
    """Fields to change. `customer_id` moves the controller; `serial: null` unbinds it."""

    customer_id: UUID | None = None
    name: str | None = Field(default=None, max_length=200)
    model: str | None = Field(default=None, max_length=64)
    zone_count: int | None = None
    serial: str | None = Field(default=None, max_length=64)
    timezone: str | None = Field(default=None, max_length=64)
    location: str | None = Field(default=None, max_length=4000)
    notes: str | None = Field(default=None, max_length=4000)


class PlanCodeIn(Body):
    code: str = Field(max_length=64, examples=["45F2-644E"])


class TierIn(Body):
    tier: Tier


class LinkIn(Body):
    """Find an unlinked customer by e-mail or by the serial of one of their controllers."""

    email: str | None = Field(default=None, max_length=320)
    serial: str | None = Field(default=None, max_length=64)


class CustomerUserIn(Body):
    email: str = Field(max_length=320)
    password: str = Field(min_length=8, max_length=1000)


class PairIn(Body):
    code: str = Field(max_length=64, description="The pairing code the contractor got, XXXX-XXXX.")
    serial: str = Field(max_length=64, description="The serial number the device reports.")
    firmware: str | None = Field(default=None, max_length=64)


class Report(Body):
    # CONTRACT-10: the cloud ignores keys it does not know (newer firmware).
    model_config = ConfigDict(extra="ignore")


class FaultIn(Report):
    kind: str = Field(max_length=32, description="zone_no_current, flow_high, … (CONTRACT-10)")
    zone: int | None = Field(default=None, ge=1, le=200, description="None: device-wide")
    detail: str = Field(default="", max_length=500)


class RunningIn(Report):
    zone: int = Field(ge=1, le=200)
    seconds_left: int = Field(default=0, ge=0, le=2**31)


class ResultIn(Report):
    id: str = Field(max_length=36, description="The command id from a heartbeat answer.")
    ok: bool
    message: str = Field(default="", max_length=500)


class HeartbeatIn(Report):
    """Every key optional; an absent key means "unknown, keep what you had" (old firmware)."""

    applied_revision: int | None = Field(default=None, ge=0, le=2**31)
    firmware: str | None = Field(default=None, max_length=64)
    locally_modified: bool = Field(
        default=False, description="The configuration was changed on the device itself."
    )
    enabled: bool | None = None
    running: RunningIn | None = None
    rain_delay_until: datetime | None = None
    uptime_s: int | None = Field(default=None, ge=0, le=2**31)
    faults: list[FaultIn] | None = Field(
        default=None, max_length=100, description="The current faults; [] = none (recovery)."
    )
    results: list[ResultIn] = Field(default_factory=list, max_length=100)


class RunZoneIn(Body):
    zone: int = Field(ge=1, le=200)
    seconds: int = Field(ge=1, le=64800)


Op = Literal[
    "customer.create",
    "customer.update",
    "customer.delete",
    "controller.create",
    "controller.update",
    "controller.delete",
    "config.put",
]


class BatchItem(Body):
    key: str = Field(min_length=1, max_length=200, description="The idempotency key.")
    op: Op
    id: UUID | None = Field(default=None, description="The record (not needed for creates).")
    base_revision: int | None = Field(
        default=None, ge=0, le=2**31, description="The revision the edit was based on."
    )
    data: dict[str, Any] = Field(default_factory=dict)


class BatchIn(Body):
    items: list[BatchItem] = Field(max_length=200)


class NoteIn(Body):
    note: str = Field(default="", max_length=4000)


class SnoozeIn(Body):
    until: datetime
    note: str = Field(default="", max_length=4000)


class AssignIn(Body):
    user_id: str | None = Field(default=None, max_length=36, description="None: unassign.")


class CommandIn(Body):
    kind: str = Field(max_length=32, examples=["zone.run"], description="CONTRACT-10's kinds.")
    params: dict[str, Any] = Field(default_factory=dict, examples=[{"zone": 3, "seconds": 600}])
    queue_if_offline: bool = Field(
        default=False, description="Queue for an offline controller (it expires in 10 minutes)."
    )
    key: str | None = Field(
        default=None, min_length=1, max_length=200, description="Idempotency key."
    )


class MaintenanceIn(Body):
    """A window with no new incidents, for one customer or one controller (exactly one)."""

    customer_id: str | None = Field(default=None, max_length=36)
    controller_id: str | None = Field(default=None, max_length=36)
    starts: datetime
    ends: datetime
    note: str = Field(default="", max_length=4000, examples=["Winterized until April"])


class ResponseTargetIn(Body):
    response_minutes: int = Field(ge=1, le=60 * 24 * 30)
    coverage: Literal["24/7", "business_hours"]
    urgent_advanced_minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 30)


class ServiceSettingsIn(Body):
    timezone: str = Field(max_length=64, examples=["America/New_York"])
    response_targets: dict[Membership, ResponseTargetIn] = Field(
        default_factory=dict, description="Overrides of the default table, per membership."
    )
