"""The fleet list: customers and their controllers, instant at 10,000 rows (a CursorList)."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence, Set
from itertools import chain, compress, repeat
from operator import add, and_, itemgetter, mul, ne, rshift

from rich.cells import cell_len
from textual.message import Message

from fieldtech.domain.models import ControllerState
from fieldtech.domain.plans import Membership
from fieldtech.offline_store.store import FleetRow
from fieldtech.services.fleet_index import InOrder
from fieldtech.widgets.cursor_list import CursorList, Parts, fit

STATE_MARK = {
    ControllerState.ONLINE: "●",
    ControllerState.OFFLINE: "○",
    ControllerState.NOT_LINKED: "◌",
    ControllerState.OUT_OF_SYNC: "≠",
    ControllerState.WAITING: "…",
}
STATE_STYLE = {
    ControllerState.ONLINE: "online",
    ControllerState.OFFLINE: "offline",
    ControllerState.NOT_LINKED: "dim",
    ControllerState.OUT_OF_SYNC: "warning",
    ControllerState.WAITING: "pending",
}
CUSTOMER, CONTROLLER = 0, 1
_CONTROLLER_ID = itemgetter(FleetRow._fields.index("controller_id"))
_CUSTOMER_ID = itemgetter(FleetRow._fields.index("customer_id"))


class FleetList(CursorList):
    """Customers (header lines) and their controllers; Enter selects the line under the cursor.

    `grouped=False` is the finder's flat list: controllers only, each naming its customer.
    """

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
        self._lines = _Lines((), ())  # line n is (CUSTOMER | CONTROLLER, row index)
        self._ids: list[str] = []  # each row's controller id, and its customer's
        self._customers: list[str] = []
        self._view: InOrder | None = None  # rows shown as a view of the fleet's index
        # The last list given whole (the fleet), with its ids and lines: going back to it
        # from a sort or a filter shows these again (100,000 rows: ~50 ms to build).
        self._whole: tuple[list[FleetRow], list[str], list[str], _Lines] | None = None
        self._keys: frozenset[str] = frozenset()  # the controllers of `_keys_of`, for `*`
        self._keys_of: list[str] | None = None

    def set_rows(self, rows: Sequence[FleetRow], keep: str | None = None) -> None:
        """Show `rows` (in order); keep the cursor on `keep`, a controller or customer id.
        A list is kept as it is, not copied (100,000 rows: 20 ms): it must not change after."""
        if isinstance(rows, InOrder) and not self.grouped:
            # A sort or filter of the fleet's index, controllers only: a line is a row, and a
            # record's line and the ids shown are the view's to find (no pass over the rows).
            self.rows, self._view = rows, rows
            self._ids, self._customers = [], []
            self._lines = _Lines((), range(len(rows)))  # line n is row n
            self.reset_lines(len(rows), (keep and rows.place_of(keep)) or 0)
            return
        self._view = None
        whole = self._whole
        if whole is not None and rows is whole[0] and self.grouped:
            self.rows, self._ids, self._customers, self._lines = whole
        else:
            self._make_lines(rows)
        lines = self._lines
        cursor = 0
        if keep is not None:
            cursor = self.line_of(keep) or 0
        elif self.grouped and len(lines) > 1 and lines[1][0] == CONTROLLER:
            cursor = 1  # on the first controller rather than its customer
        self.reset_lines(len(lines), cursor)

    def _make_lines(self, rows: Sequence[FleetRow]) -> None:
        self._forget_keys()
        given = isinstance(rows, list)
        self.rows = rows = rows if isinstance(rows, list) else list(rows)
        if self.grouped:
            self._ids, self._customers, self._lines = grouped_lines(rows)
            if given:  # (a list made here from a view is never given again)
                self._whole = (rows, self._ids, self._customers, self._lines)
            return
        # A flat list has no customer lines to find (each pass over the rows is 5–50 ms at
        # 100,000, depending on how the rows lie in memory).
        self._ids = ids = list(map(_CONTROLLER_ID, rows))  # "": a customer with none yet
        self._customers = []
        self._lines = _Lines((), compress(range(len(rows)), ids))

    def take_lines(self, rows: list[FleetRow], made: GroupedLines) -> None:
        """The grouped lines of `rows`, made beforehand by `grouped_lines` (in the thread
        that read them): the next `set_rows(rows)` shows them without making them here
        (100,000 rows: 75–290 ms on the event loop, in the keys pressed meanwhile)."""
        self._whole = (rows, *made)
        self._forget_keys()

    def _forget_keys(self) -> None:
        """The last fleet's set for `*` goes with it (100,000 ids: ~12 MB kept otherwise)."""
        self._keys, self._keys_of = frozenset(), None

    def line_of(self, record_id: str) -> int | None:
        """The line of a controller, or of a customer's header, by id (None: not shown)."""
        if not record_id:
            return None
        if self._view is not None:
            return self._view.place_of(record_id)
        for kind, ids in ((CONTROLLER, self._ids), (CUSTOMER, self._customers)):
            try:
                i = ids.index(record_id)  # its (first) row, found in C
            except ValueError:
                continue
            line = bisect_left(self._lines.rows, i)  # lines are in row order
            for n in (line, line + 1):  # a header comes before its first controller
                if n < len(self._lines) and self._lines[n] == (kind, i):
                    return n
            return None
        return None

    def follow(self, record_id: str) -> None:
        """The cursor on a record, the lines kept (back from a controller: one frame that
        repaints the cursor's lines, not the list)."""
        line = self.line_of(record_id)
        if line is not None:
            self.place_cursor(line)

    @property
    def current(self) -> tuple[FleetRow, bool] | None:
        """(row, is_customer) under the cursor."""
        if not self._lines:
            return None
        kind, i = self._lines[self.cursor]
        return self.rows[i], kind == CUSTOMER

    @property
    def current_id(self) -> str | None:
        """The id of the record under the cursor: a controller's, or a customer line's."""
        current = self.current
        if current is None:
            return None
        row, is_customer = current
        return row.customer_id if is_customer or not row.controller_id else row.controller_id

    def line_key(self, line: int) -> str | None:
        """Controllers are marked (a campaign acts on them); a customer line is not one."""
        if not 0 <= line < len(self._lines):
            return None
        kind, i = self._lines[line]
        return self.rows[i].controller_id or None if kind == CONTROLLER else None

    def shown_keys(self) -> Set[str]:
        if self._view is not None:
            return self._view.controller_ids()
        ids = self._ids
        if self._keys_of is not ids:  # kept for the lines' ids they were made of: a set of
            # 100,000 ids took 19 ms of each `*` (quiet machine); copying it into the marks, 2
            self._keys = frozenset(filter(None, ids))  # "": a customer with no controller
            self._keys_of = ids
        return self._keys

    def toggle_mark(self) -> None:
        """Space: on a controller, mark it; on a customer's line, all its controllers here."""
        if self._lines and self._lines[self.cursor][0] == CUSTOMER:
            customer = self.rows[self._lines[self.cursor][1]].customer_id
            ids = {r.controller_id for r in self.rows
                   if r.customer_id == customer and r.controller_id}
            if ids <= self.marked:
                self.marked -= ids
            else:
                self.marked |= ids
            self._repaint_all()
            self.move_to(self.cursor + 1)
            return
        super().toggle_mark()

    def action_select(self) -> None:
        current = self.current
        if current is not None:
            self.post_message(self.Selected(self, *current))

    def line_parts(self, line: int, width: int) -> Parts:
        kind, i = self._lines[line]
        row = self.rows[i]
        if kind == CUSTOMER:
            return self._customer_parts(row, width)
        parts = self._row_parts(row, width)
        if line == self.cursor and self._cuts(row, parts, width):
            return self._whole_parts(row)  # under the cursor, what the columns cut is whole
        return parts

    def _name_width(self, width: int) -> int:
        # The flat list (finder) also names the customer: both names share what is left.
        return 22 if self.grouped else max(10, (width - 38) // 2)

    def _cuts(self, row: FleetRow, parts: Parts, width: int) -> bool:
        """Whether the columns cut a name or the fault of this row."""
        names = [row.name] if self.grouped else [row.name, row.customer_name]
        if any(cell_len(name) > self._name_width(width) for name in names):
            return True
        return bool(row.fault) and sum(cell_len(text) for text, _ in parts) > width

    def _customer_parts(self, row: FleetRow, width: int) -> Parts:
        membership = Membership(row.membership)
        tag = "" if membership is Membership.NONE else f" {membership.label} "
        name = row.customer_name
        address = fit(f"  {row.address}", max(0, width - cell_len(name) - len(tag) - 1))
        return [(f" {name}", "strong"), (address, "dim"), (tag, "warning")]

    def _whole_parts(self, row: FleetRow) -> Parts:
        """The line under the cursor when its columns cut something: the names whole (the
        finder's "Willow Creek De…" and "Willow Creek HO…" looked alike), the fault whole."""
        state = row.state
        parts: Parts = [self._indent_part(row),
                        (STATE_MARK[state] + " ", STATE_STYLE[state]), (row.name, "")]
        if not self.grouped:
            parts.append((f" — {row.customer_name}", "dim"))
        if row.fault:
            parts.append((f" ⚠ {row.fault}", "offline"))
        else:
            parts += [(f" · {state.label}", STATE_STYLE[state]),
                      (f" · {row.serial or 'not linked'}", "dim")]
        return parts

    def _indent_part(self, row: FleetRow) -> tuple[str, str]:
        """The cells before the state mark: a ▌ when the controller is marked."""
        marked = row.controller_id in self.marked
        if self.grouped:
            return (" ▌ " if marked else "   ", "strong" if marked else "")
        return ("▌" if marked else " ", "strong" if marked else "")

    def _row_parts(self, row: FleetRow, width: int) -> Parts:
        state = row.state
        state_style = STATE_STYLE[state]
        indent = self._indent_part(row)
        name_width = self._name_width(width)
        parts: Parts = [
            indent,
            (STATE_MARK[state] + " ", state_style),
            (fit(row.name, name_width) + " ", ""),
        ]
        if not self.grouped:
            parts.append((fit(row.customer_name, name_width) + " ", "dim"))
        parts += [
            (fit(state.label, 11) + " ", state_style),
            (fit(row.serial or "—", 15) + " ", "dim"),
            (f"{row.zone_count:>2}z ", "dim"),
            (f"✎{row.pending:<2}" if row.pending else "   ", "pending"),
        ]
        if row.fault:
            parts.append((" ⚠ " + row.fault, "offline"))
        return parts


GroupedLines = tuple[list[str], list[str], "_Lines"]  # each row's controller id, customer id


def grouped_lines(rows: list[FleetRow]) -> GroupedLines:
    """The grouped list's ids and lines for `rows`. No widget is touched: any thread."""
    ids = list(map(_CONTROLLER_ID, rows))  # "": a customer with none yet
    customers = list(map(_CUSTOMER_ID, rows))
    headers = compress(range(len(rows)), map(ne, customers, [None, *customers]))
    return ids, customers, _Lines(headers, compress(range(len(rows)), ids))


class _Lines:
    """The list's lines as two compact arrays (each line's row, and whether it is a customer's
    header or a controller): a tuple a line was 100,000 objects to allocate and for the
    garbage collector to walk at each sort or filter (~100 ms at 100,000 controllers, where
    this is built in C in ~10 ms). `lines[n]` is (kind, row)."""

    def __init__(self, headers: Iterable[int], controllers: Iterable[int]):
        first = array("i", headers)
        if not first:  # controllers only (a flat list); a view's are a range, kept as it is
            # (an array made from 100,000 ints took 7 ms of each sort)
            self.rows: Sequence[int] = (controllers if isinstance(controllers, range)
                                        else array("i", controllers))
            self.kinds = bytes([CONTROLLER]) * len(self.rows)
            return
        # Each line as 2 × row + kind, sorted: a header (0) comes before its row's controller.
        both = sorted(chain(map(mul, first, repeat(2)),
                            map(add, map(mul, controllers, repeat(2)), repeat(CONTROLLER))))
        self.rows = array("i", map(rshift, both, repeat(1)))
        self.kinds = bytes(map(and_, both, repeat(1)))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, n: int) -> tuple[int, int]:
        return self.kinds[n], self.rows[n]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return zip(self.kinds, self.rows, strict=True)
