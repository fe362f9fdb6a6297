"""Messages the app sends its screens (small named classes, one place)."""

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
