"""Request bodies as the API documents them (OpenAPI). They fix only the JSON types; every range
and rule is checked by fieldtech.domain.validation, the one owner of those limits."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from fieldtech.domain import limits as L
from fieldtech.domain.incidents import COMMAND_KINDS
from fieldtech.domain.models import ScheduleKind
from fieldtech.domain.plans import Membership, SelfManagement, Tier
from fieldtech.domain.validation import control_character_error, timezone_names

# Patterns the spec shows for what the domain checks (fieldtech.domain.limits): one-line text
# has no control characters nor bidirectional overrides, other text no control characters but
# tab and line breaks; a name has something besides spaces.
_NOT_IN_LINE = r"\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069"
_LINE_CHARS = f"[^{_NOT_IN_LINE}]"
_TEXT_CHARS = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
ONE_LINE = f"^{_LINE_CHARS}*$"
NAME = f"^{_LINE_CHARS}*[^\\s{_NOT_IN_LINE}]{_LINE_CHARS}*$"
_ADDRESS_PART = f"[^@\\s{_NOT_IN_LINE}]+"
EMAIL = f"^{_ADDRESS_PART}@{_ADDRESS_PART}\\.{_ADDRESS_PART}$"


def shown(**schema: Any) -> Any:
    """Shown in the spec; enforced by fieldtech.domain.validation, with its messages."""
    return Field(json_schema_extra=schema)


# What the spec shows for a field the domain checks (json_schema_extra of its Field)
NAME_RULE = {"minLength": 1, "maxLength": L.NAME_MAX, "pattern": NAME}
TEXT_RULE = {"maxLength": L.TEXT_MAX, "pattern": f"^{_TEXT_CHARS}*$"}
LINE_RULE = {"maxLength": L.TEXT_MAX, "pattern": ONE_LINE}
_TAG = f"[a-z0-9][a-z0-9_\\-]{{0,{L.TAG_MAX - 1}}}"
# Words one space apart; the server sorts them and drops repeats (operations.with_tags).
TAGS_RULE = {"maxLength": L.TAGS_TEXT_MAX, "pattern": f"^$|^{_TAG}( {_TAG}){{0,{L.TAGS_MAX - 1}}}$"}
Tags = Field(default="", max_length=L.TAGS_TEXT_MAX, json_schema_extra=TAGS_RULE,
             description="Lower-case words, one space apart, sorted, each once.")
EMAIL_RULE = {"minLength": 5, "maxLength": 320, "pattern": EMAIL}
OPTIONAL_EMAIL_RULE = {"maxLength": 320, "pattern": f"^$|{EMAIL}"}
SERIAL_RULE = {"pattern": L.SERIAL_RE.pattern}
# typed by a person: spaces around and lower case are forgiven
def _typed(core: str) -> str:
    return f"^[ \\t\\r\\n]*{core}[ \\t\\r\\n]*$"


TYPED_SERIAL_RULE = {"pattern": _typed("[A-Za-z0-9]{2,4}-[A-Za-z0-9]{6,16}")}
PLAN_CODE_RULE = {"minLength": 9, "pattern": _typed("[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}")}
PAIRING_CODE_RULE = {"minLength": 9, "pattern": _typed("[A-Za-z0-9]{4}-[A-Za-z0-9]{4}")}
TIMEZONE_RULE = {"enum": sorted(timezone_names())}
Text = Field(default="", max_length=4000, json_schema_extra=TEXT_RULE)
# Every integer in the spec is bounded (tests/server/test_hostile_input.py): here when no other
# check stands between it and a column (INTEGER is 32 bits on PostgreSQL); otherwise the spec
# shows the domain's limit and the domain checks it, with its messages and field paths.
INT32_MAX = 2**31 - 1
Revision = Annotated[int, Field(ge=0, le=INT32_MAX)]


def domain_range(lo: int, hi: int) -> Any:
    return shown(minimum=lo, maximum=hi)


Minutes = Annotated[int, domain_range(L.RUN_MINUTES_MIN, L.RUN_MINUTES_MAX)]
ZoneNumber = Annotated[int, domain_range(1, L.ZONES_MAX)]
ZoneCount = Annotated[int, domain_range(L.ZONES_MIN, L.ZONES_MAX)]


def _show_storable_text(schema: dict[str, Any]) -> None:
    """Every string property without a pattern of its own shows the one `_storable_text` holds
    it to, so the spec does not promise what the server refuses."""
    for prop in schema.get("properties", {}).values():
        kinds = [prop, *prop.get("anyOf", [])]
        if "pattern" not in prop and any(k.get("type") == "string" for k in kinds):
            prop["pattern"] = f"^{_TEXT_CHARS}*$"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_show_storable_text)

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
    expires_in_days: int | None = Field(
        default=None, ge=1, le=3650, description="None: the token works until it is revoked."
    )


StaffRole = Literal["owner", "staff"]


class StaffIn(Body):
    email: str = Field(max_length=320, json_schema_extra=EMAIL_RULE)
    password: str = Field(min_length=8, max_length=1000)
    role: StaffRole = Field(default="staff", description="owner: tier, billing and staff too.")
    billing: bool = Field(default=False, description="May handle contracts and invoices.")


class StaffRoleIn(Body):
    role: StaffRole | None = None
    billing: bool | None = None


class ZoneIn(Body):
    number: ZoneNumber
    name: str = Field(max_length=200, json_schema_extra=NAME_RULE)
    enabled: bool = True
    run_minutes: Minutes = 10
    cycle_minutes: Annotated[int, domain_range(1, L.CYCLE_MINUTES_MAX)] | None = None
    soak_minutes: Annotated[int, domain_range(1, L.SOAK_MINUTES_MAX)] | None = None
    master_valve: bool = False
    seasonal_adjust_pct: Annotated[
        int, domain_range(L.SEASONAL_ADJUST_MIN, L.SEASONAL_ADJUST_MAX)
    ] = 100
    suspended_until: date | None = None


class ProgramIn(Body):
    # The program's identity (kept by devices across reorders and deletes); records written
    # before programs had one send none, and get a stable one when read.
    id: str | None = Field(default=None, min_length=1, max_length=L.PROGRAM_ID_MAX)
    name: str = Field(max_length=200, json_schema_extra=NAME_RULE)
    enabled: bool = True
    schedule: ScheduleKind = ScheduleKind.WEEKDAYS
    days: list[Annotated[int, domain_range(0, 6)]] = Field(
        default_factory=lambda: [0, 2, 4],
        max_length=7,
        json_schema_extra={"minItems": 1, "uniqueItems": True},
    )
    interval_days: Annotated[int, domain_range(L.INTERVAL_DAYS_MIN, L.INTERVAL_DAYS_MAX)] = 2
    start_times: list[Annotated[str, shown(pattern=L.START_TIME_RE.pattern)]] = Field(
        default_factory=lambda: ["06:00"],
        max_length=10,
        json_schema_extra={"minItems": 1, "maxItems": L.START_TIMES_MAX, "uniqueItems": True},
    )
    zone_minutes: dict[ZoneNumber, Minutes] = Field(
        default_factory=dict, json_schema_extra={"propertyNames": {"pattern": "^[1-9][0-9]{0,2}$"}}
    )


class ConfigIn(Body):
    """A controller's configuration: zones, programs, rain delay and zone suspensions."""

    zones: list[ZoneIn] = Field(
        default_factory=list, max_length=400, json_schema_extra={"maxItems": L.ZONES_MAX}
    )
    programs: list[ProgramIn] = Field(
        default_factory=list, max_length=100, json_schema_extra={"maxItems": L.PROGRAMS_MAX}
    )
    rain_delay_until: datetime | None = None


