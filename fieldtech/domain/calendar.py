"""Whose calendar a membership follows: the contractor's.

The memberships only the calendar changes (a cancelled term running out, an agreement or a
suspension starting on a later day) change at midnight in the contractor's time zone: the
account's service time zone, the one its SLA clocks already run in (UTC until the contractor
sets it, `PUT /v1/account/service-settings`). The cloud reads it from the account's settings;
a store learns it with the account at each sync. A store never synced has no account yet: it
follows its computer's clock, which is the contractor's own.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo

ACCOUNT_DEFAULT_TIMEZONE = "UTC"  # an account that never set one (and an older cloud)


def utc_now() -> datetime:
    """The moment every "today" here is taken at (one place, so a test can move the clock)."""
    return datetime.now(UTC)


def contractor_today(timezone: str | None, now: datetime | None = None) -> date:
    """The contractor's day at `now` (a naive `now` is UTC, as the cloud keeps it). `timezone`
    None: this computer's. A name this computer does not know counts as the account default
    (the cloud refuses to store one it does not know)."""
    moment = now or utc_now()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if timezone is None:
        return moment.astimezone().date()
    # Imported here: zoneinfo (and sysconfig with it) cost ~2 ms of the app's start, whose
    # first paint never asks for a day (a store never synced follows this computer's clock).
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    zone: tzinfo
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC  # ACCOUNT_DEFAULT_TIMEZONE without a tz database (Windows without tzdata)
    return moment.astimezone(zone).date()
