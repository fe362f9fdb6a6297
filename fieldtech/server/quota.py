"""Plan limits enforced in the database: a conditional UPDATE of the account's usage counter in
the same transaction as the insert, so concurrent creates can never pass the limit.

The numbers come from fieldtech.domain.plans; this module only applies them.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from fieldtech.domain.plans import Tier, TierLimits, smallest_tier_for, tier_limits
from fieldtech.server.problems import Problem, ProblemType
from fieldtech.server.tables import AccountRow


def limits_of(account: AccountRow) -> TierLimits:
    custom = None
    if account.custom_controllers is not None:
        custom = TierLimits(
            controllers=account.custom_controllers,
            staff_users=account.custom_staff or 0,
            included_enthusiast=account.custom_enthusiast or 0,
        )
    return tier_limits(Tier(account.tier), custom)


def take_controller_slots(s: Session, account: AccountRow, n: int = 1) -> None:
    limit = limits_of(account).controllers
    if not _take(s, account.id, AccountRow.controllers_used, n, limit):
        used = _current(s, account.id, AccountRow.controllers_used)
        upgrade = smallest_tier_for(used + n)
        raise Problem(
            ProblemType.QUOTA_EXCEEDED,
            f"{used} of {limit} controllers are used on the {Tier(account.tier).label} plan; "
            f"adding {n} would pass the limit.",
            what="controllers",
            limit=limit,
            used=used,
            plan=account.tier,
            fix=f"Upgrade to {upgrade.label} or remove a controller or customer "
            "(unlinking a customer frees their controllers).",
            upgrade_to=upgrade.value,
        )


def release_controller_slots(s: Session, account_id: str, n: int = 1) -> None:
    s.execute(
        update(AccountRow)
        .where(AccountRow.id == account_id)
        .values(controllers_used=AccountRow.controllers_used - n)
    )


def take_included_enthusiast(s: Session, account: AccountRow) -> None:
    limit = limits_of(account).included_enthusiast
    if not _take(s, account.id, AccountRow.enthusiast_used, 1, limit):
        used = _current(s, account.id, AccountRow.enthusiast_used)
        raise Problem(
            ProblemType.QUOTA_EXCEEDED,
            f"All {limit} Enthusiast plans included in the {Tier(account.tier).label} plan "
            "are assigned.",
            what="included_enthusiast",
            limit=limit,
            used=used,
            plan=account.tier,
            fix="Redeem a plan code, send a purchase request, move a customer back to Home, "
            "or upgrade the contractor plan.",
        )


def release_included_enthusiast(s: Session, account_id: str) -> None:
    s.execute(
        update(AccountRow)
        .where(AccountRow.id == account_id)
        .values(enthusiast_used=AccountRow.enthusiast_used - 1)
    )


def take_staff_seat(s: Session, account: AccountRow) -> None:
    limit = limits_of(account).staff_users
    if not _take(s, account.id, AccountRow.staff_used, 1, limit):
        used = _current(s, account.id, AccountRow.staff_used)
        raise Problem(
            ProblemType.QUOTA_EXCEEDED,
            f"{used} of {limit} staff users on the {Tier(account.tier).label} plan.",
            what="staff_users",
            limit=limit,
            used=used,
            plan=account.tier,
            fix="Remove a staff user or upgrade the contractor plan.",
        )


def release_staff_seat(s: Session, account_id: str) -> None:
    s.execute(
        update(AccountRow)
        .where(AccountRow.id == account_id)
        .values(staff_used=AccountRow.staff_used - 1)
    )


def _take(s: Session, account_id: str, column, n: int, limit: int) -> bool:  # type: ignore[no-untyped-def]
    result = s.execute(
        update(AccountRow)
        .where(AccountRow.id == account_id, column + n <= limit)
        .values({column: column + n})
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def _current(s: Session, account_id: str, column) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    return int(s.scalar(select(column).where(AccountRow.id == account_id)) or 0)
