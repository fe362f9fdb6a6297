"""A controller's state as the fleet list shows it, derived from what its device last reported."""

from __future__ import annotations

from datetime import datetime

from fieldtech.domain.incidents import offline_after
from fieldtech.domain.models import ControllerState


def controller_state(
    *,
    serial: str | None,
    config_revision: int,
    last_contact: datetime | None,
    applied_revision: int | None,
    locally_modified: bool,
    now: datetime,
    heartbeat_s: int,
) -> ControllerState:
    # Offline is worked out when asked, not by a sweeper job: it can never lag or be missed.
    if serial is None:
        return ControllerState.NOT_LINKED
    # The offline incidents' rule (missed heartbeats), so the fleet and triage agree.
    if last_contact is None or now - last_contact > offline_after(heartbeat_s):
        return ControllerState.OFFLINE
    if locally_modified:
        return ControllerState.OUT_OF_SYNC
    if (applied_revision or 0) < config_revision:
        return ControllerState.WAITING
    return ControllerState.ONLINE
