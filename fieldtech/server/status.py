"""A controller's state as the fleet list shows it, derived from what its device last reported."""

from __future__ import annotations

from datetime import datetime, timedelta

from fieldtech.domain.models import ControllerState

# No contact for this long and a controller counts as offline (DESIGN.md: about 7 minutes).
OFFLINE_AFTER = timedelta(minutes=7)


def controller_state(
    *,
    serial: str | None,
    config_revision: int,
    last_contact: datetime | None,
    applied_revision: int | None,
    locally_modified: bool,
    now: datetime,
) -> ControllerState:
    # Offline is worked out when asked, not by a sweeper job: it can never lag or be missed.
    if serial is None:
        return ControllerState.NOT_LINKED
    if last_contact is None or now - last_contact > OFFLINE_AFTER:
        return ControllerState.OFFLINE
    if locally_modified:
        return ControllerState.OUT_OF_SYNC
    if (applied_revision or 0) < config_revision:
        return ControllerState.WAITING
    return ControllerState.ONLINE
