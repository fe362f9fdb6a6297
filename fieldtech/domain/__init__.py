"""The domain: plain records, validation, the plan table and error types (no I/O, no textual)."""

from fieldtech.domain.errors import (
    FieldError,
    FieldtechError,
    NotFound,
    QuotaExceeded,
    ValidationError,
)
from fieldtech.domain.models import (
    Account,
    Controller,
    ControllerConfig,
    ControllerState,
    Customer,
    Program,
    ScheduleKind,
    Zone,
    new_id,
)
from fieldtech.domain.plans import (
    PLAN_TABLE,
    CustomerPlan,
    Membership,
    SelfManagement,
    Tier,
    TierLimits,
    Usage,
    tier_limits,
    usage,
)

__all__ = [
    "PLAN_TABLE",
    "Account",
    "Controller",
    "ControllerConfig",
    "ControllerState",
    "Customer",
    "CustomerPlan",
    "FieldError",
    "FieldtechError",
    "Membership",
    "NotFound",
    "Program",
    "QuotaExceeded",
    "ScheduleKind",
    "SelfManagement",
    "Tier",
    "TierLimits",
    "Usage",
    "ValidationError",
    "Zone",
    "new_id",
    "tier_limits",
    "usage",
]
