"""The `/` filter of a list (the fleet, triage): hidden until opened; Esc clears it first."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import Input


class FilterBox(Input):
    # Shown in the key bar while the box has the focus (the screen's own Esc says "back");
    # each screen with a filter box has `clear_filter`.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "screen.clear_filter", "Clear filter")]
    DEFAULT_CSS = """
    FilterBox { dock: top; height: 3; display: none; }
    FilterBox.visible { display: block; }
    """

    def open(self) -> None:
        self.add_class("visible")
        self.focus()

    def close(self) -> bool:
        """Empty and hide it; False when there was nothing to close (Esc means "back")."""
        if not (self.value or self.has_class("visible")):
            return False
        self.value = ""
        self.remove_class("visible")
        return True
