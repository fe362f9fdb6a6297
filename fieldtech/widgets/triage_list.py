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
from textual.message import Message

from fieldtech.offline_store.live import TriageRow
from fieldtech.services.triage import due_text, span
from fieldtech.widgets.cursor_list import CursorList, Parts, fit

MEMBERSHIP_SHORT = {"proactive": "Pro", "priority": "Prio", "essentials": "Ess+",
                    "standard": "Std", "none": "—"}
SEVERITY_SHORT = {"critical": "CRIT", "warning": "warn", "info": "info"}
# (title, width) after the mark; "What" takes what is left of the line.
COLUMNS = [("Due in", 6), ("Sev", 4), ("Customer", 15), ("Plan", 4), ("Controller", 12),
           ("What", 0), ("Age", 4), ("Ack by", 7)]


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
        self._shown: dict[int, str] = {}  # line -> the countdown words last painted

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
        """Repaint the visible lines whose countdown changed; returns how many."""
        now = self.clock()
        top = self.scroll_offset.y
        changed = 0
        for line in range(top, min(len(self.rows), top + self.size.height)):
            words = due_text(self.rows[line], now)
            if self._shown.get(line) != words:
                self._shown[line] = words
                self.repaint_line(line)
                changed += 1
        return changed

    def line_parts(self, line: int, width: int) -> Parts:
        row = self.rows[line]
        now = self.clock()
        due = self._shown[line] = due_text(row, now)
        values = (due, SEVERITY_SHORT.get(row.severity, row.severity[:4]), row.customer_name,
                  MEMBERSHIP_SHORT.get(row.membership, row.membership[:4]), row.controller_name,
                  row.what + (f" ×{row.count}" if row.count > 1 else ""),
                  span((now - row.opened_at).total_seconds()) if row.opened_at else "",
                  (row.acknowledged_by or "").split("@")[0])
        cells = _cells(values, width, "●" if row.id in self.marked else " ")
        responded = row.state != "open"
        late = row.breaching(now)
        styles = ["strong" if row.id in self.marked else "",
                  "offline" if late else ("dim" if responded else "warning"),
                  "offline" if row.severity == "critical" and not responded else
                  ("dim" if responded or row.severity == "info" else "warning")]
        styles += ["dim" if responded else ""] * (len(cells) - len(styles))
        return list(zip(cells, styles, strict=True))


def _cells(values: tuple[str, ...], width: int, mark: str) -> list[str]:
    fixed = sum(w + 1 for _, w in COLUMNS if w)
    cells = [mark]
    for (_, w), value in zip(COLUMNS, values, strict=True):
        cells.append(fit(value, w or max(6, width - fixed - 2)) + " ")
    return cells
