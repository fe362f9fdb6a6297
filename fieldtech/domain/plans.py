"""The contractor plan table and customer plans: the one module that knows the numbers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Tier(StrEnum):
    """Contractor plan tiers (Hydrawise-style), counted over every linked customer's controllers."""

    STARTER = "starter"
    CONTRACTOR = "contractor"
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"
    PLATINUM = "platinum"

    @property
    def label(self) -> str:
        return self.value.capitalize()


@dataclass(frozen=True)
class TierLimits:
    controllers: int
    staff_users: int
    included_enthusiast: int


# Platinum has no fixed row: its limits are set per account (Account.custom_limits).
PLAN_TABLE: dict[Tier, TierLimits] = {
    Tier.STARTER: TierLimits(controllers=25, staff_users=5, included_enthusiast=0),
    Tier.CONTRACTOR: TierLimits(controllers=75, staff_users=5, included_enthusiast=2),
    Tier.BRONZE: TierLimits(controllers=150, staff_users=15, included_enthusiast=12),
    Tier.SILVER: TierLimits(controllers=250, staff_users=30, included_enthusiast=20),
    Tier.GOLD: TierLimits(controllers=400, staff_users=45, included_enthusiast=35),
}
PLATINUM_DEFAULT = TierLimits(controllers=5000, staff_users=200, included_enthusiast=500)


def tier_limits(tier: Tier, custom: TierLimits | None = None) -> TierLimits:
    """Limits of a tier; Platinum takes the account's own figures (a default if none were set)."""
    if tier is Tier.PLATINUM:
        return custom or PLATINUM_DEFAULT
    return PLAN_TABLE[tier]


def smallest_tier_for(controllers: int) -> Tier:
    """The cheapest fixed tier whose controller limit holds `controllers` (Platinum beyond Gold)."""
    for tier, limits in PLAN_TABLE.items():
        if controllers <= limits.controllers:
            return tier
    return Tier.PLATINUM


class CustomerPlan(StrEnum):
    HOME = "home"
    ENTHUSIAST = "enthusiast"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class SelfManagement(StrEnum):
    """What a customer may do with their own controllers."""

    NONE = "none"
    VIEW_AND_RUN = "view_and_run"
    MODIFY = "modify"

    @property
    def label(self) -> str:
        return {"none": "None", "view_and_run": "View and run zones", "modify": "Modify"}[
            self.value
        ]


class Membership(StrEnum):
    """Service membership tiers; `priority` orders the triage list (fast-response first)."""

    NONE = "none"
    STANDARD = "standard"
    ESSENTIALS = "essentials"
    PRIORITY = "priority"
    PROACTIVE = "proactive"

    @property
    def label(self) -> str:
        return self.value.capitalize() if self is not Membership.NONE else "No membership"

    @property
    def promise(self) -> str:
        return MEMBERSHIP_PROMISES[self]

    @property
    def priority(self) -> int:
        """Lower sorts first in triage."""
        return {
            Membership.PROACTIVE: 0,
            Membership.PRIORITY: 1,
            Membership.ESSENTIALS: 2,
            Membership.STANDARD: 3,
            Membership.NONE: 4,
        }[self]


MEMBERSHIP_PROMISES: dict[Membership, str] = {
    Membership.NONE: "Best effort",
    Membership.STANDARD: "Business hours",
    Membership.ESSENTIALS: "24/7 basic support, 30-min response",
    Membership.PRIORITY: "30-min response, 1-hour urgent, same-day on site",
    Membership.PROACTIVE: "Priority + device monitoring + visits",
}


@dataclass(frozen=True)
class Usage:
    """What an account uses of its plan, as shown in the header and the plans screen."""

    tier: Tier
    controllers_used: int
    controllers_limit: int
    enthusiast_used: int
    enthusiast_available: int
    staff_limit: int

    @property
    def controllers_free(self) -> int:
        return max(0, self.controllers_limit - self.controllers_used)

    def controller_warning(self, adding: int = 1) -> str | None:
        """A warning before the limit is reached or passed by adding `adding` controllers."""
        after = self.controllers_used + adding
        if after > self.controllers_limit:
            return (
                f"This would be {after} of {self.controllers_limit} controllers on "
                f"{self.tier.label}: over the limit. It stays a local draft until the plan is "
                f"upgraded (e.g. to {smallest_tier_for(after).label}) or a customer is removed."
            )
        if after == self.controllers_limit:
            return f"This is {after} of {self.controllers_limit} controllers on {self.tier.label}."
        return None


def usage(
    tier: Tier,
    controllers_used: int,
    enthusiast_used: int,
    custom: TierLimits | None = None,
) -> Usage:
    """Controllers used / limit and included Enthusiast plans used / available for an account."""
    limits = tier_limits(tier, custom)
    return Usage(
        tier=tier,
        controllers_used=controllers_used,
        controllers_limit=limits.controllers,
        enthusiast_used=enthusiast_used,
        enthusiast_available=max(0, limits.included_enthusiast - enthusiast_used),
        staff_limit=limits.staff_users,
    )
