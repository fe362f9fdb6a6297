"""Request bodies as the API documents them (OpenAPI). They fix only the JSON types; every range
and rule is checked by fieldtech.domain.validation, the one owner of those limits."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from fieldtech.domain import limits as L
from fieldtech.domain.models import ScheduleKind
from fieldtech.domain.plans import Membership, SelfManagement, Tier
from fieldtech.domain.validation import control_character_error

Text = Field(default="", max_length=4000)
# Every integer is bounded here by the column it reaches (INTEGER is 32 bits on PostgreSQL) or,
# inside a configuration document, by the domain's limit (tests/server/test_hostile_input.py).
INT32_MAX = 2**31 - 1
Revision = Annotated[int, Field(ge=0, le=INT32_MAX)]
Minutes = Annotated[int, Field(ge=L.RUN_MINUTES_MIN, le=L.RUN_MINUTES_MAX)]
ZoneNumber = Annotated[int, Field(ge=1, le=L.ZONES_MAX)]
ZoneCount = Annotated[int, Field(ge=L.ZONES_MIN, le=L.ZONES_MAX)]


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
    number: ZoneNumber
    name: str = Field(max_length=200)
    enabled: bool = True
    run_minutes: Minutes = 10
    cycle_minutes: int | None = Field(default=None, ge=1, le=L.CYCLE_MINUTES_MAX)
    soak_minutes: int | None = Field(default=None, ge=1, le=L.SOAK_MINUTES_MAX)
    master_valve: bool = False
    seasonal_adjust_pct: int = Field(
        default=100, ge=L.SEASONAL_ADJUST_MIN, le=L.SEASONAL_ADJUST_MAX
    )
    suspended_until: date | None = None


class ProgramIn(Body):
    name: str = Field(max_length=200)
    enabled: bool = True
    schedule: ScheduleKind = ScheduleKind.WEEKDAYS
    days: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        default_factory=lambda: [0, 2, 4], max_length=7
    )
    interval_days: int = Field(default=2, ge=L.INTERVAL_DAYS_MIN, le=L.INTERVAL_DAYS_MAX)
    start_times: list[str] = Field(default_factory=lambda: ["06:00"], max_length=10)
    zone_minutes: dict[ZoneNumber, Minutes] = Field(default_factory=dict)


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
    zone_count: ZoneCount = 8
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
    zone_count: ZoneCount | None = None
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


class HeartbeatIn(Body):
    applied_revision: Revision | None = None
    firmware: str | None = Field(default=None, max_length=64)
    locally_modified: bool = Field(
        default=False, description="The configuration was changed on the device itself."
    )


class RunZoneIn(Body):
    zone: ZoneNumber
    seconds: int = Field(ge=1, le=L.MANUAL_RUN_SECONDS_MAX)


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
    base_revision: Revision | None = Field(
        default=None, description="The revision the edit was based on."
    )
    data: dict[str, Any] = Field(default_factory=dict)


class BatchIn(Body):
    items: list[BatchItem] = Field(max_length=200)
