"""The triage list: one line per open incident, the response countdown, marks.

Built on CursorList (only visible lines are rendered, a cursor move repaints two lines). The
countdown is shown to the minute and `tick()` repaints only the lines whose words changed, so
an idle minute over SSH writes a few hundred bytes, not a screen a second.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.geometry import Region
from textual.message import Message

from fieldtech.offline_store.triage_rows import TriageRow
from fieldtech.services.triage import age_text, due_text
from fieldtech.widgets.cursor_list import CursorList, Parts, fit

MEMBERSHIP_SHORT = {"proactive": "Pro", "priority": "Prio", "essentials": "Ess+",
                    "standard": "Std", "none": "—"}
SEVERITY_SHORT = {"critical": "CRIT", "warning": "warn", "info": "info"}
# (title, width) after the mark; "What" takes what is left of the line.
# The two cells that change with time alone come first: Textual writes a changed cell from the
# start of its line, so a clock at the far right cost the whole line each minute over SSH.
COLUMNS = [("Due in", 6), ("Age", 4), ("Sev", 4), ("Customer", 15), ("Plan", 4),
           ("Controller", 12), ("What", 0), ("Ack by", 7)]
CLOCK_CELLS = (1, 2)  # "Due in" and "Age" (0 is the mark)


class TriageList(CursorList):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Open", id="triage_open"),
    ]

    class Selected(Message):
        def __init__(self, row: TriageRow):
            super().__init__()
            self.row = row


    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC), *,
                 moved: Callable[[TriageRow | None], None] = lambda row: None,
                 id: str | None = None):
        super().__init__(id=id)
        self.clock = clock
        # Called at once when the cursor lands on another incident, not by a message: the
        # line under the list then repaints in the same frame as the cursor (one write per
        # key over SSH, not two a frame apart).
        self.moved = moved
        self.rows: list[TriageRow] = []
        self._shown: dict[int, tuple[str, str]] = {}  # line -> (due in, age) last painted

    @staticmethod
    def header(width: int = 80) -> str:
        return "".join(_cells(tuple(t for t, _ in COLUMNS), width, " "))

    def set_rows(self, rows: list[TriageRow]) -> None:
        """New rows; the cursor stays on the same incident when it is still there."""
        current = self.current
        self.rows = rows
        self.keep_marks({r.id for r in rows})
        ids = [r.id for r in rows]
        cursor = ids.index(current.id) if current and current.id in ids else self.cursor
        self._shown.clear()
        self.reset_lines(len(rows), cursor)
        self.moved(self.current)

    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def current(self) -> TriageRow | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def move_to(self, line: int) -> None:
        before = self.cursor
        super().move_to(line)
        if self.cursor != before:
            self.moved(self.current)

    def action_select(self) -> None:
        if (row := self.current) is not None:
            self.post_message(self.Selected(row))

    def shown_keys(self) -> set[str]:
        return {r.id for r in self.rows}

    def line_key(self, line: int) -> str | None:
        return self.rows[line].id if 0 <= line < len(self.rows) else None

    def tick(self) -> int:
        """Repaint the countdown and age cells whose words changed; returns how many lines.

        Only the cells: over SSH a whole line is ~300 B, a cell ~40 (a fleet whose incidents
        opened together turns every visible line's clock in the same second)."""
        now = self.clock()
        top = self.scroll_offset.y
        width = self.scrollable_content_region.width
        changed = 0
        for line in range(top, min(len(self.rows), top + self.size.height)):
            words = _clocks(self.rows[line], now)
            shown = self._shown.get(line)
            if shown == words:
                continue
            self._shown[line] = words
            self._discard(line)
            cells = [cell for cell, old, new in zip(CLOCK_CELLS, shown or (None, None), words,
                                                    strict=True) if old != new]
            x, _ = _cell_span(cells[0], width)
            end = sum(_cell_span(cells[-1], width))
            self.refresh(Region(x, line - top, end - x, 1))
            changed += 1
        return changed

    def _discard(self, line: int) -> None:
        for cursor in (True, False):
            self._cache.discard((line, cursor, self.scrollable_content_region.width))

    def line_parts(self, line: int, width: int) -> Parts:
        row = self.rows[line]
        now = self.clock()
        self._shown[line] = clocks = _clocks(row, now)
        due, age = clocks
        values = (due, age, SEVERITY_SHORT.get(row.severity, row.severity[:4]),
                  row.customer_name, MEMBERSHIP_SHORT.get(row.membership, row.membership[:4]),
                  row.controller_name, row.what + (f" ×{row.count}" if row.count > 1 else ""),
                  (row.acknowledged_by or "").split("@")[0])
        cells = _cells(values, width, "●" if row.id in self.marked else " ")
        responded = row.state != "open"
        late = row.breaching(now)
        styles = ["strong" if row.id in self.marked else "",
                  "offline" if late else ("dim" if responded else "warning"),
                  "dim" if responded else "",
                  "offline" if row.severity == "critical" and not responded else
                  ("dim" if responded or row.severity == "info" else "warning")]
        styles += ["dim" if responded else ""] * (len(cells) - len(styles))
        return list(zip(cells, styles, strict=True))


def _clocks(row: TriageRow, now: datetime) -> tuple[str, str]:
    """The two cells that change with time alone: due in, and age."""
    return due_text(row, now), age_text(row, now)


def _cell_span(cell: int, width: int) -> tuple[int, int]:
    """(x, width) of cell `cell` of a line (0 is the mark), as _cells lays them out."""
    widths = [1] + [(w or _what_width(width)) + 1 for _, w in COLUMNS]
    return sum(widths[:cell]), widths[cell]


def _what_width(width: int) -> int:
    fixed = sum(w + 1 for _, w in COLUMNS if w)
    return max(6, width - fixed - 2)


def _cells(values: tuple[str, ...], width: int, mark: str) -> list[str]:
    cells = [mark]
    for (_, w), value in zip(COLUMNS, values, strict=True):
        cells.append(fit(value, w or _what_width(width)) + " ")
    return cells
