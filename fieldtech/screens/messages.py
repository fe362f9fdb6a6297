"""Messages between the screens and the app (small named classes, one place).

Screens post the ones that ask for app-wide work (open a controller, reload the fleet); they
bubble up to the app, which routes. The app posts `Synced` to every screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from fieldtech.cloud.sync import SyncReport


class Synced(Message):
    """A sync finished: screens showing cloud-related state read it again."""

    def __init__(self, report: SyncReport):
        super().__init__()
        self.report = report


class OpenController(Message):
    """Show this controller (it becomes the current one and leads the recents)."""

    def __init__(self, controller_id: str):
        super().__init__()
        self.controller_id = controller_id


class OpenOnsite(Message):
    """The on-site screen, to bind `controller_id` if given."""

    def __init__(self, controller_id: str | None = None):
        super().__init__()
        self.controller_id = controller_id


class RecordsChanged(Message):
    """Records were written: read the fleet again, keeping the cursor on `keep`; `open_id`
    is a controller just created or edited, to show (fresh from the store)."""

    def __init__(self, keep: str | None = None, open_id: str | None = None,
                 reload_current: bool = False):
        super().__init__()
        self.keep = keep
        self.open_id = open_id
        self.reload_current = reload_current  # the controller shown may have changed too


class ControllerGone(Message):
    """A controller is no longer in the store: forget it, and leave its screen if it shows
    (saying `why`); `notice` is said instead when its screen does not show."""

    def __init__(self, controller_id: str, why: str = "", notice: str = ""):
        super().__init__()
        self.controller_id = controller_id
        self.why = why
        self.notice = notice


class SignedIn(Message):
    """The login screen got a token: connect, keep it where the user allows, and sync."""

    def __init__(self, url: str, email: str, token: str):
        super().__init__()
        self.url, self.email, self.token = url, email, token


class SyncWanted(Message):
    """Sync in the background now unless one is running (e.g. to pull a plan just changed)."""
