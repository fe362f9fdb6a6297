"""A light table of records (zones, programs, pending edits) with a cursor (a CursorList).

DataTable renders every cell through Rich and re-lays itself out on each refill: ~50 ms a
controller switch here. This renders plain fixed-width columns, which is all these need.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.segment import Segment
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.message import Message
from textual.strip import Strip

from fieldtech.widgets.cursor_list import CursorList, Parts, fit


class RecordTable(CursorList):
    # Enter edits the row; the screen's own "e Edit" already says so in the footer.
    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select", "Edit", show=False)]

    class Selected(Message):
        """Enter on a row."""

        def __init__(self, table: RecordTable, row: int):
            super().__init__()
            self.table = table
            self.row = row

    class Moved(Message):
        """The cursor is on another row (for a detail that follows it: a screen's on_key
        runs before the table's key binding has moved the cursor)."""

    def __init__(self, columns: Sequence[tuple[str, int]], *, empty: str = "Nothing here.",
                 id: str | None = None, classes: str | None = None):
        """`columns`: (title, width); a width of 0 takes what is left of the line."""
        super().__init__(id=id, classes=classes)
        self.columns = list(columns)
        self.empty = empty
        self.rows: list[tuple[str, ...]] = []
        self._filled = False  # no `empty` hint before the first rows are read: still loading
        # Lines drawn, by what they show and how: a refill with rows seen before (switching
        # back to a controller, a zone list that did not change) draws none of them again.
        self._drawn: LRUCache[tuple[object, ...], Strip] = LRUCache(256)

    def header(self, width: int = 80) -> str:
        return "".join(self._cells(tuple(title for title, _ in self.columns), width))

    def set_rows(self, rows: Sequence[tuple[str, ...]], keep_cursor: bool = False) -> None:
        self.rows = list(rows)
        self._filled = True
        self.reset_lines(len(self.rows), self.cursor if keep_cursor else 0)

    def move_to(self, line: int) -> None:
        before = self.cursor
        super().move_to(line)
        if self.cursor != before:
            self.post_message(self.Moved())

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def action_select(self) -> None:
        if self.rows:
            self.post_message(self.Selected(self, self.cursor))

    def render_line(self, y: int) -> Strip:
        # An empty table says so on its first line, and what to do (each screen's `empty`):
        # a blank box looks like a list still loading.
        if y == 0 and not self.rows and self._filled and self.empty:
            width = self.scrollable_content_region.width
            return Strip([Segment(fit(f" {self.empty}", width),
                                  self.line_style + self._style("dim"))], width)
        return super().render_line(y)

    def line_parts(self, line: int, width: int) -> Parts:
        # One piece: the cells share the line's style, and each segment costs the compositor
        # and the terminal's diff something on every frame.
        return [("".join(self._cells(self.rows[line], width)), "")]

    def _render(self, line: int, width: int) -> Strip:
        base = self.line_style
        key = (self.rows[line], width, base,
               self._style("cursor") if line == self.cursor else None)
        strip = self._drawn.get(key)
        if strip is None:
            strip = self._drawn[key] = super()._render(line, width)
        self._base = base
        return strip

    def _cells(self, values: tuple[str, ...], width: int) -> list[str]:
        fixed = sum(w + 1 for _, w in self.columns if w)
        cells = [" "]
        for (_, w), value in zip(self.columns, values, strict=False):
            cells.append(fit(value, w or max(4, width - fixed - 2)) + " ")
        return cells