class CustomerIn(Body):
    id: UUID = Field(description="Chosen by the client, so a record made offline keeps its id.")
    name: str = Field(max_length=200, json_schema_extra=NAME_RULE)
    email: str = Field(default="", max_length=320, json_schema_extra=OPTIONAL_EMAIL_RULE)
    phone: str = Field(default="", max_length=4000, json_schema_extra=LINE_RULE)
    address: str = Text
    self_management: SelfManagement = SelfManagement.NONE
    membership: Membership = Membership.NONE
    tags: str = Tags


class CustomerPatch(Body):
    name: str | None = Field(default=None, max_length=200, json_schema_extra=NAME_RULE)
    email: str | None = Field(default=None, max_length=320, json_schema_extra=OPTIONAL_EMAIL_RULE)
    phone: str | None = Field(default=None, max_length=4000, json_schema_extra=LINE_RULE)
    address: str | None = Field(default=None, max_length=4000, json_schema_extra=TEXT_RULE)
    self_management: SelfManagement | None = None
    membership: Membership | None = None
    tags: str | None = Field(default=None, max_length=L.TAGS_TEXT_MAX,
                             json_schema_extra=TAGS_RULE)


class ControllerIn(Body):
    id: UUID = Field(description="Chosen by the client, so a record made offline keeps its id.")
    customer_id: UUID
    name: str = Field(max_length=200, json_schema_extra=NAME_RULE)
    model: str = Field(default="FT-8", max_length=64, json_schema_extra=NAME_RULE)
    zone_count: ZoneCount = 8
    serial: str | None = Field(
        default=None, max_length=64, description="None: not linked yet.",
        json_schema_extra=SERIAL_RULE,
    )
    timezone: str = Field(default="UTC", max_length=64, json_schema_extra=TIMEZONE_RULE)
    location: str = Text
    notes: str = Text
    tags: str = Tags
    config: ConfigIn | None = Field(default=None, description="Default: every zone, no programs.")


