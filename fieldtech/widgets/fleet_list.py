"""The fleet list: customers and their controllers, instant at 10,000 rows.

A ScrollView on Textual's line API: only visible lines are rendered, each rendered line is kept
in a small LRU cache, and a cursor move repaints just the two lines that changed (that is what
keeps a cursor move under 1.5 KB over SSH).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from fieldtech.domain.models import ControllerState
from fieldtech.domain.plans import Membership
from fieldtech.offline_store.store import FleetRow

STATE_MARK = {
    ControllerState.ONLINE: "●",
    ControllerState.OFFLINE: "○",
    ControllerState.NOT_LINKED: "◌",
    ControllerState.OUT_OF_SYNC: "≠",
    ControllerState.WAITING: "…",
}
CUSTOMER, CONTROLLER = 0, 1


def _fit(text: str, width: int) -> str:
    if width <= 0:
        return ""
    if len(text) > width:
        return text[: max(0, width - 1)] + "…"
    return text.ljust(width)


class FleetList(ScrollView, can_focus=True):
    """Customers (header lines) and their controllers; Enter selects the line under the cursor."""

    DEFAULT_CSS = """
    FleetList { background: $surface; }
    FleetList > .fleet-list--cursor { background: $accent 40%; text-style: bold; }
    FleetList:focus > .fleet-list--cursor { background: $accent; color: $text; }
    FleetList > .fleet-list--customer { text-style: bold; color: $text; }
    FleetList > .fleet-list--dim { color: $text-muted; }
    FleetList > .fleet-list--online { color: $success; }
    FleetList > .fleet-list--offline { color: $error; }
    FleetList > .fleet-list--warning { color: $warning; }
    FleetList > .fleet-list--pending { color: $secondary; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "fleet-list--cursor", "fleet-list--customer", "fleet-list--dim", "fleet-list--online",
        "fleet-list--offline", "fleet-list--warning", "fleet-list--pending",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("enter", "select", "Open", id="open"),
    ]

    class Selected(Message):
        """Enter on a line: a controller row, or a customer header (row is its first row)."""

        def __init__(self, fleet_list: FleetList, row: FleetRow, is_customer: bool):
            super().__init__()
            self.fleet_list = fleet_list
            self.row = row
            self.is_customer = is_customer

    def __init__(self, *, grouped: bool = True, name: str | None = None, id: str | None = None,
                 classes: str | None = None):
        super().__init__(name=name, id=id, classes=classes)
        self.grouped = grouped
        self.rows: list[FleetRow] = []
        self._lines: list[tuple[int, int]] = []  # (CUSTOMER | CONTROLLER, row index)
        self.cursor = 0
        self._cache: LRUCache[tuple[int, bool, int], Strip] = LRUCache(256)
        self._styles: dict[str, Style] = {}

    # -- data ---------------------------------------------------------------------------------

    def set_rows(self, rows: Sequence[FleetRow], keep: str | None = None) -> None:
        """Show `rows` (in order); keep the cursor on `keep`, a controller or customer id."""
        self.rows = list(rows)
        lines: list[tuple[int, int]] = []
        last_customer = None
        for i, r in enumerate(self.rows):
            if self.grouped and r.customer_id != last_customer:
                lines.append((CUSTOMER, i))
                last_customer = r.customer_id
            if r.controller_id:  # empty: a customer with no controller yet
                lines.append((CONTROLLER, i))
        self._lines = lines
        self._cache.clear()
        self.virtual_size = Size(self.size.width, len(lines))
        self.cursor = 0
        if keep is not None:
            self.cursor = next(
                (n for n, (kind, i) in enumerate(lines)
                 if (kind == CONTROLLER and self.rows[i].controller_id == keep)
                 or (kind == CUSTOMER and self.rows[i].customer_id == keep)), 0)
        elif self.grouped and len(lines) > 1 and lines[1][0] == CONTROLLER:
            self.cursor = 1  # on the first controller rather than its customer
        self.scroll_to(y=max(0, self.cursor - self.size.height // 2), animate=False)
        self.refresh()

    @property
    def line_count(self) -> int:
        return len(self._lines)

    @property
    def current(self) -> tuple[FleetRow, bool] | None:
        """(row, is_customer) under the cursor."""
        if not self._lines:
            return None
        kind, i = self._lines[self.cursor]
        return self.rows[i], kind == CUSTOMER

    # -- cursor -------------------------------------------------------------------------------

    def move_to(self, line: int) -> None:
        if not self._lines:
            return
        line = max(0, min(line, len(self._lines) - 1))
        old, self.cursor = self.cursor, line
        top, height = self.scroll_offset.y, self.scrollable_content_region.height
        if line < top:
            self.scroll_to(y=line, animate=False)
        elif line >= top + height:
            self.scroll_to(y=line - height + 1, animate=False)
        else:  # still in view: repaint only the two lines that changed
            self.refresh_lines(old)
            self.refresh_lines(line)

    def action_cursor(self, step: int) -> None:
        self.move_to(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self.move_to(self.cursor + direction * max(1, self.scrollable_content_region.height - 1))

    def action_first(self) -> None:
        self.move_to(0)

    def action_last(self) -> None:
        self.move_to(len(self._lines) - 1)

    def action_select(self) -> None:
        current = self.current
        if current is not None:
            self.post_message(self.Selected(self, *current))

    # -- rendering ----------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._cache.clear()

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self._lines))
        self._cache.clear()

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(f"fleet-list--{name}")
        return style

    def render_line(self, y: int) -> Strip:
        line = y + self.scroll_offset.y
        width = self.scrollable_content_region.width
        if line >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        key = (line, line == self.cursor, width)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._render(line, width)
            self._cache[key] = strip
        return strip

    def _render(self, line: int, width: int) -> Strip:
        kind, i = self._lines[line]
        row = self.rows[i]
        base = self.rich_style
        cursor = line == self.cursor
        parts = self._customer_parts(row, width) if kind == CUSTOMER else self._row_parts(row,
                                                                                         width)
        segments = []
        used = 0
        for text, style_name in parts:
            text = text[: width - used]
            if not text:
                break
            style = base + self._style(style_name) if style_name else base
            if cursor:
                style += self._style("cursor")
            segments.append(Segment(text, style))
            used += len(text)
        if used < width:
            pad = base + self._style("cursor") if cursor else base
            segments.append(Segment(" " * (width - used), pad))
        return Strip(segments, width)

    def _customer_parts(self, row: FleetRow, width: int) -> list[tuple[str, str]]:
        membership = Membership(row.membership)
        tag = "" if membership is Membership.NONE else f" {membership.label} "
        name = row.customer_name
        address = _fit(f"  {row.address}", max(0, width - len(name) - len(tag) - 1))
        return [(f" {name}", "customer"), (address, "dim"), (tag, "warning")]

    def _row_parts(self, row: FleetRow, width: int) -> list[tuple[str, str]]:
        state = row.state
        state_style = {
            ControllerState.ONLINE: "online",
            ControllerState.OFFLINE: "offline",
            ControllerState.NOT_LINKED: "dim",
            ControllerState.OUT_OF_SYNC: "warning",
            ControllerState.WAITING: "pending",
        }[state]
        indent = "   " if self.grouped else " "
        # The flat list (finder) also names the customer: both names share what is left.
        name_width = 22 if self.grouped else max(10, (width - 38) // 2)
        parts: list[tuple[str, str]] = [
            (indent, ""),
            (STATE_MARK[state] + " ", state_style),
            (_fit(row.name, name_width) + " ", ""),
        ]
        if not self.grouped:
            parts.append((_fit(row.customer_name, name_width) + " ", "dim"))
        parts += [
            (_fit(state.label, 11) + " ", state_style),
            (_fit(row.serial or "—", 15) + " ", "dim"),
            (f"{row.zone_count:>2}z ", "dim"),
            (f"✎{row.pending:<2}" if row.pending else "   ", "pending"),
        ]
        if row.fault:
            parts.append((" ⚠ " + row.fault, "offline"))
        return parts
