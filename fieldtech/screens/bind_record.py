"""Pick the record a found device belongs to: a prepared (not linked) controller, or a new one.

Finder-style: type part of a controller or customer name; Enter picks. Dismisses with
("record", controller_id), ("new", customer_id) or None.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from fieldtech.offline_store.store import FleetRow
from fieldtech.screens.frames import PromptFrames
from fieldtech.screens.keymap_first import KeymapFirst
from fieldtech.screens.markup import escape

SHOWN = 40  # per kind; typing narrows a 10,000-controller fleet to what matters

Choice = tuple[str, str]  # ("record" | "new", id)


class BindRecordScreen(KeymapFirst, PromptFrames, ModalScreen[Choice | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "move(1)", "Down", show=False),
        Binding("up", "move(-1)", "Up", show=False),
    ]

    def __init__(self, device_text: str, rows: Sequence[FleetRow], first: str | None = None,
                 quota: str = ""):
        super().__init__()
        self.device_text = device_text
        self.first = first  # the controller the technician came from, offered first
        self.rows = list(rows)
        self.quota = quota

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"Bind {escape(self.device_text)} to…", classes="dialog-title")
            yield Input(placeholder="Controller or customer name", id="bind-search")
            yield OptionList(id="bind-options")
            yield Static(self.quota, id="bind-quota", classes="dialog-hint")
            yield Static("A prepared controller (not linked), or ＋ a new one for a customer · "
                         "↑↓ Enter · Esc cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one("#bind-search", Input).focus()

    def _fill(self, query: str) -> None:
        terms = query.casefold().split()

        def hit(*texts: str) -> bool:
            text = " ".join(texts).casefold()
            return all(t in text for t in terms)

        records: list[Option] = []
        customers: dict[str, str] = {}
        for row in self.rows:
            if not hit(row.name, row.customer_name):
                continue
            if row.customer_id not in customers and len(customers) < SHOWN:
                customers[row.customer_id] = row.customer_name
            if row.controller_id and (not row.serial or row.controller_id == self.first):
                option = Option(f"{escape(row.name)} [dim]— {escape(row.customer_name)} · "
                                f"{escape(row.model)} · {row.zone_count} zones"
                                f"{' · bound to ' + escape(row.serial) if row.serial else ''}"
                                "[/dim]",
                                id=f"record:{row.controller_id}")
                if row.controller_id == self.first:
                    records.insert(0, option)
                elif len(records) < SHOWN:
                    records.append(option)
        new = [Option(f"＋ New controller for {escape(name)}", id=f"new:{cid}")
               for cid, name in customers.items()]
        options = self.query_one("#bind-options", OptionList)
        options.clear_options()
        options.add_options(records + new)
        if options.option_count:
            options.highlighted = 0

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def action_move(self, step: int) -> None:
        options = self.query_one("#bind-options", OptionList)
        if options.option_count:
            current = options.highlighted or 0
            options.highlighted = max(0, min(options.option_count - 1, current + step))

    def on_input_submitted(self) -> None:
        options = self.query_one("#bind-options", OptionList)
        if options.highlighted is not None:
            self._choose(options.get_option_at_index(options.highlighted).id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id)

    def _choose(self, option_id: str | None) -> None:
        if option_id:
            kind, _, record_id = option_id.partition(":")
            self.dismiss((kind, record_id))

    def action_cancel(self) -> None:
        self.dismiss(None)
