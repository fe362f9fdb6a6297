"""The switcher (`s` then a digit: pinned and recent controllers) and the fuzzy finder (`f`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from fieldtech.offline_store.store import FleetRow
from fieldtech.widgets.fleet_list import FleetList

if TYPE_CHECKING:
    from fieldtech.app import FieldtechApp


class SearchBox(Input):
    """The switcher's search box: while empty, a digit is a shortcut, not text."""

    def __init__(self, shortcuts: int, **kwargs: object):
        super().__init__(**kwargs)
        self.shortcuts = shortcuts  # digits 1..shortcuts open one; others are text

    def _is_shortcut(self, character: str | None) -> bool:
        return bool(not self.value and character and character in "123456789"
                    and int(character) <= self.shortcuts)

    def check_consume_key(self, key: str, character: str | None) -> bool:
        # Keeps the screen's digit bindings in the binding chain while the box is empty.
        return not self._is_shortcut(character) and super().check_consume_key(key, character)

    async def _on_key(self, event: events.Key) -> None:
        if self._is_shortcut(event.character):
            event.prevent_default()  # skip Input's own handler; the key bubbles to the bindings


class SwitcherScreen(ModalScreen[str | None]):
    """Pick a controller: a digit for a pinned/recent one, or type to search every controller.

    Dismisses with the chosen controller id (None if cancelled).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "move(1)", "Down", show=False),
        Binding("up", "move(-1)", "Up", show=False),
        Binding("enter", "choose", "Open", show=False),
        # The search box leaves digits to these while it is empty (SearchBox).
        *[Binding(str(n), f"shortcut({n})", f"Open {n}", show=False)
          for n in range(1, 10)],
    ]

    app: FieldtechApp

    def __init__(self, shortcuts: list[tuple[FleetRow, bool]], finder: bool = False):
        super().__init__()
        self.shortcuts = shortcuts  # (row, pinned)
        self.finder = finder

    def compose(self) -> ComposeResult:
        title = "Find a controller" if self.finder else "Switch to…"
        with Vertical(classes="dialog"):
            yield Static(title, classes="dialog-title")
            yield SearchBox(0 if self.finder else len(self.shortcuts),
                            placeholder="Name, customer, address or serial", id="finder-input")
            yield Static(self._shortcut_text(), id="switcher-items")
            yield FleetList(grouped=False, id="finder-list", classes="hidden")
            yield Static(self._hint(), classes="dialog-hint", id="finder-hint")

    def _hint(self) -> str:
        if self.finder:
            return "Type to search · ↑↓ choose · Enter open · Esc cancel"
        return "1–9 open · or type to search every controller · Esc cancel"

    def _shortcut_text(self) -> str:
        if self.finder:
            return ""
        if not self.shortcuts:
            return "[dim]No recent controllers yet: type to search.[/dim]"
        lines = []
        for n, (row, pinned) in enumerate(self.shortcuts, start=1):
            pin = "📌" if pinned else "  "
            lines.append(f" [b]{n}[/b] {pin} {row.name} [dim]— {row.customer_name}[/dim]")
        return "\n".join(lines)

    def on_mount(self) -> None:
        self.query_one("#finder-input", Input).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "shortcut":
            # Two keystrokes: the switcher key, then a digit, while nothing is typed yet.
            # Otherwise the digit is part of the search (serial numbers have digits).
            box = self.query_one("#finder-input", SearchBox)
            return box._is_shortcut(str(parameters[0]))
        return True

    def action_shortcut(self, n: int) -> None:
        self.dismiss(self.shortcuts[n - 1][0].controller_id)

    def on_input_changed(self, event: Input.Changed) -> None:
        results = self.query_one("#finder-list", FleetList)
        query = event.value.strip()
        hits = self.app.index.search(query) if (query and self.app.index) else []
        # Toggle what shows only when it changes: each toggle costs a layout pass.
        if results.has_class("hidden") == bool(query):
            results.set_class(not query, "hidden")
            self.query_one("#switcher-items").display = not query
        results.set_rows(hits)

    def action_move(self, step: int) -> None:
        self.query_one("#finder-list", FleetList).action_cursor(step)

    def action_choose(self) -> None:
        current = self.query_one("#finder-list", FleetList).current
        if current is not None:
            self.dismiss(current[0].controller_id)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_choose()

    def on_fleet_list_selected(self, event: FleetList.Selected) -> None:
        self.dismiss(event.row.controller_id)

    def action_cancel(self) -> None:
        self.dismiss(None)