class ControllerPatch(Body):
    """Fields to change. `customer_id` moves the controller; `serial: null` unbinds it."""

    customer_id: UUID | None = None
    name: str | None = Field(default=None, max_length=200, json_schema_extra=NAME_RULE)
    model: str | None = Field(default=None, max_length=64, json_schema_extra=NAME_RULE)
    zone_count: ZoneCount | None = None
    serial: str | None = Field(default=None, max_length=64, json_schema_extra=SERIAL_RULE)
    timezone: str | None = Field(default=None, max_length=64, json_schema_extra=TIMEZONE_RULE)
    location: str | None = Field(default=None, max_length=4000, json_schema_extra=TEXT_RULE)
    notes: str | None = Field(default=None, max_length=4000, json_schema_extra=TEXT_RULE)
    tags: str | None = Field(default=None, max_length=L.TAGS_TEXT_MAX,
                             json_schema_extra=TAGS_RULE)


class PlanCodeIn(Body):
    code: str = Field(max_length=64, examples=["45F2-644E"], json_schema_extra=PLAN_CODE_RULE)


class TierIn(Body):
    tier: Tier


class LinkIn(Body):
    """Find an unlinked customer by e-mail or by the serial of one of their controllers."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=lambda schema: _show_storable_text(schema) or schema.update(
            anyOf=[
                {"required": ["email"], "properties": {"email": {"type": "string"}}},
                {"required": ["serial"], "properties": {"serial": {"type": "string"}}},
            ]
        ),
    )

    email: str | None = Field(default=None, max_length=320, json_schema_extra=EMAIL_RULE)
    serial: str | None = Field(default=None, max_length=64, json_schema_extra=TYPED_SERIAL_RULE)


class CustomerUserIn(Body):
    email: str = Field(max_length=320, json_schema_extra=EMAIL_RULE)
    password: str = Field(min_length=8, max_length=1000)


class PairIn(Body):
    code: str = Field(
        max_length=64, description="The pairing code the contractor got, XXXX-XXXX.",
        json_schema_extra=PAIRING_CODE_RULE,
    )
    serial: str = Field(
        max_length=64, description="The serial number the device reports.",
        json_schema_extra=TYPED_SERIAL_RULE,
    )
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
    seconds_left: int = Field(default=0, ge=0, le=INT32_MAX)


class ResultIn(Report):
    id: str = Field(max_length=36, description="The command id from a heartbeat answer.")
    ok: bool
    message: str = Field(default="", max_length=500)


class HeartbeatIn(Report):
    """Every key optional; an absent key means "unknown, keep what you had" (old firmware)."""

    applied_revision: Revision | None = None
    firmware: str | None = Field(default=None, max_length=64)
    locally_modified: bool = Field(
        default=False, description="The configuration was changed on the device itself."
    )
    enabled: bool | None = None
    running: RunningIn | None = None
    rain_delay_until: datetime | None = None
    uptime_s: int | None = Field(default=None, ge=0, le=INT32_MAX)
    faults: list[FaultIn] | None = Field(
        default=None, max_length=100, description="The current faults; [] = none (recovery)."
    )
    results: list[ResultIn] = Field(default_factory=list, max_length=100)


class RunZoneIn(Body):
    zone: int = Field(ge=1, le=L.ZONES_MAX)
    seconds: int = Field(ge=1, le=L.MANUAL_RUN_SECONDS_MAX)


Op = Literal[
    "customer.create",
    "customer.update",
    "customer.delete",
    "controller.create",
    "controller.update",
    "controller.delete",
    "config.put",
    "document.create",
    "document.update",
    "document.delete",
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


class NoteIn(Body):
    note: str = Field(default="", max_length=4000)


class SnoozeIn(Body):
    until: datetime
    note: str = Field(default="", max_length=4000)


class AssignIn(Body):
    user_id: str | None = Field(default=None, max_length=36, description="None: unassign.")


CommandKind = Literal[COMMAND_KINDS]  # type: ignore[valid-type]


class CommandIn(Body):
    kind: CommandKind = Field(examples=["zone.run"], description="docs/protocol.md's kinds.")
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
    timezone: str = Field(max_length=64, examples=["America/New_York"],
                          json_schema_extra=TIMEZONE_RULE)
    response_targets: dict[Membership, ResponseTargetIn] = Field(
        default_factory=dict, description="Overrides of the default table, per membership."
    )


# --- issue 15 ---


def document_kinds(schema: dict[str, Any]) -> None:
    """The spec lists the kinds registered when it is built (the server's, and tests')."""
    from fieldtech.domain.documents import kinds

    schema.pop("pattern", None)
    schema["enum"] = sorted(kinds())


class DocumentIn(Body):
    """A synced document (fieldtech.domain.documents); `data` is checked by its kind (the
    spec cannot say which fields each kind has: a 422 names them)."""

    id: UUID = Field(description="Chosen by the client, so a record made offline keeps its id.")
    kind: str = Field(max_length=32, json_schema_extra=document_kinds)
    data: dict[str, Any] = Field(default_factory=dict)


class DocumentPatch(Body):
    """Fields to set; a field set to null is removed."""

    data: dict[str, Any] = Field(default_factory=dict)
